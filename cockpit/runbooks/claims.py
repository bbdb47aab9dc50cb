"""Claims: exactly one runner per run, and who that is.

Layout under ``incidents/<id>/``::

    claims/<run>.claim      who runs it: O_EXCL-created, flock'ed by the runner for its life
    runs/<run>.job.json     what the supervisor was asked to run (no secret values)
    runs/<run>.log          the supervisor's own stderr (tracebacks only)
    outputs/<run>.out       the command's stdout+stderr, whole (known secrets masked)
    work/<run>/             the command's working directory when the runbook sets none

A run id is ``<runbook>.<step>.<kind>.<n>`` (kind ``step`` / ``rollback`` / ``verify``).

``claim`` writes the claim into a private temp file (O_CREAT|O_EXCL), takes its ``flock`` and
publishes it with ``link()``, which fails atomically when the name exists: one process wins,
the others read who won (``ClaimedBy``). The winner's flock is handed to the supervisor
(inherited fd), so the lock is held from the first instant of the claim until the supervisor
exits: *claim present and lock free* means the runner is gone, and a step without a result is
then *in doubt* (``supervisor_alive``). Nothing ever re-runs an in-doubt step by itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets as _secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..journal import Journal, incident_dir, read_incident
from ..journal.perms import ensure_dir, ensure_tree, file_mode, fsync_dir
from . import state as _steps
from .state import StepState

KINDS = ("step", "rollback", "verify")


@dataclass(frozen=True)
class ClaimedBy:
    """Someone else holds (or held) this run: tell the engineer who."""

    who: str
    since: float
    host: str = ""
    pid: int = 0
    run: str = ""
    attempt: int = 0
    state: str = "running"  # the step's state as the loser saw it

    def __str__(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.since)) if self.since else "?"
        where = f" on {self.host}" if self.host else ""
        return f"claimed by {self.who}{where} since {when} (attempt {self.attempt}, {self.state})"


@dataclass
class Claim:
    """We won: the claim file is ours and ``fd`` holds its flock (hand it to the runner)."""

    run: str
    path: Path
    fd: int
    runbook: str
    step: str
    kind: str
    attempt: int | str
    who: str
    host: str
    pid: int
    ts: float
    entry: Any = None

    def release(self, *, remove: bool = False) -> None:
        """Close our lock fd (the supervisor keeps its own copy); ``remove`` unlinks the
        claim (only when nothing ran)."""
        if remove:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def run_id(runbook_id: str, step_id: str, kind: str, n: int | str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return f"{runbook_id}.{step_id}.{kind}.{n}"


def claims_dir(state_dir: Path, incident_id: str) -> Path:
    return incident_dir(Path(state_dir), incident_id) / "claims"


def claim_path(state_dir: Path, incident_id: str, run: str) -> Path:
    return claims_dir(state_dir, incident_id) / f"{run}.claim"


def output_rel(run: str) -> str:
    return f"outputs/{run}.out"


def work_dir(state_dir: Path, incident_id: str, run: str) -> Path:
    return incident_dir(Path(state_dir), incident_id) / "work" / run


def ensure_sub(state_dir: Path, incident_id: str, sub: str, mode: str) -> Path:
    """``incidents/<id>/<sub>/``, created safely (and the incident tree, like a writer)."""
    inc = incident_dir(Path(state_dir), incident_id)
    if not inc.is_dir():
        ensure_tree(Path(state_dir), ["incidents", incident_id], mode)
    return ensure_dir(inc / sub, mode)


def _hostname() -> str:
    return socket.gethostname()


def read_claim(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            raw = f.read(65536)
        d = json.loads(raw.decode("utf-8"))
        return d if isinstance(d, dict) else None
    except (OSError, ValueError):
        return None


def claimed_by(path: Path, state: str = "running") -> ClaimedBy:
    d = read_claim(path) or {}
    def num(v: Any, cast: Any) -> Any:
        try:
            return cast(v or 0)
        except (TypeError, ValueError):
            return cast(0)

    return ClaimedBy(who=str(d.get("who", "?")), since=num(d.get("ts"), float),
                     host=str(d.get("host", "")), pid=num(d.get("pid"), int),
                     run=str(d.get("run", path.name.removesuffix(".claim"))),
                     attempt=num(d.get("attempt"), int), state=state)


def claim(
    state_dir: Path,
    incident_id: str,
    runbook_id: str,
    step_id: str,
    attempt: int | str,
    author: str,
    mode: str = "personal",
    *,
    kind: str = "step",
    journal: Journal | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Claim | ClaimedBy:
    """Claim run ``attempt`` of a step: exactly one caller wins, even across processes.

    The winner's ``Claim.fd`` holds the claim's flock; a ``step.claimed`` entry is
    journaled (kind ``step`` only) through ``journal`` (or a short-lived writer).
    """
    state_dir = Path(state_dir)
    run = run_id(runbook_id, step_id, kind, attempt)
    cdir = ensure_sub(state_dir, incident_id, "claims", mode)
    final = cdir / f"{run}.claim"
    if os.path.lexists(final):
        return claimed_by(final)
    ts = time.time()
    host = _hostname()
    body = json.dumps({"who": author, "pid": os.getpid(), "host": host, "ts": ts, "run": run,
                       "runbook": runbook_id, "step": step_id, "kind": kind,
                       "attempt": attempt}, sort_keys=True).encode() + b"\n"
    tmp = cdir / f".{run}.{os.getpid()}.{_secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 file_mode(mode))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held before the name exists: no window looks dead
        os.write(fd, body)
        os.fsync(fd)
        try:
            os.link(tmp, final)  # atomic: fails with EEXIST when another process won
        except FileExistsError:
            os.close(fd)
            fd = -1
            return claimed_by(final)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        fsync_dir(cdir)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise
    c = Claim(run=run, path=final, fd=fd, runbook=runbook_id, step=step_id, kind=kind,
              attempt=attempt, who=author, host=host, pid=os.getpid(), ts=ts)
    if kind == "step":
        data: dict[str, Any] = {"runbook": runbook_id, "step": step_id, "attempt": attempt,
                                "run": run, "host": host, "pid": os.getpid()}
        data.update(extra or {})
        data["detail"] = f"claimed attempt {attempt} ({author} on {host})"
        try:
            with writer(journal, state_dir, incident_id, mode, author) as j:
                c.entry = j.append("step.claimed", data)
        except BaseException:
            c.release(remove=True)  # nothing ran and nothing says it did
            raise
    return c


def supervisor_alive(state_dir: Path, incident_id: str, run: str, pid: int = 0) -> bool:
    """True while the run's claim lock is held (by its supervisor, or its claimer before
    the hand-over). A missing claim counts as dead. ``pid`` is accepted for the
    ``step_states(alive=...)`` signature and not trusted (pids are reused)."""
    path = claim_path(Path(state_dir), incident_id, run)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also drops our probe lock
    return False


def alive_checker(state_dir: Path, incident_id: str) -> Callable[[str, int], bool]:
    """``alive`` for ``steps.step_states``: the supervisor's claim lock is held."""
    def alive(run: str, pid: int = 0) -> bool:
        return supervisor_alive(state_dir, incident_id, run, pid)

    return alive


