"""Hash-valid is not well-formed (issue 17): every record read is checked against its kind's
schema; one that fails is an unreadable entry in its place (never folded), the chain goes
on, and every reader (full read, follower, preview, verify) says the same."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from security.hostile_writer import KIND_FIELDS, HostileWriter

from cockpit.incident.fold import fold
from cockpit.incident.log import describe
from cockpit.incident.store import IncidentStore
from cockpit.journal import Follower, Journal, read_incident, verify_incident
from cockpit.journal import validate as V
from cockpit.journal.model import UNREADABLE
from cockpit.journal.watch import preview_tail
from cockpit.runbooks import state as steps
from cockpit.timeutil import FixedClock


def _unreadable(entries):
    return [e for e in entries if e.kind == UNREADABLE]


def test_every_record_the_incident_store_writes_is_well_formed(state_dir):
    clock = FixedClock(1_764_310_000.0)
    store = IncidentStore(state_dir, clock=clock)
    iid = store.declare("Primary DB down", "P0", ["database"], impact_start=clock.now() - 60)
    store.set_status(iid, "responding")
    store.assign(iid, "commander", "alice")
    store.assign(iid, "commander", "bob")
    for t in ("observation", "decision", "action", "communication"):
        store.note(iid, f"a {t}\nover two lines", t)
    store.update(iid, severity="P1", services=["database", "backend"], title="renamed")
    j = store.journal(iid)
    j.append("health", {"service": "database", "status": "fail", "summary": "refused"})
    j.append("recovered", {"detail": "a torn tail moved to quarantine/"})
    st = steps.StepState("database", "isready", state=steps.FAILED, attempt=1)
    steps.record_verify(j, st, False, "exit code 1")
    steps.override(j, st, "checked by hand")
    steps.skip(j, st, "not needed")
    steps.mark_failed(j, st, "it failed")
    steps.retry(j, st, "try again")
    steps.confirm(j, steps.StepState("database", "isready", state=steps.SUCCEEDED,
                                     attempt=1, verify=True), None)
    store.close()
    entries = read_incident(state_dir, iid).entries
    assert _unreadable(entries) == []
    assert len(entries) == 18  # session-start and the 17 entries written
    res = verify_incident(state_dir, iid)
    assert res.clean and res.unreadable == []


@pytest.mark.parametrize("kind,data,reason", [
    ("incident.status", {"status": "\x1b]0;PWNED\x07"}, "status: expected one of closed"),
    ("incident.status", {"status": "declared"}, "status: expected one of"),
    ("incident.status", {}, "status: missing"),
    ("incident.declared", {"title": "t", "severity": "P1", "services": [],
                           "impact_start": "yesterday"}, "impact_start: expected a number"),
    ("incident.declared", {"title": "t", "severity": "P1", "services": 3},
     "services: expected a list of strings"),
    ("incident.declared", {"title": "t", "severity": "P9", "services": []},
     "severity: expected one of P0, P1, P2, P3"),
    ("incident.declared", {"title": "t", "severity": "P1", "services": [],
                           "impact_start": math.nan}, "impact_start: nan is outside"),
    ("incident.declared", {"title": "t", "severity": "P1", "services": [],
                           "impact_start": 1e300}, "impact_start: 1e+300 is outside"),
    ("incident.updated", {"services": ["db", 7]}, "services: element 1: expected a string"),
    ("note", {"type": "[@click=app.quit]x[/]", "text": "t"}, "type: expected one of action"),
    ("note", {"type": "action", "text": 5}, "text: expected a string, got an integer"),
    ("note", {"type": "action", "text": "t", "extra": math.inf}, "extra: inf is not a finite"),
    ("role.assigned", {"role": "king", "person": "x"}, "role: expected one of commander"),
    ("role.assigned", {"role": "scribe", "person": "  "}, "person: empty"),
    ("health", {"service": "db", "status": "green"}, "status: expected one of fail"),
    ("step.started", {"runbook": "database", "step": "s", "attempt": -1},
     "attempt: -1 is outside 0..1000000"),
    ("step.output", {"runbook": "database", "step": "s", "attempt": 1, "bytes": "10"},
     "bytes: expected an integer, got a string"),
    ("step.succeeded", {"runbook": "database", "step": "s", "attempt": True},
     "attempt: expected an integer, got a boolean"),
    ("session-start", {"user": "x"}, "uid: missing"),
    ("x.unknown", {"text": "t"}, "unknown kind 'x.unknown'"),
    ("\x1b]0;PWNED\x07", {}, "unknown kind '\\x1b]0;PWNED\\x07'"),
])
def test_a_record_that_breaks_its_schema_is_unreadable(tmp_path, kind, data, reason):
    iid = "20990101-000000-schema-0001"
    with HostileWriter(tmp_path, iid) as w:
        w.append("incident.declared", KIND_FIELDS["incident.declared"], author="alice")
        bad = w.append(kind, data, author="mallory")
        w.append("note", {"type": "observation", "text": "after"}, author="alice")
    entries = read_incident(tmp_path, iid).entries
    got = [e for e in entries if e.id == bad]
    assert len(got) == 1 and got[0].kind == UNREADABLE, got
    assert got[0].data["reason"].startswith(reason), got[0].data["reason"]
    assert got[0].author == "mallory" and got[0].verified
    assert entries[-1].kind == "note" and entries[-1].verified  # the chain goes on
    label, text = describe(got[0])
    assert label == "unreadable"
    assert text.startswith(f"unreadable record from {w.writer} seq 3: ")
    assert "\x1b" not in text and "\x07" not in text
    # never folded: the declared incident keeps its well-formed state
    st = fold(entries)
    assert st is not None and st.status == "declared" and st.severity == "P1"
    res = verify_incident(tmp_path, iid)
    assert res.ok and not res.clean and len(res.unreadable) == 1


def test_every_reader_says_the_same(tmp_path):
    """The full read, the follower (incremental), the preview and verify: the same
    unreadable records, in the same place (a bad ``ts`` takes the previous record's)."""
    iid = "20990101-000000-readers-0001"
    w = HostileWriter(tmp_path, iid, clock=1000.0)
    w.append("note", {"type": "observation", "text": "one"}, author="a")
    f = Follower(tmp_path, iid)
    first = f.poll()
    w.append_raw({"ts": "nan"}, what="nan ts")
    w.append_raw({"data": '"a string"'}, what="data not a table")
    w.append("note", {"type": "observation", "text": "two"}, author="a")
    w.close()
    later = f.poll()
    full = read_incident(tmp_path, iid).entries
    assert [e.kind for e in full] == ["session-start", "note", UNREADABLE, UNREADABLE, "note"]
    assert [(e.id, e.kind, e.ts) for e in first + later] == [(e.id, e.kind, e.ts) for e in full]
    nan = full[2]
    assert nan.ts == full[1].ts and nan.data["reason"].startswith("ts: nan is outside")
    assert full[3].data["reason"] == "data: expected a table, got a string"
    assert [(e.id, e.kind) for e in preview_tail(tmp_path, iid)] == [(e.id, e.kind) for e in full]
    res = verify_incident(tmp_path, iid)
    assert res.ok and res.count == 5 and len(res.unreadable) == 2
    assert f.problems == []


def test_check_data_accepts_what_the_schema_names():
    for kind, data in KIND_FIELDS.items():
        if kind == "x.unknown":
            assert V.check_data(kind, data) is not None
        else:
            assert V.check_data(kind, data) is None, (kind, V.check_data(kind, data))


def test_the_schema_knows_every_step_kind():
    assert set(steps.KINDS) <= set(V.KINDS)


def test_journal_writer_kinds_are_in_the_schema(state_dir):
    with Journal(state_dir, "k"):
        pass
    entries = read_incident(state_dir, "k").entries
    assert [e.kind for e in entries] == ["session-start"]
    assert {"user", "uid", "euid"} <= set(entries[0].data)


_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True),
    st.text(max_size=5), st.sampled_from(["", " ", "responding", "P1", "action", "ok",
                                          "commander", "step", "database"]),
    st.lists(st.text(max_size=3), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                st.integers(), max_size=2))


@settings(max_examples=500, deadline=None)
@given(kind=st.sampled_from(sorted(V.KINDS)), changes=st.dictionaries(
    st.sampled_from(["status", "severity", "title", "services", "impact_start", "type", "text",
                     "role", "person", "service", "summary", "runbook", "step", "attempt",
                     "run", "argv", "bytes", "duration", "uid", "user", "extra", "detail"]),
    _values, max_size=2))
def test_the_generated_check_agrees_with_the_plain_one(kind, changes):
    """The fast check generated per kind accepts exactly what the field-by-field check
    accepts, and the reason is always the plain check's: a well-formed record of the kind
    with one or two fields changed (None: removed)."""
    data = dict(KIND_FIELDS.get(kind, {}))
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    assert V.check_data(kind, data) == V._slow_check(kind, data)
