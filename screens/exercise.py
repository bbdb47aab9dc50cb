"""The cockpit in a tabletop exercise: the same cockpit, marked EXERCISE everywhere (title
bar, pane borders, its own border colour), and for the facilitator an extra screen: the
exercise clock and its controls, the master scenario events list with each inject's
expected outcomes and how the players are doing, spare and typed injects, evaluator marks.

Everything comes from the session (``ExerciseSession``) and, for the facilitator, from the
``Facilitator`` controls given to the app; actions run in worker threads like every other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from cockpit.exercise.board import Board, BoardLine
from cockpit.exercise.schema import Inject
from cockpit.exercise.scoring import Decision
from cockpit.incident.model import ROLES
from cockpit.session.exercise import ExerciseSession, Facilitator
from cockpit.text import clean, one_line
from cockpit.timeutil import format_clock, format_duration

from .app import CockpitApp, MainScreen
from .forms import Form, PromptForm
from .keys import bindings
from .widgets import Cell, CockpitFooter, TitleBar

AUDIENCE = {"all": "all", "commander": "IC", "communications": "comms", "scribe": "scribe"}
STATE_STYLE = {"met": "bold green", "late": "bold yellow", "partly": "bold yellow",
               "missed": "bold black on red", "overdue": "bold red", "pending": "dim",
               "manual": "cyan", "not played": "dim"}
STATE_WORD = {"met": "met", "late": "LATE", "partly": "PARTLY", "missed": "MISSED",
              "overdue": "OVERDUE", "pending": "pending", "manual": "evaluator",
              "not played": "not fired"}
PLAYER_ACTIONS = frozenset({"declare", "note", "status", "assign", "update", "runbooks",
                            "edit_services", "incidents"})


class ExerciseMainScreen(MainScreen):
    """The main screen, marked as an exercise in the title bar and every pane border."""

    DEFAULT_CSS = """
    ExerciseMainScreen #health, ExerciseMainScreen #clocks, ExerciseMainScreen #log {
        border: round $warning;
    }
    ExerciseMainScreen #health:focus, ExerciseMainScreen #clocks:focus,
    ExerciseMainScreen #log:focus { border: double $warning; }
    """

    def __init__(self, session: Any, on_ready: Any) -> None:
        super().__init__(session, on_ready)
        self.TITLES = {k: f"EXERCISE · {v}" for k, v in MainScreen.TITLES.items()}

    def on_mount(self) -> None:
        self.query_one(TitleBar).cells["name"].set(Text.assemble(
            ("DR Cockpit │ ", "bold"), (" EXERCISE ", "bold black on yellow"), " │ "))
        # MainScreen.on_mount runs after this one (Textual calls each class's handler)


def effect_text(inj: Inject) -> str:
    e = inj.effect or {}
    if e.get("service"):
        word = {"ok": "OK", "warn": "WARN", "fail": "DOWN", "stale": "STALE",
                "unknown": "UNKNOWN"}.get(str(e.get("status")), "?")
        silent = " (stops answering)" if e.get("silent") else ""
        return f"{e['service']} {word}{silent}" + (f": {e['summary']}" if e.get("summary")
                                                    else "")
    if e.get("log"):
        return f"log: {e['log']}"
    return ""


def inject_line(b: BoardLine, next_at: float | None) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    if b.adhoc:
        t.append("✚ ", style="bold magenta")
    elif b.played:
        t.append("✓ ", style="green")
    elif next_at is not None and abs(b.at - next_at) < 1e-6:
        t.append("▶ ", style="bold cyan")
    else:
        t.append("· ", style="dim")
    t.append(f"T+{format_clock(b.at)} ", style="dim" if b.played else "bold")
    t.append(f"{AUDIENCE.get(b.inject.audience, one_line(b.inject.audience, 6)):<6} ",
             style="yellow" if b.inject.audience != "all" else "dim")
    body = b.inject.synopsis or effect_text(b.inject)
    t.append(one_line(body, 200), style="" if b.inject.synopsis else "dim")
    return t


def outcome_line(d: Decision, milestones: Any) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append("    ")
    t.append(f"{STATE_WORD.get(d.state, d.state):<9} ", style=STATE_STYLE.get(d.state, ""))
    if d.mark is not None:
        t.append(f"eval {d.mark.mark:<6} ", style=STATE_STYLE.get(d.mark.mark, "bold"))
    t.append(one_line(d.outcome.describe(milestones), 200))
    return t


class FacilitatorScreen(Screen[None]):
    """The facilitator's board (see the module docstring)."""

    BINDINGS = bindings("facilitator")
    DEFAULT_CSS = """
    FacilitatorScreen { layout: vertical; }
    FacilitatorScreen #fx-head { height: 2; background: $panel; padding: 0 1; }
    FacilitatorScreen #fx-msel { height: 1fr; border: round $warning; }
    FacilitatorScreen #fx-msel:focus { border: double $warning; }
    FacilitatorScreen OptionList { text-wrap: nowrap; text-overflow: ellipsis; }
    FacilitatorScreen #fx-detail { height: 4; border: round $panel-lighten-2; padding: 0 1; }
    """

    def __init__(self, controls: Facilitator, keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.controls = controls
        self.keymap = dict(keymap or {})
        self.board: Board | None = None
        self._keys: list[tuple[str | None, str]] = []

    def compose(self) -> ComposeResult:
        yield Cell(id="fx-head")
        msel = OptionList(id="fx-msel")
        msel.border_title = "EXERCISE · master scenario events list: injects and expected outcomes"
        yield msel
        detail = Cell(id="fx-detail")
        detail.border_title = "Selected"
        yield detail
        yield CockpitFooter()

    def on_mount(self) -> None:
        self.query_one("#fx-msel", OptionList).focus()
        self.show()

    # ------------------------------------------------------------------ drawing
    def show(self) -> None:
        board = self.controls.board()
        self.board = board
        ms = self.controls.session.milestones
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(" EXERCISE ", style="bold black on yellow")
        head.append(f" T+{format_clock(board.offset)}/{format_clock(board.length)} ",
                    style="bold")
        state = board.state_word
        head.append(f" {state} ", style="bold black on green" if state == "RUNNING" else
                    "bold black on yellow")
        head.append(f" {board.speed:g}x ", style="bold")
        if board.next_at is not None and not board.ended:
            head.append(f" next T+{format_clock(board.next_at)}", style="cyan")
        pct = board.score.percent
        head.append(f"  score {'-' if pct is None else f'{pct:g} %'}"
                    f" of {len(board.score.scored)}")
        head.append("\n")
        head.append(one_line(board.title, 60), style="bold")
        players = self.controls.session.timeline().roster()
        head.append(f"  players: {one_line(', '.join(players), 60) if players else 'none yet'}",
                    style="dim")
        self.query_one("#fx-head", Cell).set(head)
        options: list[tuple[str | None, Text]] = [
            (None, Text("Timeline (✓ played, ▶ next, ✚ ad-hoc)", style="bold underline"))]
        for b in board.lines:
            if not b.at and not b.inject.synopsis and not b.decisions:
                continue  # the steady state at T+0: the health panes show it
            prefix = "a" if b.adhoc else "i"
            options.append((f"{prefix}:{b.inject.id}", inject_line(b, board.next_at)))
            for d in b.decisions:
                options.append((f"o:{d.outcome.id}", outcome_line(d, ms)))
        options.append((None, Text("Spare injects (g fires one)", style="bold underline")))

        by_outcome = {d.outcome.id: d for d in board.score.decisions}
        for s, fired in board.spares:
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append("◆ " if fired else "◇ ", style="magenta")
            t.append("fired " if fired else "ready ", style="dim" if fired else "bold")
            t.append(one_line(s.synopsis or effect_text(s) or s.id, 200))
            options.append((f"s:{s.id}", t))
            if not fired:
                for o in s.outcomes:
                    if o.id in by_outcome:
                        options.append((f"o:{o.id}", outcome_line(by_outcome[o.id], ms)))
        keys = [(k, t.markup) for k, t in options]
        ol = self.query_one("#fx-msel", OptionList)
        if keys != self._keys:
            self._keys = keys
            current = self.selected_id()
            ol.clear_options()
            ol.add_options([Option(t, id=k, disabled=k is None) for k, t in options])
            ids = [k for k, _ in options]
            if current is not None and current in ids:
                ol.highlighted = ids.index(current)
            else:  # at first: the next inject (what the facilitator is about to play)
                nxt = next((f"i:{b.inject.id}" for b in board.lines
                            if board.next_at is not None and abs(b.at - board.next_at) < 1e-6),
                           None)
                first = ids.index(nxt) if nxt in ids else next(
                    (i for i, k in enumerate(ids) if k is not None), None)
                if first is not None:
                    ol.highlighted = first
                    self.call_after_refresh(ol.scroll_to_highlight, top=True)
        self.show_detail()

    def selected_id(self) -> str | None:
        ol = self.query_one("#fx-msel", OptionList)
        if ol.highlighted is None or ol.highlighted >= ol.option_count:
            return None
        return ol.get_option_at_index(ol.highlighted).id

    def show_detail(self) -> None:
        board = self.board
        sel = self.selected_id()
        t = Text()
        if board is not None and sel is not None:
            kind, _, ident = sel.partition(":")
            ms = self.controls.session.milestones
            if kind == "o":
                d = next((x for x in board.score.decisions if x.outcome.id == ident), None)
                if d is not None:
                    t.append(one_line(d.outcome.describe(ms), 300), style="bold")
                    t.append("\n")
                    dl = "-" if d.deadline is None else f"T+{format_clock(d.deadline)}"
                    t.append(f"deadline {dl} · journal: {STATE_WORD.get(d.state, d.state)}")
                    if d.late_by is not None:
                        t.append(f" by {format_duration(d.late_by)}")
                    if d.evidence:
                        t.append(f" ({one_line(d.evidence, 120)})", style="dim")
                    t.append("\n")
                    if d.mark is not None:
                        t.append(f"evaluator ({one_line(d.mark.author, 20)}): {d.mark.mark}: "
                                 f"{one_line(d.mark.comment, 200)}", style="cyan")
                    else:
                        t.append("m: mark it met, partly or missed, with a comment", style="dim")
            else:
                inj = self.controls.session.scenario.inject(ident) or next(
                    (b.inject for b in board.lines if b.inject.id == ident), None)
                if inj is not None:
                    t.append(clean(inj.synopsis or effect_text(inj) or inj.id, limit=400))
                    t.append("\n")
                    t.append(f"for {one_line(inj.audience, 20)}", style="dim")
                    eff = effect_text(inj) if inj.synopsis else ""
                    if eff:
                        t.append(f" · effect: {one_line(eff, 160)}", style="dim")
                    if kind == "s":
                        t.append("\ng fires it now", style="dim")
        self.query_one("#fx-detail", Cell).set(t)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_detail()

    # ------------------------------------------------------------------ actions
    def _do(self, what: str, fn: Any) -> None:
        app = self.app

        def go() -> None:
            msg = fn()
            app.call_from_thread(app.notify, msg, timeout=3)

        assert isinstance(app, CockpitApp)
        app.work(go, what)

    def action_toggle_clock(self) -> None:
        self._do("the exercise clock", self.controls.toggle)

    def action_speed(self, direction: int) -> None:
        self._do("the clock speed", lambda: self.controls.step_speed(direction > 0))

    def action_jump(self) -> None:
        self._do("jumping to the next inject", self.controls.jump_next)

    def action_inject(self) -> None:
        board = self.board or self.controls.board()
        ready = [s for s, fired in board.spares if not fired]
        sel = self.selected_id() or ""
        chosen = sel[2:] if sel.startswith("s:") else None

        def done(v: dict[str, Any] | None) -> None:
            if not v:
                return
            if v.get("spare"):
                self._do("firing the inject", lambda: self.controls.fire_spare(v["spare"]))
            else:
                self._do("firing the inject", lambda: self.controls.fire_text(
                    v["text"], v["audience"]))

        self.app.push_screen(InjectForm(ready, chosen), done)

    def action_mark(self) -> None:
        sel = self.selected_id() or ""
        if not sel.startswith("o:"):
            self.notify("Select an expected outcome (the indented lines) to mark it.",
                        timeout=4)
            return
        outcome = sel[2:]
        o = next((x for x in self.controls.session.scenario.outcomes if x.id == outcome), None)
        if o is None:
            return

        def done(v: dict[str, Any] | None) -> None:
            if v:
                self._do("the evaluator's mark", lambda: self.controls.mark(
                    outcome, v["mark"], v["comment"]))

        self.app.push_screen(MarkForm(o.describe(self.controls.session.milestones)), done)

    def action_end(self) -> None:
        def done(v: dict[str, Any] | None) -> None:
            if v:
                self._do("ending the exercise", lambda: self.controls.end(v["text"]))

        self.app.push_screen(PromptForm(
            "End the exercise", "Closing remark (the hot wash): the clock stops for good, "
            "the report can be written (cockpit exercise report)."), done)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_help(self) -> None:
        from .modals import HelpScreen

        self.app.push_screen(HelpScreen([("Facilitator", self.BINDINGS)], self.keymap, intro=(
            "The facilitator's screen: the exercise clock (journaled: every player's cockpit "
            "follows it within a second), the injects and what each expects, ad-hoc injects "
            "and the evaluator's marks.")))


class InjectForm(Form):
    """An ad-hoc inject: a spare of the scenario, or one typed now (with its audience)."""

    def __init__(self, spares: list[Inject], chosen: str | None) -> None:
        super().__init__()
        self.spares = spares
        self.chosen = chosen if chosen in {s.id for s in spares} else None

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Fire an inject (every player's cockpit shows it within a second)"
            yield Label("Spare inject of the scenario (or: type one below)")
            opts = [(Text("type one", style="italic"), "")] + [
                (Text(one_line(s.synopsis or effect_text(s) or s.id, 70)), s.id)
                for s in self.spares]
            yield Select(opts, value=self.chosen or "", allow_blank=False, id="spare",
                         compact=True)
            yield Label("Typed inject: what the players are told")
            yield Input(placeholder="e.g. the CFO calls the commander", id="text", compact=True)
            yield Label("For")
            yield Select([(a, a) for a in ("all", *ROLES)], value="all", allow_blank=False,
                         id="audience", compact=True)
            yield from self.buttons("Fire")

    def focus_first(self) -> None:
        self.query_one("#spare" if self.chosen else "#text").focus()

    def values(self) -> dict | None:
        spare = self.query_one("#spare", Select).value
        text = self.query_one("#text", Input).value.strip()
        if spare:
            return {"spare": spare}
        if not text:
            self.fail("Choose a spare inject or type one.")
            return None
        return {"text": text, "audience": self.query_one("#audience", Select).value}


class MarkForm(Form):
    """The evaluator's mark of one expected outcome."""

    def __init__(self, outcome: str) -> None:
        super().__init__()
        self.outcome = outcome

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Evaluator's mark"
            yield Static(Text(one_line(self.outcome, 200), style="bold"))
            yield Select([("met", "met"), ("partly", "partly"), ("missed", "missed")],
                         value="met", allow_blank=False, id="mark", compact=True)
            yield Input(placeholder="comment: what was seen", id="comment", compact=True)
            yield from self.buttons("Mark")

    def focus_first(self) -> None:
        self.query_one("#mark", Select).focus()

    def values(self) -> dict | None:
        return {"mark": self.query_one("#mark", Select).value,
                "comment": self.query_one("#comment", Input).value.strip()}


class ExerciseApp(CockpitApp):
    """The cockpit over an ``ExerciseSession``; ``facilitator``: the facilitator's controls
    (their screen opens first; ``t`` returns to it)."""

    BINDINGS = [*CockpitApp.BINDINGS, *bindings("exercise")]

    def __init__(self, session: ExerciseSession, *, facilitator: Facilitator | None = None,
                 keymap: Mapping[str, str] | None = None, tick: float = 1.0) -> None:
        super().__init__(session, keymap=keymap, tick=tick)
        self.facilitator = facilitator

    def get_default_screen(self) -> Screen[Any]:
        self.main_screen = ExerciseMainScreen(self.session, self.refresh_view)
        return self.main_screen

    def on_mount(self) -> None:
        # (Textual calls CockpitApp.on_mount after this one by itself: calling it here too
        # started the session twice, two followers and two joins)
        if self.facilitator is not None:
            self.push_screen(FacilitatorScreen(self.facilitator, self.keymap))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not super().check_action(action, parameters):
            return False  # a read-only view
        if action == "facilitator":
            return self.facilitator is not None and not isinstance(self.screen,
                                                                   FacilitatorScreen)
        # on the facilitator's screen the facilitator steers; players act (escape: the cockpit)
        return not (action in PLAYER_ACTIONS and isinstance(self.screen, FacilitatorScreen))

    def action_facilitator(self) -> None:
        if self.facilitator is not None and not isinstance(self.screen, FacilitatorScreen):
            self.push_screen(FacilitatorScreen(self.facilitator, self.keymap))

    def action_incidents(self) -> None:
        self.notify("An exercise has one incident, its own: real incidents are never shown "
                    "in an exercise.", timeout=5)

    def refresh_view(self) -> None:
        super().refresh_view()
        if not self.is_running or self.return_code is not None or not self.screen_stack:
            return  # a late callback at exit: no screen to show it on
        screen = self.screen
        if isinstance(screen, FacilitatorScreen):
            screen.show()
