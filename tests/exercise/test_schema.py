"""The scenario format: every kind of error, named by file, line and key (table-driven), and
all of them reported in one run (``cockpit exercise validate``)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from cockpit.document import DocumentError, load_toml
from cockpit.exercise.schema import check_scenario
from cockpit.runbooks import collect_library
from cockpit.runbooks.library import builtin_dir

BASE = """[scenario]
title = "Schema"
length = "30m"

[[service]]
id = "database"
title = "PostgreSQL"
rto = "1h"

[[service]]
id = "dns"
title = "DNS"
"""

# name: (text after BASE, key of the error, a fragment of its message). The line the error
# must name is the one marked "#!" in the text.
CASES: dict[str, tuple[str, str | None, str]] = {
    "unknown-key": ('[[inject]]\nat = "1m"\nsynopsis = "x"\ncolour = "red" #!\n',
                    "inject[0].colour", "unknown key"),
    "wrong-type": ('[[inject]]\nat = "1m"\nsynopsis = 3 #!\n', "inject[0].synopsis",
                   "expected a string, got int"),
    "bad-duration": ('[[inject]]\nat = "soon" #!\nsynopsis = "x"\n', "inject[0].at",
                     "expected a duration"),
    "bare-number-duration": ('[[inject]]\nat = 5 #!\nsynopsis = "x"\n', "inject[0].at",
                             "write the unit"),
    "bad-choice": ('[[inject]]\nat = "1m"\nservice = "database"\nstatus = "broken" #!\n',
                   "inject[0].status", "must be one of"),
    "bad-audience": ('[[inject]]\nat = "1m"\nsynopsis = "x"\naudience = "ceo" #!\n',
                     "inject[0].audience", "must be one of"),
    "unknown-service": ('[[inject]]\nat = "1m"\nservice = "nope" #!\nstatus = "ok"\n',
                        "inject[0].service", "unknown service 'nope'"),
    "service-without-status": ('[[inject]] #!\nat = "1m"\nservice = "database"\n',
                               "inject[0].status", "needs a status"),
    "inject-without-time": ('[[inject]] #!\nsynopsis = "x"\n', "inject[0]", "needs at"),
    "spare-with-time": ('[[inject]]\nspare = true\nat = "1m" #!\nsynopsis = "x"\n',
                        "inject[0].at", "has no time"),
    "empty-inject": ('[[inject]] #!\nat = "1m"\n', "inject[0]", "needs a synopsis or an effect"),
    "two-effects": ('[[inject]]\nat = "1m"\nservice = "database"\nstatus = "ok"\n'
                    'log = "x" #!\n', "inject[0].log", "one effect per inject"),
    "duplicate-inject-id": ('[[inject]]\nid = "a"\nat = "1m"\nsynopsis = "x"\n\n'
                            '[[inject]]\nid = "a" #!\nat = "2m"\nsynopsis = "y"\n',
                            "inject[1].id", "duplicate inject id 'a'"),
    "after-the-end": ('[[inject]]\nat = "31m" #!\nsynopsis = "x"\n', "inject[0].at",
                      "after the end of the scenario"),
    "declare-without-title": ('[[inject]] #!\nat = "1m"\ndemo_only = true\n'
                              'incident = "declared"\n', "inject[0].title", "needs a title"),
    "demo-only-service": ('[[inject]]\nat = "1m"\ndemo_only = true #!\nservice = "database"\n'
                          'status = "ok"\n', "inject[0].demo_only", "cannot change a service"),
    "spare-demo-only": ('[[inject]]\nspare = true\ndemo_only = true #!\nsynopsis = "x"\n',
                        "inject[0].demo_only", "never part of the scripted response"),
    "control-character": ('[[inject]]\nat = "1m"\nsynopsis = "bad\\u001b[31m" #!\n',
                          "inject[0].synopsis", "control or invisible character (U+001B)"),
    "bidi-character": ('[[inject]]\nat = "1m"\nsynopsis = "a\\u202eb" #!\n',
                       "inject[0].synopsis", "(U+202E)"),
    "outcome-unknown-kind": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]]\n'
                             'kind = "vibes" #!\n', "inject[0].expect[0].kind", "must be one of"),
    "outcome-missing-kind": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]] #!\n'
                             'text = "x"\n', "inject[0].expect[0].kind",
                             "missing required value"),
    "outcome-missing-key": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]] #!\n'
                            'kind = "step"\nstep = "promote-replica"\nby = "20m"\n',
                            "inject[0].expect[0].runbook", "a step outcome needs runbook"),
    "outcome-foreign-key": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]]\n'
                            'kind = "declared"\nseverity = "P0" #!\n',
                            "inject[0].expect[0].severity", "not a key of a declared outcome"),
    "outcome-needs-deadline": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]] #!\n'
                               'kind = "role"\nrole = "commander"\n', "inject[0].expect[0]",
                               "needs a deadline"),
    "outcome-within-and-by": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]]\n'
                              'kind = "declared"\nwithin = "5m"\nby = "9m" #!\n',
                              "inject[0].expect[0].by", "not both"),
    "outcome-by-before-inject": ('[[inject]]\nat = "10m"\nsynopsis = "x"\n[[inject.expect]]\n'
                                 'kind = "declared"\nby = "5m" #!\n', "inject[0].expect[0].by",
                                 "before its inject"),
    "outcome-by-on-spare": ('[[inject]]\nspare = true\nsynopsis = "x"\n[[inject.expect]]\n'
                            'kind = "declared"\nby = "5m" #!\n', "inject[0].expect[0].by",
                            "no scenario time until it is fired"),
    "outcome-from-without-within": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n'
                                    '[[inject.expect]]\nkind = "role"\nrole = "scribe"\n'
                                    'by = "9m"\nfrom = "declared" #!\n',
                                    "inject[0].expect[0].from", "`from` needs within"),
    "outcome-deadline-on-plan-target": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n'
                                        '[[inject.expect]]\nkind = "rto"\n'
                                        'service = "database"\nwithin = "1h" #!\n',
                                        "inject[0].expect[0].within", "the plan's own target"),
    "outcome-unknown-runbook": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]]\n'
                                'kind = "step"\nrunbook = "nope" #!\nstep = "x"\nby = "9m"\n',
                                "inject[0].expect[0].runbook", "no runbook 'nope'"),
    "outcome-unknown-step": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]]\n'
                             'kind = "step"\nrunbook = "database"\nstep = "nope" #!\nby = "9m"\n',
                             "inject[0].expect[0].step", "has no step 'nope'"),
    "outcome-rto-without-rto": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]]\n'
                                'kind = "rto"\nservice = "dns" #!\n',
                                "inject[0].expect[0].service", "has no rto"),
    "outcome-unknown-services": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]]\n'
                                 'kind = "services"\nservices = ["nope"] #!\nwithin = "5m"\n',
                                 "inject[0].expect[0].services", "unknown service 'nope'"),
    "duplicate-outcome-id": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]]\n'
                             'id = "o"\nkind = "declared"\n[[inject.expect]]\nid = "o" #!\n'
                             'kind = "communication"\n', "inject[0].expect[1].id",
                             "duplicate outcome id 'o'"),
    "second-inject-outcome-line": ('[[inject]]\nat = "1m"\nsynopsis = "x"\n[[inject.expect]]\n'
                                   'kind = "declared"\n\n[[inject]]\nat = "2m"\nsynopsis = "y"\n'
                                   '[[inject.expect]]\nkind = "severity"\nseverity = "P9" #!\n',
                                   "inject[1].expect[0].severity", "must be one of"),
}
HEAD_CASES: dict[str, tuple[str, str | None, str]] = {
    "missing-required": ('[scenario] #!\ntitle = "x"\n', "scenario.length",
                         "missing required value"),
    "bad-category": ('[scenario]\ntitle = "x"\nlength = "1m"\ncategory = "weather" #!\n',
                     "scenario.category", "must be one of"),
    "unknown-runbook-drawn-from": ('[scenario]\ntitle = "x"\nlength = "1m"\n'
                                   'runbooks = ["nope"] #!\n', "scenario.runbooks",
                                   "no runbook 'nope'"),
    "duplicate-service": ('[scenario]\ntitle = "x"\nlength = "1m"\n[[service]]\nid = "a"\n'
                          'title = "A"\n[[service]]\nid = "a" #!\ntitle = "B"\n',
                          "service[1].id", "duplicate service id 'a'"),
}


@pytest.fixture(scope="module")
def library():
    lib, problems = collect_library([builtin_dir()])
    assert not problems
    return lib


def _check(text: str, library) -> list[DocumentError]:
    _s, errors = check_scenario(tomllib.loads(text), text, "s.toml", library=library)
    return errors


def _marked_line(text: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if "#!" in ln)


@pytest.mark.parametrize("case", list(CASES))
def test_every_error_kind_names_file_line_and_key(case, library):
    tail, key, fragment = CASES[case]
    text = BASE + "\n" + tail
    errors = _check(text, library)
    assert len(errors) == 1, [e.one_line() for e in errors]
    e = errors[0]
    assert (e.file, e.line, e.key) == ("s.toml", _marked_line(text), key), e.one_line()
    assert fragment in e.message, e.one_line()
    assert e.one_line().startswith(f"s.toml:{_marked_line(text)}: {key}:" if key else
                                   f"s.toml:{_marked_line(text)}:")


@pytest.mark.parametrize("case", list(HEAD_CASES))
def test_scenario_head_errors(case, library):
    text, key, fragment = HEAD_CASES[case]
    errors = _check(text, library)
    assert len(errors) == 1, [e.one_line() for e in errors]
    e = errors[0]
    assert (e.line, e.key) == (_marked_line(text), key) and fragment in e.message, e.one_line()


def test_invalid_toml_names_its_line(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text(BASE + '\n[[inject]]\nat = "1m\n')
    with pytest.raises(DocumentError) as e:
        load_toml(f)
    assert e.value.line == BASE.count("\n") + 3 and "invalid TOML" in e.value.message


def test_validate_reports_every_error_of_every_file_in_one_run(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE + '\n[[inject]]\nat = "soon"\nsynopsis = 1\n\n[[inject]]\nat = "1m"\n'
                   'service = "nope"\nstatus = "ok"\n[[inject.expect]]\nkind = "vibes"\n')
    broken = tmp_path / "broken.toml"
    broken.write_text("[scenario\n")
    good = tmp_path / "good.toml"
    good.write_text(BASE + '\n[[inject]]\nat = "1m"\nsynopsis = "fine"\n')
    out = subprocess.run([sys.executable, "-m", "cockpit", "exercise", "validate", str(bad),
                          str(broken), str(good)], capture_output=True, text=True,
                         env={"COCKPIT_NO_SYSLOG": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    n = BASE.count("\n")
    assert lines == [
        f"cockpit: {bad}:{n + 3}: inject[0].at: expected a duration such as 15m, 1h or 30s, "
        "got 'soon'",
        f"cockpit: {bad}:{n + 4}: inject[0].synopsis: expected a string, got int",
        f"cockpit: {bad}:{n + 8}: inject[1].service: unknown service 'nope'",
        f"cockpit: {bad}:{n + 11}: inject[1].expect[0].kind: must be one of 'declared', "
        "'severity', 'step', 'communication', 'status', 'role', 'note', 'services', 'rto', "
        "'milestone', 'manual'",
        f"cockpit: {broken}:1: invalid TOML: Expected ']' at the end of a table declaration",
    ], out.stderr
    assert f"EXERCISE scenario OK {good}" in out.stdout
    assert "3 scenario files: 2 with errors" in out.stdout
