"""Exercises on disk: each one a journal of its own, apart from real incidents.

Layout: ``<state_dir>/exercises/`` is a state root of its own (the journal's layout below
it: ``incidents/<exercise-id>/journal/...``), so ``cockpit incident list``, the live
cockpit's incident picker and anything else that lists ``<state_dir>/incidents/`` never
sees an exercise, and the exercise commands never see a real incident (an exercise's
journal begins with ``exercise.started``; a directory without it is not an exercise).
Shared mode: an administrator creates ``exercises/`` once, like the state root itself.

Entry kinds of an exercise journal, besides the incident's own (the players' declaration,
which also carries ``exercise = <id>``, notes, roles, status, ``step.*`` rehearsals)::

    exercise.started   scenario (the whole file, so every cockpit plays the same one),
                       sha256, scenario_id, title, category, source, facilitator, speed
    exercise.clock     action (ready|start|resume|pause|speed|jump|end), speed, to
    exercise.inject    an ad-hoc inject: spare = inject id, or synopsis + audience
    exercise.mark      an evaluator's mark: outcome, mark (met|partly|missed), comment
    exercise.joined    a player's cockpit opened: roles (given with --role); the author is
                       the player, counted before they write anything
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..document import DocumentError
from ..incident.model import ROLES
from ..incident.store import IncidentError, IncidentStore, new_incident_id
from ..journal import Entry, Journal, list_incidents, read_incident
from ..journal.model import check_incident_id, incident_dir
from ..text import one_line
from ..timeutil import Clock, SystemClock
from .clock import MAX_SPEED, MIN_SPEED, ExerciseClock
from .schema import Scenario, parse_scenario

EXERCISES = "exercises"
MARKS = ("met", "partly", "missed")
CONTROL_KINDS = ("exercise.started", "exercise.clock", "exercise.inject", "exercise.mark",
                 "exercise.joined")
MAX_TEXT = 2000


class ExerciseError(IncidentError):
    """A refused exercise operation, with a one-line reason (shown like a refused incident
    action: a warning the engineer can act on)."""


def exercise_root(state_dir: Path) -> Path:
    """The state root of exercises: apart from ``<state_dir>/incidents``."""
    return Path(state_dir) / EXERCISES


@dataclass(frozen=True)
class ExerciseRecord:
    """What an exercise journal says about itself (its first ``exercise.started``)."""

    id: str
    scenario: Scenario
    text: str
    started_at: float  # wall time of the start: scenario time T+0 is shown as this moment
    facilitator: str
    source: str
    speed: float


def exercise_record(exercise_id: str, entries: Sequence[Any]) -> ExerciseRecord:
    """The exercise's scenario and start; ``ExerciseError`` when the journal is not an
    exercise's or its scenario does not read."""
    starts = sorted((e for e in entries if e.kind == "exercise.started"), key=lambda e: e.ts)
    if not starts:
        raise ExerciseError(f"{exercise_id} is not an exercise (its journal has no "
                            "exercise.started entry)")
    e = starts[0]
    d = e.data if isinstance(e.data, dict) else {}
    text = d.get("scenario")
    if not isinstance(text, str):
        raise ExerciseError(f"exercise {exercise_id}: its start entry holds no scenario")
    try:
        scenario = parse_scenario(tomllib.loads(text), text, f"exercise {exercise_id} scenario")
    except tomllib.TOMLDecodeError as err:
        raise ExerciseError(f"exercise {exercise_id}: its scenario is not TOML: "
                            f"{one_line(err, 200)}") from None
    except DocumentError as err:
        raise ExerciseError(f"exercise {exercise_id}: {one_line(err.one_line(), 300)}") from None
    speed = d.get("speed")
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not (
            MIN_SPEED <= speed <= MAX_SPEED):
        speed = 1.0
    return ExerciseRecord(exercise_id, scenario, text, e.ts, str(e.author),
                          str(d.get("source", "")), float(speed))


@dataclass(frozen=True)
class ExerciseSummary:
    id: str
    record: ExerciseRecord
    entries: tuple[Any, ...]

    @property
    def ended(self) -> bool:
        return ExerciseClock(self.entries).ended(float("inf"))


