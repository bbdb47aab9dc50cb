"""B8 and M5 of the ux review: the demo's runbook navigator works as a rehearsal (parameters
asked for, dry run, execute, confirm, skip, roll back; journaled as a rehearsal, nothing
run), and an incident declared in the demo is kept apart from the scenario's."""

from __future__ import annotations

from pathlib import Path

from cockpit.scenario import builtin_demo
from cockpit.screens.app import CockpitApp
from cockpit.screens.command import CommandForm
from cockpit.screens.forms import ParamForm, PromptForm
from cockpit.screens.runbooks import RunbookScreen
from cockpit.session.demo import DemoSession
from cockpit.timeutil import FixedClock

from .helpers import T0, wait_until

RUNBOOK = """
[runbook]
id = "drill"
title = "Drill"
services = ["database"]
priority = "P0"

[[params]]
name = "dir"
type = "path"

[[steps]]
id = "touch"
title = "Make a marker"
command = ["touch", "{dir}/marker"]
timeout = "30s"
destructive = false

[[steps]]
id = "manual"
title = "Call the vendor"

[[steps]]
id = "undoable"
title = "Change something"
command = ["touch", "{dir}/changed"]
destructive = false
rollback = { title = "Undo it", command = ["rm", "-f", "{dir}/gone"], destructive = true }
"""


def demo(tmp_path: Path, at: float = 400.0) -> tuple[DemoSession, CockpitApp]:
    rbdir = tmp_path / "runbooks"
    rbdir.mkdir(exist_ok=True)
    (rbdir / "drill.toml").write_text(RUNBOOK)
    env = DemoSession.start(builtin_demo(), at=at, clock=FixedClock(T0), runbook_dirs=(rbdir,))
    return env, CockpitApp(env, tick=0)


async def open_step(pilot, app, runbook_id: str, step_id: str) -> RunbookScreen:
    await pilot.press("r")
    nav = app.screen
    assert isinstance(nav, RunbookScreen)
    assert await wait_until(pilot, lambda: nav.library is not None)
    rl = nav.query_one("#rb-list")
    rl.highlighted = next(i for i in range(rl.option_count)
                          if rl.get_option_at_index(i).id == runbook_id)
    await pilot.pause()
    await select_step(pilot, nav, step_id)
    return nav


async def select_step(pilot, nav: RunbookScreen, step_id: str) -> None:
    steps = nav.query_one("#rb-steps")
    steps.focus()
    steps.highlighted = next(i for i in range(steps.option_count)
                             if steps.get_option_at_index(i).id == step_id)
    await pilot.pause()
    assert nav.step is not None and nav.step.id == step_id


def state(nav: RunbookScreen, step_id: str) -> str:
    st = nav.states.get((nav.runbook.id, step_id))
    return st.state if st is not None else "pending"


async def test_b8_demo_step_with_parameters_can_be_dry_run(tmp_path):
    """The built-in database runbook's first step needs pg_host: the demo asks for it and
    shows the dry run (it said "Parameters needed first" and stopped)."""
    env, app = demo(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        nav = await open_step(pilot, app, "database", "isready")
        await pilot.press("p")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ParamForm))
        for p in app.screen.params:
            app.screen.query_one(f"#p-{p.name}").value = {
                "pg_host": "db-1", "pg_port": "5432", "pg_dbname": "app"}.get(p.name, "x")
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: isinstance(app.screen, CommandForm))
        assert app.screen.view_only
        text = app.screen.shown_text()
        assert "pg_isready -h db-1" in text and "Timeout" in text
        await pilot.press("escape")
        assert app.screen is nav
        assert any(e.kind == "step.dry_run" and e.data.get("rehearsal")
                   for e in env.entries())


async def test_b8_demo_navigator_rehearses_execute_confirm_skip_rollback(tmp_path):
    env, app = demo(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    async with app.run_test(size=(120, 40)) as pilot:
        nav = await open_step(pilot, app, "drill", "touch")
        await pilot.press("x")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ParamForm))
        app.screen.query_one("#p-dir").value = str(work)
        await pilot.press("ctrl+s")
        # the values were just typed: the command as it will run is shown first
        assert await wait_until(pilot, lambda: isinstance(app.screen, CommandForm))
        assert f"touch {work}/marker" in app.screen.shown_text()
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: state(nav, "touch") == "succeeded")
        await pilot.press("c")
        assert await wait_until(pilot, lambda: state(nav, "touch") == "confirmed")

        await select_step(pilot, nav, "manual")
        await pilot.press("S")
        assert isinstance(app.screen, PromptForm)
        await pilot.press(*"vendor asleep", "enter")
        assert await wait_until(pilot, lambda: state(nav, "manual") == "skipped")

        await select_step(pilot, nav, "undoable")
        await pilot.press("x")
        assert await wait_until(pilot, lambda: state(nav, "undoable") == "succeeded")
        await pilot.press("b")  # a destructive rollback: its command, then the token
        assert await wait_until(pilot, lambda: isinstance(app.screen, CommandForm))
        assert app.screen.expect == "database"
        assert f"rm -f {work}/gone" in app.screen.shown_text()
        await pilot.press(*"database", "enter")
        assert await wait_until(pilot, lambda: state(nav, "undoable") == "rolled_back")
    # journaled as a rehearsal, in the demo's memory; nothing was run
    assert not (work / "marker").exists() and not (work / "changed").exists()
    started = [e for e in env.entries()
               if e.kind in ("step.started", "step.rollback_started")]
    assert len(started) == 3 and all(e.data["rehearsal"] is True for e in started)
    kinds = {e.kind for e in env.entries()}
    assert {"step.confirmed", "step.skipped", "step.rolled_back"} <= kinds


def test_m5_demo_keeps_a_declared_incident_apart_from_the_scenarios(tmp_path):
    env, _app = demo(tmp_path, at=400.0)  # the scenario declared its incident at 3m
    scenario_title = env.view().incident.title
    env.declare("UX test incident", "P2", ["frontend"], None)
    v = env.view()
    assert v.incident.title == "UX test incident" and v.incident.severity == "P2"
    assert v.incident_id is not None
    env.clock.advance(3600)  # every later inject of the scenario
    v = env.view()
    assert v.incident.title == "UX test incident"
    assert [e.kind for e in v.entries] == ["incident.declared"]  # nothing of the scenario
    assert v.incident.status == "declared" and not v.incident.roles
    env.note("observation", "mine")
    choices = {c.id: c.state.title for c in env.incidents()}
    assert len(choices) == 2 and scenario_title in choices.values()
    assert env.capabilities.follow
    env.follow(next(k for k, t in choices.items() if t == scenario_title))
    v = env.view()
    assert v.incident.title == scenario_title
    assert not any(e.kind == "note" and e.data.get("text") == "mine" for e in v.entries)


async def test_m5_demo_incident_picker_lists_both(tmp_path):
    env, app = demo(tmp_path, at=400.0)
    env.declare("UX test incident", "P2", [], None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("i")
        from cockpit.screens.forms import IncidentPicker

        assert await wait_until(pilot, lambda: isinstance(app.screen, IncidentPicker))
        assert not any("one incident" in n.message for n in app._notifications)
