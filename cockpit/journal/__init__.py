"""The incident journal: crash-safe, multi-writer, tamper-evident local TOML state.

Layout under ``state_dir``::

    incidents/<incident-id>/
        journal/w-<host>-<pid>-<rand>.toml   one append-only file per writer process
        outputs/                              large payloads, referenced by size + sha256
        quarantine/<file>.<offset>.tail       torn tails cut off by recovery (byte-exact)
        snapshot.toml                         derived cache (write_snapshot: atomic)

API (others build on these names)::

    j = Journal(state_dir, incident_id, mode="personal"|"shared", author=None, clock=None)
    e = j.append(kind, data)          # returns after one os.write + fdatasync: acknowledged
    await j.append_async(kind, data)  # same, on the journal's own writer thread (FIFO)
    j.failed / j.writable / j.error / j.unsaved / j.reopen() / j.close()
    read_incident(state_dir, incident_id) -> ReadResult(entries, problems, pending, recovered)
    list_incidents(state_dir); verify_incident(state_dir, incident_id) -> VerifyResult
    Follower(state_dir, incident_id).poll() / async for batch in follower.watch(): ...
    write_snapshot(path, data) / read_snapshot(path)

Decisions:

* Each ``Journal`` creates a new file ``journal/w-<host>-<pid>-<rand>.toml`` (O_EXCL,
  O_APPEND, O_NOFOLLOW), holds its ``flock`` for life and writes a ``session-start``
  entry (seq 1: user, uid, host, pid, boot id, monotonic clock, app version). User
  entries therefore start at seq 2.
* Recovery happens in ``read_incident`` (default ``recover=True``) and when a
  ``Journal`` opens (which then journals a ``recovered`` entry per cut tail). Only
  files whose ``flock`` is free (writer dead) are touched, and only an unfinished last
  record or NUL bytes are cut, after a byte-exact copy to ``quarantine/``. A live
  writer's unfinished record is *pending*, never corruption. ``verify_incident`` and
  the CLI are read-only.
* A write failure (short write, ENOSPC, EFBIG, EIO from fdatasync) fails the journal
  closed: ``failed`` is True, ``writable`` False, ``error`` says why, further appends
  raise ``JournalWriteError`` and join ``unsaved``. ``reopen()`` opens a new segment
  and re-appends the unsaved entries with ``retry_of`` (readers drop the retry when
  the original survived, so nothing is doubled). fsync is never retried on a file.
* Readers use rtoml when installed (identical results, tested) and fall back to
  the stdlib ``tomllib``; any record that does not pass the fast path is re-read
  record by record with ``tomllib`` to name the first bad record.

The core never imports Textual.
"""

from __future__ import annotations

from .model import (
    Entry,
    InvalidIncidentId,
    JournalError,
    JournalWriteError,
    ReadResult,
    Unsaved,
    check_incident_id,
    incident_dir,
    journal_dir,
)
from .perms import UnsafeStateDir
from .reader import list_incidents, read_incident, recover
from .snapshot import read_snapshot, write_snapshot
from .verify import BadRecord, VerifyResult, verify_incident
from .watch import Follower
from .writer import Journal, default_author

__all__ = [
    "BadRecord",
    "Entry",
    "Follower",
    "InvalidIncidentId",
    "Journal",
    "JournalError",
    "JournalWriteError",
    "ReadResult",
    "UnsafeStateDir",
    "Unsaved",
    "VerifyResult",
    "check_incident_id",
    "default_author",
    "incident_dir",
    "journal_dir",
    "list_incidents",
    "read_incident",
    "read_snapshot",
    "recover",
    "verify_incident",
    "write_snapshot",
]