@dataclass(frozen=True)
class _ClaimEntry:
    ts: float
    author: str
    kind: str
    data: dict[str, Any]


def _orphan_claims(state_dir: Path, incident_id: str, entries: Sequence[Any],
                   runbook_id: str | None) -> list[_ClaimEntry]:
    """Claims of step runs that have no journal entry (the claimer died between the claim
    and its ``step.claimed`` entry): shown like a claim so they can become in doubt."""
    try:
        names = os.listdir(claims_dir(state_dir, incident_id))
    except OSError:
        return []
    runs = {(e.data or {}).get("run") for e in entries if e.kind.startswith("step.")}
    out = []
    for n in names:
        if not n.endswith(".claim") or n.startswith("."):
            continue
        run = n[:-6]
        parts = run.split(".")
        if len(parts) != 4 or parts[2] != "step" or run in runs:
            continue
        if runbook_id is not None and parts[0] != runbook_id:
            continue
        d = read_claim(claims_dir(state_dir, incident_id) / n) or {}
        try:
            attempt = int(parts[3])
        except ValueError:
            continue
        out.append(_ClaimEntry(float(d.get("ts", 0.0) or 0.0), str(d.get("who", "?")),
                               "step.claimed", {"runbook": parts[0], "step": parts[1],
                                                "attempt": attempt, "run": run,
                                                "host": str(d.get("host", ""))}))
    return out


def load_states(state_dir: Path, incident_id: str,
                runbook_id: str | None = None) -> dict[tuple[str, str], StepState]:
    """Fresh step states from the journal and the claims, with in-doubt detection.

    A supervisor writes its result before its lock is released, so a step that looks in
    doubt is re-read once after the lock was seen free (no false in-doubt in the race
    "read, result written, supervisor exits, lock checked").
    """
    state_dir = Path(state_dir)
    alive = alive_checker(state_dir, incident_id)
    states: dict[tuple[str, str], StepState] = {}
    for _ in range(2):
        entries = read_incident(state_dir, incident_id, recover=False).entries
        extra = _orphan_claims(state_dir, incident_id, entries, runbook_id)
        merged: list[Any] = sorted([*entries, *extra], key=lambda e: e.ts) if extra else entries
        states = _steps.step_states(merged, runbook_id, alive=alive)
        if not any(s.state == _steps.IN_DOUBT or s.rollback == _steps.IN_DOUBT
                   for s in states.values()):
            break
    return states


@contextlib.contextmanager
def writer(journal: Journal | None, state_dir: Path, incident_id: str, mode: str,
           author: str) -> Iterator[Journal]:
    """``journal`` itself, or a short-lived writer of the incident closed afterwards."""
    if journal is not None:
        yield journal
        return
    j = Journal(state_dir, incident_id, mode=mode, author=author)
    try:
        yield j
    finally:
        j.close()


