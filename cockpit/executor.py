"""Running runbook commands: claims (exactly one runner), a detached supervisor, dry runs.

Layout under ``incidents/<id>/``::

    claims/<run>.claim      who runs it: O_EXCL-created, flock'ed by the runner for its life
    runs/<run>.job.json     what the supervisor was asked to run (no secret values)
    runs/<run>.log          the supervisor's own stderr (tracebacks only)
    outputs/<run>.out       the command's stdout+stderr, whole (known secrets masked)
    work/<run>/             the command's working directory when the runbook sets none

A run id is ``<runbook>.<step>.<kind>.<n>`` (kind ``step`` / ``rollback`` / ``verify``).

Exactly one runner: ``claim`` writes the claim into a private temp file (O_CREAT|O_EXCL),
takes its ``flock`` and publishes it with ``link()``, which fails atomically when the
name exists: one process wins, the others read who won (``ClaimedBy``). The winner's
flock is handed to the supervisor (inherited fd), so the lock is held from the first
instant of the claim until the supervisor exits: *claim present and lock free* means
the runner is gone, and a step without a result is then *in doubt*
(``supervisor_alive``). Nothing ever re-runs an in-doubt step by itself.

The supervisor (``python -m cockpit.supervisor JOB``) runs in its own session, ignores
SIGHUP, does not depend on its parent (it journals through its own ``Journal``), writes
output to a file (no pipe to the UI: no SIGPIPE) and kills the whole tree at the
timeout. ``run_command`` is the spawn-and-drain core the supervisor uses; it also runs
short verify commands in-process.

Parameters reach commands as argv elements only (``Runbook.render``); the environment
is explicit: ``BASE_ENV`` (PATH, LANG, HOME, USER, LOGNAME, TERM, NO_COLOR,
COCKPIT_RUN_ID) plus the runbook's declared variables; secrets travel only in the
environment and are masked in the saved output.

The core never imports Textual.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import pwd
import re
import secrets as _secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import steps as _steps
from .journal import Journal, incident_dir, read_incident
from .journal.perms import ensure_dir, file_mode, fsync_dir
from .redact import MASK
from .runbooks import RenderedCommand, Rollback, Runbook, Step, Verify
from .sanitize import clean
from .steps import StepError, StepState

SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GRACE = 2.0  # seconds between SIGTERM and SIGKILL at a timeout
LINGER = 1.0  # seconds to keep reading after the command exited (background writers)
CHUNK = 1 << 20
TAIL_BYTES = 64 * 1024
VERIFY_CAPTURE = 1 << 20  # bytes of a verify's output searched by expect_output
SECRET_VAR = "COCKPIT_SECRET_"  # supervisor-only variables carrying secret values
RUN_ID_VAR = "COCKPIT_RUN_ID"
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_FORBIDDEN_ENV = {"BASH_ENV", "ENV", "IFS", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND",
                  "GLOBIGNORE", "CDPATH", "PYTHONSTARTUP", "PYTHONPATH", "PYTHONHOME",
                  "PERL5OPT", "NODE_OPTIONS", RUN_ID_VAR}
_FORBIDDEN_PREFIXES = ("LD_", "BASH_FUNC_", "DYLD_", SECRET_VAR)
KINDS = ("step", "rollback", "verify")
BASE_ENV_NAMES = ("HOME", "LANG", "LOGNAME", "NO_COLOR", "PATH", "TERM", "USER", RUN_ID_VAR)


# ------------------------------------------------------------------ results

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
    attempt: int
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


@dataclass(frozen=True)
class DryRun:
    """Exactly what would run; nothing ran."""

    runbook: str
    step: str
    kind: str
    attempt: int
    argv: tuple[str, ...]
    cwd: str
    env_names: tuple[str, ...]
    timeout: float
    remote: str | None = None
    script: str | None = None
    entry: Any = None

    def display(self) -> str:
        import shlex

        return shlex.join(self.argv)


@dataclass(frozen=True)
class RunResult:
    """How a command ended. ``exit_code`` is -1 when it was killed by a signal."""

    exit_code: int
    signal: str
    timed_out: bool
    duration: float
    bytes: int
    sha256: str
    redactions: int = 0
    escaped_killed: int = 0
    captured: bytes = b""  # the first ``capture`` bytes (verify commands)
    error: str = ""  # could not start / could not save output

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.error


@dataclass
class StartedRun:
    """A run handed to a detached supervisor."""

    state_dir: Path
    incident_id: str
    run: str
    runbook: str
    step: str
    kind: str
    attempt: int
    output_path: Path
    supervisor_pid: int
    claim_path: Path
    argv: tuple[str, ...] = ()
    marker: str = ""  # COCKPIT_RUN_ID of the run's processes
    _proc: Any = field(default=None, repr=False)

    def tail(self, max_bytes: int = TAIL_BYTES) -> bytes:
        """The last ``max_bytes`` of the output so far (reads only the end of the file)."""
        return tail_bytes(self.output_path, max_bytes)

    def alive(self) -> bool:
        return supervisor_alive(self.state_dir, self.incident_id, self.run)

    def wait(self, timeout: float | None = None, poll: float = 0.05) -> StepState | None:
        """Wait until the supervisor is gone, then return the step's state (None: timeout)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.alive():
            if end is not None and time.monotonic() >= end:
                return None
            time.sleep(poll)
        states = load_states(self.state_dir, self.incident_id, self.runbook)
        return _steps.state_of(states, self.runbook, self.step)


