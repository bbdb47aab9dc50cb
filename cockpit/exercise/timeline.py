"""What an exercise is at any moment: a pure function of its journal and the wall time.

``Timeline(record, entries)`` reads an exercise's entries (wall-time stamped, from every
writer) once: the clock, the injects the facilitator fired (at the scenario time they were
fired), the evaluator's marks, and the players' own entries, re-stamped in scenario time
(``base + offset_at(ts)``, where ``base`` is the wall time of the start). Then, for any
wall time: the scenario time, the health of every service (the scenario's, with the fired
spares' effects; never a real probe), the log a viewer sees (injects for everyone or for a
role they hold), and the entries the incident is folded from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..health import ServiceHealth
from ..incident.model import ROLES, EntryLike, SimEntry
from ..scenario import ScenarioPlayer
from .clock import ExerciseClock
from .schema import AUDIENCES, Inject, Scenario, compile_effects
from .store import CONTROL_KINDS, MARKS, MAX_TEXT, ExerciseRecord


@dataclass(frozen=True)
class Fired:
    """An ad-hoc inject: a spare of the scenario or one the facilitator typed."""

    offset: float
    inject: Inject
    author: str
    entry: str  # journal entry id


@dataclass(frozen=True)
class Mark:
    outcome: str
    mark: str  # met | partly | missed
    comment: str
    author: str
    ts: float  # wall time


def joined_roles(data: Any) -> list[str]:
    """The roles an ``exercise.joined`` entry gives (anything else in it left out)."""
    roles = data.get("roles") if isinstance(data, dict) else None
    return sorted(r for r in (roles if isinstance(roles, list) else ()) if r in ROLES)


def visible(audience: str, roles: frozenset[str] | None) -> bool:
    """Whether a viewer holding ``roles`` sees what is meant for ``audience`` (None: the
    facilitator, who sees everything)."""
    return roles is None or audience == "all" or audience in roles


class Timeline:
    def __init__(self, record: ExerciseRecord, entries: Sequence[Any]) -> None:
        self.record = record
        self.scenario: Scenario = record.scenario
        self.base = record.started_at
        self.clock = ExerciseClock(entries, speed=record.speed)
        self.problems: list[str] = list(self.clock.problems)
        fired: list[Fired] = []
        marks: list[Mark] = []
        players: list[Any] = []
        joined: dict[str, set[str]] = {}
        for e in entries:
            if e.kind == "session-start":
                continue
            if e.kind == "exercise.inject":
                f = self._fired(e)
                if f is not None and f.inject.id not in {x.inject.id for x in fired}:
                    fired.append(f)  # a spare fired twice plays once
            elif e.kind == "exercise.mark":
                m = self._mark(e)
                if m is not None:
                    marks.append(m)
            elif e.kind == "exercise.joined":
                joined.setdefault(str(e.author), set()).update(joined_roles(e.data))
            elif e.kind not in CONTROL_KINDS:
                players.append(e._replace(ts=self.sim(e.ts)) if hasattr(e, "_replace")
                               else replace(e, ts=self.sim(e.ts)))
        players.sort(key=lambda e: e.ts)
        self.players: tuple[Any, ...] = tuple(players)
        self.joined: dict[str, frozenset[str]] = {a: frozenset(r) for a, r in joined.items()}
        self.fired: tuple[Fired, ...] = tuple(sorted(fired, key=lambda f: f.offset))
        self.marks: tuple[Mark, ...] = tuple(sorted(marks, key=lambda m: m.ts))
        placed = [(i.at or 0.0, i) for i in self.scenario.injects]
        placed += [(f.offset, f.inject) for f in self.fired if f.inject.effect is not None]
        timelines, events = compile_effects(self.scenario.services, placed, demo=False)
        self.played = replace(self.scenario, loop=False, timelines=timelines, events=events)
        self.player = ScenarioPlayer(self.played, self.base)
        lines = [(i.at or 0.0, i, "scenario") for i in self.scenario.injects
                 if i.synopsis and not i.demo_only]
        lines += [(f.offset, f.inject, f.author) for f in self.fired if f.inject.synopsis]
        self.inject_lines = tuple(sorted(lines, key=lambda x: (x[0], x[1].index)))

    # ------------------------------------------------------------------ reading entries
    def _fired(self, e: Any) -> Fired | None:
        d = e.data if isinstance(e.data, dict) else {}
        offset = self.clock.offset_at(e.ts)
        if isinstance(d.get("spare"), str):
            spare = next((i for i in self.scenario.spares if i.id == d["spare"]), None)
            if spare is None:
                self.problems.append(f"inject by {e.author}: no spare inject {d['spare']!r}")
                return None
            return Fired(offset, replace(spare, at=offset), e.author, e.id)
        text, audience = d.get("synopsis"), d.get("audience", "all")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT or \
                audience not in AUDIENCES:
            self.problems.append(f"inject by {e.author}: not a valid ad-hoc inject")
            return None
        ident = f"adhoc-{e.id}"
        return Fired(offset, Inject(ident, offset, text, str(audience), index=10_000),
                     e.author, e.id)

    def _mark(self, e: Any) -> Mark | None:
        d = e.data if isinstance(e.data, dict) else {}
        outcome, mark, comment = d.get("outcome"), d.get("mark"), d.get("comment", "")
        if not isinstance(outcome, str) or mark not in MARKS or not isinstance(comment, str):
            self.problems.append(f"mark by {e.author}: not a valid evaluator mark")
            return None
        return Mark(outcome, str(mark), comment[:MAX_TEXT], e.author, e.ts)

    # ------------------------------------------------------------------ at a moment
    def offset(self, wall: float) -> float:
        return self.clock.offset_at(wall)

    def sim(self, wall: float) -> float:
        """The scenario time of a wall time, as a moment (``base`` + offset)."""
        return self.base + self.clock.offset_at(wall)

    def health(self, sim_now: float) -> list[ServiceHealth]:
        return self.player.health(sim_now)

    def injects_until(self, offset: float, roles: frozenset[str] | None
                      ) -> list[tuple[float, Inject, str]]:
        return [x for x in self.inject_lines if x[0] <= offset and visible(x[1].audience, roles)]

    def log(self, sim_now: float, roles: frozenset[str] | None) -> list[EntryLike]:
        """Everything a viewer sees in the log at ``sim_now``: the scenario's messages and
        health changes, the injects meant for them, every player entry."""
        off = sim_now - self.base
        out: list[EntryLike] = []
        for e in self.player.entries(sim_now):
            if e.kind == "note" and not visible(str(e.data.get("audience", "all")), roles):
                continue
            out.append(e)
        for at, inj, author in self.injects_until(off, roles):
            data = {"text": inj.synopsis, "inject": inj.id}
            if inj.audience != "all":
                data["audience"] = inj.audience
            out.append(SimEntry(self.base + at, author, "inject", data, f"inject:{inj.id}"))
        out.extend(e for e in self.players if e.ts <= sim_now + 1e-6)
        out.sort(key=lambda e: e.ts)
        return out

    def fold_entries(self, sim_now: float) -> list[EntryLike]:
        """What the incident is folded from: the players' entries and the scenario's health
        changes (a service back to OK stops its RTO clock), never scripted messages."""
        health = [e for e in self.player.entries(sim_now) if e.kind == "health"]
        mine = [e for e in self.players if e.ts <= sim_now + 1e-6]
        return sorted([*health, *mine], key=lambda e: e.ts)

    def next_inject(self, offset: float) -> Inject | None:
        """The next scheduled inject after ``offset`` (the facilitator's jump target)."""
        return next((i for i in self.scenario.injects
                     if not i.demo_only and (i.at or 0.0) > offset + 1e-6), None)

    def fired_spares(self) -> set[str]:
        return {f.inject.id for f in self.fired}

    def marks_of(self, outcome: str) -> list[Mark]:
        return [m for m in self.marks if m.outcome == outcome]

    def ended_at(self) -> float | None:
        """The scenario offset at which the facilitator ended the exercise, if they did."""
        for s in self.clock.segments:
            if s.ended:
                return s.offset
        return None

    def authors(self) -> list[str]:
        """The players: whoever joined with a cockpit or wrote as a player."""
        return sorted({str(e.author) for e in self.players} | set(self.joined))

    def roster(self) -> list[str]:
        """The players with the roles they joined with: ``alice (communications)``."""
        return [f"{a} ({', '.join(sorted(self.joined[a]))})" if self.joined.get(a) else a
                for a in self.authors()]
