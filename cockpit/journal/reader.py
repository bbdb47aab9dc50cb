"""Reading, merging and recovering journals.

Every journal file is scanned record by record: a record counts only when it is
complete (ends with its ``hash`` line), its SHA-256 matches its raw bytes, and its
``seq``/``prev`` continue the file's chain. What follows the last good record is:

* nothing: the file is whole;
* an unfinished record (shorter than its ``size``) or NUL bytes: a *tail*. If the
  writer still holds the file's ``flock`` it is alive and the record is *pending*
  (never reported as corrupt). If the lock is free the writer died mid-write: the
  tail is *torn*; ``recover()`` (called by ``read_incident`` and by ``Journal()``
  at start) copies it byte-exact to ``quarantine/<file>.<offset>.tail`` and
  truncates the file to its last complete record;
* anything else (bad hash, broken chain, a complete-sized record without a valid
  hash line): *damage*. It is reported and never "fixed": the records after it
  are still shown, marked ``verified=False``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import hashlib
import operator
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import validate
from .authorship import owner_problem, shared_dir
from .model import (
    Entry,
    ReadResult,
    check_incident_id,
    incident_dir,
    incidents_dir,
    is_journal_file,
    journal_dir,
)
from .perms import PERSONAL, SHARED, file_mode, fsync_dir
from .record import HEADER, RECORD_START, SIZE_RE, TERMINATOR_RE, genesis

try:  # rtoml parses our records identically (tests/journal/test_record.py) and ~3x faster
    import rtoml

    def _fast_loads(text: str) -> dict[str, Any]:
        return rtoml.loads(text)

    PARSER = "rtoml"
except ImportError:  # pragma: no cover

    def _fast_loads(text: str) -> dict[str, Any]:
        return tomllib.loads(text)

    PARSER = "tomllib"


@dataclass
class FileScan:
    """The result of scanning (part of) one journal file."""

    path: Path
    writer: str
    entries: list[Entry] = field(default_factory=list)
    valid_end: int = 0  # offset just after the last good record (or the header)
    line: int = 1  # line number at valid_end
    prev: str = ""  # hash of the last good record (chain head)
    seq: int = 0  # seq of the last good record
    header_ok: bool = False
    tail: int = 0  # bytes after valid_end that look like an unfinished record / zeros
    zero_tail: bool = False
    damage: tuple[int, int, str] | None = None  # (line, seq, reason) of the first damage
    last_ts: float = 0.0  # ts of the last entry (an unreadable record's stand-in time)

    def problem(self) -> str | None:
        if self.damage is None:
            return None
        line, seq, reason = self.damage
        return f"{self.path}:{line}: seq {seq}: {reason}"


def _entry(writer: str, d: dict[str, Any], digest: str, verified: bool = True,
           last_ts: float = 0.0) -> Entry:
    """The entry of a hash-valid record: itself, or an unreadable entry saying why
    (``validate``)."""
    return validate.entry(writer, d, digest, verified=verified, last_ts=last_ts)


def _check_fields(d: dict[str, Any], size: int, seq: int, prev: str, digest: str) -> str | None:
    if d.get("size") != size:
        return f"size field {d.get('size')!r} does not match the record's {size} bytes"
    if d.get("seq") != seq:
        return f"seq {d.get('seq')!r} where {seq} was expected (record deleted, reordered or inserted)"
    if d.get("prev") != prev:
        return "chain broken: prev does not match the previous record's hash"
    if d.get("hash") != digest:
        return "hash field does not match"
    return None


def scan(
    buf: bytes,
    path: Path,
    incident_id: str,
    *,
    base: int = 0,
    line: int = 1,
    prev: str | None = None,
    seq: int = 0,
    keep_going: bool = True,
    last_ts: float = 0.0,
) -> FileScan:
    """Scan ``buf``, the bytes of ``path`` from offset ``base`` (0: the whole file).

    ``prev``/``seq``/``line`` give the chain state at ``base`` (for incremental reads).
    """
    writer = path.name[:-5] if path.name.endswith(".toml") else path.name
    fs = FileScan(path, writer, valid_end=base, line=line, seq=seq, last_ts=last_ts)
    pos = 0
    if base == 0:
        fs.prev = genesis(incident_id, path.name)
        if buf.startswith(HEADER):
            pos = len(HEADER)
            fs.header_ok = True
            fs.valid_end = pos
            fs.line = 1 + HEADER.count(b"\n")
        elif HEADER.startswith(buf.rstrip(b"\0")):
            fs.tail = len(buf)
            fs.zero_tail = bool(buf) and not buf.rstrip(b"\0")
            return fs
        else:
            fs.damage = (1, 0, "not a cockpit journal v1 header")
            return fs
    else:
        fs.header_ok = True
        fs.prev = prev or ""

    # (end of the hashed part, end of the record, hex digest) for each complete record
    bounds = [(m.start() + 1, m.end(), m.group(1)) for m in TERMINATOR_RE.finditer(buf, pos)]
    if not _fast(buf, fs, pos, bounds, incident_id):
        _slow(buf, fs, pos, bounds, keep_going)
    if fs.damage is None:
        end = fs.valid_end - base
        rest = buf[end:]
        if rest:
            _classify_tail(rest, fs)
    return fs


def _fast(buf: bytes, fs: FileScan, pos: int, bounds: list[tuple[int, int, bytes]],
          incident_id: str) -> bool:
    """All records good: one parse of the whole range. False means: use the slow path."""
    if not bounds:
        return True
    sha = hashlib.sha256
    mv = memoryview(buf)
    last = bounds[-1][1]
    try:
        # Parse optimistically; each record's bytes, hash and chain are checked below.
        doc = _fast_loads(buf[pos:last].decode("utf-8"))
        recs = doc["entry"]
        if len(doc) != 1 or len(recs) != len(bounds):
            return False
        prev, seq = fs.prev, fs.seq
        writer = fs.writer
        tnew = tuple.__new__
        entries: list[Entry] = []
        append = entries.append
        checkers = validate.CHECKERS  # kind -> its generated check (filled as kinds are met)
        ts_min, ts_max = validate.TS_MIN, validate.TS_MAX
        max_author = validate.MAX_AUTHOR
        last_ts = fs.last_ts
        s = pos
        for d, (hs, end, _hexd) in zip(recs, bounds, strict=True):
            # d["hash"] was parsed from the very bytes the terminator regex matched
            digest = d["hash"]
            if not buf.startswith(RECORD_START, s) or "sha256:" + sha(mv[s:hs]).hexdigest() != digest:
                return False
            seq += 1
            if d["seq"] != seq or d["prev"] != prev or d["size"] != end - s:
                return False  # the chain is broken: the slow path names the record
            # Hash-valid: now well-formed? The usual case inline, anything else in full.
            ts, kind, author, data = d["ts"], d["kind"], d["author"], d["data"]
            retry = d.get("retry_of")
            check = checkers.get(kind) if type(kind) is str else None
            if (
                check is not None and type(ts) is float and ts_min <= ts <= ts_max
                and type(author) is str and len(author) <= max_author
                and type(data) is dict and len(d) <= 8 + (retry is not None)
                and (retry is None or type(retry) is str) and check(data) is None
            ):
                append(tnew(Entry, (writer, seq, ts, author, kind, data, digest, retry, True)))
                last_ts = ts
            else:
                e = validate.entry(writer, d, digest, last_ts=last_ts)
                append(e)
                last_ts = e.ts
            prev = digest
            s = end
    except Exception:
        return False
    start = last
    fs.entries.extend(entries)
    fs.last_ts = last_ts
    fs.line += buf.count(b"\n", pos, start)
    fs.valid_end += start - pos
    fs.prev, fs.seq = prev, seq
    return True


def _slow(buf: bytes, fs: FileScan, pos: int, bounds: list[tuple[int, int, bytes]],
          keep_going: bool) -> None:
    """Record by record, to name the first damaged record and keep reading after it."""
    base = fs.valid_end - pos
    line = fs.line
    start = pos
    for hs, end, hexd in bounds:
        rec = buf[start:end]
        digest = "sha256:" + hexd.decode()
        reason = None
        d: dict[str, Any] | None = None
        expect = fs.seq + 1
        if not rec.startswith(RECORD_START):
            reason = "unexpected bytes where a record should start"
        elif hashlib.sha256(buf[start:hs]).hexdigest() != hexd.decode():
            reason = "hash mismatch: the record was changed"
        try:
            doc = tomllib.loads(rec.decode("utf-8"))
            recs = doc.get("entry")
            if len(doc) != 1 or not isinstance(recs, list) or len(recs) != 1:
                raise ValueError("not exactly one [[entry]]")
            d = recs[0]
        except Exception as e:  # noqa: BLE001 - any parse problem is damage
            reason = reason or f"not a valid record: {str(e).splitlines()[0] if str(e) else e!r}"
        if reason is None and d is not None:
            reason = _check_fields(d, len(rec), expect, fs.prev, digest)
        if fs.damage is None and reason is None and d is not None:
            # the chain holds: a record that is not well-formed is an unreadable entry
            entry = _entry(fs.writer, d, digest, last_ts=fs.last_ts)
            fs.entries.append(entry)
            fs.last_ts = entry.ts
            fs.prev, fs.seq = digest, expect
            fs.valid_end = base + end
            fs.line = line + rec.count(b"\n")
        else:
            if fs.damage is None:
                seq = d["seq"] if isinstance(d, dict) and isinstance(d.get("seq"), int) else expect
                fs.damage = (line, seq, reason or "record after damage")
                if not keep_going:
                    return
            # after damage: show what still parses, unverified
            if isinstance(d, dict) and isinstance(d.get("hash"), str):
                entry = _entry(fs.writer, d, d["hash"], verified=False, last_ts=fs.last_ts)
                fs.entries.append(entry)
                fs.last_ts = entry.ts
        line += rec.count(b"\n")
        start = end


def _classify_tail(rest: bytes, fs: FileScan) -> None:
    stripped = rest.rstrip(b"\0")
    if not stripped:
        fs.tail, fs.zero_tail = len(rest), True
        return
    n = min(len(stripped), len(RECORD_START))
    if stripped[:n] != RECORD_START[:n]:
        fs.damage = (fs.line, fs.seq + 1, "unexpected bytes after the last record")
        return
    m = SIZE_RE.match(stripped)
    if m and len(stripped) >= int(m.group(1)):
        fs.damage = (fs.line, fs.seq + 1,
                     "last record is complete in size but has no valid hash line (damaged)")
        return
    fs.tail = len(rest)


# -- files, locks, recovery ------------------------------------------------------------------


def _writer_alive(fd: int) -> bool:
    """True when the writer still holds its flock (it is alive and may be appending)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    return False


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        b = os.read(fd, 1 << 22)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _dir_mode(path: Path) -> str:
    try:
        return SHARED if os.stat(path).st_mode & stat.S_IRWXG else PERSONAL
    except OSError:
        return PERSONAL


