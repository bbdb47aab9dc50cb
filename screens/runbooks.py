"""The runbook navigator: runbooks ranked by what is failing, their steps with state, and a
step view with the guidance and the exact command as it will run.

Everything goes through ``session.runbooks``; the library, the step states (file locks) and
every action run in worker threads and report back as messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from cockpit.runbooks import ParamError, Runbook, Step
from cockpit.runbooks.launch import confirmation_for
from cockpit.runbooks.state import StepState, can_rollback, state_of
from cockpit.runbooks.template import preview
from cockpit.session import Session, StepOutput, StepResult
from cockpit.session.protocol import RunbookLibrary
from cockpit.text import clean, one_line
from cockpit.timeutil import format_duration

from .keys import bindings
from .widgets import CockpitFooter

STATE_MARK = {
    "pending": ("·", "pending", "dim"),
    "running": ("▶", "running", "bold cyan"),
    "succeeded": ("✓", "ran ok", "green"),
    "failed": ("✗", "FAILED", "bold red"),
    "confirmed": ("✔", "done", "bold green"),
    "skipped": ("↷", "skipped", "yellow"),
    "rolled_back": ("↶", "rolled back", "magenta"),
    "in_doubt": ("?", "IN DOUBT", "bold yellow"),
}


GLYPH_LEGEND = (
    "Step marks: · pending   ▶ running   ✓ ran ok (confirm it: c)   ✔ done (confirmed)   "
    "✗ FAILED (retry with a reason: T)   ↷ skipped   ↶ rolled back   ? IN DOUBT (its result "
    "never arrived)   ! destructive (asks you to type a name)   ▶ before a pane title: the "
    "focused pane; the highlighted row is underlined.")


def reflow(text: str) -> str:
    """Join the hard-wrapped lines of a TOML paragraph; keep lists, indented code, blank lines."""
    out: list[str] = []
    for raw in text.strip().splitlines():
        line = raw.rstrip()
        keep = (not line or not out or not out[-1] or line[:1] in "-*•>$#|" or raw[:1] in " \t"
                or (line[:1].isdigit() and line.split(" ", 1)[0].rstrip(".)").isdigit()))
        if keep:
            out.append(line)
        else:
            out[-1] = out[-1] + " " + line.strip()
    return "\n".join(out)


def step_line(step: Step, state: str = "pending") -> Text:
    mark, word, style = STATE_MARK.get(state, STATE_MARK["pending"])
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{mark} ", style=style)
    if state in ("failed", "in_doubt", "succeeded"):  # ✓ and ✔ look alike (M8): words too
        t.append(f"{word} ", style=style)
    if step.destructive:
        t.append("!", style="bold red")
    t.append(one_line(step.title, 120))
    return t


class LibraryLoaded(Message):
    def __init__(self, library: RunbookLibrary) -> None:
        super().__init__()
        self.library = library


class StatesLoaded(Message):
    """Fresh step states of a runbook (and the output tail of the shown step)."""

    def __init__(self, runbook_id: str, states: dict[tuple[str, str], StepState],
                 output: StepOutput | None, step_id: str | None,
                 verify_output: StepOutput | None = None) -> None:
        super().__init__()
        self.runbook_id = runbook_id
        self.states = states
        self.output = output
        self.step_id = step_id
        self.verify_output = verify_output

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatesLoaded) and message.runbook_id == self.runbook_id


class StepDone(Message):
    def __init__(self, what: str, result: StepResult) -> None:
        super().__init__()
        self.what = what
        self.result = result


class RunbookScreen(Screen[None]):
    """Runbooks on the left (ranked by failing services), steps below, the step on the right."""

    BINDINGS = bindings("navigator")
    DEFAULT_CSS = """
    RunbookScreen { layout: vertical; }
    RunbookScreen #rb-head { height: 1; background: $panel; padding: 0 1; }
    RunbookScreen #rb-body { height: 1fr; }
    RunbookScreen #rb-left { width: 40%; min-width: 30; max-width: 72; }
    RunbookScreen OptionList { text-wrap: nowrap; text-overflow: ellipsis; }
    RunbookScreen #rb-list { height: auto; max-height: 9; border: round $panel-lighten-2; }
    RunbookScreen #rb-steps { height: 1fr; border: round $panel-lighten-2; }
    RunbookScreen #rb-step { width: 1fr; border: round $panel-lighten-2; padding: 0 1; }
    RunbookScreen #rb-list:focus, RunbookScreen #rb-steps:focus, RunbookScreen #rb-step:focus {
        border: round $accent;
    }
    """

    def __init__(self, session: Session, failing: set[str],
                 keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.session = session
        self.keymap = dict(keymap or {})
        self.failing = failing
        self.states: dict[tuple[str, str], StepState] = {}
        self.given: dict[str, dict[str, str]] = {}  # parameter values typed, per runbook
        self.library: RunbookLibrary | None = None
        self.ranked: list[Runbook] = []
        self.runbook: Runbook | None = None
        self.step: Step | None = None
        self.output: StepOutput | None = None
        self.verify_output: StepOutput | None = None

    STEP_ACTIONS = frozenset({"execute", "dry_run", "rollback", "verify", "confirm", "skip",
                              "mark_failed", "override", "retry"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only view (``capabilities.declare`` False) has no step actions: its
        session refuses them anyway."""
        return not (action in self.STEP_ACTIONS and not self.session.capabilities.declare)

    def compose(self) -> ComposeResult:
        yield Static(Text("Runbooks: loading the library…", style="bold"), id="rb-head")
        with Horizontal(id="rb-body"):
            with Vertical(id="rb-left"):
                runbooks = OptionList(id="rb-list")
                runbooks.border_title = "Runbooks (ranked)"
                yield runbooks
                steps = OptionList(id="rb-steps")
                steps.border_title = "Steps"
                yield steps
            view = VerticalScroll(Static(id="rb-step-text"), id="rb-step", can_focus=True)
            view.border_title = "Step"
            yield view
        yield CockpitFooter()

    def on_descendant_focus(self, event: object) -> None:
        self._mark_focus()

    def on_descendant_blur(self, event: object) -> None:
        self._mark_focus()

    def _mark_focus(self) -> None:
        """The focused pane says so in words too (M11: never by border colour alone)."""
        for wid in ("#rb-list", "#rb-steps", "#rb-step"):
            w = self.query_one(wid)
            title = w.border_title
            plain = (title.plain if isinstance(title, Text) else str(title or "")).removeprefix(
                "▶ ")
            want = f"▶ {plain}" if w.has_focus else plain
            if (title.plain if isinstance(title, Text) else str(title or "")) != want:
                w.border_title = Text(want)  # data (a runbook title): never markup

    def on_mount(self) -> None:
        self.query_one("#rb-list", OptionList).focus()
        self._load_library()
        self.set_interval(1.0, self.refresh_states, name="step-states")

    @work(thread=True, exclusive=True, group="rb-library", exit_on_error=False,
          description="loading the runbook library")
    def _load_library(self) -> None:
        self.post_message(LibraryLoaded(self.session.runbooks.library()))

    def on_library_loaded(self, message: LibraryLoaded) -> None:
        self.library = message.library
        self.ranked = self.library.library.rank(self.failing, self.library.links)
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append("Runbooks", style="bold")
        if self.failing:
            head.append("  failing now: ", style="dim")
            head.append(", ".join(sorted(self.failing)), style="bold red")
        problems = self.library.problems
        if problems:
            head.append(f"  {len(problems)} problem(s) in runbook files", style="bold yellow")
        self.query_one("#rb-head", Static).update(head)
        ol = self.query_one("#rb-list", OptionList)
        ol.clear_options()
        ol.add_options(self._runbook_options())
        if self.ranked:
            ol.highlighted = 0
            self._show_runbook(self.ranked[0])
        self.refresh_states()

    def _runbook_options(self) -> list[Option]:
        assert self.library is not None
        out = []
        for rb in self.ranked:
            covered = self.library.library.covered(rb, self.failing, self.library.links)
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append(f"{rb.priority} ", style="bold" if rb.priority == "P0" else "dim")
            t.append(one_line(rb.id, 20), style="bold red" if covered else "")
            if covered:
                t.append(f" ({', '.join(sorted(covered))})", style="red")
            out.append(Option(t, id=rb.id))
        for p in self.library.problems:
            out.append(Option(Text(one_line(p, 200), style="yellow"), disabled=True))
        return out

    def _show_runbook(self, rb: Runbook) -> None:
        self.runbook = rb
        self.output = None
        steps = self.query_one("#rb-steps", OptionList)
        steps.clear_options()
        current = None
        for st in rb.steps:
            scen = st.scenarios[0] if st.scenarios else ""
            if scen != current:
                current = scen
                title = rb.scenario(scen).title if scen else "All scenarios"
                steps.add_option(Option(Text(one_line(title, 80), style="bold underline"),
                                        disabled=True))
            steps.add_option(Option(step_line(st, self._state_word(rb.id, st.id)), id=st.id))
        steps.border_title = Text(f"Steps: {one_line(rb.title, 60)}")  # a Text: never markup
        self._mark_focus()
        first = next((i for i in range(steps.option_count)
                      if not steps.get_option_at_index(i).disabled), None)
        if first is not None:
            steps.highlighted = first
            step_id = steps.get_option_at_index(first).id
            assert step_id is not None
            self._show_step(rb.step(step_id))
        else:
            self.query_one("#rb-step-text", Static).update(
                Text(clean(rb.summary, keep_newlines=True)))
        self.refresh_states()

    def params(self, rb: Runbook) -> dict[str, Any]:
        return self.session.runbooks.param_values(rb, self.given.get(rb.id))

    def _state_word(self, rb_id: str, step_id: str) -> str:
        st = self.states.get((rb_id, step_id))
        return st.state if st is not None else "pending"

    def _show_step(self, step: Step) -> None:
        rb = self.runbook
        assert rb is not None
        if self.step is not step:
            self.output = None
            self.verify_output = None
        self.step = step
        t = Text()
        t.append(one_line(step.title, 200) + "\n", style="bold")
        flags = []
        if step.destructive:
            token = rb.confirmation_token(step, self.params(rb))
            flags.append((f"DESTRUCTIVE: type '{one_line(token or '', 40)}' to run",
                          "bold black on red"))
        if step.verify is not None:
            flags.append(("verify gate", "bold cyan"))
        if step.repeatable:
            flags.append(("repeatable: x runs it again", "cyan"))
        if step.rollback is not None:
            flags.append(("has rollback", "magenta"))
        if step.command is not None:
            flags.append((f"timeout {format_duration(step.timeout)}", "dim"))
        else:
            flags.append(("manual step", "dim"))
        for i, (word, style) in enumerate(flags):
            if i:
                t.append(" · ", style="dim")  # POLISH 9: flags never run together
            t.append(word, style=style)
        t.append("\n\n")
        st = self.states.get((rb.id, step.id))
        state = st.state if st is not None else "pending"
        mark, word, style = STATE_MARK.get(state, STATE_MARK["pending"])
        t.append(f"State: {mark} {word}", style=style)
        if st is not None:
            if st.attempt:
                t.append(f" · attempt {st.attempt}", style="dim")
            if st.who:
                t.append(f" · by {one_line(st.who, 20)}", style="dim")
            if st.exit_code is not None:
                t.append(f" · exit {st.exit_code}", style="dim")
            if st.state == "running" and st.started_ts is not None:  # MISSING 12
                elapsed = max(0.0, self.session.clock.now() - st.started_ts)
                t.append(f" · running for {format_duration(elapsed)}", style="bold cyan")
            if st.timed_out:
                t.append(" · TIMED OUT", style="bold red")
            if st.verify is not None:
                t.append(" · verify passed" if st.verify else " · verify FAILED",
                         style="green" if st.verify else "bold red")
            if st.overridden:
                t.append(f" · overridden: {one_line(st.overridden, 60)}", style="yellow")
            if st.reason:
                t.append(f" · reason: {one_line(st.reason, 80)}", style="yellow")
            if st.rollback:
                t.append(f" · rollback {st.rollback.replace('_', ' ')}", style="magenta")
        t.append("\n\n")
        t.append(reflow(clean(step.guidance or "", keep_newlines=True)) + "\n")
        params = self.params(rb)
        if step.command is not None:
            t.append("\nCommand as it will run:\n", style="bold")
            self._command_text(t, rb, step, step.command, params)
        if step.verify is not None:
            v = step.verify
            what = f"service {v.probe} is OK" if v.probe else "its command passes:"
            t.append(f"\nVerify before confirming: {what}\n", style="bold")
            if v.command is not None:
                self._command_text(t, rb, v, v.command, params)
            if st is not None and st.verify is not None and st.verify_detail:
                t.append(f"last verify: {one_line(st.verify_detail, 200)}\n",
                         style="green" if st.verify else "bold red")
        if step.rollback is not None:
            t.append(f"\nRollback: {one_line(step.rollback.title, 200)}\n", style="bold")
            if step.rollback.command is not None:
                self._command_text(t, rb, step.rollback, step.rollback.command, params)
        out = self.output
        if out is not None:
            t.append(f"\nOutput ({out.size:,} bytes; whole file: {one_line(out.path, 200)}",
                     style="bold")
            if out.sha256:
                t.append(f", sha256 {out.sha256[:12]}…", style="bold")
            t.append("):\n", style="bold")
            t.append("\n".join(out.tail.splitlines()[-60:]) + "\n")
        vout = self.verify_output
        if vout is not None:
            t.append(f"\nVerify output ({vout.size:,} bytes; whole file: "
                     f"{one_line(vout.path, 200)}):\n", style="bold")
            t.append("\n".join(vout.tail.splitlines()[-30:]) + "\n")
        self.query_one("#rb-step-text", Static).update(t)
        self.query_one("#rb-step").border_title = Text(f"Step {one_line(step.id, 40)}")
        self._mark_focus()

    def _command_text(self, t: Text, rb: Runbook, target: Any, spec: Any,
                      params: Mapping[str, Any]) -> None:
        """The command of a step, verify or rollback as it will run (or its template and
        what is still to be asked), appended to ``t``."""
        missing = [p.name for p in rb.missing_params(params, target)]
        if missing:
            secret = {p.name for p in rb.params if p.secret}
            known = {k: v for k, v in params.items() if k not in secret}
            shown = self.session.runbooks.redact(preview(spec, known))
            t.append(clean(shown, keep_newlines=True) + "\n", style="cyan")
            t.append("asked for when run: " + ", ".join(missing) + "\n", style="yellow")
            return
        try:
            rendered = rb.render(target, params)
        except ParamError as e:
            t.append(f"cannot render: {one_line(str(e), 200)}\n", style="red")
            return
        shown = self.session.runbooks.redact(rendered.describe())
        t.append(clean(shown, keep_newlines=True) + "\n", style="cyan")
        extra = [f"timeout {format_duration(rendered.timeout)}"]
        if rendered.cwd:
            extra.append(f"cwd {one_line(self.session.runbooks.redact(rendered.cwd), 80)}")
        if rendered.env_names:
            extra.append("environment: " + ", ".join(rendered.env_names))
        t.append("  ".join(extra) + "\n", style="dim")

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.disabled or event.option.id is None:
            return
        if event.option_list.id == "rb-list":
            rb = next((r for r in self.ranked if r.id == event.option.id), None)
            if rb is not None and rb is not self.runbook:
                self._show_runbook(rb)
        elif event.option_list.id == "rb-steps" and self.runbook is not None:
            step = next((st for st in self.runbook.steps if st.id == event.option.id), None)
            if step is not None:
                self._show_step(step)
                self.refresh_states()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "rb-list":
            self.query_one("#rb-steps", OptionList).focus()
        elif event.option_list.id == "rb-steps":
            self.query_one("#rb-step").focus()

    def action_move(self, delta: int) -> None:
        """j / k: what down / up do in the focused pane (POLISH 13)."""
        w = self.focused
        if isinstance(w, OptionList):
            (w.action_cursor_down if delta > 0 else w.action_cursor_up)()
        elif w is not None and w.id == "rb-step":
            (w.scroll_down if delta > 0 else w.scroll_up)()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_log_keys(self) -> None:
        """f / o: the log's filter and order on the main screen; never a step action here."""
        self.notify("f and o filter and order the log on the main screen (escape goes back). "
                    "Here: F marks the step failed, O overrides its verify (each asks a reason).",
                    timeout=8)

    def action_help(self) -> None:
        from .modals import HelpScreen

        self.app.push_screen(HelpScreen([("Runbook navigator", self.BINDINGS)], self.keymap,
                                        intro=GLYPH_LEGEND))

    # ------------------------------------------------------------------ live step states
    def refresh_states(self) -> None:
        if self.runbook is not None:
            self._load_states(self.runbook.id, self.step)

    @work(thread=True, exclusive=True, group="rb-states", exit_on_error=False,
          description="reading the step states")
    def _load_states(self, runbook_id: str, step: Step | None) -> None:
        states = self.session.runbooks.states(runbook_id)
        output = verify_output = None
        if step is not None:
            st = states.get((runbook_id, step.id))
            if st is not None:
                output = self.session.runbooks.output(st)
                if st.verify_output is not None:  # the verify's saved output (M7)
                    verify_output = self.session.runbooks.output(
                        replace(st, output=st.verify_output, run=""))
        self.post_message(StatesLoaded(runbook_id, states, output,
                                       step.id if step else None, verify_output))

    def on_states_loaded(self, message: StatesLoaded) -> None:
        rb = self.runbook
        if rb is None or message.runbook_id != rb.id:
            return
        changed = message.states != self.states
        self.states = message.states
        if changed:
            steps = self.query_one("#rb-steps", OptionList)
            for i in range(steps.option_count):
                opt = steps.get_option_at_index(i)
                if opt.id is not None and not opt.disabled:
                    steps.replace_option_prompt_at_index(
                        i, step_line(rb.step(opt.id), self._state_word(rb.id, opt.id)))
        running = (self.step is not None and self.states.get((rb.id, self.step.id)) is not None
                   and self.states[(rb.id, self.step.id)].state == "running")
        if self.step is not None and message.step_id == self.step.id:
            if (changed or running or message.output != self.output
                    or message.verify_output != self.verify_output):
                self.output = message.output
                self.verify_output = message.verify_output
                self._show_step(self.step)
        elif changed and self.step is not None:
            self._show_step(self.step)

    # ------------------------------------------------------------------ operator actions
    def _selected(self, *, need_command: bool = False) -> tuple[Runbook, Step, StepState] | None:
        rb, step = self.runbook, self.step
        if rb is None or step is None:
            return None
        if need_command and step.command is None:
            self.notify("A manual step: do it, then confirm it (c).", timeout=5)
            return None
        return rb, step, state_of(self.states, rb.id, step.id)

    def _run(self, what: str, fn: Callable[[], StepResult]) -> None:
        """Run a step action off the UI thread; its refusals and failures reach the app's
        one worker error handler, its result comes back as ``StepDone``."""

        def go() -> None:
            self.post_message(StepDone(what, fn()))

        self.app.run_worker(go, thread=True, group="steps", description=what,
                            exit_on_error=False)

    def on_step_done(self, message: StepDone) -> None:
        from .command import CommandForm, CommandShown

        r = message.result
        if r.dry_run is not None and message.what == "dry run":
            d = r.dry_run
            shown = CommandShown.of(d, self.session.runbooks.redact)
            self.app.push_screen(CommandForm(
                "Dry run: nothing was run",
                f"{one_line(d.runbook, 40)}/{one_line(d.step, 40)} would run exactly this "
                "(the dry run is journaled):", shown, view_only=True))
        elif r.warning:
            self.notify(r.message, severity="warning", timeout=10)
        elif r.dry_run is not None:  # a rehearsal: what a real incident would have run
            self.notify(f"{r.message}\n{r.dry_run.display()}", timeout=15)
        self.refresh_states()

    def _with_params(self, rb: Runbook, target: Any, then: Callable[[dict[str, Any]], None]
                     ) -> None:
        from .forms import ParamForm

        params = self.params(rb)
        missing = rb.missing_params(params, target)
        if not missing:
            then(params)
            return

        def done(v: dict[str, Any] | None) -> None:
            if v:
                self.given.setdefault(rb.id, {}).update(v)
                then(self.params(rb))

        self.app.push_screen(ParamForm(missing), done)

    def _show_command(self, title: str, intro: str, rb: Runbook, target: Any,
                      params: Mapping[str, Any], token: str | None,
                      then: Callable[[str | None], None], ok: str = "Run") -> None:
        """Show the exact command ``target`` (a step, its rollback or its verify) will run,
        then run it on enter (after the typed ``token`` of a destructive one)."""
        from .command import CommandForm, CommandShown

        try:
            rendered = rb.render(target, params)
        except ParamError as e:
            self.notify(f"Cannot render the command: {one_line(str(e), 200)}",
                        severity="error", timeout=8)
            return
        shown = CommandShown.of(rendered, self.session.runbooks.redact)

        def done(v: dict[str, Any] | None) -> None:
            if v is not None:
                then(v.get("text"))

        self.app.push_screen(CommandForm(title, intro, shown, expect=token, ok=ok), done)

    def _can_execute(self) -> bool:
        caps = self.session.capabilities
        if not caps.execute:
            self.notify(caps.why_not_execute or "Nothing can run here.", timeout=5)
        return caps.execute

    def action_execute(self) -> None:
        sel = self._selected(need_command=True)
        if sel is None or not self._can_execute():
            return
        rb, step, st = sel
        steps = self.session.runbooks
        asked = bool(rb.missing_params(self.params(rb), step))

        def go(params: dict[str, Any]) -> None:
            def run(token: str | None) -> None:
                self._run("execute", lambda: steps.execute(rb, step, params, token, st))

            token = confirmation_for(rb, step, params)
            if token:
                self._show_command(f"DESTRUCTIVE: {step.title}",
                                   "This step changes production. It runs exactly this:",
                                   rb, step, params, token, run)
            elif asked:  # the values were just typed: the command shown had placeholders
                self._show_command(f"Execute: {step.title}",
                                   "With the values you gave, it runs exactly this:",
                                   rb, step, params, None, run)
            else:  # the step view shows the exact command
                run(None)

        self._with_params(rb, step, go)

    def action_rollback(self) -> None:
        sel = self._selected()
        if sel is None or not self._can_execute():
            return
        rb, step, st = sel
        ok, why = can_rollback(st, step)
        if not ok:
            self.notify(why, severity="warning", timeout=6)
            return
        steps = self.session.runbooks
        back = step.rollback
        assert back is not None

        def go(params: dict[str, Any]) -> None:
            def run(token: str | None) -> None:
                self._run("roll back", lambda: steps.rollback(rb, step, params, token))

            if back.command is None:
                run(None)
                return
            token = confirmation_for(rb, back, params)
            intro = (("DESTRUCTIVE: the rollback changes production. " if token else "")
                     + f"Roll back ({one_line(back.title, 80)}): it runs exactly this:")
            self._show_command(f"Roll back: {step.title}", intro, rb, back, params, token, run,
                               ok="Roll back")

        self._with_params(rb, back, go)

    def action_verify(self) -> None:
        sel = self._selected()
        if sel is None or not self._can_execute():
            return
        rb, step, st = sel
        v = step.verify
        if v is None:
            self.notify("This step has no verify.", timeout=4)
            return
        steps = self.session.runbooks
        if v.probe:
            self._run("verify", lambda: steps.verify(rb, step, {}, st))
            return
        def go(params: dict[str, Any]) -> None:
            self._show_command(
                f"Verify: {step.title}", "The verify runs exactly this (its output is saved "
                "and shown in the step):", rb, v, params, None,
                lambda _token: self._run("verify", lambda: steps.verify(rb, step, params, st)),
                ok="Run verify")

        self._with_params(rb, v, go)

    def action_confirm(self) -> None:
        sel = self._selected()
        if sel is None or not self._can_execute():
            return
        rb, step, st = sel
        self._run("confirm", lambda: self.session.runbooks.confirm(rb, step, st))

    def _reasoned(self, title: str, label: str,
                  fn: Callable[[Step, StepState, str], StepResult],
                  allowed: tuple[str, ...] | None = None) -> None:
        from .forms import PromptForm

        sel = self._selected()
        if sel is None or not self._can_execute():
            return
        _rb, step, st = sel
        if allowed is not None and st.state not in allowed:  # POLISH 16: refuse first
            word = STATE_MARK.get(st.state, STATE_MARK["pending"])[1]
            self.notify(f"{title}: not possible, the step is {word}.", severity="warning",
                        timeout=6)
            return

        def done(v: dict[str, Any] | None) -> None:
            if v:
                self._run(title, lambda: fn(step, st, v["text"]))

        self.app.push_screen(PromptForm(f"{title}: {step.title}", label), done)

    def action_skip(self) -> None:
        self._reasoned("Skip", "Why is this step skipped? (journaled with your name)",
                       self.session.runbooks.skip)

    def action_mark_failed(self) -> None:
        self._reasoned("Mark failed", "What went wrong?", self.session.runbooks.mark_failed)

    def action_override(self) -> None:
        self._reasoned("Override the verify gate", "Why may this step be confirmed without a "
                       "passing verify? (journaled)", self.session.runbooks.override)

    def action_retry(self) -> None:
        self._reasoned("Retry", "Why run it again? (a step in doubt may have half-run)",
                       self.session.runbooks.retry,
                       allowed=("in_doubt", "failed", "rolled_back"))

    def action_dry_run(self) -> None:
        rb, step = self.runbook, self.step
        if rb is None or step is None or step.command is None:
            self.notify("Nothing to run in this step.", timeout=3)
            return
        self._with_params(rb, step, lambda params: self._run(
            "dry run", lambda: self.session.runbooks.dry_run(rb, step, params)))
