"""Incidents kept in the journal: declare, change status, assign roles, write notes.

Every change is one journal entry (``cockpit.incident`` documents the kinds); the
incident's state is always ``incident.fold`` of its entries, never stored apart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..journal import Entry, Journal, list_incidents, read_incident
from ..journal.validate import MAX_NAME
from ..plan import SEVERITIES
from ..timeutil import Clock, SystemClock
from .fold import fold
from .model import LIFECYCLE, NOTE_TYPES, ROLES, IncidentState


class IncidentError(ValueError):
    """A refused incident operation, with a one-line reason."""


class NoSuchIncident(IncidentError):
    """The incident id names no incident of the state directory (exit 1 in the CLI, like
    `cockpit log` and `cockpit verify`; said in the same words everywhere, POLISH 11)."""


def slug(text: str, limit: int = 32) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (s[:limit].rstrip("-")) or "incident"


def new_incident_id(title: str, now: float) -> str:
    """``20261128-071538-primary-db-down-3fa2``: sorts by declaration time; the random tail
    keeps two engineers declaring the same thing in the same second apart."""
    import secrets

    return (time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + slug(title)
            + "-" + secrets.token_hex(2))


class SkipNeedsConfirmation(IncidentError):
    """A lifecycle change that skips states, not confirmed."""


def skipped_states(current: str, new: str) -> tuple[str, ...]:
    """The states a forward move from ``current`` to ``new`` jumps over (none: the next)."""
    if current not in LIFECYCLE or new not in LIFECYCLE:
        return ()
    return LIFECYCLE[LIFECYCLE.index(current) + 1:LIFECYCLE.index(new)]


def is_reopen(current: str, new: str) -> bool:
    """Moving back in the lifecycle (closed -> responding...): a reopening."""
    return (current in LIFECYCLE and new in LIFECYCLE
            and LIFECYCLE.index(new) < LIFECYCLE.index(current))


def check_transition(current: str, new: str, *, skip_ok: bool = True,
                     reopen: bool = False) -> None:
    """Refuse a lifecycle change that is not allowed: an unknown status, the same one, a
    move back unless ``reopen``, a move that skips states unless ``skip_ok`` (the caller
    confirmed it)."""
    if new not in LIFECYCLE[1:]:
        raise IncidentError(f"unknown status {new!r} (one of: {', '.join(LIFECYCLE[1:])})")
    if new == current:
        raise IncidentError(f"the incident is already {current}")
    if is_reopen(current, new):
        if not reopen:
            raise IncidentError(
                f"the incident is already {current}; moving it back to {new} reopens it: "
                f"`cockpit incident reopen ID {new} --reason TEXT`")
        return
    skipped = skipped_states(current, new)
    if skipped and not skip_ok:
        raise SkipNeedsConfirmation(
            f"{current} -> {new} skips {', '.join(skipped)}: confirm with --skip (the clocks "
            f"stop as if it had passed through them)")


@dataclass(frozen=True)
class IncidentSummary:
    id: str
    state: IncidentState


def is_open(state: IncidentState) -> bool:
    """Open: declared and not closed (a recovered incident is still open until closed)."""
    return state.declared_at is not None and state.status != "closed"


def to_follow(incidents: Sequence[IncidentSummary]) -> str | None:
    """The incident a cockpit follows when none was chosen: the most severe open one (P0
    first), the newest of equal severity; a closed incident never by default."""
    open_ = [s for s in incidents if is_open(s.state)]
    if not open_:
        return None
    rank = {sev: i for i, sev in enumerate(SEVERITIES)}
    # newest first (ids begin with their UTC declaration time); min keeps the first of the
    # most severe
    newest_first = sorted(open_, key=lambda s: s.id, reverse=True)
    return min(newest_first, key=lambda s: rank.get(s.state.severity, len(rank))).id


def _signature(path: Path) -> tuple[tuple[str, int, int], ...]:
    """What changed in a journal directory: each file's name, size and mtime."""
    import os

    try:
        with os.scandir(path) as it:
            return tuple(sorted((e.name, st.st_size, st.st_mtime_ns) for e in it
                                if (st := e.stat(follow_symlinks=False)) is not None))
    except OSError:
        return ()


class IncidentIndex:
    """Every incident of a state directory kept up to date cheaply, for a running cockpit:
    ``refresh`` lists the incidents and re-reads a journal only when one of its files
    changed (size or mtime). ``known``: states the caller already folded (the followed
    incident), used instead of reading it again."""

    def __init__(self, store: IncidentStore) -> None:
        self.store = store
        self._known: dict[str, tuple[tuple, IncidentState | None]] = {}
        self._declared: set[str] = set()

    def refresh(self, known: dict[str, IncidentState] | None = None,
                skip: frozenset[str] = frozenset()
                ) -> tuple[list[IncidentSummary], list[IncidentSummary]]:
        """(every incident newest first, the ones whose declaration appeared since the last
        call: on the first call, all of them). ``skip``: not read now (being loaded)."""
        from ..journal.model import journal_dir

        known = known or {}
        ids = self.store.ids()
        fresh: list[IncidentSummary] = []
        for iid in ids:
            if iid in skip and iid not in known:
                self._known.setdefault(iid, ((), None))
            elif iid in known:
                self._known[iid] = ((), known[iid])
            else:
                sig = _signature(journal_dir(self.store.state_dir, iid))
                old = self._known.get(iid)
                if old is None or old[0] != sig or not sig:
                    try:
                        st = self.store.state(iid)
                    except (OSError, ValueError):
                        st = old[1] if old is not None else None
                    self._known[iid] = (sig, st)
            st = self._known[iid][1]
            if st is not None and iid not in self._declared:
                self._declared.add(iid)
                fresh.append(IncidentSummary(iid, st))
        for gone in set(self._known) - set(ids):
            del self._known[gone]
        out = [IncidentSummary(iid, st) for iid, (_sig, st) in self._known.items()
               if st is not None]
        out.sort(key=lambda s: s.state.declared_at or 0, reverse=True)
        return out, fresh


