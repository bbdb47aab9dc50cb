"""Drill runs on disk: each run a journal of its own, apart from real incidents.

Layout: ``<state_dir>/drills/`` is a state root of its own (the journal's layout below it:
``incidents/<run-id>/journal/...``), like exercises: nothing that lists
``<state_dir>/incidents/`` sees a drill, and a directory whose journal does not begin with
``drill.started`` is not a drill. The restore drill's runbook steps are journaled in the
run's own journal by the runbook executor (``step.*`` entries), beside:

    drill.started   drill (kind id), runbook, scenario, title
    drill.result    drill, outcome (passed|failed|aborted), detail, note, and the measured
                    figures: restore_seconds, rto, data_loss_seconds, rpo, restored_commit,
                    primary_commit, tables ({table: [restored, primary]}), failed_step,
                    backup_tool
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..incident.store import IncidentError, IncidentStore, new_incident_id
from ..journal import Entry, Journal, list_incidents, read_incident
from ..timeutil import Clock, SystemClock
from .schedule import RunSummary

DRILLS = "drills"
RESULTS = ("passed", "failed", "aborted")
FIGURES = ("restore_seconds", "rto", "data_loss_seconds", "rpo", "restored_commit",
           "primary_commit", "tables", "failed_step", "backup_tool")
MAX_NOTE = 2000


class DrillError(IncidentError):
    """A refused drill operation, with a one-line reason."""


def drill_root(state_dir: Path) -> Path:
    return Path(state_dir) / DRILLS


@dataclass(frozen=True)
class DrillRun:
    id: str
    drill: str
    runbook: str
    started_at: float
    by: str
    finished_at: float | None = None
    outcome: str = "running"
    detail: str = ""
    note: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> RunSummary:
        return RunSummary(self.drill, self.started_at, self.finished_at, self.outcome)


def drill_run(run_id: str, entries: list[Entry]) -> DrillRun | None:
    """What a run's journal says (None: not a drill's journal)."""
    starts = [e for e in entries if e.kind == "drill.started"]
    if not starts:
        return None
    s = min(starts, key=lambda e: e.ts)
    d = s.data if isinstance(s.data, dict) else {}
    run = DrillRun(run_id, str(d.get("drill", "")), str(d.get("runbook", "")), s.ts,
                   str(s.author))
    results = [e for e in entries if e.kind == "drill.result"]
    if not results:
        return run
    r = min(results, key=lambda e: e.ts)  # the first result counts; the journal is append-only
    rd = r.data if isinstance(r.data, dict) else {}
    outcome = rd.get("outcome") if rd.get("outcome") in RESULTS else "aborted"
    figures = {k: rd[k] for k in FIGURES if k in rd}
    return DrillRun(run.id, run.drill, run.runbook, run.started_at, run.by, r.ts,
                    str(outcome), str(rd.get("detail", "")), str(rd.get("note", "")), figures)


class DrillStore:
    """Drill runs under one state directory, for one process (one writer file each)."""

    def __init__(self, state_dir: Path, *, mode: str = "personal", clock: Clock | None = None,
                 author: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.root = drill_root(self.state_dir)
        self.mode = mode
        self.clock = clock or SystemClock()
        self.incidents = IncidentStore(self.root, mode=mode, clock=self.clock, author=author)

    def entries(self, run_id: str) -> list[Entry]:
        return list(read_incident(self.root, run_id, recover=False).entries)

    def runs(self) -> list[DrillRun]:
        """Every drill run, newest first."""
        out = []
        for rid in list_incidents(self.root):
            r = drill_run(rid, self.entries(rid))
            if r is not None:
                out.append(r)
        out.sort(key=lambda r: r.started_at, reverse=True)
        return out

    def journal(self, run_id: str) -> Journal:
        return self.incidents.journal(run_id)

    def start(self, drill: str, *, runbook: str = "", scenario: str = "",
              title: str = "") -> str:
        run_id = new_incident_id(f"drill-{drill}", self.clock.now())
        self.journal(run_id).append("drill.started", {
            "drill": drill, "runbook": runbook, "scenario": scenario, "title": title,
            "kind": "drill"})
        return run_id

    def finish(self, run_id: str, outcome: str, *, detail: str = "", note: str = "",
               figures: Mapping[str, Any] | None = None) -> Entry:
        if outcome not in RESULTS:
            raise DrillError(f"outcome must be one of {', '.join(RESULTS)}")
        note = note.strip()
        if len(note) > MAX_NOTE:
            raise DrillError(f"the note is too long (at most {MAX_NOTE} characters)")
        data: dict[str, Any] = {"drill": "", "outcome": outcome, "detail": detail}
        started = drill_run(run_id, self.entries(run_id))
        if started is None:
            raise DrillError(f"{run_id} is not a drill run")
        data["drill"] = started.drill
        if note:
            data["note"] = note
        for k, v in (figures or {}).items():
            if k in FIGURES and v is not None:
                data[k] = v
        return self.journal(run_id).append("drill.result", data)

    def record(self, drill: str, outcome: str, *, note: str = "", title: str = "") -> str:
        """A drill done by hand (a tabletop, a failover test): one run, started and finished."""
        if outcome not in RESULTS:
            raise DrillError(f"outcome must be one of {', '.join(RESULTS)}")
        rid = self.start(drill, title=title)
        self.finish(rid, outcome, note=note, detail=f"recorded by hand: {outcome}")
        return rid

    def close(self) -> None:
        self.incidents.close()
