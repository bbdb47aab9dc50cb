"""The runbook step state machine, derived from journal entries (a pure fold; no I/O).

States (``StepState.state``)::

    pending --start--> running --result--> succeeded | failed
    succeeded | failed --operator--> confirmed | skipped (reason) | rolled_back
    failed --step.retry (reason)--> pending            (never started again without a reason)
    succeeded | confirmed --start (attempt + 1)--> running   (``repeatable`` steps only)
    pending --operator--> skipped (reason)
    running, result never arrives, supervisor gone --> in_doubt
    in_doubt --step.retry (reason)--> pending (the next start is attempt + 1)

``in_doubt`` is never left by itself: only an explicit operator entry (``step.retry``,
``step.skipped``, ``step.failed_marked``, ``step.confirmed`` after an override) or the late
arrival of the run's own result moves it. ``verify`` (None / True / False) and
``overridden`` (the typed reason) are facts on the state, reset by a new attempt.

Entry kinds (``data`` always carries ``runbook``, ``step``, ``attempt``; ``detail`` is a
one-line human text that ``cockpit.incident.describe`` shows as ``{runbook}/{step} {detail}``):

===================== ==========================================================
step.claimed          run, host, pid (the claiming cockpit)
step.started          run, argv, cwd, env (NAMES only), timeout, supervisor_pid, dry_run
step.output           run, run_kind, path, bytes, sha256, redactions
step.succeeded        run, exit_code, signal, duration, timed_out
step.failed           same as succeeded
step.confirmed        operator: done
step.failed_marked    operator: reason
step.skipped          operator: reason
step.rollback_started run, argv, cwd, env, timeout, supervisor_pid
step.rolled_back      run, exit_code, signal, duration, timed_out
step.rollback_failed  same
step.verify_passed    detail (exit code / probe status)
step.verify_failed    detail
step.overridden       reason (lets a step be confirmed without a passing verify)
step.retry            reason (allows attempt + 1 after in_doubt / failed / rolled_back)
step.dry_run          argv, cwd, env (names), timeout (changes no state)
===================== ==========================================================

The operator helpers (``confirm``, ``mark_failed``, ``skip``, ``override``, ``retry``,
``record_verify``) check the transition against the current state and raise ``StepError``
(a ``ValueError``) with a one-line reason before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from ..incident.model import EntryLike
from ..text import shorten
from .errors import StepError


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CONFIRMED = "confirmed"
    SKIPPED = "skipped"
    ROLLED_BACK = "rolled_back"
    IN_DOUBT = "in_doubt"


PENDING = StepStatus.PENDING
RUNNING = StepStatus.RUNNING
SUCCEEDED = StepStatus.SUCCEEDED
FAILED = StepStatus.FAILED
CONFIRMED = StepStatus.CONFIRMED
SKIPPED = StepStatus.SKIPPED
ROLLED_BACK = StepStatus.ROLLED_BACK
IN_DOUBT = StepStatus.IN_DOUBT
STATES = (PENDING, RUNNING, SUCCEEDED, FAILED, CONFIRMED, SKIPPED, ROLLED_BACK, IN_DOUBT)

# Word and symbol for the step list (plain text; no colour needed to read it).
SYMBOLS = {
    PENDING: "·", RUNNING: "▶", SUCCEEDED: "✓", FAILED: "✗", CONFIRMED: "✔",
    SKIPPED: "↷", ROLLED_BACK: "↶", IN_DOUBT: "?",
}

KINDS = (
    "step.claimed", "step.started", "step.output", "step.succeeded", "step.failed",
    "step.confirmed", "step.failed_marked", "step.skipped", "step.rollback_started",
    "step.rolled_back", "step.rollback_failed", "step.verify_passed", "step.verify_failed",
    "step.overridden", "step.retry", "step.dry_run",
)

MAX_REASON = 2000

# The entry that records how a run of each kind ended: (run kind, ok) -> entry kind.
RESULT_KINDS = {
    ("step", True): "step.succeeded", ("step", False): "step.failed",
    ("rollback", True): "step.rolled_back", ("rollback", False): "step.rollback_failed",
    ("verify", True): "step.verify_passed", ("verify", False): "step.verify_failed",
}


@dataclass(frozen=True, slots=True)
class Output:
    path: str  # relative to the incident directory, e.g. "outputs/<run>.out"
    bytes: int
    sha256: str
    redactions: int = 0


@dataclass(frozen=True, slots=True)
class StepState:
    runbook: str
    step: str
    state: str = PENDING
    attempt: int = 0  # the attempt the state is about (0: never started)
    last_entry_ts: float | None = None
    run: str = ""  # run id of the current attempt (claim name)
    who: str = ""  # author of the start (or of the claim)
    host: str = ""
    supervisor_pid: int = 0
    started_ts: float | None = None
    finished_ts: float | None = None
    exit_code: int | None = None
    signal: str = ""
    timed_out: bool = False
    duration: float | None = None
    output: Output | None = None
    verify: bool | None = None
    verify_detail: str = ""
    verify_output: Output | None = None  # of the last verify command of this attempt
    overridden: str | None = None  # the typed override reason
    reason: str = ""  # of skip / mark failed / retry
    by: str = ""  # author of the last operator transition
    retry_reason: str = ""
    rollback: str = ""  # "" | running | rolled_back | failed | in_doubt
    rollback_run: str = ""
    rollback_attempt: int = 0
    rollback_pid: int = 0
    rollback_output: Output | None = None
    dry_runs: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.runbook, self.step)

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(StepStatus(self.state), "?") if self.state in STATES else "?"

    @property
    def label(self) -> str:
        """Word and symbol, e.g. ``"✓ succeeded"`` / ``"? in doubt"``."""
        return f"{self.symbol} {self.state.replace('_', ' ')}"

    @property
    def finished(self) -> bool:
        return self.state in (CONFIRMED, SKIPPED, ROLLED_BACK)

    @property
    def next_attempt(self) -> int | None:
        """The attempt a new start would run, or None when starting is not allowed now."""
        if self.state == PENDING:
            return self.attempt + 1
        return None


def _int(v: Any, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _output(d: Mapping[str, Any]) -> Output:
    return Output(str(d.get("path", "")), _int(d.get("bytes")), str(d.get("sha256", "")),
                  _int(d.get("redactions")))


def _result(st: StepState, e: EntryLike, d: Mapping[str, Any], state: str) -> StepState:
    code = d.get("exit_code")
    return replace(
        st, state=state, finished_ts=e.ts,
        exit_code=_int(code) if code is not None else None,
        signal=str(d.get("signal") or ""), timed_out=bool(d.get("timed_out", False)),
        duration=float(d["duration"]) if isinstance(d.get("duration"), int | float) else None,
    )


def _fold_one(st: StepState, e: EntryLike) -> StepState:
    d = e.data or {}
    k = e.kind
    a = _int(d.get("attempt"))
    st = replace(st, last_entry_ts=e.ts)
    if k in ("step.claimed", "step.started"):
        if a < st.attempt:
            return st  # a stale copy of an older attempt
        if a > st.attempt:  # a new attempt: facts of the old one are cleared
            st = replace(st, attempt=a, exit_code=None, signal="", timed_out=False,
                         duration=None, output=None, verify=None, verify_detail="",
                         verify_output=None,
                         overridden=None, reason="", finished_ts=None, started_ts=None,
                         supervisor_pid=0, rollback="", rollback_run="", rollback_pid=0,
                         rollback_output=None)
        elif st.state not in (PENDING, RUNNING, IN_DOUBT):
            return st  # the attempt already has a result
        st = replace(st, state=RUNNING, run=str(d.get("run", st.run)), who=e.author,
                     host=str(d.get("host", st.host)))
        if k == "step.started":
            st = replace(st, started_ts=e.ts, supervisor_pid=_int(d.get("supervisor_pid")))
        return st
    if a != st.attempt and k not in ("step.dry_run",):
        return st  # about another attempt (stale): ignored
    if k == "step.output":
        if d.get("run_kind", "step") == "rollback":
            return replace(st, rollback_output=_output(d))
        if d.get("run_kind", "step") == "step":
            return replace(st, output=_output(d))
        if d.get("run_kind") == "verify":
            return replace(st, verify_output=_output(d))
        return st
    if k == "step.succeeded" and st.state in (RUNNING, IN_DOUBT):
        return _result(st, e, d, SUCCEEDED)
    if k == "step.failed" and st.state in (RUNNING, IN_DOUBT):
        return _result(st, e, d, FAILED)
    if k == "step.confirmed":
        return replace(st, state=CONFIRMED, by=e.author)
    if k == "step.failed_marked":
        return replace(st, state=FAILED, reason=str(d.get("reason", "")), by=e.author)
    if k == "step.skipped":
        return replace(st, state=SKIPPED, reason=str(d.get("reason", "")), by=e.author)
    if k == "step.retry":
        return replace(st, state=PENDING, retry_reason=str(d.get("reason", "")), by=e.author,
                       rollback="", rollback_run="", rollback_pid=0)
    if k == "step.overridden":
        return replace(st, overridden=str(d.get("reason", "")), by=e.author)
    if k == "step.verify_passed":
        return replace(st, verify=True, verify_detail=str(d.get("detail", "")))
    if k == "step.verify_failed":
        return replace(st, verify=False, verify_detail=str(d.get("detail", "")))
    if k == "step.rollback_started":
        return replace(st, rollback="running", rollback_run=str(d.get("run", "")),
                       rollback_attempt=max(st.rollback_attempt, _int(d.get("rollback_attempt"))),
                       rollback_pid=_int(d.get("supervisor_pid")), rollback_output=None)
    if k == "step.rolled_back":
        return replace(st, state=ROLLED_BACK, rollback="rolled_back", by=e.author)
    if k == "step.rollback_failed":
        return replace(st, rollback="failed")
    if k == "step.dry_run":
        return replace(st, dry_runs=st.dry_runs + 1)
    return st


def step_states(
    entries: Iterable[EntryLike],
    runbook_id: str | None = None,
    alive: Callable[[str, int], bool] | None = None,
) -> dict[tuple[str, str], StepState]:
    """The state of every step that has ``step.*`` entries, keyed by ``(runbook, step)``.

    ``entries`` in journal order (``read_incident(...).entries``). ``alive(run_id, pid)``
    tells whether the supervisor of a run is still there (``executor.supervisor_alive``);
    a running step whose supervisor is gone is ``in_doubt``. Without ``alive`` a step
    without a result is reported ``running``. Steps with no entry are pending: use
    ``state_of``.
    """
    out: dict[tuple[str, str], StepState] = {}
    for e in entries:
        k = e.kind
        if not k.startswith("step."):
            continue
        d = e.data or {}
        rb, sid = d.get("runbook"), d.get("step")
        if not isinstance(rb, str) or not isinstance(sid, str):
            continue
        if runbook_id is not None and rb != runbook_id:
            continue
        key = (rb, sid)
        st = out.get(key)
        if st is None:
            st = StepState(rb, sid)
        out[key] = _fold_one(st, e)
    if alive is not None:
        for key, st in out.items():
            if st.state == RUNNING and st.run and not alive(st.run, st.supervisor_pid):
                out[key] = replace(st, state=IN_DOUBT)
            st = out[key]
            if st.rollback == "running" and st.rollback_run and not alive(
                    st.rollback_run, st.rollback_pid):
                out[key] = replace(st, rollback=IN_DOUBT)
    return out


def state_of(states: Mapping[tuple[str, str], StepState], runbook_id: str,
             step_id: str) -> StepState:
    """The state of one step (pending when it has no entry)."""
    return states.get((runbook_id, step_id)) or StepState(runbook_id, step_id)


# ------------------------------------------------------------------ transition checks

def _has_verify(step: Any) -> bool:
    return getattr(step, "verify", None) is not None


def _is_manual(step: Any) -> bool:
    return bool(getattr(step, "is_manual", False))


def can_confirm(state: StepState, step: Any) -> tuple[bool, str]:
    """Whether the step may be confirmed done now, and if not, why (one line).

    A succeeded step (or a manual step that is pending) may be confirmed; a step with a
    ``verify`` only once the verify passed, unless overridden with a typed reason. A failed
    or in-doubt step may only be confirmed after an override (the engineer checked by hand).
    """
    s = state.state
    if s == CONFIRMED:
        return False, "already confirmed"
    if s in (SKIPPED, ROLLED_BACK):
        return False, f"the step was {s.replace('_', ' ')}"
    if s == RUNNING:
        return False, "the command is still running"
    if s == PENDING and not _is_manual(step):
        return False, "the command has not run yet (execute it, or skip with a reason)"
    if s in (FAILED, IN_DOUBT) and state.overridden is None:
        word = "failed" if s == FAILED else "is in doubt (its result never arrived)"
        return False, (f"the step {word}: retry, skip or mark failed, or override with a "
                       "reason to confirm anyway")
    if _has_verify(step) and state.verify is not True and state.overridden is None:
        why = "failed" if state.verify is False else "has not passed yet"
        return False, f"verify {why}: run the verify, or override with a typed reason"
    return True, ""


def can_start(state: StepState, step: Any = None) -> tuple[bool, str]:
    """Whether a new attempt may start now, and if not, why (one line).

    Pending: yes. Succeeded or confirmed: only a ``repeatable`` step (a progress check).
    Failed, in doubt, rolled back: only after ``retry`` with a reason (which makes it
    pending): running it again is a decision worth a line in the journal."""
    s = state.state
    if s == PENDING:
        return True, ""
    if s in (SUCCEEDED, CONFIRMED) and bool(getattr(step, "repeatable", False)):
        return True, ""
    if s == RUNNING:
        return False, f"already running (attempt {state.attempt}, started by {state.who})"
    if s == FAILED:
        return False, (f"attempt {state.attempt} failed: retry it with a reason (t) to run it "
                       "again")
    if s == IN_DOUBT:
        return False, ("in doubt: its result never arrived; check by hand, then retry with a "
                       "reason, mark failed or skip")
    if s == ROLLED_BACK:
        return False, "rolled back: retry with a reason to run it again"
    if s == SUCCEEDED:
        return False, (f"already succeeded (attempt {state.attempt}) and not repeatable: "
                       "confirm it (c) or roll it back")
    if s == CONFIRMED:
        return False, "already done (confirmed)"
    return False, f"the step was {s.replace('_', ' ')}"


def can_rollback(state: StepState, step: Any) -> tuple[bool, str]:
    if getattr(step, "rollback", None) is None:
        return False, "this step has no rollback"
    if state.rollback == "running":
        return False, "the rollback is already running"
    if state.rollback == IN_DOUBT:
        return False, ("the last rollback is in doubt (its result never arrived): check by "
                       "hand, then retry the step with a reason, mark it failed or skip it")
    if state.state in (SUCCEEDED, FAILED, CONFIRMED, IN_DOUBT):
        return True, ""
    return False, f"nothing to roll back: the step is {state.state.replace('_', ' ')}"


def _reason(reason: str | None, what: str) -> str:
    r = (reason or "").strip()
    if not r:
        raise StepError(f"{what} needs a reason (type why)")
    if len(r) > MAX_REASON:
        raise StepError(f"the reason is too long ({len(r)} characters, at most {MAX_REASON})")
    return r


def _data(state: StepState, detail: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"runbook": state.runbook, "step": state.step,
                         "attempt": state.attempt}
    d.update({k: v for k, v in extra.items() if v is not None})
    d["detail"] = detail
    return d


def confirm(journal: Any, state: StepState, step: Any) -> Any:
    ok, why = can_confirm(state, step)
    if not ok:
        raise StepError(f"{state.runbook}/{state.step}: cannot confirm: {why}")
    return journal.append("step.confirmed", _data(state, "confirmed done"))


def mark_failed(journal: Any, state: StepState, reason: str) -> Any:
    r = _reason(reason, "marking a step failed")
    if state.state not in (PENDING, SUCCEEDED, IN_DOUBT, FAILED, CONFIRMED):
        raise StepError(f"{state.runbook}/{state.step}: cannot mark failed: the step is "
                        f"{state.state.replace('_', ' ')}")
    return journal.append("step.failed_marked",
                          _data(state, f"marked failed: {shorten(r)}", reason=r))


def skip(journal: Any, state: StepState, reason: str) -> Any:
    r = _reason(reason, "skipping a step")
    if state.state not in (PENDING, SUCCEEDED, FAILED, IN_DOUBT, ROLLED_BACK):
        raise StepError(f"{state.runbook}/{state.step}: cannot skip: the step is "
                        f"{state.state.replace('_', ' ')}")
    return journal.append("step.skipped", _data(state, f"skipped: {shorten(r)}", reason=r))


def override(journal: Any, state: StepState, reason: str) -> Any:
    r = _reason(reason, "an override")
    if state.state in (CONFIRMED, SKIPPED, ROLLED_BACK, RUNNING):
        raise StepError(f"{state.runbook}/{state.step}: nothing to override: the step is "
                        f"{state.state.replace('_', ' ')}")
    return journal.append("step.overridden",
                          _data(state, f"overridden: {shorten(r)}", reason=r))


def retry(journal: Any, state: StepState, reason: str) -> Any:
    r = _reason(reason, "a retry")
    if state.rollback == "running":
        raise StepError(f"{state.runbook}/{state.step}: cannot retry while its rollback runs")
    if state.state not in (IN_DOUBT, FAILED, ROLLED_BACK):
        word = {PENDING: "has not run yet", RUNNING: "is running", SUCCEEDED: "succeeded",
                CONFIRMED: "is done (confirmed)", SKIPPED: "was skipped"}.get(
                    StepStatus(state.state), state.state)
        raise StepError(f"{state.runbook}/{state.step}: cannot retry: the step {word}")
    return journal.append("step.retry", _data(
        state, f"retry allowed after attempt {state.attempt}: {shorten(r)}", reason=r))


def record_verify(journal: Any, state: StepState, passed: bool, detail: str) -> Any:
    """Journal a verify outcome (a probe verify from the health layer, or a command's)."""
    if state.state == RUNNING:
        raise StepError(f"{state.runbook}/{state.step}: the command is still running; verify "
                        "once it has finished")
    kind = "step.verify_passed" if passed else "step.verify_failed"
    word = "verify passed" if passed else "verify failed"
    return journal.append(kind, _data(state, f"{word}: {shorten(detail)}",
                                      passed=bool(passed)))


__all__ = [
    "CONFIRMED", "FAILED", "IN_DOUBT", "KINDS", "PENDING", "ROLLED_BACK", "RUNNING",
    "SKIPPED", "STATES", "SUCCEEDED", "SYMBOLS", "Output", "StepError", "StepState",
    "RESULT_KINDS", "StepStatus", "can_confirm", "can_rollback", "can_start", "confirm", "mark_failed", "override",
    "record_verify", "retry", "skip", "state_of", "step_states",
]
