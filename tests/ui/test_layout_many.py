"""B5 and MISSING 3 of the ux review: at 80x24 with 16 services and an incident declared,
the health pane has a maximum height (failing services first, scrolling inside) so the
incident clocks keep their rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.health import Status
from cockpit.scenario import load_scenario
from cockpit.screens.app import CockpitApp
from cockpit.screens.widgets import ClockPane, ClockRow, HealthPane
from cockpit.session.demo import DemoSession
from cockpit.timeutil import FixedClock

from .helpers import T0


def many_app(at: float = 600.0) -> CockpitApp:
    scenario = load_scenario(Path(__file__).parent / "scenarios" / "many.toml")
    return CockpitApp(DemoSession.start(scenario, at=at, clock=FixedClock(T0)), tick=0)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_b5_clocks_keep_their_rows_with_16_services(size):
    app = many_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        health = app.screen.query_one(HealthPane)
        clocks = app.screen.query_one(ClockPane)
        assert len(health.rows()) == 16
        assert health.outer_size.height <= int(size[1] * 0.45)  # a maximum height
        assert health.max_scroll_y > 0  # the rest scrolls inside
        shown = [r for r in clocks.query(ClockRow) if r.display]
        assert len(shown) >= 5
        area = clocks.content_region
        for row in shown:  # every clock row is on screen, inside its pane
            assert area.contains_region(row.region), (row.region, area)


async def test_missing3_failing_services_first_and_selection_follows_its_service():
    app = many_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        health = app.screen.query_one(HealthPane)
        rows = health.rows()
        statuses = [r.health.status for r in rows]
        assert statuses[:6] == [Status.FAIL] * 6 and set(statuses[6:]) == {Status.OK}
        # the DOM (what is drawn, top to bottom) is in that order too
        assert [c.service_id for c in health.children] == [r.service_id for r in rows]
        assert rows[0].region.y < rows[6].region.y
        health.focus()
        await pilot.press("down", "down", "down", "down", "down", "down", "down", "down")
        await pilot.pause()
        sel = health.rows()[health.selected]
        assert health.scroll_y > 0  # scrolled to keep the selected row in view
        assert health.content_region.contains_region(sel.region)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_b5_snapshot_16_services_with_an_incident(snap_compare, size):
    """ACCEPTANCE: 16 services, an incident declared, the clocks visible."""
    assert snap_compare(many_app(), terminal_size=size)
