"""Terminal budgets, measured through a real pseudo-terminal.

Spawns a program in a pty of a given size, feeds what it writes to a pyte screen,
and measures: time to the first useful frame (a marker on screen), bytes per second
written while idle, and keypress-to-screen latency.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyte

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


@dataclass
class Session:
    pid: int
    fd: int
    screen: pyte.Screen
    stream: pyte.ByteStream
    started: float
    bytes_total: int = 0

    def pump(self, timeout: float) -> int:
        """Read what is available within ``timeout``; return the byte count read."""
        n = 0
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                break
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                break
            if not data:
                break
            n += len(data)
            self.stream.feed(data)
            # answer the terminal queries Textual sends (cursor position, device attributes)
            if b"\x1b[6n" in data:
                os.write(self.fd, b"\x1b[1;1R")
        self.bytes_total += n
        return n

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def look(self) -> str:
        """The text and where it is in reverse video: a cursor moving within a page (the
        log's selected entry) changes no text."""
        buf = self.screen.buffer
        rev = ";".join(",".join(str(x) for x, c in sorted(buf[y].items()) if c.reverse)
                       for y in range(self.screen.lines))
        return self.text() + "\n" + rev

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> float | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump(0.005)
            if predicate(self.text()):
                return time.monotonic() - self.started
        return None

    def send(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                self.pump(0.05)
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    break
            except ChildProcessError:
                break
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def spawn(argv: list[str], cols: int = 120, rows: int = 40,
          env: dict[str, str | None] | None = None) -> Session:
    """``argv`` in a pty of ``cols`` x ``rows``; ``env`` adds variables (None: removes one)."""
    e = dict(os.environ)
    e.update({"TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)})
    e.pop("COLORTERM", None)
    e.pop("NO_COLOR", None)
    e.pop("TEXTUAL", None)
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    started = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, e)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    screen = pyte.Screen(cols, rows)
    return Session(pid, fd, screen, pyte.ByteStream(screen), started)


MINIMAL_APP = """
from textual.app import App
from textual.widgets import Footer, Header, Label
class Hello(App):
    def compose(self):
        yield Header()
        yield Label("hello-marker")
        yield Footer()
Hello().run()
"""


def first_frame(argv: list[str], predicate: Callable[[str], bool], runs: int = 3, **kw) -> list[float]:
    out = []
    for _ in range(runs):
        s = spawn(argv, **kw)
        t = s.wait_for(predicate)
        s.close()
        if t is not None:
            out.append(t)
    return out


def idle_rate(argv: list[str], settle: float = 2.0, window: float = 10.0, **kw) -> float:
    s = spawn(argv, **kw)
    s.wait_for(lambda t: "Health" in t)
    s.pump(settle)
    n = 0
    end = time.monotonic() + window
    while time.monotonic() < end:
        n += s.pump(min(0.5, max(0.0, end - time.monotonic())))
    s.close()
    return n / window


def key_latency(argv: list[str], key: bytes, predicate_on: Callable[[str], bool],
                predicate_off: Callable[[str], bool], back: bytes, samples: int = 20, **kw) -> list[float]:
    s = spawn(argv, **kw)
    s.wait_for(lambda t: "Health" in t)
    s.pump(1.0)
    out = []
    for _ in range(samples):
        t0 = time.monotonic()
        s.send(key)
        s.started = t0
        t = s.wait_for(predicate_on, timeout=5)
        if t is not None:
            out.append(t)
        s.send(back)
        s.wait_for(predicate_off, timeout=5)
        s.pump(0.05)
    s.close()
    return out


def med(xs: list[float]) -> str:
    if not xs:
        return "n/a"
    return f"{statistics.median(xs) * 1000:.0f} ms [{min(xs) * 1000:.0f}-{max(xs) * 1000:.0f}]"


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))] if xs else float("nan")


def main() -> dict[str, object]:
    cockpit = [PY, "-m", "cockpit", "demo"]
    useful = lambda t: "PostgreSQL" in t and "Incident log" in t and "RTO" in t  # noqa: E731
    print("== terminal budgets (pty 120x40, TERM=xterm-256color, 256 colours)")
    minimal = first_frame([PY, "-c", MINIMAL_APP], lambda t: "hello-marker" in t)
    demo = first_frame(cockpit, useful)
    ratio = statistics.median(demo) / statistics.median(minimal) if demo and minimal else float("nan")
    print(f"first useful frame, minimal Textual app : {med(minimal)}")
    print(f"first useful frame, cockpit demo        : {med(demo)}  ({ratio:.2f}x the minimal app; target <= 2x)")
    paused = idle_rate([*cockpit, "--paused"])
    print(f"idle output, nothing changing (paused)  : {paused:.0f} B/s (target 0 B/s)")
    ticking = idle_rate(cockpit)
    print(f"idle output, clocks ticking at 1 Hz     : {ticking:.0f} B/s (target <= 2048 B/s)")
    ticking80 = idle_rate(cockpit, cols=80, rows=24)
    print(f"idle output, clocks ticking, 80x24      : {ticking80:.0f} B/s")
    lat = key_latency(cockpit, b"?", lambda t: "this help" in t, lambda t: "this help" not in t, b"\x1b")
    print(f"keypress '?' to help on screen          : p50 {med(lat)}, p95 {p95(lat) * 1000:.0f} ms (target <= 150 ms for a modal)")
    lat2 = key_latency(cockpit, b"o", lambda t: True, lambda t: True, b"o", samples=0)
    del lat2
    return {"minimal": minimal, "demo": demo, "paused": paused, "ticking": ticking}


if __name__ == "__main__":
    main()
