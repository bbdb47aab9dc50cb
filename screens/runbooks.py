"""Runbook navigator (placeholder until the runbook library lands)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from .modals import CloseableModal


class RunbookScreen(CloseableModal):
    def __init__(self, dirs: tuple[Path, ...], failing: set[str]) -> None:
        super().__init__()
        self.dirs = dirs
        self.failing = failing

    def compose(self) -> ComposeResult:
        with VerticalScroll() as v:
            v.border_title = "Runbooks"
            yield Static(Text("The runbook library is not loaded yet."))
