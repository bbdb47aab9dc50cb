"""Run a program in a pseudo-terminal, keep every byte it writes, and scan them.

``Pty.spawn(argv, cols, rows)`` starts the program with ``TERM=xterm-256color`` on a pty
of that size. Everything it writes is appended to ``Pty.raw`` (the exact bytes) and fed to
a ``pyte`` screen (what a terminal would show). The harness answers the terminal queries a
program may send (cursor position report ``CSI 6n``, primary device attributes ``CSI c``),
sends keys by name (``press("down", "enter")``), and waits for text on the screen.

``scan(raw, markers)`` reads a byte recording the way a terminal would and reports:

* ``marker-in-escape``: a payload marker inside an escape sequence: in an OSC, DCS, SOS,
  PM or APC string (8-bit forms too; an OSC 52 body is base64-decoded first), or inside
  the bytes of a CSI sequence;
* ``foreign-escape``: any escape sequence that is not one the application framework writes
  itself (``TEXTUAL_OWN``, below): e.g. a raw ``CSI 2J``, ``CSI 6n``, OSC 0/2/8/52, DCS;
* ``c1``: a C1 control (U+0080..U+009F), UTF-8 encoded or as a raw 8-bit byte;
* ``c0``: a C0 control other than the ones allowed (newline, the CR of CR LF, and BEL);
* ``bidi``: U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C;
* ``format``: any other format character (category Cf: zero-width space and joiners,
  BOM, soft hyphen...) and U+2028/U+2029;
* ``bad-utf8``: a byte that is not part of valid UTF-8 (other than an 8-bit C1 byte).

What Textual 8.2.8 writes itself, found by recording clean runs (``cockpit demo`` and the
live cockpit over every screen) and by reading ``textual/drivers/linux_driver.py`` and
``textual/app.py``, is ignored:

* CSI SGR (``CSI ... m``: colours and attributes) and CSI CUP (``CSI row;col H``): every
  frame is drawn with these;
* the mode switches at start and exit: ``CSI ? 1049 h/l`` (alternate screen),
  ``? 1000/1002/1003/1015/1006/1016 h/l`` (mouse; the cockpit uses 1002, not 1003),
  ``? 25 h/l`` (cursor), ``? 1004 h/l`` (focus
  events), ``? 2004 h/l`` (bracketed paste), ``? 7 h/l`` (line wrap), ``? 2048 h/l``
  (in-band resize), ``? 2026 h/l`` (synchronised output);
* the mode queries ``CSI ? 2026 $ p`` and ``CSI ? 2048 $ p`` (DECRQM);
* the kitty keyboard protocol: ``CSI > flags u`` at start, ``CSI < u`` at exit;
* OSC 22 (pointer shape: ``ESC ] 22 ; default BEL``) written on mouse-pointer changes;
* BEL on its own (``App.bell()``);
* OSC 52 only with ``allow_clipboard=True`` (``App.copy_to_clipboard``: ``ctrl+y`` in the
  update draft); its body is still decoded and checked for markers.

These patterns are exact (digits only, fixed mode numbers, pointer names of letters), so
a payload cannot hide behind them: no payload marker fits in any of them.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyte

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

# ------------------------------------------------------------------ the scanner

BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")

# Escape sequences Textual 8.2.8 writes itself (see the module docstring).
TEXTUAL_OWN = [
    re.compile(r"\x1b\[[0-9;:]*m"),  # SGR
    re.compile(r"\x1b\[[0-9]*(?:;[0-9]*)?H"),  # CUP
    re.compile(r"\x1b\[\?(?:1049|1000|1002|1003|1015|1006|1016|25|1004|2004|7|2048|2026)[hl]"),
    re.compile(r"\x1b\[\?(?:2026|2048)\$p"),  # DECRQM
    re.compile(r"\x1b\[>[0-9]+u|\x1b\[<u"),  # kitty keyboard protocol push / pop
    re.compile(r"\x1b\]22;[a-z-]+(?:\x07|\x1b\\)"),  # OSC 22 pointer shape
]
OSC52 = re.compile(r"\x1b\]52;[a-z]*;[A-Za-z0-9+/=]*(?:\x07|\x1b\\)")

# String introducers: ESC + letter, and their 8-bit C1 forms (as U+0080.. or raw bytes).
_STRING_ESC = {"]": "OSC", "P": "DCS", "X": "SOS", "^": "PM", "_": "APC"}
_STRING_C1 = {0x9D: "OSC", 0x90: "DCS", 0x98: "SOS", 0x9E: "PM", 0x9F: "APC"}
_CSI_RE = re.compile(r"[0-?]*[ -/]*[@-~]")
_ESC_OTHER_RE = re.compile(r"[ -/]*[0-~]")


@dataclass(frozen=True)
class Finding:
    kind: str  # marker-in-escape | foreign-escape | c1 | c0 | bidi | format | bad-utf8
    pos: int  # index in the decoded text (bytes decoded as UTF-8, bad bytes kept)
    what: str  # the sequence or character, repr'd
    context: str  # a little of what surrounds it, repr'd

    def __str__(self) -> str:
        return f"{self.kind} at {self.pos}: {self.what} in …{self.context}…"


def _c1_code(ch: str) -> int | None:
    """0x80..0x9f for a C1 control written as UTF-8 (U+0080..) or as a raw byte."""
    o = ord(ch)
    if 0x80 <= o <= 0x9F:
        return o
    if 0xDC80 <= o <= 0xDC9F:  # surrogateescape of a raw byte 0x80..0x9f
        return o - 0xDC00
    return None


def _string_end(s: str, i: int) -> tuple[int, int]:
    """End of a control string whose body starts at ``i``: (body end, sequence end).

    It ends at BEL, ST (ESC \\ or the C1 ST), CAN or SUB; any other ESC aborts it (the
    terminal starts a new sequence there), as does the end of the recording."""
    n = len(s)
    j = i
    while j < n:
        ch = s[j]
        if ch in "\x07\x18\x1a":
            return j, j + 1
        if ch == "\x1b":
            if j + 1 < n and s[j + 1] == "\\":
                return j, j + 2
            return j, j
        if _c1_code(ch) == 0x9C:
            return j, j + 1
        j += 1
    return n, n


def _osc52_text(body: str) -> str:
    parts = body.split(";", 2)
    if len(parts) == 3 and parts[0] == "52":
        try:
            return base64.b64decode(parts[2] + "===", validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return ""
    return ""


def scan(raw: bytes | str, markers: Iterable[str] = (), *, allow_c0: str = "\n\x07",
         allow_crlf: bool = True, allow_clipboard: bool = False,
         allowed: Iterable[re.Pattern[str]] = ()) -> list[Finding]:
    """Findings in a recording of terminal output (see the module docstring).

    ``allow_c0``: C0 characters allowed outside escape sequences (default newline and
    BEL; CLI output on a pipe: ``"\\n\\t"``). ``allow_crlf``: a CR directly before a LF is
    allowed (pty line ends). ``allowed``: more escape-sequence patterns to ignore.
    """
    s = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes | bytearray) else raw
    marks = [m for m in markers if m]
    own = [*TEXTUAL_OWN, *allowed] + ([OSC52] if allow_clipboard else [])
    out: list[Finding] = []
    n = len(s)

    def ctx(a: int, b: int) -> str:
        return repr(s[max(0, a - 30):min(n, b + 30)])[1:-1]

    def escape(start: int, end: int, body: str, c1: bool) -> None:
        seq = s[start:end]
        text = body + " " + _osc52_text(body)
        hit = next((m for m in marks if m in text), None)
        if hit is not None:
            out.append(Finding("marker-in-escape", start, repr(seq[:80]) + f" [{hit}]",
                               ctx(start, end)))
        elif c1 or not any(p.fullmatch(seq) for p in own):
            out.append(Finding("foreign-escape", start, repr(seq[:80]), ctx(start, end)))

    i = 0
    interesting = _interesting()
    while i < n:
        m = interesting.search(s, i)
        if m is None:
            break
        i = m.start()
        ch = s[i]
        o = ord(ch)
        if ch == "\x1b":
            nxt = s[i + 1] if i + 1 < n else ""
            if nxt == "[":
                m = _CSI_RE.match(s, i + 2)
                end = m.end() if m else i + 2
                escape(i, end, s[i + 2:end], False)
                i = end
            elif nxt in _STRING_ESC:
                bend, end = _string_end(s, i + 2)
                escape(i, end, s[i + 2:bend], False)
                i = max(end, i + 2)
            else:
                m = _ESC_OTHER_RE.match(s, i + 1)
                end = m.end() if m else i + 1
                escape(i, end, s[i + 1:end], False)
                i = end
            continue
        c1 = _c1_code(ch)
        if c1 is not None:
            out.append(Finding("c1", i, f"U+{c1:04X}" + (" (8-bit byte)" if o > 0xFF else ""),
                               ctx(i, i + 1)))
            if c1 == 0x9B:
                m = _CSI_RE.match(s, i + 1)
                end = m.end() if m else i + 1
                escape(i, end, s[i + 1:end], True)
                i = max(end, i + 1)
                continue
            if c1 in _STRING_C1:
                bend, end = _string_end(s, i + 1)
                escape(i, end, s[i + 1:bend], True)
                i = max(end, i + 1)
                continue
            i += 1
            continue
        if o < 0x20 or o == 0x7F:
            ok = ch in allow_c0 or (ch == "\r" and allow_crlf and s.startswith("\r\n", i))
            if not ok:
                out.append(Finding("c0", i, f"U+{o:04X}", ctx(i, i + 1)))
        elif ch in BIDI:
            out.append(Finding("bidi", i, f"U+{o:04X}", ctx(i, i + 1)))
        elif ch in "\u2028\u2029" or (o < 0xD800 or o > 0xDFFF) and unicodedata.category(ch) == "Cf":
            out.append(Finding("format", i, f"U+{o:04X}", ctx(i, i + 1)))
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(Finding("bad-utf8", i, f"byte 0x{o - 0xDC00:02X}", ctx(i, i + 1)))
        i += 1
    return out


_INTERESTING: re.Pattern[str] | None = None


def _interesting() -> re.Pattern[str]:
    """Every character the scanner looks at: C0, DEL, C1, bad bytes (surrogate escapes),
    and every format character (category Cf) and U+2028/2029. Plain text is skipped by
    one regex search, so a recording of many megabytes scans in well under a second."""
    global _INTERESTING
    if _INTERESTING is None:
        cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF
               and unicodedata.category(chr(c)) == "Cf"]
        cps += [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
        ranges: list[list[int]] = []
        for c in sorted(set(cps)):
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
        cls = "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)
        _INTERESTING = re.compile(f"[{cls}\\udc80-\\udcff]")
    return _INTERESTING


def summary(findings: list[Finding], limit: int = 12) -> str:
    """A short, readable report of findings (counts per kind, then the first few)."""
    if not findings:
        return "no findings"
    counts = Counter(f.kind for f in findings)
    head = ", ".join(f"{k}: {v}" for k, v in counts.most_common())
    lines = [f"{len(findings)} findings ({head})"]
    lines += [f"  {f}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"  ... {len(findings) - limit} more")
    return "\n".join(lines)


_BORDER = " \u2502\u2503\u258e\u258f\u2595|"
_EDGES = "\u2502\u2503\u258c\u258e\u258f\u2595\u258a"  # │┃▌▎▏▕▊: the edge of a box


def markup_parsed(screen_text: str, tags: dict[str, str]) -> list[str]:
    """Screen lines where a markup payload's marker shows without its literal opening tag
    before it on the same line: the tag was parsed as markup, not shown as text. A marker
    that starts the visible part of a line (the tag may be at the end of the line before,
    wrapped) proves nothing and is skipped. Tags compare case-insensitively (a status is
    shown upper-cased)."""
    out = []
    for line in screen_text.splitlines():
        for mk, tag in tags.items():
            tag = tag.lower()
            pre = tag[:tag.find(mk.lower())] if mk.lower() in tag else None
            for m in re.finditer(re.escape(mk), line):
                i = m.start()
                before = line[:i].lower()
                if pre is not None and before.endswith(pre):
                    continue  # the marker is part of the literal tag (the link's URL)
                # the visible part of the box the marker is in: after the nearest box edge
                # (a toast's edge is ▌; the modal's and panes' are in _BORDER)
                edge = max(before.rfind(c) for c in _EDGES)
                piece = before[edge + 1:].strip() if edge >= 0 else before.strip(_BORDER)
                if tag.endswith(piece):
                    continue  # the box's line starts with (the end of) the literal tag: the
                    # tag was wrapped or cut at the box's edge, shown as text, not parsed
                if before.strip(_BORDER) and tag not in before:
                    out.append(f"{mk} shown without {tag!r}: {line.strip()!r}")
                    break
    return out


def modal_crop(screen_text: str, title: str) -> str:
    """The part of the screen inside the box whose border title starts with ``title``
    (the columns between its corners), so lines of the screen behind a modal, cut off by
    it, are not read as the modal's."""
    lines = screen_text.splitlines()
    for y, line in enumerate(lines):
        i = line.find(title)
        if i < 0:
            continue
        a, b = line.rfind("\u256d", 0, i), line.find("\u256e", i)
        if a < 0 or b < 0:
            return screen_text
        out = [line[a:b + 1]]
        for below in lines[y + 1:]:
            out.append(below[a:b + 1])
            if below[a:a + 1] == "\u2570":
                break
        return "\n".join(out)
    return screen_text


