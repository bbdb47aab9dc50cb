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
first. The data it makes: ``model``. Every string is checked for control and invisible characters (a file people edit).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..document import DocumentError, Field, KeyPath, Validator
from ..health import Status
from ..incident.clocks import ServiceTargets
from ..incident.model import LIFECYCLE, NOTE_TYPES, ROLES
from ..plan import PRIORITIES
from ..text import DANGEROUS_IN_TEXT_RE
from ..timeutil import short_duration
from .model import (
    DEFAULT_DEADLINE,
    Inject,
    Outcome,
    Scenario,
    ServiceState,
    compile_effects,
)

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
        elif kind not in DEFAULT_DEADLINE and kind != "manual" and within is None and by is None:
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
                       frm=frm or ("inject" if kind not in DEFAULT_DEADLINE
                                   else DEFAULT_DEADLINE[kind][0]),
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


__all__ = ["AUDIENCES", "CATEGORIES", "OUTCOME_KINDS", "Inject", "Outcome", "Scenario",
           "ServiceState", "check_scenario", "compile_effects", "parse_scenario"]
