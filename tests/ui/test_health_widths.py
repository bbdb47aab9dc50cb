"""The health pane at 80, 100, 120 and 200 columns with every status word: a word never runs
into a service name, whatever the width (snapshots, with the rows' text checked beside)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.health import Status
from cockpit.scenario import load_scenario
from cockpit.screens.app import CockpitApp
from cockpit.screens.widgets import ServiceRow
from cockpit.session.demo import DemoSession
from cockpit.timeutil import FixedClock

from .helpers import T0

SIZES = [(80, 24), (100, 30), (120, 40), (200, 50)]
WORDS = {"database": "OK", "backend": "WARN", "frontend": "DOWN", "redis": "STALE",
         "horizon": "UNKNOWN"}


def every_status_app() -> CockpitApp:
    scenario = load_scenario(Path(__file__).parent / "scenarios" / "every-status.toml")
    return CockpitApp(DemoSession.start(scenario, at=300, clock=FixedClock(T0)), tick=0)


def check_rows(app: CockpitApp) -> None:
    rows = {r.service_id: r for r in app.screen.query(ServiceRow)}
    assert {sid: r.health.status.word for sid, r in rows.items()} == WORDS
    assert {r.health.status for r in rows.values()} == set(Status)
    for sid, row in rows.items():
        text = row.main.content.plain  # the row's Text: word, name, figure, summary
        word, title = WORDS[sid], row.health.title
        assert text.startswith(word + " "), text  # at least one space after every word
        assert text[8:].startswith(title[:14]), text  # the name starts in its own column
        assert f"{word}{title[0]}" not in text


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_health_pane_every_status_word(snap_compare, size):
    app = every_status_app()

    async def check(pilot) -> None:
        await pilot.pause()
        check_rows(app)

    assert snap_compare(app, terminal_size=size, run_before=check)
