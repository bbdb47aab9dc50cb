"""Real PostgreSQL clusters for the probe tests (run as the ``postgres`` user under root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from probe_fakes import free_port
from shared_fakes import require


def need(what: str, ok: bool) -> None:
    """A missing server binary fails under CI=true and skips elsewhere."""
    require(ok, f"{what} is not installed")


# ---------------------------------------------------------------- PostgreSQL


def pg_bindir() -> Path | None:
    exe = shutil.which("pg_config")
    if exe:
        try:
            out = subprocess.run([exe, "--bindir"], capture_output=True, text=True, timeout=10)
            p = Path(out.stdout.strip())
            if (p / "initdb").exists():
                return p
        except (OSError, subprocess.SubprocessError):
            pass
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "initdb").exists():
            return cand
    return None


def _as_postgres(args: list[str], **kw) -> subprocess.CompletedProcess:
    cmd = args if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, **kw)


PROBE_PASSWORD = "right-horse-battery"


@dataclass
class PgPair:
    base: Path
    bindir: Path
    primary_port: int
    replica_port: int | None

    def dsn(self, port: int, user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={port} user={user} dbname=postgres"

    def sql(self, port: int, query: str, *, fetch: bool = True):
        import psycopg

        with psycopg.connect(self.dsn(port), autocommit=True, connect_timeout=5) as c:
            cur = c.execute(query)
            return cur.fetchall() if fetch and cur.description else None

    def ctl(self, node: str, *args: str) -> None:
        _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.base / node), *args])

    def stop(self, node: str) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.ctl(node, "-m", "immediate", "-w", "stop")

    def close(self) -> None:
        if self.replica_port:
            self.stop("replica")
        self.stop("primary")
        shutil.rmtree(self.base, ignore_errors=True)


def make_pg_pair(with_replica: bool = True) -> PgPair:
    bindir = pg_bindir()
    need("PostgreSQL (initdb)", bindir is not None)
    assert bindir is not None
    base = Path(tempfile.mkdtemp(prefix="cockpit-pg-"))
    os.chmod(base, 0o700)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    p1 = free_port()
    pair = PgPair(base, bindir, p1, None)
    try:
        _as_postgres([str(bindir / "initdb"), "-D", str(base / "primary"), "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"])
        archive = base / "archive"
        _as_postgres(["mkdir", str(archive)])
        conf = f"""
listen_addresses = '127.0.0.1'
port = {p1}
unix_socket_directories = '{base}'
wal_level = replica
max_wal_senders = 5
max_connections = 30
shared_buffers = 16MB
archive_mode = on
archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'
archive_timeout = 60
fsync = off
full_page_writes = off
wal_receiver_status_interval = 1s
hot_standby_feedback = off
"""
        with open(base / "primary" / "postgresql.conf", "a") as f:
            f.write(conf)
        (base / "primary" / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all probe 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n"
            "host replication all 127.0.0.1/32 trust\n")
        pair.ctl("primary", "-l", str(base / "primary.log"), "-w", "start")
        pair.sql(p1, f"CREATE ROLE probe LOGIN PASSWORD '{PROBE_PASSWORD}' IN ROLE pg_monitor", fetch=False)
        pair.sql(p1, "SELECT pg_switch_wal()")  # something archived from the start
        if with_replica:
            p2 = free_port()
            _as_postgres([str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(p1), "-U", "postgres",
                          "-D", str(base / "replica"), "-R", "-X", "stream", "-c", "fast", "--no-sync"])
            with open(base / "replica" / "postgresql.conf", "a") as f:
                f.write(f"\nport = {p2}\n")
            pair.ctl("replica", "-l", str(base / "replica.log"), "-w", "start")
            pair.replica_port = p2
            deadline = time.monotonic() + 20
            while True:
                rows = pair.sql(p2, "SELECT status FROM pg_stat_wal_receiver")
                if rows and rows[0][0] == "streaming":
                    break
                if time.monotonic() > deadline:  # never go on with a replica that is not one
                    raise RuntimeError(f"the replica is not streaming after 20 s: {rows}")
                time.sleep(0.1)
    except BaseException:
        pair.close()
        raise
    return pair
