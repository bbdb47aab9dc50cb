"""What the cockpit's drills view shows: every drill's status and the drills' metrics at one
moment (the session seam hands it to the UI: ``Session.drills()``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .metrics import DrillMetrics, drill_metrics
from .schedule import DAY, PLAN_DRILLS, DrillKind, DrillStatus, RunSummary, schedule


@dataclass(frozen=True)
class DrillBoard:
    now: float
    rows: tuple[DrillStatus, ...]
    metrics: DrillMetrics
    note: str = ""  # e.g. "simulated" in the demo, or why the runs could not be read

    @property
    def overdue(self) -> tuple[str, ...]:
        return tuple(s.kind.id for s in self.rows if s.overdue)


def drill_board(kinds: Iterable[DrillKind], runs: Iterable[RunSummary], now: float,
                note: str = "") -> DrillBoard:
    kinds, runs = tuple(kinds), tuple(runs)
    return DrillBoard(now, tuple(schedule(kinds, runs, now)),
                      drill_metrics(kinds, runs, now), note)


def read_board(state_dir: Path, kinds: Iterable[DrillKind], now: float,
               window: float | None = None) -> DrillBoard:
    """The board of the drill journals under ``state_dir`` (blocking: reads files). For
    ``cockpit metrics``: ``read_board(...).metrics`` is ``drill_metrics`` of the real runs."""
    from .store import DrillStore

    store = DrillStore(state_dir)
    try:
        runs = tuple(r.summary for r in store.runs())
    finally:
        store.close()
    kinds = tuple(kinds)
    if window is None:
        return drill_board(kinds, runs, now)
    return DrillBoard(now, tuple(schedule(kinds, runs, now)),
                      drill_metrics(kinds, runs, now, window))


def demo_runs(now: float) -> tuple[RunSummary, ...]:
    """The demo's simulated drill history: some on time, one overdue, one failed, one never
    run (so every state is on screen)."""
    H = 3600.0
    out = [RunSummary("backup-verify", now - d * DAY - 5 * H - 600, now - d * DAY - 5 * H,
                      "failed" if d == 3 else "passed") for d in range(0, 20)]
    out += [RunSummary("restore", now - 9 * DAY - H, now - 9 * DAY, "passed"),
            RunSummary("restore", now - 16 * DAY - H, now - 16 * DAY, "passed"),
            RunSummary("failover", now - 12 * DAY - H, now - 12 * DAY, "failed"),
            RunSummary("full-exercise", now - 40 * DAY - 4 * H, now - 40 * DAY, "passed")]
    return tuple(out)


def demo_board(now: float) -> DrillBoard:
    return drill_board(PLAN_DRILLS, demo_runs(now), now, note="simulated drill history")
