"""Apps for UI tests: the demo on a fixed clock, so every frame is reproducible."""

from __future__ import annotations

import time

from cockpit.scenario import builtin_demo
from cockpit.screens.app import CockpitApp
from cockpit.session.demo import DemoSession
from cockpit.timeutil import FixedClock

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def demo_app(at: float = 400.0, clock: FixedClock | None = None, tick: float = 0,
             keymap: dict[str, str] | None = None) -> CockpitApp:
    clock = clock or FixedClock(T0)
    env = DemoSession.start(builtin_demo(), at=at, clock=clock)
    return CockpitApp(env, tick=tick, keymap=keymap)


def incident(app: CockpitApp):
    """The incident the app shows now (None before the first frame or without one)."""
    return app.view_state.incident if app.view_state is not None else None


def entries(app: CockpitApp):
    return app.view_state.entries if app.view_state is not None else ()


def clocks(app: CockpitApp):
    return app.view_state.clocks if app.view_state is not None else ()


def banner_text(app: CockpitApp) -> str:
    """The banner lines of the main screen ("" when none is shown)."""
    screen = app.main_screen
    if screen is None:
        return ""
    b = screen.query_one("#banner")
    return str(b.render()) if b.display else ""


async def wait_until(pilot, predicate, seconds: float = 15.0) -> bool:
    """Wait for an effect (not a timing claim: the machine may be loaded)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        await pilot.pause(0.02)
    return bool(predicate())
