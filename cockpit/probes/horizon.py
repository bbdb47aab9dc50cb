"""Stellar Horizon probe: latest ledger age, core vs history lag, ``/health``.

``GET {url}/`` gives ``history_latest_ledger``, ``history_latest_ledger_closed_at`` and
``core_latest_ledger``; ``GET {url}/health`` answers 503 with the failing flag. The ledger age is
the RPO-like figure of the network pane.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

from .. import document as schema
from ..health import ProbeResult, Status
from . import _http, base

OPTIONS: dict[str, schema.Field] = {
    "url": schema.Field("str", required=True, help="Horizon base URL"),
    "age_warn": schema.Field("duration", default="30s", help="ledger age for WARN"),
    "age_fail": schema.Field("duration", default="90s", help="ledger age for FAIL"),
    "lag_warn": schema.Field("int", default=4, minimum=0, help="core - history ledgers for WARN"),
    "lag_fail": schema.Field("int", default=21, minimum=0, help="core - history ledgers for FAIL"),
    "check_health": schema.Field("bool", default=True, help="also GET /health"),
    "network_passphrase": schema.Field("str", help="expected network passphrase"),
    "max_body": schema.Field("int", default=256 * 1024, minimum=1,
                             check=_http.check_max_body),
    **_http.TLS_FIELDS,
}


def parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _json(resp: _http.Response) -> Any:
    if resp.truncated:
        return None
    try:
        return json.loads(resp.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


async def probe(target: base.ProbeTarget, deadline: float, now: base.Now) -> ProbeResult:
    url = str(target.opt("url")).rstrip("/")
    kw = dict(deadline=deadline, verify=target.opt("verify", True), ca_file=target.opt("ca_file"),
              max_body=int(target.opt("max_body", 256 * 1024)))
    t0 = time.monotonic()
    jobs = [_http.fetch(url + "/", **kw)]
    if target.opt("check_health", True):
        jobs.append(_http.fetch(url + "/health", **kw))
    answers = await asyncio.gather(*jobs, return_exceptions=True)
    root = answers[0]
    health = answers[1] if len(answers) > 1 else None
    if isinstance(root, BaseException):
        raise root
    checks = base.Checks()
    metrics: dict[str, Any] = {"http_status": root.status, "ttfb": round(root.ttfb, 4)}
    doc = _json(root)
    if root.status in (503, 429) or root.status >= 400:
        title = ""
        if isinstance(doc, dict):
            title = str(doc.get("type", "")).rsplit("/", 1)[-1]
            raw_extras = doc.get("extras")
            extras: dict[str, Any] = raw_extras if isinstance(raw_extras, dict) else {}
            for k in ("history_latest_ledger", "core_latest_ledger"):
                if k in extras:
                    metrics[k] = _int(extras[k])
        if title == "stale_history":
            checks.add(Status.FAIL, "Horizon behind core (stale_history)", base.WRONG_ANSWER)
        elif title == "still_ingesting":
            checks.add(Status.WARN, "Horizon still ingesting", base.NOT_READY)
        else:
            _http.status_check(checks, root, False, metrics)
    elif not isinstance(doc, dict):
        ctype = root.headers.get("content-type", "?")
        what = "too large" if root.truncated else f"not JSON ({ctype})"
        checks.add(Status.FAIL, f"root answer is {what}", base.WRONG_ANSWER)
    else:
        core = _int(doc.get("core_latest_ledger"))
        hist = _int(doc.get("history_latest_ledger"))
        closed = parse_time(doc.get("history_latest_ledger_closed_at"))
        metrics.update(core_latest_ledger=core, history_latest_ledger=hist)
        if hist is None or closed is None:
            checks.add(Status.FAIL, "root answer lacks history_latest_ledger(_closed_at)",
                       base.WRONG_ANSWER)
        else:
            age = max(0.0, now() - closed)
            metrics["ledger_age"] = round(age, 1)
            metrics["rpo_exposure"] = round(age, 1)
            st = base.level(age, target.opt("age_warn"), target.opt("age_fail"))
            checks.add(st, f"latest ledger {hist} closed {base.age_text(age)} ago", base.WRONG_ANSWER)
        if core is not None and hist is not None:
            lag = core - hist
            metrics["core_history_lag"] = lag
            if core == 0:
                checks.add(Status.FAIL, "captive core has no ledger (core_latest_ledger 0)",
                           base.NOT_READY)
            else:
                st = base.level(lag, target.opt("lag_warn"), target.opt("lag_fail"))
                checks.add(st, f"history {lag} ledgers behind core", base.WRONG_ANSWER)
        want = target.opt("network_passphrase")
        if want and doc.get("network_passphrase") != want:
            checks.add(Status.FAIL, "wrong network passphrase", base.WRONG_ANSWER)
    if health is not None:
        if isinstance(health, base.ProbeError):
            checks.add(Status.FAIL, f"/health: {health.message}", health.error_class)
        elif isinstance(health, BaseException):
            cls, msg = base.classify(health)
            checks.add(Status.FAIL, f"/health: {msg}", cls)
        else:
            hd = _json(health)
            metrics["health_status"] = health.status
            if health.status == 200 and isinstance(hd, dict):
                bad = [k for k in ("database_connected", "core_up", "core_synced") if hd.get(k) is False]
                if bad:
                    checks.add(Status.FAIL, "/health: " + ", ".join(f"{k}=false" for k in bad),
                               base.NOT_READY)
            elif health.status == 429:
                checks.add(Status.WARN, "/health rate limited (HTTP 429)", base.RATE_LIMITED)
            else:
                bad = []
                if isinstance(hd, dict):
                    bad = [k for k in ("database_connected", "core_up", "core_synced") if hd.get(k) is False]
                detail = ", ".join(f"{k}=false" for k in bad) or f"HTTP {health.status}"
                checks.add(Status.FAIL, f"/health unhealthy: {detail}", base.NOT_READY)
    _http.cert_check(checks, root, now(), target.opt("cert_warn"), target.opt("cert_fail"), metrics)
    st = checks.status()
    ledger_age = metrics.get("ledger_age")
    summary = checks.summary(f"ledger {metrics.get('history_latest_ledger')} "
                             f"{base.age_text(ledger_age)} old" if ledger_age is not None
                             else "OK")
    metrics["total"] = round(time.monotonic() - t0, 4)
    return base.result(st, summary, now, metrics=metrics, error=None if st == Status.OK else summary,
                       error_class=checks.error_class(),
                       key_figure=f"{base.age_text(ledger_age)} old" if ledger_age is not None else None)
