"""``cockpit exercise import``: a spreadsheet inject list (CSV) into a scenario file; a bad
row is named by its row and column, every problem in one run, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

from cockpit.exercise.deck import deck_time, read_deck, to_toml, toml_string
from cockpit.exercise.schema import check_scenario
from cockpit.runbooks import collect_library
from cockpit.runbooks.library import builtin_dir
from cockpit.scenario import builtin_demo

GOOD = """Time,Synopsis,Audience,Service,Status,Summary,Log,Expect,Expect kind,Expect within,Expect runbook,Expect step,Expect by,Spare
0:00:00,"Quiet morning, all green",,,,,,,,,,,,
T+2m,db-1 stops answering,,database,fail,primary refused connection,,Declared within 5 minutes,declared,,,,,
,,,,,,,Promote step confirmed by T+25m,step,,database,promote-replica,25m,
02:30,,,,,,Alert PgPrimaryUnreachable firing,,,,,,,
7m,Customers email support,communications,,,,,An update within 30 minutes,communication,,,,,
,The CTO calls,commander,,,,,,,,,,,yes
"""


@pytest.fixture(scope="module")
def library():
    lib, problems = collect_library([builtin_dir()])
    assert not problems
    return lib


def test_a_deck_becomes_a_valid_scenario_file(library):
    doc, errors = read_deck(GOOD, "msel.csv", builtin_demo(), title="Deck drill",
                            category="database", library=library)
    assert errors == []
    text = to_toml(doc, "msel.csv")
    s, problems = check_scenario(tomllib.loads(text), text, "out.toml", library=library)
    assert problems == [] and s is not None
    assert s.title == "Deck drill" and s.category == "database" and s.runbooks == ("database",)
    assert [(i.at, i.synopsis) for i in s.injects] == [
        (0.0, "Quiet morning, all green"), (120.0, "db-1 stops answering"), (150.0, ""),
        (420.0, "Customers email support")]
    fail = s.injects[1]
    assert fail.effect == {"service": "database", "status": "fail",
                           "summary": "primary refused connection"}
    assert [(o.kind, o.by) for o in fail.outcomes] == [("declared", None), ("step", 1500.0)]
    assert s.injects[3].audience == "communications"
    assert [(x.synopsis, x.audience) for x in s.spares] == [("The CTO calls", "commander")]
    assert s.length == 1800 and {x.id for x in s.services} == {x.id for x in builtin_demo().services}


BAD_ROWS = {
    # row: (cells after the time column..., column, message fragment)
    3: ("soon,db down,,,,,,,,,,,,", "time", "expected a duration"),
    4: ("1m,x,,database,broken,,,,,,,,,", "status", "must be one of"),
    5: ("2m,x,,nope,ok,,,,,,,,,", "service", "unknown service 'nope'"),
    6: ("3m,x,,,,,,,,,,,,maybe", "spare", "expected yes or no"),
    7: ("4m,x,,,,,,a,vibes,,,,,", "expect_kind", "must be one of"),
    8: ("5m,x,,,,,,a,step,,database,nope,9m,", "expect_step", "has no step 'nope'"),
    9: ("6m,x,everyone,,,,,,,,,,,", "audience", "must be one of"),
    10: ("7m,x,,,,,,a,declared,5,,,,", "expect_within", "expected a duration"),
    11: ("8m,x\x1b[31m,,,,,,,,,,,,", "synopsis", "control or invisible character (U+001B)"),
    12: (",,,,,,,,,,,,,", None, None),  # an empty row is skipped
    13: (",no time,,,,,,,,,,,,", "time", "empty: give the scenario time"),
}


def _bad_deck() -> str:
    header = GOOD.splitlines()[0]
    rows = [header, "0s,fine,,,,,,,,,,,,"]
    rows += [BAD_ROWS[n][0] for n in sorted(BAD_ROWS)]
    return "\n".join(rows) + "\n"


def test_every_bad_row_is_named_by_row_and_column(library):
    _doc, errors = read_deck(_bad_deck(), "msel.csv", builtin_demo(), library=library)
    got = [(e.row, e.column) for e in errors]
    want = [(n, col) for n, (_, col, _) in sorted(BAD_ROWS.items()) if col]
    assert got == want, [e.one_line() for e in errors]
    for e in errors:
        frag = BAD_ROWS[e.row][2]
        assert frag in e.message, e.one_line()
        assert e.one_line().startswith(f"msel.csv: row {e.row}, column '{e.column}': ")


def test_unknown_columns_and_a_missing_time_column_name_the_header_row(library):
    _doc, errors = read_deck("Synopsis,Colour\nx,red\n", "d.csv", builtin_demo(),
                             library=library)
    lines = [e.one_line() for e in errors]
    assert lines[0].startswith("d.csv: row 1, column 'Colour': unknown column")
    assert lines[1] == ("d.csv: row 1, column 'time': missing column: the scenario time of "
                        "each inject")


def test_the_cli_writes_nothing_and_exits_1_on_a_bad_deck(tmp_path):
    deck = tmp_path / "msel.csv"
    deck.write_text(_bad_deck())
    out_file = tmp_path / "out.toml"
    out = subprocess.run([sys.executable, "-m", "cockpit", "exercise", "import", str(deck),
                          "-o", str(out_file)], capture_output=True, text=True,
                         env={**os.environ, "COCKPIT_NO_SYSLOG": "1"})
    assert out.returncode == 1
    assert not out_file.exists()
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith(f"cockpit: {deck}: row 3, column 'time': ")
    assert len([ln for ln in lines if ln.startswith("cockpit: ")]) == 10
    assert "\x1b" not in out.stderr  # the hostile cell is shown escaped
    assert lines[-1] == f"EXERCISE deck {deck}: 10 problems; nothing written"


def test_the_cli_imports_a_good_deck_and_the_file_validates(tmp_path):
    deck = tmp_path / "msel.csv"
    deck.write_text(GOOD)
    out_file = tmp_path / "drill.toml"
    env = {**os.environ, "COCKPIT_NO_SYSLOG": "1"}
    out = subprocess.run([sys.executable, "-m", "cockpit", "exercise", "import", str(deck),
                          "-o", str(out_file), "--title", "Drill"], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"EXERCISE scenario written to {out_file} (5 injects)")
    val = subprocess.run([sys.executable, "-m", "cockpit", "exercise", "validate",
                          str(out_file)], capture_output=True, text=True, env=env)
    assert val.returncode == 0, val.stderr
    again = subprocess.run([sys.executable, "-m", "cockpit", "exercise", "import", str(deck),
                            "-o", str(out_file)], capture_output=True, text=True, env=env)
    assert again.returncode == 2 and "exists (--force replaces it)" in again.stderr


@pytest.mark.parametrize("text,seconds", [("2m", 120), ("0:02:00", 120), ("02:30", 150),
                                          ("T+1h30m", 5400), ("1:00:05", 3605)])
def test_deck_times(text, seconds):
    assert deck_time(text) == seconds


@pytest.mark.parametrize("text", ["5", "2:75", "soon", "1:61:00"])
def test_deck_times_refused(text):
    with pytest.raises(ValueError):
        deck_time(text)


def test_toml_strings_keep_every_character_and_are_cat_safe():
    nasty = 'quote " backslash \\ esc \x1b[2J nl \n tab \t bidi \u202e del \x7f c1 \x9b ok é'
    s = toml_string(nasty)
    assert all(ord(c) >= 0x20 and c not in "\x7f\u202e\x9b" for c in s)
    assert tomllib.loads(f"v = {s}")["v"] == nasty