# ------------------------------------------------------------------ paths and ids

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


def _ensure(state_dir: Path, incident_id: str, sub: str, mode: str) -> Path:
    inc = incident_dir(Path(state_dir), incident_id)
    if not inc.is_dir():
        # creates incidents/<id>/ safely (and the journal tree) like a writer would
        from .journal.perms import ensure_tree

        ensure_tree(Path(state_dir), ["incidents", incident_id], mode)
    return ensure_dir(inc / sub, mode)


def _hostname() -> str:
    return socket.gethostname()


# ------------------------------------------------------------------ claims

def read_claim(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            raw = f.read(65536)
        d = json.loads(raw.decode("utf-8"))
        return d if isinstance(d, dict) else None
    except (OSError, ValueError):
        return None


def _claimed_by(path: Path, state: str = "running") -> ClaimedBy:
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
    cdir = _ensure(state_dir, incident_id, "claims", mode)
    final = cdir / f"{run}.claim"
    if os.path.lexists(final):
        return _claimed_by(final)
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
            return _claimed_by(final)
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
            with _journal(journal, state_dir, incident_id, mode, author) as j:
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
    return lambda run, pid=0: supervisor_alive(state_dir, incident_id, run, pid)


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


# ------------------------------------------------------------------ environment

def run_marker(incident_id: str, run: str) -> str:
    """The unique ``COCKPIT_RUN_ID`` value of one run (finds its processes anywhere)."""
    return f"{incident_id}/{run}/{_secrets.token_hex(4)}"


def base_env(run: str = "") -> dict[str, str]:
    try:
        pw = pwd.getpwuid(os.geteuid())
        home, user = pw.pw_dir, pw.pw_name
    except KeyError:
        home, user = "/", f"uid{os.geteuid()}"
    env = {"PATH": SECURE_PATH, "LANG": "C.UTF-8", "HOME": home, "USER": user,
           "LOGNAME": user, "TERM": "dumb", "NO_COLOR": "1"}
    if run:
        env[RUN_ID_VAR] = run
    return env


def command_env(rendered: RenderedCommand, run: str = "",
                extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The command's whole environment: the base set, ``extra_env``, the declared env."""
    env = base_env(run)
    for source in (extra_env or {}), rendered.env:
        for k, v in source.items():
            if not isinstance(k, str) or not _NAME_RE.match(k):
                raise StepError(f"invalid environment variable name {k!r}")
            if k in _FORBIDDEN_ENV or k.startswith(_FORBIDDEN_PREFIXES):
                raise StepError(f"environment variable {k} is not allowed (it changes how "
                                "programs load code, or is the cockpit's own)")
            if "\0" in str(v):
                raise StepError(f"environment variable {k} holds a NUL byte")
            env[k] = str(v)
    return env


def _check_argv(argv: Sequence[str]) -> None:
    if not argv:
        raise StepError("empty command")
    for a in argv:
        if "\0" in a:
            raise StepError("a command argument holds a NUL byte (cannot be passed to exec)")


# ------------------------------------------------------------------ output helpers

def tail_bytes(path: Path, max_bytes: int = TAIL_BYTES) -> bytes:
    """The last ``max_bytes`` of a file, reading only that much."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - max_bytes))
            return f.read(max_bytes)
    except FileNotFoundError:
        return b""


def display_tail(data: bytes, limit: int | None = None) -> str:
    """Output bytes as safe plain text for a screen: decoded (invalid UTF-8 replaced),
    escape sequences removed, controls made visible, newlines kept. Rich markup is left
    as literal text: show the result as ``rich.text.Text``, never as markup."""
    i = 0
    while i < min(3, len(data)) and 0x80 <= data[i] <= 0xBF:
        i += 1  # a tail may start inside a UTF-8 sequence: drop its continuation bytes
    text = data[i:].decode("utf-8", errors="replace")
    out = clean(text, keep_newlines=True)
    if limit is not None and len(out) > limit:
        out = out[-limit:]
    return out


class _Sink:
    """Write output to ``fd`` in chunks: mask known secrets (also across chunk bounds),
    count bytes, hash what is saved, optionally keep the first ``capture`` bytes."""

    def __init__(self, fd: int, secrets: Iterable[str] = (), capture: int = 0) -> None:
        self.fd = fd
        vals = sorted({s.encode() for s in secrets if s and len(s) >= 3}, key=len, reverse=True)
        self.rx = re.compile(b"|".join(re.escape(v) for v in vals)) if vals else None
        self.keep = max((len(v) for v in vals), default=1) - 1
        self.mask = MASK.encode()
        self.carry = b""
        self.hash = hashlib.sha256()
        self.bytes = 0
        self.redactions = 0
        self.capture = capture
        self.captured = bytearray()
        self.error = ""

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        self.hash.update(data)
        self.bytes += len(data)
        if self.capture and len(self.captured) < self.capture:
            self.captured += data[: self.capture - len(self.captured)]
        if self.error:
            return
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError as e:
            self.error = f"output not saved completely: {e.strerror or e}"

    def feed(self, data: bytes, final: bool = False) -> None:
        if self.rx is None:
            self._emit(data)
            return
        buf = self.carry + data
        limit = len(buf) if final else len(buf) - self.keep
        out = []
        pos = 0
        for m in self.rx.finditer(buf):
            if m.start() >= limit:
                break
            out.append(buf[pos:m.start()])
            out.append(self.mask)
            self.redactions += 1
            pos = m.end()
        cut = max(pos, limit)
        out.append(buf[pos:cut])
        self.carry = buf[cut:]
        self._emit(b"".join(out))

    def close(self) -> None:
        if self.rx is not None:
            self.feed(b"", final=True)


# ------------------------------------------------------------------ process tree

def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, pgid, state) for every visible process."""
    out: dict[int, tuple[int, int, str]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for n in names:
        if not n.isdigit():
            continue
        try:
            with open(f"/proc/{n}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        try:
            rest = raw[raw.rindex(b")") + 2:].split()
            out[int(n)] = (int(rest[1]), int(rest[2]), rest[0].decode())
        except (ValueError, IndexError):
            continue
    return out


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return marker in f.read().split(b"\0")
    except OSError:
        return False


def tree_pids(roots: Iterable[int], pgid: int = 0, marker: str = "",
              exclude: Iterable[int] = (), known: Iterable[int] = ()) -> set[int]:
    """Live (non-zombie) processes under ``roots``, in process group ``pgid``, or carrying
    ``COCKPIT_RUN_ID=<marker>`` in their environment (finds setsid escapees even when they
    were re-parented to init). ``known`` pids stay in the result while they exist: a
    process being torn down after SIGKILL no longer shows its environment."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _pg, _st) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        p = stack.pop()
        for c in children.get(p, ()):
            if c not in found:
                found.add(c)
                stack.append(c)
    found.update(r for r in roots if r in table)
    found.update(p for p in known if p in table)
    if pgid > 0:
        found.update(p for p, (_pp, pg, _st) in table.items() if pg == pgid)
    if marker:
        mk = f"{RUN_ID_VAR}={marker}".encode()
        me = os.getpid()
        found.update(p for p in table if p != me and p not in found and _has_marker(p, mk))
    excl = set(exclude) | {os.getpid()}
    return {p for p in found if p not in excl and table.get(p, (0, 0, "Z"))[2] not in ("Z", "X")}


def _signal_all(pids: Iterable[int], sig: int) -> None:
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, sig)


def _outside_group(pids: Iterable[int], pgid: int) -> set[int]:
    out = set()
    for p in pids:
        try:
            if os.getpgid(p) != pgid:
                out.add(p)
        except OSError:
            pass
    return out


def _reap_orphans(keep: int) -> None:
    """Reap exited children other than ``keep`` (re-parented to us as subreaper)."""
    me = os.getpid()
    for pid, (ppid, _pg, st) in _proc_table().items():
        if ppid == me and pid != keep and st in ("Z", "X"):
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


def set_subreaper() -> bool:
    """prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to us."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


# ------------------------------------------------------------------ run_command

def _set_pipe_size(fd: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), CHUNK)


def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    out_fd: int,
    timeout: float,
    cwd: str | None = None,
    secrets: Iterable[str] = (),
    grace: float = GRACE,
    capture: int = 0,
    marker: str = "",
    subreaper: bool = False,
    on_spawn: Callable[[int], None] | None = None,
    linger: float = LINGER,
    cancel: Callable[[], bool] | None = None,
) -> RunResult:
    """Run ``argv`` in its own session/process group, stdin /dev/null, stdout+stderr
    streamed to ``out_fd`` (secrets masked); at ``timeout`` the whole tree gets SIGTERM,
    then SIGKILL after ``grace``. Returns once the command and (on a timeout) every
    descendant is gone. ``subreaper``: we are a child subreaper (the supervisor), so
    every descendant of ours belongs to this command and orphans are reaped here.
    ``cancel()`` returning True stops the command like a timeout (``timed_out`` False)."""
    argv = [str(a) for a in argv]
    _check_argv(argv)
    t0 = time.monotonic()
    sink = _Sink(out_fd, secrets, capture)
    r, w = os.pipe()
    _set_pipe_size(w)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=w, stderr=w,
                                env=dict(env), cwd=cwd, start_new_session=True,
                                close_fds=True)
    except OSError as e:
        os.close(r)
        os.close(w)
        msg = f"cockpit: cannot run {argv[0]!r}: {e.strerror or e}\n"
        sink.feed(msg.encode())
        sink.close()
        code = 127 if isinstance(e, FileNotFoundError) else 126
        return RunResult(code, "", False, time.monotonic() - t0, sink.bytes,
                         sink.hash.hexdigest(), 0, 0, bytes(sink.captured),
                         error=msg.strip())
    os.close(w)
    if on_spawn is not None:
        on_spawn(proc.pid)
    pgid = proc.pid
    roots = [os.getpid()] if subreaper else [proc.pid]
    poller = select.poll()
    poller.register(r, select.POLLIN | select.POLLHUP | select.POLLERR)
    deadline = t0 + max(0.0, float(timeout))
    timed_out = False
    stopping = False
    term_at = 0.0
    killed = 0
    escaped: set[int] = set()
    seen: set[int] = set()  # every process of the tree found since the timeout
    eof = False
    exited_at: float | None = None
    last_reap = t0
    last_scan = t0
    try:
        while True:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if stopping and now - last_scan < 0.04 and not eof:
                pass  # draining output between scans of the process table
            elif stopping:
                last_scan = now
                left = tree_pids(roots, pgid, marker, known=seen)
                seen |= left
                if proc.poll() is None:
                    left.add(proc.pid)
                if not left:
                    if eof or now - term_at > grace + linger:
                        break
                elif now >= term_at + grace and killed < 50:
                    escaped |= _outside_group(left, pgid)
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pgid, signal.SIGKILL)
                    _signal_all(left, signal.SIGKILL)
                    killed += 1
                elif killed >= 50:
                    break  # unkillable (D state or not ours): stop waiting, report
            elif exited_at is not None:
                if eof or now - exited_at >= linger:
                    break
            elif now >= deadline or (cancel is not None and cancel()):
                timed_out = now >= deadline
                stopping = True
                term_at = now
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGTERM)
                found = tree_pids(roots, pgid, marker)
                seen |= found
                escaped |= _outside_group(found, pgid)
                _signal_all(found, signal.SIGTERM)
                continue
            if eof or stopping:
                wait = 0.05
            elif exited_at is not None:
                wait = max(0.0, exited_at + linger - now)
            else:
                wait = min(max(0.0, deadline - now), 0.25 if cancel is None else 0.1)
            if eof:  # output done: wait for the exit itself (Popen.wait polls finely)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=wait)
                continue
            events = poller.poll(int(wait * 1000) + 1)
            if events:
                try:
                    data = os.read(r, CHUNK)
                except OSError as e:
                    if e.errno == errno.EINTR:
                        continue
                    data = b""
                if data:
                    sink.feed(data)
                else:
                    eof = True
                    poller.unregister(r)
            if subreaper and now - last_reap > 0.5:
                _reap_orphans(proc.pid)
                last_reap = now
    finally:
        os.close(r)
        sink.close()
    code = proc.wait()
    if subreaper:
        _reap_orphans(proc.pid)
    duration = time.monotonic() - t0
    sig = ""
    exit_code = code
    if code < 0:
        exit_code = -1
        try:
            sig = signal.Signals(-code).name
        except ValueError:
            sig = f"SIG{-code}"
    return RunResult(exit_code, sig, timed_out, duration, sink.bytes, sink.hash.hexdigest(),
                     sink.redactions, len(escaped), bytes(sink.captured), sink.error)


