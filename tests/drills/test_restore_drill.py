"""The restore drill end to end: a real PostgreSQL primary archiving its WAL with pgBackRest
to the real S3 server (SeaweedFS over HTTPS), a base backup taken here, rows written after
it; the ``restore-drill`` runbook run through the executor (supervisor, verify gates,
journal) restores into a scratch directory on a scratch port, checks and removes it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from shared_fakes import require

from cockpit.drills.restore import run_drill
from cockpit.drills.schedule import PLAN_DRILLS
from cockpit.drills.store import DrillStore
from cockpit.runbooks import builtin_dir, load_library

pytestmark = [pytest.mark.service, pytest.mark.xdist_group("restore-drill")]

STANZA = "drill"
RESTORE = next(k for k in PLAN_DRILLS if k.id == "restore")


def _pg_bin() -> str | None:
    import glob

    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


PG_BIN = _pg_bin()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_pg(*argv: str) -> list[str]:
    return list(argv) if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *argv]


class Primary:
    def __init__(self, base: Path, port: int, conf: Path) -> None:
        self.base, self.port, self.conf = base, port, conf
        self.data = base / "data"
        self.s3: Any = None

    def sql(self, q: str) -> str:
        r = subprocess.run([f"{PG_BIN}/psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h",
                            "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "app",
                            "-c", q], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def pgbackrest(self, *args: str) -> str:
        r = subprocess.run(_as_pg("pgbackrest", f"--config={self.conf}", f"--stanza={STANZA}",
                                  *args), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def switch_and_wait_archived(self) -> None:
        seg = self.sql("select pg_walfile_name(pg_switch_wal())")
        end = time.monotonic() + 120
        while time.monotonic() < end:
            if self.sql("select coalesce(last_archived_wal, '') from pg_stat_archiver") >= seg:
                return
            time.sleep(0.2)
        raise AssertionError(f"WAL segment {seg} was not archived in 120 s")


@pytest.fixture(scope="module")
def primary(s3_server):
    require(PG_BIN is not None and shutil.which("pgbackrest") is not None,
            "PostgreSQL server binaries and pgbackrest (apt install pgbackrest)")
    require(os.geteuid() != 0 or shutil.which("runuser") is not None, "runuser")
    bucket = s3_server.make_bucket(prefix="drill")
    base = Path(tempfile.mkdtemp(prefix="drill-pg-", dir="/tmp"))
    os.chmod(base, 0o755)
    data = base / "data"
    data.mkdir(mode=0o700)
    for sub in ("log", "lock", "spool"):
        (base / sub).mkdir(mode=0o700)
    if os.geteuid() == 0:
        for p in (base, data, base / "log", base / "lock", base / "spool"):
            shutil.chown(p, "postgres")
    port = _free_port()
    conf = base / "pgbackrest.conf"
    conf.write_text(f"""[global]
repo1-type=s3
repo1-path=/pgbackrest
repo1-s3-bucket={bucket}
repo1-s3-endpoint=127.0.0.1
repo1-storage-port={s3_server.ports['https']}
repo1-storage-verify-tls=n
repo1-s3-uri-style=path
repo1-s3-region=us-east-1
repo1-s3-key={s3_server.access_key}
repo1-s3-key-secret={s3_server.secret_key}
repo1-retention-full=10
log-path={base}/log
lock-path={base}/lock
spool-path={base}/spool
log-level-console=warn
start-fast=y
compress-type=gz

