"""Modal screens: help and the per-service detail view."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cockpit.health import ServiceHealth
from cockpit.incident.clocks import CLOCK_LEGEND
from cockpit.incident.log import describe
from cockpit.text import clean, one_line
from cockpit.timeutil import format_duration

from .keys import bindings, help_rows
from .widgets import STATUS_STYLE


class CloseableModal(ModalScreen[None]):
    BINDINGS = bindings("view")
    DEFAULT_CSS = """
    CloseableModal { align: center middle; }
    CloseableModal > VerticalScroll {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def action_close(self) -> None:
        self.dismiss(None)


STATUS_LEGEND = (
    ("OK", "the service answers and its checks pass"),
    ("WARN", "answers, but something is wrong (RPO at risk, slow, a failure not yet confirmed)"),
    ("DOWN", "confirmed failing (the log and `cockpit log` say DOWN too; JSON: \"fail\")"),
    ("STALE", "the last answer is too old to be trusted"),
    ("UNKNOWN", "no answer yet, or the probe itself is misconfigured"),
)
CLOCK_WORDS = (
    ("ok · AMBER · RED", "a running clock has used < 50 % · >= 50 % · >= 90 % of its target"),
    ("BREACHED", "running, past its target"),
    ("met · MISSED", "stopped within · after its target"),
    ("NOT MET", "stopped by the end of the incident without its own event"),
)
# the main screen's and the review's legend (M8): what the words and clock values mean
LEGEND = (
    ("Health words", STATUS_LEGEND),
    ("Clock values", CLOCK_LEGEND),
    ("Clock words", CLOCK_WORDS),
)


class HelpScreen(CloseableModal):
    """The keys of where the engineer is, built from the bindings themselves (with the
    user's keymap applied), so help never drifts from what the keys do."""

    BINDINGS = bindings("help")

    def __init__(self, groups: Sequence[tuple[str, Sequence[BindingType]]],
                 keymap: Mapping[str, str] | None = None, intro: str = "",
                 legend: Sequence[tuple[str, Sequence[tuple[str, str]]]] = ()) -> None:
        super().__init__()
        self.groups = groups
        self.legend = legend  # (section, [(what is shown, what it means)]) after the keys
        self.keymap = dict(keymap or {})
        self.intro = intro
        self.sections = help_rows(self.groups, self.keymap)

    def help_table_rows(self) -> list[tuple[str, str]]:
        """Every (keys, what) row shown, each key on its own (``up / k`` gives two rows)."""
        return [(k.strip(), what) for _s, rows in self.sections for keys, what in rows
                for k in keys.split(" / ")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for section, rows in self.sections:
            table.add_row(Text(section, style="bold underline"), "")
            for key, what in rows:
                table.add_row(Text(key), Text(what))
        for heading, legend in self.legend:
            table.add_row(Text(heading, style="bold underline"), "")
            for shown, meaning in legend:
                table.add_row(Text(shown), Text(meaning))
        with VerticalScroll() as v:
            v.border_title = "Help"
            if self.intro:
                yield Static(Text(self.intro + "\n"))
            yield Static(table)


def metric_text(key: str, value: object) -> str:
    """A probe figure in words (POLISH 7: never a raw repr): yes/no, none, durations and
    sizes with their units."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        k = key.lower()
        if k.endswith(("_bytes", "bytes")) or k in ("size", "used_memory"):
            n = float(value)
            for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
                if abs(n) < 1024 or unit == "TiB":
                    return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
                n /= 1024
        if (k.endswith(("age", "lag", "uptime", "_seconds", "_s", "delay", "exposure"))
                or k in ("age", "lag", "uptime")):
            return format_duration(float(value)) if value >= 1 else f"{float(value):.1f} s"
        if isinstance(value, float):
            return f"{value:.3g}"
    return one_line(value, 200)


class ServiceDetailScreen(CloseableModal):
    """One service in full. Live (M13): redrawn every second from the app's latest view, so
    "last answer" and "observed" never freeze at the moment it was opened."""

    def __init__(self, health: ServiceHealth, now: float) -> None:
        super().__init__()
        self.health = health
        self.now = now

    def compose(self) -> ComposeResult:
        with VerticalScroll() as v:
            v.border_title = Text(f"Service: {one_line(self.health.service, 40)}")  # never markup
            yield Static(self._head(), id="detail-head")
            yield Static(self._probes(), id="detail-probes")

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh_live, name="detail-live")

    def refresh_live(self) -> None:
        view = getattr(self.app, "view_state", None)
        if view is None:
            return
        h = next((x for x in view.health if x.service == self.health.service), None)
        if h is None:
            return
        self.health, self.now = h, view.now
        self.query_one("#detail-head", Static).update(self._head())
        self.query_one("#detail-probes", Static).update(self._probes())

    def _head(self) -> Text:
        h = self.health
        head = Text()
        head.append(f" {h.status.word} ", style=STATUS_STYLE[h.status])
        head.append(f" {one_line(h.title, 60)}", style="bold")
        head.append(f"  last answer {h.age_text(self.now)}", style="dim")
        if h.down_since is not None:
            head.append(f"  down since {time.strftime('%H:%M:%S UTC', time.gmtime(h.down_since))}",
                        style="bold red")
        head.append("\n")
        head.append(clean(h.summary, keep_newlines=True, limit=2000))
        if h.rpo_exposure is not None:
            head.append(f"\nRPO exposure: {format_duration(h.rpo_exposure)} of data at risk")
        return head

    def _probes(self) -> Table:
        h = self.health
        out = Table.grid()
        out.add_column()
        for name, r in sorted(h.probes.items()):
            t = Table(title=Text(f"probe {one_line(name, 40)}", style="bold"), title_justify="left",
                      show_header=False, box=None, padding=(0, 1))
            t.add_column(style="cyan", no_wrap=True)
            t.add_column()
            t.add_row("status", Text(r.status.word, style=STATUS_STYLE[r.status]))
            t.add_row("summary", Text(one_line(r.summary, 300)))
            t.add_row("observed", Text(time.strftime("%H:%M:%S UTC", time.gmtime(r.observed_at))
                                       + f" ({format_duration(max(0.0, self.now - r.observed_at))}"
                                       " ago)"))
            if r.latency is not None:
                t.add_row("latency", Text(f"{r.latency * 1000:.0f} ms"))
            for k, val in sorted(r.metrics.items()):
                t.add_row(Text(one_line(k, 40).replace("_", " ")), Text(metric_text(k, val)))
            if r.error:
                t.add_row("last error", Text(one_line(r.error, 500), style="red"))
            out.add_row(t)
        return out


class EntryScreen(CloseableModal):
    """One log entry in full: who, when, what kind, the whole text, every field (sanitized)."""

    def __init__(self, entry, mark: str = "") -> None:
        super().__init__()
        self.entry = entry
        self.mark = mark

    def compose(self) -> ComposeResult:
        e = self.entry
        label, text = describe(e)
        head = Text()
        if self.mark:
            head.append(f"{self.mark.strip()}  ", style="bold red")
        head.append(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(e.ts)), style="dim")
        head.append(f"  {one_line(e.author, 40)}", style="bold")
        head.append(f"  {one_line(e.kind, 40)} ({one_line(label, 40)})\n\n", style="cyan")
        body = (e.data or {}).get("text") if isinstance((e.data or {}).get("text"), str) else text
        head.append(clean(body, keep_newlines=True, limit=20000) + "\n")
        t = Table(show_header=False, box=None, padding=(0, 1))
        t.add_column(style="cyan", no_wrap=True)
        t.add_column()
        for k, v in sorted((e.data or {}).items()):
            if k != "text":
                t.add_row(Text(one_line(k, 40)), Text(one_line(v, 500)))
        if getattr(e, "id", ""):
            t.add_row("entry", Text(one_line(e.id, 120)))
        with VerticalScroll() as v:
            v.border_title = "Log entry"
            yield Static(head)
            yield Static(t)
