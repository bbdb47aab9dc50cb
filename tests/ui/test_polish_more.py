"""POLISH 3, 13 and 15 of the ux review (the rest of issue 10): the declare form's labels are
never cut; f and o mean the same in the navigator as on the main screen (or say which);
the log has no horizontal scrollbar (its lines are cut with …, never scrolled)."""

from __future__ import annotations

import pytest

from cockpit.screens.forms import DeclareForm
from cockpit.screens.widgets import LogView

from . import contrast
from .helpers import demo_app

SIZES = [(80, 24), (120, 40)]


def screen_text(app) -> str:
    return "\n".join("".join(s.text for s in line) for line in contrast.screen_lines(app))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_polish3_declare_form_labels_are_not_cut(size):
    app = demo_app(at=150)
    async with app.run_test(size=size) as pilot:
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DeclareForm)
        text = screen_text(app)
        assert "HH:MM:SS, or an age like 10m" in text, text
        assert "(pre-filled: first failing probe; empty: now)" in text, text


async def test_polish15_the_log_has_no_horizontal_scrollbar():
    app = demo_app(at=1380)  # a long log: the vertical scrollbar is there
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        log = app.screen.query_one(LogView)
        # its lines are cut to the width with …: nothing to scroll sideways, ever
        assert log.styles.overflow_x == "hidden"
        for size in ((120, 40), (80, 24), (100, 30), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.press("3", "end", "home")
            await pilot.pause()
            assert not log.show_horizontal_scrollbar, size
            assert log.virtual_size.width <= log.scrollable_content_region.width, size
