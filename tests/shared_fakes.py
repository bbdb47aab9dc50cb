"""Helpers several test folders share (importable as ``shared_fakes``: tests/ is on sys.path)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from benchmarks.blackhole import Blackhole  # noqa: F401 - shared with the benchmarks


def require(ok: bool, what: str) -> None:
    """A test that needs a service: skip when missing, but fail under CI (never a silent skip)."""
    if ok:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required for CI and missing: {what}")
    pytest.skip(f"missing: {what}")


def rss_kib(pid: int | str = "self") -> int:
    """Resident set size in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# Parameter values that break naive quoting: shell metacharacters, quotes, escapes, bidi,
# markup, placeholders. Tests build their hypothesis strategies from these pieces.
HOSTILE = [";", "$(id)", "`id`", "'", '"', "\n", "${IFS}", "&&", "|", "\\", "*", "?", "~",
           "-rf", "$HOME", "{", "}", "{{", "}}", "{v}", "\u202e", "\u200b", "é", "日本", "\t",
           "\r", "\x1b[31m", "'\"'\"'", " ", "#", "!", "<", ">", "%s", "%n", "\x7f", "--", "-n",
           "[bold]x[/bold]", "\U0001f525"]

# A runbook whose one step prints 1 GiB (memory and responsiveness tests).
FLOOD_RUNBOOK = """\
[runbook]
id = "flood"
title = "Flood"
services = ["database"]

[[steps]]
id = "gib"
title = "Print 1 GiB"
command = ["head", "-c", "1073741824", "/dev/zero"]
timeout = "2m"
destructive = false
"""


def alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return False
    state = raw[raw.rindex(b")") + 2:].split()[0]
    return state not in (b"Z", b"X")


def run_like_the_executor(rendered, tmp_path):
    """Run a rendered command exactly as the cockpit runs it: the executor's environment
    (its secure PATH and base variables, the runbook's env checked by the policy) and its
    runner; returns (RunResult, output text)."""
    import os

    from cockpit.runbooks.process import command_env, run_command

    out = tmp_path / f"out-{os.urandom(4).hex()}"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        res = run_command(rendered.argv, env=command_env(rendered, "test"), out_fd=fd,
                          timeout=rendered.timeout, cwd=rendered.cwd or str(tmp_path),
                          secrets=rendered.secrets, capture=1 << 20)
    finally:
        os.close(fd)
    return res, out.read_text(errors="replace")


def start_redis(data_dir, port: int = 0, *args: str, password: str | None = None,
                timeout: float = 20.0):
    """A redis-server on 127.0.0.1 (persistence off unless ``args`` say otherwise) that
    answers PING before this returns; raises with its log when it never does (a test never
    goes on against a server that did not come up). Returns (process, port)."""
    import shutil
    import subprocess

    require(bool(shutil.which("redis-server")), "redis-server")
    if not port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    log = Path(data_dir) / f"redis-{port}.log"
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
            "--save", "", "--appendonly", "no", "--logfile", str(log), *args]
    if password is not None:
        argv += ["--requirepass", password]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
                c.sendall(b"PING\r\n")
                if c.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                    return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    proc.wait(5)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"redis-server on port {port} never answered PING: {tail}")
