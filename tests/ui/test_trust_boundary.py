"""What the screen shows of records another writer got wrong (issue 17): an unreadable record
is a log line (`INVALID ... unreadable record from WRITER seq N: reason`) and a banner, never
part of the incident's state; a writer file not proven to be by who it says is a red banner.
Snapshots at 80x24 and 120x40 with the state asserted beside each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from security.hostile_writer import KIND_FIELDS, HostileWriter

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.incident.log import describe
from cockpit.journal.model import UNREADABLE
from cockpit.screens.app import CockpitApp
from cockpit.session.live import LiveSession
from cockpit.timeutil import FixedClock

from .helpers import T0, banner_text

IID = "20270115-073000-primary-db-down-0001"


def _config() -> Config:
    return Config(path=None, environment="trust boundary", mode="personal",
                  milestones=Milestones(), services={
                      "database": ServiceConfig("database", "PostgreSQL", "P0", 3600.0, 900.0)})


def _start(w: HostileWriter | None = None, **kw: object) -> dict:
    return dict(KIND_FIELDS["session-start"], incident=IID, **kw)


def hostile_state(state: Path, mode: str = "personal", forged: bool = False) -> None:
    with HostileWriter(state, IID, name="w-alice-1", clock=T0 - 1800, mode=mode,
                       session_start=_start(user="alice", uid=os.getuid(),
                                            euid=os.geteuid(), mode=mode)) as w:
        w.append("incident.declared", {"title": "Primary database down", "severity": "P0",
                                       "services": ["database"], "impact_start": T0 - 1900},
                 author="alice")
        w.append("note", {"type": "action", "text": "failing over to the replica"},
                 author="alice")
    uid = 4242 if forged else os.getuid()
    with HostileWriter(state, IID, name="w-mallory-2", clock=T0 - 900, mode=mode,
                       session_start=_start(user="mallory", uid=uid, euid=uid,
                                            mode=mode)) as m:
        m.append("incident.status", {"status": "\x1b]0;PWNED\x07[@click=app.quit]closed[/]"},
                 author="mallory")
        m.append("note", {"type": "\u202eaction", "text": "I was never here"}, author="mallory")


def live_app(state: Path) -> CockpitApp:
    env = LiveSession(_config(), state, clock=FixedClock(T0), probes=False)
    env.follow(IID)
    return CockpitApp(env, tick=0)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_unreadable_records_on_the_main_screen(snap_compare, tmp_path, size):
    state = tmp_path / "state"
    hostile_state(state)
    app = live_app(state)
    assert snap_compare(app, terminal_size=size)
    view = app.view_state
    assert view is not None and view.incident is not None
    # the hostile status was not folded: the incident is as alice declared it
    assert view.incident.status == "declared" and view.incident.title == "Primary database down"
    bad = [e for e in view.entries if e.kind == UNREADABLE]
    assert [(e.writer, e.seq) for e in bad] == [("w-mallory-2", 2), ("w-mallory-2", 3)]
    assert describe(bad[0])[1].startswith(
        "unreadable record from w-mallory-2 seq 2: status: expected one of closed, mitigated")
    assert [b.key for b in view.banners] == ["unreadable"]
    assert view.banners[0].text.startswith("2 UNREADABLE RECORDS in this incident")


async def test_a_forged_writer_file_is_a_red_banner(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o3770)  # a shared state directory
    hostile_state(state, mode="shared", forged=True)
    app = live_app(state)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        app.refresh_view()
        await pilot.pause()
        keys = [b.key for b in app.view_state.banners]
        assert keys == ["unreadable", "authorship"], keys
        text = banner_text(app)
        assert "WHO WROTE IT IS NOT PROVEN: w-mallory-2.toml is owned by uid" in text
        assert "its session-start names uid 4242" in text
