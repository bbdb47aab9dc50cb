"""The scenario as data: its services' timelines, the master scenario events list (injects
with their effects, audience and expected outcomes) and what the injects placed at scenario
times do (``compile_effects``). Read and checked by ``schema``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..health import Status
from ..incident.clocks import ServiceTargets
from ..plan import Milestones
from ..timeutil import short_duration

# kinds whose deadline has a default from the plan (the rest must state within or by)
DEFAULT_DEADLINE = {"declared": ("inject", "detect"), "severity": ("declared", None),
                     "communication": ("declared", "communicate")}


@dataclass(frozen=True)
class ServiceState:
    status: Status
    summary: str
    figure: str | None
    latency: float | None
    rpo_exposure: float | None
    rpo_growing: bool
    silent: bool
    since: float  # offset of the inject that set it


@dataclass(frozen=True)
class Outcome:
    """One expected outcome of an inject (the HSEEP EEG line)."""

    id: str
    kind: str
    text: str
    inject: str  # the inject it belongs to
    params: dict[str, Any]  # the kind's keys (runbook, step, severity ...)
    within: float | None = None
    frm: str = "inject"  # what ``within`` counts from: inject | declared | start
    by: float | None = None  # an absolute scenario time
    corrective: str = ""
    owner: str = ""

    def deadline_rule(self, milestones: Milestones) -> tuple[str, float] | None:
        """(anchor, seconds after it): the deadline, or None (the plan's own target decides,
        or an evaluator)."""
        if self.by is not None:
            return "start", self.by
        if self.within is not None:
            return self.frm, self.within
        default = DEFAULT_DEADLINE.get(self.kind)
        if default is None:
            return None
        anchor, target = default
        return anchor, 0.0 if target is None else float(getattr(milestones, target))

    def describe(self, milestones: Milestones) -> str:
        """The outcome in words (its ``text``, or one made from its keys)."""
        if self.text:
            return self.text
        p = self.params
        what = {
            "declared": "Incident declared",
            "severity": f"Severity {p.get('severity')}",
            "step": f"Runbook step {p.get('runbook')}/{p.get('step')} "
                    f"{p.get('state') or 'confirmed'}",
            "communication": "Stakeholder update sent",
            "status": f"Incident {p.get('status')}",
            "role": f"{str(p.get('role', '')).capitalize()} assigned",
            "note": f"A {p.get('type')} noted" + (f" ({p['contains']!r})" if p.get("contains")
                                                   else ""),
            "services": "Affected services include " + ", ".join(p.get("services") or []),
            "rto": f"{p.get('service')} recovered within its RTO",
            "milestone": f"Plan milestone {p.get('milestone')} met",
            "manual": "Evaluator's judgement",
        }[self.kind]
        rule = self.deadline_rule(milestones)
        if rule is None:
            return what
        anchor, secs = rule
        if anchor == "start":
            return f"{what} by T+{short_duration(secs)}"
        base = {"inject": "of the inject", "declared": "of the declaration"}[anchor]
        return f"{what} within {short_duration(secs)} {base}" if secs else \
            f"{what} at the declaration"


@dataclass(frozen=True)
class Inject:
    """One line of the master scenario events list."""

    id: str
    at: float | None  # scenario time (None: a spare, fired by the facilitator)
    synopsis: str = ""
    audience: str = "all"
    spare: bool = False
    demo_only: bool = False
    effect: dict[str, Any] | None = None  # the validated effect keys
    outcomes: tuple[Outcome, ...] = ()
    index: int = 0  # position in the file


@dataclass(frozen=True)
class Scenario:
    path: str
    title: str
    description: str
    environment: str
    length: float
    loop: bool
    probe_interval: float
    services: tuple[ServiceTargets, ...]
    priorities: dict[str, str]
    timelines: dict[str, tuple[tuple[float, ServiceState], ...]]
    events: tuple[tuple[float, str, str, dict[str, Any]], ...]  # (offset, author, kind, data)
    milestones: Milestones = field(default_factory=Milestones)
    id: str = ""
    category: str | None = None
    injects: tuple[Inject, ...] = ()  # the timeline, spares excluded, in time order
    spares: tuple[Inject, ...] = ()
    objectives: tuple[str, ...] = ()
    runbooks: tuple[str, ...] = ()

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return tuple(o for i in (*self.injects, *self.spares) for o in i.outcomes)

    def inject(self, inject_id: str) -> Inject | None:
        for i in (*self.injects, *self.spares):
            if i.id == inject_id:
                return i
        return None


def compile_effects(services: Iterable[ServiceTargets], placed: Iterable[tuple[float, Inject]],
                    *, demo: bool) -> tuple[dict[str, tuple[tuple[float, ServiceState], ...]],
                                            tuple[tuple[float, str, str, dict[str, Any]], ...]]:
    """The service timelines and scripted log events of injects placed at scenario times.
    ``demo=False`` (an exercise) leaves the scripted response (``demo_only``) out."""
    timelines: dict[str, list[tuple[float, ServiceState]]] = {s.id: [] for s in services}
    events: list[tuple[float, str, str, dict[str, Any]]] = []
    for at, inj in sorted(placed, key=lambda p: (p[0], p[1].index)):
        eff = inj.effect
        if eff is None or (inj.demo_only and not demo):
            continue
        if eff.get("service") is not None:
            sid = eff["service"]
            prev = timelines[sid][-1][1] if timelines.get(sid) else None
            timelines.setdefault(sid, []).append((at, ServiceState(
                status=Status(eff["status"]),
                summary=str(eff["summary"]) if eff.get("summary") is not None else (
                    prev.summary if prev else ""),
                figure=eff.get("figure"),
                latency=eff["latency"] if eff.get("latency") is not None else (
                    prev.latency if prev else None),
                rpo_exposure=eff.get("rpo_exposure"), rpo_growing=bool(eff.get("rpo_growing")),
                silent=bool(eff.get("silent")), since=at)))
        elif eff.get("log") is not None:
            note = {"type": eff.get("type") or "observation", "text": eff["log"]}
            if inj.audience != "all":
                note["audience"] = inj.audience
            events.append((at, eff.get("author") or "facilitator", "note", note))
        elif eff.get("incident") == "declared":
            data: dict[str, Any] = {"title": eff["title"], "severity": eff.get("severity") or "P1",
                                    "services": list(eff.get("services") or [])}
            if eff.get("impact_start") is not None:
                data["impact_offset"] = eff["impact_start"]
            events.append((at, eff.get("author") or "on-call", "incident.declared", data))
        elif eff.get("incident") is not None:
            events.append((at, eff.get("author") or "on-call", "incident.status",
                           {"status": eff["incident"]}))
        elif eff.get("role") is not None:
            events.append((at, eff.get("author") or "on-call", "role.assigned",
                           {"role": eff["role"], "person": eff.get("person") or "?"}))
    events.sort(key=lambda e: e[0])
    return ({k: tuple(sorted(tl, key=lambda x: x[0])) for k, tl in timelines.items()},
            tuple(events))
