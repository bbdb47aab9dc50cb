"""RTO/RPO countdowns and the plan's response milestones: pure functions of (state, now).

When each clock stops, whatever path the lifecycle took (one rule, here only):

- Detect: at the declaration (from the impact start). Before any declaration, a failing
  service starts it (``detect_countdown``): the 5-minute target is already running.
- Respond: at the first real action (``fold.is_response``: a step that ran, an action note,
  the lifecycle moved on, closing included).
- Communicate: at the first communication note; an incident that ended without one stops
  it there as NOT MET.
- RTO of a service: when the service was journaled back to OK, else when the incident was
  recovered, else when it was closed (closing implies recovered for the clocks), unless the
  service was still journaled failing when the incident ended: then the clock stops at the
  end, NOT RECOVERED, said in words (``ClockView.note``).
- RPO: the exposure the probes measure now; UNKNOWN (never "-") when the service's
  durability is at risk and nothing measured it.

A reopened incident (the lifecycle moved back) loses its recovered/closed stamps: its clocks
run again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..health import ServiceHealth, Status
from ..plan import Milestones
from ..timeutil import format_clock, short_duration
from .model import IncidentState


class Level(StrEnum):
    OK = "ok"  # comfortable margin
    AMBER = "amber"  # half the target used
    RED = "red"  # 90 % used
    BREACHED = "breached"  # target passed, still running
    MET = "met"  # finished within target
    MISSED = "missed"  # finished after target
    IDLE = "idle"  # nothing to count (no incident, service healthy)
    UNMET = "unmet"  # stopped by the end of the incident without its own event
    UNKNOWN = "unknown"  # should be counting, nothing measures it (RPO at risk, unmeasured)

    @property
    def word(self) -> str:
        return {"ok": "ok", "amber": "AMBER", "red": "RED", "breached": "BREACHED",
                "met": "met", "missed": "MISSED", "idle": "-", "unmet": "NOT MET",
                "unknown": "UNKNOWN"}[self.value]


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
    note: str = ""  # why it stopped or what it means, in words ("still failing when closed")

    @property
    def remaining(self) -> float:
        return self.target - self.elapsed

    def value_text(self) -> str:
        """The value as shown: every measured time in one format, ``H:MM:SS`` (M8 of the ux
        review: no more ``18m/1h`` beside ``8m00s/2h``); what it means is said by
        ``word_text``. ``+`` marks a running clock past its target; ``-``: nothing to count;
        ``?``: should count, nothing measures it."""
        if self.level == Level.IDLE:
            return "-"
        if self.level == Level.UNKNOWN:
            return "?"
        if self.key.startswith("rpo:") or self.done:
            return format_clock(self.elapsed)
        if self.remaining < 0:
            return "+" + format_clock(-self.remaining)
        return format_clock(self.remaining)

    def word_text(self) -> str:
        """What the value means, then the level, in words: ``left ok``, ``left RED``
        (time left), ``BREACHED`` (``+``: over its target by), ``met of 15m`` (time taken
        against the target), ``ok of 15m`` (RPO: data at risk now against the target)."""
        if self.level in (Level.IDLE, Level.UNKNOWN):
            return self.level.word
        if self.key.startswith("rpo:") or self.done:
            return f"{self.level.word} of {short_duration(self.target)}"
        if self.remaining < 0:
            return self.level.word
        return f"left {self.level.word}"

    def time_text(self) -> str:
        """The bare ``H:MM:SS`` of a running clock's time left (or over)."""
        return format_clock(abs(self.remaining))


CLOCK_LEGEND = (
    ("0:57:54 left ok", "a running clock: time left before its target"),
    ("+0:31:00 BREACHED", "a running clock past its target, by how much"),
    ("0:02:00 met of 15m", "a stopped clock: the time it took, against its target"),
    ("0:00:35 ok of 15m", "RPO: data at risk now (since the last durable copy) / target"),
    ("-  ?", "nothing to count  /  should count, nothing measures it"),
)


