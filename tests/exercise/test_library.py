"""The built-in scenario library: one scenario per disaster category of the plan, each long
and rich enough for a tabletop exercise, drawn from the runbooks; the demo is one of them;
``cockpit exercise validate`` passes on the whole of it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cockpit.exercise.library import library_files
from cockpit.exercise.report import render
from cockpit.exercise.schema import CATEGORIES
from cockpit.exercise.scoring import decide
from cockpit.runbooks import collect_library
from cockpit.runbooks.library import builtin_dir
from cockpit.scenario import builtin_demo, load_scenario

from .helpers import Exercise

FILES = library_files()


@pytest.fixture(scope="module")
def runbooks():
    lib, problems = collect_library([builtin_dir()])
    assert not problems
    return lib


def test_one_scenario_per_disaster_category_of_the_plan():
    cats = sorted(load_scenario(f).category or "" for f in FILES)
    # written out: the plan's six categories (the runbooks' ids)
    assert set(cats) == {"database", "application", "security", "infrastructure",
                         "third-party", "data-loss"} == set(CATEGORIES)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_each_scenario_is_long_and_rich_enough_and_drawn_from_the_runbooks(path, runbooks):
    s = load_scenario(path, library=runbooks)
    assert s.id == path.stem
    assert s.length >= 30 * 60
    told = [i for i in s.injects if i.synopsis and not i.demo_only]
    assert len(told) >= 8, [i.id for i in told]
    assert len(s.outcomes) >= 4
    assert s.spares, "a spare inject for the facilitator"
    assert s.objectives
    assert s.category in s.runbooks and all(r in {x.id for x in runbooks} for r in s.runbooks)
    steps = [o for o in s.outcomes if o.kind == "step"]
    assert steps, "at least one outcome is a step of the scenario's runbook"
    for o in steps:
        assert o.params["runbook"] in s.runbooks
        assert o.params["step"] in {st.id for st in runbooks.get(o.params["runbook"]).steps}
    assert all(i.at is not None and i.at <= s.length for i in s.injects)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_each_scenario_plays_to_its_end_and_reports(tmp_path, path):
    x = Exercise(tmp_path / "state", path.read_text(encoding="utf-8"))
    try:
        s = x.timeline().scenario
        x.at(s.length / 60 + 1)
        x.clock("end")
        tl = x.timeline()
        score = decide(tl, x.wall.now())
        played = [o for i in s.injects for o in i.outcomes]
        assert {d.outcome.id for d in score.decisions} >= {o.id for o in played}
        assert all(d.state in ("missed", "manual") for d in score.decisions
                   if d.outcome in played)  # nobody played: nothing met
        assert all(d.state == "not played" for d in score.decisions if d.inject.spare)
        text = render(tl, x.wall.now(), score)
        assert s.title in text and "## 7. Improvement plan" in text
    finally:
        x.close()


def test_the_demo_is_the_database_loss_scenario_of_the_library():
    demo = builtin_demo()
    assert demo.id == "database-loss" and demo.loop
    assert "database-loss" in [f.stem for f in FILES]
    assert any(i.demo_only for i in demo.injects), "the demo plays a scripted response"


def test_cockpit_exercise_validate_passes_on_the_whole_library():
    out = subprocess.run([sys.executable, "-m", "cockpit", "exercise", "validate"],
                         capture_output=True, text=True,
                         env={**os.environ, "COCKPIT_NO_SYSLOG": "1"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"EXERCISE {len(FILES)} scenario files: all valid" in out.stdout
    assert out.stdout.count("EXERCISE scenario OK") == len(FILES) >= 6
