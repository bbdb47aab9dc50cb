"""Helpers shared by the journal tests."""

from __future__ import annotations

import os
import random
import signal
import sys
import traceback
from collections.abc import Callable

HOSTILE = [
    "\x1b[31mred\x1b[0m", "\x1b]0;title\x07", "\u202eevil\u202c", "zero\u200bwidth", "\x9b31m",
    "[bold]markup[/bold] [@click=quit]x[/]", "nul\x00byte", "tab\tand\r\nCRLF", '"""quotes"""',
    "back\\slash\\", "\ufeffbom", "emoji \U0001f525 ok", "del\x7f", "line\u2028sep",
    'hash = "sha256:' + "0" * 64 + '"', "[[entry]]\nsize = 1\n", "\n\n", "",
]


def hostile_text(rng: random.Random, size: int = 0) -> str:
    parts = [rng.choice(HOSTILE) for _ in range(rng.randint(1, 4))]
    text = " ".join(parts)
    if size > len(text):
        text += "x" * (size - len(text))
    return text


def fork_child(fn: Callable[[int], None]) -> tuple[int, int]:
    """Run ``fn(write_fd)`` in a forked child; returns (pid, read end of its pipe)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(r)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            fn(w)
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def read_pipe(fd: int) -> bytes:
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return b"".join(chunks)


def wait_exit(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
