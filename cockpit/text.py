"""Untrusted text: the one table of dangerous code points and the one sanitizer.

Probe answers, command output, notes written by other engineers and configuration values
may carry terminal escape sequences (CSI, OSC, DCS ...), C0/C1 control characters, bidi
overrides and zero-width characters. ``clean`` removes escape sequences and replaces the
other dangerous characters by visible stand-ins, so what is shown is what was received,
but inert. Widgets must then receive the result as a ``rich.text.Text`` (never as a markup
string): this module does not deal with Rich markup, the UI layer does that by never
parsing markup from data.

``DANGEROUS_RANGES`` is the single definition of "dangerous on a terminal": the journal's
record serializer escapes exactly these code points, the runbook validator refuses them in
runbook text, and ``clean`` makes them visible (``tests/test_text.py`` checks the table
against ``unicodedata``).
"""

from __future__ import annotations

import re

# Code points categories Cc, Cf, Zl, Zp, Cs (Unicode 14, Python 3.11): C0 and C1 controls,
# DEL, format characters (bidi controls, zero-width characters, BOM, soft hyphen, tags...),
# line/paragraph separators and lone surrogates.
DANGEROUS_RANGES: tuple[tuple[int, int], ...] = (
    (0x00, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C),
    (0x6DD, 0x6DD), (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0xD800, 0xDFFF), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)


def char_class(ranges: tuple[tuple[int, int], ...] | list[tuple[int, int]],
               skip: tuple[int, ...] = ()) -> str:
    """A regex character-class body for ``ranges`` without the code points of ``skip``."""
    parts: list[tuple[int, int]] = []
    for lo, hi in ranges:
        cur = lo
        for s in sorted(x for x in skip if lo <= x <= hi):
            if cur < s:
                parts.append((cur, s - 1))
            cur = s + 1
        if cur <= hi:
            parts.append((cur, hi))
    return "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in parts)


DANGEROUS_RE = re.compile("[" + char_class(DANGEROUS_RANGES) + "]")
# Dangerous in a file people edit (runbooks, scenarios): everything but tab and newline.
DANGEROUS_IN_TEXT_RE = re.compile("[" + char_class(DANGEROUS_RANGES, skip=(0x09, 0x0A)) + "]")

# ESC-introduced sequences: CSI (ESC [ ... final), string sequences OSC/DCS/SOS/PM/APC
# (ESC ] ... BEL or ST), and two-byte escapes. Also the 8-bit C1 forms (CSI = 0x9b, ...).
# A string sequence without its terminator loses only its introducer: the text after it
# stays visible (a hostile answer must not be able to hide the cockpit's own words).
_ESCAPE_RE = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]                          # CSI
  | (?:\x1b[\]P^_X]|[\x9d\x90\x9e\x9f\x98])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)  # terminated
  | \x1b[\]P^_X]                                              # unterminated: introducer only
  | \x1b[ -/]*[0-~]                                           # other ESC sequences
  | \x1b                                                      # lone ESC
    """,
    re.VERBOSE | re.DOTALL,
)


def is_dangerous(ch: str) -> bool:
    return DANGEROUS_RE.match(ch) is not None


def _visible(ch: str) -> str:
    o = ord(ch)
    if o < 0x20:
        return chr(0x2400 + o)  # control pictures: U+2400..U+241F
    if o == 0x7F:
        return "\u2421"
    return f"<U+{o:04X}>"


def clean(text: object, *, keep_newlines: bool = False, limit: int | None = None) -> str:
    """Return ``text`` with escape sequences removed and dangerous characters made visible.

    Tabs become a space; newlines are kept only with ``keep_newlines`` (otherwise shown
    as a space); CR is dropped. ``limit`` caps the result length (an ellipsis marks the cut).
    """
    s = text if isinstance(text, str) else str(text)
    s = _ESCAPE_RE.sub("", s)
    if DANGEROUS_RE.search(s):
        out = []
        for ch in s:
            if ch == "\t":
                out.append(" ")
            elif ch == "\n":
                out.append("\n" if keep_newlines else " ")
            elif ch == "\r":
                continue
            elif is_dangerous(ch):
                out.append(_visible(ch))
            else:
                out.append(ch)
        s = "".join(out)
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)] + "\u2026"
    return s


def one_line(text: object, limit: int = 200) -> str:
    """A single display line of untrusted text."""
    return clean(text, keep_newlines=False, limit=limit).strip()


def shorten(text: str, limit: int = 100) -> str:
    """Whitespace collapsed to single spaces, cut to ``limit`` with an ellipsis (a summary
    of trusted or already-escaped text, e.g. a command line in a journal detail)."""
    t = " ".join(text.split())
    return t if len(t) <= limit else t[: limit - 1] + "…"


def _json_safe(v: object, depth: int = 0) -> object:
    """``v`` with what JSON cannot hold made text: non-finite numbers, dates, other types."""
    if isinstance(v, str | bool | int) or v is None:
        return v
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else repr(v)
    if depth > 64:
        return "..."
    if isinstance(v, dict):
        return {str(k): _json_safe(x, depth + 1) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x, depth + 1) for x in v]
    return str(v)


def _json_escape(m: re.Match[str]) -> str:
    o = ord(m.group())
    if o > 0xFFFF:  # a surrogate pair, as JSON writes code points above the BMP
        o -= 0x10000
        return f"\\u{0xD800 + (o >> 10):04x}\\u{0xDC00 + (o & 0x3FF):04x}"
    return f"\\u{o:04x}"


def json_line(obj: object, **kw: object) -> str:
    """``obj`` as JSON for a terminal: text stays readable (UTF-8), but every dangerous
    code point (C0, C1, DEL, bidi, zero-width and other format characters, line
    separators) is a ``\\uXXXX`` escape, never raw; NaN, infinities and dates become
    strings (strict JSON)."""
    import json

    text = json.dumps(_json_safe(obj), ensure_ascii=False, allow_nan=False, **kw)  # type: ignore[arg-type]
    # JSON structure is ASCII: a dangerous character can only be inside a string.
    return DANGEROUS_RE.sub(_json_escape, text)
