"""B4 (ux review): a step that succeeded runs again only when the runbook says it is
``repeatable`` (a progress check: "run again until done"); a FAILED step runs again only
through ``retry`` with its reason, never by executing it again."""

from __future__ import annotations

import pytest

from cockpit.journal import Journal, read_incident
from cockpit.runbooks import claims, launch
from cockpit.runbooks import state as steps
from cockpit.runbooks.launch import StartedRun
from cockpit.runbooks.library import builtin_dir
from cockpit.runbooks.loader import load_runbook
from cockpit.runbooks.state import StepError

RB = """\
[runbook]
id = "rep"
title = "Repeatable"
services = ["database"]

[[steps]]
id = "progress"
title = "Watch progress"
command = ["echo", "still replaying"]
timeout = "10s"
destructive = false
repeatable = true

[[steps]]
id = "once"
title = "Once"
command = ["echo", "once"]
timeout = "10s"
destructive = false

[[steps]]
id = "flaky"
title = "Fails"
command = ["false"]
timeout = "10s"
destructive = false
"""


def _state(state_dir, step):
    return steps.state_of(claims.load_states(state_dir, "inc"), "rep", step)


def _run(state_dir, rb, step, j, reaper):
    st = _state(state_dir, step)
    r = launch.start(state_dir, "inc", rb, step, {}, author="alice", journal=j,
                     extra_env=reaper.env, attempt=st.attempt + 1, state=st)
    assert isinstance(r, StartedRun), r
    return r.wait(timeout=30)


def test_b4_repeatable_step_runs_again_after_success(make_runbook, state_dir, reaper):
    rb = make_runbook(RB)
    assert rb.step("progress").repeatable and not rb.step("once").repeatable
    j = Journal(state_dir, "inc", author="alice")
    assert _run(state_dir, rb, "progress", j, reaper).state == "succeeded"
    second = _run(state_dir, rb, "progress", j, reaper)
    assert second.state == "succeeded" and second.attempt == 2
    # even once confirmed done, a progress check may be looked at again
    steps.confirm(j, second, rb.step("progress"))
    assert _run(state_dir, rb, "progress", j, reaper).attempt == 3


def test_b4_not_repeatable_step_says_already_succeeded(make_runbook, state_dir, reaper):
    rb = make_runbook(RB)
    j = Journal(state_dir, "inc", author="alice")
    assert _run(state_dir, rb, "once", j, reaper).state == "succeeded"
    st = _state(state_dir, "once")
    with pytest.raises(StepError, match="already succeeded .* not repeatable"):
        launch.start(state_dir, "inc", rb, "once", {}, author="alice", journal=j,
                     extra_env=reaper.env, attempt=st.attempt + 1, state=st)


def test_b4_failed_step_runs_again_only_through_retry_with_reason(make_runbook, state_dir,
                                                                   reaper):
    rb = make_runbook(RB)
    j = Journal(state_dir, "inc", author="alice")
    assert _run(state_dir, rb, "flaky", j, reaper).state == "failed"
    st = _state(state_dir, "flaky")
    with pytest.raises(StepError, match="retry it with a reason"):
        launch.start(state_dir, "inc", rb, "flaky", {}, author="alice", journal=j,
                     extra_env=reaper.env, attempt=st.attempt + 1, state=st)
    steps.retry(j, st, "disk freed, trying again")
    assert _run(state_dir, rb, "flaky", j, reaper).attempt == 2
    kinds = [e.kind for e in read_incident(state_dir, "inc").entries
             if (e.data or {}).get("step") == "flaky"]
    # the second attempt's claim comes after the journaled reason
    assert kinds.index("step.retry") < max(i for i, k in enumerate(kinds) if k == "step.claimed")
    retry = next(e for e in read_incident(state_dir, "inc").entries if e.kind == "step.retry")
    assert retry.data["reason"] == "disk freed, trying again"


def test_b4_retry_refusal_reads_as_english(make_runbook, state_dir, reaper):
    rb = make_runbook(RB)
    j = Journal(state_dir, "inc", author="alice")
    _run(state_dir, rb, "once", j, reaper)
    with pytest.raises(StepError, match="cannot retry: the step succeeded"):
        steps.retry(j, _state(state_dir, "once"), "why not")


def test_b4_repeatable_destructive_is_refused(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(RB.replace('command = ["echo", "once"]\ntimeout = "10s"\n'
                            'destructive = false',
                            'command = ["echo", "once"]\ntimeout = "10s"\n'
                            'destructive = true\nrepeatable = true'), encoding="utf-8")
    with pytest.raises(Exception, match="repeatable"):
        load_runbook(p)


def test_b4_builtin_run_again_steps_are_repeatable():
    """Every built-in step whose guidance says to run it again is repeatable."""
    db = load_runbook(builtin_dir() / "database.toml")
    assert db.step("replay-progress").repeatable
    dl = load_runbook(builtin_dir() / "data-loss.toml")
    assert dl.step("scratch-check").repeatable
