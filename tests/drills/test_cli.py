"""``cockpit drills``: exit 0 when every drill is on schedule, 1 when one is overdue (like a
monitoring check), 2 for a refusal; --json; record and log; [drills] in cockpit.toml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from cockpit.drills.schedule import DAY, PLAN_DRILLS
from cockpit.drills.store import DrillStore
from cockpit.timeutil import FixedClock


def cli(state, *argv, config=None):
    pre = ["--config", str(config)] if config else []
    return subprocess.run([sys.executable, "-m", "cockpit", *pre, "--state-dir", str(state),
                           *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COCKPIT_NO_SYSLOG": "1"})


def _all_done(state, age=0.0, skip=()):
    store = DrillStore(state, clock=FixedClock(time.time() - age), author="alice")
    for k in PLAN_DRILLS:
        if k.id not in skip:
            store.record(k.id, "passed")
    store.close()


def test_exit_1_when_never_run_0_when_all_on_schedule(tmp_path):
    state = tmp_path / "state"
    r = cli(state, "drills")
    assert r.returncode == 1, r.stderr
    assert "never run: overdue" in r.stdout and "OVERDUE: backup-verify, restore" in r.stdout
    _all_done(state, age=60)
    r = cli(state, "drills")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["STATE", "DRILL", "CADENCE"]
    restore = next(ln for ln in lines if " restore " in ln)
    assert restore.startswith("OK") and "weekly" in restore and "due in 6d23h" in restore
    assert "backup success rate: 100% (2 of 2" in r.stdout
    assert "OVERDUE" not in r.stdout


def test_one_overdue_drill_is_exit_1_and_named(tmp_path):
    state = tmp_path / "state"
    _all_done(state, age=60, skip=("backup-verify",))
    _all_done(state, age=2 * DAY, skip=[k.id for k in PLAN_DRILLS if k.id != "backup-verify"])
    r = cli(state, "drills", "--json")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["overdue"] == ["backup-verify"]
    bv = next(d for d in doc["drills"] if d["drill"] == "backup-verify")
    assert bv["state"] == "OVERDUE" and bv["due"].startswith("overdue by 1d00h")
    assert 86400 <= bv["overdue_seconds"] < 86400 + 600
    assert doc["metrics"]["backup_success_rate"] == 1.0


def test_config_cadences_and_refusals(tmp_path):
    state = tmp_path / "state"
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text('[drills.backup-verify]\nenabled = false\n[drills.restore]\n'
                   'cadence = "14d"\n', encoding="utf-8")
    _all_done(state, age=10 * DAY, skip=("backup-verify",))
    # restore 10 days ago: overdue on the plan's weekly cadence, on time on 14 days
    assert cli(state, "drills").returncode == 1
    r = cli(state, "drills", config=cfg)
    assert r.returncode == 0, r.stdout  # restore every 14 days, backup-verify off
    assert "OVERDUE" not in r.stdout
    assert next(ln for ln in r.stdout.splitlines() if "backup-verify" in ln).startswith("OFF")
    assert "every 14d " in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[drills.restore]\ncadence = "weekly"\n', encoding="utf-8")
    r = cli(state, "drills", config=bad)
    assert r.returncode == 2 and "bad.toml" in r.stderr and "cadence" in r.stderr
    assert r.stderr.count("\n") == 1
    r = cli(state, "drills", "record", "nope", "--outcome", "passed")
    assert r.returncode == 2 and "no drill 'nope'" in r.stderr
    r = cli(state, "drills", "run", "tabletop")
    assert r.returncode == 2 and "has no runbook" in r.stderr


def test_record_and_log(tmp_path):
    state = tmp_path / "state"
    r = cli(state, "drills", "record", "tabletop", "--outcome", "failed", "--note",
            "no one knew the \x1b[31mDNS\x1b[0m registrar login")
    assert r.returncode == 0 and "drill tabletop recorded: failed" in r.stdout
    r = cli(state, "drills", "log", "--json")
    doc = json.loads(r.stdout.splitlines()[0])
    assert doc["drill"] == "tabletop" and doc["outcome"] == "failed"
    r = cli(state, "drills")
    line = next(ln for ln in r.stdout.splitlines() if "tabletop" in ln)
    assert line.startswith("FAILED") and "due in 181d23h" in line
    text_log = cli(state, "drills", "log").stdout
    assert "\x1b" not in text_log
    assert "note: no one knew the" in text_log and "registrar login" in text_log  # the note


def test_what_a_drill_journal_says_is_shown_escaped(tmp_path):
    state = tmp_path / "state"
    store = DrillStore(state, author="mallory \x1b[2J")
    rid = store.start("restore", runbook="restore-drill")
    store.finish(rid, "failed", detail="pwned \x1b]52;c;SGVsbG8=\x07 \u202eevil [b]x[/b]",
                 figures={"failed_step": "restore\x1b[31m"})
    store.close()
    for argv in (("drills", "log"), ("drills", "log", "--json"), ("drills",),
                 ("drills", "--json")):
        r = cli(state, *argv)
        assert r.returncode in (0, 1), r.stderr
        assert "\x1b" not in r.stdout and "\u202e" not in r.stdout and "\x07" not in r.stdout
    doc = json.loads(cli(state, "drills", "log", "--json").stdout)
    assert doc["detail"].startswith("pwned \x1b]52")  # the data itself, escaped on the way out


def test_cockpit_metrics_shows_the_drills_figures(tmp_path):
    """The drills feed ``cockpit metrics``: backup success rate and completion on schedule,
    from the drill journals (two backup drills, one failed: 50%)."""
    state = tmp_path / "state"
    store = DrillStore(state, clock=FixedClock(time.time() - 3 * DAY), author="alice")
    store.record("restore", "failed")
    store.close()
    _all_done(state, age=60)  # every drill once, the backup verification passed
    r = cli(state, "metrics")
    assert r.returncode == 0, r.stderr
    assert "Drills (the DR testing schedule):" in r.stdout
    assert "backup success rate: 67% (2 of 3 backup drills passed in 91d" in r.stdout
    doc = json.loads(cli(state, "metrics", "--json").stdout)
    d = doc["drills"]
    assert (d["backup_runs"], d["backup_passed"], d["overdue"]) == (3, 2, [])
    assert d["window_seconds"] == 91 * DAY
    r = cli(state, "metrics", "--since", "1d", "--json")  # the same window as the incidents
    d = json.loads(r.stdout)["drills"]
    assert (d["backup_runs"], d["backup_passed"], d["window_seconds"]) == (2, 2, DAY)


def test_a_dry_run_shows_the_values_the_commands_use_and_masks_a_secret(tmp_path):
    r = cli(tmp_path / "state", "drills", "run", "restore", "--dry-run",
            "-p", "backup_tool=pgbackrest", "-p", "pgbackrest_config=/etc/pgbr/x.conf",
            "-p", "pgbackrest_stanza=main", "-p", "tables=orders,users")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("drill restore: parameters: ")
    assert "pgbackrest_config=/etc/pgbr/x.conf" in first and "tables=orders,users" in first
    assert "pg_password=***" in first or "pg_password" not in first
    assert r.stdout.rstrip().endswith("dry run, nothing ran")


SLOW_DRILL = """\
[runbook]
id = "slow-drill"
title = "A drill whose restore takes its time"
services = ["database"]

