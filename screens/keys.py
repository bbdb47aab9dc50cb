"""Textual bindings built from the cockpit's key table (``cockpit.keys``), and the help
screen's rows built from those bindings with the user's keymap applied."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding, BindingType

from cockpit.keys import BY_ID, specs


def bindings(scope: str) -> list[BindingType]:
    """Every binding of ``scope``, each with its id (so ``[keys]`` can rebind it)."""
    return [Binding(k.keys, k.action, k.description, show=k.show, key_display=k.key_display,
                    priority=k.priority, id=k.id) for k in specs(scope)]


def display_keys(keys: str) -> str:
    """Keys as they are typed: ``+ / =``, not ``plus / equals_sign``."""
    from textual.keys import format_key

    names = {"question_mark": "?", "slash": "/", "pageup": "pgup", "pagedown": "pgdn",
             "enter": "enter", "space": "space"}
    return " / ".join(names.get(k) or format_key(k) for k in keys.split(","))


def help_rows(groups: Iterable[tuple[str, Iterable[BindingType]]],
              keymap: Mapping[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(keys, what)]) from bindings: the effective keys (keymap applied) and the
    help text of each binding id."""
    out = []
    for title, binds in groups:
        rows = []
        for b in binds:
            if not isinstance(b, Binding):
                continue
            spec = BY_ID.get(b.id or "")
            keys = keymap.get(b.id or "", b.key)
            rows.append((display_keys(keys), spec.help if spec else b.description))
        out.append((title, rows))
    return out
