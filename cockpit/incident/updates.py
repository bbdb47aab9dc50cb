"""Stakeholder status updates drafted from the current state (the engineer edits, then saves)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from ..health import ServiceHealth, Status
from ..plan import IMPACT
from ..text import clean, one_line
from ..timeutil import format_duration
from .clocks import ClockView
from .model import EntryLike, IncidentState


def _hm(ts: float) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(ts))


def draft_update(incident: IncidentState, clocks: Sequence[ClockView],
                 health: Mapping[str, ServiceHealth], entries: Sequence[EntryLike],
                 now: float, update_every: float) -> str:
    """A plain-text update: what is affected, since when, what is being done, when the next one is.

    Titles, notes and service names are other people's text: each is escaped (``clean``)
    before it is put in, so the draft holds no control, escape, bidi or zero-width
    character, whoever wrote them."""
    sev, status = one_line(incident.severity, 4), one_line(incident.status, 12)
    lines = [f"[{sev}] {one_line(incident.title, 300)} - {status.upper()} as of {_hm(now)}",
             ""]
    start = incident.start or incident.declared_at or now
    lines.append(f"Impact: {IMPACT.get(incident.severity, sev)}. "
                 f"Started {_hm(start)} ({format_duration(now - start)} ago).")
    affected = []
    for sid in incident.services:
        h = health.get(sid)
        if h is None:
            affected.append(f"- {one_line(sid, 60)}: unknown")
            continue
        word = {Status.OK: "recovered", Status.WARN: "degraded", Status.FAIL: "down",
                Status.STALE: "no recent answer", Status.UNKNOWN: "unknown"}[h.status]
        if h.status == Status.OK and sid not in incident.failed_services:
            word = "working (no failure seen)"  # never failed: not "recovered"
        affected.append(f"- {one_line(h.title, 60)}: {word}")
    if affected:
        lines += ["Affected services:", *affected]
    # time left is only ever reported for an open incident's running clocks
    rto = [c for c in clocks if c.key.startswith("rto:") and not c.done] \
        if incident.ended_at is None else []
    if rto:
        lines.append("Recovery objectives: " + "; ".join(
            f"{one_line(c.label.removeprefix('RTO '), 60)} {c.time_text()} left"
            if c.remaining >= 0 else
            f"{one_line(c.label.removeprefix('RTO '), 60)} RTO exceeded by "
            f"{c.time_text()}"
            for c in rto))
    # what is being done is an action note; a decision is not an action
    actions = [e for e in entries if e.kind == "note" and (e.data or {}).get("type") == "action"]
    if actions:
        last = actions[-1]
        what = clean((last.data or {}).get("text", ""), keep_newlines=True, limit=2000)
        lines.append(f"What we are doing: {what}")
    if incident.active:
        lines.append(f"Next update by {_hm(now + update_every)}.")
    return "\n".join(lines)
