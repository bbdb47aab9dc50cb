"""The demo scenario engine and the clock functions (pure, with an injected clock)."""

from __future__ import annotations

import tomllib

import pytest

from cockpit.clocks import Level, countdown, incident_clocks, level_for
from cockpit.config import Milestones
from cockpit.environment import DemoEnvironment, derive
from cockpit.health import Status
from cockpit.incident import fold
from cockpit.scenario import ScenarioPlayer, builtin_demo, parse_scenario
from cockpit.schema import DocumentError
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
    env = DemoEnvironment.start(builtin_demo(), at=400, clock=FixedClock(T0))
    now, health, entries, incident, clocks = derive(env)
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
