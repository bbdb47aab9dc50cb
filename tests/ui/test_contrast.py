"""B6 and M11 of the ux review: every text/background pair the theme produces meets a WCAG
contrast ratio of 4.5:1, in colour and under NO_COLOR, measured from the rendered screen
(the compositor's segments after the app's line filters: ``contrast.py``); selection and
focus are marked by an attribute that needs no colour (reverse video for the selected
service, underline for a list's highlighted row, a ▶ in the focused pane's title)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.screen import ModalScreen

from cockpit.scenario import builtin_demo
from cockpit.screens.app import CockpitApp
from cockpit.screens.command import CommandForm
from cockpit.screens.forms import ParamForm
from cockpit.screens.runbooks import RunbookScreen
from cockpit.session.demo import DemoSession
from cockpit.timeutil import FixedClock

from . import contrast
from .helpers import T0, demo_app

MODES = ["colour", "NO_COLOR"]


@pytest.fixture(params=MODES)
def mode(request, monkeypatch):
    if request.param == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    return request.param


def _region(app):
    """A modal is measured inside its box (what it dims behind it is not meant to be read)."""
    if isinstance(app.screen, ModalScreen):
        return app.screen.children[0].region
    return None


def check(app, where: str, problems: list[str]) -> None:
    bad = contrast.failing(app, region=_region(app))
    problems += [f"{where}: {p}" for p in bad]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_b6_every_pair_of_the_main_screen_and_navigator_meets_4_5(mode, size):
    problems: list[str] = []
    for at in (60, 400, 1380):  # before the incident, responding, recovered
        app = demo_app(at=at)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            check(app, f"{mode} main at {at}s", problems)
            for key in ("2", "3"):  # clocks, log focused
                await pilot.press(key)
                await pilot.pause()
                check(app, f"{mode} main at {at}s, pane {key} focused", problems)
            await pilot.press("r")
            nav = app.screen
            assert isinstance(nav, RunbookScreen)
            for _ in range(20):
                await pilot.pause(0.05)
                if nav.library is not None:
                    break
            await pilot.pause()
            check(app, f"{mode} navigator, list focused", problems)
            for pane in ("steps", "step"):
                await pilot.press("tab")
                await pilot.pause()
                check(app, f"{mode} navigator, {pane} focused", problems)
            await pilot.press("escape", "question_mark")
            await pilot.pause()
            check(app, f"{mode} help", problems)
            await pilot.press("escape", "d")
            await pilot.pause()
            check(app, f"{mode} declare form", problems)
            await pilot.press("tab", "tab", "space")  # a ticked and an unticked box
            await pilot.pause()
            check(app, f"{mode} declare form, boxes", problems)
    assert not problems, "\n".join(problems)


async def test_b6_every_pair_of_the_parameter_form_and_command_view_meets_4_5(mode):
    problems: list[str] = []
    env = DemoSession.start(builtin_demo(), at=400.0, clock=FixedClock(T0))
    app = CockpitApp(env, tick=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        nav = app.screen
        for _ in range(40):
            await pilot.pause(0.05)
            if nav.library is not None and nav.step is not None:
                break
        rl = nav.query_one("#rb-list")
        rl.highlighted = next(i for i in range(rl.option_count)
                              if rl.get_option_at_index(i).id == "database")
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, ParamForm)
        check(app, f"{mode} parameter form", problems)
        for p in app.screen.params:
            app.screen.query_one(f"#p-{p.name}").value = "db-1" if p.name == "pg_host" else "5432"
        await pilot.press("ctrl+s")
        for _ in range(40):
            await pilot.pause(0.05)
            if isinstance(app.screen, CommandForm):
                break
        assert isinstance(app.screen, CommandForm)
        check(app, f"{mode} dry-run view", problems)
    assert not problems, "\n".join(problems)


def test_contrast_helper_catches_a_bad_pair():
    """The measure itself: the review's 1.01:1 pair (colour 197 on 32) fails, white on
    black passes."""
    assert contrast.ratio((0xff, 0x00, 0x5f), (0x00, 0x87, 0xd7)) < 1.5
    assert contrast.ratio((255, 255, 255), (0, 0, 0)) == pytest.approx(21.0)


def _row_styles(app, widget, row_in_widget: int):
    """The styles of the visible text on one row of ``widget`` (screen coordinates)."""
    region = widget.content_region
    y = region.y + row_in_widget
    lines = contrast.screen_lines(app)
    out = []
    x = 0
    for seg in lines[y]:
        start, x = x, x + seg.cell_length
        if seg.text.strip() and start >= region.x and x <= region.right and seg.style:
            out.append(seg.style)
    return out


async def test_m11_selection_and_focus_are_marked_without_colour(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = demo_app(at=400)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        health = app.screen.query_one("#health")
        assert str(health.border_title).startswith("▶")  # the focused pane, in a glyph
        styles = _row_styles(app, health, health.selected)
        assert styles and all(s.reverse for s in styles), styles  # the selected service
        await pilot.press("r")
        nav = app.screen
        for _ in range(40):
            await pilot.pause(0.05)
            if nav.library is not None:
                break
        await pilot.pause()
        rb_list = nav.query_one("#rb-list")
        assert rb_list.has_focus and str(rb_list.border_title).startswith("▶ ")
        row = _row_styles(app, rb_list, rb_list.highlighted - int(rb_list.scroll_y))
        assert row and all(s.underline for s in row), row  # focused list: underlined
        other = _row_styles(app, rb_list, rb_list.highlighted + 1 - int(rb_list.scroll_y))
        assert other and not any(s.underline for s in other)  # only the highlighted row
        await pilot.press("tab")
        await pilot.pause()
        steps = nav.query_one("#rb-steps")
        assert steps.has_focus and str(steps.border_title).startswith("▶ ")
        assert not str(rb_list.border_title).startswith("▶")
        row = _row_styles(app, steps, steps.highlighted - int(steps.scroll_y))
        assert row and all(s.underline and s.bold for s in row), row
        # the list that lost focus still marks its row: underlined
        row = _row_styles(app, rb_list, rb_list.highlighted - int(rb_list.scroll_y))
        assert row and all(s.underline for s in row), row


def test_theme_module_is_the_one_place_of_the_palette():
    text = (Path(__file__).parents[2] / "screens" / "theme.py").read_text()
    assert "block-cursor-text-style" in text and "underline" in text


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_b6_snapshot_no_color_main_screen(snap_compare, monkeypatch, size):
    """ACCEPTANCE: the main screen under NO_COLOR (monochrome, every pair legible)."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(demo_app(at=400), terminal_size=size)
