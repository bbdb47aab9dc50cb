"""Rendering: hostile parameter values reach the command exactly as typed, as one argv element
(argv form), as one shell word (shell form, checked with a real /bin/sh), and through ssh."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_fakes import HOSTILE

from cockpit.runbooks import ParamError, load_runbook

# Every str except NUL (exec cannot pass it) and lone surrogates (not encodable).
any_char = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
values = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(any_char, max_size=8)),
                  max_size=8).map("".join)

RUNBOOK = """\
[runbook]
id = "t"
title = "T"
services = ["database"]

[[params]]
name = "v"
type = "str"

[[params]]
name = "dest"
type = "str"
default = ""

[[params]]
name = "token"
type = "str"
secret = true
default = ""

[[steps]]
id = "argv"
title = "argv"
command = ["printf", "%s", "{v}"]
destructive = false

[[steps]]
id = "embedded"
title = "embedded"
command = ["tool", "--name={v}", "{{literal}}"]
destructive = false

[[steps]]
id = "shell"
title = "shell"
shell = "printf '%s' {v}"
destructive = false

[[steps]]
id = "shell-concat"
title = "shell with the value inside a word"
shell = "printf '%s' pre-{v}-post"
destructive = false

[[steps]]
id = "remote-argv"
title = "argv over ssh"
command = ["printf", "%s", "{v}"]
remote = "{dest}"
destructive = false

[[steps]]
id = "remote-shell"
title = "shell over ssh"
shell = "printf '%s' {v}"
remote = "{dest}"
destructive = false

