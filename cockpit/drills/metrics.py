"""The drills' figures for ``cockpit metrics``: the plan's success metrics of testing.

- backup success rate: of the completed backup drills (``BACKUP_DRILLS``: backup
  verification and restore tests), the share that passed (the plan's target: 100 %);
- test completion on schedule: over a window ending now, each drill kind's cadence periods
  (``max(1, window // cadence)`` of them, the newest ending now); a period is done when a run
  of that kind completed (passed or failed) inside it; the share of periods done (target 100 %).

One function, ``drill_metrics``; a pure function of the runs, the kinds and ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .schedule import DAY, OUTCOMES, DrillKind, RunSummary, completed_time

BACKUP_DRILLS = frozenset({"backup-verify", "restore"})
DEFAULT_WINDOW = 91 * DAY


@dataclass(frozen=True)
class KindCompletion:
    drill: str
    periods: int
    done: int


@dataclass(frozen=True)
class DrillMetrics:
    window: float
    backup_runs: int
    backup_passed: int
    periods: int
    periods_done: int
    kinds: tuple[KindCompletion, ...]

    @property
    def backup_success_rate(self) -> float | None:
        """0..1; None when no backup drill completed in the window."""
        return self.backup_passed / self.backup_runs if self.backup_runs else None

    @property
    def completion_on_schedule(self) -> float | None:
        return self.periods_done / self.periods if self.periods else None

    def lines(self) -> list[str]:
        """The two figures as ``cockpit drills`` and ``cockpit metrics`` print them."""
        def pct(v: float | None) -> str:
            return "-" if v is None else f"{v * 100:.0f}%"
        days = f"{self.window / DAY:g}d"
        return [f"backup success rate: {pct(self.backup_success_rate)} ({self.backup_passed} of "
                f"{self.backup_runs} backup drills passed in {days}; target 100%)",
                f"test completion on schedule: {pct(self.completion_on_schedule)} "
                f"({self.periods_done} of {self.periods} periods in {days}; target 100%)"]

    def as_dict(self) -> dict[str, object]:
        return {
            "window_seconds": self.window, "backup_runs": self.backup_runs,
            "backup_passed": self.backup_passed,
            "backup_success_rate": self.backup_success_rate,
            "periods": self.periods, "periods_done": self.periods_done,
            "completion_on_schedule": self.completion_on_schedule,
            "kinds": {k.drill: {"periods": k.periods, "done": k.done} for k in self.kinds},
        }


def drill_metrics(kinds: Iterable[DrillKind], runs: Iterable[RunSummary], now: float,
                  window: float = DEFAULT_WINDOW) -> DrillMetrics:
    """Backup success rate and test completion on schedule over ``window`` ending ``now``."""
    runs = [r for r in runs if r.outcome in OUTCOMES and now - window < completed_time(r) <= now]
    backups = [r for r in runs if r.drill in BACKUP_DRILLS]
    per_kind = []
    for k in kinds:
        if not k.enabled:
            continue
        n = max(1, int(window // k.cadence))
        times = [completed_time(r) for r in runs if r.drill == k.id]
        done = sum(1 for i in range(n)
                   if any(now - (i + 1) * k.cadence < t <= now - i * k.cadence for t in times))
        per_kind.append(KindCompletion(k.id, n, done))
    return DrillMetrics(window, len(backups), sum(1 for r in backups if r.outcome == "passed"),
                        sum(k.periods for k in per_kind), sum(k.done for k in per_kind),
                        tuple(per_kind))
