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
