"""One sync run: push this bastion's new records, pull other writers' into local mirrors.

Bucket layout (``P`` = ``[sync] prefix``)::

    P/incidents/<incident>/<writer>/<first seq:012>-<last seq:012>.seg
    P/exercises/<exercise>/<writer>/<first>-<last>.seg

A segment is the raw bytes of records ``first..last`` of one writer file, cut at record
boundaries (the file's header is not in it). It is written once with a conditional put and
never changed: keys are unique per writer and sequence range.

Pull: a mirror is ``journal/<writer>.toml`` in the local incident, byte-identical to the
writer's own file, so the reader merges it like any other writer's file and ``cockpit
verify`` checks it with the same genesis and chain. A segment is appended only after its
hashes and chain were checked against the mirror's head (``journal.reader.scan``); one that
fails is copied byte-exact to ``quarantine/sync.<writer>.<first>-<last>.seg`` and reported
in one line naming writer and sequence. The append holds the mirror's ``flock`` (as a
writer does), so a reader never takes a half-written segment for a torn tail.

``sync.json`` in each incident directory records which files are mirrors, how far each
local writer was pushed, and the ETag of every segment pushed or pulled: a segment edited or
deleted in the bucket after it was pulled is detected too.

Size: just over the ~500 lines a module aims at: push, pull and the checks a pulled segment
passes before it is appended are one protocol; the S3 calls themselves live in ``s3.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..journal.model import JournalError, check_incident_id, incidents_dir, is_journal_file
from ..journal.perms import ensure_dir, ensure_tree, file_mode, fsync_dir
from ..journal.reader import _dir_mode, scan
from ..journal.record import HEADER, TERMINATOR_RE
from ..journal.snapshot import write_bytes_atomic
from ..text import one_line
from .s3 import Bucket, Listed, SyncDeadline, SyncError

ROOTS = ("incidents", "exercises")  # bucket name -> local state root (exercises: <state>/exercises)
SEG_MAX_BYTES = 8 * 1024 * 1024
SEG_MAX_RECORDS = 5000
STATE = "sync.json"
_WRITER = re.compile(r"w-[A-Za-z0-9_.-]{1,160}\Z")
_SEG = re.compile(r"([0-9]{12})-([0-9]{12})\.seg\Z")


def root_dir(state_dir: Path, root: str) -> Path:
    return Path(state_dir) if root == "incidents" else Path(state_dir) / "exercises"


@dataclass
class Report:
    """What one run did (``cockpit sync`` prints it, the cockpit shows it)."""

    requests: int = 0
    pushed: int = 0  # records
    pulled: int = 0  # records
    segments_put: int = 0
    segments_got: int = 0
    waiting: int = 0  # local records not in the bucket yet
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # the run stopped early (S3 unreachable, deadline)
    finished: float = 0.0  # time.time() at the end
    new_incidents: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.problems


def _key(prefix: str, *parts: str) -> str:
    return "/".join(p for p in (prefix, *parts) if p)


def _seg_name(first: int, last: int) -> str:
    return f"{first:012d}-{last:012d}.seg"


class _State:
    """``sync.json`` of one incident (rewritten atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        d: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            d = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(d, dict):
            d = {}
        self.mirrors: set[str] = set(x for x in d.get("mirrors", []) if isinstance(x, str))
        self.pushed: dict[str, dict[str, Any]] = dict(d.get("pushed") or {})
        self.keys: dict[str, str] = dict(d.get("keys") or {})  # key -> etag (ours or pulled)
        self.quarantined: dict[str, str] = dict(d.get("quarantined") or {})
        self.problems: dict[str, str] = dict(d.get("problems") or {})
        self.dirty = False

    def save(self) -> None:
        if not self.dirty:
            return
        data = json.dumps({"v": 1, "mirrors": sorted(self.mirrors), "pushed": self.pushed,
                           "keys": self.keys, "quarantined": self.quarantined,
                           "problems": self.problems}, sort_keys=True).encode()
        mode = _dir_mode(self.path.parent)
        write_bytes_atomic(self.path, data, mode=file_mode(mode))
        self.dirty = False


@dataclass
class _Mirror:
    seq: int = 0
    prev: str = ""
    end: int = 0


class Engine:
    """Sync of one state directory through one bucket. One run at a time (``run``)."""

    def __init__(self, bucket: Bucket, state_dir: Path, *, mode: str = "personal") -> None:
        self.bucket = bucket
        self.state_dir = Path(state_dir)
        self.mode = mode
        self.prefix = bucket.cfg.prefix.strip("/")
        self._mirror_cache: dict[Path, tuple[int, int, _Mirror]] = {}

    # ------------------------------------------------------------------ entry point
    def run(self, only: str | None = None, *, deadline: float | None = None) -> Report:
        """Push and pull every incident and exercise (or only incident ``only``).

        Local reading comes first (the waiting count is known without S3); then each
        incident: push, then pull. A failure of S3 stops the run with ``error`` set and
        keeps what was done; the deadline (``[sync] deadline``) is hard."""
        rep = Report()
        self.bucket.begin(deadline if deadline is not None else self.bucket.cfg.deadline)
        start_requests = self.bucket.requests
        lock = self._lock()
        if lock is None:
            rep.error = "another sync of this state directory is running"
            rep.finished = time.time()
            return rep
        try:
            local = {r: self._local_ids(r, only) for r in ROOTS}
            rep.waiting = sum(self._waiting(r, i) for r in ROOTS for i in local[r])
            try:
                for r in ROOTS:
                    ids = set(local[r])
                    if only is None:
                        ids |= self._remote_ids(r)
                    for iid in sorted(ids):
                        try:
                            self._sync_incident(r, iid, rep)
                        except SyncError:
                            raise
                        except (OSError, JournalError) as e:  # this incident only
                            rep.problems.append(one_line(
                                f"{r}/{iid}: {getattr(e, 'strerror', None) or e}", 600))
            except SyncError as e:
                rep.error = one_line(str(e), 300)
            rep.waiting = sum(self._waiting(r, i) for r in ROOTS
                              for i in self._local_ids(r, only))
        finally:
            os.close(lock)
            rep.requests = self.bucket.requests - start_requests
            rep.finished = time.time()
        return rep

    def waiting(self) -> int:
        """Local records not yet in the bucket (no network)."""
        return sum(self._waiting(r, i) for r in ROOTS for i in self._local_ids(r, None))

    def _lock(self) -> int | None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / ".sync.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
                     | os.O_NOFOLLOW, file_mode(_dir_mode(self.state_dir)))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    # ------------------------------------------------------------------ discovery
    def _local_ids(self, root: str, only: str | None) -> list[str]:
        d = incidents_dir(root_dir(self.state_dir, root))
        try:
            names = sorted(os.listdir(d))
        except OSError:
            return []
        out = []
        for n in names:
            if only is not None and n != only:
                continue
            with contextlib.suppress(ValueError):
                check_incident_id(n)
                if (d / n / "journal").is_dir():
                    out.append(n)
        return out

    def _remote_ids(self, root: str) -> set[str]:
        base = _key(self.prefix, root) + "/"
        out: set[str] = set()
        for item in self.bucket.list(base, delimiter="/"):
            if isinstance(item, str):
                name = item[len(base):].rstrip("/")
                with contextlib.suppress(ValueError):
                    out.add(check_incident_id(name))
        return out

    def _inc_dir(self, root: str, iid: str) -> Path:
        return incidents_dir(root_dir(self.state_dir, root)) / iid

    # ------------------------------------------------------------------ local writers
    def _locals(self, root: str, iid: str, st: _State) -> list[str]:
        jdir = self._inc_dir(root, iid) / "journal"
        try:
            names = sorted(os.listdir(jdir))
        except OSError:
            return []
        return [n[:-5] for n in names if is_journal_file(n) and n[:-5] not in st.mirrors]

    def _unpushed(self, root: str, iid: str, writer: str, st: _State
                  ) -> tuple[list[tuple[int, bytes]], str | None]:
        """The complete, chain-checked records of a local writer after what was pushed:
        [(seq, bytes)], and a problem line when its file is damaged."""
        path = self._inc_dir(root, iid) / "journal" / f"{writer}.toml"
        p = st.pushed.get(writer) or {}
        end, seq, prev = int(p.get("end", 0)), int(p.get("seq", 0)), str(p.get("prev", ""))
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as e:
            return [], f"{root}/{iid}: writer {writer}: cannot read: {e.strerror or e}"
        try:
            if os.fstat(fd).st_size <= end:
                return [], None
            os.lseek(fd, end, os.SEEK_SET)
            chunks = []
            while True:
                b = os.read(fd, 1 << 22)
                if not b:
                    break
                chunks.append(b)
            buf = b"".join(chunks)
        finally:
            os.close(fd)
        fs = scan(buf, path, iid, base=end, prev=prev or None, seq=seq) if end else \
            scan(buf, path, iid)
        good = fs.valid_end - end  # bytes of buf that are checked records (or the header)
        start = len(HEADER) if end == 0 and fs.header_ok else 0
        out: list[tuple[int, bytes]] = []
        s = seq
        for m in TERMINATOR_RE.finditer(buf, start, good):
            if m.end() > good:
                break
            s += 1
            out.append((s, buf[start:m.end()]))
            start = m.end()
        problem = None
        if fs.damage is not None:
            problem = f"{root}/{iid}: local writer {writer}: {fs.problem()}: not pushed past it"
        return out, problem

    def _waiting(self, root: str, iid: str) -> int:
        st = _State(self._inc_dir(root, iid) / STATE)
        return sum(len(self._unpushed(root, iid, w, st)[0]) for w in self._locals(root, iid, st))

    # ------------------------------------------------------------------ one incident
    def _sync_incident(self, root: str, iid: str, rep: Report) -> None:
        inc = self._inc_dir(root, iid)
        existed = (inc / "journal").is_dir()
        st = _State(inc / STATE)
        try:
            if existed:
                self._push(root, iid, st, rep)
            listing = [x for x in self.bucket.list(_key(self.prefix, root, iid) + "/")
                       if isinstance(x, Listed)]
            if not existed:
                if not listing:
                    return
                ensure_tree(root_dir(self.state_dir, root), ["incidents", iid, "journal"],
                            self.mode)
                for sub in ("outputs", "quarantine"):
                    ensure_dir(inc / sub, self.mode)
                if root == "incidents":
                    rep.new_incidents.append(iid)
            self._pull(root, iid, st, listing, rep)
        finally:
            if (inc / "journal").is_dir():
                st.save()
            rep.problems.extend(sorted(st.problems.values()))

    # ------------------------------------------------------------------ push
    def _push(self, root: str, iid: str, st: _State, rep: Report) -> None:
        for writer in self._locals(root, iid, st):
            recs, problem = self._unpushed(root, iid, writer, st)
            if problem:
                st.problems.setdefault(f"local:{writer}", problem)
                st.dirty = True
            i = 0
            while i < len(recs):
                batch: list[tuple[int, bytes]] = []
                size = 0
                while i < len(recs) and len(batch) < SEG_MAX_RECORDS and (
                        not batch or size + len(recs[i][1]) <= SEG_MAX_BYTES):
                    batch.append(recs[i])
                    size += len(recs[i][1])
                    i += 1
                first, last = batch[0][0], batch[-1][0]
                data = b"".join(b for _, b in batch)
                key = _key(self.prefix, root, iid, writer, _seg_name(first, last))
                etag = self.bucket.put_new(key, data)
                if etag is None:  # already there (an earlier run died before saving state)
                    theirs, etag = self.bucket.get(key, len(data))
                    if theirs != data:
                        st.problems["push:" + key] = (f"{root}/{iid}: writer {writer} seq {first}-{last}: "
                                            "a different object already holds this key in the "
                                            "bucket: not pushed (edited by hand?)")
                        st.dirty = True
                        break
                rep.segments_put += 1
                rep.pushed += len(batch)
                st.keys[key] = etag
                p = st.pushed.setdefault(writer, {"end": 0, "seq": 0, "prev": ""})
                if p["end"] == 0:
                    p["end"] = len(HEADER)
                p["end"] += len(data)
                p["seq"] = last
                p["prev"] = _last_hash(data)
                st.dirty = True
                st.save()  # what is in the bucket is never pushed twice

    def _repush(self, root: str, iid: str, writer: str, key: str, first: int, last: int,
                st: _State) -> bool:
        """Put back a deleted segment of a local writer, from its journal file (checked)."""
        path = self._inc_dir(root, iid) / "journal" / f"{writer}.toml"
        try:
            buf = path.read_bytes()
        except OSError:
            return False
        fs = scan(buf, path, iid, keep_going=False)
        if fs.seq < last:
            return False
        recs = []
        start = len(HEADER)
        for m in TERMINATOR_RE.finditer(buf, start, fs.valid_end):
            recs.append(buf[start:m.end()])
            start = m.end()
        data = b"".join(recs[first - 1:last])
        etag = self.bucket.put_new(key, data)
        if etag is None:  # someone put it back meanwhile
            theirs, etag = self.bucket.get(key, len(data))
            if theirs != data:
                return False
        st.keys[key] = etag
        st.dirty = True
        return True

    # ------------------------------------------------------------------ pull
    def _mirror(self, path: Path, iid: str) -> _Mirror:
        try:
            stt = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return _Mirror()
        cached = self._mirror_cache.get(path)
        if cached and cached[0] == stt.st_size and cached[1] == stt.st_mtime_ns:
            return cached[2]
        fs = scan(path.read_bytes(), path, iid)
        m = _Mirror(fs.seq, fs.prev, fs.valid_end)
        self._mirror_cache[path] = (stt.st_size, stt.st_mtime_ns, m)
        return m

    def _pull(self, root: str, iid: str, st: _State, listing: list[Listed], rep: Report
              ) -> None:
        inc = self._inc_dir(root, iid)
        base = _key(self.prefix, root, iid) + "/"
        locals_ = set(self._locals(root, iid, st))
        by_writer: dict[str, list[tuple[int, int, Listed]]] = {}
        seen = set()
        for o in listing:
            seen.add(o.key)
            rest = o.key[len(base):]
            writer, _, name = rest.partition("/")
            m = _SEG.match(name)
            if not _WRITER.match(writer) or ".." in writer or not m or \
                    int(m.group(1)) < 1 or int(m.group(2)) < int(m.group(1)):
                self._quarantine(inc, st, o, f"{root}/{iid}: object {one_line(rest, 120)} is not "
                                 "a journal segment (added by hand?)", rep)
                continue
            first, last = int(m.group(1)), int(m.group(2))
            known = st.keys.get(o.key)
            if known is not None:
                if known != o.etag:
                    self._quarantine(inc, st, o, f"{root}/{iid}: writer {writer} seq "
                                     f"{first}-{last}: segment changed in the bucket after it "
                                     "was synced (edited by hand?)", rep)
                continue
            if writer in locals_:
                self._quarantine(inc, st, o, f"{root}/{iid}: writer {writer} seq {first}-{last}: "
                                 "segment of a local writer that this bastion never pushed "
                                 "(added by hand?)", rep)
                continue
            by_writer.setdefault(writer, []).append((first, last, o))
        for key in [k for k in st.keys if k.startswith(base) and k not in seen]:
            m = _SEG.search(key)
            writer = key[len(base):].partition("/")[0]
            rng = f"{int(m.group(1))}-{int(m.group(2))}" if m else "?"
            pkey = "deleted:" + key
            if m and writer in locals_ and self._repush(root, iid, writer, key,
                                                       int(m.group(1)), int(m.group(2)), st):
                rep.problems.append(f"{root}/{iid}: writer {writer} seq {rng}: segment deleted "
                                    "from the bucket (by hand?); pushed again from this "
                                    "bastion's journal")
                continue
            if pkey not in st.problems:
                st.problems[pkey] = (f"{root}/{iid}: writer {writer} seq {rng}: segment deleted "
                                     "from the bucket (by hand?); the local copy is kept")
                st.dirty = True
        for writer, segs in sorted(by_writer.items()):
            self._pull_writer(root, iid, inc, writer, sorted(segs, key=lambda s: (s[0], s[1])),
                              st, rep)

    def _pull_writer(self, root: str, iid: str, inc: Path, writer: str,
                     segs: list[tuple[int, int, Listed]], st: _State, rep: Report) -> None:
        path = inc / "journal" / f"{writer}.toml"
        if writer not in st.mirrors:
            st.mirrors.add(writer)  # recorded before the file exists: never pushed back
            st.dirty = True
            st.save()
        head = self._mirror(path, iid)
        for first, last, o in segs:
            if o.key in st.quarantined and st.quarantined[o.key] == o.etag:
                continue
            where = f"{root}/{iid}: writer {writer} seq {first}-{last}"
            if first <= head.seq:
                self._quarantine(inc, st, o, f"{where}: overlaps records already merged "
                                 "(added by hand?)", rep)
                continue
            if first != head.seq + 1:
                st.problems[f"gap:{writer}"] = (
                    f"{root}/{iid}: writer {writer} seq {head.seq + 1}: missing from the "
                    f"bucket (deleted by hand?); seq {first} and later are held, not merged")
                st.dirty = True
                return
            data, etag = self.bucket.get(o.key, SEG_MAX_BYTES)
            rep.segments_got += 1
            reason = self._check(data, path, iid, head, first, last)
            if reason is not None:
                self._quarantine(inc, st, o, f"{where}: {reason}", rep, data=data, etag=etag)
                continue
            head = self._append(path, data, head, iid)
            st.keys[o.key] = etag
            st.problems.pop(f"gap:{writer}", None)
            st.dirty = True
            rep.pulled += last - first + 1

    @staticmethod
    def _check(data: bytes, path: Path, iid: str, head: _Mirror, first: int, last: int
               ) -> str | None:
        if len(data) > SEG_MAX_BYTES:
            return f"larger than {SEG_MAX_BYTES} bytes"
        if head.seq == 0:
            fs = scan(HEADER + data, path, iid, keep_going=False)
        else:
            fs = scan(data, path, iid, base=head.end, prev=head.prev, seq=head.seq,
                      keep_going=False)
        if fs.damage is not None:
            _line, seq, why = fs.damage
            return f"seq {seq}: {why}"
        if fs.tail:
            return f"ends with {fs.tail} bytes that are not a complete record"
        if fs.seq != last:
            return f"holds records up to seq {fs.seq}, its name says {last}"
        return None

    def _append(self, path: Path, data: bytes, head: _Mirror, iid: str) -> _Mirror:
        """Append a checked segment to the mirror, holding its flock (as a writer does)."""
        mode = _dir_mode(path.parent)
        flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        if head.seq == 0:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, file_mode(mode))
            out = HEADER + data
        else:
            fd = os.open(path, flags)
            out = data
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size != (0 if head.seq == 0 else head.end):
                raise SyncError(f"{path}: changed while syncing; the next run reads it again")
            view = memoryview(out)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if head.seq == 0:
            fsync_dir(path.parent)
        self._mirror_cache.pop(path, None)
        return self._mirror(path, iid)

    def _quarantine(self, inc: Path, st: _State, o: Listed, line: str, rep: Report, *,
                    data: bytes | None = None, etag: str | None = None) -> None:
        """Keep a bad object byte-exact under quarantine/ and report it (once per ETag)."""
        if st.quarantined.get(o.key) == o.etag:
            return
        if data is None:
            try:
                data, etag = self.bucket.get(o.key, SEG_MAX_BYTES)
                rep.segments_got += 1
            except SyncDeadline:
                raise
            except SyncError:
                data = b""
        qdir = ensure_dir(inc / "quarantine", _dir_mode(inc))
        name = "sync." + re.sub(r"[^A-Za-z0-9._-]+", "_", o.key.rsplit("/", 2)[-2] + "."
                                + o.key.rsplit("/", 1)[-1])[:200] + f".{(etag or o.etag)[:12]}"
        q = qdir / name
        with contextlib.suppress(FileExistsError):
            write_bytes_atomic(q, data[:SEG_MAX_BYTES], mode=file_mode(_dir_mode(inc)))
        st.quarantined[o.key] = o.etag
        st.problems[o.key] = one_line(f"{line}: quarantined ({q.name})", 600)
        st.dirty = True


def _last_hash(data: bytes) -> str:
    found = list(TERMINATOR_RE.finditer(data))
    return "sha256:" + found[-1].group(1).decode() if found else ""
