"""The seam between the core and any UI: one typed protocol, ``Session``.

Everything a screen reads or does goes through it: the health of every service, the log
entries of the followed incident, the incident's state and clocks, status banners (what is
wrong with the cockpit itself, in words), the operator's actions and the runbook steps. The
UI never reaches past it, never probes an implementation for optional members, and never
stores state the session owns (the incident fold, health journaling).

Implementations: ``live.LiveSession`` (the configured environment: probes and the journal),
``demo.DemoSession`` (a scenario played against a simulated clock) and
``exercise.ExerciseSession`` (a tabletop exercise: a scenario on a journaled facilitator
clock, players' entries in a journal of its own). The offline review and drills are further
implementations of the same protocol.

Threads: ``view()`` and ``capabilities`` are read on the UI thread and never block (no I/O
beyond what is already in memory). Actions (``declare``, ``note``, the ``runbooks`` calls
...) may block on a journal ``fdatasync`` or a file lock: the UI calls them in a worker
thread. ``run()`` is the session's background work, awaited in a UI worker; it calls
``changed`` (from any thread) when something shown may have changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from ..drills.board import DrillBoard
from ..health import ServiceHealth
from ..incident.clocks import ClockView, ServiceTargets
from ..incident.model import EntryLike, IncidentState
from ..plan import Milestones
from ..runbooks import Library, Runbook, Step
from ..runbooks.state import StepState
from ..timeutil import Clock


class SessionKind(StrEnum):
    LIVE = "live"
    DEMO = "demo"
    EXERCISE = "exercise"  # a tabletop exercise: scenario health, rehearsed steps, own journal
    REVIEW = "review"  # a recorded incident replayed read-only (cockpit review)


class BannerLevel(StrEnum):
    ERROR = "error"  # something the engineer relies on does not work (red)
    WARNING = "warning"  # what is shown may be incomplete or old (yellow)
    INFO = "info"  # a state worth knowing (e.g. recovered from a failure)


@dataclass(frozen=True)
class Banner:
    """One thing wrong with (or worth knowing about) the cockpit itself, in words: what
    happened and what the engineer can do. ``key`` is stable per cause."""

    key: str
    level: BannerLevel
    text: str


@dataclass(frozen=True)
class Notice:
    """Something to announce once (a notification, and the bell when ``bell``): a new
    incident, a note by someone else, a service turning DOWN. ``seq`` grows: the UI shows
    each notice whose ``seq`` it has not shown yet."""

    seq: int
    text: str
    level: str = "warning"  # "information" | "warning" | "error"
    bell: bool = True


@dataclass(frozen=True)
class Capabilities:
    """What the session allows (the UI hides or refuses the rest, and says why)."""

    declare: bool = True  # declare incidents, notes, status, roles, updates
    follow: bool = True  # choose among several incidents (``incidents()``)
    execute: bool = False  # run runbook commands for real
    why_not_execute: str = ""  # said when a step is executed where nothing can run


@dataclass(frozen=True)
class View:
    """Everything the main screen shows, at the session's ``now``."""

    now: float
    health: Sequence[ServiceHealth]
    entries: Sequence[EntryLike]
    pending: Sequence[EntryLike]  # written, not yet acknowledged by the journal
    unsaved: Sequence[EntryLike]  # refused by the journal (kept in memory, retried)
    incident: IncidentState | None
    incident_id: str | None
    clocks: Sequence[ClockView]
    loading: bool  # a big incident's first read: newest entries shown, no state yet
    banners: tuple[Banner, ...] = ()
    paused: bool = False  # the session's clock is frozen (demo, exercise)
    open_incidents: int | None = None  # incidents not closed (None: the session has one)
    notices: tuple[Notice, ...] = ()  # the latest announcements (see ``Notice``)
    # journal sync across bastions ([sync]): "sync: 3 entries waiting, last sync 4m ago";
    # empty when the session does not sync
    sync: str = ""


@dataclass(frozen=True)
class IncidentChoice:
    """One incident of the state directory, for the picker."""

    id: str
    state: IncidentState


