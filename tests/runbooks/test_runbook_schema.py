"""The runbook schema: the built-in library validates; every kind of error is one line
naming file, line and key, and ``runbooks validate`` exits 1."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from cockpit.runbooks import RunbookError, load_library, load_runbook


def test_builtin_library_validates(cli, capsys, library_dir):
    assert cli("runbooks", "validate", str(library_dir)) == 0
    out = capsys.readouterr()
    assert re.fullmatch(r"7 runbooks, \d+ steps OK\n", out.out)
    assert out.err == ""


def test_validate_defaults_to_builtin_library(cli, capsys):
    assert cli("runbooks", "validate") == 0
    assert "7 runbooks" in capsys.readouterr().out


def test_validate_accepts_files(cli, capsys, library_dir):
    files = sorted(str(p) for p in library_dir.glob("*.toml"))[:2]
    assert cli("runbooks", "validate", *files) == 0
    assert capsys.readouterr().out.startswith("2 runbooks, ")


def test_validate_missing_path(cli, capsys, tmp_path):
    assert cli("runbooks", "validate", str(tmp_path / "nope.toml")) == 1
    assert "no such file" in capsys.readouterr().err


def _rep(old: str, new: str):
    def f(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)

    return f


def _add(extra: str):
    return lambda text: text + extra


# (case, transform, line, key, message fragment)
CASES = [
    ("bad-toml", _rep('title = "Check"', 'title = "Check'), 16, None, "invalid TOML"),
    ("unknown-key", _add('colour = "red"\n'), 20, "steps[0].colour", "unknown key"),
    ("wrong-type-bool", _rep("destructive = false", 'destructive = "no"'), 19,
     "steps[0].destructive", "expected true or false"),
    ("wrong-type-list", _rep('services = ["database"]', 'services = "database"'), 4,
     "runbook.services", "expected a list of strings"),
    ("missing-step-title", _rep('title = "Check"\n', ""), 14, "steps[0].title",
     "missing required value"),
    ("missing-runbook-id", _rep('id = "demo"\n', ""), 1, "runbook.id", "missing required value"),
    ("duplicate-step-id", _add('\n[[steps]]\nid = "check"\ntitle = "Again"\n'), 22,
     "steps[1].id", "duplicate step id 'check'"),
    ("unknown-placeholder", _rep("{host}", "{hots}"), 17, "steps[0].command[2]",
     "placeholder {hots} refers to no parameter"),
    ("lone-brace", _rep('"{host}"', '"{host"'), 17, "steps[0].command[2]", "lone '{'"),
    ("bad-duration", _rep('timeout = "30s"', 'timeout = "5 minutes"'), 18, "steps[0].timeout",
     "expected a duration"),
    ("verify-neither", _add("verify = { expect_exit = 0 }\n"), 20, "steps[0].verify",
     "verify needs probe"),
    ("verify-both", _add('verify = { probe = "database", command = ["true"] }\n'), 20,
     "steps[0].verify.probe", "not both"),
    ("secret-in-argv", _rep('default = "db1"', 'default = "db1"\nsecret = true'), 18,
     "steps[0].command[2]", "may only be used in env"),
    ("shell-placeholder-in-quotes",
     _rep('command = ["pg_isready", "-h", "{host}"]', 'shell = "echo \\"{host}\\""'), 17,
     "steps[0].shell", "inside double quotes"),
    ("shell-operator-in-argv", _rep('"-h", "{host}"]', '"-h", "{host}", "|", "tail"]'), 17,
     "steps[0].command[3]", "shell operator"),
    ("destructive-not-stated",
     lambda t: t.replace('["pg_isready", "-h", "{host}"]', '["systemctl", "stop", "{host}"]')
     .replace("destructive = false\n", ""), 17, "steps[0].command", "looks destructive"),
    ("control-character", _rep('title = "Check"', 'title = "Check\\u001b[31m"'), 16,
     "steps[0].title", "U+001B"),
    ("bidi-override", _rep('title = "Demo"', 'title = "Demo\\u202e"'), 3, "runbook.title",
     "U+202E"),
    ("unknown-scenario", _add('scenario = "flood"\n'), 20, "steps[0].scenario",
     "unknown scenario 'flood'"),
    ("bad-param-type", _rep('type = "host"', 'type = "hostname"'), 11, "params[0].type",
     "must be one of"),
    ("bad-param-default", _rep('default = "db1"', 'default = "-db1"'), 12, "params[0].default",
     "expected a host name"),
    ("enum-without-choices", _rep('type = "host"', 'type = "enum"'), 9, "params[0].choices",
     "needs choices"),
    ("bad-from-config", _rep('default = "db1"', 'default = "db1"\nfrom_config = "services..x"'),
     13, "params[0].from_config", "dotted key path"),
    ("confirmation-on-safe-step", _add('requires_confirmation_of = "database"\n'), 20,
     "steps[0].requires_confirmation_of", "only to destructive"),
    ("confirmation-unknown-service",
     lambda t: t.replace("destructive = false", "destructive = true")
     + 'requires_confirmation_of = "redis"\n', 20,
     "steps[0].requires_confirmation_of", "not one of this runbook's services"),
    ("bad-step-id", _rep('id = "check"', 'id = "Check Me"'), 15, "steps[0].id", "lower-case"),
    ("forbidden-env", _add('env = { LD_PRELOAD = "/tmp/x.so" }\n'), 20,
     "steps[0].env.LD_PRELOAD", "not allowed"),
    ("rollback-without-title", _add('rollback = { command = ["true"] }\n'), 20,
     "steps[0].rollback.title", "missing required value"),
]


@pytest.mark.parametrize("case,transform,line,key,fragment", CASES, ids=[c[0] for c in CASES])
def test_each_error_is_one_line_with_file_line_key(cli, capsys, write, minimal,
                                                   case, transform, line, key, fragment):
    path = write(transform(minimal))
    assert cli("runbooks", "validate", str(path)) == 1
    err = capsys.readouterr().err.splitlines()
    mine = [e for e in err if e.startswith(str(path))]
    assert len(mine) == 1, err
    where = f"{re.escape(str(path))}:{line}:"
    what = f" {re.escape(key)}:" if key else ""
    assert re.match(f"^{where}{what} .*{re.escape(fragment)}", mine[0]), mine[0]
    # the summary line follows
    assert err[-1].startswith("1 error(s) in 1 file(s)")


def test_minimal_is_valid(write, minimal):
    rb = load_runbook(write(minimal))
    assert rb.id == "demo" and [s.id for s in rb.steps] == ["check"]
    assert rb.steps[0].timeout == 30.0 and rb.sha256


def test_all_errors_of_a_file_reported_in_order(write, minimal):
    text = minimal.replace('timeout = "30s"', 'timeout = "soon"') + 'colour = "red"\n'
    text = text.replace('type = "host"', 'type = "nope"')
    with pytest.raises(RunbookError) as ei:
        load_runbook(write(text))
    lines = [e.line for e in ei.value.errors]
    assert lines == sorted(lines) and len(lines) == 3, ei.value.lines()
    assert str(ei.value) == ei.value.errors[0].one_line()


def test_duplicate_runbook_id_across_files_names_both(cli, capsys, write, minimal):
    a = write(minimal, "a.toml")
    b = write(minimal, "b.toml")
    assert cli("runbooks", "validate", str(a.parent)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{b}:2: runbook.id: duplicate runbook id 'demo'")
    assert f"{a}:2" in err[0]
    with pytest.raises(RunbookError):
        load_library([a, b])


def test_sub_table_keys_are_located(write, minimal):
    text = minimal + '[steps.verify]\ncommand = ["true"]\nexpect_output = "("\n'
    with pytest.raises(RunbookError) as ei:
        load_runbook(write(text))
    e = ei.value.errors[0]
    assert (e.line, e.key) == (22, "steps[0].verify.expect_output")


def test_file_without_runbook_table(write):
    with pytest.raises(RunbookError) as ei:
        load_runbook(write('[[scenario]]\nid = "x"\n'))
    assert any(e.key == "runbook" for e in ei.value.errors)


def test_core_never_imports_textual():
    code = ("import sys, cockpit.runbooks, cockpit.cli.runbooks; "
            "sys.exit(1 if any(m == 'textual' or m.startswith('textual.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
