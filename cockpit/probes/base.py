"""The one probe protocol.

Every kind module (``postgres``, ``walg``, ``s3``, ``http``, ``horizon``, ``dns``, ``redis``,
``tcp``) exposes:

- ``OPTIONS: dict[str, schema.Field]``: its own option keys;
- ``async def probe(target: ProbeTarget, deadline: float, now: Callable[[], float]) -> ProbeResult``.

A kind's ``probe`` may raise: ``run_probe`` is the only entry point callers use. It resolves
secrets, applies the one overall deadline (``asyncio.timeout``), turns every exception into a
``ProbeResult`` with a one-line error and an error class, measures the latency and redacts
secrets from everything the result carries. No retries happen inside a probe: damping lives in
the scheduler's state machine.
"""

from __future__ import annotations

import asyncio
import errno
import math
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import document as schema
from ..health import MetricValue, ProbeResult, Status
from ..redact import redact_text
from ..text import one_line
from ..timeutil import format_duration, parse_duration

Now = Callable[[], float]

# Error classes (probe-anchors 2.1).
REFUSED = "refused"
TIMEOUT = "timeout"
TIMEOUT_CONNECT = "timeout_connect"
TIMEOUT_READ = "timeout_read"
DNS = "dns"
DNS_NXDOMAIN = "dns_nxdomain"
DNS_SERVFAIL = "dns_servfail"
DNS_REFUSED = "dns_refused"
TLS = "tls"
AUTH = "auth"
RATE_LIMITED = "rate_limited"
HTTP_5XX = "http_5xx"
HTTP_4XX = "http_4xx"
WRONG_ANSWER = "wrong_answer"
SATURATED = "saturated"
READ_ONLY = "read_only"
NOT_READY = "not_ready"
NETWORK = "network"
CONFIG = "config"
ERROR = "error"
OFFLINE = "offline"  # set by the scheduler when the cockpit's own network is down

# Classes that may mean "our own network is down" rather than "the service is down".
NETWORK_CLASSES = frozenset({REFUSED, TIMEOUT, TIMEOUT_CONNECT, TIMEOUT_READ, DNS, NETWORK})

# Common option fields used by several kinds.
SECRET_FIELDS: dict[str, schema.Field] = {
    "password_env": schema.Field("str", help="environment variable holding the password"),
    "password_file": schema.Field("str", help="file holding the password (first line)"),
}


class ProbeError(Exception):
    """Raised by a kind to report a failure with a class and a one-line message."""

    def __init__(self, error_class: str, message: str, *, status: Status = Status.FAIL,
                 metrics: Mapping[str, MetricValue] | None = None):
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.status = status
        self.metrics = dict(metrics or {})


@dataclass(frozen=True)
class ProbeTarget:
    """What one probe checks. Constructible from plain values (tests, demo, config)."""

    service: str
    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    interval: float = 30.0
    deadline: float = 5.0
    fail_after: int = 3
    recover_after: int = 2
    # Resolved secrets by name ("password", "secret_key", "token" ...). None: resolve from
    # the ``*_env`` / ``*_file`` options at each run (so a rotated file is picked up).
    secrets: Mapping[str, str] | None = None

    @property
    def id(self) -> str:
        return f"{self.service}/{self.name}"

    def opt(self, key: str, default: Any = None) -> Any:
        """An option value, falling back to the kind's declared default."""
        v = self.options.get(key)
        if v is not None:
            return v
        spec = option_fields(self.kind).get(key)
        if spec is not None and spec.default is not None:
            return parse_duration(spec.default) if spec.kind == "duration" else spec.default
        return default

    def secret(self, name: str) -> str | None:
        return (self.secrets or {}).get(name)

    @classmethod
    def create(cls, service: str, name: str, kind: str, options: Mapping[str, Any] | None = None,
               **kw: Any) -> ProbeTarget:
        """Build a target with ``options`` validated against the kind's ``OPTIONS``."""
        return cls(service=service, name=name, kind=kind,
                   options=validate_options(kind, dict(options or {})), **kw)


def option_fields(kind: str) -> dict[str, schema.Field]:
    from . import option_spec

    try:
        return option_spec(kind) or {}
    except KeyError:
        return {}


