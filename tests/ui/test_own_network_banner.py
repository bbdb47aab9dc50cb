"""The live cockpit when its own network is down: the banner says so, every service is
UNKNOWN with its last-known state and that state's age, none is DOWN (Pilot + snapshots).

The probes fail as they do with no network (``network unreachable``) and the self-check sees
no interface besides loopback: both are given here, so the frame is the same on every
machine. The real thing, in a network namespace with no network, is
``tests/probes/test_own_network.py``.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from cockpit.screens.app import CockpitApp
from cockpit.screens.widgets import ServiceRow

from cockpit.config import Config, Milestones, ProbeConfig, ServiceConfig
from cockpit.health import ProbeResult, Status
from cockpit.probes.localnet import Observation
from cockpit.probes.scheduler import Scheduler, from_config
from cockpit.session.live import LiveSession
from cockpit.timeutil import FixedClock

from .helpers import T0, banner_text

SERVICES = {"database": ("PostgreSQL", "10.0.0.5"), "backend": ("Backend API", "10.0.1.7"),
            "redis": ("Redis", "10.0.0.6")}


def config() -> Config:
    return Config(path=None, environment="production", mode="personal", milestones=Milestones(),
                  services={sid: ServiceConfig(sid, title, "P1", 3600.0, None, probes=(
                      ProbeConfig("main", "tcp", 5.0, 2.0, 3, 2, {"host": host, "port": 5432}),))
                      for sid, (title, host) in SERVICES.items()})


async def no_interface(hosts, anchors, *, resolver=False, anchor_timeout=2.0) -> Observation:
    return Observation(at=time.monotonic(), links=(), route=False)


async def unreachable(target, deadline, now) -> ProbeResult:
    return ProbeResult(Status.FAIL, "network error: network unreachable", now(),
                       error="network unreachable", error_class="network")


def offline_app(tmp_path) -> tuple[CockpitApp, LiveSession]:
    clock = FixedClock(T0)
    cfg = config()
    session = LiveSession(cfg, tmp_path / "state", clock=clock, probes=False)
    sched = Scheduler(from_config(cfg), None, clock, runner=unreachable, observer=no_interface,
                      jitter=0.0, on_change=session._probe_changed)
    for sid in SERVICES:  # what was last seen, two hours ago
        sched.record(sid, "main", ProbeResult(Status.OK, "accepts connections", T0 - 7260,
                                              latency=0.004, key_figure="4 ms"))
    session.scheduler = sched
    return CockpitApp(session, tick=0), session


async def wait_offline(pilot, app) -> None:
    for _ in range(200):
        await pilot.pause(0.05)
        rows = list(app.screen.query(ServiceRow))
        if rows and all(r.health is not None and r.health.status == Status.UNKNOWN for r in rows) \
                and "OWN NETWORK IS DOWN" in banner_text(app):
            return
    raise AssertionError(f"never offline: {banner_text(app)!r}")


def check_offline(app) -> None:
    assert banner_text(app).startswith(" THE COCKPIT'S OWN NETWORK IS DOWN: no network interface")
    for row in app.screen.query(ServiceRow):
        h = row.health
        assert h.status == Status.UNKNOWN and h.status != Status.FAIL
        assert h.summary == "last known OK (cockpit offline): accepts connections"
        assert h.age_text(T0) == "2h01m ago"
        text = row.main.content.plain
        assert text.startswith("UNKNOWN ") and "last known OK" in text
        assert row.age.content.plain == "2h01m"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_own_network_down_banner_and_last_known_states(snap_compare, tmp_path, size):
    app, session = offline_app(tmp_path)

    async def run_before(pilot) -> None:
        await wait_offline(pilot, app)
        check_offline(app)
        app.refresh_view()
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        session.stop()


async def test_no_service_is_ever_down_while_offline_runs_go_on(tmp_path):
    """Several rounds (fail_after = 3): still UNKNOWN, never DOWN; nothing journaled as DOWN."""
    app, session = offline_app(tmp_path)
    sched = session.scheduler
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_offline(pilot, app)
        runs = [st.runs for st in sched.states.values()]
        for _ in range(3):
            await asyncio.gather(*(sched._run_one(st) for st in sched.states.values()))
        await pilot.pause(0.3)
        assert all(h.status == Status.UNKNOWN for h in session.view().health)
        assert [st.runs for st in sched.states.values()] == runs  # none counted
        assert all(st.damper.status == Status.OK for st in sched.states.values())
    session.stop()
