"""A stand-in "cockpit" process for the executor tests (run as a script, not collected).

``crash``: start one step, print the run as JSON, then sleep until killed.
``race``: for each line "go <incident>" on stdin, start the step with attempt 1 and print
the outcome as JSON (who won, or who the winner is).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from cockpit.runbooks import claims, launch, load_runbook


def _out(d: dict) -> None:
    sys.stdout.write(json.dumps(d) + "\n")
    sys.stdout.flush()


def crash(state_dir: str, incident: str, rb_path: str, step: str, token: str) -> None:
    rb = load_runbook(rb_path)
    r = launch.start(Path(state_dir), incident, rb, step, {}, author="crash-test",
                       extra_env={"CK_TEST": token})
    _out({"sup": r.supervisor_pid, "run": r.run, "marker": r.marker, "pid": os.getpid()})
    time.sleep(600)


def race(state_dir: str, rb_path: str, step: str, token: str, me: str) -> None:
    rb = load_runbook(rb_path)
    _out({"ready": me})
    for line in sys.stdin:
        cmd, _, incident = line.strip().partition(" ")
        if cmd != "go":
            break
        r = launch.start(Path(state_dir), incident, rb, step, {}, author=me,
                           extra_env={"CK_TEST": token}, attempt=1)
        if isinstance(r, claims.ClaimedBy):
            _out({"me": me, "lost": True, "who": r.who, "pid": r.pid})
        else:
            _out({"me": me, "lost": False, "sup": r.supervisor_pid, "pid": os.getpid()})


if __name__ == "__main__":
    if sys.argv[1] == "crash":
        crash(*sys.argv[2:])
    else:
        race(*sys.argv[2:])
