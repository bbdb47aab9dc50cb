"""Following an incident: new entries from every writer, including other processes.

``poll()`` stats the journal files and reads only the bytes added since the last
call (complete records only; a record still being written waits for the next poll).
``watch()`` calls ``poll()`` on every inotify event (watchfiles) and at least every
``interval`` seconds, so the polling fallback (NFS, no inotify) still works.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from . import validate
from .authorship import owner_problem, shared_dir
from .model import Entry, check_incident_id, is_journal_file, journal_dir
from .reader import merge, scan


@dataclass
class _Cursor:
    offset: int = 0
    line: int = 1
    prev: str | None = None
    seq: int = 0
    ino: int = -1
    damaged: bool = False
    last_ts: float = 0.0
    start: Entry | None = None  # the file's session-start (authorship checks)
    flagged: bool = False  # an authorship problem was reported


class Follower:
    def __init__(self, state_dir: Path, incident_id: str) -> None:
        self.state_dir = Path(state_dir)
        self.incident_id = check_incident_id(incident_id)
        self.dir = journal_dir(self.state_dir, incident_id)
        self._cursors: dict[str, _Cursor] = {}
        self._seen: set[str] = set()
        self.problems: list[str] = []
        # shared mode: files whose entries are not proven to be by who they say
        self.authorship: list[str] = []
        self._shared: bool | None = None
        self._lock = threading.Lock()

    def poll(self) -> list[Entry]:
        """Entries not returned before, merged in (ts, writer, seq) order. Thread-safe (one
        poll at a time); a damaged record stops reading its file and is named in
        ``problems`` (the cockpit shows it)."""
        with self._lock:
            return self._poll()

    def _poll(self) -> list[Entry]:
        try:
            names = sorted(n for n in os.listdir(self.dir) if is_journal_file(n))
        except FileNotFoundError:
            return []
        new: list[Entry] = []
        if self._shared is None:
            self._shared = shared_dir(self.dir)
        for name in names:
            cur = self._cursors.setdefault(name, _Cursor())
            if cur.damaged:
                continue
            path = self.dir / name
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
            except OSError as e:
                self.problems.append(f"{path}:1: cannot open: {e.strerror or e}")
                cur.damaged = True
                continue
            try:
                st = os.fstat(fd)
                if cur.ino not in (-1, st.st_ino) or st.st_size < cur.offset:
                    self.problems.append(
                        f"{path}:{cur.line}: file replaced or shrunk below records already read")
                    cur.damaged = True
                    continue
                cur.ino = st.st_ino
                if st.st_size == cur.offset:
                    continue
                buf = os.pread(fd, st.st_size - cur.offset, cur.offset)
            finally:
                os.close(fd)
            fs = scan(buf, path, self.incident_id, base=cur.offset, line=cur.line,
                      prev=cur.prev, seq=cur.seq, keep_going=False, last_ts=cur.last_ts)
            seen = self._seen
            for entry in fs.entries:
                if entry.verified:
                    eid = f"{entry.writer}:{entry.seq}"  # == entry.id, built once (100,000)
                    if eid not in seen:
                        seen.add(eid)
                        new.append(entry)
            cur.offset, cur.line, cur.prev, cur.seq = fs.valid_end, fs.line, fs.prev, fs.seq
            cur.last_ts = fs.last_ts
            if self._shared and not cur.flagged and fs.entries:
                who = owner_problem(path, st.st_uid, fs.entries, cur.start)
                if cur.start is None:
                    cur.start = fs.entries[0]
                if who:
                    cur.flagged = True
                    self.authorship.append(who)
            if fs.damage is not None:
                self.problems.append(fs.problem() or f"{path}: damaged")
                cur.damaged = True
        out = merge(new)
        if any(e.retry_of for e in out):
            out = [e for e in out if not (e.retry_of and e.retry_of in self._seen)]
        return out

    async def watch(self, *, interval: float = 1.0, force_polling: bool | None = None,
                    stop: asyncio.Event | None = None) -> AsyncIterator[list[Entry]]:
        """Yield batches of new entries as they appear (inotify, polling fallback); an empty
        batch when a new problem was found (``problems``), so the damage is shown at once."""
        if force_polling is None:
            force_polling = os.environ.get("COCKPIT_FORCE_POLLING", "") not in ("", "0")
        stop = stop or asyncio.Event()
        wake = asyncio.Event()
        watcher: asyncio.Task[None] | None = None

        async def inotify() -> None:
            try:
                from watchfiles import awatch
            except ImportError:  # pragma: no cover
                return
            while not stop.is_set():
                if not self.dir.is_dir():
                    await asyncio.sleep(interval)
                    continue
                try:
                    async for _changes in awatch(self.dir, debounce=50, step=20,
                                                 stop_event=stop, rust_timeout=1000,
                                                 yield_on_timeout=False):
                        wake.set()
                except Exception:  # noqa: BLE001 - fall back to polling
                    return

        if not force_polling:
            watcher = asyncio.create_task(inotify())
        try:
            while not stop.is_set():
                wake.clear()
                known = len(self.problems)
                batch = await asyncio.to_thread(self.poll)
                if batch or len(self.problems) != known:  # damage found: tell, even if empty
                    yield batch
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), interval)
        finally:
            stop.set()
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watcher


def preview_tail(state_dir: Path, incident_id: str, per_file: int = 48 * 1024) -> list[Entry]:
    """The newest records of every writer file, read from the files' ends only: what a big
    incident's log shows while the full, verified load runs. Entries are ``verified=False``
    (their chain is not checked here) and the list is merged in (ts, writer, seq) order."""
    import tomllib

    from .reader import merge
    from .record import RECORD_START, TERMINATOR_RE

    d = journal_dir(Path(state_dir), check_incident_id(incident_id))
    try:
        names = sorted(n for n in os.listdir(d) if is_journal_file(n))
    except FileNotFoundError:
        return []
    out: list[Entry] = []
    for name in names:
        try:
            with open(d / name, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                f.seek(max(0, size - per_file))
                buf = f.read(per_file)
        except OSError:
            continue
        start = buf.find(b"\n" + RECORD_START)
        ends = list(TERMINATOR_RE.finditer(buf))
        if start < 0 or not ends or ends[-1].end() <= start + 1:
            continue
        try:
            doc = tomllib.loads(buf[start + 1:ends[-1].end()].decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        writer = name[:-5]
        last_ts = 0.0
        for r in doc.get("entry", []):
            if not isinstance(r, dict) or not isinstance(r.get("hash"), str):
                continue
            e = validate.entry(writer, r, r["hash"], verified=False, last_ts=last_ts)
            last_ts = e.ts
            out.append(e)
    return merge(out)
