"""The detached step supervisor: ``python -m cockpit.runbooks.supervisor JOB.json``.

Started by ``cockpit.runbooks.launch`` in a new session with the run's claim lock inherited
(``lock_fd`` in the job), it outlives the cockpit: SIGHUP is ignored, its parent may die,
it journals through its own ``Journal`` writer (same author as the engineer). It:

1. becomes a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``; without it, escapees are
   still found by their ``COCKPIT_RUN_ID`` environment marker);
2. journals ``step.started`` (``step.rollback_started`` for a rollback) with argv, cwd,
   environment NAMES, timeout and its pid; if that cannot be saved nothing runs;
3. runs the command in its own process group, stdout+stderr streamed in chunks to
   ``outputs/<run>.out`` with known secrets masked; at the timeout SIGTERM goes to the
   group and every descendant, SIGKILL after the grace period;
4. journals ``step.output`` (bytes, sha256 of the saved file, redactions) and the result
   (``step.succeeded`` / ``step.failed`` / ``step.rolled_back`` / ``step.rollback_failed``
   / ``step.verify_passed`` / ``step.verify_failed``), then exits, releasing the lock.

SIGTERM to the supervisor stops the command the same way as a timeout (the result says
so). Exit status: 0 result journaled, 2 bad job, 3 claim not ours, 4 journal failed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ..journal import Journal
from ..journal.perms import ensure_dir, ensure_tree, file_mode
from ..text import shorten
from .job import Job
from .model import Verify
from .policy import SECRET_VAR
from .process import RunResult, run_command, set_subreaper
from .state import RESULT_KINDS
from .verify import verify_detail

_stop = False


def _on_term(signum: int, frame: Any) -> None:
    global _stop
    _stop = True


def _lock(job: Job) -> int:
    """The claim's flock fd: the inherited one, or (started by hand) taken here."""
    claim = Path(job.claim)
    fd = job.lock_fd
    if fd > 2:
        try:
            if os.path.samestat(os.fstat(fd), os.stat(claim)):
                os.set_inheritable(fd, False)
                return fd
        except OSError:
            pass
    fd = os.open(claim, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SystemExit(f"supervisor: {claim} is held by another runner") from None
    return fd


def _outcome(res: RunResult) -> str:
    if res.error and res.exit_code in (126, 127):
        return res.error
    if res.timed_out:
        return f"timed out after {res.duration:.1f}s; the process tree was killed"
    if res.signal:
        return f"killed by {res.signal} after {res.duration:.1f}s"
    word = "exit code"
    return f"{word} {res.exit_code} after {res.duration:.1f}s"


def supervise(job: Job) -> int:
    state_dir = Path(job.state_dir)
    incident = job.incident
    mode = job.mode
    kind = job.kind
    run = job.run
    base = {"runbook": job.runbook, "step": job.step, "attempt": job.attempt,
            "run": run}
    lock_fd = _lock(job)
    subreaper = set_subreaper()
    secrets = [v for k, v in os.environ.items() if k.startswith(SECRET_VAR)]
    env = {k: os.environ[k] for k in job.env_names if k in os.environ}
    for k in [k for k in os.environ if k.startswith(SECRET_VAR)]:
        del os.environ[k]
    try:
        journal = Journal(state_dir, incident, mode=mode, author=job.author)
    except Exception as e:  # noqa: BLE001
        print(f"supervisor: cannot open the journal: {e}", file=sys.stderr)
        return 4
    inc = journal.incident_dir
    cwd = job.cwd
    out_path = inc / job.output
    try:
        if job.default_cwd:
            ensure_tree(state_dir, ["incidents", incident, "work"], mode)
            ensure_dir(Path(cwd), mode)
        out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, file_mode(mode))
    except OSError as e:
        with contextlib.suppress(OSError):
            journal.append(RESULT_KINDS[(kind, False)], {
                **base, "exit_code": -1, "signal": "", "duration": 0.0, "timed_out": False,
                "detail": f"not run: cannot prepare {e.filename or 'output'}: {e.strerror or e}"})
        return 4
    started = {
        **base, "argv": list(job.argv), "cwd": cwd, "env": sorted(env),
        "timeout": job.timeout, "supervisor_pid": os.getpid(),
        "host": socket.gethostname(), "dry_run": False, "subreaper": subreaper,
        "output": job.output, "remote": job.remote,
    }
    try:
        if kind == "step":
            journal.append("step.started", {**started, "detail": f"started attempt "
                                            f"{base['attempt']}: {shorten(shlex.join(job.argv))}"})
        elif kind == "rollback":
            journal.append("step.rollback_started", {
                **started, "rollback_attempt": job.kind_attempt,
                "detail": f"rollback started: {shorten(shlex.join(job.argv))}"})
    except OSError as e:  # JournalWriteError: nothing is recorded, so nothing runs
        print(f"supervisor: cannot journal the start, not running: {e}", file=sys.stderr)
        return 4
    capture = 1 << 20 if kind == "verify" else 0
    try:
        res = run_command(job.argv, env=env, out_fd=out_fd, timeout=job.timeout,
                          cwd=cwd, secrets=secrets, grace=job.grace,
                          capture=capture, marker=job.marker, subreaper=subreaper,
                          cancel=lambda: _stop)
        with contextlib.suppress(OSError):
            os.fsync(out_fd)
    finally:
        os.close(out_fd)
    ok = res.ok
    detail = _outcome(res)
    if kind == "verify":
        v = Verify(expect_exit=job.expect_exit,
                   expect_output=job.expect_output or None)
        ok, detail = verify_detail(v, res)
    if _stop and not res.timed_out:
        detail += " (the supervisor was asked to stop)"
    rc = 0
    try:
        journal.append("step.output", {
            **base, "run_kind": kind, "path": job.output, "bytes": res.bytes,
            "sha256": res.sha256, "redactions": res.redactions,
            "detail": f"output saved: {res.bytes} bytes"
                      + (f", {res.redactions} secret(s) masked" if res.redactions else "")
                      + (f"; {res.error}" if res.error and res.exit_code not in (126, 127) else ""),
        })
        what = {"step": "", "rollback": "rollback ", "verify": "verify "}[kind]
        word = {"step": ("succeeded", "failed"), "rollback": ("done", "failed"),
                "verify": ("passed", "failed")}[kind][0 if ok else 1]
        journal.append(RESULT_KINDS[(kind, ok)], {
            **base, "exit_code": res.exit_code, "signal": res.signal,
            "duration": round(res.duration, 3), "timed_out": res.timed_out,
            "escaped_killed": res.escaped_killed, "bytes": res.bytes, "sha256": res.sha256,
            "passed": ok, "supervisor_maxrss_kib": _maxrss_kib(),
            "detail": f"{what}{word}: {detail}",
        })
    except OSError as e:
        print(f"supervisor: cannot journal the result: {e}", file=sys.stderr)
        rc = 4
    journal.close()
    os.close(lock_fd)  # the result is durable: only now may readers see us gone
    return rc


def _maxrss_kib() -> int:
    """Peak RSS of this process image (VmHWM: ru_maxrss would carry the parent's peak
    across fork + exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_term)
    if len(args) != 1:
        print("usage: python -m cockpit.runbooks.supervisor JOB.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as f:
            job = Job.from_dict(json.load(f))
    except (OSError, ValueError) as e:
        print(f"supervisor: bad job {args[0]}: {e}", file=sys.stderr)
        return 2
    print(f"supervisor {os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')} run {job.run}",
          file=sys.stderr, flush=True)
    return supervise(job)


if __name__ == "__main__":
    sys.exit(main())