# ------------------------------------------------------------------ journal helper

@contextlib.contextmanager
def _journal(journal: Journal | None, state_dir: Path, incident_id: str, mode: str,
             author: str) -> Any:
    if journal is not None:
        yield journal
        return
    j = Journal(state_dir, incident_id, mode=mode, author=author)
    try:
        yield j
    finally:
        j.close()


# ------------------------------------------------------------------ start

def _target(step: Step, kind: str) -> Step | Rollback | Verify:
    if kind == "step":
        if step.command is None:
            raise StepError(f"step {step.id} is a manual step: it has no command to run")
        return step
    if kind == "rollback":
        if step.rollback is None or step.rollback.command is None:
            raise StepError(f"step {step.id} has no rollback command")
        return step.rollback
    if step.verify is None or step.verify.command is None:
        raise StepError(f"step {step.id} has no verify command")
    return step.verify


def confirmation_for(runbook: Runbook, step: Step | Rollback, params: Mapping[str, Any]) -> str:
    """What the engineer must type before ``step`` (or a rollback) runs; "" when nothing."""
    if isinstance(step, Rollback):
        if not step.destructive:
            return ""
        return runbook.services[0] if runbook.services else runbook.id
    return runbook.confirmation_token(step, params) or ""


def _check_confirmation(runbook: Runbook, step: Step | Rollback, params: Mapping[str, Any],
                        given: str | None, what: str) -> str:
    token = confirmation_for(runbook, step, params)
    if not token:
        return ""
    if given is None or given.strip() != token:
        raise StepError(f"{what} is destructive: type {token!r} to confirm")
    return "typed"


