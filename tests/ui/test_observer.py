"""The read-only observer (what ``cockpit serve`` gives each browser): its session refuses
every write, its live session never journals by itself, and its cockpit has no writing keys;
a key that slips through still writes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.health import ServiceHealth, Status
from cockpit.incident.store import IncidentStore
from cockpit.screens.app import CockpitApp, MainScreen
from cockpit.screens.forms import NoteForm
from cockpit.screens.runbooks import RunbookScreen
from cockpit.session.live import LiveSession
from cockpit.session.observer import ObserverSession, ReadOnlyError
from cockpit.timeutil import FixedClock

from .helpers import T0


def _config() -> Config:
    svc = ServiceConfig(id="database", title="PostgreSQL", priority="P0", rto=3600.0,
                        rpo=900.0, probes=())
    return Config(path=None, environment="test", mode="personal", milestones=Milestones(),
                  services={"database": svc})


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def followed(tmp_path):
    state = tmp_path / "state"
    store = IncidentStore(state, author="alice")
    iid = store.declare("Disk full", "P1", ["database"])
    store.close()
    live = LiveSession(_config(), state, clock=FixedClock(T0 + 60), probes=False,
                       observer=True)
    live.follow(iid)
    return state, iid, live


def test_every_write_is_refused_at_the_session(followed):
    state, iid, live = followed
    obs = ObserverSession(live, f"INCIDENT {iid}")
    before = digest(state)
    caps = obs.capabilities
    assert not caps.declare and not caps.follow and not caps.execute
    writes = [
        lambda: obs.declare("x", "P1", ["database"], None),
        lambda: obs.set_status("responding"),
        lambda: obs.assign("commander", "mallory"),
        lambda: obs.note("observation", "from the browser"),
        lambda: obs.update(title="renamed"),
        lambda: obs.follow(None),
    ]
    rb = obs.runbooks
    writes += [
        lambda: rb.execute(None, None, {}, None, None),  # type: ignore[arg-type]
        lambda: rb.dry_run(None, None, {}),  # type: ignore[arg-type]
        lambda: rb.rollback(None, None, {}, None),  # type: ignore[arg-type]
        lambda: rb.verify(None, None, {}, None),  # type: ignore[arg-type]
        lambda: rb.confirm(None, None, None),  # type: ignore[arg-type]
        lambda: rb.skip(None, None, "r"),  # type: ignore[arg-type]
        lambda: rb.mark_failed(None, None, "r"),  # type: ignore[arg-type]
        lambda: rb.override(None, None, "r"),  # type: ignore[arg-type]
        lambda: rb.retry(None, None, "r"),  # type: ignore[arg-type]
    ]
    for write in writes:
        with pytest.raises(ReadOnlyError, match="READ-ONLY view"):
            write()
    assert "writes nothing" in obs.retry_journal()
    assert obs.incidents() == []
    # what could write on the wrapped session is not reachable through the observer
    for name in ("store", "act", "journal", "scheduler"):
        with pytest.raises(AttributeError):
            getattr(obs, name)
    assert digest(state) == before
    view = obs.view()
    assert view.incident_id == iid and view.incident is not None
    assert view.banners[0].key == "read-only" and f"INCIDENT {iid}" in view.banners[0].text
    assert obs.name.startswith("READ-ONLY · INCIDENT ")


def test_an_observer_never_journals_health_nor_saves_probe_results(followed):
    state, iid, live = followed
    probing = LiveSession(_config(), state, probes=True, observer=True)
    assert probing.scheduler is not None and not probing.scheduler.save_enabled
    probing.store.close()
    before = digest(state)
    live._journal_health([ServiceHealth("database", "PostgreSQL", Status.FAIL, "down", T0)])
    assert digest(state) == before
    assert [e.kind for e in IncidentStore(state).entries(iid)].count("health") == 0


async def test_a_read_only_cockpit_has_no_writing_keys_and_a_slipped_key_writes_nothing(
        followed):
    state, iid, live = followed
    before = digest(state)
    app = CockpitApp(ObserverSession(live, f"INCIDENT {iid}"), tick=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        active = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        for gone in ("declare", "note", "status", "assign", "edit_services", "update",
                     "retry_journal", "incidents"):
            assert gone not in active
        assert {"help", "runbooks", "quit"} <= active
        for key in "dnsaeui":
            await pilot.press(key)
            await pilot.pause(0.05)
            assert isinstance(app.screen, MainScreen), key  # no form opened
        # a key that slipped through (the action called directly): the session refuses it
        app.action_note()
        await pilot.pause(0.2)
        assert isinstance(app.screen, NoteForm)
        await pilot.press(*"from the browser", "enter")
        for _ in range(100):
            if any("READ-ONLY view" in str(n.message) for n in app._notifications):
                break
            await pilot.pause(0.05)
        assert any("READ-ONLY view: adding a note" in str(n.message)
                   for n in app._notifications)
        # the runbook navigator: no step actions
        await pilot.press("r")
        await pilot.pause(0.5)
        assert isinstance(app.screen, RunbookScreen)
        nav = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert not nav & RunbookScreen.STEP_ACTIONS
    assert digest(state) == before
