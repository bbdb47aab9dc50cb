"""One sanitizer for all untrusted text before it reaches a screen.

Probe answers, command output and notes written by other engineers may carry
terminal escape sequences (CSI, OSC, DCS ...), C0/C1 control characters, bidi
overrides and zero-width characters. ``clean`` removes escape sequences and
replaces the other dangerous characters by visible stand-ins, so what is shown
is what was received, but inert. Widgets must then receive the result as a
``rich.text.Text`` (never as a markup string): this module does not deal with
Rich markup, the UI layer does that by never parsing markup from data.
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC (ESC ] ... BEL or ST),
# and two-byte escapes. Also the 8-bit C1 forms (CSI = 0x9b, OSC = 0x9d ...).
_ESCAPE_RE = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]                # CSI
  | (?:\x1b[\]P^_X]|[\x9d\x90\x9e\x9f\x98]).*?(?:\x07|\x1b\\|\x9c|$)  # OSC DCS PM APC SOS
  | \x1b[ -/]*[0-~]                                  # other ESC sequences
  | \x1b                                             # lone ESC
    """,
    re.VERBOSE | re.DOTALL,
)

BIDI_AND_INVISIBLE = set(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)


def _visible(ch: str) -> str:
    o = ord(ch)
    if o < 0x20:
        return chr(0x2400 + o)  # control pictures: U+2400..U+241F
    if o == 0x7F:
        return "\u2421"
    return f"<U+{o:04X}>"


def _bad_char(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or o == 0x7F or 0x80 <= o <= 0x9F or ch in BIDI_AND_INVISIBLE


def clean(text: object, *, keep_newlines: bool = False, limit: int | None = None) -> str:
    """Return ``text`` with escape sequences removed and control characters made visible.

    Tabs become a space; newlines are kept only with ``keep_newlines`` (otherwise shown
    as a space). ``limit`` caps the result length (an ellipsis marks the cut).
    """
    s = text if isinstance(text, str) else str(text)
    s = _ESCAPE_RE.sub("", s)
    out = []
    for ch in s:
        if ch == "\t":
            out.append(" ")
        elif ch == "\n":
            out.append("\n" if keep_newlines else " ")
        elif ch == "\r":
            continue
        elif _bad_char(ch):
            out.append(_visible(ch))
        else:
            out.append(ch)
    result = "".join(out)
    if limit is not None and len(result) > limit:
        result = result[: max(0, limit - 1)] + "\u2026"
    return result


def one_line(text: object, limit: int = 200) -> str:
    """A single display line of untrusted text."""
    return clean(text, keep_newlines=False, limit=limit).strip()