def _quarantine(path: Path, offset: int, tail: bytes, inc_dir: Path) -> Path:
    from .perms import ensure_dir

    mode = _dir_mode(inc_dir)
    qdir = ensure_dir(inc_dir / "quarantine", mode)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    n = 0
    while True:
        q = qdir / (f"{path.name}.{offset}.tail" + (f".{n}" if n else ""))
        try:
            fd = os.open(q, flags, file_mode(mode))
        except FileExistsError:
            try:
                if q.read_bytes() == tail:  # an earlier recovery died before truncating
                    return q
            except OSError:
                pass
            n += 1
            continue
        break
    try:
        os.fchmod(fd, file_mode(mode))
        view = memoryview(tail)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(qdir)
    return q


@dataclass
class _FileState:
    scan: FileScan
    live: bool = False
    recovered: str | None = None
    note: str | None = None
    owner: int | None = None  # uid owning the file


def read_file(path: Path, incident_id: str, *, recover: bool = False) -> _FileState:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        fst = os.fstat(fd)
        if not stat.S_ISREG(fst.st_mode):
            fs = FileScan(path, path.name)
            fs.damage = (1, 0, "not a regular file")
            return _FileState(fs, owner=fst.st_uid)
        buf = _read_all(fd)
        fs = scan(buf, path, incident_id)
        if fs.damage is not None or not fs.tail:
            return _FileState(fs, owner=fst.st_uid)
        if _writer_alive(fd):
            return _FileState(fs, live=True, owner=fst.st_uid)
        # The writer is gone (we hold its lock now): the file cannot grow any more.
        os.lseek(fd, 0, os.SEEK_SET)
        buf = _read_all(fd)
        fs = scan(buf, path, incident_id)
        if fs.damage is not None or not fs.tail:
            return _FileState(fs, owner=fst.st_uid)
        what = "NUL bytes" if fs.zero_tail else "an unfinished record"
        desc = f"{path}:{fs.line}: {fs.tail} bytes of {what} at offset {fs.valid_end}"
        if not recover:
            return _FileState(fs, note=f"{desc} (torn tail; recovery will quarantine it)",
                              owner=fst.st_uid)
        try:
            q = _quarantine(path, fs.valid_end, buf[fs.valid_end:], path.parent.parent)
            wfd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                os.ftruncate(wfd, fs.valid_end)
                os.fsync(wfd)
            finally:
                os.close(wfd)
        except OSError as e:
            return _FileState(fs, note=f"{desc}: could not recover: {e.strerror or e}",
                              owner=fst.st_uid)
        fs.tail, fs.zero_tail = 0, False
        return _FileState(fs, recovered=f"{desc} moved to {q}", owner=fst.st_uid)
    finally:
        os.close(fd)


