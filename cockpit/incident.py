"""The incident as derived from its log entries (a pure fold; no I/O).

Entries are anything with ``ts``, ``author``, ``kind`` and ``data`` (journal entries,
or the demo/exercise engine's simulated entries). Kinds:

- ``incident.declared``  data: title, severity, services (list), impact_start (epoch, optional)
- ``incident.status``    data: status (responding|mitigated|recovered|closed)
- ``role.assigned``      data: role, person
- ``note``               data: type (observation|decision|action|communication), text
- ``health``             data: service, status, summary (automatic)
- ``step.*``             runbook step transitions (see the runbook engine)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

LIFECYCLE = ("declared", "responding", "mitigated", "recovered", "closed")
NOTE_TYPES = ("observation", "decision", "action", "communication")
ROLES = ("commander", "communications", "scribe")


class EntryLike(Protocol):
    ts: float
    author: str
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class SimEntry:
    """A log entry that is not (yet) in a journal: demo and exercise injects."""

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

    def recovered_service_at(self, service: str) -> float | None:
        """When ``service`` came back (its last journaled health is OK), else None."""
        for sid, status, since in self.service_health:
            if sid == service:
                return since if status == "ok" else None
        return None


def fold(entries: Iterable[EntryLike], initial: IncidentState | None = None) -> IncidentState | None:
    """The incident's current state from its entries, in order; None before a declaration.

    ``initial`` continues a previous fold (entries appended since)."""
    inc: IncidentState | None = initial
    for e in entries:
        d = e.data or {}
        if e.kind == "incident.declared":
            impact = d.get("impact_start")
            inc = IncidentState(
                title=str(d.get("title", "")), severity=str(d.get("severity", "P1")),
                services=tuple(d.get("services") or ()), status="declared",
                declared_at=e.ts, impact_start=float(impact) if impact is not None else None,
            )
            continue
        if inc is None:
            continue
        if e.kind == "incident.status":
            st = str(d.get("status", ""))
            changes: dict[str, Any] = {"status": st}
            stamp = {"responding": "responding_at", "mitigated": "mitigated_at",
                     "recovered": "recovered_at", "closed": "closed_at"}.get(st)
            if stamp and getattr(inc, stamp) is None:
                changes[stamp] = e.ts
            inc = replace(inc, **changes)
        elif e.kind == "incident.updated":
            changes = {}
            if "severity" in d:
                changes["severity"] = str(d["severity"])
            if "services" in d:
                changes["services"] = tuple(d["services"])
            if "title" in d:
                changes["title"] = str(d["title"])
            inc = replace(inc, **changes)
        elif e.kind == "health":
            sid, st = str(d.get("service", "")), str(d.get("status", ""))
            prev = {x[0]: x for x in inc.service_health}
            if sid not in prev or prev[sid][1] != st:
                prev[sid] = (sid, st, e.ts)
                inc = replace(inc, service_health=tuple(sorted(prev.values())))
        elif e.kind == "role.assigned":
            roles = dict(inc.roles)
            roles[str(d.get("role"))] = str(d.get("person"))
            inc = replace(inc, roles=tuple(sorted(roles.items())))
        elif e.kind == "note" and d.get("type") == "communication":
            inc = replace(inc, first_communication_at=inc.first_communication_at or e.ts,
                          last_communication_at=e.ts)
        if inc.responding_at is None and (
            e.kind.startswith("step.") or (e.kind == "note" and d.get("type") == "action")
        ):
            inc = replace(inc, responding_at=e.ts)
    return inc


def describe(e: EntryLike) -> tuple[str, str]:
    """A short label and a one-line description of an entry (untrusted: sanitize to show)."""
    d = e.data or {}
    k = e.kind
    if k == "note":
        return str(d.get("type", "note")), str(d.get("text", ""))
    if k == "incident.declared":
        services = ", ".join(str(s) for s in d.get("services") or [])
        return "declared", f"{d.get('severity', '')} {d.get('title', '')} [{services}]"
    if k == "incident.status":
        return "status", f"incident is now {d.get('status', '?')}"
    if k == "incident.updated":
        parts = []
        for a, b in d.items():
            parts.append(f"{a}: {', '.join(map(str, b))}" if isinstance(b, list) else f"{a}: {b}")
        return "updated", "; ".join(parts)
    if k == "role.assigned":
        text = f"{d.get('person', '?')} is now {d.get('role', '?')}"
        if d.get("handover_from"):
            text += f" (handed over from {d['handover_from']})"
        return "role", text
    if k == "health":
        return "health", f"{d.get('service', '?')} {str(d.get('status', '?')).upper()} {d.get('summary', '')}"
    if k.startswith("step."):
        return k[5:], f"{d.get('runbook', '')}/{d.get('step', '')} {d.get('detail', '')}".strip()
    return k, ", ".join(f"{a}={b}" for a, b in d.items())


class Folder:
    """``fold`` kept up to date as entries are appended: only new entries are folded."""

    def __init__(self) -> None:
        self._seen: Sequence[EntryLike] | None = None
        self._count = 0
        self._last: object = None
        self.state: IncidentState | None = None

    def update(self, entries: Sequence[EntryLike]) -> IncidentState | None:
        n = len(entries)
        same = (self._seen is entries and n >= self._count
                and (self._count == 0 or entries[self._count - 1] is self._last))
        if same:
            if n > self._count:
                self.state = fold(entries[self._count:], self.state)
        else:
            self.state = fold(entries)
        self._seen, self._count = entries, n
        self._last = entries[n - 1] if n else None
        return self.state


def matches(e: EntryLike, kinds: frozenset[str] | None = None, author: str | None = None,
            text: str | None = None) -> bool:
    """The log view's filter: entry kind label, author, and a case-insensitive search."""
    label, body = describe(e)
    if kinds and label not in kinds:
        return False
    if author and e.author != author:
        return False
    if text:
        t = text.casefold()
        return t in body.casefold() or t in e.author.casefold() or t in label.casefold()
    return True
