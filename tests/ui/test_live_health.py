"""The live cockpit on real probes: hung probes never freeze the UI, results reach the panes,
last-known results show at start, details are sanitized."""

from __future__ import annotations

import socket
import time

from shared_fakes import Blackhole

from cockpit.config import Config, Milestones, ProbeConfig, ServiceConfig
from cockpit.health import Status
from cockpit.screens.app import CockpitApp
from cockpit.screens.modals import ServiceDetailScreen
from cockpit.screens.widgets import HealthPane, ServiceRow
from cockpit.session.live import LiveSession

from .helpers import wait_until


def tcp_probe(name: str, port: int, deadline: float = 2.0, interval: float = 1.0) -> ProbeConfig:
    return ProbeConfig(name, "tcp", interval, deadline, 1, 1, {"host": "127.0.0.1", "port": port})


def config(services: dict[str, list[ProbeConfig]]) -> Config:
    return Config(path=None, environment="live test", mode="personal", milestones=Milestones(),
                  services={sid: ServiceConfig(sid, sid.title(), "P1", 3600.0, None, probes=tuple(p))
                            for sid, p in services.items()})


async def test_ui_answers_keys_with_32_probes_hung_on_a_blackhole(tmp_path):
    hole = Blackhole()
    try:
        probes = {f"svc{i:02d}": [tcp_probe(f"p{j}", hole.port, deadline=5.0) for j in range(4)]
                  for i in range(8)}  # 32 probes, each hanging for its whole 5 s deadline
        env = LiveSession(config(probes), tmp_path / "state")
        app = CockpitApp(env, tick=1.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)  # the probes are connecting and hanging now
            pane = app.screen.query_one(HealthPane)
            for i in range(10):
                t0 = time.monotonic()
                await pilot.press("down")
                assert pane.selected == (i + 1) % 8
                # answered while every probe hangs on its 5 s deadline (not blocked behind them)
                assert time.monotonic() - t0 < 2.5
            await pilot.press("question_mark")
            assert app.screen.__class__.__name__ == "HelpScreen"
    finally:
        hole.close()


async def test_probe_results_reach_the_panes_and_persist(tmp_path):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    cfg = config({"backend": [tcp_probe("tcp", port, deadline=1.0, interval=0.3)]})
    state = tmp_path / "state"
    env = LiveSession(cfg, state)
    app = CockpitApp(env, tick=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        row = app.screen.query_one(ServiceRow)
        assert await wait_until(pilot, lambda: row.health is not None and row.health.status == Status.OK)
        srv.close()
        assert await wait_until(pilot, lambda: row.health.status == Status.FAIL)
        await pilot.press("enter")
        assert isinstance(app.screen, ServiceDetailScreen)
    # A cockpit started later (during the outage) shows what was last seen, as stale or down,
    # never green.
    env2 = LiveSession(cfg, state)
    shown = env2.health()[0]
    assert shown.observed_at is not None and shown.status != Status.OK
    env2.stop()
