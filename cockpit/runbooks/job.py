"""The job a supervisor runs: what, where, with which environment names and timeout,
written to ``runs/<run>.job.json`` by the launcher and read back by the supervisor (no
secret values: those travel in supervisor-only environment variables)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from .process import GRACE


@dataclass(frozen=True)
class Job:
    """What the supervisor is asked to run, written to ``runs/<run>.job.json`` (no secret
    values: those travel in supervisor-only environment variables)."""

    state_dir: str
    incident: str
    mode: str
    author: str
    run: str
    kind: str  # step | rollback | verify
    runbook: str
    step: str
    attempt: int  # the step's attempt this run belongs to
    kind_attempt: int  # the run's own number (a rollback's attempt; a step's attempt)
    argv: tuple[str, ...]
    cwd: str
    default_cwd: bool
    timeout: float
    env_names: tuple[str, ...]
    output: str
    claim: str
    n_secrets: int = 0
    grace: float = GRACE
    remote: str = ""
    marker: str = ""
    expect_exit: int = 0
    expect_output: str = ""
    lock_fd: int = -1
    version: int = 1

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["argv"], d["env_names"] = list(self.argv), list(self.env_names)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Job:
        """A job read back from its file; raises ``ValueError`` naming the first bad key."""
        if not isinstance(d, Mapping):
            raise ValueError("not a JSON object")
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in d:
                if f.default is MISSING:
                    raise ValueError(f"missing {f.name!r}")
                continue
            v = d[f.name]
            types: dict[str, type | tuple[type, ...]] = {
                "int": int, "float": (int, float), "str": str, "bool": bool}
            want = types.get(str(f.type))
            if f.name in ("argv", "env_names"):
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise ValueError(f"{f.name!r} must be a list of strings")
                v = tuple(v)
            elif want is not None and (not isinstance(v, want) or (
                    want is int and isinstance(v, bool))):
                raise ValueError(f"{f.name!r} has the wrong type")
            kw[f.name] = float(v) if str(f.type) == "float" else v
        return cls(**kw)
