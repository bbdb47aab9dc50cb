"""run_command and the real spawn path: hostile parameters arrive exactly as typed, the
environment is explicit, secrets are masked, output is shown as plain text, dry runs run
nothing, the outcome flows (execute/confirm, fail/retry, verify, rollback) are journaled."""

from __future__ import annotations

import hashlib
import os
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_fakes import HOSTILE

from cockpit.journal import Journal, read_incident
from cockpit.redact import MASK
from cockpit.runbooks import claims, launch, process, verify
from cockpit.runbooks import state as steps
from cockpit.runbooks.claims import ClaimedBy
from cockpit.runbooks.launch import DryRun, StartedRun
from cockpit.runbooks.process import display_tail, run_command
from cockpit.runbooks.state import StepError

any_char = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
values = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(any_char, max_size=8)),
                  min_size=1, max_size=8).map("".join)

ECHO = """\
[runbook]
id = "t"
title = "T"
services = ["database"]

[[params]]
name = "v"
type = "str"

[[steps]]
id = "argv"
title = "argv"
command = ["printf", "%s", "{v}"]
timeout = "10s"
destructive = false

[[steps]]
id = "shell"
title = "shell"
shell = "printf '%s' {v}"
timeout = "10s"
destructive = false

[[steps]]
id = "env"
title = "value through the environment"
command = ["sh", "-c", "printf '%s' \\"$V\\""]
env = { V = "{v}" }
timeout = "10s"
destructive = false
"""


@pytest.fixture(scope="module")
def echo_rb(tmp_path_factory):
    from cockpit.runbooks import load_runbook

    d = tmp_path_factory.mktemp("echo")
    (d / "echo.toml").write_text(ECHO, encoding="utf-8")
    return load_runbook(d / "echo.toml"), d


def _run(rendered, tmp_path: Path, **kw) -> tuple[process.RunResult, bytes]:
    path = tmp_path / f"out-{os.urandom(4).hex()}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        res = run_command(rendered.argv, env=process.command_env(rendered), out_fd=fd,
                          timeout=rendered.timeout, secrets=rendered.secrets, **kw)
    finally:
        os.close(fd)
    data = path.read_bytes()
    path.unlink()
    return res, data


