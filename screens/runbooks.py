"""The runbook navigator: runbooks ranked by what is failing, their steps with state, and a
step view with the guidance and the exact command as it will run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from cockpit.runbooks import Library, ParamError, Runbook, Step, collect_library, substitute
from cockpit.sanitize import clean, one_line
from cockpit.timeutil import format_duration

STATE_MARK = {
    "pending": ("·", "pending", "dim"),
    "running": ("▶", "running", "bold cyan"),
    "succeeded": ("✓", "succeeded", "green"),
    "failed": ("✗", "FAILED", "bold red"),
    "confirmed": ("✔", "done", "bold green"),
    "skipped": ("↷", "skipped", "yellow"),
    "rolled_back": ("↶", "rolled back", "magenta"),
    "in_doubt": ("?", "IN DOUBT", "bold yellow"),
}


def template_text(step: Step) -> str:
    """The command with its ``{param}`` placeholders, for steps whose values are not known yet."""
    import shlex

    spec = step.command
    if spec is None:
        return ""
    marks = {n: f"<{n}>" for n in spec.placeholders()}
    if spec.shell is not None:
        body = substitute(spec.shell, marks)
    else:
        body = shlex.join(substitute(a, marks) for a in spec.argv or ())
    where = f"on {substitute(spec.remote, marks)} via ssh" if spec.remote else "on this machine"
    return f"{where}:\n{body}"


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
    if state in ("failed", "in_doubt"):
        t.append(f"{word} ", style=style)
    if step.destructive:
        t.append("!", style="bold red")
    t.append(one_line(step.title, 120))
    return t


class RunbookScreen(Screen):
    """Runbooks on the left (ranked by failing services), steps below, the step on the right."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("p", "dry_run", "Dry run"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
    ]
    DEFAULT_CSS = """
    RunbookScreen { layout: vertical; }
    RunbookScreen #rb-head { height: 1; background: $panel; padding: 0 1; }
    RunbookScreen #rb-body { height: 1fr; }
    RunbookScreen #rb-left { width: 40%; min-width: 30; max-width: 56; }
    RunbookScreen OptionList { text-wrap: nowrap; text-overflow: ellipsis; }
    RunbookScreen #rb-list { height: auto; max-height: 9; border: round $panel-lighten-2; }
    RunbookScreen #rb-steps { height: 1fr; border: round $panel-lighten-2; }
    RunbookScreen #rb-step { width: 1fr; border: round $panel-lighten-2; padding: 0 1; }
    RunbookScreen #rb-list:focus, RunbookScreen #rb-steps:focus, RunbookScreen #rb-step:focus {
        border: round $accent;
    }
    """

    def __init__(self, dirs: tuple[Path, ...], failing: set[str], config: Any = None,
                 states: dict[tuple[str, str], str] | None = None) -> None:
        super().__init__()
        self.dirs = dirs
        self.failing = failing
        self.config = config
        self.states = states or {}
        self.library, self.problems = collect_library(dirs)
        self.ranked: list[Runbook] = self.library.rank(failing)
        self.runbook: Runbook | None = self.ranked[0] if self.ranked else None
        self.step: Step | None = None

    def compose(self) -> ComposeResult:
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append("Runbooks", style="bold")
        if self.failing:
            head.append("  failing now: ", style="dim")
            head.append(", ".join(sorted(self.failing)), style="bold red")
        if self.problems:
            head.append(f"  {len(self.problems)} runbook file(s) with errors", style="bold yellow")
        yield Static(head, id="rb-head")
        with Horizontal(id="rb-body"):
            with Vertical(id="rb-left"):
                runbooks = OptionList(*self._runbook_options(), id="rb-list")
                runbooks.border_title = "Runbooks (ranked)"
                yield runbooks
                steps = OptionList(id="rb-steps")
                steps.border_title = "Steps"
                yield steps
            view = VerticalScroll(Static(id="rb-step-text"), id="rb-step", can_focus=True)
            view.border_title = "Step"
            yield view
        yield Footer()

    def _runbook_options(self) -> list[Option]:
        out = []
        for rb in self.ranked:
            covered = self.library.covered(rb, self.failing)
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append(f"{rb.priority} ", style="bold" if rb.priority == "P0" else "dim")
            t.append(one_line(rb.id, 20), style="bold red" if covered else "")
            if covered:
                t.append(f" ({', '.join(sorted(covered))})", style="red")
            out.append(Option(t, id=rb.id))
        for p in self.problems:
            out.append(Option(Text(one_line(p.one_line(), 200), style="yellow"), disabled=True))
        return out

    def on_mount(self) -> None:
        self.query_one("#rb-list", OptionList).focus()
        if self.runbook is not None:
            self.query_one("#rb-list", OptionList).highlighted = 0
            self._show_runbook(self.runbook)

    def _show_runbook(self, rb: Runbook) -> None:
        self.runbook = rb
        steps = self.query_one("#rb-steps", OptionList)
        steps.clear_options()
        current = None
        for st in rb.steps:
            scen = st.scenarios[0] if st.scenarios else ""
            if scen != current:
                current = scen
                title = rb.scenario(scen).title if scen else "All scenarios"
                steps.add_option(Option(Text(one_line(title, 80), style="bold underline"), disabled=True))
            steps.add_option(Option(step_line(st, self.states.get((rb.id, st.id), "pending")), id=st.id))
        steps.border_title = f"Steps: {one_line(rb.title, 60)}"
        first = next((i for i in range(steps.option_count) if not steps.get_option_at_index(i).disabled), None)
        if first is not None:
            steps.highlighted = first
            self._show_step(rb.step(steps.get_option_at_index(first).id))
        else:
            self.query_one("#rb-step-text", Static).update(Text(clean(rb.summary, keep_newlines=True)))

    def params(self, rb: Runbook) -> dict[str, Any]:
        return rb.param_values(None, self.config)

    def _show_step(self, step: Step) -> None:
        rb = self.runbook
        assert rb is not None
        self.step = step
        t = Text()
        t.append(one_line(step.title, 200) + "\n", style="bold")
        flags = []
        if step.destructive:
            token = rb.confirmation_token(step, self.params(rb))
            flags.append((f"DESTRUCTIVE: type '{one_line(token or '', 40)}' to run", "bold white on red"))
        if step.verify is not None:
            flags.append(("verify gate", "bold cyan"))
        if step.rollback is not None:
            flags.append(("has rollback", "magenta"))
        if step.command is not None:
            flags.append((f"timeout {format_duration(step.timeout)}", "dim"))
        else:
            flags.append(("manual step", "dim"))
        for i, (word, style) in enumerate(flags):
            if i:
                t.append("  ")
            t.append(word, style=style)
        t.append("\n\n")
        state = self.states.get((rb.id, step.id), "pending")
        mark, word, style = STATE_MARK.get(state, STATE_MARK["pending"])
        t.append(f"State: {mark} {word}\n\n", style=style)
        t.append(reflow(clean(step.guidance or "", keep_newlines=True)) + "\n")
        if step.command is not None:
            t.append("\nCommand as it will run:\n", style="bold")
            params = self.params(rb)
            missing = [p.name for p in rb.missing_params(params, step)]
            if missing:
                t.append(clean(template_text(step), keep_newlines=True) + "\n", style="cyan")
                t.append("asked for when run: " + ", ".join(missing) + "\n", style="yellow")
            else:
                try:
                    rendered = rb.render(step, params)
                    t.append(clean(rendered.describe(), keep_newlines=True) + "\n", style="cyan")
                    if rendered.env_names:
                        t.append("environment: " + ", ".join(rendered.env_names) + "\n", style="dim")
                except ParamError as e:
                    t.append(f"cannot render: {one_line(str(e), 200)}\n", style="red")
        if step.verify is not None:
            v = step.verify
            what = f"service {v.probe} is OK" if v.probe else "its command passes"
            t.append(f"\nVerify before confirming: {what}\n", style="cyan")
        if step.rollback is not None:
            t.append(f"\nRollback: {one_line(step.rollback.title, 200)}\n", style="magenta")
        self.query_one("#rb-step-text", Static).update(t)
        self.query_one("#rb-step").border_title = f"Step {one_line(step.id, 40)}"

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

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "rb-list":
            self.query_one("#rb-steps", OptionList).focus()
        elif event.option_list.id == "rb-steps":
            self.query_one("#rb-step").focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_dry_run(self) -> None:
        rb, step = self.runbook, self.step
        if rb is None or step is None or step.command is None:
            self.notify("Nothing to run in this step.", timeout=3)
            return
        params = self.params(rb)
        missing = [p.name for p in rb.missing_params(params, step)]
        if missing:
            self.notify(f"Parameters needed first: {', '.join(missing)}", severity="warning", timeout=6)
            return
        try:
            rendered = rb.render(step, params)
        except ParamError as e:
            self.notify(one_line(str(e), 200), severity="error", timeout=6)
            return
        msg = (f"argv: {rendered.display()}\ncwd: {rendered.cwd or '(current)'}\n"
               f"env: {', '.join(rendered.env_names) or '(base only)'}\n"
               f"timeout: {format_duration(rendered.timeout)}")
        self.notify(Text(clean(msg, keep_newlines=True)), title="Dry run: nothing was run", timeout=15)


def load(dirs: tuple[Path, ...]) -> Library:
    return collect_library(dirs)[0]
