"""``cockpit review`` in a subprocess: an empty $HOME, no configuration, no network (``unshare
-rn``: a network namespace with only a loopback that is down), a bare environment (``env
-i``); an audit hook records every attempt to resolve a name or open, bind or connect a
network socket: there is none. Driven through the pty harness (what a terminal shows)."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from security.pty_harness import PY, Pty

from .helpers import record

AUDIT = textwrap.dedent('''
    import os, socket, sys
    _log = os.environ["REVIEW_NET_LOG"]
    _NET = ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
            "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg")
    def _hook(event, args):
        if event == "socket.__new__":
            if args[1] in (socket.AF_UNIX, -1):
                return
        elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
            if getattr(args[0], "family", None) == socket.AF_UNIX:
                return
        elif event not in _NET:
            return
        with open(_log, "a") as f:
            f.write(f"{event} {args[1:]!r}\\n")
    sys.addaudithook(_hook)
''')


def allowed(*argv: str) -> str | None:
    try:
        p = subprocess.run(list(argv), capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if p.returncode == 0 else (p.stderr.strip() or f"exit {p.returncode}")


def bare(tmp_path: Path, cols: int, rows: int) -> tuple[list[str], Path]:
    """``env -i`` with only what a terminal needs, HOME empty, the audit hook loaded."""
    home = tmp_path / "home"
    home.mkdir()
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(AUDIT)
    log = tmp_path / "net.log"
    log.write_text("")
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "TERM": "xterm-256color",
           "COLUMNS": str(cols), "LINES": str(rows), "PYTHONPATH": str(hook),
           "REVIEW_NET_LOG": str(log), "LANG": "C.UTF-8", "ESCDELAY": "50"}
    return ["env", "-i", *(f"{k}={v}" for k, v in env.items())], log


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_review_runs_with_no_home_no_config_no_network(tmp_path, size):
    why = allowed("unshare", "-rn", "true")
    if why is not None and os.environ.get("CI") != "true":
        pytest.skip(f"`unshare -rn` not allowed on this machine: {why}")
    state = tmp_path / "state"
    iid, at = record(state)
    before = sorted((p.relative_to(state), p.stat().st_size) for p in state.rglob("*"))
    prefix, log = bare(tmp_path, *size)
    work = tmp_path / "empty"
    work.mkdir()
    argv = [*prefix, "unshare", "-rn", PY, "-m", "cockpit", "review", iid,
            "--state-dir", str(state), "--at", "T+0s"]
    with Pty.spawn(argv, cols=size[0], rows=size[1], cwd=work) as p:
        # (one predicate: the screen may be read between two frames)
        ok = p.wait_for(lambda t: "REVIEW" in t and "DECLARED" in t and "T+0:00:00" in t
                        and "refused" in t,  # the DB's health as journaled then
                        timeout=60)
        assert ok, f"the review never showed the incident's start:\n{p.text()}"
        p.press(">")  # to the end
        ok = p.wait_for(lambda t: "RECOVERED" in t and "bob" in t, timeout=30)
        assert ok, f"the scrubber did not move to the end:\n{p.text()}"
        p.press("d")  # declare: refused, nothing opens, nothing written
        p.press("q")
        assert p.wait(20) == 0, p.text()
    assert log.read_text() == "", "something tried to use the network:\n" + log.read_text()
    assert not any((tmp_path / "home").iterdir()), "the review wrote into $HOME"
    assert sorted((p.relative_to(state), p.stat().st_size) for p in state.rglob("*")) == before


def test_the_audit_hook_sees_a_connection(tmp_path):
    """The hook above is not blind: a process that connects is recorded."""
    prefix, log = bare(tmp_path, 80, 24)
    subprocess.run([*prefix, PY, "-c", "import socket\ntry:\n socket.create_connection("
                    "('127.0.0.1', 9), timeout=1)\nexcept OSError: pass"], timeout=60)
    assert "socket.connect" in log.read_text()


@pytest.mark.parametrize("target, why", [
    ("no-such-incident", "no such incident: no-such-incident (in "),
    ("../../etc", "neither a capture bundle nor an incident's directory"),
])
def test_a_wrong_target_is_one_line_and_exit_2(tmp_path, target, why):
    state = tmp_path / "state"
    record(state)
    prefix, _ = bare(tmp_path, 80, 24)
    p = subprocess.run([*prefix, PY, "-m", "cockpit", "review", target, "--state-dir",
                        str(state)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert why in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "Traceback" not in p.stderr


def test_a_file_that_is_not_a_bundle_is_one_line(tmp_path):
    bogus = tmp_path / "bundle.tar"
    bogus.write_bytes(b"not a tar archive at all")
    prefix, _ = bare(tmp_path, 80, 24)
    p = subprocess.run([*prefix, PY, "-m", "cockpit", "review", str(bogus), "--state-dir",
                        str(tmp_path / "state")], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert p.returncode != 0, (p.stdout, p.stderr)
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, p.stderr


def test_review_of_a_bundle_with_no_home_no_config_no_network(tmp_path):
    """The BUNDLE form: verified and extracted by the bundle code, the title bar says whose
    signature (here: none), the panes are the incident's."""
    bundle_mod = pytest.importorskip("cockpit.review.bundle",
                                     reason="capture bundles (issue 12 part A)")
    why = allowed("unshare", "-rn", "true")
    if why is not None and os.environ.get("CI") != "true":
        pytest.skip(f"`unshare -rn` not allowed on this machine: {why}")
    state = tmp_path / "state"
    iid, _ = record(state)
    out = tmp_path / "db-outage.tar"
    bundle_mod.capture(state, iid, out)
    prefix, log = bare(tmp_path, 120, 40)
    argv = [*prefix, "unshare", "-rn", PY, "-m", "cockpit", "review", str(out), "--at", "T+0s"]
    with Pty.spawn(argv, cols=120, rows=40, cwd=tmp_path) as p:
        ok = p.wait_for(lambda t: "REVIEW" in t and "db-outage.tar" in t and "DECLARED" in t
                        and ("unsigned" in t.lower() or "not signed" in t.lower()),
                        timeout=60)
        assert ok, f"the review of the bundle never showed, or not as unsigned:\n{p.text()}"
        p.press("q")
        assert p.wait(20) == 0, p.text()
    assert log.read_text() == "", "something tried to use the network:\n" + log.read_text()


def test_open_review_takes_an_id_a_directory_and_a_named_configuration(tmp_path):
    from cockpit.cli.common import CliError
    from cockpit.cli.review import open_review

    state = tmp_path / "state"
    iid, _ = record(state)
    by_id, close = open_review(iid, state)
    close()
    assert by_id.incident_id == iid and by_id.loaded
    # no configuration: the services the incident names and those with health, no targets
    assert [s.id for s in by_id.services] == ["db", "cache"]
    assert all(s.rto is None for s in by_id.services)
    by_dir, close = open_review(str(state / "incidents" / iid), tmp_path / "elsewhere")
    close()
    assert by_dir.incident_id == iid and by_dir.root == state
    cfg = tmp_path / "c.toml"
    cfg.write_text('[cockpit]\nenvironment = "x"\n\n[services.db]\ntitle = "PostgreSQL"\n'
                   'rto = "15m"\nrpo = "5m"\n')
    named, close = open_review(iid, state, str(cfg))
    close()
    assert [(s.id, s.title, s.rto, s.rpo) for s in named.services] == [
        ("db", "PostgreSQL", 900.0, 300.0)]
    lazy, close = open_review(iid, state, load=False)
    close()
    assert not lazy.loaded
    with pytest.raises(CliError, match="no such incident"):
        open_review("20990101-000000-none", state)
