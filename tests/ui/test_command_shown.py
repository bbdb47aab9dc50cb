"""M7 of the ux review: what runs is shown before it runs. The rollback, verify and
destructive confirmations show the exact command (argv or script, host, working directory,
environment names, timeout) in a view that fits 80x24; the dry run is that view, not a
toast; a verify's output is viewable in the step.

Live tests run real processes on a real journal; the snapshots use the demo (a rehearsal:
nothing runs) on a fixed clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.incident.store import IncidentStore
from cockpit.scenario import builtin_demo
from cockpit.screens.app import CockpitApp
from cockpit.screens.command import CommandForm
from cockpit.screens.runbooks import RunbookScreen
from cockpit.session.demo import DemoSession
from cockpit.session.live import LiveSession
from cockpit.timeutil import FixedClock

from .helpers import T0, wait_until

LIVE = """
[runbook]
id = "m7"
title = "M7"
services = ["database"]

[[params]]
name = "dir"
type = "path"

[[steps]]
id = "undoable"
title = "Change something"
command = ["touch", "{dir}/changed"]
destructive = false
rollback = { title = "Undo it", command = ["rm", "-f", "{dir}/changed"], destructive = false }

[[steps]]
id = "slow"
title = "Takes a while"
command = ["sleep", "4"]
timeout = "30s"
destructive = false

[[steps]]
id = "checked"
title = "Checked by a verify"
command = ["true"]
destructive = false
verify = { shell = "echo nope-from-verify; exit 1", timeout = "5s", env = { VERIFY_TOKEN = "plainvalue" } }
"""

DEMO = """
[runbook]
id = "restore"
title = "Restore"
services = ["database"]
priority = "P0"

[[params]]
name = "db_ssh"
type = "host"
default = "db-1.example.internal"

[[steps]]
id = "fetch"
title = "Fetch the base backup into the restore target directory"
command = ["sudo", "-n", "-u", "postgres", "wal-g", "--config", "/etc/wal-g/walg.json",
           "backup-fetch", "/var/lib/postgresql/16/restore-target-directory",
           "base_000000010000000000000042"]
