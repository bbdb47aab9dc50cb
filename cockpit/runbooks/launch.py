"""Starting runs: a step, its rollback or its verify, under a detached supervisor (or in
this process for a verify), and dry runs that show exactly what would run.

Every run is claimed first (``claims``), so two engineers pressing ``x`` at the same moment
get one run and one "claimed by". The job handed to the supervisor is a typed ``Job``
(``runs/<run>.job.json``, no secret values; secrets travel in supervisor-only environment
variables and are masked in the saved output).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as _secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..journal import Journal, incident_dir
from ..journal.perms import file_mode
from ..text import shorten
from . import policy
from . import state as _steps
from .claims import (
    Claim,
    ClaimedBy,
    claim,
    claim_path,
    claimed_by,
    ensure_sub,
    load_states,
    output_rel,
    run_id,
    supervisor_alive,
    work_dir,
    writer,
)
from .errors import StepError
from .job import Job
from .model import RenderedCommand, Rollback, Runbook, Step, Verify
from .policy import RUN_ID_VAR, SECRET_VAR, SECURE_PATH
from .process import (
    GRACE,
    TAIL_BYTES,
    check_argv,
    command_env,
    tail_bytes,
)
from .state import StepState

VERIFY_CAPTURE = 1 << 20  # bytes of a verify's output searched by expect_output


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


def run_marker(incident_id: str, run: str) -> str:
    """The unique ``COCKPIT_RUN_ID`` value of one run (finds its processes anywhere)."""
    return f"{incident_id}/{run}/{_secrets.token_hex(4)}"


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


def _spawn(job: Job, claim_obj: Claim, env: Mapping[str, str],
           secret_values: Sequence[str], runs: Path, mode: str) -> subprocess.Popen[bytes]:
    sup_env = dict(env)
    for i, s in enumerate(secret_values):
        sup_env[f"{SECRET_VAR}{i}"] = s
    job = replace(job, lock_fd=claim_obj.fd)
    job_path = runs / f"{job.run}.job.json"
    fd = os.open(job_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 file_mode(mode))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(job.to_dict(), f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    log_fd = os.open(runs / f"{job.run}.log",
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                     file_mode(mode))
    # The directory holding the ``cockpit`` package: ``-m`` finds it there from a checkout
    # as well as installed.
    pkg_root = str(Path(__file__).resolve().parents[2])
    try:
        # nohup (when present) ignores SIGHUP from the exec on, closing the short window
        # before the supervisor installs its own handler; it execs, so the pid is ours.
        nohup = shutil.which("nohup", path=SECURE_PATH)
        proc = subprocess.Popen(
            [*([nohup] if nohup else []), sys.executable, "-E", "-s", "-m",
             "cockpit.runbooks.supervisor", str(job_path)],
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


@dataclass(frozen=True)
class _Prepared:
    """One run made ready: what runs, where, with which environment (nothing claimed yet)."""

    state_dir: Path
    incident_id: str
    runbook: Runbook
    step: Step
    kind: str
    n: int | str
    target: Step | Rollback | Verify
    rendered: RenderedCommand
    run: str
    cwd: str
    env: dict[str, str]
    secrets: tuple[str, ...] = ()  # masked in the output: secret params and ``mask``


def _prepare(state_dir: Path, incident_id: str, runbook: Runbook, step: Step, kind: str,
             n: int | str, params: Mapping[str, Any],
             extra_env: Mapping[str, str] | None, mask: Sequence[str] = ()) -> _Prepared:
    """The one preparation of every run kind (step, rollback, verify, dry run): render the
    command, check it, name the run, pick its directory and build its environment.

    ``mask``: every other secret the cockpit holds (``cockpit.secrets.held_secrets``): the
    output is masked with them too, and a command line that would carry one is refused
    (argv, the working directory and the ssh host are journaled and readable in /proc)."""
    target = _target(step, kind)
    spec = target.command if not isinstance(target, Step) else step.command
    if spec is not None:  # the policy the loader applied, applied again to what runs
        text = policy.command_text(spec.argv, spec.shell)
        problem = (policy.unstated_destructive(text, step.destructive_stated) if kind == "step"
                   else policy.VERIFY_MUST_OBSERVE if kind == "verify"
                   and policy.destructive_hint(text) else None)
        if problem:
            raise StepError(f"{runbook.id}/{step.id}: {problem}")
    rendered = runbook.render(target, params)
    check_argv(rendered.argv)
    shown = "\0".join([*rendered.argv, rendered.cwd or "", rendered.remote or ""])
    if any(s and s in shown for s in mask):
        raise StepError(f"{runbook.id}/{step.id}: its command line would carry a secret of "
                        "cockpit.toml (a password or token the probes use): refused. Pass it "
                        "in env through a secret parameter.")
    run = run_id(runbook.id, step.id, kind, n)
    cwd = rendered.cwd or str(work_dir(state_dir, incident_id, run))
    env = command_env(rendered, run_marker(incident_id, run), extra_env)
    secrets = tuple(dict.fromkeys([*rendered.secrets, *(s for s in mask if s)]))
    return _Prepared(state_dir, incident_id, runbook, step, kind, n, target, rendered, run,
                     cwd, env, secrets)


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
    mask: Sequence[str] = (),
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
    nxt = st.attempt + 1
    prep = _prepare(state_dir, incident_id, runbook, step_obj, "step", nxt, params, extra_env,
                    mask)
    if dry_run:  # shows what would run; allowed in any state, runs nothing
        return _dry_run(prep, st, journal=journal, mode=mode, author=author)
    ok, why = _steps.can_start(st, step_obj)
    if attempt is not None and attempt <= st.attempt:
        path = claim_path(state_dir, incident_id, run_id(runbook.id, step_obj.id, "step", attempt))
        if path.exists():
            return claimed_by(path, st.state)
        raise StepError(f"{runbook.id}/{step_obj.id}: attempt {attempt} is past; the step is "
                        f"now {st.state.replace('_', ' ')} (attempt {st.attempt})")
    if attempt is not None and attempt > nxt:
        raise StepError(f"{runbook.id}/{step_obj.id}: attempt {attempt} is not the next one "
                        f"({nxt})")
    if not ok:
        if st.state == _steps.RUNNING and st.run:
            path = claim_path(state_dir, incident_id, st.run)
            if path.exists():
                return claimed_by(path, st.state)
        raise StepError(f"{runbook.id}/{step_obj.id}: cannot start: {why}")
    confirmed = _check_confirmation(runbook, step_obj, params, confirmation,
                                    f"{runbook.id}/{step_obj.id}")
    extra = {"confirmation": confirmed} if confirmed else None
    c = claim(state_dir, incident_id, runbook.id, step_obj.id, nxt, author, mode,
              kind="step", journal=journal, extra=extra)
    if isinstance(c, ClaimedBy):
        return c
    return _launch(prep, c, author=author, mode=mode, journal=journal, step_attempt=nxt)


def _dry_run(prep: _Prepared, st: StepState, *, journal: Journal | None, mode: str,
             author: str) -> DryRun:
    names = tuple(sorted(prep.env))
    r = prep.rendered
    what = "dry run" if prep.kind == "step" else "dry run of the rollback"
    with writer(journal, prep.state_dir, prep.incident_id, mode, author) as j:
        e = j.append("step.dry_run", {
            "runbook": prep.runbook.id, "step": prep.step.id, "attempt": st.attempt,
            "run_kind": prep.kind, "argv": list(r.argv), "cwd": prep.cwd, "env": list(names),
            "timeout": float(r.timeout), "remote": r.remote or "",
            "detail": f"{what}: {shorten(r.display())} (nothing ran)",
        })
    return DryRun(prep.runbook.id, prep.step.id, prep.kind, int(prep.n), tuple(r.argv),
                  prep.cwd, names, float(r.timeout), r.remote, r.script, e)


def _launch(prep: _Prepared, c: Claim, *, author: str, mode: str, journal: Journal | None,
            step_attempt: int) -> StartedRun:
    state_dir, incident_id = prep.state_dir, prep.incident_id
    runs = ensure_sub(state_dir, incident_id, "runs", mode)
    ensure_sub(state_dir, incident_id, "outputs", mode)
    verify = prep.target if isinstance(prep.target, Verify) else None
    job = Job(
        state_dir=str(Path(state_dir).resolve()), incident=incident_id, mode=mode,
        author=author, run=c.run, kind=prep.kind, runbook=prep.runbook.id, step=prep.step.id,
        attempt=step_attempt, kind_attempt=prep.n if isinstance(prep.n, int) else 0,
        argv=tuple(prep.rendered.argv), cwd=prep.cwd, default_cwd=not prep.rendered.cwd,
        timeout=float(prep.rendered.timeout), env_names=tuple(sorted(prep.env)),
        n_secrets=len(prep.secrets), output=output_rel(c.run), claim=str(c.path),
        grace=GRACE, remote=prep.rendered.remote or "", marker=prep.env.get(RUN_ID_VAR, ""),
        expect_exit=verify.expect_exit if verify else 0,
        expect_output=(verify.expect_output or "") if verify else "",
    )
    try:
        proc = _spawn(job, c, prep.env, prep.secrets, runs, mode)
    except OSError as e:
        # Nothing ran: say so definitively (not "in doubt") and free the claim.
        with contextlib.suppress(OSError), \
                writer(journal, state_dir, incident_id, mode, author) as j:
            j.append(_steps.RESULT_KINDS[(prep.kind, False)], {
                "runbook": prep.runbook.id, "step": prep.step.id, "attempt": step_attempt,
                "run": c.run, "exit_code": -1, "signal": "", "duration": 0.0,
                "timed_out": False,
                "detail": f"could not start the supervisor: {e.strerror or e}",
            })
        c.release()
        raise
    c.release()  # the supervisor holds the lock now (same open file description)
    inc = incident_dir(Path(state_dir), incident_id)
    return StartedRun(Path(state_dir), incident_id, c.run, prep.runbook.id, prep.step.id,
                      prep.kind, step_attempt, inc / output_rel(c.run), proc.pid, c.path,
                      tuple(prep.rendered.argv), prep.env.get(RUN_ID_VAR, ""), proc)


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
    mask: Sequence[str] = (),
) -> StartedRun | ClaimedBy | DryRun:
    """Run a step's rollback under a supervisor (claimed like a step run)."""
    state_dir = Path(state_dir)
    step_obj, st = _step_and_state(state_dir, incident_id, runbook, step)
    n = st.rollback_attempt + 1
    prep = _prepare(state_dir, incident_id, runbook, step_obj, "rollback", n, params,
                    extra_env, mask)
    if dry_run:
        return _dry_run(prep, st, journal=journal, mode=mode, author=author)
    ok, why = _steps.can_rollback(st, step_obj)
    if not ok:
        if st.rollback == "running" and st.rollback_run:
            path = claim_path(state_dir, incident_id, st.rollback_run)
            if path.exists():
                return claimed_by(path, "rolling back")
        raise StepError(f"{runbook.id}/{step_obj.id}: cannot roll back: {why}")
    assert isinstance(prep.target, Rollback)
    _check_confirmation(runbook, prep.target, params, confirmation,
                        f"the rollback of {runbook.id}/{step_obj.id}")
    c = claim(state_dir, incident_id, runbook.id, step_obj.id, n, author, mode,
              kind="rollback", journal=journal)
    if isinstance(c, ClaimedBy):
        return c
    return _launch(prep, c, author=author, mode=mode, journal=journal, step_attempt=st.attempt)


