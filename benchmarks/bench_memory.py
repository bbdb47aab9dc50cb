"""Memory under keys: RSS of ``cockpit demo --paused`` after 0, 1,000 and 10,000 keypresses.

The keys go through the real terminal input path: the program runs in a pty and the keys are
written to it, as a terminal would. The mix is what an engineer does for hours during an
incident: tab / shift+tab between areas, ``?`` then escape (help), ``j`` / ``k`` (selection),
``r`` then escape (runbook navigator screen), ``n`` then escape (a form), and one focus key
(``1``, ``2``, ``3``) per batch. RSS is VmRSS from /proc/PID/status.

Target: RSS after 10,000 keys within 10 MB of RSS after 1,000 (a plateau). The same keys go
to a minimal Textual app made of the same stock widgets (Footer, modal screens, OptionList,
Input, Button) as a reference: it shows what Textual itself keeps per keypress.

Speed: a pyte screen costs ~50 ms of the harness's CPU per focus change (~26 KB of output),
so the keys are sent in batches of 50, then the batch's focus key alone, each time waiting for
the program to be idle (no output and no CPU tick for 250 ms) while the output is drained
unparsed. At each checkpoint a
resize (one column less, then back) makes the program repaint the whole screen into a fresh pyte
screen, and the harness checks the state the keys must have left (main screen, the focus
marker of the last focus key): a lost or misread key fails the run. 10,000 keys take ~9 min
for the cockpit on the quiet 2-core machine (~50 ms a key, nearly all of it the cockpit's own
work; 19 min with the machine loaded); the minimal app of stock Textual is stopped after
5 minutes (~1,400 keys).

Run alone: ``./run bench memory`` or ``.venv/bin/python -m benchmarks.bench_memory [--keys N]``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import struct
import sys
import tempfile
import termios
import time

import pyte

from benchmarks.tui import PY, Session, spawn

ESC = b"\x1b[27u"  # escape as a complete (CSI u) sequence: no ESCDELAY wait, never read as alt+key
CYCLE = [b"\t", b"\x1b[Z", b"?", ESC, b"j", b"k", b"r", ESC, b"n", ESC]
FOCUS = [(b"1", "▶ Health [1]"), (b"2", "▶ Incident clocks [2]"), (b"3", "▶ Incident log [3]")]
BATCH_CYCLES = 5  # 5 x 10 keys + 1 focus key per batch
CHECKPOINTS = (0, 1_000, 10_000)
PLATEAU_MB = 10.0
# Text of the screens the mix opens: none may be left on screen at a checkpoint.
OVERLAYS = ("this help", "help line", "Runbooks (ranked)", "runbook 0", "Add to the incident log")

# A minimal app of stock Textual widgets with the cockpit's keys, focus markers and screens.
MINIMAL_APP = """
from textual.app import App
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, OptionList, Static

class Pane(Static, can_focus=True):
    BINDINGS = [Binding("j", "move(1)", "Down"), Binding("k", "move(-1)", "Up"),
                Binding("enter", "noop", "Open")]
    row = 0
    def action_move(self, d):
        self.row = (self.row + d) % 7
        self.update(f"row {self.row}")

class Help(ModalScreen):
    BINDINGS = [Binding("escape", "app.close", "Close")]
    def compose(self):
        with VerticalScroll():
            for i in range(30):
                yield Static(f"help line {i}: a key and what it does")

class Navigator(Screen):
    BINDINGS = [Binding("escape", "app.close", "Back"), Binding("x", "noop", "Execute")]
    def compose(self):
        with Horizontal():
            with Vertical():
                yield OptionList(*[f"runbook {i}" for i in range(8)])
                yield OptionList(*[f"step {i}" for i in range(20)])
            yield VerticalScroll(Static("step text\\n" * 30))
        yield Footer()

class Form(ModalScreen):
    BINDINGS = [Binding("escape", "app.close", "Cancel")]
    def compose(self):
        with Vertical():
            yield Input(placeholder="text")
            yield Button("OK")

class Minimal(App):
    BINDINGS = [Binding("question_mark", "push_screen('help')", "Help", key_display="?"),
                Binding("r", "push_screen('nav')", "Runbooks"),
                Binding("n", "push_screen('form')", "Note"),
                Binding("1", "focus('a')", show=False), Binding("2", "focus('b')", show=False),
                Binding("3", "focus('c')", show=False), Binding("q", "quit", "Quit")]
    TITLES = {"a": "Health [1]", "b": "Incident clocks [2]", "c": "Incident log [3]"}

    def action_close(self):  # never pops the last screen (that would end the app)
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def get_screen(self, name):  # a new screen each time, as the cockpit does
        if name in ("help", "nav", "form"):
            return {"help": Help, "nav": Navigator, "form": Form}[name]()
        return super().get_screen(name)

    def compose(self):
        for wid, title in self.TITLES.items():
            p = Pane(wid, id=wid)
            p.border_title = title
            p.styles.border = ("round", "white")
            yield p
        yield Footer()

    def action_focus(self, wid):
        self.query_one(f"#{wid}").focus()

    def on_descendant_focus(self, event):
        for wid, title in self.TITLES.items():
            w = self.screen_stack[0].query_one(f"#{wid}")
            w.border_title = f"▶ {title}" if w.has_focus else title

