"""An incident as the cockpit knows it: its vocabulary and its state.

Entries are anything with ``ts``, ``author``, ``kind`` and ``data`` (journal entries, or the
demo/exercise engine's simulated entries). Kinds:

- ``incident.declared``  data: title, severity, services (list), impact_start (epoch, optional)
- ``incident.status``    data: status (responding|mitigated|recovered|closed)
- ``incident.updated``   data: severity, services, title (any of them)
- ``role.assigned``      data: role, person, handover_from (optional)
- ``note``               data: type (observation|decision|action|communication), text
- ``health``             data: service, status, summary (automatic)
- ``step.*``             runbook step transitions (``cockpit.runbooks.state``)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from ..plan import SEVERITIES


class Lifecycle(StrEnum):
    DECLARED = "declared"
    RESPONDING = "responding"
    MITIGATED = "mitigated"
    RECOVERED = "recovered"
    CLOSED = "closed"


class NoteType(StrEnum):
    OBSERVATION = "observation"
    DECISION = "decision"
    ACTION = "action"
    COMMUNICATION = "communication"


class Role(StrEnum):
    COMMANDER = "commander"
    COMMUNICATIONS = "communications"
    SCRIBE = "scribe"


LIFECYCLE: tuple[str, ...] = tuple(s.value for s in Lifecycle)
NOTE_TYPES: tuple[str, ...] = tuple(t.value for t in NoteType)
ROLES: tuple[str, ...] = tuple(r.value for r in Role)

__all_vocab__ = (LIFECYCLE, NOTE_TYPES, ROLES, SEVERITIES)


class EntryLike(Protocol):
    @property
    def ts(self) -> float: ...

    @property
    def author(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SimEntry:
    """A log entry that is not (yet) in a journal: demo and exercise injects, pending
    operator actions."""

    ts: float
    author: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = ""


@dataclass(frozen=True)
class IncidentState:
    title: str = ""
    severity: str = "P1"
    services: tuple[str, ...] = ()
    status: str = "declared"
    declared_at: float | None = None
    impact_start: float | None = None
    responding_at: float | None = None
    first_communication_at: float | None = None
    last_communication_at: float | None = None
    mitigated_at: float | None = None
    recovered_at: float | None = None
    closed_at: float | None = None
    roles: tuple[tuple[str, str], ...] = ()
    # the last journaled health of each service: (service, status, since)
    service_health: tuple[tuple[str, str, float], ...] = ()
    # services journaled failing (fail or warn) at some point of the incident
    failed_services: tuple[str, ...] = ()
    reopened_at: float | None = None  # the last time the lifecycle moved back

    @property
    def active(self) -> bool:
        return self.declared_at is not None and self.status not in ("recovered", "closed")

    @property
    def start(self) -> float | None:
        """The anchor for RTO clocks: the earlier of impact start and declaration."""
        cands = [t for t in (self.impact_start, self.declared_at) if t is not None]
        return min(cands) if cands else None

    def role(self, name: str) -> str | None:
        return dict(self.roles).get(name)

    @property
    def ended_at(self) -> float | None:
        """When the incident stopped its clocks: recovered, else closed (None while open)."""
        return self.recovered_at if self.recovered_at is not None else self.closed_at

    def service_status(self, service: str) -> str | None:
        """The last journaled health status of ``service`` (None: never journaled)."""
        for sid, status, _since in self.service_health:
            if sid == service:
                return status
        return None

    def recovered_service_at(self, service: str) -> float | None:
        """When ``service`` came back (its last journaled health is OK), else None."""
        for sid, status, since in self.service_health:
            if sid == service:
                return since if status == "ok" else None
        return None
