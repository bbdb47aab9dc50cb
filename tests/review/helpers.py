"""A recorded incident for the review tests, written through the real store and journal."""

from __future__ import annotations

from pathlib import Path

from cockpit.incident.clocks import ServiceTargets
from cockpit.incident.store import IncidentStore
from cockpit.plan import Milestones
from cockpit.session.review import Plan
from cockpit.timeutil import FixedClock

T0 = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC
SERVICES = (ServiceTargets("db", "PostgreSQL", 900.0, 300.0),
            ServiceTargets("cache", "Redis", 600.0, None))
PLAN = Plan(SERVICES, Milestones(), {"db": "P1", "cache": "P2"}, "test")


def record(state: Path) -> tuple[str, dict[str, float]]:
    """An incident: health flapping, declared, roles, a step, notes, recovered."""
    clock = FixedClock(T0)
    store = IncidentStore(state, clock=clock, author="alice")
    at: dict[str, float] = {}
    try:
        iid = store.declare("Primary DB down", "P1", ["db"])
        j = store.journal(iid)
        j.append("health", {"service": "db", "status": "fail", "summary": "refused",
                            "key_figure": "-", "rpo_exposure": 42.0})
        j.append("health", {"service": "cache", "status": "ok", "summary": "PONG",
                            "key_figure": "1 ms"})
        at["declared"] = clock.t
        clock.advance(120)
        store.assign(iid, "commander", "alice")
        store.set_status(iid, "responding")
        at["responding"] = clock.t
        clock.advance(60)
        j.append("step.started", {"runbook": "pg", "step": "promote", "attempt": 1,
                                  "run": "r1", "argv": ["true"]})
        clock.advance(30)
        j.append("step.succeeded", {"runbook": "pg", "step": "promote", "attempt": 1,
                                    "run": "r1", "exit_code": 0, "duration": 30.0})
        at["step done"] = clock.t
        clock.advance(200)
        j.append("health", {"service": "db", "status": "ok", "summary": "replica promoted",
                            "key_figure": "0 s lag", "rpo_exposure": 0.0})
        store.note(iid, "Status page updated", "communication")
        at["db back"] = clock.t
        clock.advance(300)
        store.assign(iid, "commander", "bob")
        store.set_status(iid, "recovered", skip_ok=True)  # confirmed: mitigated skipped
        at["recovered"] = clock.t
    finally:
        store.close()
    return iid, at
