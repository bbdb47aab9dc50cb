"""The step state machine: table-driven transitions, in doubt, verify gate, operator helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from cockpit.incident.fold import fold
from cockpit.incident.log import describe
from cockpit.incident.model import SimEntry
from cockpit.runbooks import state as steps
from cockpit.runbooks.state import StepError, StepState, can_confirm, state_of, step_states

RB, ST = "db", "restore"


def E(kind: str, attempt: int = 1, who: str = "alice", **data: Any) -> tuple[str, str, dict]:
    d = {"runbook": RB, "step": ST, "attempt": attempt, **data}
    if kind in ("step.claimed", "step.started"):
        d.setdefault("run", f"{RB}.{ST}.step.{attempt}")
    return (kind, who, d)


def entries(rows: list[tuple[str, str, dict]]) -> list[SimEntry]:
    return [SimEntry(ts=1000.0 + i, author=who, kind=k, data=d) for i, (k, who, d) in
            enumerate(rows)]


OK = E("step.succeeded", exit_code=0, duration=1.5, timed_out=False)
BAD = E("step.failed", exit_code=3, duration=1.0, timed_out=False)
STARTED = [E("step.claimed"), E("step.started", supervisor_pid=4242)]


def dead(run: str, pid: int) -> bool:
    return False


def live(run: str, pid: int) -> bool:
    return True


@dataclass
class Case:
    name: str
    rows: list
    state: str
    attempt: int = 1
    alive: Any = None
    check: dict = field(default_factory=dict)


CASES = [
    Case("nothing", [], "pending", 0),
    Case("claimed, supervisor alive", [E("step.claimed")], "running", alive=live),
    Case("claimed, claimer died before the supervisor started", [E("step.claimed")],
         "in_doubt", alive=dead),
    Case("started, liveness unknown", STARTED, "running"),
    Case("started, supervisor alive", STARTED, "running", alive=live,
         check={"who": "alice", "supervisor_pid": 4242}),
    Case("started, supervisor gone, no result", STARTED, "in_doubt", alive=dead),
    Case("in doubt, then the late result arrives", [*STARTED, OK], "succeeded", alive=dead),
    Case("succeeded", [*STARTED, E("step.output", path="outputs/x.out", bytes=5,
                                   sha256="ab" * 32), OK], "succeeded", alive=dead,
         check={"exit_code": 0, "duration": 1.5}),
    Case("failed with exit code", [*STARTED, BAD], "failed", check={"exit_code": 3}),
    Case("timed out", [*STARTED, E("step.failed", exit_code=-1, signal="SIGKILL",
                                   timed_out=True)], "failed",
         check={"timed_out": True, "signal": "SIGKILL", "exit_code": -1}),
    Case("confirmed", [*STARTED, OK, E("step.confirmed", who="bob")], "confirmed",
         check={"by": "bob"}),
    Case("skip with reason from pending", [E("step.skipped", 0, reason="not needed")],
         "skipped", 0, check={"reason": "not needed"}),
    Case("skip after failure", [*STARTED, BAD, E("step.skipped", reason="done by hand")],
         "skipped", check={"reason": "done by hand"}),
    Case("operator marks failed", [*STARTED, OK, E("step.failed_marked", reason="wrong db")],
         "failed", check={"reason": "wrong db"}),
    Case("retry after failure runs attempt 2",
         [*STARTED, BAD, E("step.claimed", 2), E("step.started", 2)], "running", 2,
         check={"exit_code": None}),
    Case("attempt 2 succeeds", [*STARTED, BAD, E("step.claimed", 2), E("step.started", 2),
                                E("step.succeeded", 2, exit_code=0)], "succeeded", 2,
         alive=dead),
    Case("stale result of attempt 1 after attempt 2 started is ignored",
         [*STARTED, BAD, E("step.claimed", 2), E("step.started", 2), OK], "running", 2,
         alive=live),
    Case("in doubt stays in doubt (nothing re-runs it)", [*STARTED, E("step.dry_run")],
         "in_doubt", alive=dead),
    Case("explicit retry of an in-doubt step", [*STARTED, E("step.retry", reason="checked")],
         "pending", 1, alive=dead, check={"retry_reason": "checked", "next_attempt": 2}),
    Case("verify passed", [*STARTED, OK, E("step.verify_passed", detail="ok")], "succeeded",
         check={"verify": True}),
    Case("verify failed", [*STARTED, OK, E("step.verify_failed", detail="no")], "succeeded",
         check={"verify": False}),
    Case("verify reset by a new attempt",
         [*STARTED, OK, E("step.verify_failed"), E("step.failed_marked", reason="x"),
          E("step.claimed", 2)], "running", 2, check={"verify": None}),
    Case("override", [*STARTED, OK, E("step.overridden", reason="checked by hand")],
         "succeeded", check={"overridden": "checked by hand"}),
    Case("rollback running", [*STARTED, OK, E("step.rollback_started", run="db.restore.rollback.1",
                                              rollback_attempt=1)], "succeeded", alive=live,
         check={"rollback": "running"}),
    Case("rollback in doubt", [*STARTED, OK, E("step.rollback_started",
                                               run="db.restore.rollback.1")], "succeeded",
         alive=dead, check={"rollback": "in_doubt"}),
    Case("rolled back", [*STARTED, OK, E("step.rollback_started", run="r"),
                         E("step.rolled_back", exit_code=0)], "rolled_back",
         check={"rollback": "rolled_back"}),
    Case("rollback failed", [*STARTED, BAD, E("step.rollback_started", run="r"),
                             E("step.rollback_failed", exit_code=1)], "failed",
         check={"rollback": "failed"}),
    Case("retry after rollback", [*STARTED, OK, E("step.rolled_back"), E("step.retry",
                                                                          reason="again")],
         "pending", check={"next_attempt": 2}),
    Case("retry clears a rollback that is in doubt",
         [*STARTED, BAD, E("step.rollback_started", run="r"), E("step.retry", reason="checked")],
         "pending", alive=dead, check={"rollback": "", "next_attempt": 2}),
    Case("dry run changes nothing", [E("step.dry_run", 0)], "pending", 0,
         check={"dry_runs": 1}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_transitions(case: Case):
    states = step_states(entries(case.rows), alive=case.alive)
    st = state_of(states, RB, ST)
    assert st.state == case.state
    assert st.attempt == case.attempt
    for k, v in case.check.items():
        assert getattr(st, k) == v, k


def test_filter_by_runbook_and_other_entries_ignored():
    rows = entries([*STARTED, OK])
    rows.append(SimEntry(2000.0, "x", "note", {"type": "action", "text": "hi"}))
    rows.append(SimEntry(2001.0, "x", "step.started", {"runbook": "other", "step": "s",
                                                       "attempt": 1, "run": "o"}))
    assert set(step_states(rows)) == {(RB, ST), ("other", "s")}
    assert set(step_states(rows, runbook_id=RB)) == {(RB, ST)}


def test_a_step_that_ran_starts_the_respond_milestone_a_claim_does_not_and_describe():
    rows = [SimEntry(10.0, "a", "incident.declared", {"title": "t", "services": ["db"]}),
            *entries([E("step.claimed", detail="claimed attempt 1"),
                      E("step.started", supervisor_pid=4242)])]
    assert fold(rows[:2]).responding_at is None  # a claim is not an action (review M1)
    assert fold(rows).responding_at == 1001.0  # the step ran
    assert describe(rows[1]) == ("claimed", "db/restore claimed attempt 1")


# ------------------------------------------------------------------ helpers

class FakeJournal:
    def __init__(self) -> None:
        self.rows: list[SimEntry] = []

    def append(self, kind: str, data: dict) -> SimEntry:
        e = SimEntry(2000.0 + len(self.rows), "carol", kind, data)
        self.rows.append(e)
        return e


@dataclass
class FakeStep:
    verify: Any = None
    rollback: Any = None
    is_manual: bool = False


def st_of(rows, alive=None) -> StepState:
    return state_of(step_states(rows, alive=alive), RB, ST)


def test_verify_gate_blocks_then_passes():
    j = FakeJournal()
    rows = entries([*STARTED, OK])
    step = FakeStep(verify=object())
    st = st_of(rows, dead)
    ok, why = can_confirm(st, step)
    assert not ok and "verify has not passed" in why
    with pytest.raises(StepError, match="cannot confirm"):
        steps.confirm(j, st, step)
    steps.record_verify(j, st, False, "replica lag 30 s")
    st = st_of(rows + j.rows, dead)
    assert st.verify is False
    assert "verify failed" in can_confirm(st, step)[1]
    steps.record_verify(j, st, True, "replica lag 0 s")
    st = st_of(rows + j.rows, dead)
    assert can_confirm(st, step) == (True, "")
    steps.confirm(j, st, step)
    st = st_of(rows + j.rows, dead)
    assert st.state == "confirmed" and st.by == "carol"
    with pytest.raises(StepError, match="already confirmed"):
        steps.confirm(j, st, step)


def test_override_needs_a_typed_reason_and_opens_the_gate():
    j = FakeJournal()
    rows = entries([*STARTED, OK])
    step = FakeStep(verify=object())
    st = st_of(rows, dead)
    for bad in ("", "   ", None):
        with pytest.raises(StepError, match="needs a reason"):
            steps.override(j, st, bad)  # type: ignore[arg-type]
    assert j.rows == []
    steps.override(j, st, "verified by hand: replica caught up")
    st = st_of(rows + j.rows, dead)
    assert can_confirm(st, step)[0]
    assert j.rows[0].data["detail"].startswith("overridden: verified by hand")


def test_confirm_rules():
    plain = FakeStep()
    assert not can_confirm(StepState(RB, ST), plain)[0]  # command not run yet
    assert can_confirm(StepState(RB, ST), FakeStep(is_manual=True))[0]  # manual step
    assert not can_confirm(st_of(entries(STARTED), live), plain)[0]  # running
    failed = st_of(entries([*STARTED, BAD]))
    assert "failed" in can_confirm(failed, plain)[1]
    doubt = st_of(entries(STARTED), dead)
    assert "in doubt" in can_confirm(doubt, plain)[1]
    j = FakeJournal()
    steps.override(j, doubt, "the restore finished: checked pg_is_in_recovery")
    assert can_confirm(st_of(entries(STARTED) + j.rows, dead), plain)[0]


def test_skip_retry_mark_failed_validation():
    j = FakeJournal()
    running = st_of(entries(STARTED), live)
    with pytest.raises(StepError, match="cannot skip"):
        steps.skip(j, running, "x")
    with pytest.raises(StepError, match="cannot retry"):
        steps.retry(j, running, "x")
    with pytest.raises(StepError, match="cannot mark failed"):
        steps.mark_failed(j, running, "x")
    with pytest.raises(StepError, match="needs a reason"):
        steps.skip(j, StepState(RB, ST), " ")
    with pytest.raises(StepError, match="cannot retry"):
        steps.retry(j, StepState(RB, ST), "never ran")
    assert j.rows == []
    doubt = st_of(entries(STARTED), dead)
    steps.retry(j, doubt, "supervisor was killed; database checked, restore not done")
    st = st_of(entries(STARTED) + j.rows, dead)
    assert st.state == "pending" and st.next_attempt == 2
    assert steps.can_start(st)[0]
    assert not steps.can_start(doubt)[0]
    steps.skip(j, st, "done by hand")
    assert st_of(entries(STARTED) + j.rows, dead).state == "skipped"


def test_rollback_rules():
    ok = st_of(entries([*STARTED, OK]))
    assert not steps.can_rollback(ok, FakeStep())[0]
    assert steps.can_rollback(ok, FakeStep(rollback=object()))[0]
    running = st_of(entries([*STARTED, OK, E("step.rollback_started", run="r")]), live)
    assert "already running" in steps.can_rollback(running, FakeStep(rollback=object()))[1]
    assert not steps.can_rollback(StepState(RB, ST), FakeStep(rollback=object()))[0]


def test_labels_have_word_and_symbol():
    for s in steps.STATES:
        st = StepState(RB, ST, state=s)
        assert st.symbol and s.replace("_", " ") in st.label
