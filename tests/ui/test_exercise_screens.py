"""The exercise cockpit: the facilitator's and a player's screens (snapshots at 80x24 and
120x40, with state assertions beside each), the facilitator's keys end to end (journal
entries), and the live cockpit's incident list without exercises."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from textual.widgets._footer import FooterKey

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.exercise.schema import parse_scenario
from cockpit.exercise.store import ExerciseStore
from cockpit.incident.store import IncidentStore
from cockpit.scenario import scenario_dir
from cockpit.screens.exercise import ExerciseApp, ExerciseMainScreen, FacilitatorScreen
from cockpit.screens.forms import IncidentPicker
from cockpit.session.exercise import ExerciseSession, Facilitator
from cockpit.session.live import LiveSession
from cockpit.timeutil import FixedClock

from .helpers import T0, wait_until

XID = "20270115-080000-database-loss-0001"


def _played(state: Path) -> FixedClock:
    """The demo's scenario as an exercise at T+6:40: alice declared and leads, a spare was
    fired, the evaluator marked an outcome; the clock runs at 10x."""
    text = (scenario_dir() / "database-loss.toml").read_text(encoding="utf-8")
    wall = FixedClock(T0)
    fac = ExerciseStore(state, clock=wall, author="fac")
    alice = IncidentStore(state / "exercises", clock=wall, author="alice")
    fac.start(parse_scenario(tomllib.loads(text), text, "s.toml"), text, source="test",
              running=True, exercise_id=XID)
    wall.t = T0 + 190
    alice.journal(XID).append("incident.declared", {
        "title": "db-1 down", "severity": "P0", "services": ["database", "backend"],
        "impact_start": T0 + 120, "exercise": XID})
    wall.t = T0 + 210
    alice.journal(XID).append("role.assigned", {"role": "commander", "person": "alice"})
    wall.t = T0 + 300
    fac.fire(XID, spare="parallel-restore")
    fac.mark(XID, "commander", "met", "named at once")
    wall.t = T0 + 340
    fac.clock_change(XID, "speed", speed=10)
    wall.t = T0 + 346  # T+5:40 + 6 s at 10x = T+6:40
    fac.close()
    alice.close()
    return wall


def facilitator_app(state: Path, wall: FixedClock) -> ExerciseApp:
    s = ExerciseSession(state, XID, wall=wall, author="fac", facilitator=True)
    return ExerciseApp(s, facilitator=Facilitator(s), tick=0)


def player_app(state: Path, wall: FixedClock, role: str = "communications") -> ExerciseApp:
    s = ExerciseSession(state, XID, wall=wall, author="bob", roles=[role])
    return ExerciseApp(s, tick=0)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_facilitator_screen(snap_compare, tmp_path, size):
    state = tmp_path / "state"
    wall = _played(state)
    app = facilitator_app(state, wall)
    board = app.facilitator.board()
    assert board.offset == pytest.approx(400) and board.speed == 10 and board.running
    assert board.next_at == 420  # the customers' emails (for communications)
    assert [s.id for s, fired in board.spares if fired] == ["parallel-restore"]
    d = {x.outcome.id: x for x in board.score.decisions}
    assert d["declare"].state == "met" and d["commander"].final == "met"
    assert d["severity"].state == "met" and d["promote"].state == "pending"

    async def check(pilot):
        assert isinstance(app.screen, FacilitatorScreen)
        assert await wait_until(pilot, lambda: app.screen.selected_id() == "i:customers")  # the next inject, highlighted
        # every key of the bar is whole on screen, Quit and the way back included
        assert await wait_until(pilot, lambda: any(
            k.region.width for k in app.screen.query(FooterKey)))  # the bar is laid out
        await pilot.pause()
        keys = list(app.screen.query(FooterKey))
        assert [k.description for k in keys] == [
            "Quit", "Clock", "Faster", "Slower", "Jump", "Inject", "Mark", "Cockpit"]
        # (a key pushed off the right edge has no region at all)
        assert all(k.region.width > 0 and k.region.right <= size[0] for k in keys), [
            (k.description, k.region) for k in keys]

    assert snap_compare(app, terminal_size=size, run_before=check)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_player_screen(snap_compare, tmp_path, size):
    state = tmp_path / "state"
    wall = _played(state)
    wall.t += 3  # T+7:10: the customers' emails reached communications
    app = player_app(state, wall)
    view = app.session.view()
    assert view.incident is not None and view.incident.title == "db-1 down"
    assert not view.paused and view.now == pytest.approx(T0 + 430)
    texts = [e.data.get("text") for e in view.entries if e.kind == "inject"]
    assert any("customer emails" in (t or "") for t in texts)  # for communications: shown
    assert not any("CTO" in (t or "") for t in texts)  # not yet, and for the commander
    assert any("second engineer" in (t or "") for t in texts)  # the fired spare

    async def check(pilot):
        assert isinstance(app.screen, ExerciseMainScreen)
        bar = app.screen.query_one("#titlebar")
        assert await wait_until(pilot, lambda: "SIM" in bar.render_text())
        assert bar.render_text().startswith("DR Cockpit │  EXERCISE  │ 08:07:10 UTC SIM")
        assert app.screen.query_one("#log").border_title.startswith("EXERCISE")

    assert snap_compare(app, terminal_size=size, run_before=check)


async def test_the_facilitators_keys_write_the_journal(tmp_path):
    state = tmp_path / "state"
    wall = _played(state)
    app = facilitator_app(state, wall)
    fac: Facilitator = app.facilitator

    def clock_actions():
        return [e.data for e in app.session.journal_entries() if e.kind == "exercise.clock"]

    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, FacilitatorScreen)
        await pilot.press("space")
        assert await wait_until(pilot, lambda: clock_actions()[-1] == {"action": "pause"})
        assert not fac.board().running
        await pilot.press("plus")
        assert await wait_until(pilot, lambda: clock_actions()[-1] == {"action": "speed",
                                                                        "speed": 20.0})
        await pilot.press("minus", "minus")
        assert await wait_until(pilot, lambda: fac.board().speed == 5)
        await pilot.press("greater_than_sign")
        assert await wait_until(pilot, lambda: fac.board().offset == 420)
        await pilot.press("space")
        assert await wait_until(pilot, lambda: fac.board().running)
        # an ad-hoc inject, typed, for the commander
        await pilot.press("g")
        assert await wait_until(pilot, lambda: app.screen.__class__.__name__ == "InjectForm")
        await pilot.press(*"The CFO calls")
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: any(
            f.inject.synopsis == "The CFO calls" for f in app.session.timeline().fired))
        # the evaluator's mark on the highlighted outcome
        screen = app.screen
        assert isinstance(screen, FacilitatorScreen)
        ol = screen.query_one("#fx-msel")
        ids = [ol.get_option_at_index(i).id for i in range(ol.option_count)]
        ol.highlighted = ids.index("o:update")
        await pilot.press("m")
        assert await wait_until(pilot, lambda: app.screen.__class__.__name__ == "MarkForm")
        await pilot.press("tab", *"sent late", "ctrl+s")
        assert await wait_until(pilot, lambda: any(
            m.outcome == "update" and m.comment == "sent late"
            for m in app.session.timeline().marks))
        # player actions are hidden here; escape shows the cockpit, t comes back
        assert app.check_action("declare", ()) is False
        await pilot.press("escape")
        assert isinstance(app.screen, ExerciseMainScreen)
        await pilot.press("t")
        assert isinstance(app.screen, FacilitatorScreen)
        await pilot.press("E", *"good drill", "enter")
        assert await wait_until(pilot, lambda: fac.board().ended)
        await pilot.press("space")  # the clock no longer moves: refused, said
        await pilot.pause(0.3)
        assert clock_actions()[-1]["action"] == "end"


async def test_a_player_has_no_facilitator_screen_and_one_incident(tmp_path):
    state = tmp_path / "state"
    wall = _played(state)
    app = player_app(state, wall)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ExerciseMainScreen)
        await pilot.press("i")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ExerciseMainScreen)  # no picker: one incident
        assert any("real incidents are never shown in an exercise" in n.message
                   for n in app._notifications)


async def test_i_in_the_live_cockpit_never_lists_an_exercise(tmp_path):
    state = tmp_path / "state"
    _played(state)
    real = IncidentStore(state, author="oncall", clock=FixedClock(T0))
    rid = real.declare("Real outage", "P1", ["database"])
    real.close()
    cfg = Config(path=None, environment="test", mode="personal", milestones=Milestones(),
                 services={"database": ServiceConfig("database", "PostgreSQL", "P0", 3600.0,
                                                     900.0)})
    from cockpit.screens.app import CockpitApp

    app = CockpitApp(LiveSession(cfg, state, clock=FixedClock(T0 + 60), probes=False), tick=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        assert await wait_until(pilot, lambda: isinstance(app.screen, IncidentPicker))
        assert [iid for iid, _ in app.screen.rows] == [rid]


async def test_a_player_works_the_incident_as_in_a_real_one(tmp_path):
    """Declare (failing services and impact start pre-filled, in scenario time), take a
    role, note, send an update: each a journal entry of the exercise."""
    from cockpit.screens.forms import DeclareForm

    state = tmp_path / "state"
    text = (scenario_dir() / "database-loss.toml").read_text(encoding="utf-8")
    wall = FixedClock(T0)
    fac = ExerciseStore(state, clock=wall, author="fac")
    fac.start(parse_scenario(tomllib.loads(text), text, "s.toml"), text, source="test",
              running=True, exercise_id=XID)
    fac.close()
    wall.t = T0 + 150  # T+2:30: database and backend down
    app = player_app(state, wall, role="commander")
    s = app.session

    def entries(kind):
        return [e for e in s.journal_entries() if e.kind == kind]

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")
        assert await wait_until(pilot, lambda: isinstance(app.screen, DeclareForm))
        form = app.screen
        assert set(form.query_one("#services").selected) >= {"database", "backend"}
        assert form.query_one("#impact").value == "08:02:00"  # the failure, scenario time
        await pilot.press(*"Primary lost", "enter")
        assert await wait_until(pilot, lambda: entries("incident.declared"))
        decl = entries("incident.declared")[0].data
        assert decl["exercise"] == XID and decl["impact_start"] == T0 + 120
        await pilot.press("a", *"bob", "enter")
        assert await wait_until(pilot, lambda: entries("role.assigned"))
        await pilot.press("n", *"promote db-2", "enter")
        assert await wait_until(pilot, lambda: entries("note"))
        await pilot.press("u")
        assert await wait_until(pilot, lambda: app.screen.__class__.__name__ == "UpdateForm")
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: any(
            e.data.get("type") == "communication" for e in entries("note")))
        inc = s.view().incident
        assert inc is not None and inc.role("commander") == "bob"
        assert inc.first_communication_at == pytest.approx(T0 + 150)


async def test_a_player_cockpit_runs_its_session_once_and_joins_once(tmp_path):
    """Textual calls every class's on_mount by itself: a subclass calling the base's too
    started the session twice (two followers of the journal, two joins)."""
    state = tmp_path / "state"
    wall = _played(state)
    s = ExerciseSession(state, XID, wall=wall, author="bob", roles=["communications"],
                        joins=True)
    app = ExerciseApp(s, tick=0)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_until(pilot, lambda: any(
            e.kind == "exercise.joined" for e in s.journal_entries()))
        await pilot.pause(0.5)  # a second start would have joined by now
        assert [w.name for w in app.workers if w.group == "session"] == ["session"]
        assert [e.kind for e in s.journal_entries()].count("exercise.joined") == 1
