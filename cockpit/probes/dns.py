"""DNS probe: per resolver rcode, expected answer, TTL and round-trip (dnspython, async)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdatatype
else:  # loaded by the first probe (start-up time): see _lazy
    from ._lazy import lazy_module

    dns = lazy_module("dns", ("asyncquery", "exception", "flags", "message", "rcode", "rdatatype"))

from .. import document as schema
from ..health import ProbeResult, Status
from . import base


def _check_resolvers(v: Any) -> str | None:
    for r in v:
        try:
            base.parse_host_port(r, 53)
        except ValueError as e:
            return str(e)
    return None


def _check_type(v: Any) -> str | None:
    try:
        dns.rdatatype.from_text(v)
    except Exception:  # noqa: BLE001
        return f"unknown record type {v!r}"
    return None


OPTIONS: dict[str, schema.Field] = {
    "query": schema.Field("str", required=True, help="the name to query"),
    "type": schema.Field("str", default="A", check=_check_type),
    "resolvers": schema.Field("list[str]", required=True, check=_check_resolvers,
                              help="resolver addresses, ip or ip:port"),
    "expect": schema.Field("list[str]", help="acceptable answers (addresses or CNAME targets)"),
    "ttl_max": schema.Field("duration", help="WARN when the TTL is longer (slow DR cutover)"),
    "rtt_warn": schema.Field("duration", default="1s"),
}


def _norm(v: str) -> str:
    return v.strip().lower().rstrip(".")


async def ask(name: str, rdtype: Any, where: str, port: int, timeout: float) -> dict[str, Any]:
    """One resolver's answer as plain values (never raises, except cancel)."""
    q = dns.message.make_query(name, rdtype)
    t0 = time.monotonic()
    end = t0 + timeout
    tries = 0
    try:
        while True:
            # one lost UDP packet is common: a second try fits in the same deadline
            tries += 1
            budget = end - time.monotonic() if tries > 1 else timeout * 0.5
            try:
                resp, used_tcp = await dns.asyncquery.udp_with_fallback(q, where, timeout=max(0.01, budget),
                                                                        port=port)
                break
            except dns.exception.Timeout:
                if tries >= 2 or end - time.monotonic() < 0.05:
                    raise
    except dns.exception.Timeout:
        return {"error_class": base.TIMEOUT, "error": f"no reply ({tries} tries)"}
    except OSError as e:
        cls, msg = base.classify(e)
        return {"error_class": cls, "error": msg}
    except Exception as e:  # noqa: BLE001 - malformed replies etc.
        return {"error_class": base.WRONG_ANSWER, "error": f"bad reply: {type(e).__name__}: {e}"}
    rtt = time.monotonic() - t0
    values: list[str] = []
    ttl: int | None = None
    for rrset in resp.answer:
        if rrset.rdtype in (rdtype, dns.rdatatype.CNAME):
            ttl = rrset.ttl if ttl is None else min(ttl, rrset.ttl)
            for rd in rrset:
                values.append(_norm(rd.to_text()))
    return {"rcode": dns.rcode.to_text(resp.rcode()), "answers": values, "ttl": ttl, "rtt": rtt,
            "tcp": used_tcp, "aa": bool(resp.flags & dns.flags.AA)}



async def probe(target: base.ProbeTarget, deadline: float, now: base.Now) -> ProbeResult:
    name = str(target.opt("query"))
    rdtype = dns.rdatatype.from_text(str(target.opt("type", "A")))
    resolvers = [base.parse_host_port(r, 53) for r in target.opt("resolvers") or []]
    if not resolvers:
        raise base.ProbeError(base.CONFIG, "no resolvers configured")
    timeout = max(0.05, deadline - 0.05)
    answers = await asyncio.gather(*(ask(name, rdtype, h, p, timeout) for h, p in resolvers))
    expect = {_norm(e) for e in target.opt("expect") or []}
    ttl_max = target.opt("ttl_max")
    rtt_warn = target.opt("rtt_warn")
    metrics: dict[str, Any] = {}
    per: list[tuple[Status, str, str | None]] = []
    rtts = []
    for (host, port), a in zip(resolvers, answers, strict=True):
        label = host if port == 53 else f"{host}:{port}"
        if "error_class" in a:
            per.append((Status.FAIL, f"{label}: {a['error']}", a["error_class"]))
            metrics[f"{label}.rcode"] = "timeout" if a["error_class"] == base.TIMEOUT else "error"
            continue
        rc = a["rcode"]
        metrics[f"{label}.rcode"] = rc
        metrics[f"{label}.rtt"] = round(a["rtt"], 4)
        rtts.append(a["rtt"])
        if a["ttl"] is not None:
            metrics[f"{label}.ttl"] = a["ttl"]
        if rc != "NOERROR":
            cls = {"NXDOMAIN": base.DNS_NXDOMAIN, "SERVFAIL": base.DNS_SERVFAIL,
                   "REFUSED": base.DNS_REFUSED}.get(rc, base.DNS)
            per.append((Status.FAIL, f"{label}: {rc}", cls))
        elif not a["answers"]:
            per.append((Status.FAIL, f"{label}: no answer (NOERROR, empty)", base.WRONG_ANSWER))
        elif expect and not set(a["answers"]) & expect or expect and not set(a["answers"]) <= expect:
            got = ", ".join(a["answers"][:3])
            per.append((Status.FAIL, f"{label}: wrong answer {got}", base.WRONG_ANSWER))
        elif ttl_max is not None and a["ttl"] is not None and a["ttl"] > ttl_max:
            per.append((Status.WARN, f"{label}: TTL {a['ttl']}s over {ttl_max:g}s", None))
        elif rtt_warn is not None and a["rtt"] >= rtt_warn:
            per.append((Status.WARN, f"{label}: slow ({base.ms(a['rtt'])})", None))
        else:
            per.append((Status.OK, f"{label}: {', '.join(a['answers'][:3])}", None))
    checks = base.Checks()
    failed = [p for p in per if p[0] == Status.FAIL]
    wrong = [p for p in failed if p[2] == base.WRONG_ANSWER and "wrong answer" in p[1]]
    for verdict, text, klass in per:
        if verdict == Status.FAIL and not wrong and len(failed) < len(per):
            verdict = Status.WARN  # one resolver failing while others answer right
        checks.add(verdict, text, klass)
    st = checks.status()
    best = min(rtts) if rtts else None
    ok_text = "; ".join(t for _, t, _ in per)
    summary = checks.summary(ok_text)
    return base.result(st, summary, now, metrics=metrics, error=None if st == Status.OK else summary,
                       error_class=checks.error_class(),
                       key_figure=base.ms(best) if best is not None else None)
