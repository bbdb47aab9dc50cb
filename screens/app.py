"""The Textual application: a thin shell over ``cockpit.environment``."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from cockpit.environment import Environment, derive
from cockpit.incident import describe
from cockpit.sanitize import one_line
from cockpit.timeutil import short_duration

from .modals import HelpScreen, ServiceDetailScreen
from .widgets import ClockPane, HealthPane, LogView, TitleBar

LABEL_STYLE = {
    "observation": "cyan", "decision": "bold magenta", "action": "bold green",
    "communication": "bold blue", "declared": "bold red", "status": "bold",
    "role": "yellow", "health": "dim",
}
SHORT_LABEL = {"observation": "obs", "decision": "decide", "communication": "comms",
               "declared": "DECLARE"}


class MainScreen(Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("1", "focus_area('health')", "Health", show=False),
        Binding("2", "focus_area('clocks')", "Clocks", show=False),
        Binding("3", "focus_area('log')", "Log", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield TitleBar(id="titlebar")
        health = HealthPane([s.id for s in self.app.env.services], id="health")
        health.border_title = "Health [1]"
        yield health
        with Horizontal(id="lower"):
            clocks = ClockPane(id="clocks")
            clocks.border_title = "Incident clocks [2]"
            yield clocks
            log = LogView(id="log")
            log.border_title = "Incident log [3]"
            yield log
        yield Footer()

    def on_mount(self) -> None:
        self.app.main_screen = self
        self.app.refresh_view()
        self.query_one("#health").focus()

    def action_focus_area(self, area: str) -> None:
        self.query_one(f"#{area}").focus()


class CockpitApp(App[int]):
    """The cockpit. ``env`` supplies health, entries and time; the app only draws them."""

    CSS_PATH = "cockpit.tcss"
    TITLE = "DR Cockpit"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("r", "runbooks", "Runbooks"),
        Binding("tab", "app.focus_next", "Next area", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, env: Environment, *, simulated: bool = False,
                 runbook_dirs: tuple[Path, ...] = (), tick: float = 1.0) -> None:
        super().__init__()
        self.env = env
        self.simulated = simulated
        self.runbook_dirs = runbook_dirs
        self.tick = tick
        self._health = {}
        self._entry_count = -1
        self.main_screen: MainScreen | None = None

    def get_default_screen(self) -> Screen:
        return MainScreen()

    def on_mount(self) -> None:
        if self.tick > 0:
            self.set_interval(self.tick, self.refresh_view)
        self.run_worker(self.env.run(self._changed), name="environment", group="environment",
                        exit_on_error=False)

    def _changed(self) -> None:
        self.call_later(self.refresh_view)

    def refresh_view(self) -> None:
        screen = self.main_screen
        if screen is None:
            return
        now, health, entries, incident, clocks = derive(self.env)
        self._health = {h.service: h for h in health}
        screen.query_one(TitleBar).show(self.env.name, now, incident, self.simulated)
        screen.query_one(HealthPane).show(health, now)
        targets = []
        for s in self.env.services:
            if s.rto is None and s.rpo is None:
                continue
            rto = short_duration(s.rto) if s.rto else "-"
            rpo = short_duration(s.rpo) if s.rpo else "-"
            targets.append((one_line(s.title, 15), rto, rpo))
        screen.query_one(ClockPane).show(incident, clocks, targets)
        if len(entries) != self._entry_count:
            self._entry_count = len(entries)
            screen.query_one(LogView).set_lines([self._log_line(e) for e in reversed(entries)])

    @staticmethod
    def _log_line(e) -> Text:
        import time

        label, text = describe(e)
        t = Text(no_wrap=True)
        t.append(time.strftime("%H:%M ", time.gmtime(e.ts)), style="dim")
        short = SHORT_LABEL.get(label, label)[:7]
        t.append(f"{short:<7} ", style=LABEL_STYLE.get(label, ""))
        t.append(one_line(e.author, 16), style="bold")
        t.append(": ")
        t.append(one_line(text, 400))
        return t

    def on_health_pane_open(self, message: HealthPane.Open) -> None:
        h = self._health.get(message.service_id)
        if h is not None:
            self.push_screen(ServiceDetailScreen(h, self.env.clock.now()))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_runbooks(self) -> None:
        from .runbooks import RunbookScreen

        failing = {h.service for h in self._health.values() if h.status.severity >= 3}
        self.push_screen(RunbookScreen(self.runbook_dirs, failing))

    def _fatal_error(self) -> None:
        """Never print a traceback with locals (they hold DSNs and tokens): write a redacted
        report to a 0600 file and say where it is, in one line."""
        from rich.segment import Segments

        from cockpit.crash import one_line_error, write_crash_report

        exc = self._exception
        self.bell()
        where = write_crash_report(exc) if exc is not None else None
        msg = f"cockpit: internal error: {one_line_error(exc) if exc else 'unknown'}"
        if where is not None:
            msg += f" (report: {where})"
        self._exit_renderables.append(Segments(self.console.render(Text(msg), self.console.options)))
        self._close_messages_no_wait()

    def on_unmount(self) -> None:
        self.env.stop()
