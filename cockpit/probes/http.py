"""HTTP probe: status, latency, JSON body conditions, TLS certificate expiry.

JSON conditions are Gatus-like one-liners over the parsed body::

    status == ok            checks.db == true        len(items) > 0
    has(version)            build != "broken"        count >= 3

A failed condition is shown with its resolved value: ``status (degraded) == ok``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .. import document as schema
from ..health import ProbeResult, Status
from . import _http, base


def _check_status_list(v: Any) -> str | None:
    if not isinstance(v, list) or not v:
        return "expected a non-empty list such as [200, 204] or [\"2xx\"]"
    for item in v:
        if isinstance(item, bool):
            return "expected status codes"
        if isinstance(item, int) and 100 <= item <= 599:
            continue
        if isinstance(item, str) and re.fullmatch(r"[1-5]xx|[1-5]\d\d", item):
            continue
        return f"bad status code {item!r}"
    return None


def _check_conditions(v: Any) -> str | None:
    for c in v:
        try:
            parse_condition(c)
        except ValueError as e:
            return str(e)
    return None


OPTIONS: dict[str, schema.Field] = {
    "url": schema.Field("str", required=True, help="URL to GET"),
    "method": schema.Field("str", default="GET", choices=("GET", "HEAD", "POST")),
    "expect_status": schema.Field("any", default=["2xx"], check=_check_status_list,
                                  help="acceptable status codes, e.g. [200] or [\"2xx\"]"),
    "json": schema.Field("list[str]", default=[], check=_check_conditions,
                         help="conditions over the JSON body, e.g. \"status == ok\""),
    "body_contains": schema.Field("str", help="a marker the body must contain"),
    "latency_warn": schema.Field("duration", default="500ms"),
    "latency_fail": schema.Field("duration"),
    "max_body": schema.Field("int", default=1 << 20, minimum=1, check=_http.check_max_body,
                             help="bytes of body read at most (at most 16 MiB)"),
    "follow_redirects": schema.Field("bool", default=False),
    "headers": schema.Field("table", help="extra request headers (no secrets: use token_env)"),
    "token_env": schema.Field("str", help="environment variable with a bearer token"),
    "token_file": schema.Field("str", help="file with a bearer token"),
    **_http.TLS_FIELDS,
}

_COND_RE = re.compile(r"^\s*(?P<left>.+?)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<right>.+?)\s*$")
_FUNC_RE = re.compile(r"^(?P<f>has|len)\((?P<path>[^()]*)\)$")
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_condition(text: Any) -> tuple[str, str | None, str | None, str | None]:
    """(function or '', path, op, literal). Raises ValueError with a readable message."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"bad condition {text!r}")
    t = text.strip()
    m = _FUNC_RE.match(t)
    if m and m["f"] == "has":
        return "has", m["path"].strip(), None, None
    m = _COND_RE.match(t)
    if not m:
        raise ValueError(f"bad condition {text!r} (expected: path op value, or has(path))")
    left = m["left"]
    fm = _FUNC_RE.match(left)
    if fm:
        if fm["f"] != "len":
            raise ValueError(f"bad condition {text!r}")
        return "len", fm["path"].strip(), m["op"], m["right"]
    return "", left, m["op"], m["right"]


_MISSING = object()


def lookup(doc: Any, path: str) -> Any:
    cur = doc
    for name, idx in _PATH_PART.findall(path.removeprefix("[BODY]").lstrip(".")):
        if idx:
            if not isinstance(cur, list) or int(idx) >= len(cur):
                return _MISSING
            cur = cur[int(idx)]
        else:
            if not isinstance(cur, dict) or name not in cur:
                return _MISSING
            cur = cur[name]
    return cur


def _literal(text: str) -> Any:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return t[1:-1]
    try:
        return json.loads(t)
    except ValueError:
        return t


def _show(v: Any) -> str:
    if v is _MISSING:
        return "missing"
    s = v if isinstance(v, str) else json.dumps(v)
    return s if len(s) <= 40 else s[:39] + "\u2026"


