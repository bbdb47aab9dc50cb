"""Pilot flows of the runbook navigator on a real journal, real processes and a real
redis-server: execute then confirm, fail then retry, skip with a reason, the destructive
gate, the verify gate (blocks, then passes), roll back, dry run."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from shared_fakes import FLOOD_RUNBOOK, require, rss_kib, start_redis

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.incident.store import IncidentStore
from cockpit.runbooks.state import step_states
from cockpit.screens.app import CockpitApp
from cockpit.screens.command import CommandForm
from cockpit.screens.forms import ParamForm, PromptForm
from cockpit.screens.runbooks import RunbookScreen
from cockpit.session.live import LiveSession

from .helpers import wait_until

RUNBOOK = """
[runbook]
id = "drill"
title = "Drill"
services = ["database"]
priority = "P0"

[[params]]
name = "dir"
type = "path"

[[params]]
name = "port"
type = "port"

[[steps]]
id = "hello"
title = "Say hello"
command = ["sh", "-c", "echo hello from the step"]
timeout = "30s"

[[steps]]
id = "flaky"
title = "Fails once, then works"
shell = "test -f {dir}/marker || {{ touch {dir}/marker; echo first try fails; exit 3; }}"
timeout = "30s"
destructive = false

[[steps]]
id = "manual"
title = "Call the vendor"

[[steps]]
id = "danger"
title = "Wipe the scratch file"
command = ["rm", "-f", "{dir}/scratch"]
destructive = true
requires_confirmation_of = "database"

[[steps]]
id = "gated"
title = "Restart the cache"
command = ["true"]
verify = { command = ["redis-cli", "-p", "{port}", "ping"], expect_output = "PONG", timeout = "5s" }