[[steps]]
id = "env"
title = "secret through env"
command = ["tool"]
env = { TOKEN = "{token}", LABEL = "x-{v}" }
destructive = false
"""


@pytest.fixture(scope="module")
def rb(tmp_path_factory):
    p = tmp_path_factory.mktemp("rb") / "t.toml"
    p.write_text(RUNBOOK, encoding="utf-8")
    return load_runbook(p)


def sh(argv: list[str]) -> bytes:
    return subprocess.run(argv, capture_output=True, check=True, timeout=10).stdout


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v=values)
def test_argv_values_arrive_exactly_as_one_element(rb, v):
    assert rb.render_argv(rb.step("argv"), {"v": v}) == ["printf", "%s", v]
    assert rb.render_argv(rb.step("embedded"), {"v": v}) == ["tool", f"--name={v}", "{literal}"]
    script = rb.render_argv(rb.step("shell"), {"v": v})
    assert script[:2] == ["/bin/sh", "-c"] and len(script) == 3
    # the shell form re-lexes to exactly the value (POSIX quoting)
    assert shlex.split(script[2]) == ["printf", "%s", v]
    rc = rb.render(rb.step("env"), {"v": v, "token": "s3cret"})
    assert rc.env == {"TOKEN": "s3cret", "LABEL": f"x-{v}"}
    assert rc.secrets == ("s3cret",) and "s3cret" not in rc.display()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v=values)
def test_shell_form_receives_exactly_the_value(rb, v):
    assert sh(rb.render_argv(rb.step("shell"), {"v": v})) == v.encode()
    assert sh(rb.render_argv(rb.step("shell-concat"), {"v": v})) == f"pre-{v}-post".encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v=values)
def test_remote_command_line_receives_exactly_the_value(rb, v):
    """ssh hands its last argument to the remote login shell as ``$SHELL -c STRING``:
    run that string with /bin/sh here."""
    for step in ("remote-argv", "remote-shell"):
        argv = rb.render_argv(rb.step(step), {"v": v, "dest": "ops@db1.internal"})
        assert argv[:2] == ["ssh", "-o"] and argv[-2] == "ops@db1.internal"
        assert argv[argv.index("--") + 1] == "ops@db1.internal"
        assert sh(["/bin/sh", "-c", argv[-1]]) == v.encode()


def test_empty_remote_runs_locally(rb):
    assert rb.render_argv(rb.step("remote-argv"), {"v": "x", "dest": ""}) == ["printf", "%s", "x"]


@pytest.mark.parametrize("dest", ["-oProxyCommand=touch /tmp/pwn", "a b", "host;id", "$(id)"])
def test_hostile_ssh_destination_refused(rb, dest):
    with pytest.raises(ParamError):
        rb.render(rb.step("remote-argv"), {"v": "x", "dest": dest})


def test_nul_refused(rb):
    with pytest.raises(ParamError, match="NUL"):
        rb.render(rb.step("argv"), {"v": "a\x00b"})


def test_missing_param(rb):
    assert [p.name for p in rb.missing_params({}, rb.step("argv"))] == ["v"]
    assert rb.missing_params({"v": "x"}, rb.step("argv")) == []
    with pytest.raises(ParamError, match="missing"):
        rb.render(rb.step("argv"), {})


def test_remote_env_goes_through_env_command(tmp_path):
    text = RUNBOOK.replace('env = { TOKEN = "{token}", LABEL = "x-{v}" }',
                           'env = { LABEL = "x-{v}" }\nremote = "{dest}"\ncwd = "/srv/{v}"')
    p = tmp_path / "r.toml"
    p.write_text(text, encoding="utf-8")
    rb = load_runbook(p)
    rc = rb.render(rb.step("env"), {"v": "a b", "dest": "db1"})
    assert rc.env == {} and rc.cwd is None and rc.remote == "db1"
    assert shlex.split(rc.argv[-1]) == ["env", "-C", "/srv/a b", "LABEL=x-a b", "tool"]


def test_secret_cannot_go_to_remote(tmp_path):
    from cockpit.runbooks import RunbookError

    text = RUNBOOK.replace('env = { TOKEN = "{token}", LABEL = "x-{v}" }',
                           'env = { TOKEN = "{token}" }\nremote = "{dest}"')
    p = tmp_path / "r.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(RunbookError, match="remote"):
        load_runbook(p)


@pytest.mark.parametrize("dest", [" ", "db1\n", "\ndb1"])
def test_whitespace_destination_is_not_local(rb, dest):
    with pytest.raises(ParamError):
        rb.render(rb.step("remote-argv"), {"v": "x", "dest": dest})


@pytest.mark.parametrize("script,problem", [
    ("echo '{v}'", "inside single quotes"),
    ('echo "{v}"', "inside double quotes"),
    ('echo "$(printf %s {v})"', "inside double quotes"),
    ("echo `echo {v}`", "inside backquotes"),
    ("cat <<EOF\n{v}\nEOF", "heredoc"),
    ("echo \\{v}", "backslash"),
    ('echo "\\{v}"', "backslash"),
    ("echo ${v}", "right after $"),
    ("echo 'unterminated", "unterminated single quote"),
])
def test_unsafe_shell_positions_refused(script, problem):
    from cockpit.runbooks import shell_placeholder_problems

    problems = shell_placeholder_problems(script)
    assert problems and problem in problems[0], problems


@pytest.mark.parametrize("script", [
    "echo {v}", "echo pre-{v}-post", "x={v}; echo \"$x\"", "echo '{{v}}' {v}",
    "echo \"$HOME\" {v}  # don't", "awk '{{print $1}}' {v}", "echo ${{HOME}} {v}",
    "echo $(printf %s {v})", "echo \\{{ {v}",
])
def test_safe_shell_positions_accepted(script):
    from cockpit.runbooks import shell_placeholder_problems

    assert shell_placeholder_problems(script) == []


def test_rendered_command_describes_remote_script(rb):
    rc = rb.render(rb.step("remote-shell"), {"v": "a b", "dest": "ops@db1"})
    assert rc.script == "printf '%s' 'a b'"
    assert rc.inner == ("/bin/sh", "-c", rc.script)
    assert rc.describe() == "on ops@db1 via ssh:\nprintf '%s' 'a b'"
    local = rb.render(rb.step("argv"), {"v": "x"})
    assert local.inner == local.argv and local.describe() == "on this machine:\nprintf %s x"