# ------------------------------------------------------------------ verify

def _verify_prep(state_dir: Path, incident_id: str, runbook: Runbook, step: Step | str,
                 params: Mapping[str, Any], extra_env: Mapping[str, str] | None,
                 mask: Sequence[str] = ()) -> tuple[_Prepared, StepState]:
    step_obj, st = _step_and_state(Path(state_dir), incident_id, runbook, step)
    if step_obj.verify is not None and step_obj.verify.command is not None \
            and st.state == _steps.RUNNING:
        raise StepError(f"{runbook.id}/{step_obj.id}: the command is still running")
    n = f"{st.attempt}-{_secrets.token_hex(3)}"  # every verify is a new run
    return _prepare(Path(state_dir), incident_id, runbook, step_obj, "verify", n, params,
                    extra_env, mask), st


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
    mask: Sequence[str] = (),
) -> StartedRun:
    """Run a step's verify command under a detached supervisor (for long verifies); the
    supervisor journals ``step.verify_passed`` / ``step.verify_failed``."""
    prep, st = _verify_prep(state_dir, incident_id, runbook, step, params, extra_env, mask)
    c = claim(Path(state_dir), incident_id, runbook.id, prep.step.id, prep.n, author, mode,
              kind="verify")
    assert isinstance(c, Claim)  # the name is unique
    return _launch(prep, c, author=author, mode=mode, journal=journal, step_attempt=st.attempt)


__all__ = [
    "DryRun", "StartedRun", "confirmation_for", "start", "start_rollback", "start_verify",
]
