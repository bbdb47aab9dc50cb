"""The offline review: the same cockpit, read-only, over a ``ReviewSession``.

The title bar says REVIEW, the bundle's name and whether its signature was verified; a
scrubber line above the footer says where the cursor ``t`` is. The scrubber's keys (data in
``cockpit.keys``, scope ``review``) move ``t`` entry by entry, minute by minute, to a typed
time, or play the incident at a chosen speed; every pane is redrawn as of ``t``. Nothing can be
written or run: the write actions are not offered, and say so if called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen

from cockpit.session.review import READ_ONLY, ReviewError, ReviewSession
from cockpit.text import one_line

from .app import CockpitApp, MainScreen
from .keys import bindings
from .widgets import Cell, CockpitFooter, TitleBar

WRITE_ACTIONS = frozenset({"declare", "note", "status", "assign", "update", "edit_services",
                           "incidents", "retry_journal"})
SCRUB_ACTIONS = frozenset({"scrub_entry", "scrub_minutes", "scrub_end", "goto_time", "play",
                           "play_speed"})
PLAY_TICK = 0.25  # seconds between two frames while playing


class ReviewMainScreen(MainScreen):
    """The main screen with REVIEW in the title bar and the scrubber line."""

    DEFAULT_CSS = """
    ReviewMainScreen #scrubber { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        for w in super().compose():
            if isinstance(w, CockpitFooter):
                yield Cell(id="scrubber")
            yield w

    def on_mount(self) -> None:
        self.query_one(TitleBar).cells["name"].set(Text.assemble(
            (" REVIEW ", "bold black on cyan"), " │ "))
        # MainScreen.on_mount runs after this one (Textual calls each class's handler)

    def show(self, view: Any, simulated: bool) -> None:
        super().show(view, simulated)
        session = self.session
        if isinstance(session, ReviewSession):
            self.query_one("#scrubber", Cell).set(Text(session.cursor_text(), no_wrap=True,
                                                       overflow="ellipsis"))


class ReviewApp(CockpitApp):
    """The cockpit over a ``ReviewSession``: nothing ticks by itself (``t`` moves only with
    the scrubber), nothing is written."""

    BINDINGS = [*CockpitApp.BINDINGS, *bindings("review")]

    def __init__(self, session: ReviewSession, *, keymap: Mapping[str, str] | None = None
                 ) -> None:
        super().__init__(session, keymap=keymap, tick=0)
        self.review = session
        self.simulated = False  # the time shown is the cursor's, said by the scrubber line
        self._player: Any = None

    def get_default_screen(self) -> Screen[Any]:
        self.main_screen = ReviewMainScreen(self.session, self.refresh_view)
        return self.main_screen

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS:
            return False
        if action in SCRUB_ACTIONS and not self.review.loaded:
            return None  # shown, greyed: the record is being read
        return True

    def on_session_changed(self, message: Any) -> None:
        # CockpitApp's handler runs after this one (Textual calls each class's handler)
        self.refresh_bindings()  # loaded: the scrubber's keys work now

    def _moved(self) -> None:
        self.refresh_view()
        from .runbooks import RunbookScreen

        screen = self.screen if self.screen_stack else None
        if isinstance(screen, RunbookScreen):
            screen.refresh_states()

    # ------------------------------------------------------------ the scrubber
    def action_scrub_entry(self, delta: int) -> None:
        self.review.step_entry(delta)
        self._moved()

    def action_scrub_minutes(self, minutes: int) -> None:
        self.review.step_minutes(minutes)
        self._moved()

    def action_scrub_end(self, end: int) -> None:
        tl = self.review.timeline
        self.review.seek(tl.end if end else tl.start)
        self._moved()

    def action_goto_time(self) -> None:
        from .forms import PromptForm

        def done(v: dict[str, Any] | None) -> None:
            if not v:
                return
            try:
                self.review.seek_text(v["text"])
            except ReviewError as e:
                self.notify(str(e), severity="warning", timeout=6)
                return
            self._moved()

        self.push_screen(PromptForm("Go to a time", "A time: HH:MM[:SS] (UTC), "
                                    "YYYY-MM-DD HH:MM, or T+12m from the first entry.",
                                    placeholder="14:05"), done)

    def action_play(self) -> None:
        r = self.review
        if r.playing:
            r.playing = False
        else:
            if r.t >= r.timeline.end:
                r.seek(r.timeline.start)
            r.playing = True
            if self._player is None:
                self._player = self.set_interval(PLAY_TICK, self._play_tick, name="play")
        self._moved()

    def _play_tick(self) -> None:
        r = self.review
        if not r.playing:
            return
        r.advance(PLAY_TICK)
        self._moved()

    def action_play_speed(self, direction: int) -> None:
        speed = self.review.set_speed(direction > 0)
        self.notify(f"Playing speed {speed:g}x", timeout=2)
        self._moved()

    def action_help(self) -> None:
        from .modals import LEGEND, HelpScreen
        from .widgets import HealthPane, LogView

        if isinstance(self.screen, HelpScreen):
            return
        keep = {"help", "runbooks", "next-area", "quit", "focus-health", "focus-clocks",
                "focus-log"}
        anywhere = [b for b in [*CockpitApp.BINDINGS, *MainScreen.BINDINGS]
                    if getattr(b, "id", None) in keep]
        self.push_screen(HelpScreen([
            ("The timeline (cursor t)", bindings("review")),
            ("Anywhere", anywhere),
            ("Health", HealthPane.BINDINGS),
            ("Incident log", LogView.BINDINGS),
        ], self.keymap, intro=(
            "REVIEW: a recorded incident, read-only (nothing can be written or run). Every "
            "pane shows the incident as it was at the cursor t, said on the line above the "
            "keys."), legend=LEGEND))

    # ------------------------------------------------------------ nothing is written
    def _read_only(self) -> None:
        self.notify(READ_ONLY, severity="warning", timeout=5)

    def action_declare(self) -> None:
        self._read_only()

    def action_note(self) -> None:
        self._read_only()

    def action_status(self) -> None:
        self._read_only()

    def action_assign(self) -> None:
        self._read_only()

    def action_update(self) -> None:
        self._read_only()

    def action_edit_services(self) -> None:
        self._read_only()

    def action_incidents(self) -> None:
        self.notify(f"A review shows one incident: {one_line(self.review.incident_id, 80)}.",
                    timeout=4)

    def action_retry_journal(self) -> None:
        self._read_only()
