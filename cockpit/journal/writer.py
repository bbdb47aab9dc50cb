"""The journal writer: one append-only file per writer process.

``append`` builds the whole record as bytes, writes it with one ``os.write`` and
returns only after ``os.fdatasync`` returned: that is the acknowledgement. Any
failure (short write, ENOSPC, EFBIG, EIO from fdatasync ...) poisons the file:
nothing more is written to it, the journal is *failed* (fail closed) and the entry
is kept in ``unsaved`` until ``reopen()`` writes it to a fresh segment file (with
``retry_of`` naming the id it may partially exist under; readers drop the copy if
the original survived). fsync errors are never retried on the same file
(fsyncgate).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import os
import re
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

from .. import __version__
from . import record
from .authorship import process_account
from .model import Entry, JournalWriteError, Unsaved, check_incident_id, incident_dir
from .perms import check_mode, ensure_dir, ensure_tree, file_mode, fsync_dir

_KIND = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")


def default_author() -> str:
    """The account of this process (``authorship.process_account``): the real uid's
    name, ``SUDO_USER`` only when the real uid is root; never ``$USER``."""
    return process_account()


def _host() -> str:
    h = re.sub(r"[^A-Za-z0-9.]+", "_", socket.gethostname().split(".")[0])[:40]
    return h or "host"


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def _anchor(incident_id: str, writer: str, seq: int, digest: str) -> None:
    """Tamper evidence outside the journal: every new chain head goes to syslog (design
    decision 4), so an edit of the files can be told from what the system logged. Best
    effort: no syslog, no error."""
    if os.environ.get("COCKPIT_NO_SYSLOG"):
        return
    try:
        import syslog

        syslog.openlog("dr-cockpit", syslog.LOG_PID, syslog.LOG_USER)
        syslog.syslog(syslog.LOG_INFO, f"journal {incident_id} {writer} seq={seq} head={digest}")
    except (ImportError, OSError):
        pass


class Journal:
    """A writer for one incident. Not shared between processes; thread-safe."""

    def __init__(
        self,
        state_dir: Path,
        incident_id: str,
        *,
        mode: str = "personal",
        author: str | None = None,
        clock: Any = None,
        recover: bool = True,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.incident_id = check_incident_id(incident_id)
        self.mode = check_mode(mode)
        self.author = author if author is not None else default_author()
        self.clock = clock
        self._lock = threading.RLock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.unsaved: list[Unsaved] = []
        self.error: str | None = None
        self.closed = False
        self._fd = -1
        ensure_tree(self.state_dir, ["incidents", self.incident_id, "journal"], self.mode)
        self.incident_dir = incident_dir(self.state_dir, self.incident_id)
        for sub in ("outputs", "quarantine"):
            ensure_dir(self.incident_dir / sub, self.mode)
        self.recovered: list[str] = []
        if recover:
            from .reader import recover as _recover

            self.recovered = _recover(self.state_dir, self.incident_id)
        self._open_segment()
        for line in self.recovered:
            self.append("recovered", {"detail": line})

    # -- state ---------------------------------------------------------------------------

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def writable(self) -> bool:
        return self.error is None and not self.closed

    @property
    def path(self) -> Path:
        return self._path

    @property
    def writer(self) -> str:
        return self._writer

    def _now(self) -> float:
        return float(self.clock.now()) if self.clock is not None else time.time()

    # -- segment -------------------------------------------------------------------------

    def _open_segment(self) -> None:
        jdir = self.incident_dir / "journal"
        flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW
                 | os.O_CLOEXEC)
        while True:
            writer = f"w-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"
            path = jdir / f"{writer}.toml"
            try:
                fd = os.open(path, flags, file_mode(self.mode))
            except FileExistsError:
                continue
            break
        try:
            # Held for the life of the process: proves to readers that we are alive.
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.fchmod(fd, file_mode(self.mode))
            os.fsync(fd)
            fsync_dir(jdir)
        except OSError:
            os.close(fd)
            raise
        self._fd, self._path, self._writer = fd, path, writer
        self._seq = 0
        self._prev = record.genesis(self.incident_id, path.name)
        self._header_pending = True
        self.append("session-start", {
            # who writes this file: readers of a shared directory check it against the
            # file's owner (authorship.owner_problem)
            "user": self.author, "uid": os.getuid(), "euid": os.geteuid(),
            "host": socket.gethostname(),
            "pid": os.getpid(), "boot_id": _boot_id(), "mono_ns": time.monotonic_ns(),
            "app": f"cockpit {__version__}", "incident": self.incident_id, "mode": self.mode,
        })

    # -- append --------------------------------------------------------------------------

    def append(self, kind: str, data: dict[str, Any], *, _ts: float | None = None,
               _retry_of: str | None = None) -> Entry:
        """Write one entry; returns only once it is written and fdatasync'ed."""
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise ValueError(f"invalid entry kind {kind!r}")
        with self._lock:
            if self.closed:
                raise JournalWriteError(f"journal {self._path} is closed; the entry was NOT saved")
            ts = self._now() if _ts is None else _ts
            seq = self._seq + 1
            # Validation errors (bad data) raise here, before any state changes.
            rec, digest = record.encode_record(
                seq=seq, ts=ts, kind=kind, author=self.author, data=data, prev=self._prev,
                retry_of=_retry_of,
            )
            if self.error is not None:
                self.unsaved.append(Unsaved(kind, data, ts, self.author, _retry_of, self.error))
                raise JournalWriteError(
                    f"journal {self._path} failed earlier ({self.error}); the entry was NOT "
                    "saved (kept in memory; reopen() to retry)"
                )
            if self._header_pending:
                rec_out = record.HEADER + rec
            else:
                rec_out = rec
            try:
                n = os.write(self._fd, rec_out)
                if n != len(rec_out):
                    raise OSError(28, f"short write ({n} of {len(rec_out)} bytes)")
                os.fdatasync(self._fd)
            except OSError as e:
                msg = f"{e.strerror or e}" + (f" [errno {e.errno}]" if e.errno else "")
                self.error = f"cannot write {self._path.name}: {msg}"
                retry_of = _retry_of or f"{self._writer}:{seq}"
                self.unsaved.append(Unsaved(kind, data, ts, self.author, retry_of, self.error))
                raise JournalWriteError(
                    e.errno or 5,
                    f"{self.error}; the entry was NOT saved (kept in memory; journal is now "
                    "read-only until reopen())",
                ) from e
            self._header_pending = False
            self._seq, self._prev = seq, digest
            _anchor(self.incident_id, self._writer, seq, digest)
            return Entry(self._writer, seq, float(ts), self.author, kind, data, digest, _retry_of)

    async def append_async(self, kind: str, data: dict[str, Any]) -> Entry:
        """``append`` on the journal's own writer thread (FIFO), off the event loop."""
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = concurrent.futures.ThreadPoolExecutor(
                        1, thread_name_prefix="journal-writer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.append, kind, data)

    def reopen(self) -> list[Entry]:
        """Leave a failed file for a new segment and save the unsaved entries there."""
        with self._lock:
            if self.closed:
                raise JournalWriteError("journal is closed")
            if self._fd >= 0:
                os.close(self._fd)  # releases the flock: recovery may now cut its torn tail
                self._fd = -1
            self.error = None
            try:
                self._open_segment()
            except OSError as e:
                if isinstance(e, JournalWriteError):
                    raise
                self.error = f"cannot open a new journal segment: {e.strerror or e}"
                raise JournalWriteError(e.errno or 5, self.error) from e
            pending = [u for u in self.unsaved if u.kind != "session-start"]
            self.unsaved = []
            saved = []
            for i, u in enumerate(pending):
                try:
                    saved.append(self.append(u.kind, u.data, _ts=u.ts, _retry_of=u.retry_of))
                except JournalWriteError:
                    # the failed one is already back in unsaved; keep the rest too
                    self.unsaved.extend(pending[i + 1:])
                    raise
            return saved

    def save_output(self, data: bytes, name: str = "output") -> dict[str, Any]:
        """Store a large payload in ``outputs/``; returns ``{path, bytes, sha256}`` to journal."""
        import hashlib

        from .snapshot import write_bytes_atomic

        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] or "output"
        digest = hashlib.sha256(data).hexdigest()
        rel = f"outputs/{safe}.{digest[:12]}.out"
        write_bytes_atomic(self.incident_dir / rel, data, mode=file_mode(self.mode))
        return {"path": rel, "bytes": len(data), "sha256": digest}

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self.closed = True

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", -1)
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
