"""A hanging step is killed at its timeout with all its descendants: background children,
a child ignoring SIGTERM, a setsid escapee (own session: out of the process group) and a
double-forked daemon (re-parented to the supervisor, a child subreaper). 50 runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from shared_fakes import alive

from cockpit.journal import read_incident
from cockpit.runbooks import launch, process
from cockpit.runbooks.launch import StartedRun

HANG = """\
[runbook]
id = "hang"
title = "Hang"
services = ["database"]

[[params]]
name = "pidfile"
type = "path"

[[params]]
name = "trap"
type = "str"
default = ":"

[[steps]]
id = "hang"
title = "Hangs forever"
shell = '''
eval "$TRAP"
echo $$ >> "$PIDFILE"
sleep 1000 & echo $! >> "$PIDFILE"
sleep 1000 & echo $! >> "$PIDFILE"
setsid sh -c 'trap "" TERM; echo $$ >> "$PIDFILE"; exec sleep 1000' &
( sh -c 'echo $$ >> "$PIDFILE"; exec sleep 1000' & )
n=0
until [ "$n" -ge 5 ]; do  # all five written (the two detached ones write on their own)
  n=0; while read -r _; do n=$((n+1)); done < "$PIDFILE"
  [ "$n" -ge 5 ] || sleep 0.05
done
echo started
wait
'''
env = { PIDFILE = "{pidfile}", TRAP = "{trap}" }
timeout = "3s"
destructive = false
"""


def _describe(pids) -> str:
    out = []
    for i, p in enumerate(pids):
        try:
            stat = Path(f"/proc/{p}/stat").read_text().strip()
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            stat, cmd = "gone", ""
        out.append(f"#{i} {p}: {stat[:80]} | {cmd}")
    return "\n".join(out)


def _run_batch(rb, state_dir, tmp_path, reaper, first: int, n: int) -> None:
    runs: list[tuple[StartedRun, str]] = []
    for i in range(first, first + n):
        pidfile = tmp_path / f"pids-{i}"
        # every third run ignores SIGTERM in the whole tree: SIGKILL escalation needed
        trap = "trap '' TERM" if i % 3 == 0 else ":"
        r = launch.start(state_dir, f"hang-{i}", rb, "hang",
                           {"pidfile": str(pidfile), "trap": trap}, author="alice",
                           extra_env=reaper.env)
        assert isinstance(r, StartedRun)
        runs.append((r, str(pidfile)))
    for r, pidfile in runs:
        st = r.wait(timeout=30)
        assert st is not None, "supervisor still running 30 s after a 3 s timeout"
        assert st.state == "failed" and st.timed_out, st
        assert st.signal in ("SIGTERM", "SIGKILL")
        with open(pidfile) as f:
            pids = [int(x) for x in f.read().split()]
        assert len(pids) == 5, pids  # shell, 2 sleeps, setsid escapee, daemon
        survivors = [p for p in pids if alive(p)]
        assert not survivors, f"run {r.run}: survivors {_describe(pids)}"
        res = [e for e in read_incident(state_dir, r.incident_id).entries
               if e.kind == "step.failed"][0]
        assert res.data["escaped_killed"] >= 1  # the setsid escapee
        left = process.tree_pids([], marker=r.marker) - {r.supervisor_pid}
        assert left == set(), _describe(sorted(left))
        out = r.output_path.read_bytes()
        assert out.startswith(b"started")
        end = time.monotonic() + 10  # the supervisor itself exits right after its result
        while alive(r.supervisor_pid) and time.monotonic() < end:
            time.sleep(0.02)


@pytest.mark.stress
def test_hanging_step_is_killed_with_all_descendants_50_runs(make_runbook, state_dir, tmp_path,
                                                            reaper):
    rb = make_runbook(HANG)
    for first in range(0, 50, 25):  # 25 at a time: concurrent, to keep the test short
        _run_batch(rb, state_dir, tmp_path, reaper, first, 25)
    left = reaper.marked()
    assert not left, _describe(sorted(left))


def test_in_process_timeout_kills_the_tree_too(make_runbook, tmp_path, reaper):
    """Without a subreaper (a verify in the cockpit process): the environment marker finds
    the setsid escapee and the double-forked daemon after re-parenting to init."""
    rb = make_runbook(HANG)
    pidfile = tmp_path / "pids"
    r = rb.render(rb.step("hang"), {"pidfile": str(pidfile), "trap": ":"})
    env = process.command_env(r, "inproc-run", reaper.env)
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        res = process.run_command(r.argv, env=env, out_fd=fd, timeout=2.0,
                                   marker="inproc-run", grace=0.5)
    finally:
        os.close(fd)
    assert res.timed_out
    pids = [int(x) for x in pidfile.read_text().split()]
    assert len(pids) == 5
    assert not [p for p in pids if alive(p)], _describe(pids)
