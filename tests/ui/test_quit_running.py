"""MISSING 9 of the ux review: quitting while a step runs says that the step keeps running
under its supervisor, how to follow it, and asks first. With nothing running, q quits."""

from __future__ import annotations

import time
from pathlib import Path

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.incident.store import IncidentStore
from cockpit.screens.app import CockpitApp
from cockpit.screens.forms import ConfirmForm
from cockpit.session.live import LiveSession

from .test_command_shown import open_step, wait_until

RUNBOOK = """
[runbook]
id = "q9"
title = "Quit while running"
services = ["database"]

[[steps]]
id = "slow"
title = "Takes a while"
command = ["sleep", "5"]
timeout = "60s"
destructive = false
"""


def live(tmp_path: Path):
    rbdir = tmp_path / "runbooks"
    rbdir.mkdir()
    (rbdir / "q9.toml").write_text(RUNBOOK)
    cfg = Config(path=None, environment="q9", mode="personal", milestones=Milestones(),
                 services={"database": ServiceConfig("database", "PostgreSQL", "P0", 3600.0,
                                                     900.0)})
    store = IncidentStore(tmp_path / "state", author="alice")
    iid = store.declare("Q9", "P1", ["database"])
    store.close()
    return LiveSession(cfg, tmp_path / "state", probes=False, runbook_dirs=(rbdir,)), iid


def kinds(state_dir: Path, iid: str) -> list[str]:
    return [e.kind for e in IncidentStore(state_dir).entries(iid)]


async def test_missing9_quitting_while_a_step_runs_says_so_and_asks(tmp_path):
    env, iid = live(tmp_path)
    app = CockpitApp(env, tick=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_until(pilot, lambda: env.incident_id == iid)
        nav = await open_step(pilot, app, "q9", "slow")
        await pilot.press("x")
        assert await wait_until(pilot, lambda: nav.states.get(("q9", "slow")) is not None
                                and nav.states[("q9", "slow")].state == "running")
        await pilot.press("escape")  # back to the main screen
        await pilot.pause()
        assert app.running_steps() == ["q9/slow"]
        await pilot.press("q")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmForm))
        text = app.screen.text
        assert "q9/slow" in text and "keeps running under its supervisor" in text
        assert f"cockpit log {iid}" in text
        await pilot.press("escape")  # stay
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, ConfirmForm)
        await pilot.press("q")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmForm))
        await pilot.press("q")  # q again: quit
        assert await wait_until(pilot, lambda: not app.is_running)
    # what the question said: the step went on without the cockpit and its result is journaled
    end = time.monotonic() + 30
    while "step.succeeded" not in kinds(tmp_path / "state", iid) and time.monotonic() < end:
        time.sleep(0.2)
    assert "step.succeeded" in kinds(tmp_path / "state", iid)


async def test_missing9_with_nothing_running_q_quits_at_once(tmp_path):
    env, iid = live(tmp_path)
    app = CockpitApp(env, tick=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_until(pilot, lambda: env.incident_id == iid)
        assert app.running_steps() == []
        await pilot.press("q")
        assert await wait_until(pilot, lambda: not app.is_running)
