"""The review screen: REVIEW in the title bar, the scrubber's keys move every pane to ``t``,
nothing can be written; snapshots at 80x24 and 120x40 with state assertions beside them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cockpit.screens.review import ReviewApp
from cockpit.session.review import ReviewSession

from .helpers import PLAN, record

WAIT = 15.0  # a loaded machine: wait for an effect this long, never assert a time


def app_for(state: Path, iid: str, at: float | None = None) -> ReviewApp:
    session = ReviewSession(state, iid, plan=PLAN, name="db-outage.tar",
                            signature="signed by alice@example, verified")
    if at is not None:
        session.seek(at)
    return ReviewApp(session)


def screen_text(app: ReviewApp) -> dict[str, str]:
    from cockpit.screens.widgets import ClockPane, HealthPane, LogView, TitleBar

    s = app.main_screen
    assert s is not None
    health = "\n".join(str(c.render()) for row in s.query_one(HealthPane).rows()
                       for c in (row.main, row.age))
    clocks = "\n".join(str(c.render()) for c in s.query_one(ClockPane).query("Cell")
                       if c.display and c.parent.display)
    log = s.query_one(LogView)
    lines = "\n".join(log.line_text(i) for i in range(log.total))
    return {"title": s.query_one(TitleBar).render_text(), "health": health, "clocks": clocks,
            "log": lines, "scrubber": str(s.query_one("#scrubber").render())}


async def until(pilot, cond, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await pilot.pause(0.05)


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, str, dict[str, float]]:
    state = tmp_path / "state"
    iid, at = record(state)
    return state, iid, at


def test_title_bar_says_review_the_bundle_and_its_signature(recorded):
    state, iid, at = recorded

    async def go() -> None:
        app = app_for(state, iid)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            text = screen_text(app)
            assert "REVIEW" in text["title"]
            assert "db-outage.tar" in text["title"] and "verified" in text["title"]
            assert "entry " in text["scrubber"]
    asyncio.run(go())


def test_scrubber_keys_move_every_pane(recorded):
    state, iid, at = recorded

    async def go() -> None:
        app = app_for(state, iid)
        r = app.review
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            end = screen_text(app)
            assert "RECOVERED" in end["clocks"] and "bob" in end["clocks"]
            await pilot.press("less_than_sign")  # the start
            await until(pilot, lambda: r.t == r.timeline.start, "cursor at the start")
            start = screen_text(app)
            assert "DECLARED" in start["clocks"]
            assert "DOWN" in start["health"] and "refused" in start["health"]
            assert start["log"].count("\n") < end["log"].count("\n")
            n = r.count()
            await pilot.press("right")
            await until(pilot, lambda: r.count() > n, "one entry later")
            await pilot.press("right_square_bracket")
            await until(pilot, lambda: r.t >= r.timeline.start + 60, "a minute later")
            await pilot.press("colon")
            await pilot.pause()
            await pilot.press(*"T+6m50s", "enter")
            await until(pilot, lambda: r.t == at["db back"], "the typed time")
            await pilot.pause(0.1)
            mid = screen_text(app)
            assert "replica promoted" in mid["health"] and "alice" in mid["clocks"]
            assert "T+0:06:50" in mid["scrubber"]
            await pilot.press("left")
            await until(pilot, lambda: r.t < at["db back"], "one entry earlier")
            # playing: t moves by itself, at the chosen speed, up to the end
            r.seek(r.timeline.start)
            for _ in range(4):  # 10x -> 30x 60x 120x 300x
                await pilot.press("plus")
            assert r.speed == 300.0
            await pilot.press("space")
            await until(pilot, lambda: r.t == r.timeline.end and not r.playing,
                        "played to the end")
            await pilot.pause(0.1)
            assert screen_text(app)["clocks"] == end["clocks"]
    asyncio.run(go())


def test_write_keys_do_nothing_but_say_read_only(recorded):
    state, iid, _ = recorded
    before = sorted((p.relative_to(state), p.stat().st_size) for p in state.rglob("*"))

    async def go() -> None:
        app = app_for(state, iid)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for key in ("d", "n", "s", "a", "u", "e"):
                await pilot.press(key)
                await pilot.pause()
                assert app.screen is app.main_screen, key  # no form opened
            app.action_note()
            await pilot.pause()
            assert any("read-only" in str(n.message) for n in app._notifications)
    asyncio.run(go())
    assert sorted((p.relative_to(state), p.stat().st_size) for p in state.rglob("*")) == before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_review_screen_snapshot(snap_compare, tmp_path, size):
    state = tmp_path / "state"
    iid, at = record(state)
    app = app_for(state, iid, at=at["step done"])
    view = app.review.view()
    # what the snapshot shows, as state: at "step done" the DB is still DOWN, alice is
    # commander, the incident responding, the promote step succeeded
    assert view.incident is not None and view.incident.status == "responding"
    assert view.incident.role("commander") == "alice"
    assert {h.service: h.status.value for h in view.health} == {"db": "fail", "cache": "ok"}
    assert app.review.runbooks.states("pg")[("pg", "promote")].state == "succeeded"
    assert snap_compare(app, terminal_size=size)


def test_a_big_record_is_read_after_the_first_frame(recorded):
    """``cockpit review`` without --at: the first frame shows the newest entries marked as
    loading, the scrubber waits; once every journal is read, the panes are as of the end."""
    state, iid, at = recorded
    session = ReviewSession(state, iid, plan=PLAN, load=False)
    session.preview()
    first = session.view()
    assert first.loading and first.incident is None and len(first.entries) > 0
    assert "Loading the record" in session.cursor_text()

    async def go() -> None:
        app = ReviewApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: session.loaded, "the record read")
            await until(pilot, lambda: "RECOVERED" in screen_text(app)["clocks"],
                        "the panes as of the end")
            assert session.t == at["recovered"]
            await pilot.press("less_than_sign")
            await until(pilot, lambda: "DECLARED" in screen_text(app)["clocks"], "the start")
    asyncio.run(go())


def test_help_lists_the_timeline_keys_not_the_write_keys(recorded):
    state, iid, _ = recorded

    async def go() -> None:
        from cockpit.screens.modals import HelpScreen

        app = app_for(state, iid)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
            text = "\n".join(f"{k} {w}" for _, rows in app.screen.sections for k, w in rows)
            assert "review: the cursor to a typed time" in text and ":" in text
            assert "play the incident" in text
            assert "declare an incident" not in text
    asyncio.run(go())
