"""kill -9 of the cockpit mid-step does not stop the step: the supervisor finishes it and
journals the result; a fresh reader shows it. When the supervisor is killed too, the step is
in doubt and nothing re-runs it until an engineer says so (retry with a reason)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.journal import Journal, read_incident
from cockpit.runbooks import claims, launch, process
from cockpit.runbooks import state as steps
from cockpit.runbooks.state import StepError

CHILD = str(Path(__file__).with_name("executor_child.py"))

SLOW = """\
[runbook]
id = "crash"
title = "Crash"
services = ["database"]

[[steps]]
id = "slow"
title = "Takes a while"
shell = "sleep 3; echo done"
timeout = "30s"
destructive = false
"""


def _spawn_cockpit(state_dir: Path, incident: str, rb_path: Path, token: str):
    env = {**os.environ, "CK_TEST": token}
    return subprocess.Popen([sys.executable, CHILD, "crash", str(state_dir), incident,
                             str(rb_path), "slow", token], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def _wait_started(state_dir: Path, incident: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not any(e.kind == "step.started" for e in read_incident(state_dir, incident,
                                                                  recover=False).entries):
        assert time.monotonic() < end, f"{incident}: the step never started"
        time.sleep(0.02)


def _wait_gone(state_dir: Path, incident: str, run: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while claims.supervisor_alive(state_dir, incident, run):
        assert time.monotonic() < end, f"{run} still running"
        time.sleep(0.05)


@pytest.mark.stress
def test_kill_9_the_cockpit_mid_step_20_runs(make_runbook, state_dir, tmp_path, reaper):
    # the step runs until the test has killed every cockpit (then it is released): a fixed
    # 3 s sleep could end before a late cockpit's turn came on a loaded machine
    release = tmp_path / "release"
    rb = make_runbook(SLOW.replace("sleep 3", f"i=0; while [ ! -e '{release}' ] && "
                                              f"[ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done"))
    rb_path = rb.path
    n = 20
    cockpits = [_spawn_cockpit(state_dir, f"crash-{i}", rb_path, reaper.token) for i in range(n)]
    infos = []
    doubly = {i for i in range(n) if i % 4 == 0}
    for i, p in enumerate(cockpits):
        reaper.track(p.pid)
        line = p.stdout.readline()
        assert line, "the cockpit child died before starting the step"
        info = json.loads(line)
        reaper.track(info["sup"])
        infos.append(info)
        # mid-step: once the command runs (until released), kill -9 the cockpit ...
        _wait_started(state_dir, f"crash-{i}")
        os.kill(p.pid, signal.SIGKILL)
        # ... and in every fourth run the supervisor as well
        if i in doubly:
            os.kill(info["sup"], signal.SIGKILL)
    release.touch()
    for p in cockpits:
        p.wait()
        p.stdout.close()
    for i, info in enumerate(infos):
        _wait_gone(state_dir, f"crash-{i}", info["run"])
    time.sleep(0.2)
    for i in range(n):
        inc = f"crash-{i}"
        st = steps.state_of(claims.load_states(state_dir, inc), "crash", "slow")
        if i in doubly:
            assert st.state == "in_doubt", (i, st)
            with pytest.raises(StepError, match="in doubt"):
                launch.start(state_dir, inc, rb, "slow", {}, author="bob")
        else:
            assert st.state == "succeeded", (i, st)
            assert st.exit_code == 0 and st.who == "crash-test"
            out = state_dir / "incidents" / inc / st.output.path
            assert out.read_bytes() == b"done\n" and st.output.bytes == 5
    # nothing re-runs an in-doubt step by itself: still exactly one start, still in doubt
    time.sleep(1.0)
    for i in doubly:
        inc = f"crash-{i}"
        kinds = [e.kind for e in read_incident(state_dir, inc).entries]
        assert kinds.count("step.claimed") == 1 and kinds.count("step.started") <= 1
        assert "step.succeeded" not in kinds and "step.failed" not in kinds
        st = steps.state_of(claims.load_states(state_dir, inc), "crash", "slow")
        assert st.state == "in_doubt"
    # an engineer checks, then retries with a reason: attempt 2 runs and succeeds
    inc = "crash-0"
    st = steps.state_of(claims.load_states(state_dir, inc), "crash", "slow")
    with Journal(state_dir, inc, author="bob") as j:
        steps.retry(j, st, "supervisor killed; checked: nothing was done")
        r = launch.start(state_dir, inc, rb, "slow", {}, author="bob", journal=j,
                           extra_env=reaper.env)
    st2 = r.wait(timeout=30)
    assert st2.state == "succeeded" and st2.attempt == 2 and st2.who == "bob"


def test_sighup_does_not_reach_the_supervisor(make_runbook, state_dir, reaper):
    rb = make_runbook(SLOW.replace("sleep 3", "sleep 0.5"))
    r = launch.start(state_dir, "hup", rb, "slow", {}, author="alice", extra_env=reaper.env)
    _wait_started(state_dir, "hup")
    os.kill(r.supervisor_pid, signal.SIGHUP)
    time.sleep(0.05)
    os.kill(r.supervisor_pid, signal.SIGHUP)
    st = r.wait(timeout=30)
    assert st.state == "succeeded", st


def test_orphan_claim_without_journal_entry_is_in_doubt(make_runbook, state_dir):
    """The claimer died between its claim file and its journal entry."""
    rb = make_runbook(SLOW)
    claims.ensure_sub(state_dir, "orphan", "claims", "personal")
    path = claims.claim_path(state_dir, "orphan", "crash.slow.step.1")
    path.write_text(json.dumps({"who": "ghost", "ts": time.time(), "host": "h", "pid": 1,
                                "attempt": 1}))
    st = steps.state_of(claims.load_states(state_dir, "orphan"), "crash", "slow")
    assert st.state == "in_doubt" and st.who == "ghost"
    with pytest.raises(StepError, match="in doubt"):
        launch.start(state_dir, "orphan", rb, "slow", {}, author="bob")


def test_sigterm_to_the_supervisor_stops_the_tree_and_says_so(make_runbook, state_dir, reaper):
    rb = make_runbook(SLOW.replace("sleep 3; echo done", "echo begun; sleep 1000"))
    r = launch.start(state_dir, "term", rb, "slow", {}, author="alice", extra_env=reaper.env)
    end = time.monotonic() + 20
    while b"begun" not in r.tail() and time.monotonic() < end:
        time.sleep(0.02)
    os.kill(r.supervisor_pid, signal.SIGTERM)
    st = r.wait(timeout=30)
    assert st.state == "failed" and not st.timed_out and st.signal == "SIGTERM", st
    res = [e for e in read_incident(state_dir, "term").entries if e.kind == "step.failed"]
    assert "asked to stop" in res[0].data["detail"]
    assert process.tree_pids([], marker=r.marker) - {r.supervisor_pid} == set()
