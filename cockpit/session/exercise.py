"""A tabletop exercise as a session: the real cockpit on a scenario, in a journal of its own.

Health comes from the scenario (never from a probe), at the scenario time of the exercise
clock, which the facilitator steers (``Facilitator``: start, pause, resume, speed, jump,
ad-hoc injects, evaluator marks, end) and which is itself journaled, so every cockpit that
follows the exercise (``cockpit exercise join``) derives the same scenario time within a
second of a change. Players work the incident as in a real one: declare (once: an exercise
has one incident, marked ``exercise = <id>``), roles, notes, updates, the runbook navigator
(rehearsed, nothing runs: ``rehearsal.RehearsalSteps``). Their entries are stamped with the
wall time like every journal entry and shown, folded and scored in scenario time.

A player sees the injects meant for everyone and for the roles they hold (``--role``, or a
role assigned to their account in the incident); the facilitator sees every inject.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..drills.board import DrillBoard
from ..exercise.board import Board, build_board
from ..exercise.clock import MAX_SPEED, MIN_SPEED, ExerciseClock
from ..exercise.store import ExerciseError, ExerciseStore, exercise_record
from ..exercise.timeline import Timeline
from ..incident.clocks import ServiceTargets, incident_clocks
from ..incident.fold import fold
from ..incident.model import EntryLike, IncidentState, SimEntry
from ..incident.store import IncidentError
from ..journal import Follower, Journal, JournalWriteError, default_author
from ..journal.model import check_incident_id, incident_dir
from ..plan import SEVERITIES, Milestones
from ..text import one_line
from ..timeutil import Clock, SystemClock, format_clock
from .protocol import (
    Banner,
    BannerLevel,
    Capabilities,
    IncidentChoice,
    Runbooks,
    SessionKind,
    View,
)
from .rehearsal import RehearsalSteps

JOURNAL_RETRY = 5.0


class ScenarioClock:
    """The session's ``clock``: scenario time, which pauses and speeds up with the
    facilitator's clock (the UI's forms and detail views read it)."""

    def __init__(self, session: ExerciseSession) -> None:
        self._session = session

    def now(self) -> float:
        return self._session.sim_now()


class ExerciseSession:
    kind: SessionKind = SessionKind.EXERCISE

    def __init__(self, state_dir: Path, exercise_id: str, *, mode: str = "personal",
                 wall: Clock | None = None, author: str | None = None,
                 roles: Sequence[str] = (), facilitator: bool = False,
                 runbook_dirs: Sequence[Path] = (), joins: bool = False) -> None:
        """``joins``: a player's cockpit (``cockpit exercise join``), journaled as joined when
        it runs while the exercise is on; never the facilitator's, nor anything that only
        reads (a viewer, a report)."""
        self.wall: Clock = wall or SystemClock()
        self.author: str = author or default_author()
        self.store = ExerciseStore(state_dir, mode=mode, clock=self.wall, author=self.author)
        try:
            self.exercise_id = check_incident_id(exercise_id)
        except ValueError as e:
            raise ExerciseError(str(e)) from None
        if not incident_dir(self.store.root, exercise_id).is_dir():
            raise ExerciseError(f"no exercise {exercise_id!r} in {self.store.root}")
        self._follower = Follower(self.store.root, exercise_id)
        entries = sorted(self._follower.poll(), key=lambda e: (e.ts, e.writer, e.seq))
        self.record = exercise_record(exercise_id, entries)
        self.scenario = self.record.scenario
        self.name: str = f"EXERCISE · {self.scenario.title}"
        self.milestones: Milestones = self.scenario.milestones
        self.services: Sequence[ServiceTargets] = self.scenario.services
        self.priorities: Mapping[str, str] = self.scenario.priorities
        self.roles = frozenset(roles)
        self.is_facilitator = facilitator
        self.joins = joins and not facilitator
        self.clock: Clock = ScenarioClock(self)
        self.runbooks: Runbooks = RehearsalSteps(self, tuple(runbook_dirs))
        self._lock = threading.RLock()
        self._entries: list[Any] = entries
        self._timeline = Timeline(self.record, entries)
        self._pending: list[SimEntry] = []
        self._log: list[EntryLike] | None = None
        self._changed: Callable[[], None] = lambda: None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._notice: tuple[float, str] | None = None
        self._join_problem: str | None = None  # the join could not even open the journal

    # ------------------------------------------------------------------ reading
    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(declare=True, follow=False, execute=True)

    def timeline(self) -> Timeline:
        with self._lock:
            return self._timeline

    def journal_entries(self) -> list[Any]:
        """The exercise journal's entries as written (wall time)."""
        with self._lock:
            return list(self._entries)

    def sim_now(self) -> float:
        return self.timeline().sim(self.wall.now())

    def incident(self) -> IncidentState | None:
        tl = self.timeline()
        return fold(tl.fold_entries(tl.sim(self.wall.now())))

    def viewer_roles(self, incident: IncidentState | None) -> frozenset[str] | None:
        """The roles whose injects this cockpit shows (None: all, the facilitator)."""
        if self.is_facilitator:
            return None
        held = {r for r, who in (incident.roles if incident else ()) if who == self.author}
        return frozenset(self.roles | held)

    def view(self) -> View:
        wall = self.wall.now()
        tl = self.timeline()
        sim_now = tl.sim(wall)
        health = tl.health(sim_now)
        incident = fold(tl.fold_entries(sim_now))
        log = tl.log(sim_now, self.viewer_roles(incident))
        with self._lock:
            if self._log is not None and self._log == log:
                log = self._log  # the same object while nothing changed: nothing to redraw
            self._log = log
            pending = tuple(self._pending)
        clocks = incident_clocks(incident, self.services, {h.service: h for h in health},
                                 self.milestones, sim_now)
        return View(now=sim_now, health=health, entries=log, pending=pending,
                     unsaved=self._unsaved(), incident=incident, incident_id=self.exercise_id,
                     clocks=clocks, loading=False, banners=self._banners(tl, wall),
                     # an ended exercise is not paused (the ENDED banner says what it is)
                     paused=not tl.clock.running(wall) and not tl.clock.ended(wall))

    def _unsaved(self) -> tuple[SimEntry, ...]:
        j = self.store.opened_journal(self.exercise_id)
        if j is None:
            return ()
        now = self.sim_now()
        return tuple(SimEntry(now, u.author, u.kind, dict(u.data)) for u in j.unsaved
                     if u.kind != "session-start")

    def _banners(self, tl: Timeline, wall: float) -> tuple[Banner, ...]:
        out: list[Banner] = []
        j = self.store.opened_journal(self.exercise_id)
        if j is not None and j.failed:
            out.append(Banner("journal", BannerLevel.ERROR, (
                f"EXERCISE JOURNAL NOT WRITABLE: {one_line(j.error, 200)}. What you do is "
                "kept in memory and retried every 5 s (ctrl+r: now).")))
        problems = [*self._follower.problems, *tl.problems]
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            out.append(Banner("exercise-journal", BannerLevel.WARNING, (
                f"UNREADABLE EXERCISE ENTRY: {one_line(problems[-1], 160)}{more}; left out.")))
        end = tl.ended_at()
        if end is not None:
            out.append(Banner("ended", BannerLevel.INFO, (
                f"EXERCISE ENDED at T+{format_clock(end)}. After-action report: cockpit "
                f"exercise report {self.exercise_id}")))
        elif not tl.clock.started:
            out.append(Banner("ready", BannerLevel.INFO, (
                "EXERCISE READY at T+0:00:00: the scenario clock starts when the facilitator "
                "starts it. Nothing you do here runs anything.")))
        if self._join_problem:
            out.append(Banner("join", BannerLevel.WARNING, self._join_problem))
        notice = self._notice
        if notice is not None and time.monotonic() - notice[0] < 60 and not (j and j.failed):
            out.append(Banner("journal-ok", BannerLevel.INFO, notice[1]))
        return tuple(out)

    # ------------------------------------------------------------------ following
    def _merge(self, new: Sequence[Any]) -> bool:
        if not new:
            return False
        with self._lock:
            self._entries = sorted([*self._entries, *new],
                                   key=lambda e: (e.ts, e.writer, e.seq))
            self._timeline = Timeline(self.record, self._entries)
        return True

    def poll(self) -> bool:
        """Pick up what any cockpit wrote (blocking); True when something arrived."""
        return self._merge(self._follower.poll())

    async def run(self, changed: Callable[[], None]) -> None:
        """Follow the exercise journal (inotify, polling each second as the fallback): a
        facilitator's change is on every player's screen within a second."""
        self._changed = changed
        self._loop = asyncio.get_running_loop()
        self._stop = stop = asyncio.Event()
        upkeep = asyncio.create_task(self._upkeep())
        try:
            # counted among the players from now on, not once they write; opening an ended
            # exercise to look back does not change who played it
            if self.joins and self.timeline().ended_at() is None:
                await asyncio.to_thread(self._join)
                changed()
            known = 0
            async for batch in self._follower.watch(interval=1.0, stop=stop):
                if self._merge(batch) or len(self._follower.problems) != known:
                    known = len(self._follower.problems)
                    changed()
        finally:
            upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep

    def _join(self) -> None:
        try:
            self.store.joined(self.exercise_id, sorted(self.roles))
        except JournalWriteError:
            return  # kept and retried with the journal (its banner says so)
        except (OSError, ExerciseError) as e:  # the journal could not even be opened
            self._join_problem = ("COULD NOT RECORD THAT YOU JOINED: the facilitator does not "
                                  f"count you as a player yet. {one_line(str(e), 160)}")
            return
        self._join_problem = None
        with contextlib.suppress(OSError):
            self.poll()

    async def _upkeep(self) -> None:
        while True:
            await asyncio.sleep(JOURNAL_RETRY)
            j = self.store.opened_journal(self.exercise_id)
            if j is not None and j.failed:
                await asyncio.to_thread(self.retry_journal)
                self._changed()

    def stop(self) -> None:
        stop, loop = self._stop, self._loop
        if stop is not None and loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        self.store.close()

    def drills(self) -> DrillBoard:
        """The real drill schedule of this state directory (an exercise is not a drill run
        until it is recorded: ``cockpit drills record tabletop``), at wall time."""
        from ..drills.board import read_board
        from ..drills.schedule import PLAN_DRILLS

        return read_board(self.store.state_dir, PLAN_DRILLS, self.wall.now())

    def retry_journal(self) -> str:
        j = self.store.opened_journal(self.exercise_id)
        if j is None or not j.failed:
            return "The exercise journal is writable."
        try:
            saved = j.reopen()
        except (OSError, JournalWriteError) as e:
            return f"Still not writable: {one_line(str(e), 200)}"
        msg = f"Exercise journal writable again: {len(saved)} kept entries saved."
        self._notice = (time.monotonic(), msg)
        with contextlib.suppress(OSError):
            self.poll()
        return msg

    # ------------------------------------------------------------------ writing
    def journal(self) -> Journal:
        return self.store.journal(self.exercise_id)

    def act(self, kind: str, data: dict[str, Any], write: Callable[[], object]) -> None:
        """An entry is pending (shown, marked) until the journal acknowledged it."""
        entry = SimEntry(self.sim_now(), self.author, kind, data)
        with self._lock:
            self._pending.append(entry)
        self._changed()
        try:
            write()
            self._join_problem = None  # written as a player: counted now
            with contextlib.suppress(OSError):
                self.poll()
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._pending.remove(entry)
            self._changed()

    def _need_incident(self) -> IncidentState:
        inc = self.incident()
        if inc is None:
            raise IncidentError("No incident declared in this exercise yet: press d.")
        return inc

    def declare(self, title: str, severity: str, services: Sequence[str],
                impact_start: float | None) -> None:
        title = " ".join(title.split())
        if not title:
            raise IncidentError("an incident needs a title")
        if severity not in SEVERITIES:
            raise IncidentError(f"severity must be one of {', '.join(SEVERITIES)}")
        if self.incident() is not None:
            raise IncidentError("This exercise's incident is already declared: an exercise "
                                "has one incident (s, a, n, u move it on).")
        now = self.sim_now()
        if impact_start is not None and impact_start > now + 60:
            raise IncidentError("the impact start is in the future (scenario time)")
        known = {s.id for s in self.services}
        bad = [s for s in services if s not in known]
        if bad:
            raise IncidentError(f"unknown service {bad[0]!r} in this scenario")
        data: dict[str, Any] = {"title": title, "severity": severity, "services": list(services),
                                "exercise": self.exercise_id}
        if impact_start is not None:
            data["impact_start"] = float(impact_start)  # scenario time, like every shown time
        self.act("incident.declared", data,
                 lambda: self.journal().append("incident.declared", data))

    def set_status(self, status: str) -> None:
        inc = self._need_incident()
        self.act("incident.status", {"status": status}, lambda: self.store.incidents.set_status(
            self.exercise_id, status, state=inc, skip_ok=True))

    def assign(self, role: str, person: str) -> None:
        inc = self._need_incident()
        self.act("role.assigned", {"role": role, "person": person},
                 lambda: self.store.incidents.assign(self.exercise_id, role, person, state=inc))

    def note(self, type: str, text: str) -> None:
        inc = self._need_incident()
        self.act("note", {"type": type, "text": text},
                 lambda: self.store.incidents.note(self.exercise_id, text, type, state=inc))

    def update(self, *, services: Sequence[str] | None = None, severity: str | None = None,
               title: str | None = None) -> None:
        inc = self._need_incident()
        changes: dict[str, Any] = {}
        if services is not None:
            changes["services"] = list(services)
        if severity is not None:
            changes["severity"] = severity
        if title is not None:
            changes["title"] = title
        self.act("incident.updated", changes,
                 lambda: self.store.incidents.update(self.exercise_id, state=inc, **changes))

    def incidents(self) -> list[IncidentChoice]:
        return []

    def follow(self, incident_id: str | None) -> None:
        raise IncidentError("An exercise has one incident, its own; real incidents are never "
                            "shown in an exercise.")


