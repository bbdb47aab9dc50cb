"""What a scrub costs (issue 12 performance): a new health order moves no widget (no layout
pass of the whole screen), and a filtered log is not filtered again from its first entry on
each move. Both are checked on what is shown, beside what was (not) done."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from cockpit.incident.clocks import ServiceTargets
from cockpit.incident.store import IncidentStore
from cockpit.plan import Milestones
from cockpit.screens.review import ReviewApp
from cockpit.screens.widgets import HealthPane, LogView
from cockpit.session.review import Plan, ReviewSession
from cockpit.timeutil import FixedClock

T0 = 1_780_000_000.0
PLAN = Plan((ServiceTargets("db", "PostgreSQL", 900.0, None),
             ServiceTargets("cache", "Redis", 600.0, None)), Milestones(), {}, "test")


def flapping(state: Path, flips: int = 6) -> str:
    """db and cache fail in turn: the failing-first order of the health pane flips."""
    clock = FixedClock(T0)
    store = IncidentStore(state, clock=clock, author="alice")
    try:
        iid = store.declare("Flapping", "P1", ["db", "cache"])
        j = store.journal(iid)
        for k in range(flips):
            bad, good = ("db", "cache") if k % 2 == 0 else ("cache", "db")
            clock.advance(10)
            j.append("health", {"service": bad, "status": "fail", "summary": f"{bad} down {k}"})
            clock.advance(10)
            j.append("health", {"service": good, "status": "ok", "summary": f"{good} ok {k}"})
            clock.advance(10)
            store.note(iid, f"note {k}", "observation")
    finally:
        store.close()
    return iid


def test_a_new_health_order_moves_no_widget_and_lays_nothing_out(tmp_path: Path):
    iid = flapping(tmp_path / "state")

    async def go() -> None:
        app = ReviewApp(ReviewSession(tmp_path / "state", iid, plan=PLAN))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            pane = app.main_screen.query_one(HealthPane)
            widgets = list(pane.children)
            layouts: list[bool] = []
            refresh = pane.refresh

            def watched(*regions, repaint=True, layout=False, recompose=False):
                layouts.append(layout)
                return refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

            pane.refresh = watched  # type: ignore[method-assign]
            orders = set()
            for _ in range(20):
                await pilot.press("left")
                await pilot.pause()
                shown = [str(r.main.render()).split()[:2] for r in pane.children]
                orders.add(tuple(w[1] for w in shown))
                # failing first, each row the service it says, its row found by service
                sev = [r.health.status.severity for r in pane.rows() if r.health is not None]
                assert sev == sorted(sev, reverse=True) and len(sev) == 2, shown
                for r in pane.rows():
                    assert pane.row(r.service_id) is r
                    assert r.health is not None and r.health.service == r.service_id
                    title = {"db": "PostgreSQL", "cache": "Redis"}[r.service_id]
                    assert title in str(r.main.render())
            assert {("PostgreSQL", "Redis"), ("Redis", "PostgreSQL")} <= orders
            assert list(pane.children) == widgets  # the same widgets, in the same places
            assert not any(layouts), "a new health order laid the screen out"
    asyncio.run(go())


def test_a_filtered_log_is_not_filtered_again_on_each_move(tmp_path: Path):
    iid = flapping(tmp_path / "state", flips=40)

    async def go() -> None:
        session = ReviewSession(tmp_path / "state", iid, plan=PLAN)
        app = ReviewApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            log = app.main_screen.query_one(LogView)
            asked: list[object] = []

            def notes(e: object) -> bool:
                asked.append(e)
                return getattr(e, "kind", "") == "note"

            log.set_filter(notes, "notes")
            moves = 0
            for key in ["left"] * 15 + ["right"] * 5 + ["left"] * 3:
                before = len(asked)
                await pilot.press(key)
                moves += 1
                deadline = time.monotonic() + 15
                n = session.count()
                while len(log._entries) != n and time.monotonic() < deadline:
                    await pilot.pause(0.05)
                # a move of one entry asks the filter about the new entries only
                assert len(asked) - before <= 2, (key, len(asked) - before)
                want = [e for e in session.timeline.entries[:n] if e.kind == "note"]
                shown = [log.item(i)[1] for i in range(log.total)]  # type: ignore[index]
                assert shown == list(reversed(want))
            assert moves == 23
    asyncio.run(go())
