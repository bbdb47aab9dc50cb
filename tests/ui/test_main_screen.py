"""Pilot tests of the main screen: start-up, focus movement, help, details, quit."""

from __future__ import annotations

from cockpit.health import Status
from cockpit.screens.modals import HelpScreen, ServiceDetailScreen
from cockpit.screens.widgets import ClockPane, HealthPane, LogView, ServiceRow, TitleBar

from .helpers import demo_app


async def test_startup_shows_all_four_areas():
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        rows = list(screen.query(ServiceRow))
        # failing services first (backend DOWN, database WARN), then the configured order
        assert [r.service_id for r in rows] == ["backend", "database", "frontend", "redis", "backups", "stellar", "dns"]
        assert rows[0].health.status == Status.FAIL and rows[1].health.status == Status.WARN
        assert screen.query_one(ClockPane).region.height > 0
        assert screen.query_one(LogView).region.height > 0
        assert "INCIDENT P0" in screen.query_one(TitleBar).render_text()
        assert app.focused is screen.query_one(HealthPane)


async def test_focus_moves_between_areas():
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        health, clocks, log = (app.screen.query_one(x) for x in ("#health", "#clocks", "#log"))
        assert app.focused is health
        await pilot.press("tab")
        assert app.focused is clocks
        await pilot.press("tab")
        assert app.focused is log
        await pilot.press("tab")
        assert app.focused is health
        await pilot.press("shift+tab")
        assert app.focused is log
        await pilot.press("1")
        assert app.focused is health
        await pilot.press("2")
        assert app.focused is clocks
        await pilot.press("3")
        assert app.focused is log


async def test_help_opens_with_question_mark_and_closes():
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)


async def test_enter_opens_the_selected_service_details():
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")
        assert isinstance(app.screen, ServiceDetailScreen)
        assert app.screen.health.service == "database"  # backend (DOWN) is first
        await pilot.press("escape")
        assert not isinstance(app.screen, ServiceDetailScreen)


async def test_log_scrolls_and_changes_order():
    app = demo_app(at=1380)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        log = app.screen.query_one(LogView)
        first = log.line_text(0)
        assert "comms" in first and "Resolved" in first  # newest first: the resolution message
        await pilot.press("o")
        assert "database WARN" in log.line_text(0)  # oldest first: the first health change
        await pilot.press("end")
        assert log.cursor == log.total - 1


async def test_log_search_and_filter():
    from cockpit.screens.forms import FilterForm, SearchForm

    app = demo_app(at=1380)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "slash")
        assert isinstance(app.screen, SearchForm)
        await pilot.press(*"db-2", "enter")
        log = app.screen.query_one(LogView)
        assert log.total >= 2
        assert all("db-2" in log.line_text(i) for i in range(log.total))
        assert "db-2" in log.border_subtitle
        await pilot.press("escape")
        assert log.total > 10
        await pilot.press("f")
        form = app.screen
        assert isinstance(form, FilterForm)
        form.query_one("#author").value = "bob"
        await pilot.press("ctrl+s")
        assert log.total >= 2 and all(": " in log.line_text(i) and "bob" in log.line_text(i)
                                      for i in range(log.total))
        await pilot.press("f")
        app.screen.query_one("#kind").value = "decision"
        app.screen.query_one("#author").value = ""
        await pilot.press("ctrl+s")
        assert log.total == 1 and "Promote replica" in log.line_text(0)


async def test_quit_with_q():
    """q ends the app with return code 0 (rebinding q away makes this fail: the app would
    still be running after the key)."""
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.return_code is None
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0  # set by the quit action, before the test harness ends it


async def test_clock_advances_on_the_tick_timer():
    """The once-a-second tick redraws the clocks: time moves, the screen follows without any
    other event (no tick timer: this fails)."""
    from cockpit.timeutil import FixedClock

    from .helpers import T0

    clock = FixedClock(T0)
    app = demo_app(clock=clock, tick=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        value = lambda: str(app.screen.query_one(ClockPane).query(".value").first().render())  # noqa: E731
        before = value()
        clock.advance(61)
        for _ in range(50):
            await pilot.pause(0.05)
            if value() != before:
                break
        assert value() != before


async def test_hostile_text_is_shown_inert():
    """Escape sequences and Rich markup from a remote side never reach the screen raw."""
    from cockpit.health import ServiceHealth

    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        row = app.screen.query_one(HealthPane).row("database")
        evil = ServiceHealth("database", "PostgreSQL", Status.FAIL,
                             "boom \x1b]52;c;ZXZpbA==\x07 [bold red]markup[/] \x1b[2J\u202e", 0.0)
        row.show(evil, 0.0)
        await pilot.pause()
        shown = row.main.render()
        plain = str(shown)
        assert "\x1b" not in plain and "\u202e" not in plain
        assert "[bold red]markup[/]" in plain


async def test_enter_on_a_log_line_shows_the_whole_entry():
    from cockpit.screens.modals import EntryScreen

    app = demo_app(at=1380)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3", "enter")
        assert isinstance(app.screen, EntryScreen)
        assert "PIR within 7 days" in str(app.screen.query("Static").first().render())
        await pilot.press("escape")
        assert not isinstance(app.screen, EntryScreen)


async def test_markup_in_a_search_or_an_author_never_styles_the_border():
    from cockpit.screens.forms import SearchForm

    app = demo_app(at=1380)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "slash")
        assert isinstance(app.screen, SearchForm)
        await pilot.press(*"[bold]x[/]", "enter")
        log = app.screen.query_one(LogView)
        # the subtitle's markup form escapes the brackets: shown literally, not as style
        assert "\\[bold]x" in log.border_subtitle
