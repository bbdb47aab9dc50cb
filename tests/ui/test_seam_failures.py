"""Loud failures through the session seam, and keys as data (issue 9): a dead background
worker, a damaged record in a colleague's journal and a user keymap, each on screen."""

from __future__ import annotations

import os
import time

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.incident.store import IncidentStore
from cockpit.journal import record
from cockpit.screens.app import CockpitApp
from cockpit.screens.forms import DeclareForm, NoteForm
from cockpit.screens.modals import HelpScreen
from cockpit.session.live import LiveSession
from cockpit.timeutil import FixedClock

from .helpers import T0, banner_text, demo_app, entries, wait_until


def _config() -> Config:
    svc = ServiceConfig("database", "PostgreSQL", "P0", 3600.0, 900.0)
    return Config(path=None, environment="test", mode="personal", milestones=Milestones(),
                  services={"database": svc})


async def test_a_dead_session_worker_is_shown_in_a_banner(tmp_path):
    """The session's background work raising (here: the journal's disk goes away) is not
    silent: a red banner says it stopped and what to do."""
    session = LiveSession(_config(), tmp_path / "state", clock=FixedClock(T0), probes=False)

    async def broken(changed):
        raise OSError(5, "Input/output error")

    session.run = broken  # type: ignore[method-assign]
    app = CockpitApp(session, tick=0)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_until(pilot, lambda: "BACKGROUND WORK STOPPED" in banner_text(app))
        text = banner_text(app)
        assert "Input/output error" in text and "restart the cockpit" in text


async def test_a_damaged_record_in_a_colleagues_journal_is_shown_within_a_second(tmp_path):
    """While the cockpit follows an incident, one byte of a colleague's record is changed:
    within a second a banner names the file and line, and says how to see the damage."""
    state = tmp_path / "state"
    bob = IncidentStore(state, author="bob")
    iid = bob.declare("Redis down", "P1", ["database"])
    bob.note(iid, "first note from bob", "observation")
    path = bob.journal(iid).path
    session = LiveSession(_config(), state, clock=FixedClock(T0), probes=False)
    app = CockpitApp(session, tick=0)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_until(pilot, lambda: any(
            e.kind == "note" for e in entries(app)), seconds=10)
        # bob's next record reaches the file damaged (one byte changed after it was hashed)
        j = bob.journal(iid)
        rec, _digest = record.encode_record(seq=j._seq + 1, ts=T0 + 5, kind="note",
                                            author="bob", prev=j._prev,
                                            data={"type": "observation",
                                                  "text": "second note from bob"})
        os.write(j._fd, rec.replace(b"second note", b"Second note"))
        t0 = time.monotonic()
        assert await wait_until(pilot, lambda: "UNREADABLE JOURNAL" in banner_text(app),
                                seconds=5)
        assert time.monotonic() - t0 < 3.0  # within a second (and a loaded machine's scheduling)
        text = banner_text(app)
        assert path.name in text and "cockpit verify" in text
        assert not any(e.data.get("text", "").lower().startswith("second")
                       for e in entries(app) if e.kind == "note")
    bob.close()


async def test_a_user_keymap_rebinds_three_actions_and_help_shows_it():
    keymap = {"declare": "D", "note": "w", "help": "f1"}
    app = demo_app(at=400, keymap=keymap)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")  # no longer bound
        await pilot.pause()
        assert not isinstance(app.screen, DeclareForm)
        await pilot.press("D")
        assert await wait_until(pilot, lambda: isinstance(app.screen, DeclareForm))
        await pilot.press("escape")
        await pilot.press("w")
        assert await wait_until(pilot, lambda: isinstance(app.screen, NoteForm))
        await pilot.press("escape")
        await pilot.press("question_mark")  # the old help key does nothing now
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = dict(app.screen.help_table_rows())
        assert rows["D"].startswith("declare an incident")
        assert rows["w"].startswith("add to the log")
        assert rows["f1"] == "this help"
        assert "d" not in rows and "?" not in rows


def test_the_keymap_comes_from_cockpit_toml_and_a_wrong_id_names_its_line(tmp_path):
    from cockpit.config import load_config
    from cockpit.document import DocumentError

    p = tmp_path / "cockpit.toml"
    p.write_text('[keys]\ndeclare = "D"\nnote = "w"\n')
    assert load_config(p).keys == {"declare": "D", "note": "w"}
    p.write_text('[keys]\ndeclare = "D"\ndeclar = "x"\n')
    try:
        load_config(p)
    except DocumentError as e:
        assert e.line == 3 and e.key == "keys.declar" and "unknown key binding" in e.message
    else:
        raise AssertionError("a wrong binding id was accepted")


async def test_a_failed_save_of_the_last_known_health_is_shown(tmp_path):
    """The probes answer but their results cannot be saved (probes.toml cannot be written):
    a banner says so and what it means, instead of losing last-known health silently."""
    import socket

    from cockpit.config import ProbeConfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    probe = ProbeConfig("tcp", "tcp", 0.5, 1.0, 1, 1, {"host": "127.0.0.1", "port": closed})
    svc = ServiceConfig("database", "PostgreSQL", "P0", 3600.0, 900.0, probes=(probe,))
    cfg = Config(path=None, environment="test", mode="personal", milestones=Milestones(),
                 services={"database": svc})
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "probes.toml").mkdir()  # a directory where the file must go: every save fails
    session = LiveSession(cfg, state)
    app = CockpitApp(session, tick=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_until(pilot, lambda: "Last-known health not saved" in banner_text(app),
                                seconds=20)
        assert "probes.toml" in banner_text(app)
