"""The cockpit's background sync (LiveSession + Pilot): it never blocks the UI, shows how far
behind it is, and brings an incident declared on another bastion into the incident list."""

from __future__ import annotations

import asyncio

from shared_fakes import Blackhole

from cockpit.config import Config, Milestones, ServiceConfig, SyncConfig
from cockpit.screens.app import CockpitApp
from cockpit.session.live import LiveSession
from cockpit.timeutil import FixedClock

from .test_sync_bastions import make_bastions

T0 = 1764316800.0


async def wait_until(pilot, predicate, seconds: float = 30.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return True
        await pilot.pause(0.05)
    return predicate()


def config(endpoint: str, bucket: str = "dr", deadline: float = 1.0,
           interval: float = 1.0) -> Config:
    svc = ServiceConfig("database", "PostgreSQL", "P0", 3600.0, 900.0)
    sync = SyncConfig(bucket=bucket, prefix="dr", endpoint=endpoint, interval=interval,
                      deadline=deadline, credentials={"access_key_id_env": "SYNC_TEST_KEY_ID",
                                                      "secret_access_key_env": "SYNC_TEST_SECRET"})
    return Config(path=None, environment="test", mode="personal", milestones=Milestones(),
                  services={"database": svc}, sync=sync)


def banner(app: CockpitApp) -> str:
    return " ".join(b.text for b in app.session.view().banners)


async def test_blackholed_s3_keys_keep_working_and_sync_shows_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNC_TEST_KEY_ID", "AKIATEST")
    monkeypatch.setenv("SYNC_TEST_SECRET", "not-a-real-secret")
    hole = Blackhole()
    try:
        env = LiveSession(config(f"http://127.0.0.1:{hole.port}"), tmp_path / "state",
                          clock=FixedClock(T0), probes=False)
        app = CockpitApp(env, tick=0)
        async with app.run_test(size=(120, 40)) as pilot:
            # keys answer while every sync run hangs on the blackholed endpoint
            await pilot.press("d", *"Region down", "enter")
            assert await wait_until(pilot, lambda: env.incident_id is not None)
            for k in range(3):
                await pilot.press("n", *f"note {k}", "enter")
            assert await wait_until(pilot, lambda: sum(
                e.kind == "note" for e in env.entries()) == 3)
            # 1 session-start + declare + 3 notes, none in the bucket
            assert await wait_until(pilot, lambda: env.sync_status()
                                    == "sync: 5 entries waiting, last sync never")
            assert "Sync behind: 5 entries waiting" in banner(app)
            assert await wait_until(pilot, lambda: "sync: 5 entries waiting, last sync never"
                                    in str(app.query_one("#log").border_title))
            await pilot.press("n", *"still typing", "enter")
            assert await wait_until(pilot, lambda: any(
                e.data.get("text") == "still typing" for e in env.entries()))
    finally:
        hole.close()


async def test_incident_declared_on_another_bastion_appears(s3_server, tmp_path, monkeypatch):
    (other,) = make_bastions(tmp_path, s3_server, 1)
    bucket = other.config.read_text().split('bucket = "')[1].split('"')[0]
    monkeypatch.setenv("SYNC_TEST_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("SYNC_TEST_SECRET", s3_server.secret_key)
    # the real clock: the other bastion's entries carry real times
    env = LiveSession(config(s3_server.endpoint, bucket, deadline=10.0), tmp_path / "here",
                      probes=False)
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_until(pilot, lambda: env.sync_status().startswith("sync: up to date"))
        r = other.cli("incident", "declare", "--title", "Declared elsewhere")
        assert r.returncode == 0
        iid = r.stdout.strip()
        assert other.sync().returncode == 0
        assert await wait_until(pilot, lambda: iid in [c.id for c in env.incidents()])
        assert await wait_until(pilot, lambda: app._view().incident is not None
                                and app._view().incident.title == "Declared elsewhere")
        # and this bastion's note reaches the other one
        await pilot.press("n")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "NoteForm"), \
            (app.screen, banner(app))
        await pilot.press(*"seen here", "enter")
        assert await wait_until(pilot, lambda: any(e.data.get("text") == "seen here"
                                                   for e in env.entries())), \
            (app.screen, banner(app), env.entries())
        # the cockpit's background sync pushes it: the other bastion pulls it
        for _ in range(60):
            await asyncio.to_thread(other.sync)
            if any(e["data"].get("text") == "seen here" for e in other.log(iid)):
                break
            await pilot.pause(0.5)
        assert any(e["data"].get("text") == "seen here" for e in other.log(iid))
    assert other.verify(iid).returncode == 0


def test_quarantined_segment_is_a_red_banner(s3_server, tmp_path, monkeypatch):
    """A real pull of a segment edited in the bucket: the session's banner names writer and
    sequence (the engine's own report, as the background sync stores it)."""
    from cockpit.session.protocol import BannerLevel

    (other,) = make_bastions(tmp_path, s3_server, 1)
    bucket = other.config.read_text().split('bucket = "')[1].split('"')[0]
    r = other.cli("incident", "declare", "--title", "Tampered")
    assert other.sync().returncode == 0
    s3 = s3_server.client()
    key = s3.list_objects_v2(Bucket=bucket, Prefix="dr/incidents/")["Contents"][0]["Key"]
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=body.replace(b"Tampered", b"Tampere!"))
    monkeypatch.setenv("SYNC_TEST_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("SYNC_TEST_SECRET", s3_server.secret_key)
    env = LiveSession(config(s3_server.endpoint, bucket, deadline=10.0), tmp_path / "here",
                      probes=False)
    try:
        env._sync_report = env._sync.run()
        (b,) = [b for b in env.view().banners if b.key == "sync-quarantine"]
        assert b.level == BannerLevel.ERROR
        assert f"writer {key.split('/')[3]} seq 1-2" in b.text and "quarantined" in b.text
        assert r.stdout.strip() not in [c.id for c in env.incidents()] or all(
            c.state.title != "Tampere!" for c in env.incidents())
    finally:
        env.stop()
