"""What runs, shown before it runs: the exact argv (or shell script), where it runs (this
machine or a remote host over ssh), the working directory, the NAMES of the environment
variables it gets, and its timeout.

One view for every case (M7 of the ux review): the confirmation of a rollback, of a verify
command, of a destructive step (with the typed token), and the dry run (a view, not a
toast). It scrolls inside so it fits 80x24 whatever the length of the command.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Static

from cockpit.text import clean, one_line
from cockpit.timeutil import format_duration

from .forms import Form

WORK_DIR = "(the incident's work directory)"


@dataclass(frozen=True)
class CommandShown:
    """A command as the engineer reads it (every string already redacted)."""

    where: str  # "this machine" | "HOST (over ssh)"
    argv: tuple[str, ...]
    script: str | None
    cwd: str
    env_names: tuple[str, ...]
    timeout: float

    @classmethod
    def of(cls, cmd: Any, redact: Callable[[str], str] = lambda s: s) -> CommandShown:
        """From a ``RenderedCommand`` (before it runs) or a ``launch.DryRun``."""
        remote = getattr(cmd, "remote", None)
        return cls(
            where=f"{redact(remote)} (over ssh)" if remote else "this machine",
            # the exact argv, ssh wrapper included (a remote step's variables travel in it)
            argv=tuple(redact(a) for a in cmd.argv),
            script=redact(cmd.script) if getattr(cmd, "script", None) is not None else None,
            cwd=redact(cmd.cwd) if cmd.cwd else WORK_DIR,
            env_names=tuple(cmd.env_names),
            timeout=float(cmd.timeout),
        )

    def table(self) -> Table:
        t = Table.grid(padding=(0, 1))
        t.add_column(style="bold", no_wrap=True)
        t.add_column(overflow="fold")
        # the short facts first: a long command scrolls below them, they stay in view
        t.add_row("Runs on", Text(clean(self.where)))
        t.add_row("Directory", Text(clean(self.cwd)))
        if self.env_names:
            env = ", ".join(self.env_names) + " (names only)"
        elif self.where.endswith("(over ssh)"):
            env = "the remote login's, and any env NAME=value in the command below"
        else:
            env = "(the fixed base set only)"
        t.add_row("Environment", Text(env))
        t.add_row("Timeout", Text(format_duration(self.timeout)))
        if self.script is not None and not self.where.endswith("(over ssh)"):
            t.add_row("Shell", Text("/bin/sh -c, this script:"))
            t.add_row("", Text(clean(self.script.strip("\n"), keep_newlines=True),
                               style="bold"))
        else:
            t.add_row("Command", Text(clean(shlex.join(self.argv)), style="bold"))
        return t


class CommandForm(Form):
    """The command, then: type the token (destructive), press enter to run, or (a dry run)
    just read it. Dismissed with ``{"text": token}`` / ``{}`` to run, None to cancel."""

    DEFAULT_CSS = Form.DEFAULT_CSS + """
    CommandForm #cmd { height: auto; max-height: 12; border: round $panel-lighten-2; }
    CommandForm Horizontal.buttons { margin-top: 0; }
    CommandForm #cmd:focus { border: round $accent; }
    CommandForm #text { margin-bottom: 0; }
    """

    def __init__(self, title: str, intro: str, shown: CommandShown, *,
                 expect: str | None = None, ok: str = "Run", view_only: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.intro = intro
        self.shown = shown
        self.expect = expect
        self.ok = ok
        self.view_only = view_only
        if view_only:
            self.HINT = "enter / escape: close"
        elif expect:
            self.HINT = "type it, enter: run · escape: cancel, nothing runs"
        else:
            self.HINT = "enter: run · escape: cancel, nothing runs"

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = Text(one_line(self.title_text, 70))  # data: never markup
            yield Static(Text(self.intro, style="bold"), id="cmd-intro")
            with VerticalScroll(id="cmd"):  # focusable: a long command scrolls by keys
                yield Static(self.shown.table(), id="cmd-text")
            if self.expect:
                yield Static(Text(f"Type '{one_line(self.expect, 40)}' to run it exactly as "
                                  "shown:"), id="cmd-ask")
                yield Input(id="text")  # with its border: visible in any terminal
            if self.view_only:
                yield Static(classes="error")
                with Horizontal(classes="buttons"):
                    yield Button("Close", id="ok", variant="primary", compact=True)
            else:
                yield from self.buttons(self.ok)

    def focus_first(self) -> None:
        if self.expect:
            self.query_one("#text", Input).focus()
        else:
            self.query_one("#ok", Button).focus()

    # a button press reaches Form.on_button_pressed (Textual calls the handler of every
    # class of the MRO: an override here would dismiss twice): ok -> action_submit

    def values(self) -> dict | None:
        if self.view_only:
            return None
        if not self.expect:
            return {}
        text = self.query_one("#text", Input).value.strip()
        if not text:
            self.fail("Type it first. Nothing was run.")
            return None
        if text != self.expect:
            self.fail(f"That is not '{one_line(self.expect, 40)}'. Nothing was run.")
            return None
        return {"text": text}

    def action_submit(self) -> None:
        if self.view_only:
            self.dismiss(None)
            return
        super().action_submit()

    def shown_text(self) -> str:
        """The plain text of the command view (tests)."""
        from rich.console import Console

        console = Console(width=200, color_system=None, force_terminal=False)
        with console.capture() as cap:
            console.print(self.shown.table())
        return cap.get()