def countdown(key: str, label: str, target: float, start: float, now: float,
              done_at: float | None = None) -> ClockView:
    """A clock that runs from ``start`` towards ``target`` seconds and stops at ``done_at``."""
    if done_at is not None:
        used = max(0.0, done_at - start)
        return ClockView(key, label, target, used, Level.MET if used <= target else Level.MISSED, True)
    used = max(0.0, now - start)
    return ClockView(key, label, target, used, level_for(used, target))


def rpo_exposure(key: str, label: str, target: float, exposure: float | None,
                 at_risk: bool = False) -> ClockView:
    """Data at risk if recovery started now, against the RPO target. ``at_risk``: the
    service's durability is failing (WAL archiving, backups, persistence): never idle, the
    clock says UNKNOWN when nothing measured the exposure."""
    if exposure is None:
        if at_risk:
            return ClockView(key, label, target, 0.0, Level.UNKNOWN, note="RPO at risk")
        return ClockView(key, label, target, 0.0, Level.IDLE)
    level = level_for(exposure, target)
    return ClockView(key, label, target, exposure, level, note="RPO at risk" if at_risk else "")


def rpo_at_risk(h: ServiceHealth | None) -> bool:
    """The probes say the service's recovery point is at risk (``rpo_at_risk`` metric)."""
    if h is None:
        return False
    return any(bool(r.metrics.get("rpo_at_risk")) for r in h.probes.values())


def detect_countdown(health: Iterable[ServiceHealth], milestones: Milestones,
                     now: float) -> ClockView | None:
    """Before any incident is declared: the Detect clock started by the first failing
    service (its ``down_since``), against the plan's detect target. None when none fails."""
    starts: list[float] = [t for h in health if h.status == Status.FAIL
                           if (t := h.down_since if h.down_since is not None
                               else h.observed_at) is not None]
    if not starts:
        return None
    c = countdown("milestone:detect", "Detect", milestones.detect, min(starts), now)
    return ClockView(c.key, c.label, c.target, c.elapsed, c.level,
                     note="failing, not declared")


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
    end = incident.ended_at
    ending = "closed" if incident.recovered_at is None else "recovered"
    clocks: list[ClockView] = []
    by_id = {s.id: s for s in services}
    for sid in incident.services:
        s = by_id.get(sid)
        if s is None or s.rto is None:
            continue
        key, label = f"rto:{sid}", f"RTO {s.title}"
        back = incident.recovered_service_at(sid)
        if back is not None and back >= start:
            clocks.append(countdown(key, label, s.rto, start, now, back))
        elif end is not None and incident.service_status(sid) == "fail":
            used = max(0.0, end - start)
            clocks.append(ClockView(key, label, s.rto, used, Level.UNMET, True,
                                    note=f"still failing when {ending}"))
        else:
            clocks.append(countdown(key, label, s.rto, start, now, end))
    for sid in incident.services:
        s = by_id.get(sid)
        if s is None or s.rpo is None:
            continue
        h = health.get(sid)
        exposure = h.rpo_exposure if h is not None else None
        clocks.append(rpo_exposure(f"rpo:{sid}", f"RPO {s.title}", s.rpo, exposure,
                                   rpo_at_risk(h)))
    clocks.append(countdown("milestone:detect", "Detect", milestones.detect, start, now, declared))
    clocks.append(_milestone("milestone:respond", "Respond", milestones.respond, declared, now,
                             incident.responding_at, end, f"no action before {ending}"))
    clocks.append(_milestone("milestone:communicate", "Communicate", milestones.communicate,
                             declared, now, incident.first_communication_at, end,
                             f"no communication before {ending}"))
    if incident.first_communication_at is not None and incident.active:
        clocks.append(countdown("comms:update", "Next update", milestones.update_every,
                                incident.last_communication_at or declared, now))
    return clocks


def _milestone(key: str, label: str, target: float, start: float, now: float,
               done_at: float | None, end: float | None, unmet: str) -> ClockView:
    """A milestone clock: stopped by its event, else by the end of the incident (NOT MET)."""
    if done_at is not None or end is None:
        return countdown(key, label, target, start, now, done_at)
    return ClockView(key, label, target, max(0.0, end - start), Level.UNMET, True, note=unmet)
