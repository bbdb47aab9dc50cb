"""Keep secrets off the screen, out of state files and exports."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "********"

_KV_SECRET = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|secret|token|access_key|secret_key|api_key|apikey|"
    r"aws_secret_access_key|authorization)\b\s*[=:]\s*)(?P<q>['\"]?)(?P<val>[^'\"\s&;]+)(?P=q)",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]*)@")
_BEARER = re.compile(r"(?P<p>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)


def redact_text(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Mask known secret values and secret-looking patterns in free text."""
    out = text
    for s in secrets:
        if s and len(s) >= 3:
            out = out.replace(s, MASK)
    out = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", out)
    out = _BEARER.sub(lambda m: f"{m['p']}{MASK}", out)
    out = _KV_SECRET.sub(lambda m: f"{m['key']}{m['q']}{MASK}{m['q']}", out)
    return out


def redact_dsn(dsn: str) -> str:
    """A DSN or URL safe to show: the password (if any) masked."""
    if "://" in dsn:
        try:
            parts = urlsplit(dsn)
        except ValueError:
            return redact_text(dsn)
        if parts.password is not None:
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            netloc = f"{parts.username or ''}:{MASK}@{host}"
            return redact_text(urlunsplit(parts._replace(netloc=netloc)))
    return redact_text(dsn)
