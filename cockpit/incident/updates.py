"""Stakeholder status updates drafted from the current state (the engineer edits, then saves)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from ..health import ServiceHealth, Status
from ..plan import IMPACT
from ..timeutil import format_duration
from .clocks import ClockView
from .model import EntryLike, IncidentState


def _hm(ts: float) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(ts))


def draft_update(incident: IncidentState, clocks: Sequence[ClockView],
                 health: Mapping[str, ServiceHealth], entries: Sequence[EntryLike],
                 now: float, update_every: float) -> str:
    """A plain-text update: what is affected, since when, what is being done, when the next one is."""
    lines = [f"[{incident.severity}] {incident.title} - {incident.status.upper()} as of {_hm(now)}", ""]
    start = incident.start or incident.declared_at or now
    lines.append(f"Impact: {IMPACT.get(incident.severity, incident.severity)}. "
                 f"Started {_hm(start)} ({format_duration(now - start)} ago).")
    affected = []
    for sid in incident.services:
        h = health.get(sid)
        if h is None:
            affected.append(f"- {sid}: unknown")
            continue
        word = {Status.OK: "recovered", Status.WARN: "degraded", Status.FAIL: "down",
                Status.STALE: "no recent answer", Status.UNKNOWN: "unknown"}[h.status]
        affected.append(f"- {h.title}: {word}")
    if affected:
        lines += ["Affected services:", *affected]
    rto = [c for c in clocks if c.key.startswith("rto:") and not c.done]
    if rto:
        lines.append("Recovery objectives: " + "; ".join(
            f"{c.label.removeprefix('RTO ')} {c.value_text()} left" if c.remaining >= 0
            else f"{c.label.removeprefix('RTO ')} RTO exceeded by {c.value_text().lstrip('+')}"
            for c in rto))
    actions = [e for e in entries if e.kind == "note" and (e.data or {}).get("type") in ("action", "decision")]
    if actions:
        last = actions[-1]
        lines.append(f"What we are doing: {(last.data or {}).get('text', '')}")
    if incident.active:
        lines.append(f"Next update by {_hm(now + update_every)}.")
    return "\n".join(lines)
