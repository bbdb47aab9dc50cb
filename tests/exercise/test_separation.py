"""Exercises never appear among real incidents, and real incidents never among exercises:
the CLI, the live cockpit's incident list, the stores, and what a metrics tool can filter
on (the exercises live under <state>/exercises/, their declarations say ``exercise``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.exercise.store import ExerciseError, ExerciseStore
from cockpit.incident.store import IncidentStore
from cockpit.journal import list_incidents
from cockpit.session.live import LiveSession

from .helpers import Exercise, library_scenario


@pytest.fixture
def both(tmp_path):
    """A state directory with one real incident and one exercise whose players declared."""
    state = tmp_path / "state"
    real = IncidentStore(state, author="oncall")
    rid = real.declare("Real outage", "P1", ["database"])
    real.close()
    _s, text = library_scenario("database-loss")
    x = Exercise(state, text, exercise_id="20270115-080000-drill-0001")
    x.at(3)
    x.write("alice", "incident.declared", {"title": "Drill outage", "severity": "P0",
                                           "services": ["database"], "exercise": x.id})
    x.close()
    return state, rid, x.id


def cli(state, *argv):
    return subprocess.run([sys.executable, "-m", "cockpit", "--state-dir", str(state), *argv],
                          capture_output=True, text=True,
                          env={**os.environ, "COCKPIT_NO_SYSLOG": "1"})


def test_incident_list_never_shows_an_exercise(both):
    state, rid, xid = both
    out = cli(state, "incident", "list")
    assert out.returncode == 0 and rid in out.stdout and "Real outage" in out.stdout
    assert xid not in out.stdout and "Drill" not in out.stdout
    js = [json.loads(x) for x in cli(state, "incident", "list", "--json").stdout.splitlines()]
    assert [x["id"] for x in js] == [rid]
    assert list_incidents(state) == [rid]
    assert [s.id for s in IncidentStore(state).list()] == [rid]


def test_metrics_never_count_an_exercise(both):
    state, rid, xid = both
    out = cli(state, "metrics", "--since", "3650d")
    assert out.returncode == 0, out.stderr
    assert rid in out.stdout and "over 1 incident" in out.stdout
    assert out.stdout.startswith("Metrics over the last 3650d (")
    assert xid not in out.stdout and "Drill outage" not in out.stdout
    js = json.loads(cli(state, "metrics", "--json", "--since", "3650d").stdout)
    assert [x["incident"] for x in js["incidents"]] == [rid]
    assert js["totals"]["incidents"] == 1


def test_the_live_cockpits_incident_list_never_shows_an_exercise(both):
    state, rid, _xid = both
    cfg = Config(path=None, environment="test", mode="personal", milestones=Milestones(),
                 services={"database": ServiceConfig("database", "PostgreSQL", "P0", 3600.0,
                                                     900.0)})
    s = LiveSession(cfg, state, probes=False)
    try:
        assert [c.id for c in s.incidents()] == [rid]
        assert s._default_incident() == rid  # the one followed at start
    finally:
        s.stop()


def test_exercise_list_never_shows_a_real_incident(both):
    state, rid, xid = both
    out = cli(state, "exercise", "list")
    assert out.returncode == 0 and xid in out.stdout and rid not in out.stdout
    js = [json.loads(x) for x in cli(state, "exercise", "list", "--json").stdout.splitlines()]
    assert [(x["id"], x["exercise"]) for x in js] == [(xid, True)]


@pytest.mark.parametrize("command", [["report"], ["log"], ["verify"], ["facilitate"], ["join"]])
def test_exercise_commands_refuse_a_real_incident(both, command):
    state, rid, _xid = both
    out = cli(state, "exercise", *command, rid)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(f"cockpit: no exercise '{rid}'") and "Traceback" not in out.stderr


def test_a_real_journal_moved_under_exercises_is_not_an_exercise(both, tmp_path):
    """Only a journal that began as an exercise is one: a real incident's files copied into
    exercises/ are left out of the list and refused by id."""
    state, rid, xid = both
    shutil.copytree(state / "incidents" / rid, state / "exercises" / "incidents" / rid)
    store = ExerciseStore(state)
    try:
        assert [s.id for s in store.list()] == [xid]
        with pytest.raises(ExerciseError, match="not an exercise"):
            store.resolve(rid)
    finally:
        store.close()


def test_real_incident_commands_do_not_find_an_exercise(both):
    state, _rid, xid = both
    for argv in (["log", xid], ["verify", xid], ["incident", "note", xid, "hello"]):
        out = cli(state, *argv)
        assert out.returncode != 0 and "Traceback" not in out.stderr, (argv, out.stderr)


def test_an_exercise_declaration_carries_its_marker_and_lives_apart(both):
    state, _rid, xid = both
    store = ExerciseStore(state)
    try:
        decl = next(e for e in store.entries(xid) if e.kind == "incident.declared")
        assert decl.data["exercise"] == xid
        assert (state / "exercises" / "incidents" / xid / "journal").is_dir()
        assert not (state / "incidents" / xid).exists()
    finally:
        store.close()


def test_shared_mode_uses_an_exercises_directory_an_admin_created(tmp_path):
    import os
    import stat

    from cockpit.journal import UnsafeStateDir

    from .helpers import scenario_of

    state = tmp_path / "shared"
    state.mkdir()
    os.chmod(state, 0o3770)
    s, text = library_scenario("data-breach")
    store = ExerciseStore(state, mode="shared")
    try:
        with pytest.raises(UnsafeStateDir, match="an admin creates it once"):
            store.start(s, text, source="test")
        (state / "exercises").mkdir()
        os.chmod(state / "exercises", 0o3770)
        xid = store.start(scenario_of(text), text, source="test")
        files = list((state / "exercises" / "incidents" / xid / "journal").iterdir())
        assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o640 for f in files)
    finally:
        store.close()
