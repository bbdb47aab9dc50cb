"""The demo scenario engine and the clock functions (pure, with an injected clock)."""

from __future__ import annotations

import tomllib

import pytest

from cockpit.config import Milestones
from cockpit.document import DocumentError
from cockpit.health import Status
from cockpit.incident.clocks import Level, countdown, incident_clocks, level_for
from cockpit.incident.fold import fold
from cockpit.scenario import ScenarioPlayer, builtin_demo, parse_scenario
from cockpit.session.demo import DemoSession
from cockpit.timeutil import FixedClock, format_clock, format_duration, parse_duration

T0 = 1_800_000_000.0


def test_demo_scenario_loads_and_covers_every_service_of_the_plan():
    s = builtin_demo()
    assert {x.id for x in s.services} == {"database", "backend", "frontend", "redis", "backups", "stellar", "dns"}
    assert s.loop and s.length == 1800


def test_demo_is_a_pure_function_of_time():
    s = builtin_demo()
    a, b = ScenarioPlayer(s, T0), ScenarioPlayer(s, T0)
    for off in (0, 61, 125, 400, 1000, 1799):
        assert a.health(T0 + off) == b.health(T0 + off)
        assert a.entries(T0 + off) == b.entries(T0 + off)


def test_demo_story_database_goes_down_then_recovers():
    p = ScenarioPlayer(builtin_demo(), T0)
    status = lambda off: {h.service: h.status for h in p.health(T0 + off)}  # noqa: E731
    assert status(10)["database"] == Status.OK
    assert status(130)["database"] == Status.FAIL
    assert status(130)["backend"] == Status.FAIL
    assert status(16 * 60)["dns"] == Status.STALE
    assert status(21 * 60)["database"] == Status.OK
    inc = fold(p.entries(T0 + 300))
    assert inc is not None and inc.severity == "P0" and inc.impact_start == T0 + 120
    assert fold(p.entries(T0 + 60)) is None


def test_demo_loops():
    p = ScenarioPlayer(builtin_demo(), T0)
    assert p.health(T0 + 130) == [
        h for h in p.health(T0 + 1800 + 130)
    ] or all(x.status == y.status for x, y in zip(p.health(T0 + 130), p.health(T0 + 1930), strict=True))


def test_stale_service_never_looks_fresh():
    p = ScenarioPlayer(builtin_demo(), T0)
    dns = {h.service: h for h in p.health(T0 + 17 * 60)}["dns"]
    assert dns.status == Status.STALE
    assert dns.age(T0 + 17 * 60) == pytest.approx(120)


def test_scenario_errors_name_file_and_line():
    text = '[scenario]\ntitle = "x"\nlength = "1m"\n\n[[inject]]\nat = "1s"\nservice = "nope"\nstatus = "ok"\n'
    with pytest.raises(DocumentError) as e:
        parse_scenario(tomllib.loads(text), text, "s.toml")
    assert e.value.one_line() == "s.toml:7: inject[0].service: unknown service 'nope'"


@pytest.mark.parametrize("used,level", [
    (0, Level.OK), (1799, Level.OK), (1800, Level.AMBER), (3239, Level.AMBER),
    (3240, Level.RED), (3599, Level.RED), (3600, Level.BREACHED), (9000, Level.BREACHED),
])
def test_rto_levels_before_at_and_after_each_threshold(used, level):
    assert level_for(used, 3600) == level
    c = countdown("rto:db", "RTO db", 3600, T0, T0 + used)
    assert c.level == level and c.remaining == 3600 - used


def test_countdown_stops_when_done():
    assert countdown("m", "Detect", 300, T0, T0 + 9999, done_at=T0 + 200).level == Level.MET
    c = countdown("m", "Detect", 300, T0, T0 + 9999, done_at=T0 + 301)
    assert c.level == Level.MISSED and c.elapsed == 301 and c.done


def test_incident_clocks_from_the_demo():
    env = DemoSession.start(builtin_demo(), at=400, clock=FixedClock(T0))
    clocks = env.view().clocks
    keys = [c.key for c in clocks]
    assert keys[:3] == ["rto:database", "rto:backend", "rpo:database"]
    by = {c.key: c for c in clocks}
    assert by["rto:database"].elapsed == 400 - 120  # anchored at impact start, not declaration
    assert by["milestone:detect"].level == Level.MET
    assert by["milestone:detect"].elapsed == 60
    assert by["rpo:database"].elapsed == 30


def test_no_incident_no_clocks():
    assert incident_clocks(None, [], {}, Milestones(), T0) == []


@pytest.mark.parametrize("text,seconds", [("15m", 900), ("1h", 3600), ("1h30m", 5400), ("250ms", 0.25), (5, 5)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "", "5 minutes", -1, True])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_formats():
    assert format_duration(45) == "45s"
    assert format_duration(185) == "3m05s"
    assert format_duration(3720) == "1h02m"
    assert format_clock(-65) == "-0:01:05"


# ---------------------------------------------------------------- the plan's targets, table-driven
from cockpit.incident.clocks import ServiceTargets  # noqa: E402
from cockpit.incident.model import SimEntry  # noqa: E402