# ------------------------------------------------------------------ the screen's copy

# What the pyte screen is fed: the recording without the escape sequences and characters
# the scanner reports (a leaked CSI 2J must not wipe the screen the harness reads to find
# its way, nor a leaked CR overwrite a line), and without colours (only cursor moves are
# kept). The recording itself (``Pty.raw``) is exact and is what ``scan`` reads.
_SCREEN_DROP = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x18\x1a\x1b\x9c\udc9c]*(?:\x07|\x1b\\|[\x9c\udc9c\x18\x1a])?"
    r"|\x1b[ -/]*[0-~]|\x1b"
    r"|[\x00-\x06\x08-\x09\x0b-\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f\udc80-\udcff]|\r(?!\n)"
    r"|[\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)
_INCOMPLETE = re.compile(
    r"(?:\x1b(?:\[[0-?]*[ -/]*|[\]PX^_][^\x07\x18\x1a\x1b\x9c\udc9c]*|[ -/]*)?|\r)\Z")


_CUP = re.compile(r"\x1b\[[0-9]*(?:;[0-9]*)?H")


def _keep_for_screen(m: re.Match[str]) -> str:
    """Of the escape sequences, the screen needs only cursor moves: colours (SGR) cost
    pyte most of its time and the harness reads text, not colours."""
    seq = m.group()
    return seq if _CUP.fullmatch(seq) else ""


