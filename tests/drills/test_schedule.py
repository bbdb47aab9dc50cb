"""Overdue computation over the plan's cadences with an injected clock (table-driven), the
drill metrics, and drill runs kept in their own journal."""

from __future__ import annotations

import pytest

from cockpit.drills.metrics import drill_metrics
from cockpit.drills.schedule import (
    DAY,
    PLAN_DRILLS,
    DrillKind,
    RunSummary,
    drill_status,
    merge_kinds,
    schedule,
)
from cockpit.drills.store import DrillError, DrillStore
from cockpit.journal import read_incident
from cockpit.timeutil import FixedClock

T0 = 1_800_000_000.0  # an arbitrary instant; the clock is injected, never the wall clock
H = 3600.0
KINDS = {k.id: k for k in PLAN_DRILLS}


def test_the_plans_cadences_are_the_defaults():
    assert {k.id: k.cadence for k in PLAN_DRILLS} == {
        "backup-verify": DAY, "restore": 7 * DAY, "failover": 30 * DAY,
        "full-exercise": 91 * DAY, "tabletop": 182 * DAY}
    assert KINDS["restore"].runbook == "restore-drill"


# drill, age of the last completed run at "now" (None: never run), outcome, overdue?, words
CASES = [
    ("backup-verify", None, None, True, "never run: overdue"),
    ("backup-verify", 23 * H, "passed", False, "due in 1h00m"),
    ("backup-verify", 24 * H, "passed", True, "overdue by 0s"),
    ("backup-verify", 26 * H, "passed", True, "overdue by 2h00m"),
    ("restore", 6 * DAY, "passed", False, "due in 1d00h"),
    ("restore", 7 * DAY + 90, "passed", True, "overdue by 1m30s"),
    ("restore", 3 * DAY, "failed", False, "due in 4d00h"),  # done, found a problem
    ("failover", 29 * DAY, "passed", False, "due in 1d00h"),
    ("failover", 31 * DAY, "passed", True, "overdue by 1d00h"),
    ("full-exercise", 90 * DAY, "passed", False, "due in 1d00h"),
    ("full-exercise", 92 * DAY, "failed", True, "overdue by 1d00h"),
    ("tabletop", 181 * DAY, "passed", False, "due in 1d00h"),
    ("tabletop", 200 * DAY, "passed", True, "overdue by 18d00h"),
]


@pytest.mark.parametrize(("drill", "age", "outcome", "overdue", "words"), CASES)
def test_overdue_over_the_plans_cadences(drill, age, outcome, overdue, words):
    clock = FixedClock(T0)
    runs = [] if age is None else [RunSummary(drill, T0 - age - 600, T0 - age, outcome)]
    # a run of another drill, an aborted one and a still-running one never count
    runs += [RunSummary("other", T0 - H, T0 - H, "passed"),
             RunSummary(drill, T0 - H, T0 - 30, "aborted"),
             RunSummary(drill, T0 - 60, None, "running")]
    s = drill_status(KINDS[drill], runs, clock.now())
    assert s.overdue is overdue
    assert s.due_words() == words
    assert s.state == ("OVERDUE" if overdue else "FAILED" if outcome == "failed" else "OK")
    assert s.result == (outcome or "never run")
    clock.advance(KINDS[drill].cadence)  # one cadence later, every drill is overdue
    assert drill_status(KINDS[drill], runs, clock.now()).overdue


def test_the_newest_run_counts_and_a_future_run_does_not():
    k = KINDS["restore"]
    runs = [RunSummary("restore", T0 - 10 * DAY, T0 - 10 * DAY, "passed"),
            RunSummary("restore", T0 - 2 * DAY, T0 - 2 * DAY, "failed"),
            RunSummary("restore", T0 + H, T0 + H, "passed")]
    s = drill_status(k, runs, T0)
    assert s.last is not None and s.last.outcome == "failed"
    assert s.next_due == T0 + 5 * DAY and not s.overdue


