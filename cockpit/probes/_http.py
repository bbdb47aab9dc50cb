"""HTTP plumbing shared by the ``http`` and ``horizon`` kinds (httpx, no retries, no proxies)."""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
else:  # loaded by the first probe (start-up time): see _lazy
    from ._lazy import lazy_module

    httpx = lazy_module("httpx")

from .. import document as schema
from ..health import Status
from . import base

TLS_FIELDS: dict[str, schema.Field] = {
    "verify": schema.Field("bool", default=True, help="verify the server certificate"),
    "ca_file": schema.Field("str", help="CA bundle to verify against (default: system store)"),
    "cert_warn": schema.Field("duration", default="14d", help="WARN when the certificate expires sooner"),
    "cert_fail": schema.Field("duration", default="72h", help="FAIL when the certificate expires sooner"),
}


@functools.lru_cache(maxsize=32)
def ssl_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """Cached: building a context loads the CA store, too slow to do per probe run."""
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover
        return ssl.create_default_context()


@dataclass
class Response:
    status: int
    headers: httpx.Headers
    body: bytes
    truncated: bool
    ttfb: float  # seconds to response headers
    total: float
    cert_expires_at: float | None = None
    http_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def classify(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, httpx.ConnectTimeout):
        return base.TIMEOUT_CONNECT, "connect timed out"
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        return base.TIMEOUT_READ, "read timed out"
    if isinstance(exc, httpx.ConnectError):
        for e in base.causes(exc):
            if isinstance(e, ConnectionRefusedError):
                return base.REFUSED, "connection refused"
            if isinstance(e, ssl.SSLError | ssl.CertificateError):
                return base.TLS, f"TLS failure: {' '.join(str(e).split())}"
        text = " ".join(str(exc).split())
        low = text.lower()
        if "certificate" in low or "ssl" in low or "tls" in low:
            return base.TLS, f"TLS failure: {text}"
        if "refused" in low:
            return base.REFUSED, "connection refused"
        if "name or service" in low or "nodename" in low or "resolution" in low:
            return base.DNS, f"name resolution failed: {text}"
        return base.NETWORK, f"connect failed: {text or type(exc).__name__}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return base.WRONG_ANSWER, f"protocol error: {' '.join(str(exc).split())}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return base.NETWORK, f"connection broken: {' '.join(str(exc).split()) or type(exc).__name__}"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return base.CONFIG, f"bad URL: {exc}"
    return base.classify(exc)


def _peer_cert_expiry(resp: httpx.Response) -> float | None:
    stream = resp.extensions.get("network_stream")
    if stream is None:
        return None
    try:
        sslobj = stream.get_extra_info("ssl_object")
        if sslobj is None:
            return None
        cert = sslobj.getpeercert()
        if cert and cert.get("notAfter"):
            return float(ssl.cert_time_to_seconds(cert["notAfter"]))
        der = sslobj.getpeercert(binary_form=True)
        if der:
            from cryptography import x509

            c = x509.load_der_x509_certificate(der)
            return c.not_valid_after_utc.timestamp()
    except Exception:  # noqa: BLE001 - expiry is a nicety, never a crash
        return None
    return None


# The most a probe reads of an answer body (``max_body`` may not be set above it): a probe
# holds the body in memory, and a health answer is small.
MAX_BODY_LIMIT = 16 * 1024 * 1024


def check_max_body(v: int) -> str | None:
    return None if v <= MAX_BODY_LIMIT else (
        f"at most {MAX_BODY_LIMIT} bytes (16 MiB): a probe holds the answer in memory")


async def fetch(url: str, *, deadline: float, method: str = "GET", headers: dict[str, str] | None = None,
                verify: bool = True, ca_file: str | None = None, max_body: int = 1 << 20,
                follow_redirects: bool = False, content: bytes | None = None) -> Response:
    """One request, one attempt, body read up to ``max_body`` bytes (never more than
    ``MAX_BODY_LIMIT``). Raises ProbeError."""
    max_body = max(1, min(int(max_body), MAX_BODY_LIMIT))
    t0 = time.monotonic()
    step = max(0.05, deadline)  # per-read; the overall deadline is enforced outside
    timeout = httpx.Timeout(connect=min(deadline, 2.0), read=step, write=step, pool=step)
    try:
        ctx = ssl_context(bool(verify), ca_file or None)
    except (OSError, ssl.SSLError) as e:
        raise base.ProbeError(base.CONFIG, f"cannot load CA file {ca_file}: {e}") from None
    client = httpx.AsyncClient(trust_env=False, verify=ctx, timeout=timeout,
                               follow_redirects=follow_redirects,
                               headers={"User-Agent": "dr-cockpit-probe/1"})
    try:
        try:
            req = client.build_request(method, url, headers=headers, content=content)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError, TypeError) as e:
            raise base.ProbeError(base.CONFIG, f"bad URL {url!r}: {e}") from None
        resp = await client.send(req, stream=True)
        ttfb = time.monotonic() - t0
        try:
            expiry = _peer_cert_expiry(resp)
            chunks: list[bytes] = []
            size = 0
            truncated = False
            async for chunk in resp.aiter_raw():
                chunks.append(chunk)
                size += len(chunk)
                if size > max_body:
                    truncated = True
                    break
            body = b"".join(chunks)[: max_body + 1]
        finally:
            await base.close_quietly(resp.aclose())
        return Response(status=resp.status_code, headers=resp.headers, body=body, truncated=truncated,
                        ttfb=ttfb, total=time.monotonic() - t0, cert_expires_at=expiry,
                        http_version=resp.http_version)
    except base.ProbeError:
        raise
    except httpx.HTTPError as e:
        cls, msg = classify(e)
        raise base.ProbeError(cls, msg) from None
    finally:
        await base.close_quietly(client.aclose())


def cert_check(checks: base.Checks, resp: Response, now: float, warn: float | None,
               fail: float | None, metrics: dict[str, Any]) -> None:
    if resp.cert_expires_at is None:
        return
    left = resp.cert_expires_at - now
    metrics["cert_expires_in"] = round(left, 1)
    st = Status.OK
    if fail is not None and left < fail:
        st = Status.FAIL
    elif warn is not None and left < warn:
        st = Status.WARN
    if left <= 0:
        checks.add(Status.FAIL, "TLS certificate expired", base.TLS)
    elif st != Status.OK:
        checks.add(st, f"TLS certificate expires in {base.age_text(left)}", base.TLS)


def status_check(checks: base.Checks, resp: Response, expect_ok: bool, metrics: dict[str, Any]) -> bool:
    """The common HTTP status verdicts. Returns True when the status is acceptable."""
    code = resp.status
    if expect_ok:
        return True
    if code == 429:
        ra = resp.headers.get("retry-after")
        metrics["retry_after"] = ra
        checks.add(Status.WARN, "rate limited (HTTP 429" + (f", retry after {ra}s)" if ra else ")"),
                   base.RATE_LIMITED)
    elif code in (401, 403):
        checks.add(Status.FAIL, f"auth failure (HTTP {code})", base.AUTH)
    elif code >= 500:
        checks.add(Status.FAIL, f"server error (HTTP {code})", base.HTTP_5XX)
    else:
        checks.add(Status.FAIL, f"unexpected HTTP {code}", base.HTTP_4XX if code >= 400 else base.WRONG_ANSWER)
    return False
