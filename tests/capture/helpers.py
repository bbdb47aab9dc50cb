"""Incidents written through the real journal (a fixed clock puts each entry at its time),
configurations holding canary secrets, and subprocess runs of the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cockpit.journal import Journal, read_incident
from cockpit.timeutil import FixedClock

T0 = 1_700_000_000.0  # 2023-11-14: in the past, whatever the machine clock says
IID = "20270115-080000-db-lost-abcd"

# every secret kind the configuration can hold: an inline DSN password, a password from an
# environment variable, a token from a file, a URL's userinfo password
CANARY_INLINE = "Canary-Inline-7f3e9"
CANARY_ENV = "Canary-Env-51aa0"
CANARY_FILE = "Canary-File-c0ffee"
CANARY_URL = "Canary-Url-9b9b9"
CANARIES = (CANARY_INLINE, CANARY_ENV, CANARY_FILE, CANARY_URL)


def write_config(d: Path) -> Path:
    (d / "token").write_text(CANARY_FILE + "\n")
    path = d / "cockpit.toml"
    path.write_text(f"""
[cockpit]
environment = "canary"
allow_inline_secrets = true  # refused by default (issue 10): canaries prove the masking

[services.database]
title = "PostgreSQL"
priority = "P0"
rto = "1h"
rpo = "15m"

[[services.database.probes]]
name = "primary"
kind = "postgres"
dsn = "host=127.0.0.1 port=1 dbname=x user=u password={CANARY_INLINE}"

[[services.database.probes]]
name = "replica"
kind = "postgres"
dsn = "host=127.0.0.1 port=1 dbname=x user=u"
password_env = "CANARY_PG_PASSWORD"

[services.backend]
title = "Backend API"
priority = "P0"
rto = "2h"

[[services.backend.probes]]
name = "health"
kind = "http"
url = "http://monitor:{CANARY_URL}@127.0.0.1:1/health"

[services.redis]
title = "Redis"
priority = "P1"
rto = "2h"
rpo = "1h"

[[services.redis.probes]]
name = "ping"
kind = "redis"
host = "127.0.0.1"
port = 1
password_file = "{d / 'token'}"
""")
    return path


def canary_env() -> dict[str, str]:
    return {"CANARY_PG_PASSWORD": CANARY_ENV}


def write_incident(state: Path, entries: Sequence[tuple[float, str, dict[str, Any]]],
                   iid: str = IID, author: str = "alice") -> str:
    """Each (seconds after T0, kind, data) appended at that time, by one writer."""
    clock = FixedClock(T0)
    j = Journal(state, iid, author=author, clock=clock)
    try:
        for t, kind, data in entries:
            clock.t = T0 + t
            j.append(kind, data)
    finally:
        j.close()
    return iid


def entries_of(state: Path, iid: str = IID) -> list[Any]:
    return [e for e in read_incident(state, iid, recover=False).entries
            if e.kind != "session-start"]


def run_cli(args: Sequence[str], *, cwd: Path, home: Path, extra_env: dict[str, str] | None = None,
            netns: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """``cockpit ARGS`` in a subprocess with an empty $HOME, no config and (when the
    machine lets us) no network namespace at all; an audit hook fails the run (exit 97)
    the moment anything opens an internet socket, resolves a name or connects."""
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": "UTC",
           "LANG": "C.UTF-8", "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_STATE_HOME": str(home / ".state"), **(extra_env or {})}
    code = (
        "import os, sys\n"
        "def hook(event, args):\n"
        "    if event in ('socket.getaddrinfo', 'socket.gethostbyname') or (\n"
        "            event in ('socket.connect', 'socket.sendto', 'socket.bind')\n"
        "            and isinstance(args[1], tuple)) or (\n"  # an internet address
        "            event == 'socket.__new__' and args[1] in (2, 10)):\n"
        "        os.write(2, f'NETWORK: {event} {args!r}\\n'.encode())\n"
        "        os._exit(97)\n"
        "sys.addaudithook(hook)\n"
        "from cockpit.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    argv = [sys.executable, "-c", code, *args]
    if netns and unshare_works():
        argv = ["unshare", "-rn", *argv]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


_UNSHARE: list[bool] = []


def unshare_works() -> bool:
    if not _UNSHARE:
        try:
            r = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=30,
                               check=False)
            _UNSHARE.append(r.returncode == 0)
        except (OSError, subprocess.TimeoutExpired):
            _UNSHARE.append(False)
    return _UNSHARE[0]
