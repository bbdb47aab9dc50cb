"""How a log entry reads: a short label and a one-line text, and the log view's filter.

The text is untrusted (other writers): sanitize it to show it.
"""

from __future__ import annotations

from ..health import Status
from ..journal.validate import UNREADABLE, unreadable_line
from .model import EntryLike


def describe(e: EntryLike) -> tuple[str, str]:
    """A short label and a one-line description of an entry (untrusted: sanitize to show)."""
    d = e.data or {}
    k = e.kind
    if k == UNREADABLE:
        return "unreadable", unreadable_line(e)
    if k == "note":
        return str(d.get("type", "note")), str(d.get("text", ""))
    if k == "incident.declared":
        services = ", ".join(str(s) for s in d.get("services") or [])
        return "declared", f"{d.get('severity', '')} {d.get('title', '')} [{services}]"
    if k == "incident.status":
        return "status", f"incident is now {d.get('status', '?')}"
    if k == "incident.updated":
        parts = []
        for a, b in d.items():
            parts.append(f"{a}: {', '.join(map(str, b))}" if isinstance(b, list) else f"{a}: {b}")
        return "updated", "; ".join(parts)
    if k == "role.assigned":  # the role first: a cut line still says which role (POLISH 14)
        text = f"{d.get('role', '?')}: {d.get('person', '?')}"
        if d.get("handover_from"):
            text += f" (handed over from {d['handover_from']})"
        return "role", text
    if k == "inject":  # an exercise inject: what the players are told
        aud = d.get("audience")
        return "inject", str(d.get("text", "")) + (f" (for the {aud})" if aud else "")
    if k == "health":
        return "health", f"{d.get('service', '?')} {_status_word(d.get('status'))} {d.get('summary', '')}"
    if k.startswith("step."):
        return k[5:], f"{d.get('runbook', '')}/{d.get('step', '')} {d.get('detail', '')}".strip()
    return k, ", ".join(f"{a}={b}" for a, b in d.items())


def _status_word(status: object) -> str:
    """The pane's word for a journaled status ("fail" reads DOWN, as everywhere on screen)."""
    try:
        return Status(str(status)).word
    except ValueError:
        return str(status).upper()


def matches(e: EntryLike, kinds: frozenset[str] | None = None, author: str | None = None,
            text: str | None = None) -> bool:
    """The log view's filter: entry kind label, author, and a case-insensitive search."""
    label, body = describe(e)
    if kinds and label not in kinds:
        return False
    if author and e.author != author:
        return False
    if text:
        t = text.casefold()
        return t in body.casefold() or t in e.author.casefold() or t in label.casefold()
    return True
