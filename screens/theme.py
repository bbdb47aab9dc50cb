"""The cockpit's colours: every text/background pair the screens produce is legible
(WCAG contrast >= 4.5:1) in colour and under NO_COLOR, and selection and focus never rely
on colour alone (B6 and M11 of the ux review; tests/ui/test_contrast.py measures them).

- ANSI colours (the Rich styles "red", "green"... of the screens) are mapped to light
  tones that read on the dark surfaces; a badge is dark text on such a tone ("bold black
  on red"), never white on it.
- The highlighted row of a list is underlined and bold (focused) or underlined (not
  focused): a marker that needs no colour, on the list's own dark background so every
  coloured word of the row stays legible (Textual's list cursor cannot draw reverse
  video); the selected service row of the health pane is in reverse video; the focused
  pane has a ▶ in its title.
- Border titles and subtitles (pane names, hints) are in the foreground colour, not the
  dim colour of the border.
"""

from __future__ import annotations

from rich.terminal_theme import TerminalTheme
from textual.theme import BUILTIN_THEMES, Theme

COCKPIT_ANSI = TerminalTheme(
    (12, 12, 12),
    (224, 224, 224),
    [
        (0, 0, 0),  # black
        (255, 135, 135),  # red (light: legible as text, and as a badge under black)
        (95, 215, 95),  # green
        (255, 215, 95),  # yellow
        (111, 168, 255),  # blue
        (226, 123, 255),  # magenta
        (95, 215, 255),  # cyan
        (232, 232, 232),  # white
    ],
    [
        (158, 158, 158),  # bright black (grey)
        (255, 135, 135),
        (135, 235, 135),
        (255, 235, 135),
        (140, 190, 255),
        (235, 155, 255),
        (135, 235, 255),
        (255, 255, 255),
    ],
)

_base = BUILTIN_THEMES["textual-dark"]
COCKPIT_THEME = Theme(
    name="dr-cockpit",
    primary=_base.primary,
    secondary=_base.secondary,
    accent=_base.accent,
    warning=_base.warning,
    error="#ff8787",
    success="#5fd75f",
    foreground=_base.foreground,
    background=_base.background,
    surface=_base.surface,
    panel=_base.panel,
    boost=_base.boost,
    dark=True,
    variables={
        # the highlighted row: bold underline (focused) / underline (blurred), never colour alone
        "block-cursor-foreground": "#e0e0e0",
        "block-cursor-background": "#1e1e1e",
        "block-cursor-text-style": "bold underline",
        "block-cursor-blurred-foreground": "#e0e0e0",
        "block-cursor-blurred-background": "#1e1e1e",
        "block-cursor-blurred-text-style": "underline",
        "footer-key-foreground": "#ffc266",
        "footer-description-foreground": "#e0e0e0",
        "input-selection-background": "#0178d4 60%",
    },
)


def apply_theme(app) -> None:
    """Use the cockpit's colours in ``app`` (call from ``__init__``)."""
    app.register_theme(COCKPIT_THEME)
    app.theme = COCKPIT_THEME.name
    app.ansi_theme_dark = COCKPIT_ANSI
