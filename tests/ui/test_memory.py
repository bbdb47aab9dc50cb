"""Keys must not leave widgets behind: focus changes and dialogs opened and closed for hours
keep the cockpit's memory flat (benchmarks/bench_memory.py measures the RSS)."""

from __future__ import annotations

import gc

from rich.text import Text
from textual._styles_cache import StylesCache
from textual.widgets._footer import FooterKey

from cockpit.screens.forms import NoteForm, UpdateForm
from cockpit.screens.modals import HelpScreen
from cockpit.screens.runbooks import RunbookScreen
from cockpit.screens.widgets import CockpitFooter, LogView

from .helpers import demo_app


def alive(cls) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, cls))


def footer_labels(footer: CockpitFooter) -> list[str]:
    return [k.description for k in footer.query(FooterKey)]


async def test_focus_changes_keep_no_removed_footer_keys():
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(CockpitFooter)
        for _ in range(6):
            await pilot.press("tab", "tab", "tab")  # health -> clocks -> log -> health
        await pilot.pause()
        shown = len(footer.query(FooterKey))
        # Textual's own Footer kept ~15 removed FooterKeys per focus change (textual#6666)
        assert alive(FooterKey) <= shown + 16
        assert len(getattr(footer, "__watchers", {}).get("compact", [])) <= shown


async def test_footer_still_follows_the_focus():
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(CockpitFooter)
        assert "Details" in footer_labels(footer)  # health focused
        await pilot.press("3")
        await pilot.pause()
        labels = footer_labels(footer)
        assert "Order" in labels and "Details" not in labels
        await pilot.press("2")
        await pilot.pause()
        assert "Order" not in footer_labels(footer) and "Details" not in footer_labels(footer)
        await pilot.press("question_mark", "escape", "1")
        await pilot.pause()
        assert "Details" in footer_labels(footer)


async def test_closed_dialogs_are_released():
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(3):
            for key in ("question_mark", "r", "n", "u"):
                await pilot.press(key)
                await pilot.pause()
                await pilot.press("escape")
                await pilot.pause()
        for cls in (HelpScreen, RunbookScreen, NoteForm, UpdateForm):
            assert alive(cls) <= 1, cls  # the last one may still be closing
        # an lru_cache on an instance method in Textual pins removed widgets' rendered lines
        assert StylesCache.get_inner_outer.cache_info().currsize < 200
        assert len(getattr(app, "__watchers", {}).get("theme", [])) <= 1


def test_log_line_cache_is_not_fooled_by_a_reused_id():
    log = LogView()
    log.set_source([], [], lambda e, mark: Text(f"{mark}{e}"))
    old, new = "old entry", "new entry"
    log._cache[(id(new), "pending ")] = (old, Text("pending old entry"))  # as if old had new's id
    assert log._format("pending ", new).plain == "pending new entry"