class ScreenFeed:
    """Feeds a pyte screen the inert part of a byte stream, chunk by chunk (sequences and
    UTF-8 characters split across chunks are held back until complete)."""

    def __init__(self, screen: pyte.Screen) -> None:
        import codecs

        self.stream = pyte.Stream(screen)
        self._dec = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._held = ""

    def feed(self, data: bytes) -> None:
        text = self._held + self._dec.decode(data)
        self._held = ""
        m = _INCOMPLETE.search(text, max(0, len(text) - 4096))
        if m is not None and m.start() < len(text):
            self._held, text = text[m.start():], text[:m.start()]
        text = _SCREEN_DROP.sub(_keep_for_screen, text)
        if text:
            self.stream.feed(text)


# ------------------------------------------------------------------ the pseudo-terminal

KEYS: dict[str, bytes] = {
    "enter": b"\r", "escape": b"\x1b", "tab": b"\t", "shift+tab": b"\x1b[Z",
    "up": b"\x1b[A", "down": b"\x1b[B", "right": b"\x1b[C", "left": b"\x1b[D",
    "home": b"\x1b[H", "end": b"\x1b[F", "pageup": b"\x1b[5~", "pagedown": b"\x1b[6~",
    "space": b" ", "backspace": b"\x7f", "ctrl+s": b"\x13", "ctrl+y": b"\x19",
    "ctrl+c": b"\x03",
}

