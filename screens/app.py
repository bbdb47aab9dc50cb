"""The Textual application: a thin shell over one ``cockpit.session.Session``.

Everything shown comes from ``session.view()``; everything done goes through the session's
actions, in worker threads. Background work reports back as messages (``SessionChanged``,
coalesced) and every worker failure reaches one handler (``on_worker_state_changed``): loud by
default, as in harlequin: a failure nobody sees is worse than a missing feature.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from cockpit.health import ServiceHealth, Status
from cockpit.incident.log import describe
from cockpit.incident.store import IncidentError
from cockpit.journal import JournalWriteError
from cockpit.runbooks.errors import ParamError, StepError
from cockpit.session import BannerLevel, Session, SessionKind, View
from cockpit.text import clean, one_line
from cockpit.timeutil import short_duration

from .keys import bindings
from .modals import LEGEND, CloseableModal, HelpScreen, ServiceDetailScreen
from .widgets import (
    Cell,
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
    "role": "yellow", "health": "dim", "unreadable": "bold red",
}
SHORT_LABEL = {"observation": "obs", "decision": "decide", "communication": "comms",
               "declared": "DECLARE", "unreadable": "INVALID",
               # step kinds in 7 columns, never cut mid-word (POLISH 6)
               "verify_passed": "verify+", "verify_failed": "VERIFY!", "overridden": "forced",
               "rolled_back": "undone", "rollback_started": "undoing",
               "rollback_failed": "UNDO!", "succeeded": "ran ok", "failed_marked": "FAILED",
               "confirmed": "done", "dry_run": "dry-run", "claimed": "claimed",
               "started": "started", "failed": "FAILED", "skipped": "skipped",
               "retry": "retry", "output": "output"}
BANNER_STYLE = {BannerLevel.ERROR: "bold black on red", BannerLevel.WARNING: "bold black on yellow",
                BannerLevel.INFO: "bold black on green"}
# Refusals the engineer can act on: a warning toast, not an error.
USER_ERRORS = (IncidentError, StepError, ParamError)
# The keys that write (or follow another incident): gone from a read-only view, whose
# session refuses them anyway (``cockpit.session.observer``).
WRITE_ACTIONS = frozenset({"declare", "note", "status", "assign", "edit_services", "update",
                           "retry_journal", "incidents"})


class SessionChanged(Message):
    """Something shown may have changed (posted from any thread; bursts coalesce)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SessionChanged)


