"""Legible on a terminal that shows ASCII only (M11 of the ux review: ``TERM=vt100``,
``LC_ALL=C``): a line filter, like NO_COLOR's, that draws every character the terminal
cannot show as an ASCII one of the same width. The marks that carry meaning get distinct
ASCII stand-ins (``>`` focus and running, ``+`` ran ok, ``*`` done, ``x`` failed, ``~``
skipped, ``<`` rolled back), box drawing becomes ``+-|``; anything else is ``?`` per cell.
Because it filters what is drawn, every legend on screen (help, the navigator's step marks)
is filtered the same way and still matches what it explains."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

ASCII_TERMS = ("vt52", "vt100", "vt102", "vt220", "vt320", "dumb", "ansi")

MARKS = {
    "▶": ">", "▸": ">", "►": ">", "✓": "+", "✔": "*", "✗": "x", "✘": "x", "↷": "~",
    "↶": "<", "·": ".", "•": "*", "…": "~", "⏎": "~", "↑": "^", "↓": "v", "←": "<",
    "→": ">", "—": "-", "–": "-", "▐": "[", "▌": "]", "▏": "|", "▕": "|",
    "▁": "_", "▂": "_", "▃": "-", "▄": "-", "▅": "=", "▆": "=", "▇": "#", "█": "#",
    "▔": "-", "░": ":", "▒": ":", "▓": "#", "×": "x",
}


def _box(ch: str) -> str | None:
    o = ord(ch)
    if 0x2500 <= o <= 0x257F:  # box drawing
        name_h = ch in "─━═╌╍┄┅┈┉╴╶╸╺╼╾"
        name_v = ch in "│┃║╎╏┆┇┊┋╵╷╹╻╽╿"
        return "-" if name_h else "|" if name_v else "+"
    return None


@lru_cache(maxsize=4096)
def to_ascii(text: str) -> str:
    """``text`` with every non-ASCII character replaced, cell for cell."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        width = cell_len(ch)
        if width == 0:
            continue
        sub = MARKS.get(ch) or _box(ch) or "?"
        out.append(sub * width if len(sub) == 1 else sub[:width].ljust(width, "?"))
    return "".join(out)


def ascii_only(env: Mapping[str, str] | None = None) -> bool:
    """The terminal shows ASCII only: a ``vt100``-like ``TERM``, or a locale that is not
    UTF-8 (``LC_ALL`` beats ``LC_CTYPE`` beats ``LANG``; ``C`` and ``POSIX`` are ASCII).
    ``COCKPIT_ASCII=1`` / ``0`` forces it either way."""
    env = os.environ if env is None else env
    forced = env.get("COCKPIT_ASCII", "")
    if forced in ("0", "1"):
        return forced == "1"
    if env.get("TERM", "").lower().split("-")[0] in ASCII_TERMS:
        return True
    locale = next((env[k] for k in ("LC_ALL", "LC_CTYPE", "LANG") if env.get(k)), "")
    if not locale:
        return False  # nothing said: the usual UTF-8 terminal
    low = locale.lower().replace("-", "")
    return "utf8" not in low


class AsciiFilter(LineFilter):
    """Every segment's text through ``to_ascii`` (styles, hence bold / underline / reverse
    marks, are kept)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [s if s.control or s.text.isascii() else Segment(to_ascii(s.text), s.style, None)
                for s in segments]
