"""Helpers several test folders share (importable as ``shared_fakes``: tests/ is on sys.path)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest


def require(ok: bool, what: str) -> None:
    """A test that needs a service: skip when missing, but fail under CI (never a silent skip)."""
    if ok:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required for CI and missing: {what}")
    pytest.skip(f"missing: {what}")


class Blackhole:
    """A listener whose accept queue is full: further connects hang (SYNs dropped), as a
    filtered network does."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(c)
        time.sleep(0.05)

    def close(self) -> None:
        for c in self.fillers:
            c.close()
        self.sock.close()


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
