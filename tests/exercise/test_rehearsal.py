"""Runbook steps in an exercise are rehearsed: journaled as in a real incident, never run.
Every command of the canary runbook would create a file; none ever exists."""

from __future__ import annotations

import time

import pytest

from cockpit.exercise.scoring import decide
from cockpit.runbooks.errors import StepError
from cockpit.runbooks.state import state_of
from cockpit.session.exercise import ExerciseSession

from .canary import write_canary_runbook
from .helpers import Exercise

SCENARIO = """
[scenario]
id = "canary"
title = "Canary"
length = "30m"

[[service]]
id = "database"
title = "PostgreSQL"
priority = "P0"
rto = "1h"

[[inject]]
at = "0s"
service = "database"
status = "ok"

[[inject]]
id = "down"
at = "1m"
synopsis = "db down"
service = "database"
status = "fail"

[[inject.expect]]
id = "touched"
kind = "step"
runbook = "aaa-canary"
step = "touch"
by = "10m"
"""


@pytest.fixture
def rehearsal(tmp_path):
    canaries = tmp_path / "canaries"
    rb_dir = tmp_path / "runbooks"
    write_canary_runbook(rb_dir, canaries)
    x = Exercise(tmp_path / "state", SCENARIO)
    s = ExerciseSession(tmp_path / "state", x.id, wall=x.wall, author="alice",
                        runbook_dirs=[rb_dir])
    yield x, s, canaries
    s.stop()
    x.close()


def _canary(s: ExerciseSession):
    rb = s.runbooks.library().library.get("aaa-canary")
    return rb, rb.param_values(None, None)


def test_executing_a_step_runs_nothing_and_journals_a_rehearsal(rehearsal):
    x, s, canaries = rehearsal
    assert s.capabilities.execute  # the navigator works as in a real incident
    rb, params = _canary(s)
    step = rb.step("touch")
    x.at(2)
    st = state_of(s.runbooks.states(rb.id), rb.id, step.id)
    res = s.runbooks.execute(rb, step, params, None, st)
    assert res.dry_run is not None and res.dry_run.argv == ("touch", str(canaries / "step"))
    assert "nothing was run" in res.message
    s.poll()
    kinds = [(e.kind, e.data.get("rehearsal")) for e in s.journal_entries()
             if e.kind.startswith("step.")]
    assert kinds == [("step.started", True), ("step.succeeded", True)]
    started = next(e for e in s.journal_entries() if e.kind == "step.started")
    assert started.data["argv"] == ["touch", str(canaries / "step")] and started.data["dry_run"]
    st = state_of(s.runbooks.states(rb.id), rb.id, step.id)
    assert st.state == "succeeded"
    # verify: its command is not run either; then confirm, roll back
    s.runbooks.verify(rb, step, params, st)
    s.poll()
    st = state_of(s.runbooks.states(rb.id), rb.id, step.id)
    assert st.verify is True
    x.at(3)
    s.runbooks.confirm(rb, step, st)
    s.poll()
    st = state_of(s.runbooks.states(rb.id), rb.id, step.id)
    assert st.state == "confirmed"
    s.runbooks.rollback(rb, step, params, None)
    s.runbooks.dry_run(rb, step, params)
    time.sleep(0.5)  # a process started by mistake would have had time to touch its file
    assert list(canaries.iterdir()) == []
    # and the expected outcome is decided from the rehearsal
    d = {d.outcome.id: d for d in decide(x.timeline(), x.wall.now()).decisions}
    assert d["touched"].state == "met" and d["touched"].achieved == pytest.approx(180)


def test_a_destructive_step_still_asks_for_its_typed_confirmation(rehearsal):
    _x, s, canaries = rehearsal
    rb, params = _canary(s)
    step = rb.step("shell")
    st = state_of(s.runbooks.states(rb.id), rb.id, step.id)
    with pytest.raises(StepError, match="type 'database' to confirm"):
        s.runbooks.execute(rb, step, params, "db", st)
    res = s.runbooks.execute(rb, step, params, "database", st)
    assert res.dry_run.argv[:2] == ("/bin/sh", "-c")
    time.sleep(0.5)
    assert list(canaries.iterdir()) == []


def test_a_service_verify_asks_the_scenario(rehearsal):
    x, s, _ = rehearsal
    from cockpit.runbooks.model import Step, Verify

    rb, params = _canary(s)
    step = Step("probe-verify", "Database answers", verify=Verify(probe="database"))
    st = state_of({}, rb.id, step.id)
    x.at(2)  # the database is down in the scenario
    res = s.runbooks.verify(rb, step, params, st)
    assert res.warning and "database is DOWN in the scenario" in res.message
