"""Probe client libraries load when their first probe runs, never at start-up.

Loading the configuration reads every kind's ``OPTIONS`` (so it imports the kind modules),
and psycopg, redis, dnspython and httpx together cost about 0.4 s and 25 MB before the
first frame. A kind module therefore binds its client library to a stand-in:
``psycopg = lazy_module("psycopg", ("errors",))`` behaves as ``import psycopg`` plus
``import psycopg.errors``, importing on the first attribute read. The scheduler's
``warm_up`` reads them in a thread before the first round (off the UI thread and the probe
loop); a kind module still reads as a normal one (``if TYPE_CHECKING`` keeps the real imports
for the type checker).
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """``import name`` (and ``import name.sub`` for each of ``submodules``), on first use."""

    def __init__(self, name: str, submodules: tuple[str, ...] = ()) -> None:
        self._lazy_name = name
        self._lazy_subs = frozenset(submodules)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_lazy_"):
            raise AttributeError(attr)
        if attr in self._lazy_subs:
            value = importlib.import_module(f"{self._lazy_name}.{attr}")
        else:
            value = getattr(importlib.import_module(self._lazy_name), attr)
        setattr(self, attr, value)  # the next read is a plain attribute
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self._lazy_name!r}>"


class LazyAttr:
    """``from module import name`` for a class or function that is only called."""

    def __init__(self, module: str, name: str) -> None:
        self._module, self._name = module, name
        self._value: Any = None

    def load(self) -> Any:
        if self._value is None:
            self._value = getattr(importlib.import_module(self._module), self._name)
        return self._value

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return self.load()(*args, **kw)


def lazy_module(name: str, submodules: tuple[str, ...] = ()) -> Any:
    return LazyModule(name, submodules)


def lazy_attr(module: str, name: str) -> Any:
    return LazyAttr(module, name)


def load(*stand_ins: Any) -> None:
    """Import what the stand-ins stand for now (the scheduler's warm-up, in a thread)."""
    for s in stand_ins:
        if isinstance(s, LazyModule):
            importlib.import_module(s._lazy_name)
            for sub in sorted(s._lazy_subs):
                importlib.import_module(f"{s._lazy_name}.{sub}")
        elif isinstance(s, LazyAttr):
            s.load()


def warm(kinds: list[str]) -> None:
    """Import the kind modules and their client libraries, build the TLS context (the
    scheduler's warm-up, in a thread: never on the UI thread nor the probe loop)."""
    from . import KINDS, _module

    for k in kinds:
        if k in KINDS:
            try:
                mod = _module(k)
                load(*vars(mod).values())  # the client library (psycopg, redis...)
            except Exception:  # noqa: BLE001 - a broken kind is reported by its runs
                continue
            if k in ("http", "horizon"):
                import anyio._backends._asyncio  # noqa: F401 - imported lazily on first request
                import h11  # noqa: F401
                import httpcore._async.http11  # noqa: F401

                from . import _http

                load(_http.httpx)
                _http.ssl_context(True, None)
            if k == "dns":
                import dns._asyncio_backend  # noqa: F401
            if k in ("s3", "walg"):
                import boto3.session  # noqa: F401
            del mod
