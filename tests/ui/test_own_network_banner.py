"""The live cockpit when its own network is down: the banner says so, every service is
UNKNOWN with its last-known state and that state's age, none is DOWN (Pilot + snapshots).

The probes fail as they do with no network (``network unreachable``) and the self-check sees
no interface besides loopback: both are given here, so the frame is the same on every
machine. The real thing, in a network namespace with no network, is
``tests/probes/test_own_network.py``.
"""

from __future__ import annotations

import time

import pytest

from cockpit.config import Config, Milestones, ProbeConfig, ServiceConfig
from cockpit.health import ProbeResult, Status
from cockpit.probes.localnet import Observation
from cockpit.probes.scheduler import Scheduler, from_config
from cockpit.screens.app import CockpitApp
from cockpit.screens.widgets import ServiceRow
from cockpit.session.live import LiveSession
from cockpit.timeutil import FixedClock

from .helpers import T0, banner_text

SERVICES = {"database": ("PostgreSQL", "10.0.0.5"), "backend": ("Backend API", "10.0.1.7"),
            "redis": ("Redis", "10.0.0.6")}


def config(interval: float = 5.0) -> Config:
    return Config(path=None, environment="production", mode="personal", milestones=Milestones(),
                  services={sid: ServiceConfig(sid, title, "P1", 3600.0, None, probes=(
                      ProbeConfig("main", "tcp", interval, 2.0, 3, 2, {"host": host, "port": 5432}),))
                      for sid, (title, host) in SERVICES.items()})


async def no_interface(hosts, anchors, *, resolver=False, anchor_timeout=2.0) -> Observation:
    return Observation(at=time.monotonic(), links=(), route=False)


RUNS: list[str] = []


async def unreachable(target, deadline, now) -> ProbeResult:
    RUNS.append(target.service)
    return ProbeResult(Status.FAIL, "network error: network unreachable", now(),
                       error="network unreachable", error_class="network")


def offline_app(tmp_path, interval: float = 5.0) -> tuple[CockpitApp, LiveSession]:
    clock = FixedClock(T0)
    cfg = config(interval)
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
    """Many rounds (fail_after = 3, a round every 0.2 s): still UNKNOWN, never DOWN; no run
    counted against a service."""
    app, session = offline_app(tmp_path, interval=0.2)
    sched = session.scheduler
    RUNS.clear()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_offline(pilot, app)
        for _ in range(100):
            await pilot.pause(0.05)
            if min(RUNS.count(sid) for sid in SERVICES) >= 4:
                break
        assert min(RUNS.count(sid) for sid in SERVICES) >= 4  # past fail_after, every one
        assert all(h.status == Status.UNKNOWN for h in session.view().health)
        assert all(st.runs == 1 for st in sched.states.values())  # the seeded answer only
        assert all(st.damper.status == Status.OK and st.damper.bad_streak == 0
                   for st in sched.states.values())
    session.stop()
