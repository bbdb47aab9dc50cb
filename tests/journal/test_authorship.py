"""Who wrote it (issue 17): the author of an entry is the operating-system account of the
writing process, never ``$USER``; in a shared state directory each writer file must be owned
by the uid its session-start names, and its entries be by the user it names. A mismatch is
flagged by every reader, ``cockpit verify`` and the cockpit's banner.

The tests with a second account create a system user (``useradd``) where they can: as root
with ``useradd`` and ``setpriv``; elsewhere they skip, but never under ``CI=true``.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from security.hostile_writer import KIND_FIELDS, HostileWriter
from security.pty_harness import Pty
from shared_fakes import require

from cockpit.journal import Follower, read_incident, verify_incident

ROOT = Path(__file__).resolve().parents[2]
ME = pwd.getpwuid(os.getuid()).pw_name
USER2, GROUP = "cockpit17b", "drcockpit17"

pytestmark = pytest.mark.xdist_group("second-user")


def cli(*args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = (),
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``cockpit ARGS`` as a new process (``prefix``: e.g. setpriv as another user)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("COCKPIT_", "PYTEST"))}
    full.update({"COCKPIT_NO_SYSLOG": "1", "PYTHONPATH": str(ROOT)})
    full.update(env or {})
    return subprocess.run([*prefix, sys.executable, "-m", "cockpit", *args], env=full,
                          capture_output=True, text=True, timeout=60, cwd=cwd or ROOT)


def shared_config(directory: Path) -> Path:
    cfg = directory / "cockpit.toml"
    cfg.write_text("""\
[cockpit]
environment = "authorship"
mode = "shared"

[services.database]
title = "PostgreSQL"