class IncidentStore:
    """All incidents under one state directory, for one process (one writer file each)."""

    def __init__(self, state_dir: Path, *, mode: str = "personal", clock: Clock | None = None,
                 author: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.mode = mode
        self.clock = clock or SystemClock()
        self.author = author
        self._journals: dict[str, Journal] = {}

    # ------------------------------------------------------------------ reading
    def ids(self) -> list[str]:
        return list_incidents(self.state_dir)

    def entries(self, incident_id: str) -> list[Any]:
        return list(read_incident(self.state_dir, incident_id, recover=False).entries)

    def state(self, incident_id: str) -> IncidentState | None:
        return fold(self.entries(incident_id))

    def list(self) -> list[IncidentSummary]:
        out = []
        for iid in self.ids():
            st = self.state(iid)
            if st is not None:
                out.append(IncidentSummary(iid, st))
        out.sort(key=lambda s: s.state.declared_at or 0, reverse=True)
        return out

    def active(self) -> str | None:
        """The incident followed by default: the most severe open one (see ``to_follow``)."""
        return to_follow(self.list())

    # ------------------------------------------------------------------ writing
    def journal(self, incident_id: str) -> Journal:
        j = self._journals.get(incident_id)
        if j is None:
            j = Journal(self.state_dir, incident_id, mode=self.mode, author=self.author, clock=self.clock)
            self._journals[incident_id] = j
        return j

    def opened_journal(self, incident_id: str) -> Journal | None:
        """This process's writer of the incident, if it opened one (creates nothing)."""
        return self._journals.get(incident_id)

    def declare(self, title: str, severity: str, services: Sequence[str],
                impact_start: float | None = None) -> str:
        title = " ".join(title.split())
        if not title:
            raise IncidentError("an incident needs a title")
        if severity not in SEVERITIES:
            raise IncidentError(f"severity must be one of {', '.join(SEVERITIES)}")
        now = self.clock.now()
        if impact_start is not None and impact_start > now + 60:
            raise IncidentError("the impact start is in the future")
        iid = new_incident_id(title, now)
        data: dict[str, Any] = {"title": title, "severity": severity, "services": list(services)}
        if impact_start is not None:
            data["impact_start"] = float(impact_start)
        self.journal(iid).append("incident.declared", data)
        return iid

    def _state_or_fail(self, incident_id: str, known: IncidentState | None = None
                       ) -> IncidentState:
        """The incident's state: ``known`` (the caller's fold of it) or read from disk."""
        st = known if known is not None else self.state(incident_id)
        if st is None:
            raise NoSuchIncident(f"no such incident: {incident_id} (in {self.state_dir})")
        return st

    def set_status(self, incident_id: str, status: str, *, state: IncidentState | None = None,
                   skip_ok: bool = False, reopen: bool = False, reason: str = "") -> Entry:
        """Move the lifecycle. Skipping states needs ``skip_ok`` (confirmed); moving back
        needs ``reopen`` and is journaled as a reopening (``reopened_from``, ``reason``)."""
        st = self._state_or_fail(incident_id, state)
        check_transition(st.status, status, skip_ok=skip_ok, reopen=reopen)
        data: dict[str, Any] = {"status": status}
        if is_reopen(st.status, status):
            data["reopened_from"] = st.status
            reason = " ".join(reason.split())
            if reason:
                data["reason"] = reason
        return self.journal(incident_id).append("incident.status", data)

    def assign(self, incident_id: str, role: str, person: str, *,
               state: IncidentState | None = None) -> Entry:
        if role not in ROLES:
            raise IncidentError(f"role must be one of {', '.join(ROLES)}")
        person = " ".join(person.split())
        if not person:
            raise IncidentError("who takes the role?")
        if len(person) > MAX_NAME:  # readers refuse longer ones (journal.validate)
            raise IncidentError(f"a name of at most {MAX_NAME} characters")
        st = self._state_or_fail(incident_id, state)
        data = {"role": role, "person": person}
        previous = st.role(role)
        if previous and previous != person:
            data["handover_from"] = previous
        return self.journal(incident_id).append("role.assigned", data)

    def note(self, incident_id: str, text: str, type: str = "observation", *,
             state: IncidentState | None = None) -> Entry:
        if type not in NOTE_TYPES:
            raise IncidentError(f"note type must be one of {', '.join(NOTE_TYPES)}")
        if not text.strip():
            raise IncidentError("an empty note")
        self._state_or_fail(incident_id, state)
        return self.journal(incident_id).append("note", {"type": type, "text": text})

    def update(self, incident_id: str, *, state: IncidentState | None = None,
               **changes: Any) -> Entry:
        self._state_or_fail(incident_id, state)
        if "severity" in changes and changes["severity"] not in SEVERITIES:
            raise IncidentError(f"severity must be one of {', '.join(SEVERITIES)}")
        return self.journal(incident_id).append("incident.updated", changes)

    def close(self) -> None:
        for j in self._journals.values():
            j.close()
        self._journals.clear()
