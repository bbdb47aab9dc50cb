"""The one metrics core, table-driven: every figure comes from the incident's entries through
the same clock functions the cockpit shows (met, missed, a service never recovered, RPO
unknown), and the totals are the plan's success metrics."""

from __future__ import annotations

import pytest

from cockpit.incident.clocks import Level, ServiceTargets, incident_clocks
from cockpit.incident.fold import fold
from cockpit.incident.metrics import REVIEW_DUE, compliance, incident_metrics, rpo_achieved
from cockpit.incident.model import SimEntry
from cockpit.plan import Milestones

T0 = 1_800_000_000.0
SERVICES = (ServiceTargets("database", "PostgreSQL", 3600.0, 900.0),
            ServiceTargets("backend", "Backend API", 7200.0, None))
M = Milestones()


def E(t: float, kind: str, **data) -> SimEntry:
    return SimEntry(T0 + t, "alice", kind, data)


def declared(t=0.0, impact=-120.0, services=("database", "backend")) -> SimEntry:
    return E(t, "incident.declared", title="db lost", severity="P0", services=list(services),
             impact_start=T0 + impact)


CASES = {
    # everything within target
    "met": [declared(), E(60, "health", service="database", status="fail", rpo_exposure=300.0),
            E(240, "note", type="action", text="promote"),
            E(600, "note", type="communication", text="update"),
            E(1800, "health", service="database", status="ok"),
            E(2400, "health", service="backend", status="ok"),
            E(2500, "incident.status", status="recovered"),
            E(3000, "incident.status", status="closed")],
    # late on everything: detect after 10 min, respond after 20, no communication, RTO blown
    "missed": [declared(t=480, impact=-120.0),
               E(700, "health", service="database", status="fail", rpo_exposure=1500.0),
               E(1700, "incident.status", status="responding"),
               E(5000, "health", service="database", status="ok"),
               E(9000, "health", service="backend", status="ok"),
               E(9100, "incident.status", status="recovered")],
    # the database never came back: its RTO clock still runs (and is breached) at the end
    "never-recovered": [declared(), E(10, "note", type="action", text="x"),
                        E(20, "note", type="communication", text="y"),
                        E(4000, "health", service="backend", status="ok")],
    # nothing ever measured the database's exposure: RPO unknown, not "met"
    "rpo-unknown": [declared(), E(30, "health", service="database", status="fail"),
                    E(50, "note", type="action", text="x"),
                    E(100, "note", type="communication", text="y"),
                    E(500, "health", service="database", status="ok"),
                    E(600, "health", service="backend", status="ok"),
                    E(700, "incident.status", status="recovered")],
}

EXPECT = {  # key -> (achieved seconds or None, met)
    "met": {"milestone:detect": (120, True), "milestone:respond": (240, True),
            "milestone:communicate": (600, True), "rto:database": (1920, True),
            "rto:backend": (2520, True), "rpo:database": (300, True)},
    "missed": {"milestone:detect": (600, False), "milestone:respond": (1220, False),
               "milestone:communicate": (None, False), "rto:database": (5120, False),
               "rto:backend": (9120, False), "rpo:database": (1500, False)},
    "never-recovered": {"milestone:detect": (120, True), "rto:database": (None, True),
                        "rto:backend": (4120, True), "rpo:database": (None, None)},
    "rpo-unknown": {"rto:database": (620, True), "rpo:database": (None, None)},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_figures_come_from_the_incident(case):
    entries = CASES[case]
    now = T0 + 3600 * 3
    m = incident_metrics(entries, SERVICES, M, now)
    assert m is not None
    for key, (achieved, met) in EXPECT[case].items():
        f = m.figure(key)
        assert f is not None, key
        if case == "never-recovered" and key == "rto:database":
            assert f.running and f.achieved is None and f.met is False  # breached, running
            continue
        assert f.achieved == (None if achieved is None else pytest.approx(achieved)), key
        assert f.met is met, key


@pytest.mark.parametrize("case", sorted(CASES))
def test_figures_agree_with_the_clocks_on_screen(case):
    """Cross-check: each milestone and RTO figure equals what incident_clocks shows at the
    moment the metrics were taken."""
    entries = CASES[case]
    now = T0 + 3600 * 3
    m = incident_metrics(entries, SERVICES, M, now)
    assert m is not None
    clocks = {c.key: c for c in incident_clocks(fold(entries), SERVICES, {}, M, m.measured_at)}
    for f in (*m.milestones, *m.rto):
        c = clocks[f.key]
        assert f.target == c.target
        if c.level == Level.UNMET:  # stopped by the end of the incident, never reached
            assert f.achieved is None and f.met is False
        elif c.done:
            assert f.achieved == c.elapsed and f.met == (c.elapsed <= c.target)
        else:
            assert f.achieved is None and f.running


def test_rpo_is_the_exposure_when_the_service_failed():
    entries = [declared(), E(5, "health", service="database", status="ok", rpo_exposure=50.0),
               E(10, "health", service="database", status="fail", rpo_exposure=400.0),
               E(20, "health", service="database", status="warn", rpo_exposure=700.0)]
    assert rpo_achieved(entries, "database") == 700.0
    assert rpo_achieved(entries, "backend") is None


def test_compliance_in_percent_and_reviews():
    now = T0 + 30 * 86400
    items = [incident_metrics(CASES[c], SERVICES, M, now) for c in sorted(CASES)]
    closed = [*CASES["met"], E(3100, "review.done", path="pir.md")]
    items.append(incident_metrics(closed, SERVICES, M, now))
    c = compliance([i for i in items if i is not None], now)
    assert c.incidents == 5
    # RTO met: met 2/2, missed 0/2, never-recovered 1/2 (the database's clock is still
    # running past its target: a miss), rpo-unknown 2/2, met again 2/2
    assert c.rto_percent == pytest.approx(100 * 7 / 10, abs=0.1)
    assert c.rpo_percent == pytest.approx(100 * 2 / 3, abs=0.1)  # unknown is not counted
    assert c.milestone_percent["detect"] == pytest.approx(100 * 4 / 5, abs=0.1)
    # two closed incidents: one reviewed in time, one 30 days overdue
    assert c.reviews_overdue == 1 and c.reviews_on_time_percent == 50.0
    assert items[-1].review_due == T0 + 3000 + REVIEW_DUE
