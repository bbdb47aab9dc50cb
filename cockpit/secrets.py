"""Every secret value the cockpit holds, from its configuration.

Probe secrets named by ``*_env`` (environment variables) and ``*_file`` options (the
probes' ``resolve_secrets``), and secrets written inline: DSN passwords in any form libpq
reads (``redact.dsn_secrets``) and URL userinfo. A runbook step's output is masked with
all of them (on screen and in ``outputs/``), whatever the step prints: a diagnostic such
as ``cat app.env`` shows the same passwords the probes use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .redact import dsn_secrets, url_secrets

MIN_LEN = 3  # shorter values are not masked by value (they would mask ordinary text)


def inline_secrets(options: Mapping[str, Any]) -> list[str]:
    """Secrets written in a probe's options: a DSN's passwords, a URL's userinfo."""
    out: set[str] = set()
    for key, value in options.items():
        if not isinstance(value, str) or not value:
            continue
        if key == "dsn":
            out.update(dsn_secrets(value))
        elif "://" in value:
            out.update(url_secrets(value))
    return sorted(out)


def probe_secrets(options: Mapping[str, Any],
                  environ: Mapping[str, str] | None = None) -> list[str]:
    """Every secret of one probe: resolved ``*_env`` / ``*_file`` values (each on its own:
    one missing variable does not hide the others) and the inline ones."""
    from .probes.base import ProbeError, resolve_secrets

    out = set(inline_secrets(options))
    for key, value in options.items():
        if isinstance(value, str) and key.endswith(("_env", "_file")):
            try:
                out.update(v for v in resolve_secrets({key: value}, environ).values() if v)
            except ProbeError:
                continue
    return sorted(out)


def held_secrets(config: Any, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every secret value of a ``Config`` (longest first, as maskers want them)."""
    if config is None:
        return ()
    found: set[str] = set()
    for svc in getattr(config, "services", {}).values():
        for probe in getattr(svc, "probes", ()):
            found.update(probe_secrets(getattr(probe, "options", {}) or {}, environ))
    sync = getattr(config, "sync", None)
    if sync is not None:  # [sync] credentials (by reference only)
        found.update(probe_secrets(sync.credentials, environ))
    return tuple(sorted((s for s in found if len(s) >= MIN_LEN), key=lambda s: (-len(s), s)))


def mask_bytes(data: bytes, secrets: Iterable[str]) -> tuple[bytes, int]:
    """``data`` with every secret value replaced by the mask; and how many were."""
    from .redact import MASK

    n = 0
    for s in sorted({s for s in secrets if len(s) >= MIN_LEN}, key=len, reverse=True):
        b = s.encode()
        c = data.count(b)
        if c:
            n += c
            data = data.replace(b, MASK.encode())
    return data, n
