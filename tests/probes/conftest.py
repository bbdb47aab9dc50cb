"""Fixtures for the probe tests: real servers on free loopback ports, stopped by pid.

- PostgreSQL primary (WAL archiving to a local dir) + streaming replica (``pg_basebackup -R``),
  run as the ``postgres`` user (initdb refuses root);
- redis-server instances (a factory: each test that hurts one gets its own);
- S3: the ``s3_server`` fixture of tests/conftest.py (SeaweedFS);
- misbehaving HTTP servers, a DNS responder, a blackhole listener (``probe_fakes``).

A missing server binary fails the test under CI=true and skips it elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from probe_fakes import Blackhole, FakeDNS, FakeHTTP, free_port, make_certs, server_context  # noqa: E402
from probe_servers import PgPair, make_pg_pair, need  # noqa: E402


@pytest.fixture(scope="session")
def pg() -> Iterator[PgPair]:
    """The healthy pair, shared by the non-destructive tests of one worker."""
    pair = make_pg_pair()
    yield pair
    pair.close()


@pytest.fixture
def pg_scratch() -> Iterator[list[PgPair]]:
    """Pairs a destructive test makes with ``make_pg_pair`` and may break; removed after."""
    made: list[PgPair] = []
    yield made
    for p in made:
        p.close()


# ---------------------------------------------------------------- Redis


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen
    dir: Path

    def client(self, **kw):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, **kw)

    def close(self) -> None:
        """Kill by pid (a test server keeps no data; SIGTERM may refuse with a broken dir)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def redis_factory() -> Iterator:
    exe = shutil.which("redis-server")
    servers: list[RedisServer] = []

    def start(*extra: str, data_dir: Path | None = None) -> RedisServer:
        need("redis-server", exe is not None)
        d = data_dir or Path(tempfile.mkdtemp(prefix="cockpit-redis-"))
        d.mkdir(exist_ok=True)
        port = free_port()
        proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                                 "--save", "", "--appendonly", "no", "--logfile", str(d.parent / f"redis-{port}.log"),
                                 "--repl-diskless-sync-delay", "0", *extra],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        srv = RedisServer(port, proc, d)
        servers.append(srv)
        deadline = time.monotonic() + 10
        while True:
            try:
                srv.client().ping()
                break
            except Exception as e:  # noqa: BLE001
                if "NOAUTH" in str(e) or "Authentication" in type(e).__name__:
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from e
                time.sleep(0.05)
        return srv

    yield start
    for s in servers:
        s.close()


# ---------------------------------------------------------------- HTTP, TLS, DNS, blackhole


@pytest.fixture(scope="session")
def http_fake() -> Iterator[FakeHTTP]:
    srv = FakeHTTP()
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> dict[str, Path]:
    return make_certs(tmp_path_factory.mktemp("certs"), days_left=2.0)


@pytest.fixture(scope="session")
def https_good(certs) -> Iterator[FakeHTTP]:
    srv = FakeHTTP(server_context(certs["leaf.pem"], certs["leaf.key"]))
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def https_bad(certs) -> Iterator[FakeHTTP]:
    srv = FakeHTTP(server_context(certs["bad.pem"], certs["bad.key"]))
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def blackhole() -> Iterator[Blackhole]:
    b = Blackhole()
    yield b
    b.close()


@pytest.fixture(scope="session")
def dns_fake() -> Iterator[FakeDNS]:
    d = FakeDNS()
    yield d
    d.close()


@pytest.fixture
def refused_port() -> int:
    return free_port()


@pytest.fixture(scope="session", autouse=True)
def _warm_probe_clients() -> None:
    """The client libraries imported before the first probe, as the scheduler's warm-up does
    in the cockpit: a test's first probe must not spend its deadline importing httpx or
    psycopg (a loaded machine took most of a 1 s deadline)."""
    from cockpit.probes import KINDS
    from cockpit.probes._lazy import warm

    warm(list(KINDS))
