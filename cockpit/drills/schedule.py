"""Drill kinds and their cadences; when each drill is next due and whether it is overdue.

The plan's testing schedule: backup verification daily, database restore weekly, application
failover monthly, a full DR exercise quarterly, a tabletop exercise every six months. A drill
is due ``cadence`` after its last *completed* run (passed or failed: a failed drill is a test
that was done and found a problem; the failure is shown beside it); a drill never run is
overdue. Everything here is a pure function of the runs and ``now`` (an injected clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..timeutil import format_duration

DAY = 86400.0


@dataclass(frozen=True)
class DrillKind:
    id: str
    title: str
    cadence: float  # seconds between runs
    runbook: str = ""  # the runbook that performs it ("" = recorded by hand)
    scenario: str = ""  # the runbook's scenario, if any
    enabled: bool = True


# The plan's schedule (DISASTER_RECOVERY_IMPLEMENTATION.md, "Testing strategy").
PLAN_DRILLS: tuple[DrillKind, ...] = (
    DrillKind("backup-verify", "Backup verification (restore of the latest backup)", DAY,
              "restore-drill"),
    DrillKind("restore", "Database restore test", 7 * DAY, "restore-drill"),
    DrillKind("failover", "Application failover test", 30 * DAY, "database", "replication"),
    DrillKind("full-exercise", "Full DR exercise", 91 * DAY),
    DrillKind("tabletop", "Tabletop exercise", 182 * DAY),
)
CADENCE_WORDS = {DAY: "daily", 7 * DAY: "weekly", 30 * DAY: "monthly", 91 * DAY: "quarterly",
                 182 * DAY: "half-yearly"}
OUTCOMES = ("passed", "failed")  # a completed run; "aborted" runs do not complete a drill


@dataclass(frozen=True)
class RunSummary:
    """One drill run as the schedule needs it (``store.DrillRun`` has these fields)."""

    drill: str
    started_at: float
    finished_at: float | None
    outcome: str  # passed | failed | aborted | running


@dataclass(frozen=True)
class DrillStatus:
    kind: DrillKind
    last: RunSummary | None  # the newest completed run
    next_due: float | None  # None: never run (due now)
    now: float

    @property
    def overdue(self) -> bool:
        return self.kind.enabled and (self.next_due is None or self.next_due <= self.now)

    @property
    def result(self) -> str:
        return self.last.outcome if self.last else "never run"

    @property
    def overdue_by(self) -> float | None:
        if self.next_due is None or not self.overdue:
            return None
        return self.now - self.next_due

    @property
    def state(self) -> str:
        """One word: ``OK`` / ``FAILED`` (last run failed, not overdue) / ``OVERDUE`` / ``OFF``."""
        if not self.kind.enabled:
            return "OFF"
        if self.overdue:
            return "OVERDUE"
        return "FAILED" if self.last and self.last.outcome == "failed" else "OK"

    def due_words(self) -> str:
        """``due in 3d04h`` / ``overdue by 2h05m`` / ``never run: overdue`` / ``not scheduled``."""
        if not self.kind.enabled:
            return "not scheduled"
        if self.next_due is None:
            return "never run: overdue"
        left = self.next_due - self.now
        if left > 0:
            return f"due in {format_duration(left)}"
        return f"overdue by {format_duration(-left)}"


def cadence_words(seconds: float) -> str:
    if seconds in CADENCE_WORDS:
        return CADENCE_WORDS[seconds]
    if seconds % DAY == 0:
        return f"every {int(seconds // DAY)}d"
    return f"every {format_duration(seconds)}"


def completed_time(run: RunSummary) -> float:
    return run.finished_at if run.finished_at is not None else run.started_at


def drill_status(kind: DrillKind, runs: Iterable[RunSummary], now: float) -> DrillStatus:
    done = [r for r in runs if r.drill == kind.id and r.outcome in OUTCOMES
            and completed_time(r) <= now]
    last = max(done, key=completed_time, default=None)
    next_due = completed_time(last) + kind.cadence if last else None
    return DrillStatus(kind, last, next_due, now)


def schedule(kinds: Iterable[DrillKind], runs: Iterable[RunSummary],
             now: float) -> list[DrillStatus]:
    runs = list(runs)
    return [drill_status(k, runs, now) for k in kinds]


def merge_kinds(overrides: Mapping[str, Mapping[str, object]]) -> tuple[DrillKind, ...]:
    """The plan's kinds with ``[drills.ID]`` values laid over them (new ids appended).
    ``overrides`` are already validated (config.py): cadence in seconds."""
    out = {k.id: k for k in PLAN_DRILLS}
    for kid, vals in overrides.items():
        base = out.get(kid) or DrillKind(kid, kid, DAY)
        out[kid] = DrillKind(
            kid, str(vals.get("title") or base.title),
            float(vals["cadence"]) if vals.get("cadence") is not None else base.cadence,  # type: ignore[arg-type]
            str(vals["runbook"]) if vals.get("runbook") is not None else base.runbook,
            str(vals["scenario"]) if vals.get("scenario") is not None else base.scenario,
            bool(vals["enabled"]) if vals.get("enabled") is not None else base.enabled)
    return tuple(out.values())
