"""The post-incident review in Markdown, on the plan's template (incident documentation, root
cause analysis, action items tracking, lessons learned), with what no template has: per
service RTO achieved vs target and RPO achieved (the data-loss window) vs target, the plan's
milestones met or missed with their times, the timeline, the runbook steps run, the
communications, roles and hand-overs.

Every figure is the metrics core's (``incident.metrics.incident_metrics``): nothing is
computed here but presentation. Facts are filled in; the sections only people can write are
marked ``TO BE WRITTEN BY THE REVIEW TEAM``. Every text that came from a journal is
sanitized (``text.one_line``), masked with the configuration's secrets and escaped for
Markdown: no raw HTML, no links (not even autolinks), no headings, no table breaks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..incident.clocks import ServiceTargets
from ..incident.log import describe
from ..incident.metrics import REVIEW_DUE, Figure, IncidentMetrics, incident_metrics
from ..incident.model import EntryLike
from ..plan import Milestones
from ..text import one_line
from ..timeutil import format_duration, short_duration

HUMAN = "*TO BE WRITTEN BY THE REVIEW TEAM (not filled in by the cockpit).*"
TIMELINE_ROWS = 2000  # a longer timeline keeps its first and last 1000 rows
# the plan's targets, used only when no configuration travels with the incident
PLAN_TARGETS = (ServiceTargets("database", "Database", 3600.0, 900.0),
                ServiceTargets("backend", "Backend API", 7200.0, None),
                ServiceTargets("frontend", "Frontend", 14400.0, None),
                ServiceTargets("redis", "Redis", 7200.0, 3600.0))

_MD = re.compile(r"([\\`*_\[\]<>|#~&:@])")
_WWW = re.compile(r"(?i)(w)(ww)\.")


def md(text: object, limit: int = 300, mask: Callable[[str], str] | None = None) -> str:
    """One line of untrusted text, safe in Markdown and in a table cell: every character
    that could start markup, HTML, an entity, a link or an autolink is backslash-escaped."""
    s = one_line(text, limit)
    if mask is not None:
        masked = mask(s)
        if masked != s:  # one_line of one_line's output is itself: only a change is redone
            s = one_line(masked, limit)
    s = _MD.sub(r"\\\1", s)
    return _WWW.sub(r"\1\2\\.", s) if "." in s else s


def utc(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def dur(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def verdict(f: Figure) -> str:
    if f.met is True:
        return "MET"
    if f.met is False:
        return "MISSED" + (" (still running)" if f.running else "")
    return "running" if f.running else "UNKNOWN (not measured)"


@dataclass(frozen=True)
class Source:
    """Where the incident came from, for the header."""

    incident_id: str
    where: str  # "bundle X.tar (signed by Y, verified)" / "state directory D"
    config: str  # "the captured configuration" / "the plan's default targets"


_TERMINAL = {"step.succeeded": "succeeded", "step.failed": "FAILED",
             "step.confirmed": "confirmed done", "step.failed_marked": "marked failed",
             "step.skipped": "skipped", "step.rolled_back": "rolled back",
             "step.rollback_failed": "ROLLBACK FAILED", "step.overridden": "overridden",
             "step.verify_passed": "verified", "step.verify_failed": "VERIFY FAILED",
             "step.dry_run": "dry run"}


def _steps(entries: Sequence[EntryLike]) -> list[dict[str, Any]]:
    """One row per run of a step: when, outcome, duration, who confirmed."""
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    order: list[tuple[str, str, int]] = []
    for e in entries:
        if not e.kind.startswith("step."):
            continue
        d = e.data or {}
        key = (str(d.get("runbook", "?")), str(d.get("step", "?")), int(d.get("attempt", 0) or 0))
        r = runs.get(key)
        if r is None:
            r = runs[key] = {"start": e.ts, "end": None, "outcome": "started, no outcome",
                             "duration": None, "confirmed": "", "by": e.author}
            order.append(key)
        if e.kind == "step.claimed" and d.get("confirmation"):
            r["confirmed"] = e.author
        if e.kind in ("step.confirmed", "step.overridden", "step.failed_marked"):
            r["confirmed"] = e.author
        if e.kind in _TERMINAL:
            r["outcome"] = _TERMINAL[e.kind]
            r["end"] = e.ts
            got = d.get("duration")
            r["duration"] = (float(got) if isinstance(got, int | float)
                             and not isinstance(got, bool) else e.ts - r["start"])
    return [{"runbook": k[0], "step": k[1], "attempt": k[2], **runs[k]} for k in order]


def _timeline(entries: Sequence[EntryLike]) -> list[EntryLike]:
    """What happened: every entry but bookkeeping and the flight recorder's figure-only
    health entries (a health entry shows when the status word changes)."""
    out: list[EntryLike] = []
    last: dict[str, str] = {}
    for e in entries:
        if e.kind in ("session-start", "step.output"):
            continue
        if e.kind == "health":
            d = e.data or {}
            sid, st = str(d.get("service")), str(d.get("status"))
            if last.get(sid) == st:
                continue
            last[sid] = st
        out.append(e)
    return out


def render(entries: Sequence[EntryLike], services: Sequence[ServiceTargets],
           milestones: Milestones, now: float, source: Source,
           mask: Callable[[str], str] | None = None) -> str:
    """The review of the incident of ``entries`` as of ``now`` (its end once it ended)."""
    m = incident_metrics(entries, services, milestones, now)
    if m is None:
        raise ValueError(f"{source.incident_id}: no declaration in the journal")
    return "\n".join(_render(m, entries, services, now, source, mask)) + "\n"


def _render(m: IncidentMetrics, entries: Sequence[EntryLike],
            services: Sequence[ServiceTargets], now: float, source: Source,
            mask: Callable[[str], str] | None) -> list[str]:
    inc = m.incident

    memo: dict[tuple[str, int], str] = {}  # authors, roles, labels: the same text often

    def t(x: object, limit: int = 300) -> str:
        if type(x) is not str:
            return md(x, limit, mask)
        got = memo.get((x, limit))
        if got is None:
            got = memo[x, limit] = md(x, limit, mask)
        return got

    titles = {s.id: s.title for s in services}
    out = [f"# Post-incident review: {t(inc.title, 200)}", "",
           f"Incident `{t(source.incident_id, 140)}` | severity {t(inc.severity, 10)} | "
           f"status {t(inc.status, 20)}", "",
           f"Generated by the cockpit from {t(source.where, 300)}; targets from "
           f"{t(source.config, 200)}. Facts below are filled in from the journal; sections "
           "marked *TO BE WRITTEN BY THE REVIEW TEAM* are for people.", ""]
    # ---- 1. incident documentation
    out += ["## 1. Incident documentation", "", "| Fact | Value |", "| --- | --- |",
            f"| Affected services | {', '.join(t(titles.get(s, s), 80) for s in inc.services) or '-'} |",
            f"| Impact start | {utc(inc.impact_start)} |",
            f"| Declared | {utc(inc.declared_at)} |",
            f"| Responding | {utc(inc.responding_at)} |",
            f"| Mitigated | {utc(inc.mitigated_at)} |",
            f"| Recovered | {utc(inc.recovered_at)} |",
            f"| Closed | {utc(inc.closed_at)} |",
            f"| Time to recover (incident) | {dur(m.time_to_recover)} |",
            f"| Figures measured at | {utc(m.measured_at)} |"]
    if m.review_due is not None:
        state = (f"done {utc(m.review_done_at)}" if m.review_done_at is not None
                 else "OVERDUE" if m.review_overdue(now) else "not done yet")
        out.append(f"| Review due | {utc(m.review_due)} ({state}) |")
    else:
        out.append(f"| Review due | {format_duration(REVIEW_DUE)} after closing (not closed) |")
    out += ["", "### Recovery objectives per service", "",
            "| Service | RTO target | RTO achieved | RTO | RPO target | RPO achieved "
            "(data-loss window) | RPO |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for sid in inc.services:
        rto, rpo = m.figure(f"rto:{sid}"), m.figure(f"rpo:{sid}")
        if rto is None and rpo is None:
            out.append(f"| {t(titles.get(sid, sid), 80)} | no target | - | - | no target | - "
                       "| - |")
            continue
        if rto is None:
            rto_cells = "no target | - | -"
        elif rto.achieved is None:
            rto_cells = (f"{short_duration(rto.target or 0)} | not recovered (running at "
                         f"end) | {verdict(rto)}")
        else:
            rto_cells = f"{short_duration(rto.target or 0)} | {dur(rto.achieved)} | {verdict(rto)}"
        if rpo is None:
            rpo_cells = "no target | - | -"
        else:
            got = "unknown (not measured)" if rpo.achieved is None else dur(rpo.achieved)
            rpo_cells = f"{short_duration(rpo.target or 0)} | {got} | {verdict(rpo)}"
        out.append(f"| {t(titles.get(sid, sid), 80)} | {rto_cells} | {rpo_cells} |")
    out += ["", "### Response milestones (the plan: detect < 5 min, respond < 15 min, "
            "communicate < 30 min)", "",
            "| Milestone | Target | Achieved | At (UTC) | Result |", "| --- | --- | --- | --- | --- |"]
    at = {"milestone:detect": inc.declared_at, "milestone:respond": inc.responding_at,
          "milestone:communicate": inc.first_communication_at}
    for f in m.milestones:
        out.append(f"| {t(f.label, 40)} | {short_duration(f.target or 0)} | "
                   f"{dur(f.achieved)} | {utc(at.get(f.key))} | {verdict(f)} |")
    # ---- timeline
    tl = _timeline(entries)
    out += ["", "### Timeline", "", "| Time (UTC) | Event | Who |", "| --- | --- | --- |"]
    shown: list[EntryLike | None] = list(tl)
    if len(tl) > TIMELINE_ROWS:
        half = TIMELINE_ROWS // 2
        shown = [*tl[:half], None, *tl[-half:]]
    for e in shown:
        if e is None:
            out.append(f"| ... | {len(tl) - TIMELINE_ROWS} events left out here (`cockpit log` "
                       "shows every entry) | |")
            continue
        label, text = describe(e)
        out.append(f"| {utc(e.ts)} | {t(label, 40)}: {t(text, 300)} | {t(e.author, 60)} |")
    # ---- steps
    runs = _steps(entries)
    out += ["", "### Runbook steps run", ""]
    if runs:
        out += ["| Started (UTC) | Runbook / step | Attempt | Outcome | Duration | Confirmed "
                "by |", "| --- | --- | --- | --- | --- | --- |"]
        for r in runs:
            out.append(f"| {utc(r['start'])} | {t(r['runbook'], 80)} / {t(r['step'], 80)} | "
                       f"{r['attempt']} | {t(r['outcome'], 40)} | {dur(r['duration'])} | "
                       f"{t(r['confirmed'] or '-', 60)} |")
    else:
        out.append("No runbook step was run from the cockpit.")
    # ---- communications
    comms = [e for e in entries if e.kind == "note" and (e.data or {}).get("type") == "communication"]
    out += ["", "### Communications sent", ""]
    if comms:
        out += ["| Time (UTC) | Who | Message |", "| --- | --- | --- |"]
        out += [f"| {utc(e.ts)} | {t(e.author, 60)} | {t((e.data or {}).get('text', ''), 500)} |"
                for e in comms]
    else:
        out.append("No communication was journaled.")
    # ---- roles
    roles = [e for e in entries if e.kind == "role.assigned"]
    out += ["", "### Roles and hand-overs", ""]
    if roles:
        out += ["| Time (UTC) | Role | Person | Handed over from | Assigned by |",
                "| --- | --- | --- | --- | --- |"]
        for e in roles:
            d = e.data or {}
            out.append(f"| {utc(e.ts)} | {t(d.get('role', '?'), 40)} | {t(d.get('person', '?'), 80)}"
                       f" | {t(d.get('handover_from') or '-', 80)} | {t(e.author, 60)} |")
    else:
        out.append("No role was assigned.")
    # ---- the human sections
    out += ["", "## 2. Root cause analysis", "", HUMAN, "",
            "- What happened (the technical cause):", "- Why it happened (contributing "
            "factors, five whys):", "- Why it was not caught earlier:", "",
            "## 3. Action items tracking", "", HUMAN, "",
            "| Action | Owner | Due date | Status |", "| --- | --- | --- | --- |",
            "|  |  |  |  |", "",
            "## 4. Lessons learned", "", HUMAN, "", "### What went well", "", "-", "",
            "### What went wrong", "", "-", "", "### Where we got lucky", "", "-", ""]
    return out
