"""Running one command: its environment, its output, its process tree.

``run_command`` runs argv in its own session and process group, stdin ``/dev/null``,
stdout+stderr streamed in chunks to a file descriptor with known secrets masked (also across
chunk bounds); at the timeout the whole tree gets SIGTERM, then SIGKILL after a grace period,
including descendants that escaped with ``setsid`` (found by their ``COCKPIT_RUN_ID``
environment marker in ``/proc``). The detached supervisor uses it for steps and rollbacks;
verify commands run it in-process.

The environment is explicit: the base set (PATH, LANG, HOME, USER, LOGNAME, TERM, NO_COLOR,
COCKPIT_RUN_ID) plus the runbook's declared variables, each checked by ``policy``.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import hashlib
import os
import pwd
import re
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..redact import MASK
from ..text import clean
from . import policy
from .errors import StepError
from .model import RenderedCommand
from .policy import RUN_ID_VAR, SECURE_PATH

GRACE = 2.0  # seconds between SIGTERM and SIGKILL at a timeout
LINGER = 1.0  # seconds to keep reading after the command exited (background writers)
CHUNK = 1 << 20
TAIL_BYTES = 64 * 1024
PR_SET_CHILD_SUBREAPER = 36  # prctl(2)
BASE_ENV_NAMES = ("HOME", "LANG", "LOGNAME", "NO_COLOR", "PATH", "TERM", "USER", RUN_ID_VAR)


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
    captured: builtins.bytes = b""  # the first ``capture`` bytes (verify commands)
    error: str = ""  # could not start / could not save output

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.error


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
            problem = policy.env_problem(k)
            if problem:
                raise StepError(f"environment variable {k!r}: {problem}")
            if "\0" in str(v):
                raise StepError(f"environment variable {k} holds a NUL byte")
            env[k] = str(v)
    return env


def check_argv(argv: Sequence[str]) -> None:
    if not argv:
        raise StepError("empty command")
    for a in argv:
        if "\0" in a:
            raise StepError("a command argument holds a NUL byte (cannot be passed to exec)")


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
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


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
    check_argv(argv)
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


