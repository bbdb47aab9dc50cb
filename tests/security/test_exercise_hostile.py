"""An exercise journal with a hostile second writer: the review's payloads in every text
field of the players' and the facilitator's entries (and wrong-typed control entries). Every
``cockpit exercise`` output and the facilitator's and a player's screens show them inert."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest

from cockpit.exercise.schema import parse_scenario
from cockpit.exercise.store import ExerciseStore, exercise_root
from cockpit.journal import Journal
from cockpit.scenario import scenario_dir

from .payloads import JOINED, MARKERS_ALL, MARKUP_ERROR, MARKUP_TAGS
from .pty_harness import Pty, cockpit_argv, markup_parsed, scan, summary

TEXT = JOINED + " " + MARKUP_ERROR


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    state = tmp_path_factory.mktemp("hostile-exercise") / "state"
    text = (scenario_dir() / "database-loss.toml").read_text(encoding="utf-8")
    store = ExerciseStore(state, author="fac")
    xid = store.start(parse_scenario(tomllib.loads(text), text, "s.toml"), text,
                      source="test", running=True, speed=60)
    store.close()
    j = Journal(exercise_root(state), xid, author="mallory" + MARKUP_ERROR)
    j.append("incident.declared", {"title": TEXT, "severity": "P0", "services": ["database"],
                                   "exercise": xid})
    j.append("role.assigned", {"role": "communications", "person": TEXT})
    for t in ("observation", "decision", "action", "communication"):
        j.append("note", {"type": t, "text": TEXT})
    j.append("incident.updated", {"title": TEXT})
    j.append("step.started", {"runbook": TEXT, "step": TEXT, "attempt": 1, "run": TEXT,
                              "detail": TEXT, "rehearsal": True})
    j.append("exercise.inject", {"synopsis": TEXT, "audience": "all"})
    j.append("exercise.inject", {"synopsis": "x", "audience": TEXT})
    j.append("exercise.inject", {"spare": TEXT})
    j.append("exercise.mark", {"outcome": "declare", "mark": "partly", "comment": TEXT})
    j.append("exercise.mark", {"outcome": TEXT, "mark": "met", "comment": "x"})
    j.append("exercise.mark", {"outcome": "severity", "mark": TEXT, "comment": 7})
    j.append("exercise.clock", {"action": TEXT})
    j.append("exercise.clock", {"action": "speed", "speed": TEXT})
    j.append("exercise.clock", {"action": "jump", "to": [1, 2]})
    j.close()
    return state, xid


def _env():
    return {**os.environ, "COCKPIT_NO_SYSLOG": "1", "FORCE_COLOR": "1"}


@pytest.mark.parametrize("argv,is_json", [
    (["list"], False), (["list", "--json"], True), (["log", "{id}"], False),
    (["log", "{id}", "--json"], True), (["report", "{id}"], False), (["verify", "{id}"], False)])
def test_exercise_commands_show_payloads_inert(hostile, argv, is_json):
    state, xid = hostile
    argv = [a.replace("{id}", xid) for a in argv]
    p = subprocess.run([sys.executable, "-m", "cockpit", "--state-dir", str(state),
                        "exercise", *argv], capture_output=True, env=_env())
    assert p.returncode == 0, p.stderr.decode()
    for data in (p.stdout, p.stderr):
        assert b"Traceback" not in data
        found = scan(data, MARKERS_ALL, allow_c0="\n\t", allow_crlf=False)
        assert not found, summary(found, 6)
    if is_json:
        for line in p.stdout.decode().splitlines():
            assert json.loads(line)["exercise"] is True


@pytest.mark.parametrize("who", ["facilitate", "join"])
def test_the_exercise_screens_show_payloads_inert(hostile, who):
    state, xid = hostile
    argv = ["--state-dir", str(state), "exercise", who, xid]
    if who == "join":
        argv += ["--role", "communications"]
    with Pty.spawn(cockpit_argv(*argv), cols=120, rows=40) as p:
        assert p.wait_for("EXERCISE", 30), p.text()
        p.settle(0.5)
        # the facilitator: every line of the board, and its detail (home, then down to the
        # end); a player: the log and an entry
        keys = ["home", *["down"] * 60] if who == "facilitate" else [
            "3", "enter", "escape", "down"]
        for k in keys:
            p.press(k, pause=0.05)
        if who == "facilitate":
            p.press("escape", pause=0.3)  # the players' view, as the facilitator sees it
        p.settle(0.5)
        text = p.text()
        assert "UNREADABLE EXERCISE ENTRY" in text or who == "facilitate", text
        assert not markup_parsed(text, MARKUP_TAGS), text
        found = scan(bytes(p.raw), MARKERS_ALL)
        assert not found, summary(found, 6)
        assert not p.exited, text