[[steps]]
id = "undoable"
title = "Change something"
command = ["sh", "-c", "touch {dir}/changed"]
destructive = false
rollback = { title = "Undo it", command = ["rm", "-f", "{dir}/changed"], destructive = true }
"""


@pytest.fixture
def redis_port(tmp_path):
    require(bool(shutil.which("redis-cli")), "redis-cli")
    proc, port = start_redis(tmp_path)
    yield port, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def _setup(tmp_path: Path):
    rbdir = tmp_path / "runbooks"
    rbdir.mkdir()
    (rbdir / "drill.toml").write_text(RUNBOOK)
    work = tmp_path / "work"
    work.mkdir()
    state = tmp_path / "state"
    cfg = Config(path=None, environment="drill", mode="personal", milestones=Milestones(),
                 services={"database": ServiceConfig("database", "PostgreSQL", "P0", 3600.0, 900.0)})
    store = IncidentStore(state, author="alice")
    iid = store.declare("Drill", "P1", ["database"])
    store.close()
    env = LiveSession(cfg, state, probes=False, runbook_dirs=(rbdir,))
    return env, iid, rbdir, work


def states(env, iid):
    return step_states([e for e in IncidentStore(env.state_dir).entries(iid) if e.kind.startswith("step.")],
                       "drill")


def notified(app, text: str) -> bool:
    """A notification (a refusal, an error) saying ``text`` is on screen."""
    return any(text in n.message for n in app._notifications)


async def choose_runbook(pilot, nav: RunbookScreen, runbook_id: str) -> None:
    runbooks = nav.query_one("#rb-list")
    runbooks.highlighted = next(i for i in range(runbooks.option_count)
                                if runbooks.get_option_at_index(i).id == runbook_id)
    await pilot.pause()
    assert nav.runbook is not None and nav.runbook.id == runbook_id


async def open_step(pilot, app, step_id: str) -> RunbookScreen:
    await pilot.press("r")
    nav = app.screen
    assert isinstance(nav, RunbookScreen)
    assert await wait_until(pilot, lambda: nav.library is not None)
    await choose_runbook(pilot, nav, "drill")
    steps = nav.query_one("#rb-steps")
    index = next(i for i in range(steps.option_count) if steps.get_option_at_index(i).id == step_id)
    steps.focus()
    steps.highlighted = index
    await pilot.pause()
    assert nav.step.id == step_id
    return nav


async def fill_params(pilot, app, work: Path, port: int) -> None:
    """Answer the parameter form when it asks (it asks only for what the step still needs)."""
    await pilot.pause(0.1)
    if isinstance(app.screen, ParamForm):
        values = {"dir": str(work), "port": str(port)}
        for p in app.screen.params:
            app.screen.query_one(f"#p-{p.name}").value = values[p.name]
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
    if isinstance(app.screen, CommandForm) and not app.screen.expect:
        await pilot.press("enter")  # the command as it will run, shown first (M7): run it


async def test_navigator_flows(tmp_path, redis_port):
    port, redis = redis_port
    env, iid, rbdir, work = _setup(tmp_path)
    app = CockpitApp(env, tick=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_until(pilot, lambda: env.incident_id == iid)

        # execute then confirm
        nav = await open_step(pilot, app, "hello")
        await pilot.press("x")
        await fill_params(pilot, app, work, port)
        assert await wait_until(pilot, lambda: nav.states.get(("drill", "hello")) is not None
                                and nav.states[("drill", "hello")].state == "succeeded")
        nav._show_step(nav.step)
        shown = str(nav.query_one("#rb-step-text").render())
        assert "hello from the step" in shown
        await pilot.press("c")
        assert await wait_until(pilot, lambda: nav.states[("drill", "hello")].state == "confirmed")

        # fail then retry
        steps = nav.query_one("#rb-steps")
        steps.highlighted = next(i for i in range(steps.option_count) if steps.get_option_at_index(i).id == "flaky")
        await pilot.pause()
        await pilot.press("x")
        await fill_params(pilot, app, work, port)
        ok = await wait_until(pilot, lambda: nav.states.get(("drill", "flaky")) is not None
                              and nav.states[("drill", "flaky")].state == "failed")
        assert ok, (nav.states.get(("drill", "flaky")), list(app._notifications), app.focused, nav.step.id, app.screen)
        assert nav.states[("drill", "flaky")].exit_code == 3
        await pilot.press("x")  # B4: a failed step never runs again on x ...
        assert await wait_until(pilot, lambda: notified(app, "retry it with a reason"))
        assert nav.states[("drill", "flaky")].state == "failed"
        await pilot.press("T")  # ... only through retry with its reason
        assert isinstance(app.screen, PromptForm)
        await pilot.press(*"marker now there", "enter")
        assert await wait_until(pilot, lambda: nav.states[("drill", "flaky")].state == "pending")
        assert nav.states[("drill", "flaky")].retry_reason == "marker now there"
        await pilot.press("x")  # attempt 2
        assert await wait_until(pilot, lambda: nav.states[("drill", "flaky")].state == "succeeded")
        assert nav.states[("drill", "flaky")].attempt == 2

        # skip with a reason (manual step)
        steps.highlighted = next(i for i in range(steps.option_count) if steps.get_option_at_index(i).id == "manual")
        await pilot.pause()
        await pilot.press("S")
        assert isinstance(app.screen, PromptForm)
        await pilot.press(*"vendor unreachable", "enter")
        assert await wait_until(pilot, lambda: nav.states.get(("drill", "manual")) is not None
                                and nav.states[("drill", "manual")].state == "skipped")
        assert nav.states[("drill", "manual")].reason == "vendor unreachable"

        # destructive: refused until the service name is typed
        (work / "scratch").write_text("x")
        steps.highlighted = next(i for i in range(steps.option_count) if steps.get_option_at_index(i).id == "danger")
        await pilot.pause()
        await pilot.press("x")
        form = app.screen
        assert isinstance(form, CommandForm) and form.expect == "database"
        assert "rm -f" in form.shown_text()  # M7: the command it will run, in the confirmation
        await pilot.press(*"datab", "enter")
        assert isinstance(app.screen, CommandForm)  # wrong: still asking, nothing ran
        assert (work / "scratch").exists()
        await pilot.press("escape")
        assert ("drill", "danger") not in states(env, iid)
        await pilot.press("x")
        await pilot.press(*"database", "enter")
        assert await wait_until(pilot, lambda: nav.states.get(("drill", "danger")) is not None
                                and nav.states[("drill", "danger")].state == "succeeded")
        assert not (work / "scratch").exists()

        # verify gate against a real redis-server: blocks while it is down, passes once up
        steps.highlighted = next(i for i in range(steps.option_count) if steps.get_option_at_index(i).id == "gated")
        await pilot.pause()
        await pilot.press("x")
        await fill_params(pilot, app, work, port)
        assert await wait_until(pilot, lambda: nav.states.get(("drill", "gated")) is not None
                                and nav.states[("drill", "gated")].state == "succeeded")
        redis.terminate()
        redis.wait(10)
        await pilot.press("c")
        assert await wait_until(pilot, lambda: notified(app, "verify has not passed yet"))
        assert nav.states[("drill", "gated")].state == "succeeded"  # refused: no verify yet
        await pilot.press("v")
        await fill_params(pilot, app, work, port)
        assert await wait_until(pilot, lambda: nav.states[("drill", "gated")].verify is False)
        await pilot.press("c")
        assert await wait_until(pilot, lambda: notified(app, "verify failed"))
        assert nav.states[("drill", "gated")].state == "succeeded"  # refused: verify failed
        restarted, _ = start_redis(tmp_path, port)
        try:
            await pilot.press("v")
            await fill_params(pilot, app, work, port)  # the verify command shown: run it
            assert await wait_until(pilot, lambda: nav.states[("drill", "gated")].verify is True)
            await pilot.press("c")
            assert await wait_until(pilot, lambda: nav.states[("drill", "gated")].state == "confirmed")
        finally:
            restarted.terminate()
            restarted.wait(10)

        # roll back (a destructive rollback asks for the service name too)
        steps.highlighted = next(i for i in range(steps.option_count) if steps.get_option_at_index(i).id == "undoable")
        await pilot.pause()
        await pilot.press("x")
        assert await wait_until(pilot, lambda: (work / "changed").exists())
        assert await wait_until(pilot, lambda: nav.states.get(("drill", "undoable")) is not None
                                and nav.states[("drill", "undoable")].state == "succeeded")
        await pilot.press("b")
        await pilot.press(*"database", "enter")
        ok = await wait_until(pilot, lambda: nav.states[("drill", "undoable")].state == "rolled_back")
        assert ok, (app.screen.query_one("#text").value, str(app.screen.query_one(".error").render()), app.screen.expect)
        assert not (work / "changed").exists()

        # dry run: the exact argv, nothing runs
        steps.highlighted = next(i for i in range(steps.option_count) if steps.get_option_at_index(i).id == "danger")
        await pilot.pause()
        (work / "scratch").write_text("x")
        await pilot.press("p")
        assert await wait_until(pilot, lambda: any(e.kind == "step.dry_run"
                                                   for e in IncidentStore(env.state_dir).entries(iid)))
        assert await wait_until(pilot, lambda: isinstance(app.screen, CommandForm))
        assert app.screen.view_only and "rm -f" in app.screen.shown_text()
        await pilot.press("escape")
        assert (work / "scratch").exists()
    kinds = [e.kind for e in IncidentStore(env.state_dir).entries(iid)]
    for k in ("step.started", "step.succeeded", "step.failed", "step.confirmed", "step.skipped",
              "step.verify_failed", "step.verify_passed", "step.rolled_back", "step.dry_run"):
        assert k in kinds, k




@pytest.mark.stress
async def test_a_step_printing_1_gib_keeps_the_cockpit_small_and_answering(tmp_path):
    env, iid, rbdir, _work = _setup(tmp_path)
    (rbdir / "flood.toml").write_text(FLOOD_RUNBOOK)
    app = CockpitApp(env, tick=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_until(pilot, lambda: env.incident_id == iid)
        await pilot.press("r")
        nav = app.screen
        assert await wait_until(pilot, lambda: nav.library is not None)
        await choose_runbook(pilot, nav, "flood")
        nav.query_one("#rb-steps").focus()
        await pilot.pause()
        assert nav.step.id == "gib"
        before = rss_kib()
        await pilot.press("x")
        peak = before
        keys = 0
        end = time.monotonic() + 120
        while time.monotonic() < end:
            st = nav.states.get(("flood", "gib"))
            if st is not None and st.state == "succeeded":
                break
            await pilot.press("question_mark")  # the UI answers while 1 GiB streams to disk
            assert app.screen.__class__.__name__ == "HelpScreen"
            await pilot.press("escape")
            keys += 1
            peak = max(peak, rss_kib())
            await pilot.pause(0.2)
        st = nav.states[("flood", "gib")]
        assert st.state == "succeeded" and st.output.bytes == 1 << 30
        assert len(st.output.sha256) == 64
        assert keys >= 1
        assert (peak - before) < 32 * 1024, f"UI grew by {(peak - before) // 1024} MiB"
        text = str(nav.query_one("#rb-step-text").render())
        assert "1,073,741,824 bytes" in text
