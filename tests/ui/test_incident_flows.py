"""Pilot flows of issue 6 on the demo and on a real journal: declare, status, roles, notes, updates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from shared_fakes import require

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.incident.fold import fold
from cockpit.incident.store import IncidentStore
from cockpit.screens.app import CockpitApp
from cockpit.screens.forms import DeclareForm, NoteForm, RoleForm, StatusForm, UpdateForm
from cockpit.session.live import LiveSession
from cockpit.timeutil import FixedClock

from .helpers import T0, banner_text, clocks, demo_app, entries, incident, wait_until


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
        assert await wait_until(pilot, lambda: incident(app) is not None and incident(app).title == "DB primary lost")
        inc = incident(app)
        assert {"database", "backend"} <= set(inc.services)
        assert inc.severity == "P0" and inc.impact_start == T0 - 30


async def test_status_role_notes_and_update_on_the_demo():
    app = demo_app(at=400)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, StatusForm)
        await pilot.press("enter")  # first option: mitigated
        assert await wait_until(pilot, lambda: incident(app).status == "mitigated")
        await pilot.press("a")
        assert isinstance(app.screen, RoleForm)
        await pilot.press(*"carol", "enter")  # hand over commander from alice
        assert await wait_until(pilot, lambda: incident(app).role("commander") == "carol")
        for kind in ("observation", "decision", "action", "communication"):
            await pilot.press("n")
            form = app.screen
            assert isinstance(form, NoteForm)
            form.query_one("#type").value = kind
            await pilot.press(*f"a {kind}", "enter")
            assert await wait_until(pilot, lambda k=kind: any(
                e.kind == "note" and e.data["type"] == k and e.data["text"] == f"a {k}" for e in entries(app)))
        await pilot.press("u")
        form = app.screen
        assert isinstance(form, UpdateForm)
        draft = form.query_one("#text").text
        assert "Primary database unreachable" in draft and "Next update by" in draft
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: entries(app)[-1].data.get("text") == draft.strip())


def _config() -> Config:
    svc = ServiceConfig("database", "PostgreSQL", "P0", 3600.0, 900.0)
    return Config(path=None, environment="test", mode="personal", milestones=Milestones(),
                  services={"database": svc})


async def test_live_environment_journals_every_action(tmp_path):
    state = tmp_path / "state"
    env = LiveSession(_config(), state, clock=FixedClock(T0), probes=False)
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d", *"Disk full on db-1", "enter")
        assert await wait_until(pilot, lambda: env.incident_id is not None and incident(app) is not None)
        await pilot.press("n", *"df shows 100%", "enter")
        assert await wait_until(pilot, lambda: any(e.kind == "note" for e in entries(app)))
        await pilot.press("s", "enter")
        assert await wait_until(pilot, lambda: incident(app).status == "responding")
    store = IncidentStore(state)
    inc = fold(store.entries(env.incident_id))
    assert inc.title == "Disk full on db-1" and inc.status == "responding"
    kinds = [e.kind for e in store.entries(env.incident_id)]
    assert kinds.count("note") == 1 and "incident.declared" in kinds


async def test_entries_from_another_cockpit_appear(tmp_path):
    state = tmp_path / "state"
    other = IncidentStore(state, author="bob")
    iid = other.declare("Redis down", "P1", ["database"])
    env = LiveSession(_config(), state, clock=FixedClock(T0), probes=False)
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_until(pilot, lambda: incident(app) is not None, seconds=15)
        other.note(iid, "seen from the other bastion session", "observation")
        assert await wait_until(pilot, lambda: any(
            getattr(e, "author", "") == "bob" and e.kind == "note" for e in entries(app)), seconds=15)
    other.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: a disk that can really fill up (mounting needs root; under CI=true a
    machine that cannot mount fails the test instead of skipping it)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    require(r.returncode == 0, f"mount a small tmpfs ({r.stderr.strip()})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> None:
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 16, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                continue


async def test_a_full_disk_shows_a_banner_keeps_the_entry_and_recovers_by_itself(small_disk):
    """The real failure path, no mocks: the disk under the journal fills up, a note cannot be
    written (banner, UNSAVED in the log); the space is freed, the cockpit retries by itself,
    says so, and the note is in the journal."""
    state = small_disk / "state"
    env = LiveSession(_config(), state, clock=FixedClock(T0), probes=False)
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d", *"x", "enter")
        assert await wait_until(pilot, lambda: incident(app) is not None)
        iid = env.incident_id
        filler = small_disk / "filler"
        fill(filler)
        note = "lost? " + "x" * 6000  # needs new pages: cannot fit in the journal's last one
        await pilot.press("n")
        app.screen.query_one("#text").value = note
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: "NOT WRITABLE" in banner_text(app), seconds=20)
        assert "UNSAVED" in app.screen.query_one("LogView").line_text(0)
        filler.unlink()
        assert await wait_until(pilot, lambda: "writable again" in banner_text(app), seconds=30)
        assert "NOT WRITABLE" not in banner_text(app)
        assert "UNSAVED" not in app.screen.query_one("LogView").line_text(0)
    texts = [e.data.get("text") for e in IncidentStore(state).entries(iid) if e.kind == "note"]
    assert texts == [note]


async def test_switch_between_open_incidents(tmp_path):
    from cockpit.screens.forms import IncidentPicker

    state = tmp_path / "state"
    store = IncidentStore(state, author="bob")
    first = store.declare("Redis evictions", "P2", ["database"])
    store.journal(first).append("note", {"type": "observation", "text": "in the first one"})
    import time as _t

    _t.sleep(1.1)  # incident ids start with their declaration second
    second = store.declare("Database down", "P0", ["database"])
    env = LiveSession(_config(), state, clock=FixedClock(T0), probes=False)
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(80, 24)) as pilot:
        # the newest incident is followed at start
        assert await wait_until(pilot, lambda: incident(app) is not None and env.incident_id == second)
        await pilot.press("i")
        assert await wait_until(pilot, lambda: isinstance(app.screen, IncidentPicker))
        picker = app.screen
        assert {iid for iid, _ in picker.rows} == {first, second}
        ol = picker.query_one("#incidents")
        ol.highlighted = [iid for iid, _ in picker.rows].index(first)
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: env.incident_id == first and incident(app) is not None
                                and incident(app).title == "Redis evictions")
        assert any(getattr(e, "data", {}).get("text") == "in the first one" for e in entries(app))
    store.close()


async def test_change_affected_services_after_declaring():
    from cockpit.screens.forms import ServicesForm

    app = demo_app(at=400)  # affected: database, backend
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, ServicesForm)
        sl = form.query_one("#services")
        assert set(sl.selected) == {"database", "backend"}
        sl.select("redis")
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: "redis" in incident(app).services)
        assert any(c.key == "rto:redis" for c in clocks(app))
