"""The live cockpit under test: its configuration, hostile state directories, and a
screen sweep recorded segment by segment.

* ``write_config(dir)``: a minimal ``cockpit.toml`` whose two services are probed over TCP
  on a closed 127.0.0.1 port (nothing leaves the machine; both services go DOWN, so the
  runbook navigator ranks the database runbook first).
* ``Dataset``: a state directory plus the hostile records to write into it before the
  cockpit starts (``before``) and while it runs (``after``), each record tagged by its
  author (``h0001 ...``), as the second writer writes them.
* ``Cockpit``: the live cockpit on a pty, with ``segment(name)`` to cut the recording per
  screen, so a finding is attributed to the screen that wrote it.
* ``sweep(dataset)``: one cockpit process over every screen and modal: main screen and
  the whole incident log, log entries, service details, help, incident picker, status
  form, role form, update draft, runbook navigator (with the step states folded from the
  journal). Returns a ``SweepResult`` the per-screen tests read.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .hostile_writer import Case, HostileWriter
from .payloads import MARKERS_ALL, MARKUP_TAGS
from .pty_harness import (
    Finding,
    Pty,
    cockpit_argv,
    markup_parsed,
    modal_crop,
    scan,
    summary,
)

FOLLOWED = "20990101-000000-hostile-0001"  # the newest id: the cockpit follows it at start
T0 = time.time() - 3600  # record times: an hour ago, increasing
TAG_RE = re.compile(r"h\d{4}")
INTERNAL = "internal error"


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_config(directory: Path, port: int | None = None) -> Path:
    port = port or closed_port()
    cfg = directory / "cockpit.toml"
    cfg.write_text(f"""\
[cockpit]
environment = "security harness"

[probe_defaults]
interval = "1s"
deadline = "1s"
fail_after = 1

[services.database]
title = "PostgreSQL"
priority = "P0"
rto = "1h"
rpo = "15m"

[[services.database.probes]]
kind = "tcp"
name = "primary"
host = "127.0.0.1"
port = {port}

[services.backend]
title = "Backend API"
priority = "P1"
rto = "30m"

