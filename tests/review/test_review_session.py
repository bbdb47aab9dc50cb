"""The review session: every pane's state as of the cursor ``t``, from a real journal.

The incident is written through the real store and journal (a fixed clock moved by hand), so
the review reads exactly what a cockpit wrote; what is expected at each moment is computed
independently: the clocks core given ``now = t`` on the fold of the entries up to ``t``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.health import Status
from cockpit.incident.clocks import incident_clocks
from cockpit.incident.fold import fold
from cockpit.incident.store import IncidentError, IncidentStore
from cockpit.journal import read_incident
from cockpit.runbooks.errors import StepError
from cockpit.session.review import (
    CHECKPOINT,
    Prefix,
    ReviewError,
    ReviewSession,
    Timeline,
    plan_from_config_text,
)
from cockpit.timeutil import FixedClock

from .helpers import PLAN, SERVICES, T0, record


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, str, dict[str, float]]:
    state = tmp_path / "state"
    iid, at = record(state)
    return state, iid, at


def expected(state: Path, iid: str, t: float):
    entries = [e for e in read_incident(state, iid, recover=False).entries
               if e.kind != "session-start" and e.ts <= t]
    return entries, fold(entries)


@pytest.mark.parametrize("moment", ["declared", "responding", "step done", "db back",
                                    "recovered"])
def test_every_pane_is_the_state_as_of_t(recorded, moment):
    state, iid, at = recorded
    r = ReviewSession(state, iid, plan=PLAN)
    t = r.seek(at[moment])
    entries, inc = expected(state, iid, t)
    view = r.view()
    assert view.now == t
    assert [e.id for e in view.entries] == [e.id for e in entries]
    assert view.incident == inc
    health = {h.service: h for h in view.health}
    assert view.clocks == incident_clocks(inc, SERVICES, health, PLAN.milestones, t)
    # health: the last journaled entry of each service at or before t
    db = [e for e in entries if e.kind == "health" and e.data["service"] == "db"][-1]
    assert health["db"].status.value == db.data["status"]
    assert health["db"].summary == db.data["summary"]
    assert health["db"].key_figure == db.data["key_figure"]
    assert health["db"].rpo_exposure == db.data["rpo_exposure"]
    steps = r.runbooks.states("pg")
    if moment in ("declared", "responding"):
        assert steps == {}
    else:
        assert steps[("pg", "promote")].state == "succeeded"
    if moment == "recovered":
        assert inc is not None and inc.role("commander") == "bob" and inc.status == "recovered"
    elif moment != "declared":
        assert inc is not None and inc.role("commander") == "alice"


def test_clocks_have_the_values_they_had_then(recorded):
    state, iid, at = recorded
    r = ReviewSession(state, iid, plan=PLAN)
    r.seek(at["responding"])
    rto = {c.key: c for c in r.view().clocks}["rto:db"]
    assert rto.elapsed == pytest.approx(at["responding"] - at["declared"])
    assert not rto.done
    r.seek(at["db back"] + 60)
    rto = {c.key: c for c in r.view().clocks}["rto:db"]
    assert rto.done and rto.elapsed == pytest.approx(at["db back"] - at["declared"])
    rpo = {c.key: c for c in r.view().clocks}["rpo:db"]
    assert rpo.elapsed == 0.0
    r.seek(at["declared"])
    rpo = {c.key: c for c in r.view().clocks}["rpo:db"]
    assert rpo.elapsed == 42.0


def test_a_service_with_no_health_yet_is_unknown(tmp_path):
    state = tmp_path / "state"
    clock = FixedClock(T0)
    store = IncidentStore(state, clock=clock, author="a")
    iid = store.declare("x", "P2", ["db"])
    clock.advance(10)
    store.journal(iid).append("health", {"service": "cache", "status": "warn",
                                         "summary": "slow"})
    store.close()
    r = ReviewSession(state, iid, plan=PLAN)
    r.seek(T0)
    health = {h.service: h for h in r.view().health}
    assert health["db"].status == Status.UNKNOWN and health["cache"].status == Status.UNKNOWN
    r.seek(T0 + 10)
    assert {h.service: h for h in r.view().health}["cache"].status == Status.WARN


def test_scrubbing_moves_entry_by_entry_minute_by_minute_and_to_a_typed_time(recorded):
    state, iid, at = recorded
    r = ReviewSession(state, iid, plan=PLAN)
    times = r.timeline.times
    assert r.t == times[-1]  # opens at the last entry
    r.seek(times[0])
    seen = [r.t]
    while True:
        before = r.t
        r.step_entry(1)
        if r.t == before:
            break
        seen.append(r.t)
    assert seen == sorted(set(times))  # every distinct moment, in order, once
    r.step_entry(-1)
    assert r.t == seen[-2]
    r.seek(times[0])
    r.step_minutes(2)
    assert r.t == times[0] + 120
    r.step_minutes(-10)
    assert r.t == times[0]  # kept within the incident
    r.seek_text("T+3m30s")
    assert r.t == times[0] + 210
    r.seek_text("20:28")
    assert r.t == T0 + 80
    r.seek_text("2026-05-28 20:29:10")
    assert r.t == T0 + 150
    with pytest.raises(ReviewError):
        r.seek_text("yesterday-ish")


def test_playing_moves_t_at_the_speed_chosen_and_stops_at_the_end(recorded):
    state, iid, at = recorded
    r = ReviewSession(state, iid, plan=PLAN)
    r.seek(r.timeline.start)
    r.speed = 10.0
    r.playing = True
    assert r.advance(1.0) and r.t == r.timeline.start + 10
    assert r.set_speed(True) == 30.0
    while r.advance(60.0):
        pass
    assert r.t == r.timeline.end and not r.playing


def test_nothing_can_be_written_or_run(recorded):
    state, iid, _ = recorded
    before = sorted((p.relative_to(state), p.stat().st_size) for p in state.rglob("*"))
    r = ReviewSession(state, iid, plan=PLAN)
    caps = r.capabilities
    assert not caps.declare and not caps.execute and not caps.follow and caps.why_not_execute
    for act in (lambda: r.declare("t", "P1", [], None), lambda: r.note("action", "x"),
                lambda: r.set_status("closed"), lambda: r.assign("scribe", "x"),
                lambda: r.update(title="y"), lambda: r.follow(None)):
        with pytest.raises(IncidentError):
            act()
    lib = r.runbooks.library().library
    rb = lib.runbooks[0]  # the built-in library
    step = rb.steps[0]
    from cockpit.runbooks.state import StepState

    st = StepState(rb.id, step.id)
    for act2 in (lambda: r.runbooks.execute(rb, step, {}, None, st),
                 lambda: r.runbooks.dry_run(rb, step, {}),
                 lambda: r.runbooks.confirm(rb, step, st),
                 lambda: r.runbooks.skip(step, st, "why")):
        with pytest.raises(StepError):
            act2()
    r.view()
    assert sorted((p.relative_to(state), p.stat().st_size) for p in state.rglob("*")) == before


def test_a_missing_incident_is_one_line(tmp_path):
    with pytest.raises(ReviewError, match="no such incident: nope "):
        ReviewSession(tmp_path, "nope")


def test_the_fold_at_any_position_is_the_fold_of_the_prefix(recorded):
    """Checkpointed fold == plain fold, across checkpoint boundaries."""
    state, iid, _ = recorded
    base = [e for e in read_incident(state, iid, recover=False).entries
            if e.kind != "session-start"]
    # many entries: flapping health and notes, crossing several checkpoints
    entries = list(base)
    from cockpit.incident.model import SimEntry

    t = base[-1].ts
    for i in range(3 * CHECKPOINT + 17):
        t += 1
        kind = "health" if i % 3 else "note"
        data = ({"service": "db", "status": "ok" if i % 2 else "fail", "summary": str(i)}
                if kind == "health" else {"type": "communication", "text": str(i)})
        entries.append(SimEntry(t, "x", kind, data))
    tl = Timeline(entries)
    for n in (0, 1, CHECKPOINT - 1, CHECKPOINT, CHECKPOINT + 1, 2 * CHECKPOINT + 5,
              len(entries)):
        assert tl.fold_at(n) == fold(entries[:n]), n
    p = Prefix(tl.entries, 10)
    assert len(p) == 10 and p[-1] is tl.entries[9] and list(p) == tl.entries[:10]
    with pytest.raises(IndexError):
        p[10]


def test_the_plan_comes_from_a_captured_configuration():
    root = Path(__file__).resolve().parents[2]
    plan = plan_from_config_text((root / "cockpit.example.toml").read_text())
    assert plan.services and all(s.rto is not None for s in plan.services[:1])
    with pytest.raises(ReviewError, match=r"bundle\.tar:cockpit\.toml"):
        plan_from_config_text("[[[", "bundle.tar:cockpit.toml")


def test_without_a_configuration_the_review_has_the_targets_the_pir_has():
    """No configuration captured or named: the review's RTO/RPO clocks use the plan's default
    targets, the same ones ``cockpit pir`` and ``cockpit metrics`` report against."""
    from cockpit.incident.model import SimEntry
    from cockpit.review.pir import PLAN_TARGETS
    from cockpit.session.review import plan_from_entries

    plan = plan_from_entries([SimEntry(1.0, "a", "incident.declared",
                                       {"title": "t", "severity": "P0",
                                        "services": ["database", "payments"]})])
    by_id = {s.id: s for s in plan.services}
    db = next(t for t in PLAN_TARGETS if t.id == "database")
    assert (by_id["database"].rto, by_id["database"].rpo) == (db.rto, db.rpo) == (3600.0, 900.0)
    assert (by_id["payments"].rto, by_id["payments"].rpo) == (None, None)  # not in the plan
    assert "plan's default targets" in plan.source


def test_a_missing_bundle_file_is_not_called_an_incident(tmp_path):
    for cmd in ("verify", "review"):
        r = subprocess.run([sys.executable, "-m", "cockpit", "--state-dir", str(tmp_path), cmd,
                            "nosuch.tar"], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and r.stderr.startswith(
            "cockpit: no such bundle file or incident: nosuch.tar (in "), (cmd, r.stderr)
