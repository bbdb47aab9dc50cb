"""The demo: a scenario played against a (simulated) clock. No network, no configuration,
no files: what the engineer does in it is kept in memory.

The runbook navigator is a rehearsal (``rehearsal.RehearsalSteps``, as in an exercise):
parameters are asked for, steps dry-run, executed, confirmed, skipped and rolled back, each
journaled in memory as a rehearsal; nothing is ever executed. An incident the engineer
declares is an incident of its own, kept apart from the scenario's (``i`` switches between
them): the scenario's injects never land on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..drills.board import DrillBoard
from ..incident.clocks import incident_clocks
from ..incident.fold import Folder, fold
from ..incident.model import EntryLike, SimEntry
from ..incident.store import IncidentError, check_transition
from ..plan import SEVERITIES
from ..scenario import Scenario, ScenarioPlayer
from ..timeutil import Clock, SimClock
from .protocol import Capabilities, IncidentChoice, SessionKind, View
from .rehearsal import RehearsalSteps

SCENARIO = "scenario"  # the key of the scenario's incident among the demo's incidents


class _MemoryJournal:
    """What ``RehearsalSteps`` writes to: the demo's in-memory entries."""

    def __init__(self, session: DemoSession) -> None:
        self.session = session

    def append(self, kind: str, data: dict[str, Any]) -> SimEntry:
        return self.session._add(kind, data)


class DemoSession:
    kind = SessionKind.DEMO

    def __init__(self, scenario: Scenario, clock: Clock, epoch: float,
                 runbook_dirs: Sequence[Path] = ()) -> None:
        self.scenario = scenario
        self.clock = clock
        self.player = ScenarioPlayer(scenario, epoch)
        self.name = f"{scenario.environment}: {scenario.title}"
        self.milestones = scenario.milestones
        self.services = scenario.services
        self.priorities = scenario.priorities
        self.author = "you"
        self.runbooks = RehearsalSteps(self, tuple(runbook_dirs))
        self._lock = threading.Lock()
        # what the engineer did in the demo, each tagged with its incident's key
        self._local: list[tuple[str, SimEntry]] = []
        self._following = SCENARIO
        self._declared = 0  # incidents the engineer declared
        self._entries_cache: list[Any] | None = None
        self._folder = Folder()

    @classmethod
    def start(cls, scenario: Scenario, *, at: float = 0.0, speed: float = 1.0,
              now: float | None = None, clock: Clock | None = None,
              runbook_dirs: Sequence[Path] = ()) -> DemoSession:
        """Begin ``at`` seconds into the scenario, running ``speed`` times real time.

        With ``clock`` given (tests, snapshots) the scenario time follows that clock.
        """
        if clock is None:
            clock = SimClock(start=time.time() if now is None else now, speed=speed)
        return cls(scenario, clock, epoch=clock.now() - at, runbook_dirs=runbook_dirs)

    @property
    def capabilities(self) -> Capabilities:
        # execute: every step action is a rehearsal (journaled in memory, nothing runs)
        return Capabilities(declare=True, follow=True, execute=True)

    def _entries_of(self, key: str) -> list[Any]:
        with self._lock:
            local = [e for k, e in self._local if k == key]
        if key != SCENARIO:
            return local
        scripted = self.player.entries(self.clock.now())
        return sorted([*scripted, *local], key=lambda e: e.ts) if local else list(scripted)

    def entries(self) -> Sequence[EntryLike]:
        """The entries of the followed incident (the scenario's, or one the engineer
        declared)."""
        out = self._entries_of(self._following)
        # The same list object while nothing changed: the UI then has nothing to redraw.
        cached = self._entries_cache
        if cached is not None and cached == out:
            return cached
        self._entries_cache = out
        return out

    def view(self) -> View:
        now = self.clock.now()
        health = self.player.health(now)
        entries = self.entries()
        with self._lock:
            incident = self._folder.update(entries)
        clocks = incident_clocks(incident, self.services, {h.service: h for h in health},
                                 self.milestones, now)
        following = self._following
        return View(now=now, health=health, entries=entries, pending=(), unsaved=(),
                    incident=incident, incident_id=following if incident is not None else None,
                    clocks=clocks, loading=False,
                    banners=(),
                    paused=isinstance(self.clock, SimClock) and self.clock.paused)

    async def run(self, changed: Callable[[], None]) -> None:
        return None  # everything is a pure function of the clock

    def stop(self) -> None:
        return None

    # ---- operator actions: kept in memory, checked like the store checks them
    def _add(self, kind: str, data: dict[str, Any], key: str | None = None) -> SimEntry:
        with self._lock:
            e = SimEntry(self.clock.now(), self.author, kind, data, f"local:{len(self._local)}")
            self._local.append((key or self._following, e))
        return e

    # ---- the rehearsal navigator's journal (``RehearsalSteps``)
    def journal(self) -> _MemoryJournal:
        return _MemoryJournal(self)

    def journal_entries(self) -> list[Any]:
        """The step records of the followed incident."""
        return [e for e in self.entries() if e.kind.startswith("step.")]

    def _incident(self) -> Any:
        entries = self.entries()
        with self._lock:
            inc = self._folder.update(entries)
        if inc is None:
            raise IncidentError("no incident declared")
        return inc

    def declare(self, title: str, severity: str, services: Sequence[str],
                impact_start: float | None) -> None:
        if severity not in SEVERITIES:
            raise IncidentError(f"severity must be one of {', '.join(SEVERITIES)}")
        data: dict[str, Any] = {"title": title, "severity": severity, "services": list(services)}
        if impact_start is not None:
            data["impact_start"] = impact_start
        with self._lock:
            self._declared += 1
            key = f"yours-{self._declared}"
        # an incident of its own: the scenario's injects never land on it
        self._add("incident.declared", data, key)
        self._following = key

    def set_status(self, status: str) -> None:
        check_transition(self._incident().status, status)
        self._add("incident.status", {"status": status})

    def assign(self, role: str, person: str) -> None:
        self._incident()
        self._add("role.assigned", {"role": role, "person": person})

    def update(self, *, services: Sequence[str] | None = None, severity: str | None = None,
               title: str | None = None) -> None:
        self._incident()
        changes: dict[str, Any] = {}
        if services is not None:
            changes["services"] = list(services)
        if severity is not None:
            changes["severity"] = severity
        if title is not None:
            changes["title"] = title
        self._add("incident.updated", changes)

    def note(self, type: str, text: str) -> None:
        self._incident()
        self._add("note", {"type": type, "text": text})

    def incidents(self) -> list[IncidentChoice]:
        """The scenario's incident (once declared) and every incident the engineer declared."""
        with self._lock:
            keys = [SCENARIO, *(f"yours-{n}" for n in range(1, self._declared + 1))]
        out = []
        for key in keys:
            state = fold(self._entries_of(key))
            if state is not None:
                out.append(IncidentChoice(key, state))
        return out

    def follow(self, incident_id: str | None) -> None:
        key = incident_id or SCENARIO
        with self._lock:
            known = key == SCENARIO or key in {f"yours-{n}" for n in range(1, self._declared + 1)}
        if not known:
            raise IncidentError(f"no such incident: {key} (in the demo)")
        self._following = key

    def drills(self) -> DrillBoard:
        from ..drills.board import demo_board

        return demo_board(self.clock.now())

    def retry_journal(self) -> str:
        return "The demo keeps no journal."
