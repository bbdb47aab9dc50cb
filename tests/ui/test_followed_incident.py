"""Which incident is followed, and what is announced (issue 10, ux-review B1, MISSING 1).

At start the cockpit follows the most severe OPEN incident (a closed one never by default);
the title bar counts the open incidents; a new incident, a note by someone else and a service
turning DOWN are announced (a notification and the bell unless ``bell = false``); ``i``
lists incidents declared since the cockpit started, even while the list is open."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

from cockpit.config import Config, Milestones, ProbeConfig, ServiceConfig
from cockpit.incident.store import IncidentStore
from cockpit.screens.app import CockpitApp
from cockpit.screens.forms import IncidentPicker
from cockpit.screens.widgets import TitleBar
from cockpit.session.live import LiveSession

from .helpers import wait_until

CONFIG_TOML = """
[cockpit]
environment = "b1"

[services.database]
title = "PostgreSQL"
priority = "P0"
rto = "1h"

[services.redis]
title = "Redis"
priority = "P1"
rto = "1h"
"""


def _config(bell: bool = True, probes: tuple[ProbeConfig, ...] = ()) -> Config:
    return Config(path=None, environment="b1", mode="personal", milestones=Milestones(),
                  services={"database": ServiceConfig("database", "PostgreSQL", "P0", 3600.0,
                                                      None, probes=probes),
                            "redis": ServiceConfig("redis", "Redis", "P1", 3600.0, None)},
                  bell=bell)


def notified(app: CockpitApp, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


def title_bar(app: CockpitApp) -> str:
    return app.screen.query_one(TitleBar).render_text()


class BellCount:
    """The terminal bell, counted (the app's own bell() still rings: it is output, not the
    behaviour under test)."""

    def __init__(self, app: CockpitApp) -> None:
        self.n = 0
        ring = app.bell

        def bell() -> None:
            self.n += 1
            ring()

        app.bell = bell  # type: ignore[method-assign]


async def cli(tmp_path: Path, *args: str) -> str:
    """A colleague's command, in its own process (the app's loop keeps running)."""
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(CONFIG_TOML)
    env = dict(os.environ)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cockpit", "--config", str(cfg), "--state-dir",
        str(tmp_path / "state"), *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()


async def test_B1_start_follows_the_most_severe_open_incident_never_a_closed_one(tmp_path):
    state = tmp_path / "state"
    store = IncidentStore(state, author="alice")
    p0 = store.declare("Local web down", "P0", ["database"])
    time.sleep(1.05)  # ids and declaration times a second apart
    p2 = store.declare("CLI test", "P2", ["redis"])
    store.set_status(p2, "closed", skip_ok=True)
    time.sleep(1.05)
    store.declare("markup title", "P3", ["redis"])  # the newest, open, less severe
    store.close()
    env = LiveSession(_config(), state, probes=False)
    app = CockpitApp(env, tick=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_until(pilot, lambda: env.incident_id is not None)
        assert env.incident_id == p0
        # the count and the followed incident come in separate redraws: wait for both
        assert await wait_until(pilot, lambda: "2 open" in title_bar(app)
                                and "INCIDENT P0 DECLARED" in title_bar(app)), title_bar(app)
        assert env.incident_id == p0  # and it stayed the P0


async def test_B1_only_closed_incidents_none_followed_zero_open(tmp_path):
    state = tmp_path / "state"
    store = IncidentStore(state, author="alice")
    iid = store.declare("old", "P1", ["database"])
    store.set_status(iid, "closed", skip_ok=True)
    store.close()
    env = LiveSession(_config(), state, probes=False)
    app = CockpitApp(env, tick=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_until(pilot, lambda: "0 open" in title_bar(app)), title_bar(app)
        await pilot.pause(1.5)
        assert env.incident_id is None  # the closed one is behind i, never followed by default


async def test_B1_colleague_declares_P0_announced_counted_and_listed_within_a_second(tmp_path):
    """ACCEPTANCE: a colleague declares a P0 from the CLI while the cockpit follows a P3."""
    state = tmp_path / "state"
    store = IncidentStore(state, author="alice")
    p3 = store.declare("Slow reports", "P3", ["redis"])
    store.close()
    env = LiveSession(_config(), state, probes=False)
    app = CockpitApp(env, tick=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        bells = BellCount(app)
        assert await wait_until(pilot, lambda: env.incident_id == p3)
        assert await wait_until(pilot, lambda: "1 open" in title_bar(app)), title_bar(app)
        p0 = await cli(tmp_path, "incident", "declare", "--title",
                       "Colleague declared P0 redis outage", "--severity", "P0",
                       "--service", "redis")
        t0 = time.monotonic()
        assert await wait_until(pilot, lambda: notified(app, "NEW INCIDENT P0")
                                and "2 open" in title_bar(app))
        latency = time.monotonic() - t0
        # within the follower's second; the slack is a loaded 2-core machine's scheduling
        # (the figure itself: ./run bench incident, a note from another process)
        assert latency <= 3.0, f"announced after {latency:.2f}s"
        assert notified(app, "Colleague declared P0 redis outage")
        assert bells.n >= 1
        assert env.incident_id == p3  # still following what the engineer chose
        await pilot.press("i")
        assert await wait_until(pilot, lambda: isinstance(app.screen, IncidentPicker))
        assert p0 in [iid for iid, _ in app.screen.rows]
        # a further incident while the list is open: listed live
        p1 = await cli(tmp_path, "incident", "declare", "--title", "Second colleague P1",
                       "--severity", "P1", "--service", "database")
        assert await wait_until(pilot, lambda: isinstance(app.screen, IncidentPicker)
                                and p1 in [iid for iid, _ in app.screen.rows])


async def test_B1_note_by_someone_else_is_announced_not_our_own(tmp_path):
    state = tmp_path / "state"
    env = LiveSession(_config(bell=False), state, probes=False)
    app = CockpitApp(env, tick=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        bells = BellCount(app)
        await pilot.press("d", *"Disk full", "enter")
        assert await wait_until(pilot, lambda: env.incident_id is not None
                                and env.view().incident is not None)
        await pilot.press("n", *"my own note", "enter")
        assert await wait_until(pilot, lambda: any(e.kind == "note" for e in env.entries()))
        await cli(tmp_path, "incident", "note", env.incident_id, "colleague", "checked", "df")
        assert await wait_until(pilot, lambda: notified(app, "colleague checked df"))
        assert not notified(app, "my own note")
        assert not notified(app, "NEW INCIDENT")  # our own declaration is not news
        assert bells.n == 0  # bell = false in cockpit.toml


async def test_B1_a_service_turning_down_is_announced_with_the_bell(tmp_path):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    probe = ProbeConfig("tcp", "tcp", 0.3, 1.0, 1, 1, {"host": "127.0.0.1", "port": port})
    env = LiveSession(_config(probes=(probe,)), tmp_path / "state")
    app = CockpitApp(env, tick=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        bells = BellCount(app)
        assert await wait_until(pilot, lambda: any(h.service == "database"
                                                   and h.status.value == "ok"
                                                   for h in env.health()))
        assert not notified(app, "DOWN")
        srv.close()
        assert await wait_until(pilot, lambda: notified(app, "DOWN: PostgreSQL"))
        assert bells.n >= 1
