"""B6 of the ux review, for the screens merged after the contrast test was written: every
fg/bg pair of the drills view (l), the review screen, the exercise facilitator's and a
player's screens, the sync line and its banner, and the browser observer's banner meets
4.5:1, in colour and under NO_COLOR (measured as in test_contrast.py)."""

from __future__ import annotations

import pytest
from review.helpers import record
from review.test_review_ui import app_for

from cockpit.incident.store import IncidentStore
from cockpit.screens.app import CockpitApp
from cockpit.screens.drills import DrillsScreen
from cockpit.session.live import LiveSession
from cockpit.session.observer import ObserverSession
from cockpit.timeutil import FixedClock

from .helpers import T0, banner_text, demo_app, wait_until
from .test_contrast import check, mode  # noqa: F401 - the colour / NO_COLOR fixture
from .test_exercise_screens import _played, facilitator_app, player_app
from .test_observer import _config
from .test_sync_line import WANT, sync_app

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_b6_drills_view_and_review_screen_meet_4_5(mode, size, tmp_path):  # noqa: F811
    problems: list[str] = []
    app = demo_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("l")
        assert await wait_until(pilot, lambda: isinstance(app.screen, DrillsScreen))
        await pilot.pause()
        check(app, f"{mode} drills view", problems)
    state = tmp_path / "state"
    iid, at = record(state)
    for moment in ("step done", *sorted(set(at) - {"step done"})[:1]):
        app = app_for(state, iid, at=at[moment])
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            check(app, f"{mode} review at {moment!r}", problems)
            await pilot.press("question_mark")
            await pilot.pause()
            check(app, f"{mode} review help", problems)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_b6_exercise_facilitator_and_player_screens_meet_4_5(mode, size, tmp_path):  # noqa: F811
    problems: list[str] = []
    wall = _played(tmp_path / "state")
    app = facilitator_app(tmp_path / "state", wall)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        check(app, f"{mode} facilitator", problems)
        await pilot.press("tab")
        await pilot.pause()
        check(app, f"{mode} facilitator, next area", problems)
    app = player_app(tmp_path / "state", wall)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        check(app, f"{mode} player", problems)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_b6_sync_line_and_banner_meet_4_5(mode, size, tmp_path, monkeypatch):  # noqa: F811
    problems: list[str] = []
    app, session = sync_app(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=size) as pilot:
            assert await wait_until(pilot, lambda: session.sync_status() == WANT)
            app.refresh_view()
            await pilot.pause()
            assert "Sync behind" in banner_text(app)
            check(app, f"{mode} sync banner and line", problems)
    finally:
        session.stop()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_b6_browser_observer_banner_meets_4_5(mode, size, tmp_path):  # noqa: F811
    problems: list[str] = []
    state = tmp_path / "state"
    store = IncidentStore(state, author="alice")
    iid = store.declare("Disk full", "P1", ["database"])
    store.close()
    live = LiveSession(_config(), state, clock=FixedClock(T0 + 60), probes=False, observer=True)
    live.follow(iid)
    app = CockpitApp(ObserverSession(live, f"INCIDENT {iid}"), tick=0)
    async with app.run_test(size=size) as pilot:
        assert await wait_until(pilot, lambda: "READ-ONLY" in banner_text(app))
        check(app, f"{mode} observer", problems)
    assert not problems, "\n".join(problems)
