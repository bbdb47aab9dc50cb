"""Keep secrets off the screen, out of state files and exports.

DSN secrets are found with libpq's own parser (``psycopg.conninfo.conninfo_to_dict``): every
key that ends in ``password`` (``password``, ``sslpassword``), in the key=value form (plain,
quoted, escaped) and the URL form (userinfo and query), exactly as libpq reads them. Free
text (error messages, crash reports) is masked by the known secret values first, then by
patterns.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "********"

_KV_SECRET = re.compile(
    r"(?P<key>\b(?:\w*password|passwd|pwd|secret|token|access_key|secret_key|api_key|apikey|"
    r"aws_secret_access_key|authorization)\b\s*[=:]\s*)"
    r"(?:'(?P<sq>(?:[^'\\]|\\.)*)'|\"(?P<dq>(?:[^\"\\]|\\.)*)\"|(?P<val>[^'\"\s&;]+))",
    re.IGNORECASE,
)


def _kv_mask(m: re.Match[str]) -> str:
    if m["sq"] is not None:
        return f"{m['key']}'{MASK}'"
    if m["dq"] is not None:
        return f'{m["key"]}"{MASK}"'
    return f"{m['key']}{MASK}"
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
    out = _KV_SECRET.sub(_kv_mask, out)
    return out


def _secret_key(key: str) -> bool:
    return key.lower().endswith("password")


def _conninfo(dsn: str) -> dict[str, str] | None:
    """libpq's reading of ``dsn`` (key=value or URL), or None when libpq refuses it."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        return {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    except Exception:  # noqa: BLE001 - not a conninfo libpq accepts (or no psycopg)
        return None


def url_secrets(url: str) -> list[str]:
    """The password of a URL's userinfo (any scheme), raw and percent-decoded."""
    from urllib.parse import unquote

    m = _URL_USERINFO.search(url)
    if not m or not m["pw"]:
        return []
    return sorted({m["pw"], unquote(m["pw"])})


def dsn_secrets(dsn: str) -> list[str]:
    """Every secret value of a PostgreSQL DSN / URL, as libpq reads it (``password``,
    ``sslpassword``, any ``*password``), plus a URL's userinfo password."""
    from urllib.parse import unquote

    found = set(url_secrets(dsn)) if "://" in dsn else set()
    if "password" not in unquote(dsn).lower():
        # no key libpq would read a secret from (even percent-encoded): no need to load
        # psycopg for libpq's parser (configuration loads before any probe client)
        return sorted(found)
    info = _conninfo(dsn)
    if info is not None:
        found.update(v for k, v in info.items() if _secret_key(k) and v)
    else:
        for m in _KV_SECRET.finditer(dsn):
            if "password" in m["key"].lower():
                v = m["sq"] if m["sq"] is not None else m["dq"] if m["dq"] is not None else m["val"]
                if v:
                    found.add(v)
    return sorted(found)


def redact_dsn(dsn: str) -> str:
    """A DSN or URL safe to show: every secret field masked (libpq's parser finds them,
    whatever the quoting). The text keeps its form when masking the values is enough;
    otherwise it is rebuilt from what libpq read."""
    secrets = dsn_secrets(dsn)
    out = redact_text(dsn, secrets)
    if "://" in out:
        try:
            parts = urlsplit(out)
            if parts.password is not None and parts.password != MASK:
                host = parts.hostname or ""
                if parts.port:
                    host = f"{host}:{parts.port}"
                out = urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}"))
        except ValueError:
            pass
    info = _conninfo(out)
    if info is not None and any(_secret_key(k) and v != MASK for k, v in info.items()):
        # masking by value missed one (an escaped quote...): rebuild from libpq's reading
        from psycopg.conninfo import make_conninfo

        full = _conninfo(dsn) or info
        out = make_conninfo("", **{k: (MASK if _secret_key(k) else v) for k, v in full.items()})
    return out
