"""Scenarios: timed injects played against a clock (the built-in demo, tabletop exercises).

A scenario file holds the services of a simulated environment and a list of injects,
each at an offset from the scenario start: a service changes state, a log entry
appears, the incident is declared or changes status. ``ScenarioPlayer`` answers,
for any moment, what every pane would show: it is a pure function of the offset,
which makes snapshots, replays and facilitator clocks trivial.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .document import Field, Validator, load_toml
from .health import ProbeResult, ServiceHealth, Status
from .incident.clocks import ServiceTargets
from .incident.model import LIFECYCLE, NOTE_TYPES, ROLES, SimEntry
from .plan import PRIORITIES, Milestones
from .timeutil import format_duration

_SCENARIO = {
    "title": Field("str", required=True),
    "description": Field("str", default=""),
    "environment": Field("str", default="demo"),
    "length": Field("duration", required=True, minimum=1),
    "loop": Field("bool", default=True),
    "probe_interval": Field("duration", default="5s", minimum=0.1),
}
_SERVICE = {
    "id": Field("str", required=True),
    "title": Field("str", required=True),
    "priority": Field("str", default="P1", choices=PRIORITIES),
    "rto": Field("duration"),
    "rpo": Field("duration"),
}
_STATUSES = tuple(s.value for s in Status)
_INJECT = {
    "at": Field("duration", required=True),
    # a service state change
    "service": Field("str"),
    "status": Field("str", choices=_STATUSES),
    "summary": Field("str"),
    "figure": Field("str"),
    "latency": Field("duration"),
    "rpo_exposure": Field("duration"),
    "rpo_growing": Field("bool"),
    "silent": Field("bool"),  # the service stops answering: its last answer ages (stale)
    # a log entry
    "log": Field("str"),
    "type": Field("str", choices=NOTE_TYPES),
    "author": Field("str"),
    # the incident
    "incident": Field("str", choices=LIFECYCLE),
    "title": Field("str"),
    "severity": Field("str", choices=PRIORITIES),
    "services": Field("list[str]"),
    "impact_start": Field("duration"),
    # roles
    "role": Field("str", choices=ROLES),
    "person": Field("str"),
}


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


def parse_scenario(data: dict[str, Any], text: str, path: str | Path) -> Scenario:
    v = Validator(path, text)
    top = v.table(data, {"scenario": Field("table", required=True),
                         "service": Field("list[table]", default=[]),
                         "inject": Field("list[table]", default=[])})
    head = v.table(top.get("scenario") or {}, _SCENARIO, ("scenario",))
    services: list[ServiceTargets] = []
    priorities: dict[str, str] = {}
    for i, raw in enumerate(top.get("service") or []):
        s = v.table(raw, _SERVICE, ("service", i))
        if s.get("id"):
            if s["id"] in priorities:
                v.error(("service", i, "id"), f"duplicate service id {s['id']!r}")
            services.append(ServiceTargets(s["id"], s.get("title") or s["id"], s.get("rto"), s.get("rpo")))
            priorities[s["id"]] = s.get("priority") or "P1"
    known = set(priorities)
    timelines: dict[str, list[tuple[float, ServiceState]]] = {s.id: [] for s in services}
    events: list[tuple[float, str, str, dict[str, Any]]] = []
    for i, raw in enumerate(top.get("inject") or []):
        path_i = ("inject", i)
        inj = v.table(raw, _INJECT, path_i)
        at = inj.get("at")
        if at is None:
            continue
        if inj.get("service") is not None:
            sid = inj["service"]
            if sid not in known:
                v.error((*path_i, "service"), f"unknown service {sid!r}")
                continue
            if inj.get("status") is None:
                v.error((*path_i, "status"), "a service inject needs a status")
                continue
            prev = timelines[sid][-1][1] if timelines[sid] else None
            timelines[sid].append((at, ServiceState(
                status=Status(inj["status"]),
                summary=str(inj["summary"]) if inj.get("summary") is not None else (
                    prev.summary if prev else ""),
                figure=inj.get("figure"),
                latency=inj.get("latency") if inj.get("latency") is not None else (prev.latency if prev else None),
                rpo_exposure=inj.get("rpo_exposure"),
                rpo_growing=bool(inj.get("rpo_growing")),
                silent=bool(inj.get("silent")),
                since=at,
            )))
        elif inj.get("log") is not None:
            events.append((at, inj.get("author") or "facilitator", "note",
                           {"type": inj.get("type") or "observation", "text": inj["log"]}))
        elif inj.get("incident") is not None:
            st = inj["incident"]
            if st == "declared":
                if not inj.get("title"):
                    v.error((*path_i, "title"), "declaring an incident needs a title")
                    continue
                for sid in inj.get("services") or []:
                    if sid not in known:
                        v.error((*path_i, "services"), f"unknown service {sid!r}")
                data = {"title": inj["title"], "severity": inj.get("severity") or "P1",
                        "services": list(inj.get("services") or [])}
                if inj.get("impact_start") is not None:
                    data["impact_offset"] = inj["impact_start"]
                events.append((at, inj.get("author") or "on-call", "incident.declared", data))
            else:
                events.append((at, inj.get("author") or "on-call", "incident.status", {"status": st}))
        elif inj.get("role") is not None:
            events.append((at, inj.get("author") or "on-call", "role.assigned",
                           {"role": inj["role"], "person": inj.get("person") or "?"}))
        else:
            v.error(path_i, "an inject needs one of: service, log, incident, role")
    v.raise_first()
    events.sort(key=lambda e: e[0])
    return Scenario(
        path=str(path), title=head["title"], description=head["description"],
        environment=head["environment"], length=head["length"], loop=head["loop"],
        probe_interval=head["probe_interval"], services=tuple(services), priorities=priorities,
        timelines={k: tuple(sorted(tl, key=lambda x: x[0])) for k, tl in timelines.items()},
        events=tuple(events),
    )


def load_scenario(path: Path) -> Scenario:
    data, text = load_toml(path)
    return parse_scenario(data, text, path)


def builtin_demo() -> Scenario:
    ref = resources.files("cockpit") / "scenarios" / "demo.toml"
    text = ref.read_text(encoding="utf-8")
    import tomllib

    return parse_scenario(tomllib.loads(text), text, "cockpit/scenarios/demo.toml")


def _jitter(*parts: object) -> float:
    """Deterministic pseudo-random number in [0, 1) for (service, tick)."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


