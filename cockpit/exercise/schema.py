"""The scenario file: a simulated environment and its master scenario events list (MSEL).

One file serves ``cockpit demo`` and tabletop exercises::

    [scenario]   id, title, category (one of the plan's six), description, environment,
                 length, loop (demo), probe_interval, runbooks (ids drawn from), objectives
    [[service]]  id, title, priority, rto, rpo
    [[inject]]   id, at (scenario time; none for a spare), spare, synopsis (what the players
                 are told), audience (all or a role), demo_only (the scripted response: played
                 by the demo, never in an exercise where the players act) and at most one
                 effect: a service change (service, status, summary, figure, latency,
                 rpo_exposure, rpo_growing, silent), a log message (log, type, author), the
                 incident (incident, title, severity, services, impact_start) or a role
                 (role, person)
    [[inject.expect]]  an expected outcome (see ``OUTCOME_KINDS``): id, text, kind, the
                 kind's keys, a deadline (within after ``from``, or by a scenario time),
                 corrective, owner

``check_scenario`` returns every problem (file, line and key), ``parse_scenario`` raises the
first. Every string is checked for control and invisible characters (a file people edit).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..document import DocumentError, Field, KeyPath, Validator
from ..health import Status
from ..incident.clocks import ServiceTargets
from ..incident.model import LIFECYCLE, NOTE_TYPES, ROLES
from ..plan import PRIORITIES, Milestones
from ..text import DANGEROUS_IN_TEXT_RE
from ..timeutil import short_duration

if TYPE_CHECKING:
    from ..runbooks import Library

CATEGORIES = ("database", "application", "security", "infrastructure", "third-party",
              "data-loss")
AUDIENCES = ("all", *ROLES)
OUTCOME_KINDS = ("declared", "severity", "step", "communication", "status", "role", "note",
                 "services", "rto", "milestone", "manual")
FROM = ("inject", "declared", "start")
STEP_STATES = ("started", "confirmed")
MILESTONE_NAMES = ("detect", "respond", "communicate")
_STATUSES = tuple(s.value for s in Status)

_SCENARIO = {
    "id": Field("str"),
    "title": Field("str", required=True),
    "category": Field("str", choices=CATEGORIES),
    "description": Field("str", default=""),
    "environment": Field("str", default="demo"),
    "length": Field("duration", required=True, minimum=1),
    "loop": Field("bool", default=True),
    "probe_interval": Field("duration", default="5s", minimum=0.1),
    "runbooks": Field("list[str]", default=[]),
    "objectives": Field("list[str]", default=[]),
}
_SERVICE = {
    "id": Field("str", required=True),
    "title": Field("str", required=True),
    "priority": Field("str", default="P1", choices=PRIORITIES),
    "rto": Field("duration"),
    "rpo": Field("duration"),
}
_EFFECT = {
    # a service state change
    "service": Field("str"), "status": Field("str", choices=_STATUSES), "summary": Field("str"),
    "figure": Field("str"), "latency": Field("duration"), "rpo_exposure": Field("duration"),
    "rpo_growing": Field("bool"),
    "silent": Field("bool"),  # the service stops answering: its last answer ages (stale)
    # a log message
    "log": Field("str"), "type": Field("str", choices=NOTE_TYPES), "author": Field("str"),
    # the incident (the demo's scripted response)
    "incident": Field("str", choices=LIFECYCLE), "title": Field("str"),
    "severity": Field("str", choices=PRIORITIES), "services": Field("list[str]"),
    "impact_start": Field("duration"),
    # a role (the demo's scripted response)
    "role": Field("str", choices=ROLES), "person": Field("str"),
}
_INJECT = {
    **_EFFECT,
    "id": Field("str"), "at": Field("duration"), "spare": Field("bool", default=False),
    "synopsis": Field("str"), "audience": Field("str", default="all", choices=AUDIENCES),
    "demo_only": Field("bool", default=False), "expect": Field("list[table]", default=[]),
}
# the keys an outcome of each kind uses besides id, text, kind, deadline, corrective, owner
_KIND_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # (required, optional)
    "declared": ((), ()), "severity": (("severity",), ()), "step": (("runbook", "step"),
                                                                    ("state",)),
    "communication": ((), ()), "status": (("status",), ()), "role": (("role",), ()),
    "note": (("type",), ("contains",)), "services": (("services",), ()),
    "rto": (("service",), ()), "milestone": (("milestone",), ()), "manual": ((), ()),
}
_EXPECT = {
    "id": Field("str"), "text": Field("str"), "kind": Field("str", required=True,
                                                            choices=OUTCOME_KINDS),
    "within": Field("duration"), "from": Field("str", choices=FROM), "by": Field("duration"),
    "runbook": Field("str"), "step": Field("str"), "state": Field("str", choices=STEP_STATES),
    "severity": Field("str", choices=PRIORITIES), "status": Field("str", choices=LIFECYCLE[1:]),
    "role": Field("str", choices=ROLES), "type": Field("str", choices=NOTE_TYPES),
    "contains": Field("str"), "service": Field("str"), "services": Field("list[str]"),
    "milestone": Field("str", choices=MILESTONE_NAMES), "corrective": Field("str"),
    "owner": Field("str"),
}
_PARAM_KEYS = frozenset(k for req, opt in _KIND_KEYS.values() for k in (*req, *opt))
# kinds whose deadline has a default from the plan (the rest must state within or by)
_DEFAULT_DEADLINE = {"declared": ("inject", "detect"), "severity": ("declared", None),
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
        default = _DEFAULT_DEADLINE.get(self.kind)
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


# ---------------------------------------------------------------- checking


def _strings(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _fix_expect_lines(lines: dict[KeyPath, int]) -> None:
    """``key_lines`` numbers every ``[[inject.expect]]`` of the file in one sequence; TOML
    means the expect tables of the last ``[[inject]]``: re-file them under
    ("inject", i, "expect", k, ...)."""
    injects = sorted((ln, p[1]) for p, ln in lines.items()
                     if len(p) == 2 and p[0] == "inject" and isinstance(p[1], int))
    expects = sorted((ln, p[2]) for p, ln in lines.items()
                     if len(p) == 3 and p[:2] == ("inject", "expect") and isinstance(p[2], int))
    where: dict[int, tuple[int, int]] = {}
    counts: dict[int, int] = {}
    for ln, j in expects:
        owner = max((i for start, i in injects if start <= ln), default=None)
        if owner is not None:
            where[j] = (owner, counts.get(owner, 0))
            counts[owner] = counts.get(owner, 0) + 1
    for p, ln in list(lines.items()):
        if len(p) >= 3 and p[:2] == ("inject", "expect") and isinstance(p[2], int) \
                and p[2] in where:
            i, k = where[p[2]]
            lines.setdefault(("inject", i, "expect", k, *p[3:]), ln)


class _Checker:
    def __init__(self, v: Validator, library: Library | None) -> None:
        self.v = v
        self.library = library
        self.services: dict[str, ServiceTargets] = {}
        self.ids: dict[str, KeyPath] = {}

    def err(self, path: KeyPath, msg: str) -> None:
        self.v.error(path, msg)

    def unique(self, ident: str, path: KeyPath, what: str) -> None:
        if ident in self.ids:
            self.err(path, f"duplicate {what} id {ident!r}")
        else:
            self.ids[ident] = path

    def effect(self, inj: dict[str, Any], raw: dict[str, Any], path: KeyPath
               ) -> dict[str, Any] | None:
        given = [k for k in ("service", "log", "incident", "role") if k in raw]
        if len(given) > 1:
            self.err((*path, given[1]), f"one effect per inject ({', '.join(given)} given): "
                     "write another [[inject]] at the same time")
            return None
        if not given or any(inj.get(k) is None for k in given):
            return None  # none, or not valid (already reported)
        kind = given[0]
        eff = {k: inj[k] for k in _EFFECT if inj.get(k) is not None}
        if kind == "service":
            if inj["service"] not in self.services:
                self.err((*path, "service"), f"unknown service {inj['service']!r}")
                return None
            if inj.get("status") is None:
                if "status" not in raw:
                    self.err((*path, "status"), "a service inject needs a status")
                return None
            if inj.get("demo_only"):
                self.err((*path, "demo_only"), "the scripted response (demo_only) cannot "
                         "change a service: the scenario's world does")
                return None
        elif kind == "incident" and inj["incident"] == "declared":
            if not inj.get("title"):
                if "title" not in raw or raw["title"] == "":
                    self.err((*path, "title"), "declaring an incident needs a title")
                return None
            for sid in inj.get("services") or []:
                if sid not in self.services:
                    self.err((*path, "services"), f"unknown service {sid!r}")
        return eff

    def outcome(self, raw: dict[str, Any], path: KeyPath, inj_id: str, at: float | None,
                number: int) -> Outcome | None:
        o = self.v.table(raw, _EXPECT, path)
        kind = o.get("kind")
        if kind is None:
            return None
        required, optional = _KIND_KEYS[kind]
        ok = True
        for key in required:
            if o.get(key) is None:
                if key not in raw:
                    self.err((*path, key), f"a {kind} outcome needs {key}")
                ok = False
        for key in sorted(_PARAM_KEYS - set(required) - set(optional)):
            if key in raw:
                self.err((*path, key), f"not a key of a {kind} outcome (its keys: "
                         f"{', '.join((*required, *optional)) or 'none'})")
        within, by, frm = o.get("within"), o.get("by"), o.get("from")
        if kind in ("rto", "milestone"):
            for key in ("within", "by", "from"):
                if key in raw:
                    self.err((*path, key), f"the plan's own target is the deadline of a {kind} "
                             "outcome: remove it")
        elif within is not None and by is not None:
            self.err((*path, "by"), "give within (after `from`) or by (a scenario time), "
                     "not both")
        elif kind not in _DEFAULT_DEADLINE and kind != "manual" and within is None and by is None:
            self.err(path, f"a {kind} outcome needs a deadline: within = \"10m\" (after "
                     "`from`) or by = \"25m\" (scenario time)")
        if by is not None and at is None:
            self.err((*path, "by"), "a spare inject has no scenario time until it is fired: "
                     "use within")
        elif by is not None and at is not None and by < at:
            self.err((*path, "by"), f"T+{short_duration(by)} is before its inject "
                     f"(T+{short_duration(at)})")
        if frm is not None and within is None:
            self.err((*path, "from"), "`from` needs within")
        ok = self.references(kind, o, path) and ok
        ident = o.get("id") or f"{inj_id}.{number}"
        self.unique(ident, (*path, "id"), "outcome")
        if not ok:
            return None
        params = {k: o[k] for k in (*required, *optional) if o.get(k) is not None}
        return Outcome(ident, kind, o.get("text") or "", inj_id, params, within=within,
                       frm=frm or ("inject" if kind not in _DEFAULT_DEADLINE
                                   else _DEFAULT_DEADLINE[kind][0]),
                       by=by, corrective=o.get("corrective") or "", owner=o.get("owner") or "")

    def references(self, kind: str, o: dict[str, Any], path: KeyPath) -> bool:
        if kind == "step" and self.library is not None and o.get("runbook"):
            try:
                rb = self.library.get(o["runbook"])
            except KeyError:
                known = ", ".join(r.id for r in self.library) or "none"
                self.err((*path, "runbook"), f"no runbook {o['runbook']!r} (known: {known})")
                return False
            if o.get("step") and o["step"] not in {s.id for s in rb.steps}:
                self.err((*path, "step"), f"runbook {rb.id!r} has no step {o['step']!r}")
                return False
        if kind == "rto" and o.get("service"):
            s = self.services.get(o["service"])
            if s is None:
                self.err((*path, "service"), f"unknown service {o['service']!r}")
                return False
            if s.rto is None:
                self.err((*path, "service"), f"service {s.id!r} has no rto")
                return False
        if kind == "services":
            bad = [x for x in o.get("services") or [] if x not in self.services]
            if bad:
                self.err((*path, "services"), f"unknown service {bad[0]!r}")
                return False
        return True


def check_scenario(data: dict[str, Any], text: str, path: str | Path, *,
                   library: Library | None = None, validator: Validator | None = None
                   ) -> tuple[Scenario | None, list[DocumentError]]:
    """The scenario and every problem of the document (sorted by line). ``library``: the
    runbooks that step outcomes must name. ``validator``: one that places errors itself
    (a CSV deck names row and column)."""
    v = validator or Validator(path, text)
    _fix_expect_lines(v.lines)
    c = _Checker(v, library)
    for p, string in _strings(data, ()):
        m = DANGEROUS_IN_TEXT_RE.search(string)
        if m:
            v.error(p, f"contains a control or invisible character (U+{ord(m.group()):04X}): "
                       "remove it or write it out")
    top = v.table(data, {"scenario": Field("table", required=True),
                         "service": Field("list[table]", default=[]),
                         "inject": Field("list[table]", default=[])})
    head = v.table(top.get("scenario") or {}, _SCENARIO, ("scenario",))
    priorities: dict[str, str] = {}
    for i, raw in enumerate(top.get("service") or []):
        s = v.table(raw, _SERVICE, ("service", i))
        if s.get("id"):
            if s["id"] in c.services:
                v.error(("service", i, "id"), f"duplicate service id {s['id']!r}")
                continue
            c.services[s["id"]] = ServiceTargets(s["id"], s.get("title") or s["id"],
                                                 s.get("rto"), s.get("rpo"))
            priorities[s["id"]] = s.get("priority") or "P1"
    if library is not None:
        known = {r.id for r in library}
        for rid in head.get("runbooks") or []:
            if rid not in known:
                v.error(("scenario", "runbooks"), f"no runbook {rid!r} (known: "
                        f"{', '.join(sorted(known)) or 'none'})")
    injects: list[Inject] = []
    length = head.get("length")
    for i, raw in enumerate(top.get("inject") or []):
        p = ("inject", i)
        inj = v.table(raw, _INJECT, p)
        ident = inj.get("id") or f"inject-{i + 1}"
        c.unique(ident, (*p, "id"), "inject")
        spare, at = bool(inj.get("spare")), inj.get("at")
        if spare and "at" in raw:
            v.error((*p, "at"), "a spare inject has no time: the facilitator fires it")
        elif not spare and at is None:
            if "at" not in raw:
                v.error(p, "an inject needs at (its scenario time), or spare = true")
            continue
        if spare and inj.get("demo_only"):
            v.error((*p, "demo_only"), "a spare inject is never part of the scripted response")
        if at is not None and length is not None and at > length:
            v.error((*p, "at"), f"T+{short_duration(at)} is after the end of the scenario "
                    f"(length {short_duration(length)})")
        eff = c.effect(inj, raw, p)
        if eff is None and not any(k in raw for k in ("synopsis", "service", "log", "incident",
                                                       "role")):
            v.error(p, "an inject needs a synopsis or an effect (service, log, incident, role)")
        outcomes = []
        for j, rawo in enumerate(inj.get("expect") or []):
            o = c.outcome(rawo, (*p, "expect", j), ident, None if spare else at, j + 1)
            if o is not None:
                outcomes.append(o)
        injects.append(Inject(ident, None if spare else at, inj.get("synopsis") or "",
                              inj.get("audience") or "all", spare, bool(inj.get("demo_only")),
                              eff, tuple(outcomes), i))
    errors = sorted(v.errors, key=lambda e: e.line or 0)
    if errors:
        return None, errors
    services = tuple(c.services.values())
    timed = [i for i in injects if not i.spare]
    timelines, events = compile_effects(services, [(i.at or 0.0, i) for i in timed], demo=True)
    return Scenario(
        path=str(path), title=head["title"], description=head["description"],
        environment=head["environment"], length=head["length"], loop=head["loop"],
        probe_interval=head["probe_interval"], services=services, priorities=priorities,
        timelines=timelines, events=events, id=head.get("id") or Path(str(path)).stem,
        category=head.get("category"),
        injects=tuple(sorted(timed, key=lambda i: (i.at or 0.0, i.index))),
        spares=tuple(i for i in injects if i.spare),
        objectives=tuple(head.get("objectives") or ()), runbooks=tuple(head.get("runbooks") or ()),
    ), []


def parse_scenario(data: dict[str, Any], text: str, path: str | Path, *,
                   library: Library | None = None) -> Scenario:
    """The scenario; raises the first problem (by line) as a ``DocumentError``."""
    scenario, errors = check_scenario(data, text, path, library=library)
    if errors:
        raise errors[0]
    assert scenario is not None
    return scenario
