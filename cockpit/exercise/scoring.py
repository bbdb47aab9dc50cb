"""Expected outcomes decided from the journal, plus the evaluator's marks.

Every outcome of every played inject gets a decision at a moment (``decide``):

- ``met``      done by its deadline (or done, when it has none);
- ``late``     done after its deadline (``late_by``);
- ``missed``   not done by the end of the exercise;
- ``overdue``  past its deadline and not done yet (the exercise goes on: it can still be late);
- ``pending``  its deadline is still to come;
- ``manual``   for an evaluator to mark; ``not played``: a spare that was never fired.

Deadlines are scenario times: ``by`` (T+x), or ``within`` after the inject or after the
declaration; kinds ``declared``, ``severity`` and ``communication`` default to the plan's
targets (detect, at the declaration, communicate). ``rto`` and ``milestone`` outcomes are
the metrics core's own figures (``incident.metrics``: one core for the exercise report and
the post-incident review), measured in scenario time.

An evaluator's mark (met / partly / missed, with a comment) is the final word on an
outcome; the journal's decision is shown beside it. Points: met 1, partly or late 0.5,
missed 0; pending, overdue, unmarked manual and unplayed outcomes are not scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..incident.fold import fold
from ..incident.log import describe
from ..incident.metrics import IncidentMetrics, incident_metrics
from ..incident.model import LIFECYCLE, EntryLike, IncidentState
from ..text import one_line
from .schema import Inject, Outcome
from .timeline import Mark, Timeline

POINTS = {"met": 1.0, "partly": 0.5, "late": 0.5, "missed": 0.0}
FINAL = ("met", "late", "missed", "partly")


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    inject: Inject
    inject_at: float | None  # scenario offset the inject was played at (None: not played)
    state: str  # met | late | missed | overdue | pending | manual | not played
    deadline: float | None = None  # scenario offset
    achieved: float | None = None  # scenario offset
    evidence: str = ""  # the entry (or figure) that decided it, in words (untrusted text)
    mark: Mark | None = None

    @property
    def late_by(self) -> float | None:
        if self.state == "late" and self.achieved is not None and self.deadline is not None:
            return self.achieved - self.deadline
        return None

    @property
    def final(self) -> str:
        """The evaluator's mark when there is one, else the journal's decision."""
        return self.mark.mark if self.mark is not None else self.state

    @property
    def points(self) -> float | None:
        return POINTS.get(self.final)


@dataclass(frozen=True)
class Score:
    decisions: tuple[Decision, ...]
    metrics: IncidentMetrics | None
    offset: float  # scenario time it was measured at
    ended: bool

    @property
    def scored(self) -> list[Decision]:
        return [d for d in self.decisions if d.points is not None]

    @property
    def percent(self) -> float | None:
        s = self.scored
        return None if not s else round(100.0 * sum(d.points or 0.0 for d in s) / len(s), 1)

    def count(self, final: str) -> int:
        return sum(1 for d in self.decisions if d.final == final)


def _first(entries: Sequence[EntryLike], base: float, pred: Any) -> tuple[float, str] | None:
    for e in entries:
        if pred(e):
            label, text = describe(e)
            return e.ts - base, f"{one_line(e.author, 40)}: {label} {one_line(text, 120)}"
    return None


def _severity_reached(entries: Sequence[EntryLike], want: str) -> Any:
    state = {"declared": False}

    def pred(e: EntryLike) -> bool:
        d = e.data or {}
        if e.kind == "incident.declared":
            state["declared"] = True
            return d.get("severity") == want
        return state["declared"] and e.kind == "incident.updated" and d.get("severity") == want
    return pred


def _services_reached(entries: Sequence[EntryLike], want: set[str]) -> Any:
    def pred(e: EntryLike) -> bool:
        d = e.data or {}
        if e.kind in ("incident.declared", "incident.updated") and isinstance(
                d.get("services"), list):
            return want <= {str(x) for x in d["services"]}
        return False
    return pred


def achieved(o: Outcome, entries: Sequence[EntryLike], base: float, inc: IncidentState | None
             ) -> tuple[float, str] | None:
    """When the journal shows ``o`` done (scenario offset) and by which entry, or None."""
    p = o.params

    def data(e: EntryLike) -> dict[str, Any]:
        return e.data if isinstance(e.data, dict) else {}

    if o.kind == "declared":
        return _first(entries, base, lambda e: e.kind == "incident.declared")
    if o.kind == "severity":
        return _first(entries, base, _severity_reached(entries, p["severity"]))
    if o.kind == "step":
        kind = "step.started" if p.get("state") == "started" else "step.confirmed"
        return _first(entries, base, lambda e: e.kind == kind and data(e).get("runbook")
                      == p["runbook"] and data(e).get("step") == p["step"])
    if o.kind == "communication":
        if inc is None or inc.first_communication_at is None:
            return None
        return _first(entries, base, lambda e: e.kind == "note" and data(e).get("type")
                      == "communication" and e.ts >= (inc.declared_at or 0))
    if o.kind == "status":
        want = LIFECYCLE.index(p["status"])
        return _first(entries, base, lambda e: e.kind == "incident.status" and data(e).get(
            "status") in LIFECYCLE and LIFECYCLE.index(data(e)["status"]) >= want)
    if o.kind == "role":
        return _first(entries, base, lambda e: e.kind == "role.assigned"
                      and data(e).get("role") == p["role"])
    if o.kind == "note":
        needle = str(p.get("contains") or "").casefold()
        return _first(entries, base, lambda e: e.kind == "note" and data(e).get("type")
                      == p["type"] and needle in str(data(e).get("text", "")).casefold())
    if o.kind == "services":
        return _first(entries, base, _services_reached(entries, set(p["services"])))
    return None


def _from_figure(o: Outcome, inj: Inject, at: float, metrics: IncidentMetrics | None,
                 base: float, now: float, ended: bool, mark: Mark | None) -> Decision:
    key = f"rto:{o.params['service']}" if o.kind == "rto" else \
        f"milestone:{o.params['milestone']}"
    fig = metrics.figure(key) if metrics is not None else None
    if fig is None or metrics is None or fig.target is None:
        why = ("no incident declared" if metrics is None else
               "not among the incident's affected services")
        return Decision(o, inj, at, "missed" if ended else "pending", evidence=why, mark=mark)
    inc = metrics.incident
    start = inc.start if o.kind == "rto" or o.params["milestone"] == "detect" else \
        inc.declared_at
    start_off = (start or base) - base
    deadline = start_off + fig.target
    if fig.achieved is not None:
        got = start_off + fig.achieved
        state = "met" if fig.met else "late"
        return Decision(o, inj, at, state, deadline, got,
                        f"{fig.label}: {fig.achieved:.0f}s against {fig.target:.0f}s", mark)
    state = ("missed" if ended else "overdue") if now > deadline else "pending"
    return Decision(o, inj, at, state, deadline, None, f"{fig.label}: still running", mark)


def decide(tl: Timeline, wall_now: float) -> Score:
    """Every outcome of the exercise decided at ``wall_now`` (the end, once it ended)."""
    now = tl.offset(wall_now)
    ended = tl.ended_at() is not None
    sim_now = tl.base + now
    base = tl.base
    entries = tl.fold_entries(sim_now)
    players = [e for e in tl.players if e.ts <= sim_now + 1e-6]
    inc = fold(entries)
    milestones = tl.scenario.milestones
    metrics = incident_metrics(entries, tl.scenario.services, milestones, sim_now,
                               {h.service: h for h in tl.health(sim_now)})
    played = {i.id: i.at or 0.0 for i in tl.scenario.injects if not i.demo_only}
    played.update({f.inject.id: f.offset for f in tl.fired})
    out: list[Decision] = []
    for inj in (*tl.scenario.injects, *tl.scenario.spares):
        if inj.demo_only:
            continue
        for o in inj.outcomes:
            marks = tl.marks_of(o.id)
            mark = marks[-1] if marks else None
            at = played.get(inj.id)
            if at is None or at > now + 1e-6:
                out.append(Decision(o, inj, at, "not played" if inj.spare else "pending",
                                    mark=mark))
                continue
            if o.kind in ("rto", "milestone"):
                out.append(_from_figure(o, inj, at, metrics, base, now, ended, mark))
                continue
            if o.kind == "manual":
                out.append(Decision(o, inj, at, "manual", mark=mark))
                continue
            rule = o.deadline_rule(milestones)
            deadline: float | None = None
            if rule is not None:
                anchor, secs = rule
                zero = {"start": 0.0, "inject": at,
                        "declared": None if inc is None or inc.declared_at is None
                        else inc.declared_at - base}[anchor]
                deadline = None if zero is None else zero + secs
            got = achieved(o, players, base, inc)
            if got is not None:
                off, why = got
                state = "met" if deadline is None or off <= deadline + 1e-6 else "late"
                out.append(Decision(o, inj, at, state, deadline, off, why, mark))
            elif ended:
                out.append(Decision(o, inj, at, "missed", deadline, None, "never done", mark))
            elif deadline is not None and now > deadline:
                out.append(Decision(o, inj, at, "overdue", deadline, None, "not done yet", mark))
            else:
                out.append(Decision(o, inj, at, "pending", deadline, None, "", mark))
    return Score(tuple(out), metrics, now, ended)
