"""The one metrics core: what an incident (or an exercise, or a drill) achieved against the
plan's targets, as a pure function of its entries.

The post-incident review, ``cockpit metrics`` and the exercise report all take their figures
from here; the figures themselves come from the same clock functions the cockpit shows
(``clocks.incident_clocks``), evaluated at the moment the incident ended (or ``now`` while it
is open), so a report can never disagree with what the screen said.

- Time to detect / respond / communicate: the plan's milestones (detect from impact start to
  the declaration; respond and communicate from the declaration), met or missed.
- Time to recover per affected service: its RTO clock (stopped when the service was
  journaled back to OK, or when the incident was recovered), against the service's RTO.
- RPO achieved per service: the data-loss window, i.e. the RPO exposure the flight recorder
  journaled when the service failed (``health`` entries carry ``rpo_exposure``); unknown when
  nothing measured it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..health import ServiceHealth
from ..plan import Milestones
from .clocks import ClockView, Level, ServiceTargets, incident_clocks
from .fold import fold
from .model import EntryLike, IncidentState

REVIEW_DUE = 7 * 86400.0  # the plan: a post-incident review within 7 days of closing


@dataclass(frozen=True)
class Figure:
    """One measured figure against its target. ``achieved`` None: not reached (still
    running, or never measured); ``met`` None: cannot be decided."""

    key: str  # "milestone:detect", "rto:database", "rpo:database"
    label: str
    target: float | None
    achieved: float | None
    met: bool | None
    running: bool = False  # the clock had not stopped when measured


@dataclass(frozen=True)
class IncidentMetrics:
    incident: IncidentState
    measured_at: float  # when the clocks were read: the end of the incident, else now
    milestones: tuple[Figure, ...]
    rto: tuple[Figure, ...]
    rpo: tuple[Figure, ...]
    time_to_recover: float | None  # start -> recovered or closed; None while open, or when a
    # service was still failing at the end
    review_due: float | None  # closed_at + 7 days
    review_done_at: float | None

    @property
    def ended_at(self) -> float | None:
        return self.incident.ended_at

    def figure(self, key: str) -> Figure | None:
        for f in (*self.milestones, *self.rto, *self.rpo):
            if f.key == key:
                return f
        return None

    def review_overdue(self, now: float) -> bool:
        return (self.review_due is not None and self.review_done_at is None
                and now > self.review_due)


def _figure(c: ClockView) -> Figure:
    if c.level == Level.UNMET:  # stopped by the end of the incident, never reached
        return Figure(c.key, c.label, c.target, None, False)
    if c.done:
        return Figure(c.key, c.label, c.target, c.elapsed, c.elapsed <= c.target)
    return Figure(c.key, c.label, c.target, None, False if c.elapsed > c.target else None,
                  running=True)


def rpo_achieved(entries: Iterable[EntryLike], service: str) -> float | None:
    """The data-loss window of ``service``: the RPO exposure journaled when it failed
    (``health`` entry of status fail/warn carrying ``rpo_exposure``); the largest such value
    when it failed several times. None when nothing measured it."""
    worst: float | None = None
    for e in entries:
        d = e.data or {}
        if e.kind != "health" or d.get("service") != service:
            continue
        if d.get("status") not in ("fail", "warn"):
            continue
        x = d.get("rpo_exposure")
        if isinstance(x, int | float) and not isinstance(x, bool) and x >= 0:
            worst = float(x) if worst is None else max(worst, float(x))
    return worst


def incident_metrics(entries: Sequence[EntryLike], services: Sequence[ServiceTargets],
                     milestones: Milestones, now: float,
                     health: Mapping[str, ServiceHealth] | None = None
                     ) -> IncidentMetrics | None:
    """The figures of one incident (None when its entries hold no declaration)."""
    inc = fold(entries)
    if inc is None:
        return None
    end = inc.ended_at
    at = now if end is None else min(now, max(end, inc.declared_at or end))
    clocks = incident_clocks(inc, services, health or {}, milestones, at)
    ms = tuple(_figure(c) for c in clocks if c.key.startswith("milestone:"))
    rto = tuple(_figure(c) for c in clocks if c.key.startswith("rto:"))
    by_id = {s.id: s for s in services}
    rpo = []
    for sid in inc.services:
        s = by_id.get(sid)
        if s is None or s.rpo is None:
            continue
        got = rpo_achieved(entries, sid)
        rpo.append(Figure(f"rpo:{sid}", f"RPO {s.title}", s.rpo, got,
                          None if got is None else got <= s.rpo))
    start = inc.start
    # closing implies recovered (the clocks' rule), unless a service was still failing then
    unrecovered = any(f.met is False and f.achieved is None and not f.running for f in rto)
    ttr = (inc.ended_at - start) if inc.ended_at is not None and start is not None \
        and not unrecovered else None
    done = [e.ts for e in entries if e.kind == "review.done"]
    return IncidentMetrics(
        incident=inc, measured_at=at, milestones=ms, rto=rto, rpo=tuple(rpo),
        time_to_recover=ttr,
        review_due=None if inc.closed_at is None else inc.closed_at + REVIEW_DUE,
        review_done_at=min(done) if done else None)


@dataclass(frozen=True)
class Compliance:
    """Totals over many incidents: the plan's success metrics, in percent (None: nothing to
    count)."""

    incidents: int
    rto_percent: float | None
    rpo_percent: float | None
    milestone_percent: dict[str, float | None]
    reviews_on_time_percent: float | None
    reviews_overdue: int


def _pct(flags: list[bool]) -> float | None:
    return None if not flags else round(100.0 * sum(flags) / len(flags), 1)


def compliance(items: Sequence[IncidentMetrics], now: float) -> Compliance:
    rto = [f.met for m in items for f in m.rto if f.met is not None]
    rpo = [f.met for m in items for f in m.rpo if f.met is not None]
    keys = ("milestone:detect", "milestone:respond", "milestone:communicate")
    per = {k.split(":", 1)[1]: _pct([f.met for m in items if (f := m.figure(k)) is not None
                                     and f.met is not None]) for k in keys}
    due = [m for m in items if m.review_due is not None]
    on_time = [m.review_done_at is not None and m.review_done_at <= (m.review_due or 0)
               for m in due if m.review_done_at is not None or now > (m.review_due or 0)]
    return Compliance(len(items), _pct(rto), _pct(rpo), per, _pct(on_time),
                      sum(1 for m in due if m.review_overdue(now)))