class Facilitator:
    """The facilitator's controls over an exercise session. ``board()`` is read on the UI
    thread (in memory); every action writes the journal: call them off the UI thread."""

    def __init__(self, session: ExerciseSession) -> None:
        self.session = session

    def board(self) -> Board:
        return build_board(self.session.timeline(), self.session.wall.now())

    def _clock(self) -> tuple[ExerciseClock, float]:
        tl = self.session.timeline()
        wall = self.session.wall.now()
        if tl.clock.ended(wall):
            raise ExerciseError("The exercise has ended: its clock no longer moves.")
        return tl.clock, wall

    def _write(self, kind: str, data: dict[str, Any]) -> None:
        self.session.act(kind, data, lambda: self.session.journal().append(kind, data))

    def toggle(self) -> str:
        """Start the clock (the first time), pause it, or resume it."""
        clock, wall = self._clock()
        if not clock.started:
            action = "start"
        else:
            action = "pause" if clock.running(wall) else "resume"
        self._write("exercise.clock", {"action": action})
        return {"start": "Clock started", "pause": "Clock paused",
                "resume": "Clock resumed"}[action]

    def set_speed(self, speed: float) -> str:
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise ExerciseError(f"the speed must be from {MIN_SPEED:g}x to {MAX_SPEED:g}x")
        self._clock()
        self._write("exercise.clock", {"action": "speed", "speed": float(speed)})
        return f"Speed {speed:g}x"

    def step_speed(self, up: bool) -> str:
        clock, wall = self._clock()
        return self.set_speed(clock.next_speed(clock.speed(wall), up))

    def jump_next(self) -> str:
        clock, wall = self._clock()
        tl = self.session.timeline()
        nxt = tl.next_inject(clock.offset_at(wall))
        if nxt is None or nxt.at is None:
            raise ExerciseError("No scheduled inject left to jump to.")
        self._write("exercise.clock", {"action": "jump", "to": float(nxt.at)})
        return f"Jumped to T+{format_clock(nxt.at)}"

    def fire_spare(self, inject_id: str) -> str:
        self._clock()
        tl = self.session.timeline()
        if inject_id not in {s.id for s in tl.scenario.spares}:
            raise ExerciseError(f"no spare inject {inject_id!r} in this scenario")
        if inject_id in tl.fired_spares():
            raise ExerciseError(f"the spare inject {inject_id!r} was already fired")
        self._write("exercise.inject", {"spare": inject_id})
        return f"Inject {inject_id} fired"

    def fire_text(self, synopsis: str, audience: str = "all") -> str:
        self._clock()
        self.session.act("exercise.inject", {"synopsis": synopsis, "audience": audience},
                         lambda: self.session.store.fire(self.session.exercise_id,
                                                         synopsis=synopsis, audience=audience))
        return "Inject fired"

    def mark(self, outcome_id: str, mark: str, comment: str) -> str:
        if outcome_id not in {o.id for o in self.session.scenario.outcomes}:
            raise ExerciseError(f"no expected outcome {outcome_id!r} in this scenario")
        self.session.act("exercise.mark", {"outcome": outcome_id, "mark": mark},
                         lambda: self.session.store.mark(self.session.exercise_id, outcome_id,
                                                         mark, comment))
        return f"{outcome_id}: marked {mark}"

    def end(self, comment: str) -> str:
        self._clock()
        self._write("exercise.clock", {"action": "end", "comment": comment.strip()[:2000]})
        return "Exercise ended"