# Textual reads a lone ESC as the escape key after ESCDELAY ms (default 100): the harness
# sets it shorter, and pauses longer after sending an escape. Textual checks that delay only
# when its input thread's select(0.1) returns: a key that arrives before that select times
# out joins the ESC (alt+key). 0.12 s left 20 ms of margin, which a loaded machine's late
# wake-up of the input thread ate (the escape was lost, a modal stayed open, q went into
# it); 0.3 s leaves 200 ms. Where the next key needs the escape's effect, tests wait for it.
ESCAPE_DELAY = 0.05
ESCAPE_PAUSE = 0.3
_CPR = re.compile(rb"\x1b\[6n")
_DA1 = re.compile(rb"\x1b\[0?c")


@dataclass
class Pty:
    """A program on a pseudo-terminal, its recording and its screen. The program gets
    ``TERM=xterm-256color``, the pty's size in ``COLUMNS``/``LINES``, ``ESCDELAY`` (see
    ``ESCAPE_DELAY``) and ``COCKPIT_NO_SYSLOG=1``."""

    pid: int
    fd: int
    cols: int
    rows: int
    raw: bytearray = field(default_factory=bytearray)
    screen: pyte.Screen | None = None
    stream: ScreenFeed | None = None
    status: int | None = None  # wait status once reaped
    answered: int = 0  # terminal queries answered
    eof: bool = False  # the program closed the terminal (read gave EIO or nothing)

    @classmethod
    def spawn(cls, argv: list[str], *, cols: int = 120, rows: int = 40,
              env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None) -> Pty:
        e = dict(os.environ)
        for k in ("COLORTERM", "NO_COLOR", "TEXTUAL", "FORCE_COLOR", "TERM_PROGRAM"):
            e.pop(k, None)
        e.update({"TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows),
                  "COCKPIT_NO_SYSLOG": "1", "ESCDELAY": str(int(ESCAPE_DELAY * 1000))})
        if env:
            e.update(env)
        pid, fd = pty.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                if cwd is not None:
                    os.chdir(cwd)
                os.execvpe(argv[0], argv, e)
            finally:
                os._exit(127)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        screen = pyte.Screen(cols, rows)
        return cls(pid, fd, cols, rows, screen=screen, stream=ScreenFeed(screen))

    # ---- reading
    def pump(self, timeout: float = 0.0) -> int:
        """Read what the program writes for up to ``timeout`` seconds (at least once)."""
        n = 0
        end = time.monotonic() + timeout
        while True:
            left = max(0.0, end - time.monotonic())
            try:
                r, _, _ = select.select([self.fd], [], [], left)
            except (OSError, ValueError):
                break
            if not r:
                break
            try:
                data = os.read(self.fd, 1 << 16)
            except OSError:  # EIO: the program closed the terminal (exited)
                self.eof = True
                self._reap(block=False)
                break
            if not data:
                self.eof = True
                break
            tail = bytes(self.raw[-8:])
            self.raw += data
            self.stream.feed(data)
            self._answer(tail + data, len(tail))
            n += len(data)
            if time.monotonic() >= end:
                break
        return n

    def _answer(self, data: bytes, old: int = 0) -> None:
        """Answer the queries in ``data`` that end after its first ``old`` bytes (those
        were seen in the previous chunk, kept to catch a query split across chunks)."""
        for m in _CPR.finditer(data):
            if m.end() > old:
                y, x = self.screen.cursor.y + 1, self.screen.cursor.x + 1
                self.send(f"\x1b[{y};{x}R".encode())
                self.answered += 1
        for m in _DA1.finditer(data):
            if m.end() > old:
                self.send(b"\x1b[?62;22c")
                self.answered += 1

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = 15.0) -> bool:
        """Pump until ``what`` (a string on screen, or a predicate of the screen text)."""
        pred = (lambda t: what in t) if isinstance(what, str) else what
        end = time.monotonic() + timeout
        while True:
            if pred(self.text()):
                return True
            if time.monotonic() >= end or self.eof or (self.exited and not self._readable()):
                return pred(self.text())
            self.pump(0.02)

    def settle(self, quiet: float = 0.25, timeout: float = 5.0) -> None:
        """Pump until the program has written nothing for ``quiet`` seconds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.eof:
            if self.pump(quiet) == 0:
                return

    def _readable(self) -> bool:
        try:
            return bool(select.select([self.fd], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    # ---- writing
    def send(self, data: bytes) -> None:
        try:
            os.write(self.fd, data)
        except OSError:
            pass

    def press(self, *keys: str, pause: float = 0.12) -> None:
        """Send keys by name (``KEYS``) or as literal text, pumping ``pause`` after each.

        A lone ESC is read as the escape key only if nothing follows it within the
        application's escape delay (else ESC + key is alt+key): ``escape`` always pumps
        at least ``ESCAPE_PAUSE``."""
        for k in keys:
            self.send(KEYS.get(k, k.encode()))
            self.pump(max(pause, ESCAPE_PAUSE) if k == "escape" else pause)

    def mark(self) -> int:
        """The current length of the recording (to scan what came after)."""
        return len(self.raw)

    def since(self, mark: int) -> bytes:
        return bytes(self.raw[mark:])

    # ---- the process
    def _reap(self, block: bool) -> None:
        if self.status is not None:
            return
        try:
            pid, st = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.status = 0
            return
        if pid:
            self.status = st

    @property
    def exited(self) -> bool:
        self._reap(block=False)
        return self.status is not None

    @property
    def returncode(self) -> int | None:
        if not self.exited:
            return None
        st = self.status
        return os.waitstatus_to_exitcode(st) if st is not None else None

    def wait(self, timeout: float = 10.0) -> int | None:
        """Pump until the program exits; its exit code (negative: killed by a signal)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump(0.05)
            if self.exited:
                self.pump(0.05)
                return self.returncode
            if self.eof:
                time.sleep(0.02)
        return None

    def close(self) -> int | None:
        """Ask politely (SIGTERM), then SIGKILL; reap, close the pty, return the exit code."""
        if not self.exited:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(5.0) is None:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self._reap(block=True)
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1
        return self.returncode

    def __enter__(self) -> Pty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cockpit_argv(*args: str) -> list[str]:
    return [PY, "-m", "cockpit", *args]