def journal_files(state_dir: Path, incident_id: str) -> list[Path]:
    jdir = journal_dir(state_dir, incident_id)
    try:
        names = os.listdir(jdir)
    except FileNotFoundError:
        return []
    return [jdir / n for n in sorted(names) if is_journal_file(n)]


_ORDER = operator.attrgetter("ts", "writer", "seq")


def merge(entries: list[Entry]) -> list[Entry]:
    """Sort by (ts, writer, seq) and drop re-appended copies whose original survived."""
    if any(e.retry_of for e in entries):
        ids = {e.id for e in entries}
        entries = [e for e in entries if not (e.retry_of and e.retry_of in ids)]
    else:
        entries = list(entries)
    entries.sort(key=_ORDER)
    return entries


def read_incident(
    state_dir: Path,
    incident_id: str,
    *,
    recover: bool = True,
    on_recovered: Callable[[str], None] | None = None,
) -> ReadResult:
    """Read and merge all writers' files of an incident.

    With ``recover`` (the default) torn tails of dead writers are moved to
    ``quarantine/`` and cut off. Live writers' unfinished records are pending.
    """
    check_incident_id(incident_id)
    with _no_gc():
        return _read_incident(Path(state_dir), incident_id, recover, on_recovered)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Loading builds ~10 objects per entry and no cycles: cyclic GC passes only cost time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _read_incident(state_dir: Path, incident_id: str, recover: bool,
                   on_recovered: Callable[[str], None] | None) -> ReadResult:
    res = ReadResult()
    entries: list[Entry] = []
    shared = shared_dir(journal_dir(state_dir, incident_id))
    for path in journal_files(state_dir, incident_id):
        try:
            st = read_file(path, incident_id, recover=recover)
        except OSError as e:
            res.problems.append(f"{path}:1: cannot read: {e.strerror or e}")
            continue
        entries.extend(st.scan.entries)
        if shared and st.owner is not None:
            who = owner_problem(path, st.owner, st.scan.entries)
            if who:
                res.authorship.append(who)
        p = st.scan.problem()
        if p:
            res.problems.append(p)
        if st.live and st.scan.tail:
            res.pending.append(f"{path}: a record is being written")
        if st.note:
            res.pending.append(st.note)
        if st.recovered:
            res.recovered.append(st.recovered)
            if on_recovered:
                on_recovered(st.recovered)
    res.entries = merge(entries)
    return res


