"""Incident forms: declare, change status, note, assign a role, draft a status update.

Each returns its values to the app, which journals them off the UI thread."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Input,
    Label,
    OptionList,
    Select,
    SelectionList,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option

from cockpit.incident.model import LIFECYCLE, NOTE_TYPES, ROLES
from cockpit.plan import SEVERITIES
from cockpit.text import clean, one_line
from cockpit.timeutil import parse_when

from .keys import bindings

FORM_CSS = """
Form { align: center middle; }
Form > Vertical {
    width: 90%; max-width: 90; height: auto; max-height: 95%;
    border: round $accent; background: $surface; padding: 0 1;
}
Form Label { color: $text-muted; }
Form Input, Form Select, Form SelectionList { margin-bottom: 1; background: $boost; }
Form .error { color: $error; height: auto; }
Form Horizontal.buttons { height: auto; align-horizontal: right; margin-top: 1; }
Form Button { margin-left: 1; min-width: 10; }
Form SelectionList { height: auto; max-height: 9; }
Form TextArea { height: 12; }
Form OptionList { height: auto; max-height: 8; }
"""


class Form(ModalScreen[dict | None]):
    """A modal form: escape cancels, ctrl+s or the primary button submits."""

    DEFAULT_CSS = FORM_CSS
    BINDINGS = bindings("form")
    TITLE = ""
    # M9: enter submits from a text field only (on a list it toggles, on a select it opens)
    HINT = "ctrl+s: OK (or enter in a text field) · tab: next · escape: cancel"

    def on_mount(self) -> None:
        box = self.query_one(Vertical)
        box.border_subtitle = self.HINT
        for w in self.query(Input):
            w.cursor_blink = False
        self.focus_first()

    def focus_first(self) -> None:
        pass

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        values = self.values()
        if values is not None:
            self.dismiss(values)

    def values(self) -> dict | None:  # pragma: no cover - overridden
        return {}

    def fail(self, message: str) -> None:
        self.query_one(".error", Static).update(Text(message))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_input_changed(self, event: Input.Changed) -> None:
        """An error is about what was typed: typing again clears it (POLISH 5)."""
        for err in self.query(".error"):
            if isinstance(err, Static):
                err.update("")

    def buttons(self, ok: str) -> ComposeResult:
        yield Static(classes="error")
        with Horizontal(classes="buttons"):
            yield Button("Cancel", id="cancel", compact=True)
            yield Button(ok, id="ok", variant="primary", compact=True)


def service_prompt(sid: str, title: str, selected: bool) -> Text:
    """The selection in words too: a ✔ and "affected", not the colour of a box alone."""
    t = Text("✔ " if selected else "  ", style="bold")
    t.append(one_line(title, 40))
    if selected:
        t.append("  affected", style="bold")
    return t


class ServiceChoice:
    """Keeps the ✔ marks of a services SelectionList in step with the selection."""

    services: Sequence[tuple[str, str]]

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        sl = event.selection_list
        chosen = set(sl.selected)
        titles = dict(self.services)
        for i in range(sl.option_count):
            sid = sl.get_option_at_index(i).value
            sl.replace_option_prompt_at_index(i, service_prompt(sid, titles.get(sid, sid), sid in chosen))


class DeclareForm(ServiceChoice, Form):
    def __init__(self, services: Sequence[tuple[str, str]], failing: set[str],
                 impact_start: float | None, now: float | None = None) -> None:
        super().__init__()
        self.services = services
        self.failing = failing
        self.impact_start = impact_start
        self.now = now if now is not None else time.time()

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Declare an incident"
            yield Label("Title")
            yield Input(placeholder="what is broken, in a few words", id="title", compact=True)
            yield Label("Severity")
            yield Select([(s, s) for s in SEVERITIES], value="P0" if self.failing else "P1",
                         allow_blank=False, id="severity", compact=True)
            yield Label("Affected services (space toggles ✔; pre-selected: failing now)")
            yield SelectionList[str](*[(service_prompt(sid, t, sid in self.failing), sid, sid in self.failing)
                                       for sid, t in self.services], id="services", compact=True)
            # two short lines, never cut at 80 columns (POLISH 3)
            yield Label("Impact start, UTC: HH:MM:SS, or an age like 10m\n"
                        "(pre-filled: first failing probe; empty: now)", id="impact-label")
            default = time.strftime("%H:%M:%S", time.gmtime(self.impact_start)) if self.impact_start else ""
            yield Input(value=default, placeholder="HH:MM:SS", id="impact", compact=True)
            yield from self.buttons("Declare")

    def focus_first(self) -> None:
        self.query_one("#title", Input).focus()

    def values(self) -> dict | None:
        title = self.query_one("#title", Input).value.strip()
        if not title:
            self.fail("A title is needed.")
            return None
        impact_text = self.query_one("#impact", Input).value.strip()
        impact = None
        if impact_text:
            try:  # the one parser, the same as `cockpit incident declare --impact-start`
                impact = parse_when(impact_text, self.now)
            except (ValueError, OverflowError) as e:
                self.fail(f"Impact start: {one_line(str(e), 160)}")
                return None
            if impact > self.now + 60:
                self.fail("Impact start: that is in the future.")
                return None
        return {"title": title, "severity": self.query_one("#severity", Select).value,
                "services": list(self.query_one("#services", SelectionList).selected),
                "impact_start": impact}


class StatusForm(Form):
    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        # forward moves first; earlier states (a reopening, confirmed next) after them
        at = LIFECYCLE.index(self.current) if self.current in LIFECYCLE else len(LIFECYCLE)
        nxt = [(s, s) for s in LIFECYCLE[at + 1:]]
        nxt += [(s, f"{s}  (reopen)") for s in LIFECYCLE[1:at]]
        with Vertical() as v:
            # the status is data (another writer's record): a Text, never markup
            v.border_title = Text(f"Incident status (now {one_line(self.current, 20)})")
            yield OptionList(*[Option(Text(t), id=s) for s, t in nxt], id="status", compact=True)
            yield from self.buttons("Set")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss({"status": event.option.id})

    def values(self) -> dict | None:
        ol = self.query_one(OptionList)
        if ol.highlighted is None:
            self.fail("Choose a status.")
            return None
        return {"status": ol.get_option_at_index(ol.highlighted).id}


class ConfirmForm(Form):
    """A yes/no question: what will happen, in words. Escape (or Cancel) says no."""

    HINT = "ctrl+s / enter on Yes: confirm · escape: cancel"
    quit_question = False  # the app's "quit while a step runs?" (q again quits)
    BINDINGS = [*Form.BINDINGS, Binding("q", "quit_answer", "Quit", show=False)]

    def __init__(self, title: str, text: str, ok: str = "Yes") -> None:
        super().__init__()
        self.title_text, self.text, self.ok = title, text, ok

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = Text(one_line(self.title_text, 70))
            yield Static(Text(self.text))
            yield from self.buttons(self.ok)

    def focus_first(self) -> None:
        self.query_one("#ok", Button).focus()

    def values(self) -> dict | None:
        return {"confirmed": True}

    def action_quit_answer(self) -> None:
        """q on the quit question answers it (q twice quits, as people expect)."""
        if self.quit_question:
            self.action_submit()


class NoteForm(Form):
    def __init__(self, note_type: str = "observation") -> None:
        super().__init__()
        self.note_type = note_type

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Add to the incident log"
            yield Select([(t, t) for t in NOTE_TYPES], value=self.note_type, allow_blank=False, id="type", compact=True)
            yield Input(placeholder="what you saw, decided, did or told", id="text", compact=True)
            yield from self.buttons("Add")

    def focus_first(self) -> None:
        self.query_one("#text", Input).focus()

    def values(self) -> dict | None:
        text = self.query_one("#text", Input).value.strip()
        if not text:
            self.fail("Write something first.")
            return None
        return {"type": self.query_one("#type", Select).value, "text": text}


class RoleForm(Form):
    def __init__(self, current: dict[str, str]) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Assign or hand over a role"
            now = ", ".join(f"{one_line(r, 20)}: {one_line(p, 60)}"
                            for r, p in self.current.items()) or "none assigned"
            yield Static(Text(f"Now: {one_line(now, 200)}", style="dim"))
            yield Select([(r, r) for r in ROLES], value="commander", allow_blank=False, id="role", compact=True)
            yield Input(placeholder="who takes it", id="person", compact=True)
            yield from self.buttons("Assign")

    def focus_first(self) -> None:
        self.query_one("#person", Input).focus()

    def values(self) -> dict | None:
        person = self.query_one("#person", Input).value.strip()
        if not person:
            self.fail("Who takes the role?")
            return None
        return {"role": self.query_one("#role", Select).value, "person": person}


class UpdateForm(Form):
    BINDINGS = [*Form.BINDINGS, *bindings("update")]
    HINT = "ctrl+s: save to the log · ctrl+y: copy · escape: cancel"

    def __init__(self, draft: str) -> None:
        super().__init__()
        # Built from other writers' titles and notes: a TextArea renders control characters
        # raw, so the draft is escaped here (and by draft_update) before it is shown.
        self.draft = clean(draft, keep_newlines=True)

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Stakeholder update (edit, then ctrl+s to journal it)"
            yield TextArea(self.draft, id="text", soft_wrap=True)
            yield from self.buttons("Save")

    def focus_first(self) -> None:
        ta = self.query_one(TextArea)
        ta.cursor_blink = False
        ta.focus()

    def action_copy(self) -> None:
        # OSC 52 carries the text to the terminal: never an escape sequence inside it
        self.app.copy_to_clipboard(clean(self.query_one(TextArea).text, keep_newlines=True))
        # M14: said as sent, not as done: a terminal or tmux (set-clipboard off or external)
        # may drop it without telling
        self.app.notify("Sent to your terminal's clipboard (OSC 52). Some terminals and tmux "
                        "settings drop it: if it is not there, select the text instead.",
                        timeout=6)

    def values(self) -> dict | None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.fail("The update is empty.")
            return None
        return {"text": text}


LOG_KINDS = ("observation", "decision", "action", "communication", "declared", "status",
             "role", "health", "started", "succeeded", "failed", "confirmed", "skipped",
             "unreadable")


class SearchForm(Form):
    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Search the incident log (empty: show all)"
            yield Input(placeholder="text, author or kind", id="text", compact=True)
            yield from self.buttons("Search")

    def focus_first(self) -> None:
        self.query_one("#text", Input).focus()

    def values(self) -> dict | None:
        return {"text": self.query_one("#text", Input).value.strip()}


class FilterForm(Form):
    def __init__(self, authors: Sequence[str]) -> None:
        super().__init__()
        self.authors = authors

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Filter the incident log"
            yield Label("Kind")
            yield Select([("any kind", "")] + [(k, k) for k in LOG_KINDS], value="",
                         allow_blank=False, id="kind", compact=True)
            yield Label("Author")
            yield Select([("anyone", "")] + [(Text(one_line(a, 40)), a) for a in self.authors], value="",
                         allow_blank=False, id="author", compact=True)
            yield from self.buttons("Apply")

    def focus_first(self) -> None:
        self.query_one("#kind", Select).focus()

    def values(self) -> dict | None:
        return {"kind": self.query_one("#kind", Select).value,
                "author": self.query_one("#author", Select).value}


class PromptForm(Form):
    """One line of text: a reason, a confirmation token. ``expect``: the exact text required."""

    def __init__(self, title: str, label: str, *, expect: str | None = None,
                 placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.label = label
        self.expect = expect
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = Text(one_line(self.title_text, 70))  # data: never markup
            yield Static(Text(self.label))
            # never the answer as placeholder (it would look pre-filled: POLISH 10)
            yield Input(placeholder=self.placeholder or "type here", id="text")
            yield from self.buttons("OK")

    def focus_first(self) -> None:
        self.query_one("#text", Input).focus()

    def values(self) -> dict | None:
        text = self.query_one("#text", Input).value.strip()
        if not text:
            self.fail("Type something first.")
            return None
        if self.expect is not None and text != self.expect:
            self.fail(f"That is not '{one_line(self.expect, 40)}'. Nothing was run.")
            return None
        return {"text": text}


class ParamForm(Form):
    """Values for a runbook's parameters that neither cockpit.toml nor a default gives."""

    def __init__(self, params: Sequence) -> None:
        super().__init__()
        self.params = params

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Parameters for this step"
            for p in self.params:
                label = f"{p.name} ({p.type})" + (f": {one_line(p.description, 60)}" if p.description else "")
                yield Label(Text(label))
                yield Input(id=f"p-{p.name}", password=bool(p.secret), compact=True)
            yield from self.buttons("Use")

    def focus_first(self) -> None:
        first = self.query(Input).first()
        first.focus()

    def values(self) -> dict | None:
        out = {}
        for p in self.params:
            v = self.query_one(f"#p-{p.name}", Input).value
            if v == "":
                self.fail(f"{p.name} is needed.")
                return None
            try:
                p.coerce(v)
            except Exception as e:  # noqa: BLE001 - ParamError or a type error: shown
                self.fail(one_line(str(e), 200))
                return None
            out[p.name] = v
        return out


