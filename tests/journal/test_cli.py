"""``verify`` and ``log`` CLI handlers."""

from __future__ import annotations

import argparse
import json

import pytest

from cockpit.cli.journal import add_parsers
from cockpit.journal import Journal
from cockpit.timeutil import FixedClock


def run(state_dir, *argv):
    parser = argparse.ArgumentParser(prog="cockpit")
    sub = parser.add_subparsers(dest="cmd", required=True)
    add_parsers(sub)
    args = parser.parse_args(list(argv))
    args.state_dir = state_dir
    return args.func(args)


@pytest.fixture
def incident(state_dir):
    clock = FixedClock(1_764_310_414.0)
    with Journal(state_dir, "inc-1", author="alice\x1b[31m", clock=clock) as j:
        clock.advance(1)
        j.append("note", {"text": "DB down\n\x1b]0;pwned\x07 \u202eevil"})
        clock.advance(1)
        j.append("step.succeeded", {"runbook": "database", "step": "isready", "attempt": 1,
                                    "exit_code": 0, "detail": "done"})
        return j.path


def test_verify_ok(state_dir, incident, capsys):
    assert run(state_dir, "verify", "inc-1") == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 3 records in 1 journal files")


def test_verify_reports_first_bad_record(state_dir, incident, capsys):
    raw = incident.read_bytes()
    incident.write_bytes(raw.replace(b"exit_code = 0", b"exit_code = 1"))
    assert run(state_dir, "verify", "inc-1") == 1
    out = capsys.readouterr().out.strip()
    line = raw[: raw.index(b"kind = \"step.succeeded\"")].rfind(b"[[entry]]")
    expect_line = raw.count(b"\n", 0, line) + 1
    assert out == f"{incident}:{expect_line}: seq 3: hash mismatch: the record was changed"


def test_verify_bad_and_unknown_incident(state_dir, capsys):
    assert run(state_dir, "verify", "../etc") == 2
    err = capsys.readouterr().err
    assert "invalid incident id" in err and "Traceback" not in err
    assert run(state_dir, "verify", "nope") == 1
    assert "no such incident: nope (in " in capsys.readouterr().err


def test_log_text_is_terminal_safe(state_dir, incident, capsys):
    assert run(state_dir, "log", "inc-1") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 2  # the session-start bookkeeping record only with --all
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert lines[0].startswith("2025-11-28T06:13:35.000Z alice")
    assert "note: DB down" in lines[0] or "observation: DB down" in lines[0]
    assert "succeeded" in lines[1] and "database/isready done" in lines[1]
    assert run(state_dir, "log", "inc-1", "--all") == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_log_json(state_dir, incident, capsys):
    assert run(state_dir, "log", "inc-1", "--json") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["kind"] for r in rows] == ["session-start", "note", "step.succeeded"]
    assert rows[1]["data"]["text"] == "DB down\n\x1b]0;pwned\x07 \u202eevil"
    assert rows[1]["id"].endswith(":2") and rows[1]["seq"] == 2


def test_log_reports_damage_on_stderr(state_dir, incident, capsys):
    raw = incident.read_bytes()
    incident.write_bytes(raw.replace(b"exit_code = 0", b"exit_code = 1"))
    assert run(state_dir, "log", "inc-1") == 1
    cap = capsys.readouterr()
    assert "[UNVERIFIED]" in cap.out
    assert f"{incident}:" in cap.err and "hash mismatch" in cap.err


def test_log_unknown_and_bad_incident(state_dir, capsys):
    assert run(state_dir, "log", "nope") == 1
    assert "no such incident" in capsys.readouterr().err
    assert run(state_dir, "log", "a/b", "--json") == 2
    err = capsys.readouterr().err
    assert "invalid incident id" in err and "Traceback" not in err


def test_an_unknown_kind_is_an_unreadable_record(state_dir, capsys):
    """Hash-valid is not well-formed (issue 17): a record of a kind the cockpit does not know
    verifies as a chain but is reported, listed by log (exit 1) and never folded."""
    with Journal(state_dir, "inc-2", author="alice") as j:
        j.append("step-done", {"step": 3, "rc": 0})
        name = j.writer
    assert run(state_dir, "verify", "inc-2") == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "chains intact: 2 records in 1 journal files, but:"
    assert out[1] == f"unreadable record from {name} seq 2: unknown kind 'step-done'"
    assert out[-1].startswith("NOT OK: 1 unreadable record ")
    assert run(state_dir, "log", "inc-2") == 1
    cap = capsys.readouterr()
    assert f"unreadable: unreadable record from {name} seq 2: unknown kind" in cap.out
    assert "1 unreadable record" in cap.err
    assert run(state_dir, "log", "inc-2", "--json") == 1
    row = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert row["kind"] == "step-done" and row["data"] == {"step": 3, "rc": 0}
    assert row["unreadable"] == "unknown kind 'step-done'"