class ScenarioPlayer:
    """What the scenario shows at any moment. ``epoch`` is the wall time of offset 0."""

    SPARK_POINTS = 24

    def __init__(self, scenario: Scenario, epoch: float):
        self.scenario = scenario
        self.epoch = epoch
        self._starts = {k: [t for t, _ in tl] for k, tl in scenario.timelines.items()}

    def offset(self, now: float) -> float:
        off = max(0.0, now - self.epoch)
        if self.scenario.loop and self.scenario.length > 0:
            off = off % self.scenario.length
        return off

    def _state(self, sid: str, off: float) -> ServiceState | None:
        idx = bisect_right(self._starts[sid], off) - 1
        return None if idx < 0 else self.scenario.timelines[sid][idx][1]

    def _cycle_base(self, now: float) -> float:
        """Wall time at which the current loop of the scenario began."""
        return now - self.offset(now)

    def health(self, now: float) -> list[ServiceHealth]:
        off = self.offset(now)
        base = self._cycle_base(now)
        iv = self.scenario.probe_interval
        out = []
        for s in self.scenario.services:
            st = self._state(s.id, off)
            if st is None:
                out.append(ServiceHealth(s.id, s.title, Status.UNKNOWN, "waiting for first answer", None))
                continue
            tick = int(off // iv)
            answered = st.since if st.silent else max(st.since, tick * iv)
            observed = base + answered
            lat = []
            for k in range(self.SPARK_POINTS):
                t = tick - (self.SPARK_POINTS - 1 - k)
                if t < 0:
                    continue
                past = self._state(s.id, t * iv)
                if past is None or past.latency is None or past.status == Status.FAIL:
                    continue
                lat.append(past.latency * (0.75 + 0.5 * _jitter(s.id, t)))
            exposure = st.rpo_exposure
            if exposure is not None and st.rpo_growing:
                exposure += off - st.since
            status = st.status
            summary = st.summary
            if st.silent and status != Status.FAIL:
                status = Status.STALE
                summary = f"no answer for {format_duration(off - st.since)}; last: {st.summary}"
            figure = st.figure
            if figure is None and lat and status in (Status.OK, Status.WARN):
                figure = f"{lat[-1] * 1000:.0f} ms"
            probe = ProbeResult(status=status, summary=summary, observed_at=observed,
                                metrics={"simulated": True}, latency=lat[-1] if lat else None,
                                key_figure=figure)
            down_since = None
            if status == Status.FAIL:
                tl = self.scenario.timelines[s.id]
                idx = bisect_right(self._starts[s.id], off) - 1
                while idx > 0 and tl[idx - 1][1].status == Status.FAIL:
                    idx -= 1
                down_since = base + tl[idx][0]
            out.append(ServiceHealth(s.id, s.title, status, summary, observed, figure,
                                     tuple(lat), {"simulated": probe}, exposure, down_since))
        return out

    def entries(self, now: float) -> list[SimEntry]:
        """Scripted entries, and the automatic ``health`` entries of every status change."""
        off = self.offset(now)
        base = self._cycle_base(now)
        out = []
        for i, (at, author, kind, data) in enumerate(self.scenario.events):
            if at > off:
                break
            d = dict(data)
            if "impact_offset" in d:
                d["impact_start"] = base + d.pop("impact_offset")
            out.append(SimEntry(ts=base + at, author=author, kind=kind, data=d, id=f"sim:{i}"))
        for sid, timeline in self.scenario.timelines.items():
            prev = None
            for at, st in timeline:
                if at > off:
                    break
                if prev is not None and st.status != prev:
                    out.append(SimEntry(ts=base + at, author="cockpit", kind="health",
                                        data={"service": sid, "status": st.status.value,
                                              "summary": st.summary}, id=f"sim:h:{sid}:{at}"))
                prev = st.status
        out.sort(key=lambda e: e.ts)
        return out