[[services.backend.probes]]
kind = "tcp"
name = "api"
host = "127.0.0.1"
port = {port}
""")
    return cfg


@dataclass
class Dataset:
    """Where the hostile records go, and which."""

    base: Path
    config: Path
    state: Path
    before: list[tuple[str, Case]] = field(default_factory=list)  # (incident, case)
    after: list[tuple[str, Case]] = field(default_factory=list)
    envelopes: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    entry_views: int = 3  # how many of the newest log entries the sweep opens
    writers: dict[str, HostileWriter] = field(default_factory=dict)

    @classmethod
    def new(cls, base: Path) -> Dataset:
        base.mkdir(parents=True, exist_ok=True)
        return cls(base, write_config(base), base / "state")

    def writer(self, incident: str) -> HostileWriter:
        w = self.writers.get(incident)
        if w is None:
            w = self.writers[incident] = HostileWriter(self.state, incident, clock=T0,
                                                       sync=False)
        return w

    def write_before(self) -> None:
        for inc, c in self.before:
            self.writer(inc).append(c.kind, c.data, author=c.author, what=c.what, tag=c.tag)
        for what, fields in self.envelopes:
            # one writer file each: a damaged record makes the rest of its file unverified
            w = HostileWriter(self.state, FOLLOWED, clock=T0, sync=False)
            w.append_raw(fields, what=what)
            w.close()

    def write_after(self) -> None:
        for inc, c in self.after:
            self.writer(inc).append(c.kind, c.data, author=c.author, what=c.what, tag=c.tag)

    def env(self) -> dict[str, str]:
        """The environment of every cockpit process on this dataset: its own user dirs
        (crash reports land in ``base/xdg-state``), no configuration from outside."""
        return {"XDG_CONFIG_HOME": str(self.base / "xdg-config"),
                "XDG_STATE_HOME": str(self.base / "xdg-state"),
                "XDG_CACHE_HOME": str(self.base / "xdg-cache"),
                "COCKPIT_CONFIG": "", "COCKPIT_STATE_DIR": "", "COCKPIT_NO_SYSLOG": "1"}

    def crash_reports(self) -> list[Path]:
        return sorted((self.base / "xdg-state").rglob("crash-*.txt"))

    def tags(self, incident: str = FOLLOWED, kinds: Callable[[str], bool] | None = None) -> list[str]:
        """The tags of the records of ``incident`` that its log shows."""
        return [c.tag for inc, c in [*self.before, *self.after]
                if inc == incident and c.tag and c.kind != "session-start"
                and (kinds is None or kinds(c.kind))]

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


def declared(title: str = "hostile incident", severity: str = "P1",
             services: Iterable[str] = ("database",), author: str = "h-decl") -> Case:
    return Case("incident.declared", {"title": title, "severity": severity,
                                      "services": list(services), "impact_start": T0},
                author, "a well-formed declaration", "")


# ------------------------------------------------------------------ the running cockpit

@dataclass
class Segment:
    name: str
    start: int
    end: int
    shown: bool  # the screen's own text was seen on the pyte screen
    alive: bool  # the cockpit was still running when the segment ended
    screen: str  # the pyte screen text at the end of the segment
    seconds: float = 0.0


class Cockpit:
    """``cockpit --config CFG --state-dir S`` on a pty, its recording cut in segments."""

    def __init__(self, ds: Dataset, *, cols: int = 120, rows: int = 40,
                 answer_queries: bool = True) -> None:
        self.ds = ds
        self.pty = Pty.spawn(cockpit_argv("--config", str(ds.config), "--state-dir",
                                          str(ds.state)), cols=cols, rows=rows, env=ds.env())
        if not answer_queries:
            self.pty._answer = lambda data, old=0: None  # type: ignore[method-assign]
        self.segments: dict[str, Segment] = {}
        self.rc: int | None = None
        self.stuck = ""  # the screen when q did not end the cockpit

    @property
    def alive(self) -> bool:
        return not self.pty.exited

    def keys(self, *keys: str) -> None:
        """Send keys (names of ``KEYS`` or text); waits only after an escape (which must
        not run into the next key)."""
        for k in keys:
            self.pty.press(k, pause=0.0)

    def expect(self, *keys: str, shows: str | Callable[[str], bool] | None = None,
               gone: str | None = None, timeout: float = 5.0) -> bool:
        """Send keys, then wait until the screen shows ``shows`` / no longer shows ``gone``
        (keys are handled in order, so this proves every key sent so far was handled)."""
        self.keys(*keys)
        ok = True
        if shows is not None:
            ok = self.pty.wait_for(shows, timeout)
        if gone is not None:
            ok = self.pty.wait_for(lambda t: gone not in t, timeout) and ok
        return ok

    def wait_text(self, text: str, timeout: float = 5.0) -> bool:
        return self.pty.wait_for(text, timeout)

    @contextmanager
    def segment(self, name: str):
        """Cut the recording: what is written inside the block belongs to ``name``.
        The block sets ``box["shown"]`` to say whether its screen came up."""
        start = self.pty.mark()
        t0 = time.monotonic()
        box = {"shown": True}
        try:
            yield box
        finally:
            self.pty.settle(0.1, 2.0)
            self.segments[name] = Segment(name, start, self.pty.mark(), bool(box["shown"]),
                                          self.alive, self.pty.text(),
                                          time.monotonic() - t0)

    def raw(self) -> bytes:
        """Every byte the cockpit wrote."""
        return bytes(self.pty.raw)

    def quit(self, timeout: float = 15.0) -> int | None:
        """Back to the main screen, press q; the exit code (None: it had to be killed)."""
        if self.alive:
            for _ in range(4):
                if "Incident log" in self.pty.text() and not any(
                        t in self.pty.text() for t in MODAL_TITLES):
                    break
                self.expect("escape", gone=None)
                self.pty.wait_for(lambda t: not any(m in t for m in MODAL_TITLES), 2.0)
            self.keys("q")
            self.rc = self.pty.wait(timeout)
        if self.rc is None and not self.pty.exited:
            self.stuck = self.pty.text()
            self.pty.close()
            self.rc = None
        else:
            self.rc = self.pty.returncode
            self.pty.close()
        return self.rc

    def crashed(self) -> str | None:
        """Why the cockpit must be considered crashed, or None."""
        text = bytes(self.pty.raw).decode("utf-8", "replace")
        if INTERNAL in text or "Traceback" in text:
            i = text.find(INTERNAL) if INTERNAL in text else text.find("Traceback")
            return "crash message: " + repr(text[i:i + 300])
        if self.rc not in (0,):
            return f"exit code {self.rc}"
        return None

    def tags_on_screen(self) -> set[str]:
        return set(TAG_RE.findall(self.pty.text()))

    def page_log(self, expected: Iterable[str] = (), max_pages: int = 400,
                 timeout: float = 2.0) -> set[str]:
        """Focus the log, go to its top (newest), page down until every ``expected`` tag
        was seen or the log ends: the tags seen on screen."""
        want = set(expected)
        self.expect("3", shows="▶ Incident log")
        seen: set[str] = set()
        # a second pass when tags are missing: on a loaded machine a page can be drawn while
        # the next page down is already on its way, so that page is never on screen long
        # enough to be read (a race of the reader, not of the cockpit)
        for _pass in range(2):
            if _pass and (not want or want <= seen or not self.alive):
                break
            self.keys("z")  # announcements (toasts over the log's last rows) dismissed
            self.keys("home", "pagedown")  # the first page down only moves the cursor
            self.pty.settle(0.15, 2.0)
            seen |= self.tags_on_screen()
            patience = 3  # a busy machine may take longer than ``timeout`` to draw a page
            for _ in range(max_pages):
                if want and want <= seen:
                    break
                self.keys("z")  # an announcement that came since (a loaded machine) goes
                self.pty.settle(0.08, 2.0)
                before = self.tags_on_screen()
                moved = lambda t, b=before: set(TAG_RE.findall(t)) != b  # noqa: E731
                changed = self.expect("pagedown", shows=moved, timeout=timeout)
                while not changed and patience and want and not want <= seen and self.alive:
                    patience -= 1
                    changed = self.pty.wait_for(moved, 2 * timeout)
                self.pty.settle(0.08, 2.0)  # the rest of the frame
                seen |= self.tags_on_screen()
                if not changed or not self.alive:
                    break
        return seen


def align(raw: bytes, i: int) -> int:
    """``i`` moved back to the start of the UTF-8 character it falls in (a segment cut in
    the middle of a character must not look like stray C1 bytes)."""
    for back in (1, 2, 3):
        j = i - back
        if j < 0 or i >= len(raw):
            break
        b = raw[j]
        if 0x80 <= b <= 0xBF:
            continue
        need = 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
        if need > back:
            try:
                raw[j:j + need].decode("utf-8")
            except UnicodeDecodeError:
                return i
            return j
        break
    return i


# An escape sequence as the application writes it: CSI, a string (OSC, DCS...) or ESC + one.
_SEQ = re.compile(rb"\x1b(?:\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
                  rb"|[\]P^_X][^\x07\x1b]*(?:\x07|\x1b\\)|[\x20-\x2f]*[\x30-\x7e])")


def seq_bounds(raw: bytes, i: int) -> tuple[int, int] | None:
    """The (start, end) of the escape sequence that ``i`` falls inside, if it does: a
    segment's mark is taken whenever the test moves on, which on a loaded machine can be
    in the middle of a sequence the application was writing (``\x1b[38;`` | ``5;253m``)."""
    j = raw.rfind(b"\x1b", max(0, i - 256), i)
    if j < 0:
        return None
    m = _SEQ.match(raw, j)
    if m is None or m.end() <= i:
        return None
    return j, m.end()


def cut(raw: bytes, start: int, end: int) -> bytes:
    """``raw[start:end]``, its bounds moved out of any UTF-8 character or escape sequence
    they fall in (a sequence cut by a segment's end is whole in that segment)."""
    a = align(raw, start)
    if (inside := seq_bounds(raw, a)) is not None:
        a = inside[0]
    b = align(raw, end)
    if (inside := seq_bounds(raw, b)) is not None:
        b = inside[1]
    return raw[a:b]


@dataclass
class SweepResult:
    raw: bytes
    segments: dict[str, Segment]
    rc: int | None
    crash: str | None
    tags_seen: set[str]
    tags_expected: list[str]
    problems: list[str]  # what the sweep could not do (a screen that never showed ...)

    def segment_raw(self, *names: str) -> bytes:
        """The recording of the named segments (each cut at UTF-8 character and escape
        sequence bounds)."""
        return b"".join(cut(self.raw, self.segments[n].start, self.segments[n].end)
                        for n in names if n in self.segments)

    def findings(self, *names: str, markers: Iterable[str] = MARKERS_ALL,
                 **kw: Any) -> list[Finding]:
        """Scanner findings in the named segments (none named: the whole recording)."""
        data = self.segment_raw(*names) if names else self.raw
        return scan(data, markers, **kw)


# Screens and modals of the sweep, in order: (segment, keys, the text that shows it is up).
MODALS = [
    ("details", ("enter",), "Service: database"),
    ("help", ("?",), "this help"),
    ("picker", ("i",), "Incidents (newest first)"),
    ("status-form", ("s",), "Incident status (now"),
    ("role-form", ("a",), "Assign or hand over a role"),
    ("update-draft", ("u",), "Stakeholder update"),
    ("drills", ("l",), "Drills: the DR testing schedule"),
]
MODAL_TITLES = [m[2] for m in MODALS] + ["Log entry", "Runbooks (ranked)",
                                         "Search the incident log"]


def open_entries(ck: Cockpit, count: int, problems: list[str]) -> int:
    """Open the ``count`` newest hostile log entries one by one (enter, escape, down). The
    log is first searched for ``h0`` (the tags' start), which leaves out the entries the
    cockpit itself writes meanwhile (health changes, newer than the hostile records)."""
    ck.expect("3", shows="▶ Incident log")
    ck.expect("/", shows="Search the incident log")
    ck.keys("h", "0")
    ck.expect("enter", gone="Search the incident log")
    ck.keys("home")
    opened = 0
    for i in range(count):
        keys = ("enter",) if i == 0 else ("down", "enter")
        # the previous entry was seen closed: "Log entry" on screen is this one
        if not ck.expect(*keys, shows="Log entry", timeout=4.0):
            problems.append(f"log entry {i + 1} of {count} never showed")
        else:
            opened += 1
        ck.expect("escape", gone="Log entry", timeout=3.0)
    return opened


def sweep(ds: Dataset, *, entry_views: int | None = None, navigator_steps: int = 20,
          modals: Iterable[str] | None = None, cols: int = 120, rows: int = 40,
          start_timeout: float = 20.0) -> SweepResult:
    """One cockpit process over every screen (``modals``: only these of ``MODALS``); see
    the module docstring."""
    problems: list[str] = []
    entry_views = ds.entry_views if entry_views is None else entry_views
    ds.write_before()
    ck = Cockpit(ds, cols=cols, rows=rows)
    seen: set[str] = set()
    try:
        with ck.segment("start") as box:
            box["shown"] = ck.wait_text("Incident log", start_timeout)
        if ck.alive and ds.after:
            with ck.segment("live-writes") as box:
                ds.write_after()
                last = next((c.tag for inc, c in reversed(ds.after) if inc == FOLLOWED
                             and c.tag), None)
                box["shown"] = last is None or ck.wait_text(last, 8.0)
        if ck.alive:
            with ck.segment("main-log"):
                seen = ck.page_log(ds.tags())
        if ck.alive and entry_views:
            with ck.segment("entry") as box:
                box["shown"] = open_entries(ck, entry_views, problems) == entry_views
        if ck.alive:
            # Hide the log (a search nothing matches) and focus the health pane, so the
            # modals below are drawn over a main screen without hostile lines: what they
            # write is theirs.
            with ck.segment("hide-log") as box:
                ok = ck.expect("/", shows="Search the incident log")
                ck.keys(*"zz-no-such-entry-zz")
                ok = ck.expect("enter", gone="Search the incident log") and ok
                box["shown"] = ck.expect("1", shows="▶ Health") and ok
        wanted = None if modals is None else set(modals)
        for name, keys, shows in MODALS:
            if wanted is not None and name not in wanted:
                continue
            if not ck.alive:
                break
            with ck.segment(name) as box:
                box["shown"] = ck.expect(*keys, shows=shows)
            ck.expect("escape", gone=shows, timeout=3.0)
        if ck.alive:
            with ck.segment("navigator") as box:
                box["shown"] = ck.expect("r", shows="Runbooks (ranked)")
                ck.keys("tab")  # to the step list: each step shows its state
                for _ in range(navigator_steps):
                    before = ck.pty.text()
                    ck.expect("down", shows=lambda t, b=before: t != b, timeout=1.5)
            ck.expect("escape", gone="Runbooks (ranked)", timeout=3.0)
    finally:
        ck.quit()
        ds.close()
    for name, seg in ck.segments.items():
        if not seg.shown:
            problems.append(f"{name}: the screen never showed")
    if ck.stuck:
        problems.append("q did not end the cockpit; the screen was:\n" + ck.stuck)
    return SweepResult(ck.raw(), ck.segments, ck.rc, ck.crashed(), seen,
                       ds.tags(), problems)


# The screens the tests check, and the segments of a sweep that belong to each.
SCREENS: dict[str, tuple[str, ...]] = {
    "main": ("start", "live-writes", "main-log"),
    "log-entry": ("entry",),
    "details": ("details",),
    "help": ("help",),
    "incident-picker": ("picker",),
    "status-form": ("status-form",),
    "role-form": ("role-form",),
    "update-draft": ("update-draft",),
    "navigator": ("navigator",),
    "drills": ("drills",),
}


# Where each screen shows data, for the markup check: the whole screen, or the box with
# this border title (what is behind a modal is another screen's).
MARKUP_AREA: dict[str, str] = {
    "main": "screen", "log-entry": "Log entry", "details": "Service:", "help": "Help",
    "incident-picker": "Incidents (newest first)", "status-form": "Incident status",
    "role-form": "Assign or hand over", "update-draft": "Stakeholder update",
    "navigator": "screen", "drills": "Drills:",
}


def screen_problems(r: SweepResult, segments: Iterable[str], *, tags: bool = False,
                    markup: str | None = None, scan_bytes: bool = True) -> list[str]:
    """What is wrong with these segments of a sweep: the cockpit was gone by their end
    (crashed), the screen never came up, the scanner found something, (``markup``) a markup
    payload was parsed (``"screen"``: anywhere on the screen; else the title of the modal
    box to look in), and (``tags``) a hostile record the incident log never showed. (A
    crash later in the sweep is the business of the test of the whole run.)"""
    segments = list(segments)
    out: list[str] = []
    for n in segments:
        seg = r.segments.get(n)
        if seg is None:
            out.append(f"{n}: never reached (the cockpit had ended)")
            continue
        if not seg.alive:
            out.append(f"{n}: the cockpit was gone at the end of it: {r.crash}")
        if not seg.shown:
            out.append(f"{n}: the screen never came up")
        if markup is not None:
            text = seg.screen if markup == "screen" else modal_crop(seg.screen, markup)
            parsed = markup_parsed(text, MARKUP_TAGS)
            if parsed:
                out.append(f"{n}: markup parsed: " + "; ".join(parsed[:4]))
    found = r.findings(*segments) if scan_bytes else []
    if found:
        out.append(summary(found))
    if tags:
        missing = sorted(set(r.tags_expected) - r.tags_seen)
        if missing:
            out.append(f"{len(missing)} of {len(set(r.tags_expected))} hostile records never "
                       f"shown in the incident log: {missing[:12]}")
    return out


LIVE_MODALS = {
    "status-form": ("s", "Incident status (now"),
    "role-form": ("a", "Assign or hand over a role"),
    "update-draft": ("u", "Stakeholder update"),
}


def live_sweep(ds: Dataset, values: list[tuple[str, str]], *,
               modals: Iterable[str] = ("role-form", "update-draft"), start: int = 9000,
               cols: int = 120, rows: int = 40) -> SweepResult:
    """The second writer changes the followed incident while the cockpit runs: for each
    ``(name, value)``, it writes the value as the title and severity
    (``incident.updated``), the status, an action note and a commander, waits until the
    log shows them (segment ``main-<name>``: title bar, clock pane, log), then opens each
    of ``modals`` (``status-form``, ``role-form``, ``update-draft``; segment
    ``<modal>-<name>``)."""
    problems: list[str] = []
    ds.write_before()
    ck = Cockpit(ds, cols=cols, rows=rows)
    w = ds.writer(FOLLOWED)
    n = start
    try:
        with ck.segment("start") as box:
            box["shown"] = ck.wait_text("Incident log", 20.0)
        for name, v in values:
            if not ck.alive:
                break
            with ck.segment(f"main-{name}") as box:
                recs = [("incident.updated", {"title": f"title {v}", "severity": v}),
                        ("incident.status", {"status": v}),
                        ("note", {"type": "action", "text": f"action {v}"}),
                        ("role.assigned", {"role": "commander", "person": v})]
                for kind, data in recs:
                    w.append(kind, data, author=tag_of(n), tag=tag_of(n), what=f"{kind} {name}")
                    ds.after.append((FOLLOWED, Case(kind, data, tag_of(n), name, tag_of(n))))
                    n += 1
                box["shown"] = ck.wait_text(tag_of(n - 1), 8.0)
            for seg in modals:
                key, shows = LIVE_MODALS[seg]
                if not ck.alive:
                    break
                with ck.segment(f"{seg}-{name}") as box:
                    box["shown"] = ck.expect(key, shows=shows)
                ck.expect("escape", gone=shows, timeout=3.0)
    finally:
        ck.quit()
        ds.close()
    if ck.stuck:
        problems.append("q did not end the cockpit; the screen was:\n" + ck.stuck)
    return SweepResult(ck.raw(), ck.segments, ck.rc, ck.crashed(), set(), [], problems)


def tag_of(n: int) -> str:
    return f"h{n:04d}"


# ------------------------------------------------------------------ the CLI

def cli_env(ds: Dataset) -> dict[str, str]:
    """The environment of a CLI command on ``ds``: colours forced on, as on a terminal
    (an empty value unsets the variable)."""
    return {"TERM": "xterm-256color", "FORCE_COLOR": "1", "COLUMNS": "160", "NO_COLOR": "",
            **ds.env()}


def run_cli(ds: Dataset, *args: str, server=None,
            timeout: float = 30.0) -> subprocess.CompletedProcess:
    """``cockpit ARGS --config CFG --state-dir S``, stdout and stderr kept apart as bytes:
    in a process forked by ``server`` (a ``cli_server.CliServer``), or else a new one."""
    import os

    args = (*args, "--config", str(ds.config), "--state-dir", str(ds.state))
    if server is not None:
        return server.run(list(args), cli_env(ds))
    env = dict(os.environ)
    for k, v in cli_env(ds).items():
        if v:
            env[k] = v
        else:
            env.pop(k, None)
    return subprocess.run(cockpit_argv(*args), capture_output=True, timeout=timeout, env=env)