def test_a_disabled_drill_is_never_overdue_and_config_overrides_merge():
    kinds = merge_kinds({"restore": {"cadence": 14 * DAY}, "tabletop": {"enabled": False},
                         "dns-failover": {"title": "DNS failover", "cadence": 30 * DAY}})
    by = {k.id: k for k in kinds}
    assert by["restore"].cadence == 14 * DAY and by["restore"].runbook == "restore-drill"
    assert by["dns-failover"].title == "DNS failover"
    rows = {s.kind.id: s for s in schedule(kinds, [], T0)}
    assert rows["tabletop"].state == "OFF" and not rows["tabletop"].overdue
    assert rows["restore"].overdue and rows["dns-failover"].overdue


def test_drill_metrics_backup_success_rate_and_completion_on_schedule():
    kinds = [KINDS["backup-verify"], KINDS["restore"]]
    runs = [RunSummary("backup-verify", T0 - d * DAY - H, T0 - d * DAY - 60, "passed")
            for d in range(0, 10)]  # daily for the last 10 days: 10 of 28 days
    runs.append(RunSummary("backup-verify", T0 - 3 * DAY, T0 - 3 * DAY, "failed"))
    runs += [RunSummary("restore", T0 - w * 7 * DAY - H, T0 - w * 7 * DAY - H, "passed")
             for w in range(4)]  # weekly: all 4 weeks
    runs.append(RunSummary("restore", T0 - 40 * DAY, T0 - 40 * DAY, "passed"))  # outside
    m = drill_metrics(kinds, runs, T0, window=28 * DAY)
    assert (m.backup_runs, m.backup_passed) == (15, 14)
    assert m.backup_success_rate == pytest.approx(14 / 15)
    per = {k.drill: (k.periods, k.done) for k in m.kinds}
    assert per == {"backup-verify": (28, 10), "restore": (4, 4)}
    assert m.completion_on_schedule == pytest.approx(14 / 32)
    empty = drill_metrics(kinds, [], T0)
    assert empty.backup_success_rate is None and empty.completion_on_schedule == 0
    # a cadence longer than the window: one period, the one ending now
    tab = drill_metrics([KINDS["tabletop"]], [RunSummary("tabletop", T0 - DAY, T0 - DAY,
                                                         "passed")], T0, window=28 * DAY)
    assert [(k.periods, k.done) for k in tab.kinds] == [(1, 1)]


def test_drill_runs_have_their_own_journal_apart_from_incidents(tmp_path):
    state = tmp_path / "state"
    clock = FixedClock(T0)
    store = DrillStore(state, clock=clock, author="alice")
    rid = store.record("tabletop", "passed", note="walked through the database-loss scenario")
    clock.advance(60)
    rid2 = store.start("restore", runbook="restore-drill")
    store.finish(rid2, "failed", detail="step restore failed",
                 figures={"failed_step": "restore", "rto": 3600.0, "ignored": 1})
    store.close()
    assert not (state / "incidents").exists()
    runs = DrillStore(state).runs()
    assert [(r.id, r.drill, r.outcome, r.by) for r in runs] == [
        (rid2, "restore", "failed", "alice"), (rid, "tabletop", "passed", "alice")]
    assert runs[0].figures == {"failed_step": "restore", "rto": 3600.0}
    assert runs[1].note == "walked through the database-loss scenario"
    # every entry is a known kind to validation on read (never "?unreadable")
    res = read_incident(state / "drills", rid2, recover=False)
    kinds = [e.kind for e in res.entries]
    assert "drill.started" in kinds and "drill.result" in kinds
    assert not any(e.kind.startswith("?") for e in res.entries)
    with pytest.raises(DrillError):
        DrillStore(state).record("tabletop", "great")


def test_a_custom_drill_kind():
    k = DrillKind("x", "X", 2 * H)
    assert drill_status(k, [RunSummary("x", T0 - H, T0 - H, "passed")], T0).due_words() \
        == "due in 1h00m"
