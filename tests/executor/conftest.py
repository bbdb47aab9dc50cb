"""Fixtures for the executor tests: runbooks in tmp, and no process left behind.

Every command a test starts gets ``CK_TEST=<token>`` in its environment (``extra_env``);
the ``reaper`` fixture SIGKILLs every process carrying that token (and every pid it was
told about) at teardown, so a failing test never leaves a ``sleep 1000`` behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

import pytest
from shared_fakes import alive

from cockpit.runbooks import load_runbook


class Reaper:
    def __init__(self) -> None:
        self.token = secrets.token_hex(8)
        self.pids: set[int] = set()

    @property
    def env(self) -> dict[str, str]:
        return {"CK_TEST": self.token}

    def track(self, pid: int) -> None:
        self.pids.add(pid)

    def marked(self) -> set[int]:
        mk = f"CK_TEST={self.token}".encode()
        out = set()
        for n in os.listdir("/proc"):
            if not n.isdigit() or int(n) == os.getpid():
                continue
            try:
                with open(f"/proc/{n}/environ", "rb") as f:
                    if mk in f.read().split(b"\0"):
                        out.add(int(n))
            except OSError:
                continue
        return out

    def kill_all(self) -> int:
        n = 0
        for _ in range(20):
            pids = (self.marked() | self.pids) - {os.getpid()}
            live = {p for p in pids if alive(p)}
            if not live:
                break
            for p in live:
                n += 1
                with contextlib.suppress(OSError):
                    os.killpg(p, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.kill(p, signal.SIGKILL)
            time.sleep(0.05)
        return n


@pytest.fixture
def reaper():
    r = Reaper()
    yield r
    r.kill_all()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def make_runbook(tmp_path: Path):
    counter = [0]

    def make(text: str):
        counter[0] += 1
        p = tmp_path / f"rb{counter[0]}.toml"
        p.write_text(text, encoding="utf-8")
        return load_runbook(p)

    return make
