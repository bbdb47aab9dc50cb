"""Every key of the cockpit as data: binding id, default keys, what it does, where.

The UI builds its Textual ``Binding(..., id=...)`` objects from this table and its help
screen from those bindings; ``[keys]`` in ``cockpit.toml`` rebinds any of them by id
(``declare = "ctrl+d"``), validated here with the file and line of a wrong id.

One rule keeps letters meaning one thing everywhere: a lower-case letter is never reused with
another meaning on another screen; an action that asks for a typed reason (skip, mark
failed, override, retry) is a capital letter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class KeySpec:
    id: str  # stable binding id, the key of ``[keys]`` in cockpit.toml
    keys: str  # Textual key names, comma-separated
    action: str  # Textual action of the binding
    description: str  # short, for the footer
    help: str  # one line, for the help screen
    scope: str  # where it works: app, health, log, navigator, form
    show: bool = True  # in the footer
    key_display: str | None = None
    priority: bool = False  # before the focused widget's own keys (e.g. in a text area)


KEYS: tuple[KeySpec, ...] = (
    # anywhere on the main screen
    KeySpec("help", "question_mark", "help", "Help", "this help", "app", key_display="?"),
    KeySpec("runbooks", "r", "runbooks", "Runbooks", "runbook navigator", "app"),
    KeySpec("declare", "d", "declare", "Declare",
            "declare an incident (failing services pre-selected)", "app"),
    KeySpec("note", "n", "note", "Note",
            "add to the log: observation, decision, action, communication", "app"),
    KeySpec("status", "s", "status", "Status",
            "move the incident on: responding, mitigated, recovered, closed", "app"),
    KeySpec("assign", "a", "assign", "Role",
            "assign or hand over a role (commander, communications, scribe)", "app", show=False),
    KeySpec("incidents", "i", "incidents", "Incidents",
            "the incidents of this state directory: follow another one", "app", show=False),
    KeySpec("services", "e", "edit_services", "Services",
            "change the incident's affected services", "app", show=False),
    KeySpec("update", "u", "update", "Update",
            "draft a stakeholder update (ctrl+y copies it over SSH)", "app"),
    KeySpec("drills", "l", "drills", "Drills",
            "the DR testing schedule: each drill's last run, result, next due (overdue in "
            "red)", "app", show=False),
    KeySpec("dismiss", "z", "dismiss_notices", "Dismiss",
            "dismiss the announcements on screen (new incident, a colleague's note, DOWN)",
            "app", show=False),
    KeySpec("retry-journal", "ctrl+r", "retry_journal", "Retry journal",
            "try to write the journal again after a failure", "app", show=False),
    KeySpec("next-area", "tab", "app.focus_next", "Next area", "next area", "app", show=False),
    KeySpec("quit", "q", "quit", "Quit",
            "quit (entries are on disk once acknowledged; steps keep running)", "app"),
    KeySpec("focus-health", "1", "focus_area('health')", "Health", "jump to the health panes",
            "main", show=False),
    KeySpec("focus-clocks", "2", "focus_area('clocks')", "Clocks", "jump to the clocks",
            "main", show=False),
    KeySpec("focus-log", "3", "focus_area('log')", "Log", "jump to the incident log", "main",
            show=False),
    # the health panes
    KeySpec("health-up", "up,k", "move(-1)", "Up", "select the service above", "health",
            show=False),
    KeySpec("health-down", "down,j", "move(1)", "Down", "select the service below", "health",
            show=False),
    KeySpec("health-open", "enter", "open", "Details",
            "details: every probe's figures and last error", "health"),
    # the incident log
    KeySpec("log-up", "up,k", "cursor(-1)", "Up", "previous entry", "log", show=False),
    KeySpec("log-down", "down,j", "cursor(1)", "Down", "next entry", "log", show=False),
    KeySpec("log-page-up", "pageup", "page(-1)", "Page up", "page up", "log", show=False),
    KeySpec("log-page-down", "pagedown", "page(1)", "Page down", "page down", "log",
            show=False),
    KeySpec("log-first", "home", "jump(0)", "First", "first entry shown", "log", show=False),
    KeySpec("log-last", "end", "jump(-1)", "Last", "last entry shown", "log", show=False),
    KeySpec("log-order", "o", "toggle_order", "Order", "newest first / oldest first", "log"),
    KeySpec("log-search", "slash", "app.search_log", "Search", "search the log", "log",
            key_display="/"),
    KeySpec("log-filter", "f", "app.filter_log", "Filter", "filter by kind or author", "log"),
    KeySpec("log-clear", "escape", "clear_filter", "Clear filter", "clear the filter", "log",
            show=False),
    KeySpec("log-open", "enter", "open", "Entry", "the whole entry", "log", show=False),
    # the runbook navigator
    KeySpec("nav-back", "escape", "back", "Back", "back to the cockpit", "navigator"),
    KeySpec("nav-execute", "x", "execute", "Execute",
            "execute the step (asks for missing parameters; destructive steps: type the "
            "service name)", "navigator"),
    KeySpec("nav-dry-run", "p", "dry_run", "Dry run",
            "dry run: the exact argv, working directory, environment names and timeout",
            "navigator"),
    KeySpec("nav-verify", "v", "verify", "Verify",
            "verify (the health of a service, or the step's verify command)", "navigator"),
    KeySpec("nav-confirm", "c", "confirm", "Confirm",
            "confirm done (a step with a verify needs a passing verify or an override)",
            "navigator"),
    KeySpec("nav-rollback", "b", "rollback", "Roll back", "roll the step back", "navigator",
            show=False),
    KeySpec("nav-skip", "S", "skip", "Skip", "skip the step, with a typed reason",
            "navigator"),
    KeySpec("nav-fail", "F", "mark_failed", "Failed", "mark the step failed, with a reason",
            "navigator", show=False),
    KeySpec("nav-override", "O", "override", "Override",
            "override the verify gate, with a typed reason", "navigator", show=False),
    KeySpec("nav-retry", "T", "retry", "Retry",
            "allow another attempt, with a typed reason (a step in doubt is never re-run by "
            "itself)", "navigator", show=False),
    KeySpec("nav-help", "question_mark", "help", "Help", "navigator help", "navigator",
            key_display="?"),
    # j / k move as on the main screen (POLISH 13): in the focused list or the step view
    KeySpec("nav-down", "j", "move(1)", "Down", "next runbook or step (as down)", "navigator",
            show=False),
    KeySpec("nav-up", "k", "move(-1)", "Up", "previous runbook or step (as up)", "navigator",
            show=False),
    # f and o are the log's filter and order on the main screen: here they do nothing but say
    # which keys mark failed (F) and override (O), so a habit never acts on a step (POLISH 13)
    KeySpec("nav-log-keys", "f,o", "log_keys", "f / o",
            "in the log: filter / order; here F marks failed, O overrides", "navigator",
            show=False),
    # tabletop exercises: the facilitator's cockpit (cockpit exercise facilitate)
    KeySpec("facilitator", "t", "facilitator", "Facilitator",
            "the facilitator's screen: clock, injects, expected outcomes, marks "
            "(facilitator cockpits only)", "exercise"),
    KeySpec("fx-clock", "space", "toggle_clock", "Clock",
            "start the exercise clock, pause it, resume it", "facilitator"),
    KeySpec("fx-faster", "plus,equals_sign", "speed(1)", "Faster",
            "speed the clock up: 1x 2x 5x 10x 20x 30x 60x", "facilitator", key_display="+"),
    KeySpec("fx-slower", "minus", "speed(-1)", "Slower", "slow the clock down", "facilitator",
            key_display="-"),
    KeySpec("fx-jump", "greater_than_sign", "jump", "Jump",
            "jump the clock forward to the next inject", "facilitator", key_display=">"),
    KeySpec("fx-inject", "g", "inject", "Inject",
            "fire an ad-hoc inject: a spare of the scenario, or one you type", "facilitator"),
    KeySpec("fx-mark", "m", "mark", "Mark",
            "evaluator: mark the selected expected outcome met, partly or missed, with a "
            "comment", "facilitator"),
    KeySpec("fx-end", "E", "end", "End",
            "end the exercise, with a closing remark (the clock stops for good)",
            "facilitator", show=False),
    KeySpec("fx-back", "escape", "back", "Cockpit", "back to the cockpit (t returns here)",
            "facilitator"),
    KeySpec("fx-help", "question_mark", "help", "Help", "the facilitator's keys",
            "facilitator", key_display="?", show=False),
    # the offline review (cockpit review): the timeline scrubber moves the cursor t
    KeySpec("review-next", "right", "scrub_entry(1)", "Next entry",
            "review: the cursor to the next entry", "review", key_display="→"),
    KeySpec("review-prev", "left", "scrub_entry(-1)", "Prev entry",
            "review: the cursor to the previous entry", "review", key_display="←"),
    KeySpec("review-minute-next", "right_square_bracket", "scrub_minutes(1)", "+1 min",
            "review: the cursor one minute later", "review", key_display="]"),
    KeySpec("review-minute-prev", "left_square_bracket", "scrub_minutes(-1)", "-1 min",
            "review: the cursor one minute earlier", "review", key_display="[", show=False),
    KeySpec("review-goto", "colon", "goto_time", "Go to",
            "review: the cursor to a typed time (HH:MM[:SS] UTC, YYYY-MM-DD HH:MM, T+12m)",
            "review", key_display=":"),
    KeySpec("review-play", "space", "play", "Play/pause",
            "review: play the incident at the chosen speed, pause it", "review"),
    KeySpec("review-faster", "plus,equals_sign", "play_speed(1)", "Faster",
            "review: play faster: 1x 2x 5x 10x 30x 60x 120x 300x 600x", "review",
            key_display="+", show=False),
    KeySpec("review-slower", "minus", "play_speed(-1)", "Slower", "review: play slower",
            "review", key_display="-", show=False),
    KeySpec("review-start", "less_than_sign", "scrub_end(0)", "Start",
            "review: the cursor to the incident's first entry", "review", key_display="<",
            show=False),
    KeySpec("review-end", "greater_than_sign", "scrub_end(1)", "End",
            "review: the cursor to the incident's last entry", "review", key_display=">",
            show=False),
    # dialogs
    KeySpec("dialog-cancel", "escape", "cancel", "Cancel", "close a form without saving",
            "form"),
    KeySpec("dialog-save", "ctrl+s", "submit", "Save", "save a form", "form"),
    KeySpec("update-copy", "ctrl+y", "copy", "Copy (OSC 52)",
            "copy the stakeholder update to your terminal's clipboard (OSC 52)", "update",
            priority=True),
    KeySpec("close", "escape,q", "close", "Close", "close this view", "view"),
    KeySpec("help-close", "escape,q,question_mark", "close", "Close", "close the help",
            "help"),
)

BY_ID = {k.id: k for k in KEYS}
_KEY_RE = re.compile(r"^[A-Za-z0-9_+]+(?:,[A-Za-z0-9_+]+)*\Z")


def specs(scope: str) -> tuple[KeySpec, ...]:
    return tuple(k for k in KEYS if k.scope == scope)


def keymap_problem(binding_id: str, keys: object) -> str | None:
    """Why ``binding_id = keys`` in ``[keys]`` is wrong, or None."""
    if binding_id not in BY_ID:
        return "unknown key binding (known: " + ", ".join(sorted(BY_ID)) + ")"
    if not isinstance(keys, str) or not _KEY_RE.match(keys.replace(" ", "")):
        return ('expected key names separated by commas, e.g. "ctrl+d" or "d,ctrl+d" '
                "(Textual key names: letters, digits, ctrl+x, f1, escape, ...)")
    return None