@dataclass(frozen=True)
class StepOutput:
    """The tail of a run's saved output, for the step view."""

    path: str  # relative to the incident directory
    size: int
    sha256: str
    tail: str  # sanitized text (escape sequences removed, controls visible)


@dataclass(frozen=True)
class RunbookLibrary:
    library: Library
    problems: Sequence[str] = ()  # one line per problem of a runbook file
    # service id -> runbook ids, in the order cockpit.toml lists them (ranking, coverage)
    links: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepResult:
    """What a runbook action did, for the engineer: ``message`` (shown), ``warning`` when
    nothing happened (claimed by someone else, refused), ``dry_run`` the exact command
    shown without running it."""

    message: str = ""
    warning: bool = False
    dry_run: Any = None  # launch.DryRun


class Runbooks(Protocol):
    """The runbook navigator's view of the session: the library, step states, and every
    step action. Blocking calls: run them off the UI thread."""

    def library(self) -> RunbookLibrary: ...

    def param_values(self, runbook: Runbook, given: Mapping[str, Any] | None) -> dict[str, Any]:
        ...

    def states(self, runbook_id: str) -> dict[tuple[str, str], StepState]: ...

    def redact(self, text: str) -> str:
        """``text`` with every secret the session holds masked (a command shown before it
        runs may carry a value drawn from the configuration)."""
        ...

    def output(self, state: StepState) -> StepOutput | None:
        """The saved output of ``state.output`` (or of its run). The navigator shows a
        verify's output by passing the state with ``output=state.verify_output``."""
        ...

    def execute(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
                confirmation: str | None, state: StepState) -> StepResult: ...

    def dry_run(self, runbook: Runbook, step: Step, params: Mapping[str, Any]) -> StepResult: ...

    def rollback(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
                 confirmation: str | None) -> StepResult: ...

    def verify(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
               state: StepState) -> StepResult: ...

    def confirm(self, runbook: Runbook, step: Step, state: StepState) -> StepResult: ...

    def skip(self, step: Step, state: StepState, reason: str) -> StepResult: ...

    def mark_failed(self, step: Step, state: StepState, reason: str) -> StepResult: ...

    def override(self, step: Step, state: StepState, reason: str) -> StepResult: ...

    def retry(self, step: Step, state: StepState, reason: str) -> StepResult: ...


@runtime_checkable
class Session(Protocol):
    """The one seam between the core and a UI (see the module docstring)."""

    kind: SessionKind
    name: str
    clock: Clock
    milestones: Milestones
    services: Sequence[ServiceTargets]
    priorities: Mapping[str, str]
    author: str
    runbooks: Runbooks

    @property
    def capabilities(self) -> Capabilities: ...

    def view(self) -> View: ...

    def run(self, changed: Callable[[], None]) -> Awaitable[None]:
        """Background work until ``stop()``; ``changed`` may be called from any thread.
        An exception ends it: the UI shows it, the session is then no longer refreshed."""
        ...

    def stop(self) -> None: ...

    # ---- operator actions (blocking: call them off the UI thread)
    def declare(self, title: str, severity: str, services: Sequence[str],
                impact_start: float | None) -> None: ...

    def set_status(self, status: str) -> None: ...

    def assign(self, role: str, person: str) -> None: ...

    def note(self, type: str, text: str) -> None: ...

    def update(self, *, services: Sequence[str] | None = None, severity: str | None = None,
               title: str | None = None) -> None: ...

    def incidents(self) -> list[IncidentChoice]: ...

    def follow(self, incident_id: str | None) -> None: ...

    def retry_journal(self) -> str:
        """Try to write again after a journal failure; a one-line outcome."""
        ...

    def drills(self) -> DrillBoard:
        """The DR testing schedule: each drill's last run, result, next due, and the drills'
        metrics (blocking: reads the drill journals; call it off the UI thread)."""
        ...


__all__ = [
    "Banner", "BannerLevel", "Capabilities", "DrillBoard", "IncidentChoice", "Notice", "Runbooks",
    "RunbookLibrary",
    "Session", "SessionKind", "StepOutput", "StepResult", "View",
]
