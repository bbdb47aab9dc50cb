"""Hash-valid is not well-formed: every record read is checked against its kind's schema.

A record whose chain is intact proves only who could have written it, not that the writer
was one of ours: any engineer of a shared state directory (or a synced bundle) can write
records the CLI would refuse. So each record, once its hash and chain are checked, is
checked here: its envelope (``ts`` a finite time, ``kind``, ``author`` and ``data`` of their
types, no unknown top-level field) and its data against the schema of its kind (a known
kind, field types, enumerations, ranges; an unknown field may hold any plain value, never
a date or a non-finite number).

A record that fails is never folded: the reader replaces it by an entry of kind
``UNREADABLE`` (which nothing folds), whose data says why and keeps the record's raw
fields for the entry view and ``cockpit log --json``; the log shows it as
"unreadable record from WRITER seq N: reason", ``cockpit verify`` reports it. Its
``ts`` is the record's own when that is a valid time, else the time of the record before
it in the same file (so it stays where it was written).

The schema follows what the cockpit writes: ``cockpit.incident.model`` (incident kinds),
``cockpit.runbooks.state`` (``step.*``), ``cockpit.journal.writer`` (``session-start``,
``recovered``). ``tests/journal/test_validate.py`` checks that every record the cockpit
itself writes passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..incident.model import LIFECYCLE, NOTE_TYPES, ROLES
from ..plan import SEVERITIES
from ..text import one_line
from .model import UNREADABLE, Entry

TS_MIN = 0.0
TS_MAX = 253402300799.0  # 9999-12-31T23:59:59Z: what time.gmtime and datetime can show
MAX_ID = 1024  # characters of an identifier-like field (service, runbook, step, host)
MAX_NAME = 4096  # a person or an author: whatever the CLI took (its caller's own words)
MAX_AUTHOR = MAX_NAME
MAX_ITEMS = 1000  # elements of a list field (services, argv, env names)
MAX_DEPTH = 16  # nesting of an unknown field's value
ENVELOPE = frozenset({"size", "seq", "ts", "kind", "author", "data", "prev", "hash",
                      "retry_of"})

Check = Callable[[Any], str | None]


def _show(v: Any) -> str:
    """A value in a reason: its repr (escapes every control), short."""
    if isinstance(v, str):
        return one_line(repr(v if len(v) <= 60 else v[:60] + "..."), 80)
    if isinstance(v, dict | list):
        return f"a {'table' if isinstance(v, dict) else 'list'} of {len(v)}"
    return one_line(repr(v), 60)


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    return {str: "a string", int: "an integer", float: "a number", list: "a list",
            dict: "a table"}.get(type(v), f"a {type(v).__name__} value")


def text(limit: int | None = None) -> Check:
    def check(v: Any) -> str | None:
        if type(v) is not str:
            return f"expected a string, got {_type_name(v)}"
        if limit is not None and len(v) > limit:
            return f"longer than {limit} characters ({len(v)})"
        return None
    if limit is None:
        check.fast = str  # type: ignore[attr-defined]
    return check


def ident(limit: int = MAX_ID) -> Check:
    """A non-empty short string."""
    base = text(limit)

    def check(v: Any) -> str | None:
        return base(v) or (None if v.strip() else "empty")
    check.fast = ("ident", limit)  # type: ignore[attr-defined]
    return check


def enum(values: tuple[str, ...] | frozenset[str]) -> Check:
    allowed = frozenset(values)
    words = ", ".join(sorted(allowed)) if len(allowed) < 12 else f"{len(allowed)} known values"

    def check(v: Any) -> str | None:
        if type(v) is str and v in allowed:
            return None
        return f"expected one of {words}, got {_show(v)}"
    check.fast = allowed  # type: ignore[attr-defined]
    return check


def integer(lo: int, hi: int) -> Check:
    def check(v: Any) -> str | None:
        if type(v) is not int:
            return f"expected an integer, got {_type_name(v)}"
        if not lo <= v <= hi:
            return f"{v} is outside {lo}..{hi}"
        return None
    check.fast = (lo, hi)  # type: ignore[attr-defined]
    return check


def number(lo: float, hi: float) -> Check:
    def check(v: Any) -> str | None:
        if type(v) is not float and type(v) is not int:
            return f"expected a number, got {_type_name(v)}"
        if not math.isfinite(v) or not lo <= v <= hi:
            return f"{_show(v)} is outside {lo:g}..{hi:g}"
        return None
    check.fast = ("number", lo, hi)  # type: ignore[attr-defined]
    return check


def boolean(v: Any) -> str | None:
    return None if type(v) is bool else f"expected true or false, got {_type_name(v)}"


def strings(limit: int = MAX_ID, items: int = MAX_ITEMS) -> Check:
    each = text(limit)

    def check(v: Any) -> str | None:
        if type(v) is not list:
            return f"expected a list of strings, got {_type_name(v)}"
        if len(v) > items:
            return f"more than {items} elements ({len(v)})"
        for i, x in enumerate(v):
            r = each(x)
            if r:
                return f"element {i}: {r}"
        return None
    return check


def plain(v: Any, depth: int = 0) -> str | None:
    """Any value a field the schema does not name may hold: strings, booleans, integers,
    finite numbers, and lists / tables of them (no dates, no NaN or infinities)."""
    t = type(v)
    if t is str or t is bool or t is int:
        return None
    if t is float:
        return None if math.isfinite(v) else f"{v!r} is not a finite number"
    if depth >= MAX_DEPTH:
        return "nested too deeply"
    if t is list:
        for x in v:
            r = plain(x, depth + 1)
            if r:
                return r
        return None
    if t is dict:
        for x in v.values():
            r = plain(x, depth + 1)
            if r:
                return r
        return None
    return f"{_type_name(v)} is not allowed"


# ------------------------------------------------------------------ the schema

TIME = number(TS_MIN, TS_MAX)
COUNT = integer(0, 2**62)
PID = integer(0, 2**31 - 1)
ATTEMPT = integer(0, 1_000_000)
SECONDS = number(0.0, 10 * 365 * 86400.0)
FREE = text()  # free text: bounded by the record size (1 MiB)
HEALTH_STATUS = ("ok", "warn", "fail", "stale", "unknown")

# kind -> ({field: check}, required fields)
Schema = tuple[Mapping[str, Check], frozenset[str]]


def _kind(fields: Mapping[str, Check], required: tuple[str, ...] = ()) -> Schema:
    return dict(fields), frozenset(required)


_STEP_BASE: dict[str, Check] = {"runbook": ident(), "step": ident(), "attempt": ATTEMPT,
                                "detail": FREE}
_RUN: dict[str, Check] = {"run": ident()}
_START: dict[str, Check] = {
    **_RUN, "argv": strings(1 << 20), "cwd": text(4096), "env": strings(),
    "timeout": SECONDS, "supervisor_pid": PID, "host": text(MAX_ID), "dry_run": boolean,
    "subreaper": boolean, "output": text(4096), "remote": text(MAX_ID),
}
_RESULT: dict[str, Check] = {
    **_RUN, "exit_code": integer(-(2**31), 2**31), "signal": text(64), "duration": SECONDS,
    "timed_out": boolean, "escaped_killed": COUNT, "bytes": COUNT, "sha256": text(64),
    "passed": boolean, "supervisor_maxrss_kib": COUNT,
}
_REASON: dict[str, Check] = {"reason": FREE}


def _step(fields: Mapping[str, Check]) -> Schema:
    return _kind({**_STEP_BASE, **fields}, ("runbook", "step", "attempt"))


KINDS: dict[str, Schema] = {
    "session-start": _kind({
        "user": text(MAX_AUTHOR), "uid": integer(0, 2**32 - 1), "euid": integer(0, 2**32 - 1),
        "host": text(MAX_ID), "pid": PID, "boot_id": text(MAX_ID),
        "mono_ns": integer(0, 2**63 - 1), "app": text(MAX_ID), "incident": text(MAX_ID),
        "mode": enum(("personal", "shared")),
    }, ("user", "uid")),
    "recovered": _kind({"detail": FREE}),
    "incident.declared": _kind({
        "title": FREE, "severity": enum(SEVERITIES), "services": strings(),
        "impact_start": TIME,
    }, ("title", "severity", "services")),
    "incident.status": _kind({"status": enum(LIFECYCLE[1:])}, ("status",)),
    "incident.updated": _kind({"title": FREE, "severity": enum(SEVERITIES),
                               "services": strings()}),
    "role.assigned": _kind({"role": enum(ROLES), "person": ident(MAX_NAME),
                            "handover_from": text(MAX_NAME)}, ("role", "person")),
    "note": _kind({"type": enum(NOTE_TYPES), "text": FREE}),
    # the flight recorder (cockpit/incident/recorder.py): what a health pane showed
    "health": _kind({"service": ident(), "status": enum(HEALTH_STATUS), "summary": FREE,
                     "key_figure": text(MAX_ID), "rpo_exposure": SECONDS,
                     "observed_at": TIME}, ("service", "status")),
    # a post-incident review journaled back (``cockpit pir --done``)
    "review.done": _kind({"file": text(4096), "bytes": COUNT, "sha256": text(64)}),
    "step.claimed": _step({**_RUN, "host": text(MAX_ID), "pid": PID,
                           "confirmation": text(64)}),
    "step.started": _step(_START),
    "step.output": _step({**_RUN, "run_kind": enum(("step", "rollback", "verify")),
                          "path": text(4096), "bytes": COUNT, "sha256": text(64),
                          "redactions": COUNT}),
    "step.succeeded": _step(_RESULT),
    "step.failed": _step(_RESULT),
    "step.confirmed": _step({}),
    "step.failed_marked": _step(_REASON),
    "step.skipped": _step(_REASON),
    "step.rollback_started": _step({**_START, "rollback_attempt": ATTEMPT}),
    "step.rolled_back": _step(_RESULT),
    "step.rollback_failed": _step(_RESULT),
    "step.verify_passed": _step(_RESULT),
    "step.verify_failed": _step(_RESULT),
    "step.overridden": _step(_REASON),
    "step.retry": _step(_REASON),
    "step.dry_run": _step({"run_kind": enum(("step", "rollback", "verify")),
                           "argv": strings(1 << 20), "cwd": text(4096), "env": strings(),
                           "timeout": SECONDS, "remote": text(MAX_ID)}),
    # an exercise's own entries (cockpit/exercise/store.py); the values the exercise code
    # judges itself (a clock action, an audience, a mark) are checked for their type here
    # and for their meaning there, where a wrong one is shown and named
    "exercise.started": _kind({
        "scenario": FREE, "sha256": text(64), "scenario_id": text(MAX_ID), "title": FREE,
        "category": text(MAX_ID), "source": FREE, "facilitator": text(MAX_AUTHOR),
        "speed": number(0.0, 1e6), "exercise": boolean,
    }, ("scenario",)),
    "exercise.clock": _kind({"action": text(MAX_ID), "speed": number(0.0, 1e6),
                             "to": SECONDS, "comment": FREE}, ("action",)),
    "exercise.inject": _kind({"spare": text(MAX_ID), "synopsis": FREE,
                              "audience": text(MAX_ID)}),
    "exercise.mark": _kind({"outcome": text(MAX_ID), "mark": text(MAX_ID), "comment": FREE},
                           ("outcome", "mark")),
    "exercise.joined": _kind({"roles": strings()}),
    # a drill run's own entries (cockpit/drills/store.py); ``tables`` is a table of
    # [restored, primary] row counts, checked as plain data
    "drill.started": _kind({"drill": ident(), "runbook": text(MAX_ID),
                            "scenario": text(MAX_ID), "title": FREE, "kind": text(MAX_ID)},
                           ("drill",)),
    "drill.result": _kind({
        "drill": ident(), "outcome": enum(("passed", "failed", "aborted")), "detail": FREE,
        "note": FREE, "restore_seconds": SECONDS, "rto": SECONDS,
        "data_loss_seconds": SECONDS, "rpo": SECONDS, "restored_commit": TIME,
        "primary_commit": TIME, "failed_step": text(MAX_ID), "backup_tool": text(MAX_ID),
    }, ("drill", "outcome")),
}


def _fast_form(check: Check) -> Any:
    """A form of ``check`` tested inline (no call) in the usual, valid case: ``str`` (any
    string), a frozenset (one of these strings), ``("ident", limit)`` (a short non-blank
    string), ``("number", lo, hi)`` (a number in range), a (lo, hi) pair (an integer in
    range); None: call the check."""
    return getattr(check, "fast", None)


# kind -> (required, {field: fast form}, {field: check}): ``check_data`` runs ~100,000 times
# when a big incident loads; the valid case must cost a few dict look-ups per field.
_COMPILED: dict[str, tuple[frozenset[str], dict[str, Any], Mapping[str, Check]]] = {}


def _compiled(kind: str) -> tuple[frozenset[str], dict[str, Any], Mapping[str, Check]] | None:
    c = _COMPILED.get(kind)
    if c is None:
        spec = KINDS.get(kind)
        if spec is None:
            return None
        fields, required = spec
        c = _COMPILED[kind] = (required, {k: _fast_form(f) for k, f in fields.items()}, fields)
    return c


_SIMPLE = (str, int, bool)
_MISSING = object()


def _slow_check(kind: str, data: dict[str, Any]) -> str | None:
    """The reason ``data`` is not a valid record of ``kind`` (None: it is)."""
    compiled = _compiled(kind)
    if compiled is None:
        return f"unknown kind {_show(kind)}"
    required, fast, fields = compiled
    for f in sorted(required):
        if f not in data:
            return f"{f}: missing"
    for k, v in data.items():
        c = fields.get(k)
        r = plain(v) if c is None else c(v)
        if r is not None:
            return f"{one_line(k, 40)}: {r}"
    return None


def _generate(kind: str) -> Callable[[dict[str, Any]], str | None]:
    """A function that accepts the usual, valid ``data`` of ``kind`` with a dict look-up and
    an inline test per field of the schema (no call), and hands anything else to
    ``_slow_check`` for the reason: loading a big incident checks ~100,000 records."""
    required, fast, fields = _compiled(kind) or (frozenset(), {}, {})
    env: dict[str, Any] = {"_slow": _slow_check, "_kind": kind, "_isfinite": math.isfinite,
                           "_SIMPLE": _SIMPLE, "_str": str, "_int": int, "_float": float,
                           "_M": _MISSING, "_known": frozenset(fast)}
    lines = ["def check(data):", "    n = 0"]
    for i, (f, form) in enumerate(fast.items()):
        env[f"_f{i}"] = f
        if form is str:
            test = "type(v) is _str"
        elif type(form) is frozenset:
            env[f"_e{i}"] = form
            test = f"type(v) is _str and v in _e{i}"
        elif type(form) is tuple and form[0] == "ident":
            test = f"type(v) is _str and 0 < len(v) <= {form[1]} and not v.isspace()"
        elif type(form) is tuple and form[0] == "number":
            test = f"(type(v) is _float or type(v) is _int) and {form[1]!r} <= v <= {form[2]!r}"
        elif type(form) is tuple:
            test = f"type(v) is _int and {form[0]} <= v <= {form[1]}"
        else:
            env[f"_c{i}"] = fields[f]
            test = f"_c{i}(v) is None"
        lines += [f"    v = data.get(_f{i}, _M)",
                  "    if v is not _M:",
                  "        n += 1",
                  f"        if not ({test}): return _slow(_kind, data)"]
        if f in required:
            lines.append("    else: return _slow(_kind, data)")
    lines += ["    if len(data) != n:  # fields the schema does not name: any plain value",
              "        for k, v in data.items():",
              "            if k in _known: continue",
              "            t = type(v)",
              "            if t in _SIMPLE or (t is _float and _isfinite(v)): continue",
              "            return _slow(_kind, data)",
              "    return None"]
    exec("\n".join(lines), env)  # noqa: S102 - code built from the schema table above
    fn: Callable[[dict[str, Any]], str | None] = env["check"]
    return fn


# kind -> its generated check, made the first time a record of the kind is checked (the
# reader's fast path looks kinds up here: a kind not in it takes ``entry``, which makes it)
CHECKERS: dict[str, Callable[[dict[str, Any]], str | None]] = {}


def check_data(kind: str, data: dict[str, Any]) -> str | None:
    """Why ``data`` is not a valid record of ``kind`` (None: it is)."""
    fn = CHECKERS.get(kind)
    if fn is None:
        if kind not in KINDS:
            return f"unknown kind {_show(kind)}"
        fn = CHECKERS[kind] = _generate(kind)
    return fn(data)


def check_envelope(d: Mapping[str, Any]) -> str | None:
    """Why a record's top-level fields do not make an entry (None: they do). ``seq``,
    ``size``, ``prev`` and ``hash`` were checked with the chain."""
    extra = [k for k in d if k not in ENVELOPE]
    if extra:
        return f"unknown record field {_show(extra[0])}"
    for name in ("kind", "author", "ts", "data"):
        if name not in d:
            return f"no {name}"
    kind, author, ts, data = d["kind"], d["author"], d["ts"], d["data"]
    if type(kind) is not str or not kind:
        return f"kind: expected a string, got {_show(kind)}"
    if type(author) is not str:
        return f"author: expected a string, got {_type_name(author)}"
    if len(author) > MAX_AUTHOR:
        return f"author: longer than {MAX_AUTHOR} characters"
    r = TIME(ts)
    if r:
        return f"ts: {r}"
    if type(data) is not dict:
        return f"data: expected a table, got {_type_name(data)}"
    retry = d.get("retry_of")
    if retry is not None and type(retry) is not str:
        return f"retry_of: expected a string, got {_type_name(retry)}"
    return None


def entry(writer: str, d: Mapping[str, Any], digest: str, *, verified: bool = True,
          last_ts: float = 0.0) -> Entry:
    """The entry for a hash-valid record ``d``: itself when well-formed, else an
    ``UNREADABLE`` entry saying why."""
    raw_seq = d.get("seq")
    seq = raw_seq if isinstance(raw_seq, int) else 0
    reason = check_envelope(d)
    if reason is None:
        reason = check_data(d["kind"], d["data"])
        if reason is None:
            retry = d.get("retry_of")
            return Entry(writer, seq, float(d["ts"]), d["author"], d["kind"], d["data"],
                         digest, retry, verified)
    return unreadable(writer, seq, d, digest, reason, verified=verified, last_ts=last_ts)


def unreadable(writer: str, seq: int, d: Mapping[str, Any], digest: str, reason: str, *,
               verified: bool = True, last_ts: float = 0.0) -> Entry:
    ts: Any = d.get("ts")
    good_ts = TIME(ts) is None
    author = d.get("author")
    show_author = author[:MAX_AUTHOR] if type(author) is str else "?"
    raw = {k: d[k] for k in ("kind", "author", "ts", "data", "retry_of") if k in d}
    data = {"reason": reason, "writer": writer, "seq": seq, "record": raw}
    return Entry(writer, seq, float(ts) if good_ts else last_ts, show_author, UNREADABLE,
                 data, digest, None, verified)


def is_unreadable(e: Any) -> bool:
    return getattr(e, "kind", None) == UNREADABLE


def unreadable_line(e: Any) -> str:
    """"unreadable record from WRITER seq N: reason" (untrusted parts escaped)."""
    d = e.data or {}
    return (f"unreadable record from {one_line(d.get('writer', '?'), 80)} seq "
            f"{one_line(d.get('seq', '?'), 20)}: {one_line(d.get('reason', '?'), 300)}")
