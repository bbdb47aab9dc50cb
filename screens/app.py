"""The Textual application: a thin shell over ``cockpit.environment``."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Static

from cockpit.environment import Environment, derive
from cockpit.incident import describe
from cockpit.sanitize import one_line
from cockpit.timeutil import short_duration

from .modals import HelpScreen, ServiceDetailScreen
from .widgets import (
    ClockPane,
    CockpitFooter,
    HealthPane,
    LogView,
    TitleBar,
    prune_watchers,
    release_styles_caches,
)

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
        yield Static(id="banner")
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
        yield CockpitFooter()

    TITLES = {"health": "Health [1]", "clocks": "Incident clocks [2]", "log": "Incident log [3]"}

    def on_descendant_focus(self, event) -> None:
        self._mark_focus()

    def on_descendant_blur(self, event) -> None:
        self._mark_focus()

    def _mark_focus(self) -> None:
        """The focused area says so in words too (not by border colour alone)."""
        for wid, title in self.TITLES.items():
            w = self.query_one(f"#{wid}")
            base = w.border_title or title
            base = base.removeprefix("▶ ")
            want = f"▶ {base}" if w.has_focus else base
            if w.border_title != want:
                w.border_title = want

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
        Binding("d", "declare", "Declare"),
        Binding("n", "note", "Note"),
        Binding("s", "status", "Status"),
        Binding("a", "assign", "Role", show=False),
        Binding("i", "incidents", "Incidents", show=False),
        Binding("e", "edit_services", "Services", show=False),
        Binding("u", "update", "Update"),
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
        self._incident = None
        self._clocks = []
        self._entries = []
        self.pending: list = []  # entries written but not yet acknowledged by the journal
        self.unsaved: list = []  # entries the journal refused (disk full, I/O error)
        self.write_error: str | None = None
        self.main_screen: MainScreen | None = None
        self._refresh_pending = False
        self._ui_loop = None
        self._thread_id = None

    def get_default_screen(self) -> Screen:
        return MainScreen()

    def on_mount(self) -> None:
        if self.tick > 0:
            self.set_interval(self.tick, self.refresh_view)
        import asyncio
        import threading

        self._thread_id = threading.get_ident()
        self._ui_loop = asyncio.get_running_loop()
        self.run_worker(self.env.run(self._changed_any_thread), name="environment",
                        group="environment", exit_on_error=False)

    def _changed_any_thread(self) -> None:
        import threading

        if threading.get_ident() == self._thread_id:
            self._changed()
        elif self._ui_loop is not None and not self._ui_loop.is_closed():
            self._ui_loop.call_soon_threadsafe(self._changed)

    def _changed(self) -> None:
        """Probe results and journal entries arrive in bursts: coalesce them into at most one
        redraw per 200 ms, so a round of 200 probes costs a few redraws, not 200."""
        if self._refresh_pending:
            return
        self._refresh_pending = True

        def run() -> None:
            self._refresh_pending = False
            self.refresh_view()

        self.set_timer(0.2, run)

    def refresh_view(self) -> None:
        screen = self.main_screen
        if screen is None or not self.is_running or self._exit_renderables:
            return
        try:
            self._refresh(screen)
        except NoMatches:
            return  # the screen is being torn down (a late callback at exit)

    def _refresh(self, screen: MainScreen) -> None:
        now, health, entries, incident, clocks = derive(self.env)
        self._health = {h.service: h for h in health}
        self._incident, self._clocks, self._entries = incident, clocks, entries
        banner = screen.query_one("#banner", Static)
        error = self.write_error or getattr(self.env, "journal_error", None)
        offline = getattr(self.env, "offline", False)
        banner.display = error is not None or offline
        if offline and error is None:
            banner.update(Text(" COCKPIT OFFLINE: no connectivity anchor answers. Probe failures "
                               "may be our own network, not the services. ", style="bold black on yellow"))
        if error is not None:
            banner.update(Text(f" JOURNAL NOT WRITABLE: {one_line(error, 200)}. Read-only: "
                               f"{len(self.unsaved)} unsaved entr{'y' if len(self.unsaved) == 1 else 'ies'} "
                               "kept in memory; destructive steps refused. ", style="bold white on red"))
        screen.query_one(TitleBar).show(self.env.name, now, incident, self.simulated,
                                        bool(getattr(self.env.clock, "paused", False)))
        screen.query_one(HealthPane).show(health, now)
        targets = []
        for s in self.env.services:
            if s.rto is None and s.rpo is None:
                continue
            rto = short_duration(s.rto) if s.rto else "-"
            rpo = short_duration(s.rpo) if s.rpo else "-"
            targets.append((one_line(s.title, 15), rto, rpo))
        loading = getattr(self.env, "loading", False)
        screen.query_one(ClockPane).show(incident, clocks, targets, loading=loading)
        log = screen.query_one(LogView)
        log_title = ("▶ " if log.has_focus else "") + "Incident log [3]" + (
            " (loading: newest entries first)" if loading else "")
        if log.border_title != log_title:
            log.border_title = log_title
        count = (id(entries), len(entries), len(self.pending), len(self.unsaved))
        if count != self._entry_count:
            self._entry_count = count
            extra = [("UNSAVED ", e) for e in reversed(self.unsaved)]
            extra += [("pending ", e) for e in reversed(self.pending)]
            screen.query_one(LogView).set_source(entries, extra, self._log_line)

    @staticmethod
    def _log_line(e, mark: str = "") -> Text:  # noqa: D401 - a LogView formatter
        import time

        label, text = describe(e)
        t = Text(no_wrap=True)
        if mark:
            t.append(mark, style="bold white on red" if mark.startswith("UNSAVED") else "italic dim")
        t.append(time.strftime("%H:%M ", time.gmtime(e.ts)), style="dim")
        short = SHORT_LABEL.get(label, label)[:7]
        t.append(f"{short:<7} ", style=LABEL_STYLE.get(label, ""))
        t.append(one_line(e.author, 16), style="bold")
        t.append(": ")
        t.append(one_line(text, 400))
        return t

    def on_log_view_open(self, message: LogView.Open) -> None:
        from .modals import EntryScreen

        self.push_screen(EntryScreen(message.entry, message.mark))

    def on_health_pane_open(self, message: HealthPane.Open) -> None:
        h = self._health.get(message.service_id)
        if h is not None:
            self.push_screen(ServiceDetailScreen(h, self.env.clock.now()))

    def pop_screen(self):
        """Every dialog is a screen pushed and popped: once popped it never renders again, so
        what Textual keeps of its widgets' rendering is released now (release_styles_caches),
        and so are the watchers its widgets left on the app (a TextArea watches the app's
        theme: without this each stakeholder-update form would stay alive in that list).
        The popped screen's own widgets close after this call: they go at the next pop."""
        done = super().pop_screen()
        release_styles_caches()
        prune_watchers(self)
        return done

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_runbooks(self) -> None:
        from .runbooks import RunbookScreen

        if isinstance(self.screen, RunbookScreen):
            return
        self.push_screen(RunbookScreen(self.runbook_dirs, self._failing(),
                                       getattr(self.env, "config", None), self.env))

    def notify(self, message, *, title: str = "", severity="information", timeout=None,
               markup: bool = True) -> None:
        """Every notification here carries data (commands, errors, names): never Rich markup,
        and never an escape sequence."""
        from cockpit.sanitize import clean

        text = message.plain if isinstance(message, Text) else str(message)
        super().notify(clean(text, keep_newlines=True, limit=4000), title=one_line(title, 80),
                       severity=severity, timeout=timeout, markup=False)

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

    # ------------------------------------------------------------ incident actions
    def _act(self, kind: str, data: dict, call) -> None:
        """Journal an operator action off the UI thread; pending until acknowledged."""
        from cockpit.incident import SimEntry

        entry = SimEntry(self.env.clock.now(), getattr(self.env, "author", "you"), kind, data)
        self.pending.append(entry)
        self.refresh_view()

        def work() -> None:
            try:
                call()
                poll = getattr(self.env, "poll", None)
                if poll is not None:
                    poll()
            except Exception as e:  # noqa: BLE001 - shown to the engineer, entry kept
                self.call_from_thread(self._act_failed, entry, e)
            finally:
                self.call_from_thread(self._act_done, entry)

        self.run_worker(work, thread=True, group="journal", exit_on_error=False)

    def _act_done(self, entry) -> None:
        if entry in self.pending:
            self.pending.remove(entry)
        self.refresh_view()

    def _act_failed(self, entry, error: Exception) -> None:
        from cockpit.incidents import IncidentError

        if isinstance(error, IncidentError):
            self.notify(str(error), severity="warning", timeout=6)
            return
        self.unsaved.append(entry)
        self.write_error = f"{type(error).__name__}: {error}"
        self.refresh_view()

    def _failing(self) -> set[str]:
        from cockpit.health import Status

        return {h.service for h in self._health.values() if h.status in (Status.FAIL, Status.WARN)}

    def action_declare(self) -> None:
        from .forms import DeclareForm

        if self._incident is not None and self._incident.active:
            self.notify(f"Incident open: {self._incident.title} ({self._incident.status}). "
                        "A new declaration starts a second incident; i lists them.",
                        severity="warning", timeout=8)
        downs = [h.down_since for h in self._health.values() if getattr(h, "down_since", None)]
        form = DeclareForm([(s.id, s.title) for s in self.env.services], self._failing(),
                           min(downs) if downs else None, self.env.clock.now())

        def done(v) -> None:
            if v:
                self._act("incident.declared", v, lambda: self.env.declare(
                    v["title"], v["severity"], v["services"], v["impact_start"]))

        self.push_screen(form, done)

    def action_incidents(self) -> None:
        """List the incidents of the state directory and follow the one chosen."""
        from .forms import IncidentPicker

        store = getattr(self.env, "store", None)
        if store is None:
            self.notify("The demo has one incident: its scenario's.", timeout=4)
            return
        current = getattr(self.env, "incident_id", None)

        def load() -> None:
            import time as _time

            now = self.env.clock.now()
            rows = []
            for summary in store.list():
                st = summary.state
                t = Text(no_wrap=True, overflow="ellipsis")
                t.append("▶ " if summary.id == current else "  ", style="bold")
                t.append(f"{st.severity} ", style="bold red" if st.severity in ("P0", "P1") else "bold")
                t.append(f"{st.status:<10} ", style="dim" if st.status in ("recovered", "closed") else "bold")
                t.append(_time.strftime("%m-%d %H:%M ", _time.gmtime(st.declared_at or now)), style="dim")
                t.append(one_line(st.title, 80))
                rows.append((summary.id, t))
            self.call_from_thread(self.push_screen, IncidentPicker(rows, current), chosen)

        def chosen(v) -> None:
            if v and v["incident"] != current:
                def follow() -> None:
                    self.env.follow(v["incident"])
                    self.call_from_thread(self.refresh_view)

                self.run_worker(follow, thread=True, group="journal", exit_on_error=False)

        self.run_worker(load, thread=True, group="journal", exit_on_error=False)

    def _need_incident(self) -> bool:
        if self._incident is None:
            self.notify("No incident: press d to declare one.", severity="warning", timeout=4)
            return False
        return True

    def action_status(self) -> None:
        from .forms import StatusForm

        if not self._need_incident():
            return

        def done(v) -> None:
            if v:
                self._act("incident.status", v, lambda: self.env.set_status(v["status"]))

        self.push_screen(StatusForm(self._incident.status), done)

    def action_edit_services(self) -> None:
        from .forms import ServicesForm

        if not self._need_incident():
            return

        def done(v) -> None:
            if v:
                self._act("incident.updated", v, lambda: self.env.update(services=v["services"]))

        self.push_screen(ServicesForm([(s.id, s.title) for s in self.env.services],
                                      set(self._incident.services)), done)

    def action_note(self) -> None:
        from .forms import NoteForm

        if not self._need_incident():
            return

        def done(v) -> None:
            if v:
                self._act("note", v, lambda: self.env.note(v["type"], v["text"]))

        self.push_screen(NoteForm(), done)

    def action_assign(self) -> None:
        from .forms import RoleForm

        if not self._need_incident():
            return

        def done(v) -> None:
            if v:
                self._act("role.assigned", v, lambda: self.env.assign(v["role"], v["person"]))

        self.push_screen(RoleForm(dict(self._incident.roles)), done)

    def action_update(self) -> None:
        from cockpit.updates import draft_update

        from .forms import UpdateForm

        if not self._need_incident():
            return
        draft = draft_update(self._incident, self._clocks, self._health, self._entries,
                             self.env.clock.now(), self.env.milestones.update_every)

        def done(v) -> None:
            if v:
                data = {"type": "communication", "text": v["text"]}
                self._act("note", data, lambda: self.env.note("communication", v["text"]))

        self.push_screen(UpdateForm(draft), done)

    # ------------------------------------------------------------ log search and filter
    def action_search_log(self) -> None:
        from cockpit.incident import matches

        from .forms import SearchForm

        log = self.main_screen.query_one(LogView)

        def done(v) -> None:
            if v is None:
                return
            text = v["text"]
            if not text:
                log.set_filter(None, "")
                return
            log.set_filter(lambda e: matches(e, text=text), f"“{one_line(text, 30)}”")
            log.focus()

        self.push_screen(SearchForm(), done)

    def action_filter_log(self) -> None:
        from cockpit.incident import matches

        from .forms import FilterForm

        log = self.main_screen.query_one(LogView)
        authors = sorted({e.author for e in self._entries})

        def done(v) -> None:
            if v is None:
                return
            kind, author = v["kind"], v["author"]
            if not kind and not author:
                log.set_filter(None, "")
                return
            kinds = frozenset([kind]) if kind else None
            desc = " · ".join(x for x in (kind, f"by {one_line(author, 20)}" if author else "") if x)
            log.set_filter(lambda e: matches(e, kinds=kinds, author=author or None), desc)
            log.focus()

        self.push_screen(FilterForm(authors), done)

    def on_unmount(self) -> None:
        self.env.stop()
