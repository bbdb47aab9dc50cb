"""The after-action report and improvement plan of an exercise, in Markdown (HSEEP/CISA
shape): overview, objectives, the response against the plan's targets, per-inject expected
versus actual outcomes, strengths, areas for improvement, the improvement plan (issue,
corrective action, owner, due).

The response-time and RTO/RPO figures are the metrics core's (``incident.metrics``), the
same the post-incident review shows, measured in scenario time; the outcome decisions are
``scoring.decide``'s. Every text that came from a journal or a scenario file is sanitized
(``text.one_line``) and escaped for Markdown. Marked as an exercise in its title, its first
line and its last.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from ..incident.log import describe
from ..incident.metrics import Figure
from ..text import one_line
from ..timeutil import format_clock, format_duration, short_duration
from .schema import Inject
from .scoring import Decision, Score, decide
from .timeline import Timeline

DUE_DAYS = 7  # the plan: documentation updated within 7 days of a test
MARK_WORD = {"met": "met", "partly": "partly met", "missed": "missed", "late": "late"}
_MD = re.compile(r"([\\`*_\[\]<>|#~])")


def md(text: object, limit: int = 300) -> str:
    """One line of untrusted text, safe in Markdown (and in a table cell)."""
    return _MD.sub(r"\\\1", one_line(text, limit))


def _t(offset: float | None) -> str:
    return "-" if offset is None else f"T+{format_clock(offset)}"


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def journal_word(d: Decision) -> str:
    if d.state == "met":
        return f"met at {_t(d.achieved)}"
    if d.state == "late":
        return f"late by {format_duration(d.late_by or 0)} (at {_t(d.achieved)})"
    if d.state == "overdue":
        return "overdue: not done yet"
    if d.state == "manual":
        return "for the evaluator"
    return d.state


def _figure_row(f: Figure) -> str:
    got = "-" if f.achieved is None else format_duration(f.achieved)
    word = "met" if f.met else ("MISSED" if f.met is False else (
        "running" if f.running else "not measured"))
    target = "-" if f.target is None else short_duration(f.target)
    return f"| {md(f.label)} | {target} | {got} | {word} |"


def _clock_summary(tl: Timeline) -> str:
    segs = tl.clock.segments
    pauses = sum(1 for s in segs if s.action == "pause")
    jumps = sum(1 for s in segs if s.action == "jump")
    speeds = sorted({s.speed for s in segs if s.action == "speed"})
    parts = [f"{pauses} pause{'s' if pauses != 1 else ''}", f"{jumps} jump{'s' if jumps != 1 else ''}"]
    if speeds:
        parts.append("speeds " + ", ".join(f"{s:g}x" for s in speeds))
    return ", ".join(parts)


def render(tl: Timeline, wall_now: float, score: Score | None = None) -> str:
    """The report of the exercise as of ``wall_now`` (its end, once it ended)."""
    score = score or decide(tl, wall_now)
    sc, rec = tl.scenario, tl.record
    ms = sc.milestones
    out: list[str] = []
    add = out.append
    add(f"# EXERCISE: after-action report and improvement plan: {md(sc.title)}")
    add("")
    add(f"> **EXERCISE, not a real incident.** Exercise `{md(rec.id)}` of the scenario "
        f"{md(sc.id)}. Every service state came from the scenario, every runbook step was "
        "rehearsed: nothing ran.")
    add("")
    add("## 1. Overview")
    add("")
    add("| | |")
    add("| --- | --- |")
    add(f"| Exercise | {md(rec.id)} |")
    add(f"| Scenario | {md(sc.title)} ({md(sc.id)}; category {md(sc.category or '-')}) |")
    add(f"| Started | {_date(rec.started_at)} by {md(rec.facilitator)} (facilitator) |")
    state = "ended" if score.ended else "still running"
    add(f"| Scenario time | {_t(score.offset)} of {_t(sc.length)} ({state}) |")
    add(f"| Clock | {_clock_summary(tl)} |")
    players = tl.roster()
    add(f"| Players | {md(', '.join(players)) if players else 'none recorded'} |")
    pct = score.percent
    counts = ", ".join(f"{MARK_WORD[k]} {score.count(k)}" for k in ("met", "partly", "late",
                                                                      "missed"))
    add(f"| Score | {'-' if pct is None else f'{pct:g} %'} of {len(score.scored)} scored "
        f"outcomes ({counts}) |")
    if sc.description:
        add("")
        add(md(sc.description, 1000))
    add("")
    add("## 2. Objectives")
    add("")
    for i, obj in enumerate(sc.objectives or ("(none stated in the scenario)",), 1):
        add(f"{i}. {md(obj)}")
    add("")
    add("## 3. Response against the plan's targets")
    add("")
    m = score.metrics
    if m is None:
        add("No incident was declared: none of the plan's clocks started.")
    else:
        add(f"The players' incident: {md(m.incident.severity)} {md(m.incident.title)}, "
            f"declared at {_t((m.incident.declared_at or tl.base) - tl.base)}; figures in "
            "scenario time (the same metrics core as the post-incident review).")
        add("")
        add("| Target | Plan | Achieved | Result |")
        add("| --- | --- | --- | --- |")
        for f in (*m.milestones, *m.rto, *m.rpo):
            add(_figure_row(f))
    add("")
    add("## 4. Injects: expected and actual outcomes")
    for inj, decisions in _by_inject(score.decisions):
        at = decisions[0].inject_at
        who = "" if inj.audience == "all" else f" (for the {md(inj.audience)})"
        kind = " (spare)" if inj.spare else ""
        add("")
        add(f"### {_t(at) if at is not None else 'not played'}{kind}: "
            f"{md(inj.synopsis or inj.id)}{who}")
        add("")
        add("| Expected outcome | Deadline | From the journal | Evaluator | Comment |")
        add("| --- | --- | --- | --- | --- |")
        for d in decisions:
            mark = d.mark
            evidence = f" ({md(d.evidence, 120)})" if d.evidence and d.state in (
                "met", "late") else ""
            add(f"| {md(d.outcome.describe(ms))} | {_t(d.deadline)} | "
                f"{journal_word(d)}{evidence} | "
                f"{MARK_WORD.get(mark.mark, '-') if mark else '-'} | "
                f"{md(mark.comment) + ' (' + md(mark.author, 40) + ')' if mark else ''} |")
    strengths = [d for d in score.decisions if d.final == "met"]
    weak = [d for d in score.decisions if d.final in ("late", "missed", "partly", "overdue")]
    missed_figs = [f for f in ((*m.milestones, *m.rto) if m else ()) if f.met is False]
    add("")
    add("## 5. Strengths")
    add("")
    for d in strengths:
        add(f"- {md(d.outcome.describe(ms))}: {journal_word(d)}.")
    for f in ((*m.milestones, *m.rto) if m else ()):
        if f.met:
            add(f"- {md(f.label)} within the plan's {short_duration(f.target or 0)}.")
    if not strengths and not (m and any(f.met for f in (*m.milestones, *m.rto))):
        add("- None recorded.")
    add("")
    add("## 6. Areas for improvement")
    add("")
    for d in weak:
        why = journal_word(d) if d.mark is None else (
            f"evaluator: {MARK_WORD[d.mark.mark]}: {md(d.mark.comment)}")
        add(f"- {md(d.outcome.describe(ms))}: {why}.")
    for f in missed_figs:
        got = "not reached" if f.achieved is None else format_duration(f.achieved)
        add(f"- {md(f.label)}: {got} (the plan: {short_duration(f.target or 0)}).")
    if not weak and not missed_figs:
        add("- None recorded.")
    add("")
    add("## 7. Improvement plan")
    add("")
    due = _date(rec.started_at + DUE_DAYS * 86400)[:10]
    add("| Issue | Corrective action | Owner | Due |")
    add("| --- | --- | --- | --- |")
    rows = 0
    for d in weak:
        o = d.outcome
        add(f"| {md(o.describe(ms))} ({journal_word(d) if d.mark is None else MARK_WORD[d.mark.mark]}) "
            f"| {md(o.corrective or 'Review in the hot wash; update the runbook or the plan')} "
            f"| {md(o.owner or 'DR lead')} | {due} |")
        rows += 1
    for f in missed_figs:
        add(f"| {md(f.label)} missed the plan's target | Review the procedure and its timings "
            f"against the plan | DR lead | {due} |")
        rows += 1
    if not rows:
        add(f"| (nothing missed) | Keep the cadence: the next exercise as planned | DR lead | {due} |")
    add("")
    add("## Appendix: the exercise log (scenario time)")
    add("")
    add("| Time | Who | What |")
    add("| --- | --- | --- |")
    sim_end = tl.base + score.offset
    for e in tl.log(sim_end, None):
        label, text = describe(e)
        add(f"| {_t(e.ts - tl.base)} | {md(e.author, 40)} | {md(label, 20)}: {md(text, 200)} |")
    add("")
    add(f"*EXERCISE report of {md(rec.id)}, made {_date(wall_now)}: not a real incident.*")
    return "\n".join(out) + "\n"


def _by_inject(decisions: Iterable[Decision]) -> list[tuple[Inject, list[Decision]]]:
    groups: dict[str, tuple[Inject, list[Decision]]] = {}
    for d in decisions:
        groups.setdefault(d.inject.id, (d.inject, []))[1].append(d)
    return sorted(groups.values(), key=lambda g: (
        g[1][0].inject_at is None, g[1][0].inject_at or 0.0))
