"""Pilot flows of issue 6 on the demo and on a real journal: declare, status, roles, notes, updates."""

from __future__ import annotations

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.environment import LiveEnvironment
from cockpit.incident import fold
from cockpit.incidents import IncidentStore
from cockpit.timeutil import FixedClock
from screens.app import CockpitApp
from screens.forms import DeclareForm, NoteForm, RoleForm, StatusForm, UpdateForm

from .helpers import T0, demo_app


async def wait_until(pilot, predicate, tries: int = 100):
    for _ in range(tries):
        if predicate():
            return True
        await pilot.pause(0.02)
    return predicate()


async def test_declare_prefills_failing_services_and_impact_start():
    app = demo_app(at=150)  # database and backend failing, no incident yet
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        form = app.screen
        assert isinstance(form, DeclareForm)
        assert set(form.query_one("#services").selected) >= {"database", "backend"}
        assert form.query_one("#impact").value == "07:59:30"  # db down since offset 2m = T0 - 30 s
        await pilot.press(*"DB primary lost")
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: app._incident is not None and app._incident.title == "DB primary lost")
        inc = app._incident
        assert {"database", "backend"} <= set(inc.services)
        assert inc.severity == "P0" and inc.impact_start == T0 - 30


async def test_status_role_notes_and_update_on_the_demo():
    app = demo_app(at=400)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, StatusForm)
        await pilot.press("enter")  # first option: mitigated
        assert await wait_until(pilot, lambda: app._incident.status == "mitigated")
        await pilot.press("a")
        assert isinstance(app.screen, RoleForm)
        await pilot.press(*"carol", "enter")  # hand over commander from alice
        assert await wait_until(pilot, lambda: app._incident.role("commander") == "carol")
        for kind in ("observation", "decision", "action", "communication"):
            await pilot.press("n")
            form = app.screen
            assert isinstance(form, NoteForm)
            form.query_one("#type").value = kind
            await pilot.press(*f"a {kind}", "enter")
            assert await wait_until(pilot, lambda k=kind: any(
                e.kind == "note" and e.data["type"] == k and e.data["text"] == f"a {k}" for e in app._entries))
        await pilot.press("u")
        form = app.screen
        assert isinstance(form, UpdateForm)
        draft = form.query_one("#text").text
        assert "Primary database unreachable" in draft and "Next update by" in draft
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: app._entries[-1].data.get("text") == draft.strip())


def _config() -> Config:
    svc = ServiceConfig("database", "PostgreSQL", "P0", 3600.0, 900.0)
    return Config(path=None, environment="test", mode="personal", milestones=Milestones(),
                  services={"database": svc})


async def test_live_environment_journals_every_action(tmp_path):
    state = tmp_path / "state"
    env = LiveEnvironment(_config(), state, clock=FixedClock(T0), probes=False)
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d", *"Disk full on db-1", "enter")
        assert await wait_until(pilot, lambda: env.incident_id is not None and app._incident is not None)
        await pilot.press("n", *"df shows 100%", "enter")
        assert await wait_until(pilot, lambda: any(e.kind == "note" for e in app._entries))
        await pilot.press("s", "enter")
        assert await wait_until(pilot, lambda: app._incident.status == "responding")
    store = IncidentStore(state)
    inc = fold(store.entries(env.incident_id))
    assert inc.title == "Disk full on db-1" and inc.status == "responding"
    kinds = [e.kind for e in store.entries(env.incident_id)]
    assert kinds.count("note") == 1 and "incident.declared" in kinds


async def test_entries_from_another_cockpit_appear(tmp_path):
    state = tmp_path / "state"
    other = IncidentStore(state, author="bob")
    iid = other.declare("Redis down", "P1", ["database"])
    env = LiveEnvironment(_config(), state, clock=FixedClock(T0), probes=False)
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_until(pilot, lambda: app._incident is not None, tries=200)
        other.note(iid, "seen from the other bastion session", "observation")
        assert await wait_until(pilot, lambda: any(
            getattr(e, "author", "") == "bob" and e.kind == "note" for e in app._entries), tries=200)
    other.close()


async def test_write_failure_shows_banner_and_keeps_the_entry(tmp_path, monkeypatch):
    state = tmp_path / "state"
    env = LiveEnvironment(_config(), state, clock=FixedClock(T0), probes=False)
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d", *"x", "enter")
        assert await wait_until(pilot, lambda: app._incident is not None)

        def boom(*a, **k):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(env.store, "note", boom)
        await pilot.press("n", *"lost?", "enter")
        assert await wait_until(pilot, lambda: app.unsaved)
        banner = app.screen.query_one("#banner")
        assert banner.display and "NOT WRITABLE" in str(banner.render())
        assert "UNSAVED" in app.screen.query_one("LogView").line_text(0)


async def test_switch_between_open_incidents(tmp_path):
    from screens.forms import IncidentPicker

    state = tmp_path / "state"
    store = IncidentStore(state, author="bob")
    first = store.declare("Redis evictions", "P2", ["database"])
    store.journal(first).append("note", {"type": "observation", "text": "in the first one"})
    import time as _t

    _t.sleep(1.1)  # incident ids start with their declaration second
    second = store.declare("Database down", "P0", ["database"])
    env = LiveEnvironment(_config(), state, clock=FixedClock(T0), probes=False)
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(80, 24)) as pilot:
        # the newest incident is followed at start
        assert await wait_until(pilot, lambda: app._incident is not None and env.incident_id == second)
        await pilot.press("i")
        assert await wait_until(pilot, lambda: isinstance(app.screen, IncidentPicker))
        picker = app.screen
        assert {iid for iid, _ in picker.rows} == {first, second}
        ol = picker.query_one("#incidents")
        ol.highlighted = [iid for iid, _ in picker.rows].index(first)
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: env.incident_id == first and app._incident is not None
                                and app._incident.title == "Redis evictions")
        assert any(getattr(e, "data", {}).get("text") == "in the first one" for e in app._entries)
    store.close()


async def test_change_affected_services_after_declaring():
    from screens.forms import ServicesForm

    app = demo_app(at=400)  # affected: database, backend
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, ServicesForm)
        sl = form.query_one("#services")
        assert set(sl.selected) == {"database", "backend"}
        sl.select("redis")
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: "redis" in app._incident.services)
        assert any(c.key == "rto:redis" for c in app._clocks)
