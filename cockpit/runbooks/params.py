"""Parameter values: coercion to the text a command receives, and values drawn from
``cockpit.toml`` (``from_config``), including one part of a DSN or URL."""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..timeutil import parse_duration
from .errors import ParamError

if TYPE_CHECKING:
    from .model import Param

PARAM_TYPES = ("str", "int", "bool", "duration", "enum", "path", "host", "port")
FROM_CONFIG_RE = re.compile(
    r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*(?:#(?:host|port|dbname|user|password|scheme|path))?\Z"
)
# A key (or DSN part) holding a secret: ``#password``, ``...password``, ``...token`` ...
# (``*_env`` and ``*_file`` keys name where a secret is, they are not one).
_SECRET_KEY = re.compile(r"(?:password|passwd|pwd|token|secret|secret_key|access_key|api_key|"
                         r"apikey|credentials?)\Z", re.IGNORECASE)
_HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOST_RE = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?\Z")


def secret_source(from_config: str | None) -> bool:
    """True when ``from_config`` takes a secret part of the configuration: a parameter
    drawn from it is secret by rule (env only, masked everywhere)."""
    if not from_config:
        return False
    path, _, part = from_config.partition("#")
    if part:
        return part == "password"
    last = path.rsplit(".", 1)[-1]
    return bool(_SECRET_KEY.search(last)) and not last.endswith(("_env", "_file"))


def coerce(p: Param, value: Any) -> str:
    def bad(msg: str) -> ParamError:
        return ParamError(p.name, msg)

    t = p.type
    if t == "bool":
        if isinstance(value, bool):
            return "true" if value else "false"
        s = str(value).strip().lower()
        if s in ("true", "yes", "1", "on"):
            return "true"
        if s in ("false", "no", "0", "off"):
            return "false"
        raise bad("expected true or false")
    if t in ("int", "port"):
        if isinstance(value, bool):
            raise bad("expected an integer")
        if isinstance(value, int):
            n = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
            n = int(value)
        else:
            raise bad("expected an integer")
        if t == "port" and not 1 <= n <= 65535:
            raise bad("a port is 1-65535")
        return str(n)
    if t == "duration":
        try:
            secs = parse_duration(value)
        except ValueError as e:
            raise bad(str(e)) from None
        return str(int(secs)) if secs == int(secs) else f"{secs:g}"
    if not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        else:
            raise bad("expected a string")
    if "\x00" in value:
        raise bad("NUL characters cannot be passed to a command")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise bad("not valid Unicode text") from None
    if t == "enum":
        if value not in p.choices:
            raise bad("must be one of " + ", ".join(p.choices))
    elif t == "host":
        if not value or not _is_host(value):
            raise bad("expected a host name or an IP address")
    elif t == "path":
        if not value:
            raise bad("a path cannot be empty")
        if "\n" in value or "\r" in value:
            raise bad("a path cannot contain a newline")
        if value.startswith("-"):
            raise bad("a path cannot start with '-' (write ./-name)")
    if p.pattern is not None and re.fullmatch(p.pattern, value) is None:
        raise bad(f"does not match the pattern {p.pattern}")
    return value


def _is_host(v: str) -> bool:
    try:
        ipaddress.ip_address(v.strip("[]"))
        return True
    except ValueError:
        return bool(_HOST_RE.match(v)) and len(v) <= 253


def config_value(config: Any, key: str) -> Any:
    """Resolve a ``from_config`` key path in a parsed cockpit.toml dict or a ``Config``.

    Lists (such as probes) are searched by element ``name`` (or index); objects by attribute,
    then by their ``options``. ``#part`` picks host/port/dbname/user/password/scheme/path
    from a DSN or URL. Returns None when absent."""
    path, _, part = key.partition("#")
    cur: Any = config
    for name in path.split("."):
        if cur is None:
            return None
        if isinstance(cur, Mapping):
            cur = cur.get(name)
        elif isinstance(cur, list | tuple):
            found = None
            for el in cur:
                el_name = el.get("name") if isinstance(el, Mapping) else getattr(el, "name", None)
                if el_name == name:
                    found = el
                    break
            if found is None and name.isdigit() and int(name) < len(cur):
                found = cur[int(name)]
            cur = found
        else:
            nxt = getattr(cur, name, None)
            if nxt is None:
                opts = getattr(cur, "options", None)
                nxt = opts.get(name) if isinstance(opts, Mapping) else None
            cur = nxt
    if cur is None or not part:
        return cur
    return dsn_part(str(cur), part)


def dsn_part(dsn: str, part: str) -> str | None:
    """One part of a URL (``postgresql://u:p@h:5432/db``) or libpq key=value DSN."""
    from urllib.parse import unquote, urlsplit

    if "://" in dsn:
        try:
            u = urlsplit(dsn)
            port = u.port
        except ValueError:
            return None
        val = {"host": u.hostname, "port": str(port) if port else None,
               "dbname": unquote(u.path.lstrip("/")) or None,
               "path": u.path or None, "user": unquote(u.username) if u.username else None,
               "password": unquote(u.password) if u.password else None,
               "scheme": u.scheme}.get(part)
        return val
    try:
        pairs = dict(
            (k, v) for k, _, v in (t.partition("=") for t in shlex.split(dsn)) if _
        )
    except ValueError:
        return None
    return pairs.get(part)