[[services.database.probes]]
kind = "tcp"
name = "primary"
host = "127.0.0.1"
port = 9
""")
    os.chmod(cfg, 0o644)
    return cfg


def shared_state(base: Path, group: int | None = None) -> Path:
    """A shared state directory as the README's admin makes it: setgid + sticky, group
    writable, no "other" bits."""
    state = base / "state"
    state.mkdir()
    if group is not None:
        os.chown(state, 0, group)
    os.chmod(state, 0o3770)
    return state


def authors(state: Path, iid: str) -> set[str]:
    return {e.author for e in read_incident(state, iid).entries}


# ------------------------------------------------------------------ one account

def test_user_and_logname_do_not_choose_the_author(tmp_path):
    """`USER=mallory cockpit incident note ...` records the real account."""
    state = tmp_path / "state"
    p = cli("incident", "declare", "--title", "db down", "--state-dir", str(state))
    assert p.returncode == 0, p.stderr
    iid = p.stdout.strip()
    p = cli("incident", "note", iid, "seen", "--state-dir", str(state),
            env={"USER": "mallory", "LOGNAME": "mallory", "SUDO_USER": ""})
    assert p.returncode == 0, p.stderr
    log = cli("log", iid, "--json", "--state-dir", str(state))
    rows = [json.loads(x) for x in log.stdout.splitlines()]
    assert {r["author"] for r in rows} == {ME}
    starts = [r for r in rows if r["kind"] == "session-start"]
    assert len(starts) == 2 and {(r["data"]["user"], r["data"]["uid"]) for r in starts} == {
        (ME, os.getuid())}


def _forge(state: Path, iid: str, mode: str = "shared", **start: object) -> HostileWriter:
    return HostileWriter(state, iid, mode=mode, session_start=dict(
        KIND_FIELDS["session-start"], incident=iid, mode=mode, **start))


def test_a_writer_file_not_owned_by_its_session_start_uid_is_flagged(tmp_path):
    state = shared_state(tmp_path)
    iid = "20990101-000000-forged-0001"
    with _forge(state, iid, uid=4242, euid=4242, user="alice") as w:
        w.append("note", {"type": "action", "text": "I did it"}, author="alice")
    res = verify_incident(state, iid)
    assert res.ok and not res.clean and len(res.authorship) == 1
    why = res.authorship[0]
    assert why.startswith(f"{w.path.name} is owned by uid {os.getuid()} ({ME}) but its "
                          "session-start names uid 4242")
    assert read_incident(state, iid).authorship == [why]
    f = Follower(state, iid)
    f.poll()
    assert f.authorship == [why]
    p = cli("verify", iid, "--state-dir", str(state))
    assert p.returncode == 1 and f"authorship not proven: {why}" in p.stdout, p.stdout


def test_entries_by_another_author_than_the_file_writer_are_flagged(tmp_path):
    state = shared_state(tmp_path)
    iid = "20990101-000000-forged-0002"
    with _forge(state, iid, uid=os.getuid(), euid=os.geteuid(), user=ME) as w:
        w.append("note", {"type": "action", "text": "honest"}, author=ME)
        w.append("note", {"type": "action", "text": "as alice"}, author="alice")
    res = verify_incident(state, iid)
    assert res.authorship == [f"{w.path.name} seq 3: author 'alice' is not the file's "
                              f"writer '{ME}'"]


def test_honest_writers_and_personal_directories_are_not_flagged(tmp_path):
    from cockpit.incident.store import IncidentStore

    state = shared_state(tmp_path)
    store = IncidentStore(state, mode="shared")
    iid = store.declare("db down", "P1", ["database"])
    store.note(iid, "seen")
    store.close()
    assert verify_incident(state, iid).clean
    personal = tmp_path / "personal"
    with _forge(personal, iid, mode="personal", uid=4242, euid=4242, user="alice"):
        pass
    assert verify_incident(personal, iid).authorship == []  # 0700: only we can write there


# ------------------------------------------------------------------ a second account

@pytest.fixture(scope="module")
def second_user():
    """A second system account (and a group shared with root), created for these tests and
    removed after them; ``run`` runs argv as that account."""
    can = os.getuid() == 0 and shutil.which("useradd") and shutil.which("setpriv")
    require(bool(can), "root with useradd and setpriv (a second system user)")
    made_group = made_user = False
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", GROUP], check=True, capture_output=True)
        made_group = True
    try:
        pwd.getpwnam(USER2)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", "--groups", GROUP, USER2], check=True,
                       capture_output=True)
        made_user = True
    subprocess.run(["usermod", "-aG", GROUP, USER2], check=True, capture_output=True)
    pw, gid = pwd.getpwnam(USER2), grp.getgrnam(GROUP).gr_gid
    # its own uid and groups; dac_read_search only to reach this checkout's interpreter
    # (/root is 0700): every file it creates is its own
    prefix = ("setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
              "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search")
    try:
        yield pw, gid, prefix
    finally:
        if made_user:
            subprocess.run(["userdel", USER2], capture_output=True)
        if made_group:
            subprocess.run(["groupdel", GROUP], capture_output=True)


def test_a_second_account_writes_as_itself_and_a_forgery_is_flagged(tmp_path, second_user):
    pw, gid, as_user2 = second_user
    os.chmod(tmp_path, 0o755)
    cfg = shared_config(tmp_path)
    state = shared_state(tmp_path, gid)
    p = cli("incident", "declare", "--title", "db down", "--config", str(cfg),
            "--state-dir", str(state))
    assert p.returncode == 0, p.stderr
    iid = p.stdout.strip()
    # the second engineer, with USER and LOGNAME set to someone else
    p = cli("incident", "note", iid, "restarted", "--config", str(cfg), "--state-dir",
            str(state), env={"USER": "mallory", "LOGNAME": "mallory", "SUDO_USER": "root"},
            prefix=as_user2)
    assert p.returncode == 0, p.stderr
    assert authors(state, iid) == {ME, pw.pw_name}
    jdir = state / "incidents" / iid / "journal"
    owners = {f.stat().st_uid for f in jdir.iterdir()}
    assert owners == {os.getuid(), pw.pw_uid}
    assert verify_incident(state, iid).clean  # every file is who it says
    # now a forgery: the second account writes a file that says it is root's
    forge = (f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
             "from security.hostile_writer import HostileWriter, KIND_FIELDS\n"
             f"w = HostileWriter({str(state)!r}, {iid!r}, mode='shared', session_start=dict("
             f"KIND_FIELDS['session-start'], uid=0, euid=0, user='root', mode='shared'))\n"
             "w.append('note', {'type': 'action', 'text': 'root did it'}, author='root')\n"
             "print(w.path.name)\n")
    p = subprocess.run([*as_user2, sys.executable, "-c", forge], capture_output=True,
                       text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    forged = p.stdout.strip()
    res = verify_incident(state, iid)
    assert res.authorship == [f"{forged} is owned by uid {pw.pw_uid} ({pw.pw_name}) but its "
                              "session-start names uid 0 (root): who wrote its entries is not "
                              "proven"]
    p = cli("verify", iid, "--state-dir", str(state))
    assert p.returncode == 1 and "authorship not proven" in p.stdout
    # and on the screen of a cockpit following the incident
    env = {"XDG_STATE_HOME": str(tmp_path / "xdg"), "COCKPIT_NO_SYSLOG": "1"}
    with Pty.spawn([sys.executable, "-m", "cockpit", "--config", str(cfg), "--state-dir",
                    str(state)], cols=160, rows=40, env=env) as ck:
        assert ck.wait_for("WHO WROTE IT IS NOT PROVEN", 20), ck.text()
        assert ck.wait_for(f"{forged} is owned by uid {pw.pw_uid}", 5), ck.text()
        ck.press("q", pause=0.0)
        assert ck.wait(15) == 0
