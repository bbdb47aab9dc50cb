"""A read-only observer over any session: the browser view (``cockpit serve``) and
``cockpit observe``.

The observer follows what the wrapped session shows (health, clocks, the log, the exercise
clock) and refuses, at the session, everything that would write: declare, status, roles,
notes, updates, following another incident, retrying the journal, and every runbook action.
The UI also hides those keys (``Capabilities.declare``/``execute`` are False), but a key that
slipped through still changes nothing: the refusal is here, not in the key table.

The wrapped session must not write by itself either: a ``LiveSession`` is made with
``observer=True`` (it then never journals health changes), an exercise is followed as a
player without a facilitator's controls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ..incident.store import IncidentError
from ..runbooks import Runbook, Step
from ..runbooks.state import StepState
from .protocol import (
    Banner,
    BannerLevel,
    Capabilities,
    IncidentChoice,
    RunbookLibrary,
    Session,
    StepOutput,
    StepResult,
    View,
)

READ_ONLY = "READ-ONLY"


class ReadOnlyError(IncidentError):
    """A write refused by a read-only observer (shown as a warning, one line)."""


def refusal(what: str) -> ReadOnlyError:
    return ReadOnlyError(f"{READ_ONLY} view: {what} is not possible here; nothing was written.")


class ReadOnlyRunbooks:
    """The navigator's reading calls pass through; every action is refused."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def library(self) -> RunbookLibrary:
        return self._inner.library()

    def param_values(self, runbook: Runbook, given: Mapping[str, Any] | None) -> dict[str, Any]:
        return self._inner.param_values(runbook, given)

    def states(self, runbook_id: str) -> dict[tuple[str, str], StepState]:
        return self._inner.states(runbook_id)

    def redact(self, text: str) -> str:
        return self._inner.redact(text)

    def output(self, state: StepState) -> StepOutput | None:
        return self._inner.output(state)

    def execute(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
                confirmation: str | None, state: StepState) -> StepResult:
        raise refusal("executing a step")

    def dry_run(self, runbook: Runbook, step: Step, params: Mapping[str, Any]) -> StepResult:
        raise refusal("a dry run")

    def rollback(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
                 confirmation: str | None) -> StepResult:
        raise refusal("rolling a step back")

    def verify(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
               state: StepState) -> StepResult:
        raise refusal("verifying a step")

    def confirm(self, runbook: Runbook, step: Step, state: StepState) -> StepResult:
        raise refusal("confirming a step")

    def skip(self, step: Step, state: StepState, reason: str) -> StepResult:
        raise refusal("skipping a step")

    def mark_failed(self, step: Step, state: StepState, reason: str) -> StepResult:
        raise refusal("marking a step failed")

    def override(self, step: Step, state: StepState, reason: str) -> StepResult:
        raise refusal("overriding a verify")

    def retry(self, step: Step, state: StepState, reason: str) -> StepResult:
        raise refusal("retrying a step")


# What the UI could reach on a wrapped session that writes: never passed through.
_WRITES = frozenset({"act", "journal", "store", "declare", "set_status", "assign", "note",
                     "update", "follow", "retry_journal", "scheduler"})


class ObserverSession:
    """``inner`` shown read-only; ``what`` names it for the banner and the title
    (``INCIDENT 20260101-...``, ``EXERCISE ...``). Other attributes of the wrapped session
    (an exercise's timeline, its clock) are read through, except the writing ones."""

    def __init__(self, inner: Session, what: str) -> None:
        self._inner = inner
        self.what = what
        self.kind = inner.kind
        self.name = f"{READ_ONLY} · {what} · {inner.name}"
        self.clock = inner.clock
        self.milestones = inner.milestones
        self.services = inner.services
        self.priorities = inner.priorities
        self.author = inner.author
        self.runbooks = ReadOnlyRunbooks(inner.runbooks)

    def __getattr__(self, name: str) -> Any:
        if name in _WRITES or name.startswith("_"):
            raise AttributeError(f"{name!r}: not available in a {READ_ONLY} view")
        return getattr(self._inner, name)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(declare=False, follow=False, execute=False,
                            why_not_execute=f"{READ_ONLY} view: nothing runs from here.")

    def banner(self) -> Banner:
        return Banner("read-only", BannerLevel.INFO,
                      f"{READ_ONLY} VIEW of {self.what}: it follows the record as it is "
                      "written; nothing can be declared, noted or run from here.")

    def view(self) -> View:
        v = self._inner.view()
        return View(**{**v.__dict__, "banners": (self.banner(), *v.banners)})

    def run(self, changed: Callable[[], None]) -> Awaitable[None]:
        return self._inner.run(changed)

    def stop(self) -> None:
        self._inner.stop()

    # ---- every operator action is refused
    def declare(self, title: str, severity: str, services: Sequence[str],
                impact_start: float | None) -> None:
        raise refusal("declaring an incident")

    def set_status(self, status: str) -> None:
        raise refusal("changing the status")

    def assign(self, role: str, person: str) -> None:
        raise refusal("assigning a role")

    def note(self, type: str, text: str) -> None:
        raise refusal("adding a note")

    def update(self, *, services: Sequence[str] | None = None, severity: str | None = None,
               title: str | None = None) -> None:
        raise refusal("changing the incident")

    def incidents(self) -> list[IncidentChoice]:
        return []

    def follow(self, incident_id: str | None) -> None:
        raise refusal("following another incident")

    def retry_journal(self) -> str:
        return f"{READ_ONLY} view: this view writes nothing."


__all__ = ["READ_ONLY", "ObserverSession", "ReadOnlyError", "ReadOnlyRunbooks"]
