"""``cockpit exercise`` commands: every output marked EXERCISE, documented exit codes, the
after-action report in its HSEEP/CISA shape, untrusted text escaped on the way out."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from cockpit.exercise.report import md
from cockpit.exercise.store import ExerciseStore

from .helpers import Exercise, library_scenario

HOSTILE = "pwned \x1b]52;c;SGVsbG8=\x07 | # *bold* <script> \u202eevil"


def cli(state, *argv):
    return subprocess.run([sys.executable, "-m", "cockpit", "--state-dir", str(state), *argv],
                          capture_output=True, text=True,
                          env={**os.environ, "COCKPIT_NO_SYSLOG": "1"})


@pytest.fixture
def played(tmp_path):
    """An exercise of the demo's scenario, played by alice, with a hostile note."""
    state = tmp_path / "state"
    _s, text = library_scenario("database-loss")
    x = Exercise(state, text, exercise_id="20270115-080000-database-loss-0001")
    x.at(2).write("carol", "exercise.joined", {"roles": ["communications"]})
    x.at(2).write("carol", "exercise.joined", {"roles": ["commander", "\u202ebogus"]})
    x.at(3).write("alice", "incident.declared", {"title": "DB down", "severity": "P0",
                                                 "services": ["database", "backend"],
                                                 "exercise": x.id})
    x.at(4).write("alice", "role.assigned", {"role": "commander", "person": "alice"})
    x.at(5).write("mallory", "note", {"type": "observation", "text": HOSTILE})
    x.at(9).write("alice", "note", {"type": "communication", "text": "status page updated"})
    x.facilitator.mark(x.id, "data-loss-answer", "partly", "RPO right, no estimate")
    x.at(31).clock("end")
    x.close()
    return state, x.id


def test_start_prints_the_id_and_the_next_commands(tmp_path):
    state = tmp_path / "state"
    out = cli(state, "exercise", "start", "bad-deployment")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert all(ln.startswith("EXERCISE ") for ln in lines) and len(lines) == 3
    xid = lines[0].split()[1]
    assert f"cockpit exercise facilitate {xid}" in lines[1]
    assert f"cockpit exercise join {xid}" in lines[2]
    # as they must be typed: with the state directory given here (cli() passes --state-dir)
    assert lines[1].endswith(f"--state-dir {state}") and lines[2].endswith(f"--state-dir {state}")
    q = cli(state, "exercise", "start", "-q", "--running", "--speed", "10", "data-breach")
    assert q.returncode == 0 and q.stdout.strip().endswith("data-breach-" + q.stdout[-5:-1])
    store = ExerciseStore(state)
    try:
        rows = store.list()
        assert {r.record.scenario.id for r in rows} == {"bad-deployment", "data-breach"}
        assert store.resolve("latest") == q.stdout.strip()
    finally:
        store.close()


@pytest.mark.parametrize("argv,fragment", [
    (["exercise", "start", "no-such"], "no scenario 'no-such'"),
    (["exercise", "start", "database-loss", "--speed", "100"], "the speed must be from 1 to 60"),
    (["exercise", "start", "nothing/here.toml"], "no such scenario file"),
    (["exercise", "report", "latest"], "no exercise in"),
    (["exercise", "join", "../etc"], "invalid incident id"),
])
def test_refusals_are_one_line_and_exit_2(tmp_path, argv, fragment):
    out = cli(tmp_path / "state", *argv)
    assert out.returncode == 2 and fragment in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_list_log_verify_say_exercise_on_every_line(played):
    state, xid = played
    for argv in (["exercise", "list"], ["exercise", "log", xid], ["exercise", "verify", xid],
                 ["exercise", "scenarios"]):
        out = cli(state, *argv)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines and all(ln.startswith("EXERCISE ") for ln in lines), (argv, out.stdout)
        assert "\x1b" not in out.stdout and "\u202e" not in out.stdout
    log = cli(state, "exercise", "log", xid).stdout
    assert "EXERCISE T+0:03:00 alice declared: P0 DB down" in log
    assert "EXERCISE T+0:31:00 fac clock: action=end" in log
    # each join says the roles it was given (a bogus one left out)
    assert "EXERCISE T+0:02:00 carol joined: as communications\n" in log
    assert "EXERCISE T+0:02:00 carol joined: as commander\n" in log
    for line in cli(state, "exercise", "log", xid, "--json").stdout.splitlines():
        assert json.loads(line)["exercise"] is True


def test_the_report_has_the_hsee_p_shape_and_escapes_what_players_wrote(played, tmp_path):
    state, xid = played
    out = cli(state, "exercise", "report", xid)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    lines = text.splitlines()
    assert lines[0].startswith("# EXERCISE: after-action report and improvement plan")
    assert lines[2].startswith("> **EXERCISE, not a real incident.**")
    assert lines[-1].startswith("*EXERCISE report of")
    for section in ("## 1. Overview", "## 2. Objectives",
                    "## 3. Response against the plan's targets",
                    "## 4. Injects: expected and actual outcomes", "## 5. Strengths",
                    "## 6. Areas for improvement", "## 7. Improvement plan"):
        assert section in lines, section
    assert "| Issue | Corrective action | Owner | Due |" in text
    assert "| Detect | 5m |" in text and "| RTO PostgreSQL | 1h |" in text
    assert "met at T+0:03:00" in text  # declared within 5 minutes of the failure at T+2m
    assert "| partly met | RPO right, no estimate (fac) |" in text
    # the hostile note: no escape sequence, no bidi, no markup that could break the table
    assert "\x1b" not in text and "\u202e" not in text and "<script>" not in text
    assert md(HOSTILE) in text and "\\| \\# \\*bold\\* \\<script\\>" in md(HOSTILE)
    dest = tmp_path / "aar.md"
    w = cli(state, "exercise", "report", xid, "-o", str(dest))
    assert w.returncode == 0 and w.stdout.startswith(f"EXERCISE report of {xid} written to")
    assert dest.read_text() == text.replace(text.splitlines()[-1], dest.read_text()
                                            .splitlines()[-1])
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