class IncidentPicker(Form):
    """The incidents in the state directory, newest first: choose the one to follow."""

    HINT = "enter: follow it · escape: cancel"

    def __init__(self, rows: Sequence[tuple[str, Text]], current: str | None) -> None:
        super().__init__()
        self.rows = rows
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Incidents (newest first)"
            if not self.rows:
                yield Static(Text("No incident in this state directory yet: d declares one.", style="dim"))
            yield OptionList(*[Option(t, id=iid) for iid, t in self.rows], id="incidents", compact=True)
            yield from self.buttons("Follow")

    def focus_first(self) -> None:
        ol = self.query_one(OptionList)
        ol.focus()
        ids = [iid for iid, _ in self.rows]
        if self.current in ids:
            ol.highlighted = ids.index(self.current)

    def set_rows(self, rows: Sequence[tuple[str, Text]]) -> None:
        """The list again (incidents declared since it opened), the highlight kept."""
        ol = self.query_one(OptionList)
        keep = None if ol.highlighted is None else self.rows[ol.highlighted][0] \
            if ol.highlighted < len(self.rows) else None
        self.rows = list(rows)
        ol.clear_options()
        ol.add_options([Option(t, id=iid) for iid, t in self.rows])
        ids = [iid for iid, _ in self.rows]
        if keep in ids:
            ol.highlighted = ids.index(keep)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss({"incident": event.option.id})

    def values(self) -> dict | None:
        ol = self.query_one(OptionList)
        if ol.highlighted is None:
            self.fail("Choose an incident.")
            return None
        return {"incident": ol.get_option_at_index(ol.highlighted).id}


class ServicesForm(ServiceChoice, Form):
    """Change the incident's affected services (their RTO clocks follow)."""

    def __init__(self, services: Sequence[tuple[str, str]], current: set[str]) -> None:
        super().__init__()
        self.services = services
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Affected services"
            yield Label("space toggles ✔")
            yield SelectionList[str](*[(service_prompt(sid, t, sid in self.current), sid, sid in self.current)
                                       for sid, t in self.services], id="services", compact=True)
            yield from self.buttons("Save")

    def focus_first(self) -> None:
        self.query_one(SelectionList).focus()

    def values(self) -> dict | None:
        chosen = list(self.query_one(SelectionList).selected)
        if not chosen:
            self.fail("At least one service.")
            return None
        return {"services": chosen}
