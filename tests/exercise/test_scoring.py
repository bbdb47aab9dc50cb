"""A scripted exercise, scored: players act at chosen moments through the journal API, the
facilitator steers the clock, and every expected outcome comes out met, late (by how much)
or missed, decided from the journal alone. Table-driven."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cockpit.exercise.report import render
from cockpit.exercise.scoring import decide

from .helpers import MIN, Exercise

SCENARIO = """
[scenario]
id = "scoring"
title = "Scoring drill"
category = "database"
length = "60m"
runbooks = ["database"]

[[service]]
id = "database"
title = "PostgreSQL"
priority = "P0"
rto = "1h"
rpo = "15m"

[[service]]
id = "backend"
title = "Backend API"
priority = "P0"
rto = "2h"

[[inject]]
at = "0s"
service = "database"
status = "ok"
rpo_exposure = "30s"

[[inject]]
id = "fail"
at = "2m"
synopsis = "db-1 stops answering"
service = "database"
status = "fail"
rpo_exposure = "1m"
rpo_growing = true

[[inject.expect]]
id = "declare"
kind = "declared"

[[inject.expect]]
id = "sev"
kind = "severity"
severity = "P0"

[[inject.expect]]
id = "ic"
kind = "role"
role = "commander"
within = "5m"

[[inject.expect]]
id = "decision"
kind = "note"
type = "decision"
contains = "promote"
within = "10m"

[[inject.expect]]
id = "promote"
kind = "step"
runbook = "database"
step = "promote-replica"
by = "25m"

[[inject.expect]]
id = "update"
kind = "communication"

[[inject.expect]]
id = "services"
kind = "services"
services = ["database", "backend"]
within = "10m"

[[inject.expect]]
id = "mitigated"
kind = "status"
status = "mitigated"
by = "40m"

[[inject.expect]]
id = "rto"
kind = "rto"
service = "database"

[[inject.expect]]
id = "respond"
kind = "milestone"
milestone = "respond"

[[inject.expect]]
id = "judgement"
kind = "manual"
text = "The commander keeps one plan"