[{STANZA}]
pg1-path={data}
pg1-port={port}
pg1-socket-path={base}
pg1-user=postgres
""", encoding="utf-8")
    os.chmod(conf, 0o644)
    subprocess.run(_as_pg(f"{PG_BIN}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres"),
                   check=True, capture_output=True, timeout=120)
    with open(data / "postgresql.conf", "a", encoding="utf-8") as f:
        f.write(f"""
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{base}'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config={conf} --stanza={STANZA} archive-push %p'
track_commit_timestamp = on
autovacuum = off
""")
    subprocess.run(_as_pg(f"{PG_BIN}/pg_ctl", "-D", str(data), "-w", "-t", "120", "-l",
                          str(base / "server.log"), "start"),
                   check=True, capture_output=True, timeout=180)
    pg = Primary(base, port, conf)
    pg.s3 = s3_server
    try:
        subprocess.run([f"{PG_BIN}/psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U",
                        "postgres", "-c", "create database app"], check=True,
                       capture_output=True, timeout=60)
        pg.sql("create table orders (id serial primary key, note text)")
        pg.sql("insert into orders (note) select 'before the backup' from generate_series(1, 50)")
        pg.pgbackrest("stanza-create")
        pg.pgbackrest("--type=full", "backup")
        yield pg
    finally:
        subprocess.run(_as_pg(f"{PG_BIN}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"),
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _params(pg: Primary, scratch: Path, port: int) -> dict[str, object]:
    return {"backup_tool": "pgbackrest", "pg_host": "127.0.0.1", "pg_port": pg.port,
            "pg_dbname": "app", "pg_user": "postgres", "pg_bin": PG_BIN,
            "scratch_dir": str(scratch), "scratch_port": port, "tables": "orders,public.orders",
            "pgbackrest_config": str(pg.conf), "pgbackrest_stanza": STANZA}


def _rb():
    return load_library([builtin_dir()]).get("restore-drill")


@pytest.fixture
def scratch():
    """Where the drill may create its scratch directory (``restore``, made by the drill);
    the restored cluster runs as postgres, so the parent must be traversable."""
    d = Path(tempfile.mkdtemp(prefix="drill-scratch-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d / "restore"
    shutil.rmtree(d, ignore_errors=True)


def _keys(pg: Primary, s3, prefix: str) -> list[str]:
    bucket = pg.conf.read_text().split("repo1-s3-bucket=")[1].split()[0]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def primary_s3(pg: Primary):
    return pg.s3.client(https=True)


def test_restore_drill_end_to_end(primary, tmp_path, scratch):
    pg = primary
    before = int(pg.sql("select count(*) from orders"))
    pg.sql("insert into orders (note) select 'archived' from generate_series(1, 30)")
    pg.sql("insert into orders (note) values ('the last archived row')")
    archived_commit = float(pg.sql(
        "select extract(epoch from pg_xact_commit_timestamp(xmin)) from orders "
        "where note = 'the last archived row'"))
    pg.switch_and_wait_archived()
    archived_rows = int(pg.sql("select count(*) from orders"))
    assert archived_rows == before + 31
    time.sleep(1.5)  # the rows below are written later and stay in the unarchived WAL
    pg.sql("insert into orders (note) select 'lost' from generate_series(1, 7)")
    newest_commit = float(pg.sql("select extract(epoch from (pg_last_committed_xact()).timestamp)"))
    port = _free_port()
    store = DrillStore(tmp_path / "state", author="drill-tester")
    wall0 = time.time()
    said: list[tuple[str, str]] = []
    result = run_drill(store, RESTORE, _rb(), _params(pg, scratch, port),
                       on_step=lambda s, w: said.append((s, w)))
    wall1 = time.time()
    assert result.outcome == "passed", (result.detail, said)
    f = result.figures
    # the restored cluster's newest commit is the last archived one, to the microsecond
    assert f["restored_commit"] == pytest.approx(archived_commit, abs=2e-6)
    assert f["primary_commit"] == pytest.approx(newest_commit, abs=2e-6)
    assert f["data_loss_seconds"] == pytest.approx(newest_commit - archived_commit, abs=5e-6)
    assert f["data_loss_seconds"] >= 1.5
    assert f["tables"]["orders"] == [archived_rows, archived_rows + 7]
    assert f["tables"]["public.orders"] == [archived_rows, archived_rows + 7]
    assert f["backup_tool"] == "pgbackrest" and f["rto"] == 3600 and f["rpo"] == 900
    # the restore time: the journal's start of "restore" to the end of "start"
    entries = store.entries(result.run_id)
    started = next(e.ts for e in entries if e.kind == "step.started"
                   and e.data["step"] == "restore")
    up = next(e.ts for e in entries if e.kind == "step.succeeded" and e.data["step"] == "start")
    assert f["restore_seconds"] == pytest.approx(up - started, abs=1e-3)
    assert 0 < f["restore_seconds"] <= wall1 - wall0
    # every step ran through the executor, verify gates passed, the scratch cluster is gone
    kinds = [(e.kind, e.data.get("step")) for e in entries if e.kind.startswith("step.")]
    for sid in ("restore", "start", "check", "cleanup"):
        assert ("step.succeeded", sid) in kinds
    assert ("step.verify_passed", "start") in kinds and ("step.verify_passed", "check") in kinds
    assert not scratch.exists()
    r = subprocess.run([f"{PG_BIN}/pg_isready", "-h", "127.0.0.1", "-p", str(port)],
                       capture_output=True, timeout=30)
    assert r.returncode != 0  # nothing listens on the scratch port any more
    # the run is recorded in the drill journal, apart from incidents
    runs = store.runs()
    assert [(r.drill, r.outcome) for r in runs] == [("restore", "passed")]
    assert runs[0].figures["restore_seconds"] == f["restore_seconds"]
    assert not (tmp_path / "state" / "incidents").exists()
    store.close()
    # the scratch cluster never archived into the repository (its promotion would have
    # pushed a timeline 2 history file)
    assert not [k for k in _keys(pg, primary_s3(pg), "pgbackrest/archive/") if ".history" in k]


def _snapshot(pg: Primary) -> tuple[str, list[str], str]:
    return ((pg.data / "postmaster.pid").read_text(), sorted(os.listdir(pg.data)),
            pg.sql("select count(*) from orders"))


def test_broken_backup_fails_at_restore_and_leaves_the_primary_alone(primary, s3_server,
                                                                      tmp_path, scratch):
    pg = primary
    pg.pgbackrest("--type=full", "backup")  # the latest backup, broken below
    info = pg.pgbackrest("info", "--output=json")
    import json

    label = json.loads(info)[0]["backup"][-1]["label"]
    s3 = s3_server.client(https=True)
    bucket = pg.conf.read_text().split("repo1-s3-bucket=")[1].split()[0]
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"pgbackrest/backup/{STANZA}/{label}/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    victim = next((k for k in keys if "/pg_data/global/pg_control" in k), None)
    assert victim is not None, keys[:50]
    s3.delete_object(Bucket=bucket, Key=victim)
    before = _snapshot(pg)
    port = _free_port()
    store = DrillStore(tmp_path / "state", author="drill-tester")
    try:
        result = run_drill(store, RESTORE, _rb(), _params(pg, scratch, port))
        assert result.outcome == "failed"
        assert result.figures["failed_step"] == "restore"
        assert result.detail.startswith("step restore failed: exit code")
        assert "restore_seconds" not in result.figures
        entries = store.entries(result.run_id)
        assert any(e.kind == "step.failed" and e.data["step"] == "restore" for e in entries)
        assert any(e.kind == "step.succeeded" and e.data["step"] == "cleanup" for e in entries)
        assert not any(e.data.get("step") in ("start", "check") for e in entries
                       if e.kind.startswith("step."))
        # the primary: same server (postmaster.pid names its pid and port), same files, data
        assert _snapshot(pg) == before
        assert str(pg.port) in before[0].splitlines()[3]
        assert not scratch.exists()
        runs = store.runs()
        assert runs[0].outcome == "failed" and runs[0].figures["failed_step"] == "restore"
    finally:
        store.close()
        pg.pgbackrest("--type=full", "backup")  # leave an intact latest backup behind


def _cli(state: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-m", "cockpit", "--state-dir", str(state), *argv],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "COCKPIT_NO_SYSLOG": "1"})


def test_cockpit_drills_run_restore(primary, tmp_path, scratch):
    """The same drill from the command line: every step shown before it runs, exit 0 on a
    passed drill, and `cockpit drills` then shows the restore drill on schedule."""
    pg = primary
    pg.sql("insert into orders (note) values ('cli')")
    pg.switch_and_wait_archived()
    state = tmp_path / "state"
    argv = [f"--param={k}={v}" for k, v in _params(pg, scratch, _free_port()).items()]
    r = _cli(state, "drills", "run", "restore", "--dry-run", *argv)
    assert r.returncode == 0, r.stderr
    assert "pgbackrest --config=" in r.stdout and "dry run, nothing ran" in r.stdout
    assert not scratch.exists() and not (state / "drills").exists()
    r = _cli(state, "drills", "run", "restore", *argv)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert out.index("step restore:") < out.index("restore: running")
    assert "drill restore passed: restored, started and checked" in out
    assert "(RTO 1h00m" in out and "data-loss window" in out
    assert not scratch.exists()
    r = _cli(state, "drills", "--json")
    import json

    doc = json.loads(r.stdout)
    row = next(d for d in doc["drills"] if d["drill"] == "restore")
    assert row["state"] == "OK" and row["result"] == "passed"
    assert r.returncode == 1 and "restore" not in doc["overdue"]  # the others never ran
    # a drill that fails (no such stanza in the repository): exit 1, the failure named
    r = _cli(state, "drills", "run", "restore", *argv, "--param=pgbackrest_stanza=nosuch")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "drill restore failed: step restore failed: exit code" in r.stdout
    assert not scratch.exists()
    # a drill run with a refused value: one line, exit 2, nothing ran
    r = _cli(state, "drills", "run", "restore", *argv, "--param=scratch_port=99999")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "scratch_port" in r.stderr