PLAN = [ServiceTargets("database", "PostgreSQL", 3600, 900), ServiceTargets("backend", "Backend API", 7200, None),
        ServiceTargets("frontend", "Frontend", 4 * 3600, None), ServiceTargets("redis", "Redis", 7200, 3600)]
MS = Milestones()  # detect 5m, respond 15m, communicate 30m


def _incident(declared_after_impact: float = 0.0, **extra):
    entries = [SimEntry(T0 + declared_after_impact, "oncall", "incident.declared",
                        {"title": "t", "severity": "P0", "services": ["database", "backend", "frontend", "redis"],
                         "impact_start": T0})]
    for ts, kind, data in extra.get("more", []):
        entries.append(SimEntry(T0 + ts, "oncall", kind, data))
    return fold(entries)


def _fractions(target):
    return [(0, Level.OK), (0.5 * target - 1, Level.OK), (0.5 * target, Level.AMBER),
            (0.9 * target - 1, Level.AMBER), (0.9 * target, Level.RED), (target - 1, Level.RED),
            (target, Level.BREACHED), (target + 60, Level.BREACHED)]


@pytest.mark.parametrize("service", PLAN, ids=lambda s: s.id)
def test_rto_countdown_over_the_plan_targets(service):
    inc = _incident()
    for elapsed, level in _fractions(service.rto):
        by = {c.key: c for c in incident_clocks(inc, PLAN, {}, MS, T0 + elapsed)}
        c = by[f"rto:{service.id}"]
        assert (c.level, c.remaining) == (level, service.rto - elapsed), (service.id, elapsed)


@pytest.mark.parametrize("service", [s for s in PLAN if s.rpo], ids=lambda s: s.id)
def test_rpo_exposure_over_the_plan_targets(service):
    from cockpit.health import ServiceHealth

    inc = _incident()
    for exposure, level in _fractions(service.rpo):
        h = {service.id: ServiceHealth(service.id, service.title, Status.FAIL, "", T0, rpo_exposure=exposure)}
        c = {c.key: c for c in incident_clocks(inc, PLAN, h, MS, T0 + 10)}[f"rpo:{service.id}"]
        assert c.level == level, (service.id, exposure)
    c = {c.key: c for c in incident_clocks(inc, PLAN, {}, MS, T0)}[f"rpo:{service.id}"]
    assert c.level == Level.IDLE  # no measurement: not invented


@pytest.mark.parametrize("name,target", [("detect", 300), ("respond", 900), ("communicate", 1800)])
def test_milestones_over_the_plan_targets(name, target):
    for elapsed, level in _fractions(target):
        if name == "detect":  # impact start -> declaration
            inc = _incident(declared_after_impact=elapsed)
            now = T0 + elapsed
        else:  # declaration -> first action / first communication; still running at `now`
            inc = _incident()
            now = T0 + elapsed
        c = {c.key: c for c in incident_clocks(inc, PLAN, {}, MS, now)}[f"milestone:{name}"]
        if name == "detect":
            assert c.done and c.level == (Level.MET if elapsed <= target else Level.MISSED)
        else:
            assert c.level == level and not c.done


def test_milestones_stop_when_reached():
    inc = _incident(more=[(600, "note", {"type": "action", "text": "restart"}),
                          (2000, "note", {"type": "communication", "text": "status page"})])
    by = {c.key: c for c in incident_clocks(inc, PLAN, {}, MS, T0 + 5000)}
    assert by["milestone:respond"].level == Level.MET and by["milestone:respond"].elapsed == 600
    assert by["milestone:communicate"].level == Level.MISSED and by["milestone:communicate"].elapsed == 2000
    assert by["comms:update"].elapsed == 3000 and by["comms:update"].level == Level.BREACHED


def test_rto_anchor_is_impact_start_not_declaration():
    inc = _incident(declared_after_impact=600)
    by = {c.key: c for c in incident_clocks(inc, PLAN, {}, MS, T0 + 900)}
    assert by["rto:database"].elapsed == 900  # from impact, not from the declaration at +600
    assert by["milestone:respond"].elapsed == 300  # respond counts from the declaration
    late_impact = fold([SimEntry(T0, "o", "incident.declared", {"title": "t", "services": ["database"]})])
    assert {c.key: c for c in incident_clocks(late_impact, PLAN, {}, MS, T0 + 60)}["rto:database"].elapsed == 60


def test_a_recovered_service_stops_its_rto_clock():
    inc = _incident(more=[(100, "health", {"service": "backend", "status": "fail"}),
                          (1800, "health", {"service": "backend", "status": "ok"}),
                          (1900, "health", {"service": "database", "status": "warn"})])
    by = {c.key: c for c in incident_clocks(inc, PLAN, {}, MS, T0 + 9000)}
    assert by["rto:backend"].done and by["rto:backend"].elapsed == 1800 and by["rto:backend"].level == Level.MET
    assert not by["rto:database"].done and by["rto:database"].level == Level.BREACHED
    # the whole incident recovered: every clock is fixed at its achieved value
    inc = _incident(more=[(4000, "incident.status", {"status": "recovered"})])
    by = {c.key: c for c in incident_clocks(inc, PLAN, {}, MS, T0 + 99999)}
    assert by["rto:database"].elapsed == 4000 and by["rto:database"].level == Level.MISSED
    assert by["rto:frontend"].level == Level.MET