[[params]]
name = "scratch"
type = "path"

[[steps]]
id = "restore"
title = "Restore into the scratch directory (slow)"
env = {{ SCRATCH = "{{scratch}}" }}
shell = '''
mkdir "$SCRATCH" && touch "$SCRATCH/cockpit-restore-drill"
echo $$ > "$SCRATCH/restore.pid"
exec sleep 600
'''
timeout = "20m"
destructive = false

[[steps]]
id = "check"
title = "Never reached"
shell = "echo never > {marker}"
timeout = "1m"
destructive = false

[[steps]]
id = "cleanup"
title = "Remove the scratch directory"
env = {{ SCRATCH = "{{scratch}}" }}
shell = '''
test -f "$SCRATCH/cockpit-restore-drill" || exit 0
rm -rf -- "$SCRATCH" && echo "removed $SCRATCH"
'''
timeout = "1m"
destructive = false
"""


def test_ctrl_c_stops_the_running_step_still_cleans_up_and_records_aborted(tmp_path):
    """Ctrl-C during a drill's step: the step is stopped as its timeout would stop it (its
    whole tree), the cleanup still runs, the run is recorded aborted, exit 130."""
    import signal

    rb_dir = tmp_path / "runbooks"
    rb_dir.mkdir()
    never = tmp_path / "never"
    (rb_dir / "slow-drill.toml").write_text(SLOW_DRILL.format(marker=never), encoding="utf-8")
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(f'[cockpit]\nrunbook_dirs = ["{rb_dir}"]\n'
                   '[drills.slow]\ntitle = "Slow drill"\nrunbook = "slow-drill"\n',
                   encoding="utf-8")
    state, scratch = tmp_path / "state", tmp_path / "scratch"
    p = subprocess.Popen([sys.executable, "-m", "cockpit", "--config", str(cfg), "--state-dir",
                          str(state), "drills", "run", "slow", f"--param=scratch={scratch}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "COCKPIT_NO_SYSLOG": "1"})
    pid = 0
    try:
        end = time.monotonic() + 60
        while not (scratch / "restore.pid").exists() and time.monotonic() < end:
            assert p.poll() is None, p.communicate()
            time.sleep(0.05)
        pid = int((scratch / "restore.pid").read_text())  # the step's command, running
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            p.kill()
        alive = False
        if pid:
            try:
                os.kill(pid, 0)
                alive = True
                os.kill(pid, signal.SIGKILL)  # never left behind by a failing run
            except ProcessLookupError:
                pass
    assert not alive, "the step's command still ran after the drill ended"
    assert p.returncode == 130, out + err
    assert "Traceback" not in err, err
    assert "restore: interrupted (Ctrl-C) during step restore" in out
    assert "restore: stopped: failed" in out
    assert "cleanup: succeeded" in out
    assert "drill slow aborted: interrupted (Ctrl-C) during step restore" in out
    assert not scratch.exists()  # the cleanup ran
    assert not never.exists()  # nothing after the interrupted step
    r = cli(state, "drills", "log", config=cfg)
    assert r.returncode == 0, r.stderr
    assert "aborted" in r.stdout and "interrupted (Ctrl-C) during step restore" in r.stdout


def test_the_cleanup_left_to_do_by_hand_names_the_step_and_masks_a_secret(tmp_path):
    """What the result of a drill says when its cleanup could not run (it goes into the
    drill's journal): where the step is, the values it runs with, a secret masked."""
    from cockpit.drills.restore import _cleanup_words
    from cockpit.session.steps import load_library

    rb_dir = tmp_path / "runbooks"
    rb_dir.mkdir()
    text = SLOW_DRILL.format(marker=tmp_path / "never").replace(
        '[[steps]]\nid = "restore"',
        '[[params]]\nname = "token"\ntype = "str"\nsecret = true\n\n[[steps]]\nid = "restore"',
    ).replace('env = { SCRATCH = "{scratch}" }\nshell = \'\'\'\ntest -f',
              'env = { SCRATCH = "{scratch}", TOKEN = "{token}" }\nshell = \'\'\'\ntest -f')
    (rb_dir / "slow-drill.toml").write_text(text, encoding="utf-8")
    rb = load_library((rb_dir,)).library.get("slow-drill")
    assert rb is not None
    params = rb.param_values({"scratch": str(tmp_path / "scratch"), "token": "s3cr3t-canary"},
                             None)
    cleanup = next(s for s in rb.steps if s.id == "cleanup")
    words = _cleanup_words(rb, cleanup, params)
    assert words.startswith("the cleanup step of runbook slow-drill (`cockpit runbooks show "
                            "slow-drill` shows its command) with ")
    assert f"SCRATCH={tmp_path / 'scratch'}" in words and "TOKEN=" in words
    assert "s3cr3t-canary" not in words
