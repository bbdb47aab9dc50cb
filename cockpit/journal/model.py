"""Shared vocabulary of the journal: entries, errors, incident ids and layout."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

# The kind of the entry that stands for a hash-valid record which is not well-formed
# (``validate``): no writer can produce it, a written kind starts with a letter or digit.
UNREADABLE = "?unreadable"

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


class JournalError(Exception):
    """Base class of journal errors that are not OS errors."""


class InvalidIncidentId(JournalError, ValueError):
    pass


class JournalWriteError(OSError):
    """An entry could not be saved. Nothing was acknowledged; the journal is now failed."""


def check_incident_id(incident_id: object) -> str:
    if (
        not isinstance(incident_id, str)
        or not _SLUG.match(incident_id)
        or ".." in incident_id
    ):
        raise InvalidIncidentId(
            f"invalid incident id {incident_id!r}: use letters, digits, '.', '_' and '-' "
            "(no '/', no '..', at most 128 characters)"
        )
    return incident_id


def incidents_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "incidents"


def incident_dir(state_dir: Path, incident_id: str) -> Path:
    return incidents_dir(state_dir) / check_incident_id(incident_id)


def journal_dir(state_dir: Path, incident_id: str) -> Path:
    return incident_dir(state_dir, incident_id) / "journal"


def is_journal_file(name: str) -> bool:
    return name.startswith("w-") and name.endswith(".toml")


class Entry(NamedTuple):
    """One journal entry (immutable; a tuple, so 100,000 of them load fast)."""

    writer: str
    seq: int
    ts: float
    author: str
    kind: str
    data: dict[str, Any]
    hash: str
    retry_of: str | None = None
    # False for records after damage in their file (shown, but not proven by the chain).
    verified: bool = True

    @property
    def id(self) -> str:
        return f"{self.writer}:{self.seq}"

    def as_json(self) -> dict[str, Any]:
        if self.kind == UNREADABLE:  # the record's own fields, and why it is unreadable
            raw = self.data.get("record") or {}
            u: dict[str, Any] = {"id": self.id, "writer": self.writer, "seq": self.seq, "ts": self.ts,
                 **{k: raw[k] for k in ("kind", "author", "data") if k in raw},
                 "hash": self.hash, "unreadable": self.data.get("reason", "")}
            if "ts" in raw and raw["ts"] != self.ts:
                u["record_ts"] = raw["ts"]
            if not self.verified:
                u["verified"] = False
            return u
        d: dict[str, Any] = {
            "id": self.id, "writer": self.writer, "seq": self.seq, "ts": self.ts,
            "author": self.author, "kind": self.kind, "data": self.data, "hash": self.hash,
        }
        if self.retry_of:
            d["retry_of"] = self.retry_of
        if not self.verified:
            d["verified"] = False
        return d


@dataclass(frozen=True, slots=True)
class Unsaved:
    """An entry the journal failed to save (kept in memory, re-appended by reopen())."""

    kind: str
    data: dict[str, Any]
    ts: float
    author: str
    retry_of: str | None = None  # id it may partially exist under in the failed file
    error: str = ""


@dataclass
class ReadResult:
    entries: list[Entry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # live writers with a record in flight
    recovered: list[str] = field(default_factory=list)  # torn tails moved to quarantine/
    # shared mode: files whose entries are not proven to be by who they say (authorship)
    authorship: list[str] = field(default_factory=list)
