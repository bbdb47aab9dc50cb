"""Exercises for tests: started on a fixed wall clock, players acting through the journal
API at chosen moments."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from cockpit.exercise.schema import Scenario, parse_scenario
from cockpit.exercise.store import ExerciseStore, exercise_root
from cockpit.exercise.timeline import Timeline
from cockpit.incident.store import IncidentStore
from cockpit.scenario import scenario_dir
from cockpit.timeutil import FixedClock

T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC: in the past, so "now" is after every test exercise
MIN = 60.0


def library_scenario(name: str) -> tuple[Scenario, str]:
    path = scenario_dir() / f"{name}.toml"
    text = path.read_text(encoding="utf-8")
    return parse_scenario(tomllib.loads(text), text, path), text


def scenario_of(text: str, name: str = "test.toml") -> Scenario:
    return parse_scenario(tomllib.loads(text), text, name)


class Exercise:
    """One exercise on a fixed wall clock: ``at(minutes)`` moves the wall clock, the
    facilitator and the players write through the journal API."""

    def __init__(self, state: Path, text: str, *, exercise_id: str = "x1", running: bool = True,
                 speed: float = 1.0) -> None:
        self.state = state
        self.wall = FixedClock(T0)
        self.facilitator = ExerciseStore(state, clock=self.wall, author="fac")
        scenario = scenario_of(text)
        self.id = self.facilitator.start(scenario, text, source="test", running=running,
                                         speed=speed, exercise_id=exercise_id)
        self.players: dict[str, IncidentStore] = {}

    def at(self, minutes: float) -> Exercise:
        """Move the wall clock to T0 + ``minutes``."""
        assert T0 + minutes * MIN >= self.wall.t, "the wall clock never goes back"
        self.wall.t = T0 + minutes * MIN
        return self

    def player(self, name: str) -> IncidentStore:
        if name not in self.players:
            self.players[name] = IncidentStore(exercise_root(self.state), clock=self.wall,
                                               author=name)
        return self.players[name]

    def write(self, who: str, kind: str, data: dict[str, Any]) -> None:
        self.player(who).journal(self.id).append(kind, data)

    def clock(self, action: str, **values: float) -> None:
        self.facilitator.clock_change(self.id, action, **values)

    def timeline(self) -> Timeline:
        return Timeline(self.facilitator.record(self.id), self.facilitator.entries(self.id))

    def close(self) -> None:
        self.facilitator.close()
        for p in self.players.values():
            p.close()
