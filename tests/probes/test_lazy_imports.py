"""Start-up never waits on heavy imports: loading the configuration (which reads every kind's
options) imports no probe client library; the scheduler's warm-up loads them, in a thread."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ("psycopg", "redis", "dns.asyncquery", "httpx", "boto3", "botocore")

PROGRAM = """
import asyncio, json, sys, threading
from pathlib import Path
from cockpit.config import load_config
from cockpit.probes.scheduler import Scheduler, from_config
from cockpit.session.live import LiveSession
config = load_config(Path(sys.argv[1]))
session = LiveSession(config, Path(sys.argv[2]), probes=True)
clients = %r
at_start = sorted(m for m in clients if m in sys.modules)
loaded_on = {}
class Spy:  # sees every import (import statements and importlib alike), imports nothing
    def find_spec(self, name, path=None, target=None):
        if name in clients:
            loaded_on.setdefault(name, threading.current_thread() is threading.main_thread())
        return None
sys.meta_path.insert(0, Spy())
sched = Scheduler(from_config(config), None, load=False)
asyncio.run(sched.warm_up())
print(json.dumps({"at_start": at_start,
                  "after_warm_up": sorted(m for m in clients if m in sys.modules),
                  "on_main_thread": sorted(k for k, v in loaded_on.items() if v)}))
"""


def test_config_and_session_load_no_probe_client_and_warm_up_loads_them_off_thread(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM % (CLIENTS,), str(ROOT / "cockpit.example.toml"),
         str(tmp_path / "state")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["at_start"] == [], "imported before the first probe: " + ", ".join(doc["at_start"])
    assert set(doc["after_warm_up"]) >= {"psycopg", "redis", "dns.asyncquery", "httpx", "boto3"}
    assert doc["on_main_thread"] == []
