"""The sync line and banner of the live cockpit when S3 does not answer (issue 14): the log's
title says how far behind the sync is, a yellow banner says why and that entries are safe
(snapshots at 80x24 and 120x40, state assertions beside each)."""

from __future__ import annotations

import socket

import pytest

from cockpit.config import Config, Milestones, ServiceConfig, SyncConfig
from cockpit.screens.app import CockpitApp
from cockpit.session.live import LiveSession
from cockpit.session.protocol import BannerLevel
from cockpit.timeutil import FixedClock

from .helpers import T0, banner_text


def refused_endpoint() -> str:
    """A loopback port nobody listens on: every connect is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def sync_app(tmp_path, monkeypatch) -> tuple[CockpitApp, LiveSession]:
    monkeypatch.setenv("SYNC_TEST_KEY_ID", "AKIATEST")
    monkeypatch.setenv("SYNC_TEST_SECRET", "not-a-real-secret")
    sync = SyncConfig(bucket="dr", prefix="dr", endpoint=refused_endpoint(), interval=1.0,
                      deadline=5.0, credentials={"access_key_id_env": "SYNC_TEST_KEY_ID",
                                                 "secret_access_key_env": "SYNC_TEST_SECRET"})
    cfg = Config(path=None, environment="production", mode="personal", milestones=Milestones(),
                 services={"database": ServiceConfig("database", "PostgreSQL", "P0", 3600.0,
                                                     900.0)}, sync=sync)
    session = LiveSession(cfg, tmp_path / "state", clock=FixedClock(T0), probes=False)
    return CockpitApp(session, tick=0), session


WANT = "sync: 0 entries waiting, last sync never"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_sync_behind_line_and_banner(snap_compare, tmp_path, monkeypatch, size):
    app, session = sync_app(tmp_path, monkeypatch)

    async def run_before(pilot) -> None:
        for _ in range(300):
            await pilot.pause(0.05)
            if session.sync_status() == WANT:
                break
        assert session.sync_status() == WANT
        (b,) = [b for b in session.view().banners if b.key == "sync"]
        assert b.level == BannerLevel.WARNING
        assert b.text.startswith(f"Sync behind: {WANT.removeprefix('sync: ')} "
                                 "(S3: connection refused).")
        app.refresh_view()
        await pilot.pause()
        assert "Sync behind" in banner_text(app)
        assert WANT in str(app.query_one("#log").border_title)
        assert "not-a-real-secret" not in banner_text(app)

    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        session.stop()