def validate_options(kind: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate plain options against a kind's spec; raises ``ValueError`` with one line."""
    from . import KINDS

    if kind not in KINDS:
        raise ValueError(f"unknown probe kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    v = schema.Validator("<options>", "")
    out = v.table(dict(options), option_fields(kind), (kind,))
    if v.errors:
        raise ValueError("; ".join(e.one_line().removeprefix("<options>: ") for e in v.errors))
    return out


# ---------------------------------------------------------------- secrets


def resolve_secrets(options: Mapping[str, Any], environ: Mapping[str, str] | None = None
                    ) -> dict[str, str]:
    """Secrets named by ``<name>_env`` (environment variable) or ``<name>_file`` options.

    Raises ``ProbeError(config)`` naming the option (never the value) when one is missing.
    """
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for key, value in options.items():
        if value is None or not isinstance(value, str):
            continue
        if key.endswith("_env"):
            name = key[: -len("_env")]
            if value not in env:
                raise ProbeError(CONFIG, f"{key}: environment variable {value} is not set")
            out[name] = env[value]
        elif key.endswith("_file"):
            name = key[: -len("_file")]
            if name in ("ca", "cert", "key"):
                continue  # paths, not secrets
            try:
                text = Path(value).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ProbeError(CONFIG, f"{key}: cannot read {value}: "
                                 f"{getattr(e, 'strerror', None) or e}") from None
            out[name] = text.splitlines()[0] if text else ""
    return out


# ---------------------------------------------------------------- results


def result(status: Status, summary: str, now: Now, *, metrics: Mapping[str, MetricValue] | None = None,
           error: str | None = None, error_class: str | None = None,
           key_figure: str | None = None) -> ProbeResult:
    return ProbeResult(status=status, summary=summary, observed_at=now(), metrics=dict(metrics or {}),
                       error=error, error_class=error_class, key_figure=key_figure)


def level(value: float | None, warn: float | None, fail: float | None) -> Status:
    """OK below ``warn``, WARN from ``warn``, FAIL from ``fail`` (None disables a bound)."""
    if value is None:
        return Status.OK
    if fail is not None and value >= fail:
        return Status.FAIL
    if warn is not None and value >= warn:
        return Status.WARN
    return Status.OK


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 10:
        return f"{seconds:.1f}s"
    return format_duration(seconds)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


@dataclass
class Checks:
    """Collects per-check verdicts of one probe run; the worst one names the result."""

    items: list[tuple[Status, str, str | None]] = field(default_factory=list)

    def add(self, status: Status, text: str, error_class: str | None = None) -> None:
        self.items.append((status, text, error_class))

    def status(self) -> Status:
        if not self.items:
            return Status.OK
        return max((s for s, _, _ in self.items), key=lambda s: s.severity)

    def summary(self, ok_text: str) -> str:
        bad = [t for s, t, _ in self.items if s != Status.OK]
        if not bad:
            return ok_text
        worst = self.status()
        first = [t for s, t, _ in self.items if s == worst]
        rest = [t for t in bad if t not in first]
        return "; ".join(first + rest)

    def error_class(self) -> str | None:
        worst = self.status()
        for s, _, c in self.items:
            if s == worst and c:
                return c
        return None


# ---------------------------------------------------------------- error classification


def causes(exc: BaseException):
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def classify(exc: BaseException) -> tuple[str, str]:
    """(error class, one-line message) for a generic exception."""
    for e in causes(exc):
        if isinstance(e, ProbeError):
            return e.error_class, e.message
        if isinstance(e, ssl.SSLError | ssl.CertificateError):
            return TLS, f"TLS failure: {_msg(e)}"
        if isinstance(e, ConnectionRefusedError):
            return REFUSED, "connection refused"
        if isinstance(e, socket.gaierror):
            return DNS, f"name resolution failed: {_GAI.get(e.errno or 0, _msg(e))}"
        if isinstance(e, ConnectionResetError):
            return NETWORK, "connection reset by peer"
        if isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return NETWORK, ("network unreachable" if e.errno == errno.ENETUNREACH
                             else "no route to host")  # the OS text would say it twice
        if isinstance(e, TimeoutError):
            return TIMEOUT, "timed out"
    text = _msg(exc)
    low = text.lower()
    if "certificate" in low or "ssl" in low:
        return TLS, f"TLS failure: {text}"
    if "refused" in low:
        return REFUSED, "connection refused"
    if "timed out" in low or "timeout" in low:
        return TIMEOUT, f"timed out: {text}"
    return ERROR, f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# getaddrinfo's own words repeat "name resolution" ("Temporary failure in name resolution")
_GAI = {socket.EAI_AGAIN: "the resolver did not answer", socket.EAI_NONAME: "no such name",
        socket.EAI_FAIL: "the resolver failed", socket.EAI_NODATA: "no address for the name"}


def _msg(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return " ".join(text.split())


# ---------------------------------------------------------------- the entry point


def _module(kind: str) -> Any:
    from . import _module as load

    return load(kind)


_SUMMARY_BY_CLASS = {
    REFUSED: "down: connection refused",
    TIMEOUT: "no answer within the deadline",
    TIMEOUT_CONNECT: "no answer within the deadline (connect)",
    TIMEOUT_READ: "no answer within the deadline (read)",
    AUTH: "auth failure",
    TLS: "TLS failure",
    DNS: "name resolution failed",
    NETWORK: "network error",
    RATE_LIMITED: "rate limited",
    CONFIG: "probe misconfigured",
    SATURATED: "saturated: no free connection slots",
    NOT_READY: "not ready",
    ERROR: "probe error",
}


async def run_probe(target: ProbeTarget, deadline: float | None = None,
                    now: Now | None = None) -> ProbeResult:
    """Run one probe of ``target`` under one overall deadline; never raises (except cancel)."""
    now = now or time.time
    deadline = float(target.deadline if deadline is None else deadline)
    if not math.isfinite(deadline) or deadline <= 0:
        deadline = 5.0
    started = time.monotonic()
    secrets: list[str] = []
    try:
        mod = _module(target.kind)
    except (KeyError, ImportError) as e:
        return _finish(result(Status.FAIL, "probe misconfigured", now,
                              error=f"unknown probe kind {target.kind!r}: {_msg(e)}",
                              error_class=CONFIG), started, secrets)
    try:
        # inline secrets first: a misconfigured *_env must not leave a DSN password bare
        from ..secrets import inline_secrets

        secrets = inline_secrets(target.options)
        if target.secrets is None:
            target = replace(target, secrets=resolve_secrets(target.options))
        secrets += [s for s in (target.secrets or {}).values() if s]
        async with asyncio.timeout(deadline):
            res = await mod.probe(target, deadline, now)
        if not isinstance(res, ProbeResult):
            raise ProbeError(ERROR, f"probe returned {type(res).__name__}")
    except TimeoutError as e:
        # outer deadline, or a library timeout (classified below when it says more)
        cls, msg = classify(e) if e.__cause__ or e.__context__ else (TIMEOUT, "")
        if cls not in (TIMEOUT, TIMEOUT_CONNECT, TIMEOUT_READ):
            cls = TIMEOUT
        elapsed = time.monotonic() - started
        detail = f"no answer within {elapsed:.1f}s (deadline {deadline:g}s)"
        res = result(Status.FAIL, _SUMMARY_BY_CLASS[cls], now, error=detail, error_class=cls)
    except ProbeError as e:
        summary = _SUMMARY_BY_CLASS.get(e.error_class, e.message)
        if e.error_class in (AUTH, TLS, RATE_LIMITED, NOT_READY, SATURATED, CONFIG, NETWORK, DNS, ERROR):
            summary = f"{summary}: {e.message}" if not e.message.startswith(summary) else e.message
        elif e.error_class not in _SUMMARY_BY_CLASS:
            summary = e.message
        res = result(e.status, summary, now, metrics=e.metrics, error=e.message,
                     error_class=e.error_class)
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure becomes a result
        cls, msg = classify(e)
        res = result(Status.FAIL, _SUMMARY_BY_CLASS.get(cls, msg), now, error=msg, error_class=cls)
    return _finish(res, started, secrets)


def _finish(res: ProbeResult, started: float, secrets: list[str]) -> ProbeResult:
    latency = res.latency if res.latency is not None else time.monotonic() - started

    def clean(text: str | None, limit: int = 300) -> str | None:
        if text is None:
            return None
        return one_line(redact_text(str(text), secrets), limit=limit)

    metrics: dict[str, MetricValue] = {}
    for k, v in res.metrics.items():
        if isinstance(v, str):
            v = clean(v, 500)
        elif isinstance(v, float) and not math.isfinite(v):
            v = None
        metrics[str(k)] = v
    return replace(res, summary=clean(res.summary) or "", error=clean(res.error),
                   key_figure=clean(res.key_figure, 40), metrics=metrics, latency=latency)


async def close_quietly(aw: Awaitable[Any] | None, timeout: float = 0.25) -> None:
    """Await a cleanup coroutine briefly, ignoring its errors (cleanup never blocks a probe)."""
    if aw is None:
        return
    try:
        async with asyncio.timeout(timeout):
            await aw
    except asyncio.CancelledError:
        raise
    except BaseException:  # noqa: BLE001
        pass


def remaining(deadline_at: float) -> float:
    """Seconds left until a ``time.monotonic()`` deadline (at least 1 ms)."""
    return max(0.001, deadline_at - time.monotonic())


def parse_host_port(value: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` -> (host, port); ValueError when malformed."""
    v = value.strip()
    if v.startswith("["):
        host, _, rest = v[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif v.count(":") == 1:
        host, _, p = v.partition(":")
        port = int(p)
    else:
        host, port = v, default_port
    if not host or not 0 < port < 65536:
        raise ValueError(f"bad address {value!r}")
    return host, port
