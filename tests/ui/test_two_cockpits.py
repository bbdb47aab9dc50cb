"""Two cockpit processes on one state directory: what one writes is on the other's screen.

How fast (p99 <= 1 s) is a benchmark figure (``./run bench incident``, the same code); here
every one of 100 notes must arrive, each within 10 s."""

from __future__ import annotations

import statistics

import pytest

from benchmarks.bench_incident import notes_from_another_process


@pytest.mark.stress
def test_entries_from_another_process_are_on_screen(tmp_path):
    delays, screen = notes_from_another_process(tmp_path, 100, timeout=10)
    missing = [i for i, d in enumerate(delays) if d is None]
    assert not missing, f"notes never shown: {missing[:10]}\n{screen}"
    shown = sorted(d for d in delays if d is not None)
    print(f"p50 {statistics.median(shown):.3f} s, p99 {shown[98]:.3f} s")
    # a follower that lost its file watch and polls slowly would show here; the half a second
    # of the benchmark's p50 is far below (a loaded machine's slack, not a figure)
    assert statistics.median(shown) <= 2.0, shown