def _spawn(job: dict[str, Any], claim_obj: Claim, env: Mapping[str, str],
           secret_values: Sequence[str], runs: Path, mode: str) -> subprocess.Popen[bytes]:
    sup_env = dict(env)
    for i, s in enumerate(secret_values):
        sup_env[f"{SECRET_VAR}{i}"] = s
    job["lock_fd"] = claim_obj.fd
    job_path = runs / f"{job['run']}.job.json"
    fd = os.open(job_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 file_mode(mode))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(job, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    log_fd = os.open(runs / f"{job['run']}.log",
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                     file_mode(mode))
    import cockpit

    pkg_root = str(Path(cockpit.__file__).resolve().parent.parent)
    try:
        # nohup (when present) ignores SIGHUP from the exec on, closing the short window
        # before the supervisor installs its own handler; it execs, so the pid is ours.
        nohup = shutil.which("nohup", path=SECURE_PATH)
        proc = subprocess.Popen(
            [*([nohup] if nohup else []), sys.executable, "-E", "-s", "-m",
             "cockpit.supervisor", str(job_path)],
            stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, env=sup_env,
            cwd=pkg_root, start_new_session=True, pass_fds=(claim_obj.fd,), close_fds=True,
        )
    finally:
        os.close(log_fd)
    # Reap it when it ends (we may outlive it); if we die first, init adopts it.
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc


def _step_and_state(state_dir: Path, incident_id: str, runbook: Runbook,
                    step: Step | str, state: StepState | None = None) -> tuple[Step, StepState]:
    st_obj = runbook.step(step) if isinstance(step, str) else step
    if state is not None and state.key == (runbook.id, st_obj.id):
        return st_obj, state
    states = load_states(state_dir, incident_id, runbook.id)
    return st_obj, _steps.state_of(states, runbook.id, st_obj.id)


def start(
    state_dir: Path,
    incident_id: str,
    runbook: Runbook,
    step: Step | str,
    params: Mapping[str, Any],
    *,
    author: str,
    mode: str = "personal",
    dry_run: bool = False,
    extra_env: Mapping[str, str] | None = None,
    journal: Journal | None = None,
    attempt: int | None = None,
    confirmation: str | None = None,
    state: StepState | None = None,
) -> StartedRun | ClaimedBy | DryRun:
    """Start a step's command under a detached supervisor (or dry-run it).

    ``attempt``: the attempt the engineer saw and meant to run (the UI passes
    ``state.attempt + 1`` of what it showed); when that attempt is taken by now the
    result is ``ClaimedBy``. Without it, the next attempt of the freshly read state.
    ``confirmation``: for a destructive step, the token the engineer typed
    (``Runbook.confirmation_token``); a dry run needs none. ``state``: the step's state
    the caller already has (skips re-reading the incident; the claim still decides).
    Raises ``StepError`` when the step cannot start (manual, in doubt, already done...),
    ``ParamError`` for bad params, ``JournalWriteError`` when nothing could be recorded.
    """
    state_dir = Path(state_dir)
    step_obj, st = _step_and_state(state_dir, incident_id, runbook, step, state)
    target = _target(step_obj, "step")
    rendered = runbook.render(target, params)
    _check_argv(rendered.argv)
    ok, why = _steps.can_start(st)
    nxt = st.attempt + 1
    if dry_run:  # shows what would run; allowed in any state, runs nothing
        return _dry_run(state_dir, incident_id, runbook, step_obj, "step", st, nxt, rendered,
                        extra_env, journal=journal, mode=mode, author=author)
    if attempt is not None and attempt <= st.attempt:
        path = claim_path(state_dir, incident_id, run_id(runbook.id, step_obj.id, "step", attempt))
        if path.exists():
            return _claimed_by(path, st.state)
        raise StepError(f"{runbook.id}/{step_obj.id}: attempt {attempt} is past; the step is "
                        f"now {st.state.replace('_', ' ')} (attempt {st.attempt})")
    if attempt is not None and attempt > nxt:
        raise StepError(f"{runbook.id}/{step_obj.id}: attempt {attempt} is not the next one "
                        f"({nxt})")
    if not ok:
        if st.state in (_steps.RUNNING, _steps.SUCCEEDED, _steps.CONFIRMED) and st.run:
            path = claim_path(state_dir, incident_id, st.run)
            if path.exists():
                return _claimed_by(path, st.state)
        raise StepError(f"{runbook.id}/{step_obj.id}: cannot start: {why}")
    run = run_id(runbook.id, step_obj.id, "step", nxt)
    cwd = rendered.cwd or str(work_dir(state_dir, incident_id, run))
    env = command_env(rendered, run_marker(incident_id, run), extra_env)
    confirmed = _check_confirmation(runbook, step_obj, params, confirmation,
                                    f"{runbook.id}/{step_obj.id}")
    extra = {"confirmation": confirmed} if confirmed else None
    c = claim(state_dir, incident_id, runbook.id, step_obj.id, nxt, author, mode,
              kind="step", journal=journal, extra=extra)
    if isinstance(c, ClaimedBy):
        return c
    return _launch(state_dir, incident_id, runbook, step_obj, "step", nxt, c, rendered, env,
                   cwd, author=author, mode=mode, journal=journal)


def _dry_run(state_dir: Path, incident_id: str, runbook: Runbook, step: Step, kind: str,
             st: StepState, n: int, rendered: RenderedCommand,
             extra_env: Mapping[str, str] | None, *, journal: Journal | None, mode: str,
             author: str) -> DryRun:
    run = run_id(runbook.id, step.id, kind, n)
    cwd = rendered.cwd or str(work_dir(state_dir, incident_id, run))
    names = tuple(sorted(command_env(rendered, run_marker(incident_id, run), extra_env)))
    what = "dry run" if kind == "step" else "dry run of the rollback"
    with _journal(journal, state_dir, incident_id, mode, author) as j:
        e = j.append("step.dry_run", {
            "runbook": runbook.id, "step": step.id, "attempt": st.attempt, "run_kind": kind,
            "argv": list(rendered.argv), "cwd": cwd, "env": list(names),
            "timeout": float(rendered.timeout), "remote": rendered.remote or "",
            "detail": f"{what}: {_short(rendered)} (nothing ran)",
        })
    return DryRun(runbook.id, step.id, kind, n, tuple(rendered.argv), cwd, names,
                  float(rendered.timeout), rendered.remote, rendered.script, e)


def _short(rendered: RenderedCommand, limit: int = 100) -> str:
    text = rendered.display()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _launch(state_dir: Path, incident_id: str, runbook: Runbook, step: Step, kind: str,
            attempt: int, c: Claim, rendered: RenderedCommand, env: Mapping[str, str],
            cwd: str, *, author: str, mode: str, journal: Journal | None,
            step_attempt: int | None = None, verify: Verify | None = None) -> StartedRun:
    runs = _ensure(state_dir, incident_id, "runs", mode)
    _ensure(state_dir, incident_id, "outputs", mode)
    job = {
        "version": 1, "state_dir": str(Path(state_dir).resolve()), "incident": incident_id,
        "mode": mode, "author": author, "run": c.run, "kind": kind, "runbook": runbook.id,
        "step": step.id, "attempt": step_attempt if step_attempt is not None else attempt,
        "kind_attempt": attempt, "argv": list(rendered.argv), "cwd": cwd,
        "default_cwd": not rendered.cwd, "timeout": float(rendered.timeout),
        "env_names": sorted(env), "n_secrets": len(rendered.secrets),
        "output": output_rel(c.run), "claim": str(c.path), "grace": GRACE,
        "remote": rendered.remote or "", "marker": env.get(RUN_ID_VAR, ""),
    }
    if verify is not None:
        job["expect_exit"] = verify.expect_exit
        job["expect_output"] = verify.expect_output or ""
    try:
        proc = _spawn(job, c, env, rendered.secrets, runs, mode)
    except OSError as e:
        # Nothing ran: say so definitively (not "in doubt") and free the claim.
        kinds = {"step": "step.failed", "rollback": "step.rollback_failed",
                 "verify": "step.verify_failed"}
        with contextlib.suppress(OSError), \
                _journal(journal, state_dir, incident_id, mode, author) as j:
            j.append(kinds[kind], {
                "runbook": runbook.id, "step": step.id, "attempt": job["attempt"],
                "run": c.run, "exit_code": -1, "signal": "", "duration": 0.0,
                "timed_out": False,
                "detail": f"could not start the supervisor: {e.strerror or e}",
            })
        c.release()
        raise
    c.release()  # the supervisor holds the lock now (same open file description)
    inc = incident_dir(Path(state_dir), incident_id)
    return StartedRun(Path(state_dir), incident_id, c.run, runbook.id, step.id, kind,
                      job["attempt"], inc / output_rel(c.run), proc.pid, c.path,
                      tuple(rendered.argv), env.get(RUN_ID_VAR, ""), proc)


def start_rollback(
    state_dir: Path,
    incident_id: str,
    runbook: Runbook,
    step: Step | str,
    params: Mapping[str, Any],
    *,
    author: str,
    mode: str = "personal",
    dry_run: bool = False,
    extra_env: Mapping[str, str] | None = None,
    journal: Journal | None = None,
    confirmation: str | None = None,
) -> StartedRun | ClaimedBy | DryRun:
    """Run a step's rollback under a supervisor (claimed like a step run)."""
    state_dir = Path(state_dir)
    step_obj, st = _step_and_state(state_dir, incident_id, runbook, step)
    target = _target(step_obj, "rollback")
    rendered = runbook.render(target, params)
    _check_argv(rendered.argv)
    n = st.rollback_attempt + 1
    if dry_run:
        return _dry_run(state_dir, incident_id, runbook, step_obj, "rollback", st, n, rendered,
                        extra_env, journal=journal, mode=mode, author=author)
    ok, why = _steps.can_rollback(st, step_obj)
    if not ok:
        if st.rollback == "running" and st.rollback_run:
            path = claim_path(state_dir, incident_id, st.rollback_run)
            if path.exists():
                return _claimed_by(path, "rolling back")
        raise StepError(f"{runbook.id}/{step_obj.id}: cannot roll back: {why}")
    run = run_id(runbook.id, step_obj.id, "rollback", n)
    cwd = rendered.cwd or str(work_dir(state_dir, incident_id, run))
    env = command_env(rendered, run_marker(incident_id, run), extra_env)
    _check_confirmation(runbook, step_obj.rollback or target, params, confirmation,
                        f"the rollback of {runbook.id}/{step_obj.id}")
    c = claim(state_dir, incident_id, runbook.id, step_obj.id, n, author, mode,
              kind="rollback", journal=journal)
    if isinstance(c, ClaimedBy):
        return c
    return _launch(state_dir, incident_id, runbook, step_obj, "rollback", n, c, rendered, env,
                   cwd, author=author, mode=mode, journal=journal, step_attempt=st.attempt)


# ------------------------------------------------------------------ verify

def start_verify(
    state_dir: Path,
    incident_id: str,
    runbook: Runbook,
    step: Step | str,
    params: Mapping[str, Any],
    *,
    author: str,
    mode: str = "personal",
    journal: Journal | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> StartedRun:
    """Run a step's verify command under a detached supervisor (for long verifies); the
    supervisor journals ``step.verify_passed`` / ``step.verify_failed``."""
    state_dir = Path(state_dir)
    step_obj, st = _step_and_state(state_dir, incident_id, runbook, step)
    target = _target(step_obj, "verify")
    assert isinstance(target, Verify)
    if st.state == _steps.RUNNING:
        raise StepError(f"{runbook.id}/{step_obj.id}: the command is still running")
    rendered = runbook.render(target, params)
    _check_argv(rendered.argv)
    n = f"{st.attempt}-{_secrets.token_hex(3)}"
    run = run_id(runbook.id, step_obj.id, "verify", n)
    cwd = rendered.cwd or str(work_dir(state_dir, incident_id, run))
    env = command_env(rendered, run_marker(incident_id, run), extra_env)
    c = claim(state_dir, incident_id, runbook.id, step_obj.id, n, author, mode, kind="verify")
    assert isinstance(c, Claim)  # the name is unique
    return _launch(state_dir, incident_id, runbook, step_obj, "verify", 0, c, rendered, env,
                   cwd, author=author, mode=mode, journal=journal, step_attempt=st.attempt,
                   verify=target)


@dataclass(frozen=True)
class VerifyResult:
    passed: bool
    detail: str
    result: RunResult
    output_path: Path
    entry: Any = None


def verify_detail(v: Verify, res: RunResult) -> tuple[bool, str]:
    """The verdict of a verify command and a one-line explanation."""
    text = res.captured.decode("utf-8", errors="replace")
    if res.error:
        return False, res.error
    if res.timed_out:
        return False, "timed out"
    if res.exit_code != v.expect_exit:
        how = f"signal {res.signal}" if res.signal else f"exit code {res.exit_code}"
        return False, f"{how}, expected exit code {v.expect_exit}"
    if not v.output_ok(text):
        return False, f"output does not match {v.expect_output!r}"
    return True, f"exit code {res.exit_code}" + (
        f", output matches {v.expect_output!r}" if v.expect_output else "")


def run_verify(
    state_dir: Path,
    incident_id: str,
    runbook: Runbook,
    step: Step | str,
    params: Mapping[str, Any],
    *,
    author: str,
    mode: str = "personal",
    journal: Journal | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> VerifyResult:
    """Run a step's verify command in this process (blocking: call it off the UI thread),
    with its timeout, and journal ``step.verify_passed`` / ``step.verify_failed``.
    Probe verifies belong to the health layer: record them with ``steps.record_verify``."""
    state_dir = Path(state_dir)
    step_obj, st = _step_and_state(state_dir, incident_id, runbook, step)
    target = _target(step_obj, "verify")
    assert isinstance(target, Verify)
    if st.state == _steps.RUNNING:
        raise StepError(f"{runbook.id}/{step_obj.id}: the command is still running")
    rendered = runbook.render(target, params)
    run = run_id(runbook.id, step_obj.id, "verify", f"{st.attempt}-{_secrets.token_hex(3)}")
    env = command_env(rendered, run_marker(incident_id, run), extra_env)
    cwd = rendered.cwd or str(work_dir(state_dir, incident_id, run))
    out_dir = _ensure(state_dir, incident_id, "outputs", mode)
    if not rendered.cwd:
        _ensure(state_dir, incident_id, "work", mode)
        ensure_dir(Path(cwd), mode)
    path = out_dir / f"{run}.out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 file_mode(mode))
    try:
        res = run_command(rendered.argv, env=env, out_fd=fd, timeout=rendered.timeout, cwd=cwd,
                          secrets=rendered.secrets, capture=VERIFY_CAPTURE,
                          marker=env[RUN_ID_VAR])
        os.fsync(fd)
    finally:
        os.close(fd)
    passed, detail = verify_detail(target, res)
    base = {"runbook": runbook.id, "step": step_obj.id, "attempt": st.attempt, "run": run}
    with _journal(journal, state_dir, incident_id, mode, author) as j:
        j.append("step.output", {**base, "run_kind": "verify", "path": output_rel(run),
                                 "bytes": res.bytes, "sha256": res.sha256,
                                 "redactions": res.redactions,
                                 "detail": f"verify output saved ({res.bytes} bytes)"})
        e = j.append("step.verify_passed" if passed else "step.verify_failed", {
            **base, "passed": passed, "exit_code": res.exit_code, "signal": res.signal,
            "timed_out": res.timed_out, "duration": round(res.duration, 3),
            "detail": f"verify {'passed' if passed else 'failed'}: {detail}"})
    return VerifyResult(passed, detail, res, path, e)


__all__ = [
    "BASE_ENV_NAMES", "Claim", "ClaimedBy", "DryRun", "GRACE", "RunResult", "StartedRun",
    "VerifyResult", "alive_checker", "base_env", "claim", "claim_path", "command_env",
    "display_tail", "load_states", "read_claim", "run_command", "run_id", "run_verify",
    "set_subreaper", "start", "start_rollback", "start_verify", "supervisor_alive", "tail_bytes",
    "tree_pids", "verify_detail",
]