remote = "{db_ssh}"
env = { WALG_S3_PREFIX = "s3://backups/pg", AWS_PROFILE = "restore" }
timeout = "2h"
destructive = true
guidance = "Fetches the whole base backup."
"""


def live(tmp_path: Path):
    rbdir = tmp_path / "runbooks"
    rbdir.mkdir()
    (rbdir / "m7.toml").write_text(LIVE)
    cfg = Config(path=None, environment="m7", mode="personal", milestones=Milestones(),
                 services={"database": ServiceConfig("database", "PostgreSQL", "P0", 3600.0,
                                                     900.0)})
    store = IncidentStore(tmp_path / "state", author="alice")
    iid = store.declare("M7", "P1", ["database"])
    store.close()
    return LiveSession(cfg, tmp_path / "state", probes=False, runbook_dirs=(rbdir,)), iid


async def open_step(pilot, app, runbook_id: str, step_id: str) -> RunbookScreen:
    await pilot.press("r")
    nav = app.screen
    assert isinstance(nav, RunbookScreen)
    assert await wait_until(pilot, lambda: nav.library is not None)
    rl = nav.query_one("#rb-list")
    rl.highlighted = next(i for i in range(rl.option_count)
                          if rl.get_option_at_index(i).id == runbook_id)
    await pilot.pause()
    steps = nav.query_one("#rb-steps")
    steps.focus()
    steps.highlighted = next(i for i in range(steps.option_count)
                             if steps.get_option_at_index(i).id == step_id)
    await pilot.pause()
    return nav


def kinds(env, iid) -> list[str]:
    return [e.kind for e in IncidentStore(env.state_dir).entries(iid)]


async def test_m7_rollback_shows_its_command_before_it_runs(tmp_path):
    env, iid = live(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    app = CockpitApp(env, tick=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_until(pilot, lambda: env.incident_id == iid)
        nav = await open_step(pilot, app, "m7", "undoable")
        nav.given["m7"] = {"dir": str(work)}
        await pilot.press("x")
        assert await wait_until(pilot, lambda: (work / "changed").exists())
        assert await wait_until(pilot, lambda: ("m7", "undoable") in nav.states
                                and nav.states[("m7", "undoable")].state == "succeeded")
        await pilot.press("b")
        assert await wait_until(pilot, lambda: isinstance(app.screen, CommandForm))
        form = app.screen
        text = form.shown_text()
        assert f"rm -f {work}/changed" in text and "this machine" in text
        assert "Timeout" in text and "Directory" in text and "Environment" in text
        await pilot.press("escape")  # cancelled: nothing ran
        await pilot.pause(0.5)
        assert (work / "changed").exists()
        assert "step.rollback_started" not in kinds(env, iid)
        await pilot.press("b")
        assert await wait_until(pilot, lambda: isinstance(app.screen, CommandForm))
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: not (work / "changed").exists())
        started = next(e for e in IncidentStore(env.state_dir).entries(iid)
                       if e.kind == "step.rollback_started")
        assert started.data["argv"] == ["rm", "-f", f"{work}/changed"]  # what was shown


async def test_m7_verify_command_shown_first_and_its_output_viewable(tmp_path):
    env, iid = live(tmp_path)
    app = CockpitApp(env, tick=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_until(pilot, lambda: env.incident_id == iid)
        nav = await open_step(pilot, app, "m7", "checked")
        shown = str(nav.query_one("#rb-step-text").render())
        assert "echo nope-from-verify" in shown  # the verify command in the step view
        await pilot.press("x")
        assert await wait_until(pilot, lambda: ("m7", "checked") in nav.states
                                and nav.states[("m7", "checked")].state == "succeeded")
        await pilot.press("v")
        assert await wait_until(pilot, lambda: isinstance(app.screen, CommandForm))
        text = app.screen.shown_text()
        assert "echo nope-from-verify" in text and "this machine" in text
        assert "VERIFY_TOKEN (names only)" in text and "plainvalue" not in text
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: nav.states[("m7", "checked")].verify is False)
        assert await wait_until(pilot, lambda: nav.verify_output is not None)
        shown = str(nav.query_one("#rb-step-text").render())
        assert "Verify output" in shown and "nope-from-verify" in shown
        assert "last verify:" in shown


def demo_nav_app(tmp_path: Path) -> CockpitApp:
    rbdir = tmp_path / "runbooks"
    rbdir.mkdir(exist_ok=True)
    (rbdir / "restore.toml").write_text(DEMO)
    env = DemoSession.start(builtin_demo(), at=400.0, clock=FixedClock(T0),
                            runbook_dirs=(rbdir,))
    return CockpitApp(env, tick=0)


async def _to_fetch(pilot) -> None:
    app = pilot.app
    await open_step(pilot, app, "restore", "fetch")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_m7_destructive_confirmation_fits_and_shows_the_whole_command(tmp_path, size):
    app = demo_nav_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await _to_fetch(pilot)
        await pilot.press("x")
        assert await wait_until(pilot, lambda: isinstance(app.screen, CommandForm))
        form = app.screen
        assert form.expect == "database"
        text = form.shown_text()
        for part in ("base_000000010000000000000042", "db-1.example.internal (over ssh)",
                     "ssh -o BatchMode=yes", "WALG_S3_PREFIX=", "Timeout     2h"):
            assert part in text, part
        await pilot.pause()
        box = form.query_one("Vertical")
        screen_region = form.region
        assert screen_region.contains_region(box.region)  # fits the terminal
        for wid in ("#cmd", "#text", "#ok"):
            assert box.region.contains_region(form.query_one(wid).region), wid
        assert form.query_one("#text").has_focus
        await pilot.press(*"wrong", "enter")
        assert isinstance(app.screen, CommandForm)  # refused: nothing was rehearsed even
        await pilot.press("escape")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_m7_snapshot_destructive_confirmation(snap_compare, tmp_path, size):
    """ACCEPTANCE: the destructive confirmation with its command."""

    async def run_before(pilot) -> None:
        await _to_fetch(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandForm))
        await pilot.pause()

    assert snap_compare(demo_nav_app(tmp_path), terminal_size=size, run_before=run_before)


async def test_m7_dry_run_is_a_view_not_a_toast(tmp_path):
    app = demo_nav_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_fetch(pilot)
        await pilot.press("p")
        assert await wait_until(pilot, lambda: isinstance(app.screen, CommandForm))
        assert app.screen.view_only
        assert "base_000000010000000000000042" in app.screen.shown_text()
        assert not any("Dry run" in (n.title or "") + n.message for n in app._notifications)
        await pilot.press("enter")  # closes it
        assert isinstance(app.screen, RunbookScreen)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_m7_snapshot_dry_run_view(snap_compare, tmp_path, size):
    """ACCEPTANCE: the dry-run view."""

    async def run_before(pilot) -> None:
        await _to_fetch(pilot)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandForm))
        await pilot.pause()

    assert snap_compare(demo_nav_app(tmp_path), terminal_size=size, run_before=run_before)


async def test_missing12_a_running_step_shows_its_elapsed_time(tmp_path):
    env, iid = live(tmp_path)
    app = CockpitApp(env, tick=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_until(pilot, lambda: env.incident_id == iid)
        nav = await open_step(pilot, app, "m7", "slow")
        await pilot.press("x")
        assert await wait_until(pilot, lambda: "running for" in str(
            nav.query_one("#rb-step-text").render()))
        assert await wait_until(pilot, lambda: nav.states[("m7", "slow")].state == "succeeded")
