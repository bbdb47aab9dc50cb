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
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from cockpit.runbooks import ParamError, Runbook, Step, collect_library, substitute
from cockpit.sanitize import clean, one_line
from cockpit.timeutil import format_duration

from .widgets import CockpitFooter

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
        Binding("x", "execute", "Execute"),
        Binding("c", "confirm", "Confirm"),
        Binding("v", "verify", "Verify"),
        Binding("k", "skip", "Skip"),
        Binding("f", "mark_failed", "Failed", show=False),
        Binding("b", "rollback", "Roll back", show=False),
        Binding("o", "override", "Override", show=False),
        Binding("t", "retry", "Retry", show=False),
        Binding("p", "dry_run", "Dry run"),
        Binding("question_mark", "help", "Help", key_display="?"),
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
                 env: Any = None) -> None:
        super().__init__()
        self.dirs = dirs
        self.failing = failing
        self.config = config
        self.env = env
        self.states: dict[tuple[str, str], Any] = {}
        self.given: dict[str, dict[str, str]] = {}  # parameter values typed, per runbook
        self._states_key: object = None
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
        yield CockpitFooter()

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
            steps.add_option(Option(step_line(st, self._state_word(rb.id, st.id)), id=st.id))
        steps.border_title = Text(f"Steps: {one_line(rb.title, 60)}")  # a Text: never markup
        first = next((i for i in range(steps.option_count) if not steps.get_option_at_index(i).disabled), None)
        if first is not None:
            steps.highlighted = first
            self._show_step(rb.step(steps.get_option_at_index(first).id))
        else:
            self.query_one("#rb-step-text", Static).update(Text(clean(rb.summary, keep_newlines=True)))

    def params(self, rb: Runbook) -> dict[str, Any]:
        return rb.param_values(self.given.get(rb.id), self.config)

    def _state_word(self, rb_id: str, step_id: str) -> str:
        st = self.states.get((rb_id, step_id))
        return st.state if st is not None else "pending"

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
        st = self.states.get((rb.id, step.id))
        state = st.state if st is not None else "pending"
        mark, word, style = STATE_MARK.get(state, STATE_MARK["pending"])
        t.append(f"State: {mark} {word}", style=style)
        if st is not None:
            if st.attempt:
                t.append(f"  attempt {st.attempt}", style="dim")
            if st.who:
                t.append(f"  by {one_line(st.who, 20)}", style="dim")
            if st.exit_code is not None:
                t.append(f"  exit {st.exit_code}", style="dim")
            if st.timed_out:
                t.append("  TIMED OUT", style="bold red")
            if st.verify is not None:
                t.append("  verify passed" if st.verify else "  verify FAILED",
                         style="green" if st.verify else "bold red")
            if st.overridden:
                t.append(f"  overridden: {one_line(st.overridden, 60)}", style="yellow")
            if st.reason:
                t.append(f"  reason: {one_line(st.reason, 80)}", style="yellow")
            if st.rollback:
                t.append(f"  rollback {st.rollback.replace('_', ' ')}", style="magenta")
        t.append("\n\n")
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
        out = self._output_text(rb, step)
        if out is not None:
            t.append_text(out)
        self.query_one("#rb-step-text", Static).update(t)
        self.query_one("#rb-step").border_title = Text(f"Step {one_line(step.id, 40)}")

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

    def action_help(self) -> None:
        from .modals import NavigatorHelp

        self.app.push_screen(NavigatorHelp())

    # ------------------------------------------------------------------ live step states
    def on_show(self) -> None:
        self.refresh_states()
        if not hasattr(self, "_timer"):
            self._timer = self.set_interval(1.0, self.refresh_states)

    def _live(self) -> tuple[Any, str] | None:
        """(environment, incident id) when steps can really run here."""
        env = self.env
        iid = getattr(env, "incident_id", None)
        if env is None or not hasattr(env, "store") or iid is None:
            return None
        return env, iid

    def refresh_states(self) -> None:
        from cockpit.steps import step_states

        live = self._live()
        if live is None or self.runbook is None:
            return
        env, iid = live
        entries = env.entries()
        key = (iid, id(entries), len(entries), self.runbook.id)
        running = any(s.state == "running" for s in self.states.values())
        if key == self._states_key and not running:
            return
        self._states_key = key
        from cockpit.executor import alive_checker

        steps_only = [e for e in entries if e.kind.startswith("step.")]
        self.states = step_states(steps_only, self.runbook.id, alive=alive_checker(env.state_dir, iid))
        steps = self.query_one("#rb-steps", OptionList)
        for i in range(steps.option_count):
            opt = steps.get_option_at_index(i)
            if opt.id is not None and not opt.disabled:
                steps.replace_option_prompt_at_index(
                    i, step_line(self.runbook.step(opt.id), self._state_word(self.runbook.id, opt.id)))
        if self.step is not None:
            self._show_step(self.step)

    def _output_text(self, rb: Runbook, step: Step) -> Text | None:
        from cockpit.executor import display_tail, tail_bytes

        st = self.states.get((rb.id, step.id))
        live = self._live()
        if st is None or live is None:
            return None
        env, iid = live
        rel = st.output.path if st.output is not None else (f"outputs/{st.run}.out" if st.run else None)
        if not rel:
            return None
        path = env.state_dir / "incidents" / iid / rel
        data = tail_bytes(path, 16 * 1024)
        size = st.output.bytes if st.output is not None else (path.stat().st_size if path.exists() else 0)
        t = Text()
        t.append(f"\nOutput ({size:,} bytes; whole file: {rel}", style="bold")
        if st.output is not None:
            t.append(f", sha256 {st.output.sha256[:12]}…", style="bold")
        t.append("):\n", style="bold")
        lines = display_tail(data).splitlines()[-60:]
        t.append("\n".join(lines) + "\n")
        return t

    # ------------------------------------------------------------------ operator actions
    def _ready(self, *, need_command: bool = False) -> tuple[Any, str, Runbook, Step, Any] | None:
        from cockpit.steps import state_of

        rb, step = self.runbook, self.step
        if rb is None or step is None:
            return None
        live = self._live()
        if live is None:
            if self.env is not None and not hasattr(self.env, "store"):
                self.notify("The demo runs nothing: p shows the exact command (dry run).",
                            timeout=5)
            else:
                self.notify("Declare an incident first (escape, then d): every step is "
                            "recorded in it.", severity="warning", timeout=6)
            return None
        if need_command and step.command is None:
            self.notify("A manual step: do it, then confirm it (c).", timeout=5)
            return None
        env, iid = live
        return env, iid, rb, step, state_of(self.states, rb.id, step.id)

    def _journal_broken(self) -> str | None:
        return getattr(self.app, "write_error", None) or getattr(self.env, "journal_error", None)

    def _in_thread(self, what: str, fn) -> None:
        """Run ``fn`` (it journals: blocking) off the UI thread; report errors in one line."""
        from cockpit.runbooks import ParamError
        from cockpit.steps import StepError

        def work() -> None:
            try:
                result = fn()
            except (StepError, ParamError) as e:
                self.app.call_from_thread(self.notify, one_line(str(e), 300), severity="warning",
                                          timeout=8)
                return
            except OSError as e:
                self.app.call_from_thread(self.notify, f"{what}: {one_line(str(e), 200)}",
                                          severity="error", timeout=10)
                return
            except Exception as e:  # noqa: BLE001 - never silent: say what failed, in one line
                self.app.call_from_thread(self.notify, f"{what} failed: {type(e).__name__}: "
                                          f"{one_line(str(e), 200)}", severity="error", timeout=12)
                return
            self.app.call_from_thread(self._after, what, result)

        self.run_worker(work, thread=True, group="steps", exit_on_error=False)

    def _after(self, what: str, result: Any) -> None:
        from cockpit.executor import ClaimedBy, DryRun

        if isinstance(result, ClaimedBy):
            self.notify(f"Not started: {one_line(str(result), 200)}", severity="warning", timeout=10)
        elif isinstance(result, DryRun):
            self.notify(result.display(), title="Dry run: nothing was run", timeout=15)
        self._states_key = None
        poll = getattr(self.env, "poll", None)
        if poll is not None:
            poll()
        self.refresh_states()

    def _with_params(self, rb: Runbook, step: Any, then) -> None:
        from .forms import ParamForm

        params = self.params(rb)
        missing = rb.missing_params(params, step)
        if not missing:
            then(params)
            return

        def done(v) -> None:
            if v:
                self.given.setdefault(rb.id, {}).update(v)
                then(self.params(rb))

        self.app.push_screen(ParamForm(missing), done)

    def _with_token(self, rb: Runbook, step: Step, params: dict, target: Any, then) -> None:
        """Ask for the confirmation token of a destructive step or rollback (``target``)."""
        from cockpit.executor import confirmation_for

        from .forms import PromptForm

        token = confirmation_for(rb, target, params)
        if not token:
            then(None)
            return
        if self._journal_broken():
            self.notify("The journal cannot be written: destructive steps are refused until "
                        "it can.", severity="error", timeout=8)
            return
        def done(v) -> None:
            if v:
                then(v["text"])

        what = "the rollback of" if target is not step else ""
        self.app.push_screen(PromptForm(
            f"DESTRUCTIVE: {what} {step.title}".replace("  ", " "),
            f"This step changes production. Type '{token}' to run it exactly as shown.",
            expect=token, placeholder=token), done)

    def action_execute(self) -> None:
        from cockpit import executor

        ready = self._ready(need_command=True)
        if ready is None:
            return
        env, iid, rb, step, st = ready

        def go(params: dict) -> None:
            def launch(token: str | None) -> None:
                journal = env.store.journal(iid)
                self._in_thread("execute", lambda: executor.start(
                    env.state_dir, iid, rb, step, params, author=journal.author,
                    mode=env.store.mode, journal=journal, attempt=st.attempt + 1,
                    confirmation=token, state=st))

            self._with_token(rb, step, params, step, launch)

        self._with_params(rb, step, go)

    def action_rollback(self) -> None:
        from cockpit import executor
        from cockpit.steps import can_rollback

        ready = self._ready()
        if ready is None:
            return
        env, iid, rb, step, st = ready
        ok, why = can_rollback(st, step)
        if not ok:
            self.notify(why, severity="warning", timeout=6)
            return

        def go(params: dict) -> None:
            def launch(token: str | None) -> None:
                journal = env.store.journal(iid)
                self._in_thread("roll back", lambda: executor.start_rollback(
                    env.state_dir, iid, rb, step, params, author=journal.author,
                    mode=env.store.mode, journal=journal, confirmation=token))

            self._with_token(rb, step, params, step.rollback, launch)

        self._with_params(rb, step.rollback, go)

    def action_verify(self) -> None:
        from cockpit import executor
        from cockpit.health import Status
        from cockpit.steps import record_verify

        ready = self._ready()
        if ready is None:
            return
        env, iid, rb, step, st = ready
        v = step.verify
        if v is None:
            self.notify("This step has no verify.", timeout=4)
            return
        journal = env.store.journal(iid)
        if v.probe:
            h = {x.service: x for x in env.health()}.get(v.probe)
            passed = h is not None and h.status == Status.OK
            detail = (f"{v.probe} is {h.status.word}: {one_line(h.summary, 120)}" if h is not None
                      else f"no health for {v.probe}")
            self._in_thread("verify", lambda: record_verify(journal, st, passed, detail))
            return
        self._with_params(rb, v, lambda params: self._in_thread("verify", lambda: executor.run_verify(
            env.state_dir, iid, rb, step, params, author=journal.author, mode=env.store.mode,
            journal=journal)))

    def action_confirm(self) -> None:
        from cockpit import steps as S

        ready = self._ready()
        if ready is None:
            return
        env, iid, rb, step, st = ready
        ok, why = S.can_confirm(st, step)
        if not ok:
            self.notify(why, severity="warning", timeout=8)
            return
        journal = env.store.journal(iid)
        self._in_thread("confirm", lambda: S.confirm(journal, st, step))

    def _reasoned(self, title: str, label: str, fn) -> None:
        from .forms import PromptForm

        ready = self._ready()
        if ready is None:
            return
        env, iid, rb, step, st = ready
        journal = env.store.journal(iid)

        def done(v) -> None:
            if v:
                self._in_thread(title, lambda: fn(journal, st, v["text"]))

        self.app.push_screen(PromptForm(f"{title}: {step.title}", label), done)

    def action_skip(self) -> None:
        from cockpit import steps as S

        self._reasoned("Skip", "Why is this step skipped? (journaled with your name)", S.skip)

    def action_mark_failed(self) -> None:
        from cockpit import steps as S

        self._reasoned("Mark failed", "What went wrong?", S.mark_failed)

    def action_override(self) -> None:
        from cockpit import steps as S

        self._reasoned("Override the verify gate", "Why may this step be confirmed without a "
                       "passing verify? (journaled)", S.override)

    def action_retry(self) -> None:
        from cockpit import steps as S

        self._reasoned("Retry", "Why run it again? (a step in doubt may have half-run)", S.retry)

    def action_dry_run(self) -> None:
        rb, step = self.runbook, self.step
        if rb is None or step is None or step.command is None:
            self.notify("Nothing to run in this step.", timeout=3)
            return
        live = self._live()
        if live is not None:
            from cockpit import executor

            env, iid = live
            journal = env.store.journal(iid)
            self._with_params(rb, step, lambda params: self._in_thread(
                "dry run", lambda: executor.start(env.state_dir, iid, rb, step, params,
                                                  author=journal.author, mode=env.store.mode,
                                                  journal=journal, dry_run=True)))
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
        self.notify(msg, title="Dry run: nothing was run", timeout=15)

