"""Two engineers (here eight processes) start the same step at the same moment: exactly one
runs it, every other one is told who does (issue 6). 200 rounds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.journal import read_incident
from cockpit.runbooks import claims
from cockpit.runbooks import state as steps
from cockpit.runbooks.claims import Claim, ClaimedBy

CHILD = str(Path(__file__).with_name("executor_child.py"))

RACE = """\
[runbook]
id = "race"
title = "Race"
services = ["database"]

[[steps]]
id = "go"
title = "Run once"
command = ["echo", "ran"]
timeout = "30s"
destructive = false
"""


@pytest.mark.stress
def test_eight_processes_race_to_start_one_step_200_rounds(make_runbook, state_dir, reaper):
    rb = make_runbook(RACE)
    n_proc, rounds = 8, 200
    env = {**os.environ, "CK_TEST": reaper.token}
    workers = []
    for i in range(n_proc):
        p = subprocess.Popen([sys.executable, CHILD, "race", str(state_dir), str(rb.path), "go",
                              reaper.token, f"eng{i}"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=env, text=True, bufsize=1,
                             start_new_session=True)
        reaper.track(p.pid)
        workers.append(p)
    try:
        for p in workers:
            assert json.loads(p.stdout.readline())["ready"]
        winners: dict[str, dict] = {}
        for r in range(rounds):
            inc = f"race-{r}"
            for p in workers:
                p.stdin.write(f"go {inc}\n")
            for p in workers:
                p.stdin.flush()
            results = [json.loads(p.stdout.readline()) for p in workers]
            won = [x for x in results if not x["lost"]]
            assert len(won) == 1, (r, results)
            w = won[0]
            reaper.track(w["sup"])
            winners[inc] = w
            for x in results:
                if x["lost"]:
                    assert x["who"] == w["me"] and x["pid"] == w["pid"], (r, x, w)
    finally:
        for p in workers:
            with_closed = p.stdin
            with_closed.close()
        for p in workers:
            p.wait(timeout=30)
            p.stdout.close()
    # every round's step ran exactly once, by the winner
    end = time.monotonic() + 60
    for inc, w in winners.items():
        run = claims.run_id("race", "go", "step", 1)
        while claims.supervisor_alive(state_dir, inc, run):
            assert time.monotonic() < end
            time.sleep(0.05)
        entries = read_incident(state_dir, inc).entries
        kinds = [e.kind for e in entries]
        assert kinds.count("step.claimed") == 1 and kinds.count("step.started") == 1, kinds
        st = steps.state_of(steps.step_states(entries), "race", "go")
        assert st.state == "succeeded" and st.who == w["me"] and st.attempt == 1


def test_claim_in_process_exactly_one_and_loser_told_who(state_dir):
    a = claims.claim(state_dir, "c", "rb", "s", 1, "alice")
    b = claims.claim(state_dir, "c", "rb", "s", 1, "bob")
    assert isinstance(a, Claim) and isinstance(b, ClaimedBy)
    assert b.who == "alice" and b.attempt == 1 and b.pid == os.getpid()
    run = a.run
    assert claims.supervisor_alive(state_dir, "c", run)  # the claimer holds the lock
    # opening and closing the claim elsewhere in this process keeps the flock (not lockf)
    a.path.read_bytes()
    assert claims.supervisor_alive(state_dir, "c", run)
    a.release()
    assert not claims.supervisor_alive(state_dir, "c", run)
    st = steps.state_of(claims.load_states(state_dir, "c"), "rb", "s")
    assert st.state == "in_doubt" and st.who == "alice"
