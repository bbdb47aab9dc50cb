"""Probe kinds: one module per kind behind one protocol (see ``base``).

Modules are imported lazily (startup time): ``option_spec(kind)`` and ``get(kind)``
import only the kind asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

# kind -> module under cockpit.probes
KINDS: dict[str, str] = {
    "postgres": "postgres",
    "walg": "walg",
    "s3": "s3",
    "http": "http",
    "horizon": "horizon",
    "dns": "dns",
    "redis": "redis",
    "tcp": "tcp",
}


def _module(kind: str) -> Any:
    return importlib.import_module(f"cockpit.probes.{KINDS[kind]}")


def option_spec(kind: str) -> dict[str, Any] | None:
    """The ``schema.Field`` spec of a kind's own options, or None when not yet declared."""
    try:
        mod = _module(kind)
    except ModuleNotFoundError:
        return None
    return getattr(mod, "OPTIONS", None)