def evaluate(cond: str, doc: Any) -> tuple[bool, str]:
    """(passed, text with resolved value)."""
    func, path, op, right = parse_condition(cond)
    assert path is not None
    value = lookup(doc, path)
    if func == "has":
        return value is not _MISSING, cond
    if func == "len":
        value = len(value) if isinstance(value, list | dict | str) else _MISSING
    want = _literal(right or "")
    shown = f"{cond.split(op or '')[0].strip()} ({_show(value)}) {op} {right}"
    if value is _MISSING:
        return False, shown
    try:
        if op in ("==", "!="):
            a, b = value, want
            if isinstance(a, bool) != isinstance(b, bool) or isinstance(a, str) != isinstance(b, str):
                a, b = str(a).lower() if isinstance(a, bool) else str(a), \
                    str(b).lower() if isinstance(b, bool) else str(b)
            ok = (a == b) if op == "==" else (a != b)
        else:
            a, b = float(value), float(want)
            ok = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op or "<"]
    except (TypeError, ValueError):
        ok = False
    return ok, shown


def status_ok(code: int, expect: list[Any]) -> bool:
    for e in expect:
        if isinstance(e, int) and code == e:
            return True
        if isinstance(e, str):
            if e.endswith("xx") and str(code)[0] == e[0]:
                return True
            if e.isdigit() and int(e) == code:
                return True
    return False


async def probe(target: base.ProbeTarget, deadline: float, now: base.Now) -> ProbeResult:
    url = target.opt("url")
    headers = {str(k): str(v) for k, v in (target.opt("headers") or {}).items()}
    token = target.secret("token")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conditions = list(target.opt("json") or [])
    marker = target.opt("body_contains")
    resp = await _http.fetch(url, deadline=deadline, method=target.opt("method", "GET"), headers=headers,
                             verify=target.opt("verify", True), ca_file=target.opt("ca_file"),
                             max_body=int(target.opt("max_body", 1 << 20)),
                             follow_redirects=bool(target.opt("follow_redirects", False)))
    return judge(target, resp, now, conditions, marker)


def judge(target: base.ProbeTarget, resp: _http.Response, now: base.Now, conditions: list[str],
          marker: str | None) -> ProbeResult:
    checks = base.Checks()
    metrics: dict[str, Any] = {"http_status": resp.status, "ttfb": round(resp.ttfb, 4),
                               "total": round(resp.total, 4), "body_bytes": len(resp.body)}
    expect = target.opt("expect_status") or ["2xx"]
    good = _http.status_check(checks, resp, status_ok(resp.status, expect), metrics)
    if good:
        needs_body = bool(conditions or marker)
        if resp.truncated and needs_body:
            checks.add(Status.FAIL, f"response body larger than {target.opt('max_body')} bytes",
                       base.WRONG_ANSWER)
        elif resp.truncated:
            checks.add(Status.WARN, f"response body larger than {target.opt('max_body')} bytes")
        else:
            if conditions:
                try:
                    doc = json.loads(resp.body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    doc = _MISSING
                    ctype = resp.headers.get("content-type", "?")
                    checks.add(Status.FAIL, f"body is not JSON ({ctype})", base.WRONG_ANSWER)
                if doc is not _MISSING:
                    failed = []
                    for c in conditions:
                        ok, shown = evaluate(c, doc)
                        if not ok:
                            failed.append(shown)
                    if failed:
                        checks.add(Status.FAIL, "condition failed: " + "; ".join(failed),
                                   base.WRONG_ANSWER)
            if marker and marker.encode() not in resp.body:
                checks.add(Status.FAIL, f"body lacks {marker!r}", base.WRONG_ANSWER)
    checks.add(base.level(resp.ttfb, target.opt("latency_warn"), target.opt("latency_fail")),
               f"slow: {base.ms(resp.ttfb)} to headers", None)
    _http.cert_check(checks, resp, now(), target.opt("cert_warn"), target.opt("cert_fail"), metrics)
    st = checks.status()
    summary = checks.summary(f"HTTP {resp.status} in {base.ms(resp.ttfb)}")
    return base.result(st, summary, now, metrics=metrics, error=None if st == Status.OK else summary,
                       error_class=checks.error_class(), key_figure=base.ms(resp.ttfb))
