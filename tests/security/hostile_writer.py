"""A second journal writer that writes what the CLI would refuse, as hash-valid records.

The cockpit's own ``Journal.append`` refuses kinds outside ``_KIND`` and the CLI validates
note types, statuses, severities and roles; a reader accepts any record whose hash chain is
intact. This writer uses the journal's own record encoder (``cockpit.journal.record``) on
a writer file of its own, so every record it writes verifies ("chains intact"), whatever
its kind or data. ``append_raw`` goes one step further: it writes the record's envelope
(``kind``, ``author``, ``ts``, ``data``...) as raw TOML, hash-sealed the same way, for
records whose top-level fields have the wrong type.

Nothing in the product is changed or monkeypatched.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.journal import record
from cockpit.journal.model import check_incident_id, incident_dir
from cockpit.journal.perms import ensure_dir, ensure_tree, file_mode

from .payloads import HOSTILE_VALUES, HUGE_VALUES, JOINED, PAYLOADS

# The fields of every record kind the cockpit reads, with a well-formed value each
# (cockpit/incident.py, cockpit/steps.py, cockpit/executor.py, cockpit/supervisor.py,
# cockpit/journal/writer.py). Step records name a real runbook step so the navigator
# folds them.
STEP_BASE: dict[str, Any] = {"runbook": "database", "step": "isready", "attempt": 1,
                             "detail": "step detail"}
_RESULT = {"run": "run-1", "exit_code": 0, "signal": "", "duration": 1.5, "timed_out": False,
           "bytes": 10, "sha256": "0" * 64, "passed": True}
_START = {"run": "run-1", "argv": ["/bin/true", "arg"], "cwd": "/tmp", "env": ["PGHOST"],
          "timeout": 300.0, "supervisor_pid": 1, "host": "bastion", "dry_run": False,
          "output": "outputs/run-1.out", "remote": ""}
STEP_FIELDS: dict[str, dict[str, Any]] = {
    "step.claimed": {"run": "run-1", "host": "bastion", "pid": 1},
    "step.started": dict(_START),
    "step.output": {"run": "run-1", "run_kind": "step", "path": "outputs/run-1.out",
                    "bytes": 10, "sha256": "0" * 64, "redactions": 0},
    "step.succeeded": dict(_RESULT),
    "step.failed": dict(_RESULT),
    "step.confirmed": {},
    "step.failed_marked": {"reason": "it failed"},
    "step.skipped": {"reason": "not needed"},
    "step.rollback_started": {**_START, "rollback_attempt": 1},
    "step.rolled_back": dict(_RESULT),
    "step.rollback_failed": dict(_RESULT),
    "step.verify_passed": {"passed": True},
    "step.verify_failed": {"passed": False},
    "step.overridden": {"reason": "checked by hand"},
    "step.retry": {"reason": "try again"},
    "step.dry_run": {"run_kind": "step", "argv": ["/bin/true"], "cwd": "/tmp", "env": [],
                     "timeout": 300.0, "remote": ""},
}

KIND_FIELDS: dict[str, dict[str, Any]] = {
    "incident.declared": {"title": "declared title", "severity": "P1",
                          "services": ["database"], "impact_start": 1.0},
    "incident.status": {"status": "responding"},
    "incident.updated": {"title": "updated title", "severity": "P2", "services": ["database"]},
    "role.assigned": {"role": "commander", "person": "alice", "handover_from": "bob"},
    "note": {"type": "observation", "text": "a note"},
    "health": {"service": "database", "status": "fail", "summary": "health summary"},
    "recovered": {"detail": "recovered a torn tail"},
    "session-start": {"user": "mallory", "uid": 1000, "host": "bastion", "pid": 1,
                      "boot_id": "b", "mono_ns": 1, "app": "cockpit 0.1.0",
                      "incident": "x", "mode": "personal"},
    **{k: {**STEP_BASE, **v} for k, v in STEP_FIELDS.items()},
    # kinds the cockpit does not know: shown by their data
    "x.unknown": {"text": "t", "message": "m", "summary": "s", "detail": "d", "other": "o"},
}
KINDS: list[str] = list(KIND_FIELDS)


@dataclass(frozen=True)
class Written:
    """One record written: its id (``writer:seq``), kind, the tag its author starts with,
    and what was made hostile (for messages)."""

    id: str
    kind: str
    tag: str
    what: str


class HostileWriter:
    """Appends hash-valid records to ``state_dir/incidents/<incident>/journal/w-*.toml``.

    ``append`` takes any ``kind`` string and any data the encoder can represent;
    ``append_raw`` takes the envelope as raw TOML values. Each record is one ``os.write``
    (then an fsync, unless ``sync=False``), so a cockpit following the incident sees it
    whole as soon as it is written.
    """

    def __init__(self, state_dir: Path, incident_id: str, *, mode: str = "personal",
                 name: str | None = None, session_start: dict[str, Any] | None = None,
                 clock: float | None = None, sync: bool = True) -> None:
        self.state_dir = Path(state_dir)
        self.sync = sync  # fsync each record as the real writer does (readers see it anyway)
        self.incident_id = check_incident_id(incident_id)
        self.mode = mode
        ensure_tree(self.state_dir, ["incidents", incident_id, "journal"], mode)
        inc = incident_dir(self.state_dir, incident_id)
        for sub in ("outputs", "quarantine"):
            ensure_dir(inc / sub, mode)
        self.writer = name or f"w-mallory-{os.getpid()}-{secrets.token_hex(4)}"
        self.path = inc / "journal" / f"{self.writer}.toml"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND,
                           file_mode(mode))
        self._seq = 0
        self._prev = record.genesis(incident_id, self.path.name)
        self._header = True
        self._ts = clock if clock is not None else time.time()
        self.written: list[Written] = []
        if session_start is not False:
            self.append("session-start", session_start or dict(KIND_FIELDS["session-start"],
                                                                 incident=incident_id),
                        author="mallory")

    def _next_ts(self, ts: float | None) -> float:
        if ts is not None:
            return ts
        self._ts += 0.001  # strictly increasing: records keep their order when merged
        return self._ts

    def _write(self, rec: bytes, digest: str) -> str:
        out = (record.HEADER + rec) if self._header else rec
        n = os.write(self._fd, out)
        if n != len(out):
            raise OSError(f"short write ({n} of {len(out)} bytes)")
        if self.sync:
            os.fsync(self._fd)
        self._header = False
        self._prev = digest
        return f"{self.writer}:{self._seq}"

    def append(self, kind: str, data: dict[str, Any], *, author: str = "mallory",
               ts: float | None = None, what: str = "", tag: str = "") -> str:
        """One record with any kind and any data (no ``_KIND`` check, no validation)."""
        self._seq += 1
        try:
            rec, digest = record.encode_record(seq=self._seq, ts=self._next_ts(ts), kind=kind,
                                               author=author, data=data, prev=self._prev)
        except Exception:
            self._seq -= 1
            raise
        rid = self._write(rec, digest)
        self.written.append(Written(rid, kind, tag, what))
        return rid

    def append_raw(self, fields: dict[str, str | None], *, what: str = "", tag: str = "") -> str:
        """One record whose envelope is given as raw TOML: ``{"kind": "42", "ts": '"x"'}``.

        ``seq``, ``size``, ``prev`` and ``hash`` are filled in as the real writer does, so
        the record is hash-sealed and chained; the reader then decides whether its fields
        make an entry. Missing ``kind``/``author``/``ts``/``data`` get sane defaults; a field
        given as None is left out.
        """
        self._seq += 1
        env = {"ts": repr(self._next_ts(None)), "kind": record.quote("note"),
               "author": record.quote("mallory"), "data": "{}"}
        env.update(fields)
        lines = [f"seq = {self._seq}\n"]
        lines += [f"{record.key(k)} = {v}\n" for k, v in env.items() if v is not None]
        lines.append(f"prev = {record.quote(self._prev)}\n")
        body = "".join(lines).encode("utf-8")
        fixed = len(record.RECORD_START) + len(body) + len('hash = "sha256:"\n') + 64
        size = fixed + len("size = \n") + 1
        while True:
            new = fixed + len(f"size = {size}\n")
            if new == size:
                break
            size = new
        head = record.RECORD_START + f"size = {size}\n".encode() + body
        digest = record.sha(head)
        rid = self._write(head + f'hash = "{digest}"\n'.encode(), digest)
        self.written.append(Written(rid, env.get("kind") or "?", tag, what))
        return rid

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> HostileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------ what to write

def tag(n: int) -> str:
    """The visible handle of hostile record ``n``: its author starts with it, and the log
    line shows the first 16 characters of the author."""
    return f"h{n:04d}"


@dataclass(frozen=True)
class Case:
    """One hostile record to write: ``kind`` and ``data``, the author (tag first), and a
    description of what is hostile in it."""

    kind: str
    data: dict[str, Any]
    author: str
    what: str
    tag: str


def _label(i: int) -> str:
    return str(i) if i < len(PAYLOADS) else "joined"


def next_tag(cases: list[Case]) -> int:
    """The number after the last tag of ``cases`` (to continue numbering)."""
    return int(cases[-1].tag[1:]) + 1 if cases else 0


def _with(kind: str, field: str | None, value: Any) -> dict[str, Any]:
    data = dict(KIND_FIELDS.get(kind, KIND_FIELDS["x.unknown"]))
    if field is not None:
        data[field] = value
    return data


def step_ids(runbook: str = "database", count: int = 17) -> list[str]:
    """The first step ids of a built-in runbook (the navigator lists them in this order)."""
    from cockpit.runbooks import collect_library
    from cockpit.runbooks.library import builtin_dir as builtin_runbook_dir

    lib, _ = collect_library([builtin_runbook_dir()])
    rb = lib.get(runbook)
    ids = [s.id for s in rb.steps] if rb is not None else []
    ids = ids or ["isready"]
    return [ids[i % len(ids)] for i in range(count)]


def payload_cases(kinds: Iterable[str] = KINDS, *, start: int = 0,
                  author_payloads: bool = True) -> Iterator[Case]:
    """Every field of every kind set to each payload, and to the joined string.

    For each kind: 16 records whose every field holds payload *i* (so one payload cannot
    hide another), one record whose every field holds all of them joined, and (with
    ``author_payloads``) the author made of the tag followed by the payload. Records of
    kind ``incident.declared`` keep a numeric ``impact_start`` here: a string there is a
    wrong type (``wrong_type_cases``), and crashes today's cockpit at start (review F2).
    In step kinds, the records of payload *i* name a real step (the *i*-th of the
    database runbook, attempt 1), so the navigator folds and shows them; ``runbook``,
    ``step`` and ``attempt`` get the joined string.
    """
    n = start
    kinds = list(kinds)
    steps = step_ids() if any(k.startswith("step.") for k in kinds) else []
    for kind in kinds:
        fields = list(KIND_FIELDS.get(kind, KIND_FIELDS["x.unknown"]))
        for i, p in enumerate([*PAYLOADS, JOINED]):
            t = tag(n)
            data = {f: (p if f != "impact_start" else 1.0) for f in fields}
            if kind.startswith("step.") and i < len(PAYLOADS):
                # a real step, so that the navigator folds the record and shows it; the
                # joined record has runbook and step made of the payloads too
                data.update({"runbook": "database", "step": steps[i], "attempt": 1})
            author = f"{t} {p}" if author_payloads else t
            yield Case(kind, data, author, f"{kind}: every field = payload {_label(i)}", t)
            n += 1


def kind_cases(*, start: int = 0) -> Iterator[Case]:
    """Unknown kinds: the kind itself is each payload (and ``step.<payload>``), with a data
    key made of the payload too."""
    n = start
    for i, p in enumerate([*PAYLOADS, JOINED]):
        for kind in (p, f"step.{p}", f"incident.{p}"):
            t = tag(n)
            data = {p: p, "text": p} if not kind.startswith("step.") else {
                **STEP_BASE, "detail": p}
            yield Case(kind, data, t, f"kind = {kind!r} (payload {_label(i)})", t)
            n += 1


def note_type_cases(*, start: int = 0) -> Iterator[Case]:
    """Note types the CLI refuses: each payload (and the joined string)."""
    n = start
    for i, p in enumerate([*PAYLOADS, JOINED]):
        t = tag(n)
        yield Case("note", {"type": p, "text": f"note of type payload {_label(i)}"}, t,
                   f"note.type = payload {_label(i)}", t)
        n += 1


def wrong_type_cases(kinds: Iterable[str] = KINDS, *, start: int = 0, huge: bool = True,
                     values: list[tuple[str, Any]] | None = None,
                     one_at_a_time: bool = True) -> Iterator[Case]:
    """Every field of every kind set to each hostile non-string value; the 1 MB string
    (with ``huge``: in the last field of each kind, or of the first kind only when not
    ``one_at_a_time``); text in ``impact_start``.

    ``one_at_a_time``: one record per (field, value), the other fields well-formed.
    Otherwise (the 16 step kinds, whose fields are many and alike) two records per value:
    every field set to it, and every field but ``runbook``/``step`` (so the step fold
    reads the record rather than skipping it)."""
    n = start
    kinds = list(kinds)
    vals = HOSTILE_VALUES if values is None else values
    for kind in kinds:
        base = KIND_FIELDS.get(kind, KIND_FIELDS["x.unknown"])
        fields = list(base)
        if one_at_a_time:
            for f in fields:
                for name, v in vals:
                    t = tag(n)
                    yield Case(kind, _with(kind, f, v), t, f"{kind}.{f} = {name}", t)
                    n += 1
        else:
            for name, v in vals:
                t = tag(n)
                yield Case(kind, dict.fromkeys(fields, v), t, f"{kind}: every field = {name}", t)
                n += 1
                t = tag(n)
                data = {**dict.fromkeys(fields, v), "runbook": base.get("runbook", v),
                        "step": base.get("step", v)}
                yield Case(kind, data, t, f"{kind}: every field but runbook/step = {name}", t)
                n += 1
        if huge and fields and (one_at_a_time or kind == kinds[0]):
            for name, v in HUGE_VALUES:
                t = tag(n)
                yield Case(kind, _with(kind, fields[-1], v), t, f"{kind}.{fields[-1]} = {name}", t)
                n += 1
        if kind == "incident.declared":
            for i, p in enumerate(["yesterday", "1e9", *PAYLOADS]):
                t = tag(n)
                yield Case(kind, _with(kind, "impact_start", p), t,
                           f"incident.declared.impact_start = text {i}", t)
                n += 1


# Envelopes of the wrong type: (what, raw TOML fields). Each is hash-sealed and chained.
ENVELOPE_CASES: list[tuple[str, dict[str, str | None]]] = [
    ("kind = int", {"kind": "42"}),
    ("kind = list", {"kind": '["note"]'}),
    ("author = int", {"author": "7"}),
    ("author = table", {"author": '{ name = "x" }'}),
    ("ts = string", {"ts": record.quote("yesterday")}),
    ("ts = bool", {"ts": "true"}),
    ("ts = nan", {"ts": "nan"}),
    ("ts = inf", {"ts": "inf"}),
    ("ts = negative", {"ts": "-1e300"}),
    ("data = string", {"data": record.quote(JOINED)}),
    ("data = list", {"data": "[1, 2]"}),
    ("data = int", {"data": "3"}),
    ("retry_of = int", {"retry_of": "5"}),
    ("extra top-level keys", {"x1": "1", "x2": "2", "x3": "3", "x4": record.quote(JOINED)}),
    ("no kind", {"kind": None}),
    ("no data", {"data": None}),
]


def write_cases(w: HostileWriter, cases: Iterable[Case], *, ts: float | None = None) -> list[Case]:
    """Append every case; returns them (in order)."""
    out = []
    for c in cases:
        w.append(c.kind, c.data, author=c.author, what=c.what, tag=c.tag, ts=ts)
        out.append(c)
    return out
