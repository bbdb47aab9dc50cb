"""Contrast of what is on screen: every (foreground, background) pair of a rendered screen,
measured as the WCAG 2 contrast ratio, after the line filters the terminal output gets
(NO_COLOR: Textual's Monochrome filter). Used by test_contrast.py."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

from rich.color import Color as RichColor
from rich.console import Console
from rich.segment import Segment
from textual.color import Color

MIN_RATIO = 4.5
DIM_FACTOR = 0.66  # a dim (SGR 2) foreground is drawn this far from the background


def luminance(c: tuple[int, int, int]) -> float:
    def ch(v: int) -> float:
        x = v / 255
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

    r, g, b = c
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)


def ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = luminance(a), luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


@dataclass(frozen=True)
class Pair:
    fg: tuple[int, int, int]
    bg: tuple[int, int, int]
    text: str
    row: int
    attrs: str

    @property
    def ratio(self) -> float:
        return ratio(self.fg, self.bg)

    def __str__(self) -> str:
        return (f"{self.ratio:.2f}:1 fg #{bytes(self.fg).hex()} on #{bytes(self.bg).hex()} "
                f"{self.attrs} row {self.row}: {self.text!r}")


def _rgb(c: RichColor | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    if c is None or c.is_default:
        return default
    t = c.get_truecolor()
    return (t.red, t.green, t.blue)


def screen_lines(app) -> list[list[Segment]]:
    """The screen as the terminal gets it: segments per line, the app's filters applied."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(),
                      force_terminal=True, color_system="truecolor", record=True,
                      legacy_windows=False, safe_box=False)
    update = app.screen._compositor.render_update(full=True,
                                                  screen_stack=app._background_screens)
    console.print(update)
    segments = list(console._record_buffer)
    lines = [list(line) for line in Segment.split_lines(segments)]
    background = Color(0, 0, 0)
    out = []
    for line in lines:
        line = [s for s in line if s.style is not None or s.text.strip() == ""]
        for f in app.get_line_filters():
            line = f.apply(line, background)
        out.append(line)
    return out


def pairs(app, default_fg=(255, 255, 255), default_bg=(0, 0, 0), region=None
          ) -> Iterator[Pair]:
    """Every run of visible text with its colours (reverse and dim applied); only inside
    ``region`` when given (a modal: what it dims behind it is not meant to be read)."""
    for row, line in enumerate(screen_lines(app)):
        x = 0
        for seg in line:
            start, x = x, x + seg.cell_length
            if seg.control or not seg.text.strip():
                continue
            if region is not None and not (region.y <= row < region.bottom
                                           and start < region.right and x > region.x):
                continue
            style = seg.style
            if style is None:
                yield Pair(default_fg, default_bg, seg.text, row, "")
                continue
            fg = _rgb(style.color, default_fg)
            bg = _rgb(style.bgcolor, default_bg)
            attrs = []
            if style.reverse:
                fg, bg = bg, fg
                attrs.append("reverse")
            if style.dim:
                fg = tuple(round(b + (f - b) * DIM_FACTOR) for f, b in zip(fg, bg, strict=True))
                attrs.append("dim")
            if fg == bg:
                continue  # drawn in its background colour: a blank (an unticked box), not text
            if all(ch in "▁▂▃▄▅▆▇█▔▏▎▍▌▋▊▉▐─│╭╮╰╯┌┐└┘├┤┬┴┼━┃╷╵ ▕" for ch in seg.text):
                continue  # bars, borders, sparklines: not text
            yield Pair(fg, bg, seg.text, row, " ".join(attrs))  # type: ignore[arg-type]


def failing(app, minimum: float = MIN_RATIO, region=None) -> list[Pair]:
    seen: dict[tuple, Pair] = {}
    for p in pairs(app, region=region):
        if p.ratio < minimum:
            seen.setdefault((p.fg, p.bg), p)
    return sorted(seen.values(), key=lambda p: p.ratio)
