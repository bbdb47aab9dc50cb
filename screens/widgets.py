"""The cockpit's widgets. Each one redraws only when its own text changed: over SSH
every repaint is bandwidth, so an idle cockpit writes nothing."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence

from rich.text import Text
from textual._styles_cache import StylesCache
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static

from cockpit.health import ServiceHealth, Status
from cockpit.incident.clocks import ClockView, Level
from cockpit.incident.model import IncidentState
from cockpit.text import one_line
from cockpit.timeutil import format_age

from .keys import bindings

STATUS_STYLE = {
    Status.OK: "bold green",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold black on red",
    Status.STALE: "bold magenta",
    Status.UNKNOWN: "dim",
}
LEVEL_STYLE = {
    Level.OK: "#5fd75f",  # a hex colour: a bare "green" is CSS #008000 (3.65:1, B6)
    # hex colours of the theme's palette (screens/theme.py): a Text's base style "red" is
    # CSS red (#ff0000), which NO_COLOR turns into a dark grey under black (B6)
    Level.AMBER: "bold #ffd75f",
    Level.RED: "bold #ff8787",
    Level.BREACHED: "bold black on #ff8787",
    Level.MET: "#5fd75f",
    Level.MISSED: "bold #ff8787",
    Level.IDLE: "dim",
    Level.UNMET: "bold #ff8787",
    Level.UNKNOWN: "bold #ffd75f",
}
SPARK = "▁▂▃▄▅▆▇█"


def prune_watchers(obj: object) -> None:
    """Drop the watchers that removed widgets left on ``obj``.

    ``watch(obj, ...)`` and ``data_bind`` store ``(widget, callback)`` on the *watched* object,
    and Textual 8.2 prunes that list only when the watched attribute changes (textual#6666):
    until then each removed widget stays alive, with its styles, caches and message queue.
    """
    watchers = getattr(obj, "__watchers", None)
    if not watchers:
        return
    for entries in watchers.values():
        entries[:] = [(node, cb) for node, cb in entries
                      if not (getattr(node, "_closing", False) or getattr(node, "_closed", False))]


def release_styles_caches() -> None:
    """Let go of the rendered lines of removed widgets.

    ``StylesCache.get_inner_outer`` is an ``lru_cache(1024)`` on an *instance* method in
    Textual 8.2: its keys hold up to 1,024 widgets' StylesCache objects, each with the
    rendered strips of its widget, long after the widget is gone. A screen of the runbook
    navigator is ~100 widgets: ten visits pin ~70 MiB. Emptying it when widgets are removed
    costs one recomputed style pair per visible widget.
    """
    clear = getattr(getattr(StylesCache, "get_inner_outer", None), "cache_clear", None)
    if clear is not None:
        clear()


class CockpitFooter(Footer):
    """Textual's Footer without its per-keypress leak.

    Textual's Footer recomposes on every binding change (each focus change, each screen
    pop), and every new FooterKey binds ``compact`` to the footer: the watcher entry keeps
    the removed key alive for good (``compact`` never changes), ~15 widgets per keypress.
    Here the footer recomposes only when the bindings it shows differ, and drops the
    watchers of the keys it removed.
    """

    _shown: tuple = ()

    def _signature(self) -> tuple:
        if not self._bindings_ready:
            return ()
        app = self.app
        return tuple((b.key, b.action, b.description, app.get_key_display(b), b.group, enabled, tooltip)
                     for _, b, enabled, tooltip in self.screen.active_bindings.values() if b.show)

    def compose(self):
        self._shown = self._signature()
        # Quit first (POLISH 12): at 80 columns the keys of the focused pane pushed it off
        # the right edge; the way out is always visible.
        widgets = list(super().compose())
        first = [w for w in widgets if getattr(w, "action", None) in ("quit", "app.quit")]
        yield from first + [w for w in widgets if w not in first]

    def bindings_changed(self, screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if self.is_attached and self._signature() != self._shown:
            await self.recompose()

    async def recompose(self) -> None:
        await super().recompose()
        prune_watchers(self)
        release_styles_caches()


def sparkline(values: Sequence[float], width: int) -> str:
    vals = list(values)[-width:]
    if not vals:
        return " " * width
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    s = "".join(SPARK[min(7, int((v - lo) / span * 7.999))] for v in vals)
    return s.rjust(width)


class Cell(Static):
    """A Static that ignores updates to the same content (no repaint, no bytes)."""

    DEFAULT_CSS = "Cell { text-wrap: nowrap; text-overflow: ellipsis; }"

    def __init__(self, *args, sized_by_content: bool = False, **kw) -> None:
        super().__init__(*args, **kw)
        self.sized_by_content = sized_by_content
        self._last_key: str | None = None

    def set(self, content: Text | str) -> None:
        key = content.markup if isinstance(content, Text) else content
        if self._last_key == key:
            return
        self._last_key = key
        # A cell whose size is fixed by CSS needs no layout pass: only its own region repaints.
        self.update(content, layout=self.sized_by_content)


WORD_WIDTH = 8  # the longest word (UNKNOWN, 7) and a space: a word never runs into a name


def status_word(status: Status) -> Text:
    word = Text(status.word, style=STATUS_STYLE[status])
    word.append(" " * (WORD_WIDTH - len(status.word)))  # the gap unstyled: read as a gap
    return word


class ServiceRow(Horizontal):
    """One service: status word, name, key figure, summary, latency sparkline, answer age."""

    DEFAULT_CSS = """
    ServiceRow { height: 1; }
    ServiceRow > .main { width: 1fr; }
    ServiceRow > .spark { width: 13; color: $text-muted; }
    ServiceRow > .age { width: 9; text-align: right; color: $text-muted; }
    ServiceRow.-selected { background: $boost; text-style: reverse; }  /* not colour alone */
    """

    def __init__(self, service_id: str) -> None:
        # No id or class names the service: a row is a slot that shows whichever service is
        # at its place (``assign``), so a new order moves no widget (no layout pass) and
        # restyles none (``HealthPane.row(service_id)`` finds a service's row).
        super().__init__(classes="service-row")
        self.service_id = service_id
        self.health: ServiceHealth | None = None
        self._shown: tuple[object, ...] | None = None  # what the main and spark cells show
        self.main = Cell(classes="main")
        self.spark = Cell(classes="spark")
        self.age = Cell(classes="age")

    def compose(self):
        yield self.main
        yield self.spark
        yield self.age

    def assign(self, service_id: str) -> None:
        """This row shows ``service_id`` from now on (its cells repaint with ``show``)."""
        if service_id != self.service_id:
            self.service_id = service_id
            self.health = None

    def show(self, h: ServiceHealth, now: float) -> None:
        self.health = h
        shown = (h.status, h.title, h.key_figure, h.summary, h.latencies)
        if shown != self._shown:  # else the same text again (a scrub, a probe's new answer)
            self._shown = shown
            main = Text(no_wrap=True, overflow="ellipsis")
            main.append_text(status_word(h.status))
            main.append(f"{one_line(h.title, 15):<16}", style="bold")
            fig = one_line(h.key_figure or "", 11)
            main.append(f"{fig:<12}")
            main.append(one_line(h.summary, 160), style="dim" if h.status == Status.STALE else "")
            self.main.set(main)
            self.spark.set(Text(" " + sparkline(h.latencies, 12)))
        age = h.age(now)
        self.age.set(Text("never" if age is None else format_age(age)))


class HealthPane(Vertical, can_focus=True):
    """All services, one row each; up/down select, enter opens the detail view."""

    BINDINGS = bindings("health")
    selected: reactive[int] = reactive(0)

    class Open(Message):
        def __init__(self, service_id: str) -> None:
            super().__init__()
            self.service_id = service_id

    def __init__(self, service_ids: Sequence[str] = (), **kw) -> None:
        super().__init__(**kw)
        # The rows by service, in display order: known before they are mounted, so a first
        # frame drawn before this pane composed never mounts a second row of the same id.
        self._rows: dict[str, ServiceRow] = {sid: ServiceRow(sid) for sid in service_ids}
        self._subtitle: str | None = None

    def compose(self):
        yield from self._rows.values()

    def rows(self) -> list[ServiceRow]:
        return list(self._rows.values())

    def row(self, service_id: str) -> ServiceRow:
        """The row showing ``service_id`` now (KeyError: not shown)."""
        return self._rows[service_id]

    def show(self, healths: Sequence[ServiceHealth], now: float) -> None:
        # Failing services first (DOWN, WARN, STALE, UNKNOWN, then OK; the configured order
        # within a level): with many services the pane scrolls inside its maximum height
        # and what is failing is on top.
        healths = sorted(healths, key=lambda h: -h.status.severity)
        want = [h.service for h in healths]
        if list(self._rows) != want:
            rows = self.rows()
            # the selection stays on its service once shown (the first frame selects the top)
            keep = (rows[self.selected].service_id if 0 <= self.selected < len(rows)
                    and rows[self.selected].health is not None else None)
            # The rows are slots in display order: slot i shows the i-th service. A new order
            # (a status changed: the review's scrubber, a flapping service) repaints the
            # rows' cells in place; moving row widgets would lay the whole screen out.
            slots = rows[:len(want)]
            for row in rows[len(want):]:
                row.remove()
            new = [ServiceRow(sid) for sid in want[len(slots):]]
            for row, sid in zip(slots, want, strict=False):
                row.assign(sid)
            if new:
                self.mount_all(new)
            self._rows = dict(zip(want, slots + new, strict=True))
            if keep in self._rows:  # the selection stays on its service
                self.selected = list(self._rows).index(keep)
        for h in healths:
            self._rows[h.service].show(h, now)
        self._mark()

    def _mark(self) -> None:
        rows = self.rows()
        for i, row in enumerate(rows):
            row.set_class(i == self.selected and self.has_focus, "-selected")
        # The selection in words too (monochrome terminals, screen readers of captures).
        selected = rows[self.selected].health if 0 <= self.selected < len(rows) else None
        if self.has_focus and selected is not None:
            title = one_line(selected.title, 30)
            subtitle = f"▸ {title} · enter: details"
        else:
            subtitle = ""
        if self._subtitle != subtitle:
            self._subtitle = subtitle
            self.border_subtitle = Text(subtitle)  # a service title from config: never markup

    def watch_selected(self) -> None:
        self._mark()
        rows = self.rows()
        if 0 <= self.selected < len(rows) and rows[self.selected].is_mounted:
            self.scroll_to_widget(rows[self.selected], animate=False)

    def on_focus(self) -> None:
        self.call_after_refresh(self._mark)

    def on_blur(self) -> None:
        self.call_after_refresh(self._mark)

    def action_move(self, delta: int) -> None:
        n = len(self._rows)
        if n:
            self.selected = (self.selected + delta) % n

    def action_open(self) -> None:
        rows = self.rows()
        if rows:
            self.post_message(self.Open(rows[self.selected].service_id))


class ClockRow(Horizontal):
    """Label, value, level word: three cells, so a ticking value repaints 9 cells, not 34."""

    DEFAULT_CSS = """
    ClockRow { height: 1; }
    ClockRow > .label { width: 15; }
    ClockRow > .value { width: 9; }
    ClockRow > .word { width: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.label = Cell(classes="label")
        self.value = Cell(classes="value")
        self.word = Cell(classes="word")
        self._value_width = 9

    def compose(self):
        yield self.label
        yield self.value
        yield self.word

    def show(self, c: ClockView) -> None:
        self.label.set(Text(one_line(c.label, 15)))  # the value is right-aligned: a space
        value = c.value_text()
        width = max(9, len(value) + 1)  # never cut a number (+1054:21:00)
        if width != self._value_width:
            self._value_width = width
            self.value.styles.width = width
        self.value.set(Text(f"{value:>8}", style=LEVEL_STYLE[c.level]))
        word_style = LEVEL_STYLE[c.level] if c.level not in (Level.OK, Level.MET) else "dim"
        word = Text(c.word_text(), style=word_style)  # what the value means (M8)
        if c.note:  # why it stopped, in words ("still failing when closed", "RPO at risk")
            word.append(f" {one_line(c.note, 40)}", style="dim" if c.level == Level.MET else "")
        self.word.set(word)

    def show_target(self, label: str, rto: str, rpo: str) -> None:
        self.label.set(Text(one_line(label, 14), style="dim"))
        self.value.set(Text(f"RTO {rto:<5}", style="dim"))
        self.word.set(Text(f"RPO {rpo}", style="dim"))


class ClockPane(Vertical, can_focus=True):
    """The incident headline, RTO/RPO countdowns and the plan's milestones."""

    def compose(self):
        yield Cell(id="incident-line")
        roles = Cell(id="incident-roles")  # its own line: never cut off the headline (POLISH 14)
        roles.display = False
        yield roles
        yield Cell(id="incident-title")
        for _ in range(self.MAX_ROWS):
            row = ClockRow()
            row.display = False
            yield row

    def show(self, incident: IncidentState | None, clocks: Sequence[ClockView],
             targets: Sequence[tuple[str, str, str]], loading: bool = False) -> None:
        head = self.query_one("#incident-line", Cell)
        title = self.query_one("#incident-title", Cell)
        roles = self.query_one("#incident-roles", Cell)
        if roles.display != (incident is not None and not loading):
            roles.display = incident is not None and not loading
        if loading:
            head.set(Text("Loading the incident…", style="bold"))
            title.set(Text("clocks follow once every entry is read", style="dim"))
            self._rows([], [])
            return
        if incident is None:
            detect = [c for c in clocks if c.key == "milestone:detect"]
            if detect:  # a service fails, nothing declared: the detect target is running
                head.set(Text("No incident declared: a service is failing.", style="bold"))
                title.set(Text("d declares; Detect counts from the first failure:"))
                self._rows(detect, ())
                return
            head.set(Text("No incident declared.", style="dim"))
            title.set(Text("Targets of the plan:", style="dim"))
            self._rows([], targets)
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        # validated on read (cockpit.journal.validate); escaped all the same
        t.append(f" {one_line(incident.severity, 4)} ",
                 style="bold black on red" if incident.severity in ("P0", "P1") else "bold")
        t.append(f" {one_line(incident.status, 12).upper()} ", style="bold")
        head.set(t)
        # every role on its own line, each word before its name: a cut line still says whose
        # name it cut, and the scribe is there (or "none")
        r = Text(no_wrap=True, overflow="ellipsis")
        for i, (role, short) in enumerate((("commander", "IC"), ("communications", "comms"),
                                           ("scribe", "scribe"))):
            who = incident.role(role)
            r.append(f"{' · ' if i else ''}{short} ", style="dim")
            r.append(one_line(who, 12) if who else "none", style="" if who else "dim")
        roles.set(r)
        title.set(Text(one_line(incident.title, 120), style="bold"))
        self._rows(clocks, ())

    MAX_ROWS = 16

    def _rows(self, clocks: Sequence[ClockView], targets: Sequence[tuple[str, str, str]]) -> None:
        rows = list(self.query(ClockRow))
        want = len(clocks) if clocks else len(targets)
        if want > len(rows):  # more clocks than rows composed up front (many services)
            extra = [ClockRow() for _ in range(want - len(rows))]
            self.mount_all(extra)
            rows += extra
        for i, row in enumerate(rows):
            if i < want:
                if clocks:
                    row.show(clocks[i])
                else:
                    row.show_target(*targets[i])
            if row.display != (i < want):
                row.display = i < want


class TitleBar(Horizontal):
    """Name, time, incident, environment: separate cells, so the ticking time is all that
    repaints each second."""

    DEFAULT_CSS = """
    TitleBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    TitleBar > Cell { width: auto; }
    TitleBar > .env { width: 1fr; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        # The time is fixed-width: it repaints in place without a layout pass (a layout pass
        # would also repaint every scrollbar on screen, each second).
        self.cells = {k: Cell(classes=k, sized_by_content=k == "incident")
                      for k in ("name", "time", "incident", "env")}
        self.cells["name"].set(Text("DR Cockpit │ ", style="bold"))

    def compose(self):
        yield from self.cells.values()

    def show(self, environment: str, now: float, incident: IncidentState | None, simulated: bool,
             paused: bool = False, open_incidents: int | None = None) -> None:
        t = Text(time.strftime("%H:%M:%S", time.gmtime(now)) + " UTC")
        if simulated:
            t.append(" SIM", style="bold cyan")
        if paused:
            t.append(" PAUSED", style="bold yellow")
        self.cells["time"].set(t)
        inc = Text()
        if incident is not None and incident.active:
            inc.append(" │ ")
            inc.append(f"INCIDENT {one_line(incident.severity, 4)} "
                       f"{one_line(incident.status, 12).upper()}", style="bold red")
        if open_incidents is not None:  # always: how many incidents are open (i lists them)
            inc.append(" │ ")
            inc.append(f"{open_incidents} open", style="bold" if open_incidents else "")
        self.cells["incident"].set(inc)
        self.cells["env"].set(Text(" │ " + one_line(environment, 80)))

    def render_text(self) -> str:
        return "".join(str(c.render()) for c in self.cells.values())


def _same_base(a: Sequence, b: Sequence) -> bool:
    """Both are prefixes of one list (``base``: the review's log up to ``t``)."""
    base = getattr(a, "base", None)
    return base is not None and base is getattr(b, "base", None)


class LogView(ScrollView, can_focus=True):
    """The incident log, virtualized: entries are formatted only when their line is on screen,
    so 100,000 entries cost what the visible 30 cost. Filters keep an index, extended as
    entries arrive."""

    BINDINGS = bindings("log")

    class Open(Message):
        def __init__(self, mark: str, entry: object) -> None:
            super().__init__()
            self.mark = mark
            self.entry = entry
    # lines are cut to the width with …: never a horizontal scrollbar (POLISH 15)
    DEFAULT_CSS = "LogView { height: 1fr; overflow-x: hidden; }"
    cursor: reactive[int] = reactive(0)
    newest_first: reactive[bool] = reactive(True)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._entries: Sequence = ()
        self._extra: list[tuple[str, object]] = []  # (mark, entry): unsaved / pending, newest
        self._index: list[int] | None = None  # filtered entry positions
        self._indexed = 0
        self._predicate: Callable[[object], bool] | None = None
        self._fmt = lambda e, mark: Text(str(e))
        self._cache: dict[tuple[int, str], tuple[object, Text]] = {}
        self._strips: dict[tuple[object, ...], tuple[object, Strip]] = {}  # rendered lines
        self._shown: object = None

    # ---------------------------------------------------------------- content
    def set_source(self, entries: Sequence, extra: list[tuple[str, object]], fmt) -> None:
        before = self.total
        if entries is not self._entries or len(entries) < self._indexed:
            if _same_base(entries, self._entries) and fmt is self._fmt:
                # the same entries up to another point (the review's cursor moved): keep the
                # formatted lines and the filter's index up to it; nothing walks them all
                n = len(entries)
                if n < self._indexed:
                    if self._index is not None:
                        del self._index[bisect.bisect_left(self._index, n):]
                    self._indexed = n
            else:
                self._cache.clear()
                self._strips.clear()
                self._indexed = 0
                if self._index is not None:
                    self._index = []
        self._entries, self._extra, self._fmt = entries, extra, fmt
        self._extend_index()
        grown = self.total - before
        if grown > 0 and self.newest_first and self.cursor > 0:
            self.cursor += grown  # keep the selected entry selected as newer ones arrive
        self._resize()

    def show(self, entries: Sequence, pending: Sequence, unsaved: Sequence, fmt) -> None:
        """Entries, then this cockpit's unsaved and pending ones (newest first), when any of
        them changed."""
        key = (id(entries), len(entries), tuple(map(id, pending)), tuple(map(id, unsaved)))
        if key == self._shown:
            return
        self._shown = key
        extra = [("UNSAVED ", e) for e in reversed(unsaved)]
        extra += [("pending ", e) for e in reversed(pending)]
        self.set_source(entries, extra, fmt)

    def set_filter(self, predicate, description: str) -> None:
        self._predicate = predicate
        self._index = None if predicate is None else []
        self._indexed = 0
        self._extend_index()
        self.cursor = 0
        # the search text and author names are data: a Text, never parsed as markup
        self.border_subtitle = Text(f"filter: {description} · esc clears") if predicate else ""
        self._resize()

    def _extend_index(self) -> None:
        if self._index is None:
            self._indexed = len(self._entries)
            return
        pred = self._predicate
        assert pred is not None
        for i in range(self._indexed, len(self._entries)):
            if pred(self._entries[i]):
                self._index.append(i)
        self._indexed = len(self._entries)

    @property
    def total(self) -> int:
        n = len(self._index) if self._index is not None else len(self._entries)
        return n + len(self._extra)

    def _resize(self) -> None:
        size = Size(self.scrollable_content_region.width, self.total)
        if size != self.virtual_size:
            # ``virtual_size`` is a layout reactive: set as usual, each new entry (each move of
            # the review's cursor) would cost a layout pass of the whole screen. Only the
            # scrollbars follow it (the log's own size is set by CSS): set it quietly and
            # update them (a scrollbar appearing still lays the screen out).
            self.set_reactive(LogView.virtual_size, size)
            self._scroll_update(size)
        self.cursor = min(self.cursor, max(0, self.total - 1))
        self.refresh()

    def item(self, row: int) -> tuple[str, object] | None:
        """The (mark, entry) shown at display row ``row``."""
        total = self.total
        if not 0 <= row < total:
            return None
        if not self.newest_first:
            row = total - 1 - row
        if row < len(self._extra):
            return self._extra[row]
        k = row - len(self._extra)
        n = len(self._index) if self._index is not None else len(self._entries)
        pos = n - 1 - k
        i = self._index[pos] if self._index is not None else pos
        return "", self._entries[i]

    def line_text(self, row: int) -> str:
        it = self.item(row)
        return "" if it is None else self._format(*it).plain

    def _format(self, mark: str, entry: object) -> Text:
        # Keyed by id() (entries need not be hashable), so the entry is kept with its text:
        # a pending entry, once acknowledged, is freed and a new one may get its id.
        key = (id(entry), mark)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is entry:
            return hit[1]
        if len(self._cache) > 4096:
            self._cache.clear()
        t = self._fmt(entry, mark)
        self._cache[key] = (entry, t)
        return t

    # ---------------------------------------------------------------- drawing
    def render_line(self, y: int) -> Strip:
        _, scroll_y = self.scroll_offset
        idx = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        it = self.item(idx)
        if it is None:
            return Strip.blank(width, base)
        selected = idx == self.cursor and self.has_focus
        # A scrub shifts every line by one: each entry's line is rendered once per width
        # and look, not once per frame (kept with its entry, like ``_format``).
        key = (id(it[1]), it[0], width, selected, base)
        hit = self._strips.get(key)
        if hit is not None and hit[0] is it[1]:
            return hit[1]
        text = self._format(*it).copy()
        text.no_wrap = True
        text.truncate(width, overflow="ellipsis")
        if selected:
            text.stylize("reverse")
        segs = list(text.render(self.app.console))
        strip = Strip(segs).crop_extend(0, width, base)
        if len(self._strips) > 1024:
            self._strips.clear()
        self._strips[key] = (it[1], strip)
        return strip

    # ---------------------------------------------------------------- keys
    def action_cursor(self, delta: int) -> None:
        if self.total:
            self.cursor = max(0, min(self.total - 1, self.cursor + delta))
            self.scroll_to_cursor()

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 1))

    def action_jump(self, where: int) -> None:
        if self.total:
            self.cursor = 0 if where == 0 else self.total - 1
            self.scroll_to_cursor()

    def scroll_to_cursor(self) -> None:
        top = self.scroll_offset.y
        h = self.scrollable_content_region.height
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + h:
            self.scroll_to(y=self.cursor - h + 1, animate=False)
        self.refresh()

    def action_toggle_order(self) -> None:
        self.newest_first = not self.newest_first
        self.cursor = 0
        self.scroll_to(y=0, animate=False)
        self.refresh()

    def action_open(self) -> None:
        it = self.item(self.cursor)
        if it is not None:
            self.post_message(self.Open(*it))

    def action_clear_filter(self) -> None:
        if self._predicate is not None:
            self.set_filter(None, "")

    def watch_cursor(self) -> None:
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