class ExerciseStore:
    """Exercises under one state directory, for one process (one writer file each)."""

    def __init__(self, state_dir: Path, *, mode: str = "personal", clock: Clock | None = None,
                 author: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.root = exercise_root(self.state_dir)
        self.mode = mode
        self.clock = clock or SystemClock()
        self.author = author
        # The players' incident actions (status, roles, notes, updates) are the incident
        # store's, checked the same way, written to the exercise's journal: one writer file.
        self.incidents = IncidentStore(self.root, mode=mode, clock=self.clock, author=author)

    # ------------------------------------------------------------------ reading
    def ids(self) -> list[str]:
        """Every directory under exercises/ (exercise or not: ``list`` checks)."""
        return list_incidents(self.root)

    def entries(self, exercise_id: str) -> list[Entry]:
        return list(read_incident(self.root, exercise_id, recover=False).entries)

    def record(self, exercise_id: str) -> ExerciseRecord:
        return exercise_record(exercise_id, self.entries(exercise_id))

    def list(self) -> list[ExerciseSummary]:
        """The exercises, newest first (a directory that is not one is left out)."""
        out = []
        for xid in self.ids():
            entries = self.entries(xid)
            try:
                rec = exercise_record(xid, entries)
            except ExerciseError:
                continue
            out.append(ExerciseSummary(xid, rec, tuple(entries)))
        out.sort(key=lambda s: s.record.started_at, reverse=True)
        return out

    def resolve(self, ref: str) -> str:
        """An exercise id from what was typed: an id, or ``latest`` (the newest)."""
        if ref == "latest":
            rows = self.list()
            if not rows:
                raise ExerciseError(f"no exercise in {self.root} (cockpit exercise start "
                                    "SCENARIO creates one)")
            return rows[0].id
        try:
            check_incident_id(ref)
        except ValueError as e:
            raise ExerciseError(str(e)) from None
        if not incident_dir(self.root, ref).is_dir():
            raise ExerciseError(f"no exercise {ref!r} in {self.root} (real incidents are "
                                "never exercises: `cockpit exercise list` shows the exercises)")
        self.record(ref)  # raises when it is not an exercise
        return ref

    # ------------------------------------------------------------------ writing
    def journal(self, exercise_id: str) -> Journal:
        return self.incidents.journal(exercise_id)

    def opened_journal(self, exercise_id: str) -> Journal | None:
        return self.incidents.opened_journal(exercise_id)

    def start(self, scenario: Scenario, text: str, *, source: str, speed: float = 1.0,
              running: bool = False, exercise_id: str | None = None) -> str:
        """A new exercise of ``scenario`` (``text``: its file, kept whole in the journal);
        its clock stands at T+0 until the facilitator starts it (``running``: at once)."""
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise ExerciseError(f"the speed must be from {MIN_SPEED:g} to {MAX_SPEED:g}")
        now = self.clock.now()
        xid = exercise_id or new_incident_id(scenario.id or scenario.title, now)
        if incident_dir(self.root, xid).exists():
            raise ExerciseError(f"an exercise {xid!r} exists already")
        j = self.journal(xid)
        j.append("exercise.started", {
            "scenario": text, "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "scenario_id": scenario.id, "title": scenario.title,
            "category": scenario.category or "", "source": source,
            "facilitator": j.author, "speed": float(speed), "exercise": True,
        })
        j.append("exercise.clock", {"action": "ready"})
        if running:
            j.append("exercise.clock", {"action": "start"})
        return xid

    def clock_change(self, exercise_id: str, action: str, **values: float) -> Entry:
        return self.journal(exercise_id).append("exercise.clock", {"action": action, **values})

    def fire(self, exercise_id: str, *, spare: str | None = None, synopsis: str | None = None,
             audience: str = "all") -> Entry:
        if spare is not None:
            return self.journal(exercise_id).append("exercise.inject", {"spare": spare})
        text = " ".join((synopsis or "").split())
        if not text:
            raise ExerciseError("an ad-hoc inject needs a text")
        if len(text) > MAX_TEXT:
            raise ExerciseError(f"the inject is too long ({len(text)} characters, at most "
                                f"{MAX_TEXT})")
        if audience not in ("all", *ROLES):
            raise ExerciseError(f"audience must be all or one of {', '.join(ROLES)}")
        return self.journal(exercise_id).append("exercise.inject",
                                                {"synopsis": text, "audience": audience})

    def mark(self, exercise_id: str, outcome: str, mark: str, comment: str) -> Entry:
        if mark not in MARKS:
            raise ExerciseError(f"mark must be one of {', '.join(MARKS)}")
        if len(comment) > MAX_TEXT:
            raise ExerciseError(f"the comment is too long (at most {MAX_TEXT} characters)")
        return self.journal(exercise_id).append("exercise.mark", {
            "outcome": outcome, "mark": mark, "comment": comment.strip()})

    def joined(self, exercise_id: str, roles: Sequence[str]) -> Entry:
        """A player's cockpit has opened (the facilitator counts them from now on)."""
        return self.journal(exercise_id).append("exercise.joined", {"roles": sorted(roles)})

    def close(self) -> None:
        self.incidents.close()
