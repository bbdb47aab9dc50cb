"""The drills view: l opens the DR testing schedule (data from the session seam), every
state shown in words and colour; snapshots at 80x24 and 120x40 on a fixed clock; the live
session reads the real drill journals."""

from __future__ import annotations

import pytest

from cockpit.drills.store import DrillStore
from cockpit.screens.drills import DrillsScreen
from cockpit.timeutil import FixedClock

from .helpers import T0, demo_app, wait_until


def test_the_demo_board_has_every_state():
    app = demo_app()
    board = app.session.drills()
    states = {s.kind.id: (s.state, s.due_words()) for s in board.rows}
    assert states == {
        "backup-verify": ("OK", "due in 19h00m"),
        "restore": ("OVERDUE", "overdue by 2d00h"),
        "failover": ("FAILED", "due in 18d00h"),
        "full-exercise": ("OK", "due in 51d00h"),
        "tabletop": ("OVERDUE", "never run: overdue"),
    }
    assert board.overdue == ("restore", "tabletop")
    assert board.metrics.backup_runs == 22 and board.metrics.backup_passed == 21


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_drills_screen(snap_compare, size):
    app = demo_app()

    async def check(pilot):
        await pilot.press("l")
        assert await wait_until(pilot, lambda: isinstance(app.screen, DrillsScreen))
        await pilot.pause()
        text = str(app.screen.query_one("#drills-metrics").render())
        assert "OVERDUE: restore, tabletop" in text
        assert "Backup success rate 95%" in text

    assert snap_compare(app, terminal_size=size, run_before=check)


async def test_l_in_the_live_cockpit_reads_the_drill_journals(tmp_path):
    from cockpit.config import parse_config
    from cockpit.screens.app import CockpitApp
    from cockpit.session.live import LiveSession

    state = tmp_path / "state"
    cfg = parse_config({"drills": {"restore": {"cadence": "3d"}}}, "",
                       tmp_path / "cockpit.toml")
    store = DrillStore(state, clock=FixedClock(T0 - 4 * 86400), author="alice")
    store.record("restore", "passed")
    store.close()
    session = LiveSession(cfg, state, clock=FixedClock(T0), probes=False)
    app = CockpitApp(session, tick=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        assert await wait_until(pilot, lambda: isinstance(app.screen, DrillsScreen))
        rows = {s.kind.id: s for s in app.screen.board.rows}
        assert rows["restore"].state == "OVERDUE"
        assert rows["restore"].due_words() == "overdue by 1d00h"
        assert rows["restore"].result == "passed"
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: not isinstance(app.screen, DrillsScreen))
    session.stop()


def test_an_exercise_cockpit_shows_the_real_drill_schedule_at_wall_time(tmp_path):
    """An exercise runs on scenario time; its drills view is the state directory's real
    schedule at wall time (and never counts the exercise itself)."""
    import tomllib

    from cockpit.exercise.library import scenario_dir
    from cockpit.exercise.schema import parse_scenario
    from cockpit.exercise.store import ExerciseStore
    from cockpit.session.exercise import ExerciseSession

    state = tmp_path / "state"
    wall = FixedClock(T0)
    text = (scenario_dir() / "database-loss.toml").read_text(encoding="utf-8")
    ExerciseStore(state, clock=wall, author="fac").start(
        parse_scenario(tomllib.loads(text), text, "s.toml"), text, source="test",
        running=True, speed=10, exercise_id="20270115-080000-database-loss-0001")
    store = DrillStore(state, clock=FixedClock(T0 - 86400), author="alice")
    store.record("tabletop", "passed")
    store.close()
    wall.advance(3600)
    s = ExerciseSession(state, "20270115-080000-database-loss-0001", wall=wall, author="bob")
    board = s.drills()
    rows = {r.kind.id: r for r in board.rows}
    assert board.now == T0 + 3600
    assert rows["tabletop"].result == "passed" and not rows["tabletop"].overdue
    assert rows["restore"].due_words() == "never run: overdue"
