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


async def test_polish13_f_and_o_never_act_on_a_step_in_the_navigator():
    """On the main screen f filters and o orders the log; in the navigator the step actions
    are F (failed) and O (override). A lowercase f / o there acts on nothing and says so."""
    from cockpit.keys import specs
    from cockpit.screens.runbooks import RunbookScreen

    def keys_of(scope):
        return {k: s for s in specs(scope) for k in s.keys.split(",")}

    nav, log = keys_of("navigator"), keys_of("log")
    assert log["f"].action == "app.filter_log" and log["o"].action == "toggle_order"
    assert nav["F"].action == "mark_failed" and nav["O"].action == "override"
    assert nav["f"].action == nav["o"].action == "log_keys"
    app = demo_app(at=400)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, RunbookScreen)
        for _ in range(40):
            await pilot.pause(0.05)
            if screen.library is not None and screen.step is not None:
                break
        await pilot.press("tab")  # the step list
        await pilot.pause()
        before = len(app.view_state.entries) if app.view_state else 0
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, RunbookScreen)  # no reason form: nothing is marked
        said = [n.message for n in app._notifications]
        assert any("F marks the step failed" in m and "O overrides" in m for m in said), said
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, RunbookScreen)
        assert (len(app.view_state.entries) if app.view_state else 0) == before


async def test_polish17_demo_texts_agree_with_the_demo():
    """The demo's log never names a wall-clock time (its clock is simulated: "next update
    08:00" was logged at 00:58), and Backend API keeps a key figure after recovery."""
    import re

    from cockpit.incident.log import describe

    for at in (400, 1380):
        app = demo_app(at=at)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            view = app.view_state
            assert view is not None
            for e in view.entries:
                text = describe(e)[1]
                assert not re.search(r"\b\d{1,2}:\d\d\b", text), text
            backend = {h.service: h for h in view.health}["backend"]
            if at == 1380:
                assert backend.status.value == "ok" and backend.key_figure.strip(), backend


async def test_polish14_every_role_has_its_word_on_screen_at_80x24():
    """The incident line cut "IC carol comms bo…" and never showed the scribe: the roles now
    have their own line, each word before its name, the scribe included (or "none")."""
    from cockpit.screens.widgets import ClockPane

    app = demo_app(at=400)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pane = app.screen.query_one(ClockPane)
        roles = str(pane.query_one("#incident-roles").render())
        assert roles.startswith("IC alice · comms bob · scribe"), roles
        text = screen_text(app)
        assert "IC alice · comms bob · scribe" in text, text
        head = str(pane.query_one("#incident-line").render())
        assert "…" not in head and "RESPONDING" in head, head