class MainScreen(Screen[None]):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = bindings("main")
    TITLES = {"health": "Health [1]", "clocks": "Incident clocks [2]", "log": "Incident log [3]"}

    def __init__(self, session: Session, on_ready: Callable[[], None]) -> None:
        super().__init__()
        self.session = session
        self.on_ready = on_ready  # draws the first frame once the widgets exist

    def compose(self) -> ComposeResult:
        yield TitleBar(id="titlebar")
        yield Cell(id="banner", sized_by_content=True)
        health = HealthPane([s.id for s in self.session.services], id="health")
        health.border_title = self.TITLES["health"]
        yield health
        with Horizontal(id="lower"):
            clocks = ClockPane(id="clocks")
            clocks.border_title = self.TITLES["clocks"]
            yield clocks
            log = LogView(id="log")
            log.border_title = self.TITLES["log"]
            yield log
        yield CockpitFooter()

    def on_descendant_focus(self, event: object) -> None:
        self._mark_focus()

    def on_descendant_blur(self, event: object) -> None:
        self._mark_focus()

    def _mark_focus(self) -> None:
        """The focused area says so in words too (not by border colour alone)."""
        for wid, title in self.TITLES.items():
            w = self.query_one(f"#{wid}")
            base = str(w.border_title or title).removeprefix("▶ ")
            want = f"▶ {base}" if w.has_focus else base
            if w.border_title != want:
                w.border_title = want

    def on_mount(self) -> None:
        self.query_one("#health").focus()
        self.on_ready()

    def action_focus_area(self, area: str) -> None:
        self.query_one(f"#{area}").focus()

    def show(self, view: View, simulated: bool) -> None:
        """Draw ``view``: each widget repaints only what changed."""
        banner = self.query_one("#banner", Cell)
        text = Text()
        for i, b in enumerate(view.banners):
            if i:
                text.append("\n")
            text.append(f" {one_line(b.text, 400)} ", style=BANNER_STYLE[b.level])
        banner.display = bool(view.banners)
        levels = {b.level for b in view.banners}
        worst = next((lv for lv in (BannerLevel.ERROR, BannerLevel.WARNING, BannerLevel.INFO)
                      if lv in levels), None)
        banner.set_class(worst == BannerLevel.WARNING, "-warning")
        banner.set_class(worst == BannerLevel.INFO, "-info")
        banner.set(text)
        self.query_one(TitleBar).show(self.session.name, view.now, view.incident, simulated,
                                      view.paused, view.open_incidents)
        self.query_one(HealthPane).show(view.health, view.now)
        targets = []
        for s in self.session.services:
            if s.rto is None and s.rpo is None:
                continue
            rto = short_duration(s.rto) if s.rto else "-"
            rpo = short_duration(s.rpo) if s.rpo else "-"
            targets.append((one_line(s.title, 15), rto, rpo))
        self.query_one(ClockPane).show(view.incident, view.clocks, targets, loading=view.loading)
        log = self.query_one(LogView)
        log_title = ("▶ " if log.has_focus else "") + self.TITLES["log"] + (
            " (loading: newest entries first)" if view.loading else "") + (
            f" · {one_line(view.sync, 60)}" if view.sync else "")
        if log.border_title != log_title:
            log.border_title = log_title
        log.show(view.entries, view.pending, view.unsaved, log_line)


def log_line(e: Any, mark: str = "") -> Text:
    """One log entry as a line: time, kind, author, text (all untrusted text sanitized)."""
    label, text = describe(e)
    t = Text(no_wrap=True)
    if mark:
        t.append(mark, style="bold black on red" if mark.startswith("UNSAVED") else "italic dim")
    t.append(time.strftime("%H:%M ", time.gmtime(e.ts)), style="dim")
    short = SHORT_LABEL.get(label, label)[:7]
    t.append(f"{one_line(short, 7):<7} ", style=LABEL_STYLE.get(label, ""))
    t.append(one_line(e.author, 16), style="bold")
    t.append(": ")
    t.append(one_line(text, 400))
    return t


