"""Scenarios: timed injects played against a clock (the built-in demo, tabletop exercises).

A scenario file holds the services of a simulated environment and a list of injects,
each at an offset from the scenario start: a service changes state, a log entry
appears, the incident is declared or changes status (the format and its checks:
``cockpit.exercise.schema``). ``ScenarioPlayer`` answers, for any moment, what every pane
would show: it is a pure function of the offset, which makes snapshots, replays and
facilitator clocks trivial.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .document import load_toml
from .exercise.schema import (
    Inject,
    Outcome,
    Scenario,
    ServiceState,
    check_scenario,
    compile_effects,
    parse_scenario,
)
from .health import ProbeResult, ServiceHealth, Status
from .incident.model import SimEntry
from .timeutil import format_duration

if TYPE_CHECKING:
    from .runbooks import Library

__all__ = ["DEMO_ID", "Inject", "Outcome", "Scenario", "ScenarioPlayer", "ServiceState",
           "builtin_demo", "check_scenario", "compile_effects", "load_scenario",
           "parse_scenario", "scenario_dir"]

DEMO_ID = "database-loss"  # the built-in demo is this scenario of the exercise library


def scenario_dir() -> Path:
    """The built-in scenario library: package data ``cockpit.runbooks.builtin.exercises``
    (the ``runbooks/exercises/`` folder of the checkout), next to the runbooks."""
    return Path(str(resources.files("cockpit.runbooks.builtin.exercises")))


def load_scenario(path: Path, *, library: Library | None = None) -> Scenario:
    data, text = load_toml(path)
    return parse_scenario(data, text, path, library=library)


def builtin_demo() -> Scenario:
    """The demo: the library's database-loss scenario (played whole, scripted response
    included, looping)."""
    import tomllib

    ref = scenario_dir() / f"{DEMO_ID}.toml"
    text = ref.read_text(encoding="utf-8")
    return parse_scenario(tomllib.loads(text), text, f"runbooks/exercises/{DEMO_ID}.toml")


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
                    data = {"service": sid, "status": st.status.value, "summary": st.summary}
                    if st.rpo_exposure is not None:  # the data-loss window when it changed
                        data["rpo_exposure"] = st.rpo_exposure
                    out.append(SimEntry(ts=base + at, author="cockpit", kind="health",
                                        data=data, id=f"sim:h:{sid}:{at}"))
                prev = st.status
        out.sort(key=lambda e: e.ts)
        return out
