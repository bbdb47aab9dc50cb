"""The drills view: the plan's DR testing schedule, each drill's last run, result and next
due, overdue in words and in red; the drills' metrics below (data: ``Session.drills()``)."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.drills.board import DrillBoard
from cockpit.drills.schedule import DAY, DrillStatus, cadence_words
from cockpit.text import one_line

from .modals import CloseableModal

STATE_STYLE = {"OK": "bold green", "FAILED": "bold yellow", "OVERDUE": "bold black on #ff8787",
               "OFF": "dim"}
RESULT_STYLE = {"passed": "green", "failed": "bold yellow", "never run": "bold red"}


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.0f}%"


def _row(s: DrillStatus, narrow: bool) -> list[Text]:
    last = s.last.finished_at if s.last and s.last.finished_at is not None else (
        s.last.started_at if s.last else None)
    return [
        Text(f"{s.state:<7}", style=STATE_STYLE.get(s.state, "")),
        Text(one_line(s.kind.id if narrow else s.kind.title, 80), overflow="ellipsis",
             no_wrap=True),
        Text(cadence_words(s.kind.cadence), no_wrap=True),
        Text(time.strftime("%m-%d %H:%M", time.gmtime(last)) if last else "-",
             no_wrap=True, style="dim" if last is None else ""),
        Text(s.result, style=RESULT_STYLE.get(s.result, ""), no_wrap=True),
        Text(s.due_words(), no_wrap=True,
             style="bold red" if s.overdue else "dim" if not s.kind.enabled else ""),
    ]


class DrillsScreen(CloseableModal):
    DEFAULT_CSS = """
    DrillsScreen > VerticalScroll { width: 98%; max-width: 110; }
    """

    def __init__(self, board: DrillBoard) -> None:
        super().__init__()
        self.board = board

    def compose(self) -> ComposeResult:
        b = self.board
        narrow = self.app.size.width < 110  # the drill's id instead of its title
        t = Table(box=None, padding=(0, 1, 0, 0), expand=True, show_edge=False, pad_edge=False)
        t.add_column("STATE", no_wrap=True, width=7)
        t.add_column("DRILL", ratio=1, no_wrap=True, overflow="ellipsis", min_width=13)
        t.add_column("CADENCE", no_wrap=True)
        t.add_column("LAST (UTC)", no_wrap=True)
        t.add_column("RESULT", no_wrap=True)
        t.add_column("NEXT", no_wrap=True)
        for s in b.rows:
            t.add_row(*_row(s, narrow))
        m = b.metrics
        foot = Text()
        foot.append("Backup success rate ", style="bold")
        foot.append(_pct(m.backup_success_rate),
                    style="bold green" if m.backup_success_rate == 1 else "bold red")
        foot.append(f"  {m.backup_passed} of {m.backup_runs} backup drills passed"
                    f" in the last {m.window / DAY:.0f} days (target 100%)\n")
        foot.append("Completion on schedule ", style="bold")
        foot.append(_pct(m.completion_on_schedule),
                    style="bold green" if m.completion_on_schedule == 1 else "bold red")
        foot.append(f"  {m.periods_done} of {m.periods} periods (target 100%)\n")
        if b.overdue:
            foot.append(f"OVERDUE: {', '.join(one_line(o, 30) for o in b.overdue)}\n",
                        style="bold red")
        foot.append("Run the restore drill: cockpit drills run restore; record one done by "
                    "hand: cockpit drills record KIND --outcome passed", style="dim")
        if b.note:
            foot.append(f"\n{one_line(b.note, 200)}", style="italic dim")
        with VerticalScroll() as v:
            v.border_title = "Drills: the DR testing schedule"
            yield Static(t, id="drills-table")
            yield Static(foot, id="drills-metrics")
