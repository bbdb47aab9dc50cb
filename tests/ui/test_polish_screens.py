"""M8, M9, M13 and POLISH points of the ux review on the screens of part B: the step glyphs
are explained and ✓ / ✔ carry words, form hints say what submits, the details view is
live and in words, ctrl+c shows no markup, step kinds are not cut mid-word in the log."""

from __future__ import annotations

from cockpit.incident.model import SimEntry
from cockpit.runbooks.model import Step
from cockpit.screens.app import SHORT_LABEL, log_line
from cockpit.screens.forms import Form
from cockpit.screens.modals import HelpScreen, ServiceDetailScreen, metric_text
from cockpit.screens.runbooks import GLYPH_LEGEND, STATE_MARK, step_line

from .helpers import demo_app


def test_m8_succeeded_and_done_differ_in_words():
    st = Step(id="a", title="Check")
    ran, done = step_line(st, "succeeded").plain, step_line(st, "confirmed").plain
    assert "ran ok" in ran and "ran ok" not in done


def test_polish19_help_explains_every_step_glyph():
    for mark, _word, _style in STATE_MARK.values():
        assert f"{mark} " in GLYPH_LEGEND, mark
    assert "! destructive" in GLYPH_LEGEND


async def test_polish19_navigator_help_shows_the_legend():
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and app.screen.intro == GLYPH_LEGEND


def test_m9_form_hint_does_not_promise_enter_everywhere():
    assert not Form.HINT.startswith("enter")
    assert "ctrl+s" in Form.HINT and "text field" in Form.HINT


def test_polish6_step_kinds_fit_the_kind_column_uncut():
    for kind in ("verify_passed", "verify_failed", "overridden", "rolled_back",
                 "rollback_started", "rollback_failed", "succeeded", "failed_marked"):
        assert len(SHORT_LABEL[kind]) <= 7, kind
        e = SimEntry(0.0, "alice", f"step.{kind}", {"runbook": "db", "step": "x",
                                                   "detail": "d"})
        assert f" {SHORT_LABEL[kind]:<7} alice" in log_line(e).plain


def test_polish7_details_in_words_not_reprs():
    assert metric_text("simulated", True) == "yes"
    assert metric_text("archive_failing", False) == "no"
    assert metric_text("archive_age", None) == "none"
    assert metric_text("uptime", 1147.6) == "19m07s" or "19m" in metric_text("uptime", 1147.6)
    assert metric_text("lag", 0.0) == "0.0 s"


async def test_m13_details_view_is_live():
    app = demo_app(at=400)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        detail = app.screen
        assert isinstance(detail, ServiceDetailScreen)
        def shown() -> str:
            from rich.console import Console

            console = Console(width=120, color_system=None)
            with console.capture() as cap:
                console.print(detail.query_one("#detail-probes").render())
            return cap.get()

        before = shown()
        app.session.clock.advance(30)
        app.refresh_view()
        detail.refresh_live()
        await pilot.pause()
        assert detail.now == app.view_state.now
        assert before != shown()  # the probes' "observed" moved with the clock


async def test_polish1_ctrl_c_says_how_to_quit_without_markup():
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
        msgs = [n.message for n in app._notifications]
        assert any("to quit" in m for m in msgs)
        assert not any("[b]" in m for m in msgs)


def test_m7_preview_fills_in_known_values():
    from cockpit.runbooks.model import CommandSpec
    from cockpit.runbooks.template import preview

    spec = CommandSpec(argv=("curl", "http://{host}:{web_port}/{target_name}"), timeout=10.0)
    text = preview(spec, {"host": "127.0.0.1", "web_port": 38457})
    assert "127.0.0.1:38457/<target_name>" in text


async def test_polish16_retry_refused_before_asking_a_reason():
    from cockpit.screens.forms import PromptForm

    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        nav = app.screen
        for _ in range(40):
            await pilot.pause(0.05)
            if nav.step is not None:
                break
        await pilot.press("T")  # a pending step: nothing to retry
        await pilot.pause()
        assert not isinstance(app.screen, PromptForm)
        assert any("Retry: not possible" in n.message for n in app._notifications)


async def test_polish12_quit_is_visible_at_80_columns_with_the_log_focused():
    from textual.widgets._footer import FooterKey

    app = demo_app(at=400)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")  # the log: its keys come first in the footer
        await pilot.pause()
        await pilot.pause()
        keys = [k for k in app.screen.query(FooterKey) if k.action in ("quit", "app.quit")]
        assert keys and keys[0].region.right <= 80 and keys[0].region.width > 0


def test_polish18_no_any_motion_mouse_tracking():
    from textual.drivers.linux_driver import LinuxDriver

    app = demo_app()
    cls = app.get_driver_class()
    assert issubclass(cls, LinuxDriver)
    written: list[str] = []
    driver = cls.__new__(cls)
    driver._mouse = True
    driver.write = written.append  # type: ignore[method-assign]
    driver.flush = lambda: None  # type: ignore[method-assign]
    driver._enable_mouse_support()
    on = "".join(written)
    assert "\x1b[?1003h" not in on and "\x1b[?1000h" in on and "\x1b[?1002h" in on
    written.clear()
    driver._disable_mouse_support()
    assert "\x1b[?1003l" in "".join(written)  # whatever a previous program left on


async def test_polish5_an_error_clears_when_typing_again():
    from textual.widgets import Input, Static

    from cockpit.screens.forms import DeclareForm

    app = demo_app(at=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DeclareForm)
        await pilot.press("ctrl+s")  # no title
        await pilot.pause()
        err = form.query_one(".error", Static)
        assert "title" in str(err.render())
        form.query_one("#title", Input).focus()
        await pilot.press("x")
        await pilot.pause()
        assert str(err.render()).strip() == ""


async def test_polish13_j_and_k_move_in_the_navigator():
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        nav = app.screen
        for _ in range(40):
            await pilot.pause(0.05)
            if nav.library is not None:
                break
        rb_list = nav.query_one("#rb-list")
        assert rb_list.has_focus and rb_list.highlighted == 0
        await pilot.press("j")
        assert rb_list.highlighted == 1
        await pilot.press("k")
        assert rb_list.highlighted == 0
