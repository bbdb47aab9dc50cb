"""The clocks pane tells the truth (issue 10, ux-review MISSING 2, MISSING 4, B2): before any
declaration a failing service starts a visible Detect countdown; a lifecycle change that
skips states asks for confirmation in the cockpit, and reopening is possible."""

from __future__ import annotations

import socket

from cockpit.config import Config, Milestones, ProbeConfig, ServiceConfig
from cockpit.incident.fold import fold
from cockpit.incident.store import IncidentStore
from cockpit.screens.app import CockpitApp
from cockpit.screens.forms import ConfirmForm, StatusForm
from cockpit.screens.widgets import Cell, ClockPane
from cockpit.session.live import LiveSession

from .helpers import wait_until


def _config(probes: tuple[ProbeConfig, ...] = ()) -> Config:
    return Config(path=None, environment="t", mode="personal", milestones=Milestones(),
                  services={"database": ServiceConfig("database", "PostgreSQL", "P0", 3600.0,
                                                      None, probes=probes)})


def pane_text(app: CockpitApp) -> str:
    pane = app.screen.query_one(ClockPane)
    return "\n".join(str(c.render()) for c in pane.query(Cell) if c.display
                     and (c.parent is None or c.parent.display))


async def test_MISSING2_detect_countdown_visible_before_any_declaration(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens: refused
    probe = ProbeConfig("tcp", "tcp", 0.3, 1.0, 1, 1, {"host": "127.0.0.1", "port": port})
    env = LiveSession(_config((probe,)), tmp_path / "state")
    app = CockpitApp(env, tick=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_until(pilot, lambda: "Detect" in pane_text(app)), pane_text(app)
        text = pane_text(app)
        assert "a service is failing" in text and "failing, not declared" in text
        assert "Targets of the plan" not in text


async def test_MISSING4_skipping_states_asks_for_confirmation_and_reopen(tmp_path):
    state = tmp_path / "state"
    env = LiveSession(_config(), state, probes=False)
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("d", *"web down", "enter")
        assert await wait_until(pilot, lambda: env.view().incident is not None)
        await pilot.press("s")
        assert await wait_until(pilot, lambda: isinstance(app.screen, StatusForm))
        await pilot.press("end", "enter")  # closed: skips responding, mitigated, recovered
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmForm))
        await pilot.press("escape")  # no: nothing changes
        await pilot.pause(0.3)
        assert env.view().incident.status == "declared"
        await pilot.press("s")
        assert await wait_until(pilot, lambda: isinstance(app.screen, StatusForm))
        await pilot.press("end", "enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmForm))
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: env.view().incident.status == "closed")
        # reopening: offered, confirmed, journaled
        await pilot.press("s")
        assert await wait_until(pilot, lambda: isinstance(app.screen, StatusForm))
        await pilot.press("home", "enter")  # responding (reopen)
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmForm))
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: env.view().incident.status == "responding")
        iid = env.incident_id
    store = IncidentStore(state)
    entries = store.entries(iid)
    last = [e for e in entries if e.kind == "incident.status"][-1]
    assert last.data["reopened_from"] == "closed"
    st = fold(entries)
    assert st is not None and st.closed_at is None and st.status == "responding"
    store.close()