@settings(max_examples=1000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(v=values)
def test_hostile_values_reach_the_command_exactly_in_process(v, echo_rb):
    rb, tmp = echo_rb
    want = v.encode("utf-8", "surrogatepass")
    for sid in ("argv", "shell", "env"):
        r = rb.render(rb.step(sid), {"v": v})
        res, data = _run(r, tmp)
        assert res.exit_code == 0, (sid, res)
        assert data == want, sid
        assert res.bytes == len(want) and res.sha256 == hashlib.sha256(want).hexdigest()




def test_nul_is_refused_before_anything_runs(make_runbook, tmp_path):
    rb = make_runbook(ECHO)
    from cockpit.runbooks import ParamError

    with pytest.raises(ParamError, match="NUL"):
        rb.render(rb.step("argv"), {"v": "a\0b"})
    with pytest.raises(StepError, match="NUL"):
        run_command(["printf", "a\0b"], env={}, out_fd=1, timeout=1)


@pytest.mark.stress
def test_hostile_values_through_the_real_supervisor(make_runbook, state_dir, reaper):
    """50 hostile values through start() -> detached supervisor -> outputs/ file."""
    rb = make_runbook(ECHO)
    rnd = random.Random(5)
    vals = list(HOSTILE)
    while len(vals) < 50:
        vals.append("".join(rnd.choice(HOSTILE) + chr(rnd.randrange(1, 0x2FFF))
                            for _ in range(rnd.randrange(1, 6))))
    runs: list[tuple[str, StartedRun]] = []
    j = Journal(state_dir, "hostile", author="alice")
    for i, v in enumerate(vals):
        # every value on its own incident step: alternate argv and shell forms
        inc = f"hostile-{i}"
        r = launch.start(state_dir, inc, rb, "argv" if i % 2 else "shell", {"v": v},
                           author="alice", extra_env=reaper.env)
        assert isinstance(r, StartedRun)
        reaper.track(r.supervisor_pid)
        runs.append((v, r))
    j.close()
    for v, r in runs:
        st = r.wait(timeout=60)
        assert st is not None and st.state == "succeeded", (v, st)
        want = v.encode()
        assert r.output_path.read_bytes() == want
        assert st.output.bytes == len(want)
        assert st.output.sha256 == hashlib.sha256(want).hexdigest()


def test_environment_is_explicit(make_runbook, tmp_path, monkeypatch):
    for k, v in {"LD_PRELOAD": "/x.so", "PYTHONPATH": "/evil", "BASH_ENV": "/e", "ENV": "/e",
                 "AWS_SECRET_ACCESS_KEY": "k", "SSH_AUTH_SOCK": "/s"}.items():
        monkeypatch.setenv(k, v)
    rb = make_runbook(ECHO.replace('command = ["printf", "%s", "{v}"]',
                                   'command = ["sh", "-c", "env; read x; echo read=$?"]', 1))
    r = rb.render(rb.step("argv"), {"v": "x"})
    res, data = _run(r, tmp_path)
    names = {line.split("=", 1)[0] for line in data.decode().splitlines() if "=" in line}
    assert names - {"read", "PWD", "SHLVL", "_", "OLDPWD"} == {
        "PATH", "LANG", "HOME", "USER", "LOGNAME", "TERM", "NO_COLOR"}
    assert "read=1" in data.decode()  # stdin is /dev/null: prompts fail at once
    with pytest.raises(StepError, match="not allowed"):
        process.command_env(r, extra_env={"LD_PRELOAD": "/x"})


def test_known_secrets_are_masked_across_chunk_boundaries(tmp_path):
    secret = "hunter2-secret"
    for cut in range(1, len(secret)):
        path = tmp_path / f"s{cut}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        sink = process._Sink(fd, [secret, "abc"])
        payload = f"a {secret} b abcabc {secret}{secret} end".encode()
        # feed in pieces split inside the secret
        sink.feed(payload[: 2 + cut])
        sink.feed(payload[2 + cut: 20])
        sink.feed(payload[20:])
        sink.close()
        os.close(fd)
        got = path.read_bytes()
        assert got == f"a {MASK} b {MASK}{MASK} {MASK}{MASK} end".encode(), cut
        assert sink.redactions == 5
        assert hashlib.sha256(got).hexdigest() == sink.hash.hexdigest()
        assert sink.bytes == len(got)


def test_output_with_escapes_and_markup_is_saved_whole_and_shown_as_plain_text(
        make_runbook, state_dir, reaper):
    nasty = ("\x1b[2J\x1b[31mRED\x1b[0m \x1b]52;c;ZXZpbA==\x07 [bold red]not markup[/] "
             "[link=http://x]y[/link] \u202eevil\x9b31m tail\r\n")
    rb = make_runbook(ECHO)
    r = launch.start(state_dir, "esc", rb, "argv", {"v": nasty}, author="alice",
                       extra_env=reaper.env)
    st = r.wait(timeout=30)
    assert st.state == "succeeded"
    saved = r.output_path.read_bytes()
    assert saved == nasty.encode()  # kept whole, byte for byte
    shown = display_tail(r.tail())
    assert "\x1b" not in shown and "\x9b" not in shown and "\x07" not in shown
    assert "\u202e" not in shown and "<U+202E>" in shown
    assert "RED" in shown and "[bold red]not markup[/]" in shown
    assert "[link=http://x]y[/link]" in shown
    from rich.text import Text

    assert Text(shown).plain == shown  # as a Text, markup is literal text
    assert display_tail(b"\xff\xfe ok\n") == "\ufffd\ufffd ok\n"
    assert display_tail("é日本".encode()[1:]) == "日本"  # a tail cut inside a character


def test_tail_reads_only_the_end(tmp_path):
    p = tmp_path / "big"
    with open(p, "wb") as f:
        f.truncate(64 << 20)
        f.seek(0, 2)
        f.write(b"THE END")
    assert process.tail_bytes(p, 7) == b"THE END"
    assert len(process.tail_bytes(p)) == process.TAIL_BYTES
    assert process.tail_bytes(tmp_path / "missing") == b""


DRY = """\
[runbook]
id = "dry"
title = "Dry"
services = ["database"]

[[params]]
name = "path"
type = "path"

[[params]]
name = "token"
type = "str"
secret = true
default = "tok-123456"

[[steps]]
id = "touch"
title = "Create a file"
command = ["touch", "{path}"]
cwd = "/tmp"
env = { API_TOKEN = "{token}", MODE = "fast" }
timeout = "42s"
destructive = true
"""


def test_dry_run_shows_exactly_what_would_run_and_runs_nothing(make_runbook, state_dir,
                                                                tmp_path, reaper):
    rb = make_runbook(DRY)
    target = tmp_path / "canary; rm -rf ~"
    d = launch.start(state_dir, "dry", rb, "touch", {"path": str(target)}, author="alice",
                       dry_run=True)
    assert isinstance(d, DryRun)
    assert d.argv == ("touch", str(target))
    assert d.cwd == "/tmp"
    assert d.env_names == tuple(sorted({*process.BASE_ENV_NAMES, "API_TOKEN", "MODE"}))
    assert d.timeout == 42.0
    assert not target.exists()
    entries = read_incident(state_dir, "dry").entries
    dr = [e for e in entries if e.kind == "step.dry_run"]
    assert len(dr) == 1 and dr[0].data["argv"] == ["touch", str(target)]
    assert dr[0].data["env"] == list(d.env_names) and dr[0].data["cwd"] == "/tmp"
    assert dr[0].data["timeout"] == 42.0
    assert "tok-123456" not in (state_dir / "incidents/dry/journal").joinpath(
        dr[0].writer + ".toml").read_text()
    assert not any(e.kind in ("step.started", "step.claimed") for e in entries)
    assert not target.exists()
    # the destructive step refuses to run until the service name is typed
    for wrong in (None, "", "y", "yes", "Database"):
        with pytest.raises(StepError, match="type 'database'"):
            launch.start(state_dir, "dry", rb, "touch", {"path": str(target)},
                           author="alice", confirmation=wrong)
    assert not target.exists()
    r = launch.start(state_dir, "dry", rb, "touch", {"path": str(target)}, author="alice",
                       confirmation="database", extra_env=reaper.env)
    st = r.wait(timeout=30)
    assert st.state == "succeeded" and target.exists()
    started = [e for e in read_incident(state_dir, "dry").entries if e.kind == "step.started"]
    assert started[0].data["argv"] == dr[0].data["argv"]  # byte for byte the dry run's
    assert started[0].data["cwd"] == dr[0].data["cwd"]
    assert set(started[0].data["env"]) == set(dr[0].data["env"]) | {"CK_TEST"}
    claimed = [e for e in read_incident(state_dir, "dry").entries if e.kind == "step.claimed"]
    assert claimed[0].data["confirmation"] == "typed"


FLOW = """\
[runbook]
id = "flow"
title = "Flow"
services = ["database"]

[[params]]
name = "dir"
type = "path"

[[steps]]
id = "make"
title = "Make the marker (fails until 'allow' exists)"
shell = "test -e {dir}/allow && echo made > {dir}/marker"
timeout = "10s"
destructive = false
verify = { command = ["cat", "{dir}/marker"], expect_output = "^made$", timeout = "5s" }
rollback = { title = "Remove marker", command = ["rm", "-f", "{dir}/marker"], destructive = false }

[[steps]]
id = "manual"
title = "Call the DBA"
guidance = "By phone."
"""


def test_execute_fail_retry_verify_confirm_rollback(make_runbook, state_dir, tmp_path, reaper):
    rb = make_runbook(FLOW)
    p = {"dir": str(tmp_path)}
    j = Journal(state_dir, "flow", author="alice")
    make = rb.step("make")
    r = launch.start(state_dir, "flow", rb, "make", p, author="alice", journal=j,
                       extra_env=reaper.env)
    st = r.wait(timeout=30)
    assert st.state == "failed" and st.exit_code == 1 and st.attempt == 1
    assert verify.run_verify(state_dir, "flow", rb, "make", p, author="alice",
                               journal=j).passed is False
    (tmp_path / "allow").touch()
    with pytest.raises(StepError, match="retry it with a reason"):  # B4: never without one
        launch.start(state_dir, "flow", rb, "make", p, author="alice", journal=j,
                     extra_env=reaper.env, attempt=2)
    steps.retry(j, steps.state_of(claims.load_states(state_dir, "flow"), "flow", "make"),
                "created the allow file")
    r = launch.start(state_dir, "flow", rb, "make", p, author="alice", journal=j,
                       extra_env=reaper.env, attempt=2)
    st = r.wait(timeout=30)
    assert st.state == "succeeded" and st.attempt == 2 and st.verify is None
    ok, why = steps.can_confirm(st, make)
    assert not ok and "verify" in why
    v = verify.run_verify(state_dir, "flow", rb, "make", p, author="alice", journal=j)
    assert v.passed, v.detail
    st = steps.state_of(claims.load_states(state_dir, "flow"), "flow", "make")
    assert st.verify is True and steps.can_confirm(st, make)[0]
    # roll back instead of confirming
    r = launch.start_rollback(state_dir, "flow", rb, "make", p, author="alice", journal=j,
                                extra_env=reaper.env)
    assert isinstance(r, StartedRun)
    st = r.wait(timeout=30)
    assert st.state == "rolled_back" and not (tmp_path / "marker").exists()
    with pytest.raises(StepError, match="rolled back"):
        launch.start(state_dir, "flow", rb, "make", p, author="alice", journal=j)
    # a verify can also run detached, under a supervisor
    vr = launch.start_verify(state_dir, "flow", rb, "make", p, author="alice", journal=j,
                               extra_env=reaper.env)
    st = vr.wait(timeout=30)
    assert st.verify is False  # the marker was removed by the rollback
    # manual steps are confirmed without running anything
    with pytest.raises(StepError, match="manual"):
        launch.start(state_dir, "flow", rb, "manual", p, author="alice", journal=j)
    man = steps.state_of(claims.load_states(state_dir, "flow"), "flow", "manual")
    steps.confirm(j, man, rb.step("manual"))
    kinds = [e.kind for e in read_incident(state_dir, "flow").entries
             if e.kind.startswith("step.")]
    assert kinds == [
        "step.claimed", "step.started", "step.output", "step.failed",
        "step.output", "step.verify_failed", "step.retry",
        "step.claimed", "step.started", "step.output", "step.succeeded",
        "step.output", "step.verify_passed",
        "step.rollback_started", "step.output", "step.rolled_back",
        "step.output", "step.verify_failed",
        "step.confirmed"]
    j.close()


def test_a_missing_program_fails_cleanly(tmp_path):
    fd = os.open(tmp_path / "o", os.O_WRONLY | os.O_CREAT, 0o600)
    res = run_command(["/nonexistent/prog", "x"], env={}, out_fd=fd, timeout=5)
    os.close(fd)
    assert res.exit_code == 127 and "cannot run" in res.error
    assert b"cannot run" in (tmp_path / "o").read_bytes()


def test_supervisor_rejects_a_bad_job(tmp_path):
    import subprocess

    bad = tmp_path / "job.json"
    bad.write_text("{}")
    out = subprocess.run([sys.executable, "-m", "cockpit.runbooks.supervisor", str(bad)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "bad job" in out.stderr


def test_claimed_by_str():
    c = ClaimedBy("bob", 0.0, host="bastion", attempt=1)
    assert "claimed by bob on bastion" in str(c)