Minimal().run()
"""


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_idle(s: Session, quiet: float = 0.25, limit: float = 300.0) -> None:
    """Drain the output unparsed until the program wrote nothing and used no CPU tick for
    ``quiet`` seconds: every key sent so far has been handled."""
    end = time.monotonic() + limit
    ticks = cpu_ticks(s.pid)
    calm_since = time.monotonic()
    while time.monotonic() < end:
        r, _, _ = select.select([s.fd], [], [], 0.02)
        now = time.monotonic()
        if r:
            try:
                data = os.read(s.fd, 1 << 16)
            except OSError:
                data = b""
            if not data:
                raise RuntimeError("the program exited")
            s.bytes_total += len(data)
            if b"\x1b[6n" in data:
                os.write(s.fd, b"\x1b[1;1R")
            calm_since = now
        t = cpu_ticks(s.pid)
        if t != ticks:
            ticks, calm_since = t, now
        if now - calm_since >= quiet:
            return
    raise RuntimeError(f"not idle after {limit:.0f} s")


def resize(s: Session, cols: int, rows: int) -> None:
    fcntl.ioctl(s.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.kill(s.pid, signal.SIGWINCH)


def repaint(s: Session, cols: int, rows: int, want: str) -> str:
    """The whole screen, from a fresh pyte screen: a resize to one column less and back makes
    the program repaint everything (a same-size resize repaints nothing)."""
    resize(s, cols - 1, rows)
    wait_idle(s)
    s.screen = pyte.Screen(cols, rows)
    s.stream = pyte.ByteStream(s.screen)
    resize(s, cols, rows)
    s.wait_for(lambda t: want in t, timeout=20)
    while s.pump(0.2):
        pass
    return s.text()


def run(argv: list[str], ready: str, checkpoints=CHECKPOINTS, cols: int = 120, rows: int = 40,
        limit: float = 1800.0, progress=None) -> list[tuple[int, float, float]]:
    """[(keys sent, RSS MiB, seconds)] at each checkpoint; when ``limit`` seconds run out, the
    last one is where the keys got to."""
    # No COLUMNS / LINES: the program must follow the pty's size (see repaint).
    s = spawn(argv, cols=cols, rows=rows, env={"COLUMNS": None, "LINES": None})
    try:
        if s.wait_for(lambda t: ready in t, timeout=30) is None:
            raise RuntimeError(f"no first frame:\n{s.text()}")
        wait_idle(s, quiet=0.5)
        out: list[tuple[int, float, float]] = []
        sent = batch = refocused = 0
        t0 = time.monotonic()
        for cp in checkpoints:
            want = None
            while sent < cp and time.monotonic() - t0 < limit:
                key, want = FOCUS[batch % len(FOCUS)]
                batch += 1
                keys = CYCLE * BATCH_CYCLES
                s.send(b"".join(keys))
                wait_idle(s)
                s.send(key)  # alone: a key sent with a dialog's escape can race its focus restore
                wait_idle(s)
                sent += len(keys) + 1
            if want is not None:
                text = repaint(s, cols, rows, want)
                if want not in text and not any(m in text for m in OVERLAYS):
                    # Seen twice in ~400 batches: the main screen, but the focus where the last
                    # dialog left it, not where the focus key put it. Once more, counted.
                    s.send(key)
                    wait_idle(s)
                    sent += 1
                    refocused += 1
                    text = repaint(s, cols, rows, want)
                if want not in text or any(m in text for m in OVERLAYS):
                    raise RuntimeError(f"after {sent} keys the screen is not as the keys left it:\n{text}")
            out.append((sent, rss_mib(s.pid), time.monotonic() - t0))
            if progress is not None:
                progress(*out[-1])
            if sent < cp:  # out of time: the last figure is where the keys got to
                break
        if refocused:
            print(f"  (focus key repeated at {refocused} checkpoint(s))")
        return out
    finally:
        s.close()


def report(name: str, points: list[tuple[int, float, float]], judge: bool = True) -> float | None:
    base = points[0][1]
    cells = [f"{n:>6,} keys {rss:6.1f} MiB ({rss - base:+6.1f}, {secs:4.0f} s)" for n, rss, secs in points]
    print(f"{name:<32}: " + " | ".join(cells))
    if len(points) < 3:
        return None
    (n1, r1, _), (n2, r2, _) = points[1], points[-1]
    growth = (r2 - r1) * 1.048576  # MiB -> MB
    verdict = (f"target <= {PLATEAU_MB:.0f} MB: {'ok' if growth <= PLATEAU_MB else 'FAILED'}" if judge
               else "reference")
    print(f"{'':<32}  {n1:,} -> {n2:,} keys: {growth:+.1f} MB ({verdict}), "
          f"{(r2 - r1) * 1024 / (n2 - n1):.1f} KiB per key")
    return growth


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(prog="bench_memory")
    ap.add_argument("--keys", type=int, default=CHECKPOINTS[-1], help="last checkpoint (default 10000)")
    ap.add_argument("--skip-minimal", action="store_true", help="the cockpit only")
    args = ap.parse_args(argv if argv is not None else [])
    checkpoints = tuple(sorted({0, min(1_000, args.keys), args.keys}))
    print("== memory under keys: RSS after N keypresses through a pty (120x40); mix per 10 keys: "
          "tab, shift+tab, ? esc, j, k, r esc, n esc; + a focus key per 50")
    cockpit = run([PY, "-m", "cockpit", "demo", "--paused"], "Health", checkpoints)
    g = report("cockpit demo --paused", cockpit)
    result: dict[str, object] = {"cockpit": cockpit, "growth_mb": g}
    if not args.skip_minimal:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(MINIMAL_APP)
        try:
            # Stock Textual keeps every removed FooterKey and gets slower with each: after
            # 5 minutes the last figure is where the keys got to.
            minimal = run([PY, f.name], "Health [1]", checkpoints, limit=300.0)
        finally:
            os.unlink(f.name)
        report("minimal Textual app (reference)", minimal, judge=False)
        result["minimal"] = minimal
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