[[inject]]
id = "back"
at = "30m"
synopsis = "db-2 serves as primary"
service = "database"
status = "ok"
"""


def declare(sev: str, services: list[str]) -> Callable[[Exercise], None]:
    def act(x: Exercise) -> None:
        x.write("alice", "incident.declared", {"title": "db down", "severity": sev,
                                               "services": services, "exercise": x.id})
    return act


def write(kind: str, **data: object) -> Callable[[Exercise], None]:
    return lambda x: x.write("alice", kind, dict(data))


def confirm_step(runbook: str, step: str) -> Callable[[Exercise], None]:
    def act(x: Exercise) -> None:
        base = {"runbook": runbook, "step": step, "attempt": 1, "run": "r1"}
        x.write("bob", "step.started", {**base, "rehearsal": True, "detail": "rehearsal"})
        x.write("bob", "step.succeeded", {**base, "rehearsal": True, "detail": "rehearsed"})
        x.write("bob", "step.confirmed", {**base, "detail": "confirmed done"})
    return act


def clock(action: str, **values: float) -> Callable[[Exercise], None]:
    return lambda x: x.clock(action, **values)


def mark(outcome: str, value: str, comment: str) -> Callable[[Exercise], None]:
    return lambda x: x.facilitator.mark(x.id, outcome, value, comment)


# (wall minute, action); the exercise clock starts at wall minute 0, 1x.
CASES = {
    "on-time": (
        [(3, declare("P0", ["database", "backend"])),
         (4, write("role.assigned", role="commander", person="alice")),
         (5, write("note", type="decision", text="Promote db-2 now")),
         (6, write("note", type="action", text="fencing db-1")),
         (10, write("note", type="communication", text="API degraded, next update 09:00")),
         (20, confirm_step("database", "promote-replica")),
         (35, write("incident.status", status="mitigated")),
         (60, clock("end"))],
        {"declare": ("met", None), "sev": ("met", None), "ic": ("met", None),
         "decision": ("met", None), "promote": ("met", None), "update": ("met", None),
         "services": ("met", None), "mitigated": ("met", None), "rto": ("met", None),
         "respond": ("met", None), "judgement": ("manual", None)},
    ),
    "late": (
        [(9, declare("P1", ["database"])),  # detect deadline T+7m: 2 min late
         (12, write("incident.updated", severity="P0")),  # at the declaration (9m): 3 late
         (13, write("incident.updated", services=["database", "backend"])),  # T+12m: 1 late
         (20, write("role.assigned", role="commander", person="alice")),  # T+7m: 13 late
         (21, write("note", type="decision", text="we PROMOTE db-2")),  # T+12m: 9 late
         (26, write("note", type="action", text="fencing")),  # respond: 17 min after 9m
         (30, confirm_step("database", "promote-replica")),  # T+25m: 5 late
         (45, write("note", type="communication", text="status page")),  # 9+30=39: 6 late
         (50, write("incident.status", status="recovered")),  # past mitigated: 10 late
         (60, clock("end"))],
        {"declare": ("late", 2 * MIN), "sev": ("late", 3 * MIN), "ic": ("late", 13 * MIN),
         "decision": ("late", 9 * MIN), "promote": ("late", 5 * MIN),
         "update": ("late", 6 * MIN), "services": ("late", 1 * MIN),
         "mitigated": ("late", 10 * MIN), "rto": ("met", None), "respond": ("late", 2 * MIN),
         "judgement": ("manual", None)},
    ),
    "missed": (
        [(3, declare("P1", ["database"])),
         (5, write("note", type="decision", text="wait and see")),  # no "promote" in it
         (8, confirm_step("database", "fence-old-primary")),  # another step
         (60, clock("end"))],
        {"declare": ("met", None), "sev": ("missed", None), "ic": ("missed", None),
         "decision": ("missed", None), "promote": ("missed", None),
         "update": ("missed", None), "services": ("missed", None),
         "mitigated": ("missed", None), "rto": ("met", None), "respond": ("met", None),
         "judgement": ("manual", None)},
    ),
    "nothing-declared": (
        [(60, clock("end"))],
        {"declare": ("missed", None), "sev": ("missed", None), "ic": ("missed", None),
         "promote": ("missed", None), "update": ("missed", None), "rto": ("missed", None),
         "respond": ("missed", None)},
    ),
    # The facilitator pauses at T+4m for 20 real minutes, then runs 10x: the players' entries
    # count in scenario time, not wall time.
    "paused-then-10x": (
        [(4, clock("pause")),
         (10, declare("P0", ["database", "backend"])),  # paused: T+4m, in time
         (12, write("role.assigned", role="commander", person="alice")),  # T+4m
         (24, clock("resume")),
         (24, clock("speed", speed=10)),
         (26, confirm_step("database", "promote-replica")),  # T+4m + 20m = T+24m: in time
         (26.5, write("note", type="communication", text="first update")),  # T+29m: in time
         (27, write("incident.status", status="mitigated")),  # T+34m: in time
         (29, clock("end"))],  # T+54m
        {"declare": ("met", None), "sev": ("met", None), "ic": ("met", None),
         "promote": ("met", None), "update": ("met", None), "mitigated": ("met", None),
         "decision": ("missed", None), "rto": ("met", None)},
    ),
    "evaluator-marks": (
        [(3, declare("P0", ["database"])),
         (20, write("role.assigned", role="commander", person="alice")),
         (30, mark("ic", "partly", "named late, but ran the bridge well")),
         (31, mark("judgement", "met", "one plan, one owner")),
         (32, mark("declare", "missed", "declared on the evaluator's prompt")),
         (60, clock("end"))],
        {"ic": ("late", 13 * MIN), "judgement": ("manual", None), "declare": ("met", None)},
    ),
}
FINAL = {"evaluator-marks": {"ic": "partly", "judgement": "met", "declare": "missed"}}


@pytest.mark.parametrize("case", list(CASES))
def test_scripted_exercise_is_scored_met_late_missed(tmp_path, case):
    actions, want = CASES[case]
    x = Exercise(tmp_path / "state", SCENARIO)
    try:
        for minute, act in actions:
            x.at(minute)
            act(x)
        tl = x.timeline()
        score = decide(tl, x.wall.now())
        got = {d.outcome.id: d for d in score.decisions}
        assert score.ended
        for oid, (state, late_by) in want.items():
            d = got[oid]
            assert d.state == state, (oid, d)
            if late_by is None:
                assert d.late_by is None, (oid, d)
            else:
                assert d.late_by == pytest.approx(late_by), (oid, d)
        for oid, final in FINAL.get(case, {}).items():
            assert got[oid].final == final and got[oid].mark is not None
        report = render(tl, x.wall.now(), score)
        assert report.startswith("# EXERCISE: after-action report")
    finally:
        x.close()


def test_points_and_percent(tmp_path):
    actions, _ = CASES["evaluator-marks"]
    x = Exercise(tmp_path / "state", SCENARIO)
    try:
        for minute, act in actions:
            x.at(minute)
            act(x)
        score = decide(x.timeline(), x.wall.now())
        finals = [d.final for d in score.decisions]
        assert "manual" not in [d.final for d in score.scored]
        points = {"met": 1, "partly": 0.5, "late": 0.5, "missed": 0}
        expected = round(100 * sum(points[f] for f in finals if f in points)
                         / sum(1 for f in finals if f in points), 1)
        assert score.percent == expected
    finally:
        x.close()


def test_while_running_a_deadline_passed_is_overdue_and_can_still_be_late(tmp_path):
    x = Exercise(tmp_path / "state", SCENARIO)
    try:
        x.at(8)  # T+8m: the declaration was due by T+7m
        d = {d.outcome.id: d for d in decide(x.timeline(), x.wall.now()).decisions}
        assert d["declare"].state == "overdue" and d["ic"].state == "overdue"
        assert d["decision"].state == "pending"  # due by T+12m
        assert d["promote"].state == "pending"
        x.at(9)
        declare("P0", ["database"])(x)
        d = {d.outcome.id: d for d in decide(x.timeline(), x.wall.now()).decisions}
        assert d["declare"].state == "late" and d["declare"].late_by == pytest.approx(2 * MIN)
    finally:
        x.close()


def test_rto_and_respond_come_from_the_metrics_core(tmp_path):
    """The outcome and the report's figure are one number: incident_metrics'."""
    from cockpit.incident.metrics import incident_metrics

    actions, _ = CASES["late"]
    x = Exercise(tmp_path / "state", SCENARIO)
    try:
        for minute, act in actions:
            x.at(minute)
            act(x)
        tl = x.timeline()
        score = decide(tl, x.wall.now())
        sim = tl.base + score.offset
        m = incident_metrics(tl.fold_entries(sim), tl.scenario.services, tl.scenario.milestones,
                             sim)
        assert m is not None and score.metrics == m
        rto = m.figure("rto:database")
        respond = m.figure("milestone:respond")
        d = {d.outcome.id: d for d in score.decisions}
        declared = (m.incident.declared_at or 0) - tl.base
        assert d["rto"].achieved == pytest.approx(declared + (rto.achieved or 0))
        assert d["respond"].late_by == pytest.approx((respond.achieved or 0) - respond.target)
    finally:
        x.close()
