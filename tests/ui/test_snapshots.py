"""Snapshots of the main screen at 80x24 and 120x40 with a fixed clock."""

from __future__ import annotations

import pytest

from .helpers import demo_app


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("at", [60, 400, 1380], ids=["before-incident", "responding", "recovered"])
def test_main_screen(snap_compare, size, at):
    assert snap_compare(demo_app(at=at), terminal_size=size)


def test_help_screen(snap_compare):
    assert snap_compare(demo_app(), terminal_size=(80, 24), press=["question_mark"])


def clocks_app(at: float):
    from pathlib import Path

    from cockpit.scenario import load_scenario
    from cockpit.screens.app import CockpitApp
    from cockpit.session.demo import DemoSession
    from cockpit.timeutil import FixedClock

    from .helpers import T0

    scenario = load_scenario(Path(__file__).parent / "scenarios" / "clocks.toml")
    env = DemoSession.start(scenario, at=at, clock=FixedClock(T0))
    return CockpitApp(env, tick=0)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("at", [35 * 60, 56 * 60], ids=["amber", "red-breached"])
def test_incident_clock_colours(snap_compare, size, at):
    """35 min: RTO database AMBER, respond BREACHED, detect MISSED, communicate met;
    56 min: RTO database RED, RPO RED, next update BREACHED."""
    assert snap_compare(clocks_app(at), terminal_size=size)


def test_clock_levels_in_the_snapshot_scenarios():
    from cockpit.incident.clocks import Level

    levels = {c.key: c.level for c in clocks_app(35 * 60).session.view().clocks}
    assert levels["rto:database"] == Level.AMBER and levels["rto:backend"] == Level.OK
    assert levels["milestone:detect"] == Level.MISSED and levels["milestone:respond"] == Level.BREACHED
    assert levels["milestone:communicate"] == Level.MET
    levels = {c.key: c.level for c in clocks_app(56 * 60).session.view().clocks}
    assert levels["rto:database"] == Level.RED and levels["rpo:database"] == Level.RED
    assert levels["comms:update"] == Level.BREACHED
