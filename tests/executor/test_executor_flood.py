"""A step that prints 1 GiB: the output is streamed to outputs/ (never held in memory), the
caller and the supervisor stay small, the full size and sha256 are journaled and right."""

from __future__ import annotations

import hashlib
import time

import pytest
from shared_fakes import FLOOD_RUNBOOK, rss_kib

from cockpit.journal import read_incident
from cockpit.runbooks import launch, process
from cockpit.runbooks.launch import StartedRun

GIB = 1 << 30

FLOOD = FLOOD_RUNBOOK


def zeros_sha256(n: int) -> str:
    h = hashlib.sha256()
    chunk = bytes(1 << 20)
    for _ in range(n >> 20):
        h.update(chunk)
    return h.hexdigest()


@pytest.mark.stress
def test_one_gib_of_output(make_runbook, state_dir, reaper):
    rb = make_runbook(FLOOD)
    before = rss_kib()
    r = launch.start(state_dir, "flood", rb, "gib", {}, author="alice", extra_env=reaper.env)
    assert isinstance(r, StartedRun)
    try:
        peak = before
        tails = 0
        while r.alive():  # what the UI does: show the tail while it runs
            t = r.tail()
            assert len(t) <= process.TAIL_BYTES
            tails += 1
            peak = max(peak, rss_kib())
            time.sleep(0.02)
        st = r.wait(timeout=60)
        peak = max(peak, rss_kib())
        assert st.state == "succeeded", st
        assert (peak - before) < 32 * 1024, f"caller grew by {(peak - before) / 1024:.1f} MiB"
        assert st.output.bytes == GIB
        assert r.output_path.stat().st_size == GIB
        want = zeros_sha256(GIB)
        assert st.output.sha256 == want
        with open(r.output_path, "rb") as f:
            assert hashlib.file_digest(f, "sha256").hexdigest() == want
        res = [e for e in read_incident(state_dir, "flood").entries if e.kind == "step.succeeded"]
        maxrss = res[0].data["supervisor_maxrss_kib"]
        assert maxrss < 48 * 1024, f"supervisor peak RSS {maxrss / 1024:.1f} MiB"
        assert tails > 0
    finally:
        r.output_path.unlink(missing_ok=True)  # 1 GiB: never keep it in tmp