class CockpitApp(App[int]):
    """The cockpit over one session. ``keymap``: binding id -> keys (``[keys]`` of
    cockpit.toml); ``tick``: seconds between redraws of the clocks (0: none, tests)."""

    CSS_PATH = "cockpit.tcss"
    TITLE = "DR Cockpit"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = bindings("app")

    def __init__(self, session: Session, *, keymap: Mapping[str, str] | None = None,
                 tick: float = 1.0) -> None:
        super().__init__()
        from .theme import apply_theme

        apply_theme(self)  # legible in colour and under NO_COLOR (B6, M11)
        from .ascii import AsciiFilter, ascii_only

        if ascii_only():  # TERM=vt100, LC_ALL=C: every glyph drawn in ASCII (M11)
            self._filters.append(AsciiFilter())
        self.session = session
        self.simulated = session.kind != SessionKind.LIVE
        self.keymap: dict[str, str] = dict(keymap or {})
        self.tick = tick
        self.view_state: View | None = None
        self.main_screen: MainScreen | None = None
        self._refresh_pending = False
        self._session_error: str | None = None
        self._last_notice = 0  # the seq of the last notice shown

    def get_default_screen(self) -> Screen[Any]:
        self.main_screen = MainScreen(self.session, self.refresh_view)
        return self.main_screen

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only session (``capabilities.declare`` False) has no writing keys."""
        return not (action in WRITE_ACTIONS and not self.session.capabilities.declare)

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        if self.tick > 0:
            self.set_interval(self.tick, self.refresh_view, name="tick")
        # The first frame first: the session's background work (the probe thread importing
        # its client libraries, the journal's first read) would compete with it for the GIL.
        self.call_after_refresh(self._start_session)

    def _start_session(self) -> None:
        self.run_worker(self.session.run(self._changed_any_thread), name="session",
                        group="session", description="following the journal and the probes",
                        exit_on_error=False)

    def _changed_any_thread(self) -> None:
        self.post_message(SessionChanged())

    def on_session_changed(self, message: SessionChanged) -> None:
        """Probe results and journal entries arrive in bursts: coalesce them into at most one
        redraw per 200 ms, so a round of 200 probes costs a few redraws, not 200."""
        if self._refresh_pending:
            return
        self._refresh_pending = True

        def run() -> None:
            self._refresh_pending = False
            self.refresh_view()

        self.set_timer(0.2, run)

    def current_view(self) -> View:
        view = self.session.view()
        if self._session_error is not None:
            from cockpit.session import Banner

            view = View(**{**view.__dict__, "banners": (*view.banners, Banner(
                "session", BannerLevel.ERROR, self._session_error))})
        return view

    def refresh_view(self) -> None:
        screen = self.main_screen
        if screen is None or not self.is_running or self.return_code is not None:
            return
        try:
            view = self.current_view()
            self.view_state = view
            screen.show(view, self.simulated)
            self._announce(view)
        except NoMatches:
            return  # the screen is being torn down (a late callback at exit)

    def _announce(self, view: View) -> None:
        """Each new notice once: a notification, and the terminal bell unless ``bell =
        false`` in cockpit.toml. An open incident list is refreshed with it."""
        new = [n for n in view.notices if n.seq > self._last_notice]
        if not new:
            return
        self._last_notice = new[-1].seq
        for n in new:
            level = n.level if n.level in ("information", "warning", "error") else "warning"
            self.notify(n.text, severity=level, timeout=15 if level == "error" else 8)
        if any(n.bell for n in new):
            self.bell()
        from .forms import IncidentPicker

        if isinstance(self.screen, IncidentPicker):
            picker = self.screen
            self.work(lambda: self._list_incidents(picker), "listing the incidents",
                      group="follow")

    def action_dismiss_notices(self) -> None:
        """The announcements on screen go away (they are in the log or the health pane)."""
        self.clear_notifications()

    # ------------------------------------------------------------ every background failure
    @on(Worker.StateChanged)
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.SUCCESS and worker.group in ("act", "follow"):
            self.refresh_view()
        if event.state != WorkerState.ERROR:
            return
        err = worker.error
        what = worker.description or worker.name or "background work"
        if worker.group == "session":
            self._session_error = (
                f"BACKGROUND WORK STOPPED ({what}): {type(err).__name__}: "
                f"{one_line(err, 200)}. The journal is no longer followed and health is not "
                "refreshed: restart the cockpit.")
            self.bell()
            self.refresh_view()
            return
        if isinstance(err, USER_ERRORS):
            self.notify(str(err), severity="warning", timeout=8)
        elif isinstance(err, JournalWriteError):
            self.notify(f"Not saved: {one_line(err, 300)}", severity="error", timeout=12)
        else:
            self.notify(f"{what} failed: {type(err).__name__}: {one_line(err, 300)}",
                        severity="error", timeout=12)
        self.refresh_view()

    def work(self, fn: Callable[[], object], what: str, group: str = "act") -> None:
        """Run a blocking session call in a worker thread; failures reach the one handler."""
        self.run_worker(fn, thread=True, group=group, description=what, exit_on_error=False)

    # ------------------------------------------------------------ opening things
    def on_log_view_open(self, message: LogView.Open) -> None:
        from .modals import EntryScreen

        self.push_screen(EntryScreen(message.entry, message.mark))

    def on_health_pane_open(self, message: HealthPane.Open) -> None:
        h = self._health().get(message.service_id)
        if h is not None:
            self.push_screen(ServiceDetailScreen(h, self.session.clock.now()))

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

    def get_driver_class(self) -> Any:
        from .driver import quiet_mouse

        return quiet_mouse(super().get_driver_class())  # no any-motion mouse (POLISH 18)

    def running_steps(self) -> list[str]:
        """"runbook/step" of every step of the followed incident that is running now (its
        supervisor alive), for the quit question (MISSING 9). Only a live session runs
        commands; a rehearsal or a replay has nothing that outlives the cockpit."""
        view = self.view_state
        if view is None or self.session.kind != SessionKind.LIVE or not self.session.capabilities.execute:
            return []
        from cockpit.runbooks.state import RUNNING, step_states

        journaled = [key for key, st in step_states(view.entries).items()
                     if st.state == RUNNING or st.rollback == "running"]
        out = []
        for rb in sorted({rb for rb, _ in journaled}):
            try:  # the session checks that each run's supervisor is still alive
                states = self.session.runbooks.states(rb)
            except Exception:  # noqa: BLE001 - at quit, a failing read says what the journal says
                states = {key: st for key, st in step_states(view.entries).items() if key[0] == rb}
            for (r, sid), st in sorted(states.items()):
                if st.state == RUNNING or st.rollback == "running":
                    what = "rollback of " if st.state != RUNNING else ""
                    out.append(f"{what}{r}/{sid}")
        return out

    async def action_quit(self) -> None:
        """q: quit at once, unless a step of the followed incident is running: then say that
        it keeps running under its supervisor and how to follow it, and ask (MISSING 9)."""
        from .forms import ConfirmForm

        if isinstance(self.screen, ConfirmForm) and self.screen.quit_question:
            return  # the question is on screen: it answers q itself
        running = self.running_steps()
        if not running:
            self.exit()
            return
        iid = one_line(self.view_state.incident_id or "", 60) if self.view_state else ""
        names = ", ".join(one_line(r, 80) for r in running[:3])
        if len(running) > 3:
            names += f" and {len(running) - 3} more"
        form = ConfirmForm(
            "Quit while a step runs?",
            f"Still running: {names}.\n\n"
            "It keeps running under its supervisor after you quit: its result and output are "
            "journaled. To follow it, start the cockpit again, or run "
            f"`cockpit log {iid}`.\n\nQuit now? (enter or q: quit · escape: stay)", ok="Quit")
        form.quit_question = True

        def done(answer: dict | None) -> None:
            if answer:
                self.exit()

        self.push_screen(form, done)

    def action_help_quit(self) -> None:
        """ctrl+c: how to quit, in plain words (POLISH 1: notifications never parse markup,
        so Textual's own "[b]ctrl+q[/b]" text showed its tags)."""
        for key, active in self.active_bindings.items():
            if active.binding.action in ("quit", "app.quit"):
                self.notify(f"Press {key} to quit the cockpit.", title="Do you want to quit?")
                return

    def action_help(self) -> None:
        from .forms import Form

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen([
            ("Anywhere", [*self.BINDINGS, *MainScreen.BINDINGS]),
            ("Health", HealthPane.BINDINGS),
            ("Incident log", LogView.BINDINGS),
            ("Any dialog", [*Form.BINDINGS, *CloseableModal.BINDINGS]),
        ], self.keymap, intro=(
            "DR Cockpit shows the health of every service of the recovery plan, the RTO/RPO "
            "clocks of a declared incident and its log. Keyboard only."), legend=LEGEND))

    def action_runbooks(self) -> None:
        from .runbooks import RunbookScreen

        if isinstance(self.screen, RunbookScreen):
            return
        self.push_screen(RunbookScreen(self.session, self._failing(), self.keymap))

    def action_drills(self) -> None:
        """The DR testing schedule (read off the UI thread: the drill journals are files)."""
        from .drills import DrillsScreen

        if isinstance(self.screen, DrillsScreen):
            return

        def load() -> None:
            board = self.session.drills()
            self.call_from_thread(self.push_screen, DrillsScreen(board))

        self.work(load, "reading the drills", group="follow")

    def action_retry_journal(self) -> None:
        def retry() -> None:
            msg = self.session.retry_journal()
            self.call_from_thread(self.notify, msg, timeout=6)

        self.work(retry, "retrying the journal")

    def notify(self, message: object, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification here carries data (commands, errors, names): never Rich markup,
        and never an escape sequence."""
        text = message.plain if isinstance(message, Text) else str(message)
        super().notify(clean(text, keep_newlines=True, limit=4000), title=one_line(title, 80),
                       severity=severity, timeout=timeout, markup=False)

    def _fatal_error(self) -> None:
        """Never print a traceback with locals (they hold DSNs and tokens): write a redacted
        report to a 0600 file and say where it is, in one line; exit non-zero."""
        from rich.segment import Segments

        from cockpit.crash import EXIT_INTERNAL, report

        exc = self._exception
        self.bell()
        msg = report(exc) if exc is not None else "cockpit: internal error: unknown"
        self._return_code = EXIT_INTERNAL
        self._exit_renderables.append(Segments(self.console.render(Text(clean(msg)),
                                                                   self.console.options)))
        self._close_messages_no_wait()

    # ------------------------------------------------------------ the incident
    def _view(self) -> View:
        if self.view_state is None:
            self.view_state = self.current_view()
        return self.view_state

    def _health(self) -> dict[str, ServiceHealth]:
        return {h.service: h for h in self._view().health}

    def _failing(self) -> set[str]:
        return {h.service for h in self._view().health if h.status in (Status.FAIL, Status.WARN)}

    def _incident_or_say(self) -> Any:
        inc = self._view().incident
        if inc is None:
            self.notify("No incident: press d to declare one.", severity="warning", timeout=4)
        return inc

    def action_declare(self) -> None:
        from .forms import DeclareForm

        view = self._view()
        inc = view.incident
        if inc is not None and inc.active:
            self.notify(f"Incident open: {one_line(inc.title, 80)} ({inc.status}). "
                        "A new declaration starts a second incident; i lists them.",
                        severity="warning", timeout=8)
        downs = [h.down_since for h in view.health if h.down_since]
        form = DeclareForm([(s.id, s.title) for s in self.session.services], self._failing(),
                           min(downs) if downs else None, self.session.clock.now())

        def done(v: dict[str, Any] | None) -> None:
            if v:
                self.work(lambda: self.session.declare(v["title"], v["severity"], v["services"],
                                                       v["impact_start"]), "declaring")

        self.push_screen(form, done)

    def action_incidents(self) -> None:
        """List the incidents of the state directory and follow the one chosen."""
        if not self.session.capabilities.follow:
            self.notify("The demo has one incident: its scenario's.", timeout=4)
            return
        self.work(self._load_incidents, "listing the incidents", group="follow")

    def _load_incidents(self) -> None:
        from .forms import IncidentPicker

        rows, current = self._incident_rows()

        def chosen(v: dict[str, Any] | None) -> None:
            if v and v["incident"] != current:
                self.work(lambda: self.session.follow(v["incident"]), "following the incident",
                          group="follow")

        self.call_from_thread(self.push_screen, IncidentPicker(rows, current), chosen)

    def _list_incidents(self, picker: Any) -> None:
        """The open incident list, listed again (an incident was declared meanwhile)."""
        rows, _current = self._incident_rows()
        self.call_from_thread(picker.set_rows, rows)

    def _incident_rows(self) -> tuple[list[tuple[str, Text]], str | None]:
        now = self.session.clock.now()
        current = self._view().incident_id
        rows = []
        for choice in self.session.incidents():
            st = choice.state
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append("▶ " if choice.id == current else "  ", style="bold")
            t.append(f"{one_line(st.severity, 4)} ",
                     style="bold red" if st.severity in ("P0", "P1") else "bold")
            t.append(f"{one_line(st.status, 10):<10} ",
                     style="dim" if st.status in ("recovered", "closed") else "bold")
            t.append(time.strftime("%m-%d %H:%M ", time.gmtime(st.declared_at or now)),
                     style="dim")
            t.append(one_line(st.title, 80))
            rows.append((choice.id, t))
        return rows, current

    def action_status(self) -> None:
        from .forms import StatusForm

        inc = self._incident_or_say()
        if inc is None:
            return

        from cockpit.incident.store import is_reopen, skipped_states

        from .forms import ConfirmForm

        def done(v: dict[str, Any] | None) -> None:
            if not v:
                return
            new = v["status"]

            def go(ok: dict[str, Any] | None = None) -> None:
                if ok:
                    self.work(lambda: self.session.set_status(new), "changing the status")

            skipped = skipped_states(inc.status, new)
            if is_reopen(inc.status, new):
                self.push_screen(ConfirmForm(
                    "Reopen the incident?",
                    f"{inc.status} -> {new}: the incident is reopened (journaled); its "
                    "recovered/closed stamps no longer hold and its clocks run again.",
                    "Reopen"), go)
            elif skipped:
                self.push_screen(ConfirmForm(
                    "Skip lifecycle states?",
                    f"{inc.status} -> {new} skips {', '.join(skipped)}. The clocks stop as "
                    f"if it had passed through them.", f"Set {new}"), go)
            else:
                go({"confirmed": True})

        self.push_screen(StatusForm(inc.status), done)

    def action_edit_services(self) -> None:
        from .forms import ServicesForm

        inc = self._incident_or_say()
        if inc is None:
            return

        def done(v: dict[str, Any] | None) -> None:
            if v:
                self.work(lambda: self.session.update(services=v["services"]),
                          "changing the affected services")

        self.push_screen(ServicesForm([(s.id, s.title) for s in self.session.services],
                                      set(inc.services)), done)

    def action_note(self) -> None:
        from .forms import NoteForm

        if self._incident_or_say() is None:
            return

        def done(v: dict[str, Any] | None) -> None:
            if v:
                self.work(lambda: self.session.note(v["type"], v["text"]), "adding the note")

        self.push_screen(NoteForm(), done)

    def action_assign(self) -> None:
        from .forms import RoleForm

        inc = self._incident_or_say()
        if inc is None:
            return

        def done(v: dict[str, Any] | None) -> None:
            if v:
                self.work(lambda: self.session.assign(v["role"], v["person"]),
                          "assigning the role")

        self.push_screen(RoleForm(dict(inc.roles)), done)

    def action_update(self) -> None:
        from cockpit.incident.updates import draft_update

        from .forms import UpdateForm

        inc = self._incident_or_say()
        if inc is None:
            return
        view = self._view()
        draft = draft_update(inc, view.clocks, self._health(), view.entries, view.now,
                             self.session.milestones.update_every)

        def done(v: dict[str, Any] | None) -> None:
            if v:
                self.work(lambda: self.session.note("communication", v["text"]),
                          "saving the update")

        self.push_screen(UpdateForm(draft), done)

    # ------------------------------------------------------------ log search and filter
    def _log_view(self) -> LogView:
        assert self.main_screen is not None
        return self.main_screen.query_one(LogView)

    def action_search_log(self) -> None:
        from cockpit.incident.log import matches

        from .forms import SearchForm

        log = self._log_view()

        def done(v: dict[str, Any] | None) -> None:
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
        from cockpit.incident.log import matches

        from .forms import FilterForm

        log = self._log_view()
        authors = sorted({e.author for e in self._view().entries})

        def done(v: dict[str, Any] | None) -> None:
            if v is None:
                return
            kind, author = v["kind"], v["author"]
            if not kind and not author:
                log.set_filter(None, "")
                return
            kinds = frozenset([kind]) if kind else None
            desc = " · ".join(x for x in (kind, f"by {one_line(author, 20)}" if author else "")
                              if x)
            log.set_filter(lambda e: matches(e, kinds=kinds, author=author or None), desc)
            log.focus()

        self.push_screen(FilterForm(authors), done)

    def on_unmount(self) -> None:
        self.session.stop()

