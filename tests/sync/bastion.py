"""Helpers for the sync tests: "bastions" are separate state directories driven by separate
processes (the ``cockpit`` CLI, and ``python bastion.py write ...`` for a writer that syncs
between its writes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, *, bucket: str, endpoint: str, prefix: str = "dr",
                 interval: str = "2s", deadline: str = "20s", extra: str = "") -> Path:
    path.write_text(
        '[cockpit]\nenvironment = "test"\n\n'
        f'[sync]\nenabled = true\nbucket = "{bucket}"\nprefix = "{prefix}"\n'
        f'endpoint = "{endpoint}"\ninterval = "{interval}"\ndeadline = "{deadline}"\n'
        'access_key_id_env = "SYNC_TEST_KEY_ID"\n'
        'secret_access_key_env = "SYNC_TEST_SECRET"\n' + extra)
    return path


class Bastion:
    def __init__(self, base: Path, name: str, *, bucket: str, endpoint: str,
                 access_key: str, secret_key: str, **cfg: Any) -> None:
        self.name = name
        self.dir = base / name
        self.dir.mkdir(parents=True)
        self.state = self.dir / "state"
        self.config = write_config(self.dir / "cockpit.toml", bucket=bucket, endpoint=endpoint,
                                   **cfg)
        self.env = {**os.environ, "SYNC_TEST_KEY_ID": access_key,
                    "SYNC_TEST_SECRET": secret_key, "COCKPIT_NO_SYSLOG": "1",
                    "PYTHONPATH": str(ROOT)}

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cockpit", "--config", str(self.config),
                "--state-dir", str(self.state), *args]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def sync(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli("sync", "--once", *args)

    def writer(self, incident: str, count: int, sync_every: int) -> subprocess.Popen[str]:
        """A process writing ``count`` notes, syncing after every ``sync_every``."""
        return subprocess.Popen(
            [sys.executable, __file__, "write", str(self.config), str(self.state), incident,
             str(count), str(sync_every), self.name],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def log(self, incident: str) -> list[dict[str, Any]]:
        r = self.cli("log", incident, "--json")
        assert r.returncode == 0, r.stderr
        return [json.loads(line) for line in r.stdout.splitlines()]

    def verify(self, incident: str) -> subprocess.CompletedProcess[str]:
        return self.cli("verify", incident)


def _write_main(config: str, state: str, incident: str, count: str, every: str,
                name: str) -> int:
    from cockpit.config import load_config
    from cockpit.incident.store import IncidentStore
    from cockpit.sync import make_engine

    cfg = load_config(Path(config))
    assert cfg.sync is not None
    store = IncidentStore(Path(state))
    engine = make_engine(cfg.sync, Path(state))
    errors = 0
    try:
        for i in range(int(count)):
            store.note(incident, f"{name} note {i}", "observation")
            if (i + 1) % int(every) == 0:
                rep = engine.run()
                errors += rep.error is not None
    finally:
        store.close()
        engine.bucket.close()
    print(json.dumps({"errors": errors}))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "write":
        sys.exit(_write_main(*sys.argv[2:8]))
