"""RTO/RPO countdowns and the plan's response milestones: pure functions of (state, now)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..health import ServiceHealth
from ..plan import Milestones
from ..timeutil import compact_duration, format_clock, short_duration
from .model import IncidentState


class Level(StrEnum):
    OK = "ok"  # comfortable margin
    AMBER = "amber"  # half the target used
    RED = "red"  # 90 % used
    BREACHED = "breached"  # target passed, still running
    MET = "met"  # finished within target
    MISSED = "missed"  # finished after target
    IDLE = "idle"  # nothing to count (no incident, service healthy)

    @property
    def word(self) -> str:
        return {"ok": "ok", "amber": "AMBER", "red": "RED", "breached": "BREACHED",
                "met": "met", "missed": "MISSED", "idle": "-"}[self.value]


AMBER_AT = 0.5
RED_AT = 0.9


def level_for(used: float, target: float) -> Level:
    if target <= 0:
        return Level.BREACHED if used > 0 else Level.OK
    f = used / target
    if f >= 1.0:
        return Level.BREACHED
    if f >= RED_AT:
        return Level.RED
    if f >= AMBER_AT:
        return Level.AMBER
    return Level.OK


@dataclass(frozen=True)
class ClockView:
    key: str  # stable id, e.g. "rto:database", "milestone:detect"
    label: str
    target: float
    elapsed: float
    level: Level
    done: bool = False

    @property
    def remaining(self) -> float:
        return self.target - self.elapsed

    def value_text(self) -> str:
        if self.level == Level.IDLE:
            return "-"
        if self.key.startswith("rpo:"):
            return f"{compact_duration(self.elapsed)}/{short_duration(self.target)}"
        if self.done:
            return f"{compact_duration(self.elapsed)}/{short_duration(self.target)}"
        if self.remaining < 0:
            return "+" + format_clock(-self.remaining)
        return format_clock(self.remaining)


def countdown(key: str, label: str, target: float, start: float, now: float,
              done_at: float | None = None) -> ClockView:
    """A clock that runs from ``start`` towards ``target`` seconds and stops at ``done_at``."""
    if done_at is not None:
        used = max(0.0, done_at - start)
        return ClockView(key, label, target, used, Level.MET if used <= target else Level.MISSED, True)
    used = max(0.0, now - start)
    return ClockView(key, label, target, used, level_for(used, target))


def rpo_exposure(key: str, label: str, target: float, exposure: float | None) -> ClockView:
    """Data at risk if recovery started now, against the RPO target."""
    if exposure is None:
        return ClockView(key, label, target, 0.0, Level.IDLE)
    return ClockView(key, label, target, exposure, level_for(exposure, target))


@dataclass(frozen=True)
class ServiceTargets:
    id: str
    title: str
    rto: float | None
    rpo: float | None


def incident_clocks(incident: IncidentState | None, services: Iterable[ServiceTargets],
                    health: Mapping[str, ServiceHealth], milestones: Milestones,
                    now: float) -> list[ClockView]:
    """Every clock the cockpit shows for the incident, in display order.

    ``milestones`` has ``detect``, ``respond``, ``communicate`` and ``update_every`` seconds.
    """
    if incident is None or incident.declared_at is None:
        return []
    start = incident.start or incident.declared_at
    declared = incident.declared_at
    clocks: list[ClockView] = []
    by_id = {s.id: s for s in services}
    for sid in incident.services:
        s = by_id.get(sid)
        if s is None or s.rto is None:
            continue
        back = incident.recovered_service_at(sid)
        done = incident.recovered_at if back is None or back < start else back
        clocks.append(countdown(f"rto:{sid}", f"RTO {s.title}", s.rto, start, now, done))
    for sid in incident.services:
        s = by_id.get(sid)
        if s is None or s.rpo is None:
            continue
        h = health.get(sid)
        exposure = h.rpo_exposure if h is not None else None
        clocks.append(rpo_exposure(f"rpo:{sid}", f"RPO {s.title}", s.rpo, exposure))
    clocks.append(countdown("milestone:detect", "Detect", milestones.detect, start, now, declared))
    clocks.append(countdown("milestone:respond", "Respond", milestones.respond, declared, now,
                            incident.responding_at))
    clocks.append(countdown("milestone:communicate", "Communicate", milestones.communicate,
                            declared, now, incident.first_communication_at))
    if incident.first_communication_at is not None and incident.active:
        clocks.append(countdown("comms:update", "Next update", milestones.update_every,
                                incident.last_communication_at or declared, now))
    return clocks