def recover(state_dir: Path, incident_id: str) -> list[str]:
    """Quarantine and cut the torn tails of dead writers; returns one line per recovery.

    What ``read_incident(recover=True)`` recovers, without reading every record: a file that
    ends with a record's terminator line (or is only the header, or empty) has no tail to
    cut, whatever else is in it (damage is named by readers, never cut), so only the files
    that end otherwise are scanned. Opening a journal on a 100,000-entry incident read it
    all (~1 s of CPU holding the GIL: the cockpit's keys stalled when its first health
    change opened the journal)."""
    check_incident_id(incident_id)
    out: list[str] = []
    for path in journal_files(Path(state_dir), incident_id):
        try:
            if _ends_whole(path):
                continue
            with _no_gc():
                st = read_file(path, incident_id, recover=True)
        except OSError:
            continue  # readers name a file that cannot be read
        if st.recovered:
            out.append(st.recovered)
    return out


_END = re.compile(rb'\nhash = "sha256:[0-9a-f]{64}"\n\Z')


def _ends_whole(path: Path) -> bool:
    """The file ends where a record (or the header) ends: nothing torn to recover."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return True  # damage, named by readers; never recovered
        size = st.st_size
        n = max(128, len(HEADER))
        tail = os.pread(fd, min(size, n), max(0, size - n))
    finally:
        os.close(fd)
    return size == 0 or (size == len(HEADER) and tail == HEADER) or _END.search(tail) is not None


def list_incidents(state_dir: Path) -> list[str]:
    try:
        names = os.listdir(incidents_dir(Path(state_dir)))
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for n in names:
        try:
            check_incident_id(n)
        except ValueError:
            continue
        if (incident_dir(Path(state_dir), n)).is_dir():
            out.append(n)
    return sorted(out)
