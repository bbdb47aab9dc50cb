"""Running a drill's runbook unattended: each step in order through the runbook executor
(``launch.start``: claimed, run by the detached supervisor, journaled in the drill's own
journal), its verify gate run and journaled (``verify.run_verify``), then always the
``cleanup`` step; the measured figures recorded as the run's ``drill.result``.

Ctrl-C (``KeyboardInterrupt``) while a step runs stops that step the way its timeout would
(SIGTERM to its supervisor, which stops the whole tree and journals the result), still runs
the cleanup, and records the run ``aborted``; a second Ctrl-C leaves without the cleanup,
and the result says what is left and how to remove it.

The restore drill's figures:

- restore time: from the start of the ``restore`` step to the end of the ``start`` step
  (the restored cluster out of recovery, accepting writes), against the database RTO;
- data-loss window: the primary's newest commit minus the restored cluster's newest
  replayed commit (the ``check`` step's ``DRILL`` lines), against the database RPO;
- row counts of the chosen tables, restored and primary.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..redact import redact_text
from ..runbooks import launch
from ..runbooks import state as _steps
from ..runbooks.claims import ClaimedBy
from ..runbooks.launch import StartedRun
from ..runbooks.model import Runbook, Step
from ..runbooks.verify import run_verify
from ..text import one_line
from ..timeutil import format_duration
from .schedule import DrillKind
from .store import DrillStore

CLEANUP = "cleanup"
DATABASE_RTO = 3600.0  # the plan's database targets (when cockpit.toml has none)
DATABASE_RPO = 900.0
LINE_RE = re.compile(r"^DRILL ([a-z_]+)=(\S+)$")
TABLE_RE = re.compile(r"^DRILL table (\S+) restored=(\d+) primary=(\d+)$")
WAIT_EXTRA = 120.0  # beyond a step's own timeout (the supervisor kills it at its timeout)
STOP_WAIT = 30.0  # a stopped step's supervisor: SIGTERM, the grace period, its journaling


@dataclass
class DrillResult:
    run_id: str
    outcome: str
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)


def _stop(run: StartedRun) -> str:
    """Stop a running step as its timeout would: SIGTERM to its supervisor, which stops the
    command's whole tree and journals the result."""
    if not run.alive():
        return "it had ended"
    try:
        os.kill(run.supervisor_pid, signal.SIGTERM)
    except ProcessLookupError:
        return "it had ended"
    st = run.wait(timeout=STOP_WAIT)
    if st is None:
        return f"its supervisor (pid {run.supervisor_pid}) is still running"
    return f"stopped: {st.state}"


def _cleanup_words(runbook: Runbook, cleanup: Step, params: Mapping[str, Any]) -> str:
    """Where to find the cleanup to run by hand, and the values it runs with (the scratch
    directory...), secret values masked: it goes into the journal. (A script squeezed into
    one line would not run: a comment swallows the rest.)"""
    where = (f"the {cleanup.id} step of runbook {runbook.id} (`cockpit runbooks show "
             f"{runbook.id}` shows its command)")
    try:
        r = runbook.render(cleanup, params)
    except Exception:  # noqa: BLE001 - only words for a message
        return where
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(r.env.items()))
    return one_line(redact_text(f"{where} with {env}" if env else where, r.secrets), 600)


def parse_figures(text: str) -> dict[str, Any]:
    """The ``DRILL`` lines of the check step's output."""
    out: dict[str, Any] = {}
    tables: dict[str, list[int]] = {}
    for line in text.splitlines():
        line = line.strip()
        m = TABLE_RE.match(line)
        if m:
            tables[m.group(1)] = [int(m.group(2)), int(m.group(3))]
            continue
        m = LINE_RE.match(line)
        if m:
            k, v = m.groups()
            if k in ("restored_commit", "primary_commit"):
                try:
                    out[k] = float(v)
                except ValueError:
                    continue
            elif k == "primary_commit_source":
                out[k] = v
    if tables:
        out["tables"] = tables
    return out


def targets(config: Any) -> tuple[float, float]:
    """RTO and RPO of the ``database`` service in cockpit.toml, else the plan's."""
    svc = (getattr(config, "services", None) or {}).get("database") if config else None
    rto = getattr(svc, "rto", None) or DATABASE_RTO
    rpo = getattr(svc, "rpo", None) or DATABASE_RPO
    return float(rto), float(rpo)


def _tail(run: StartedRun) -> str:
    text = run.tail(4096).decode("utf-8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return one_line(lines[-1], 300) if lines else "no output"


def run_drill(store: DrillStore, kind: DrillKind, runbook: Runbook,
              given: Mapping[str, Any], *, config: Any = None,
              on_step: Callable[[str, str], None] | None = None,
              extra_env: Mapping[str, str] | None = None) -> DrillResult:
    """Run ``runbook``'s steps for ``kind`` (blocking: minutes to an hour) and record the
    run. Raises ``DrillError``/``RunbookError`` before anything runs when it cannot."""
    from .store import DrillError

    params = runbook.param_values(given, config)
    steps = list(runbook.steps_for(kind.scenario or None))
    manual = [s.id for s in steps if s.is_manual]
    if manual:
        raise DrillError(f"{runbook.id}: steps {', '.join(manual)} are manual: run this "
                         "drill from the cockpit and record it with `cockpit drills record`")
    for s in steps:
        missing = runbook.missing_params(params, s)
        if missing:
            raise DrillError(f"{runbook.id}/{s.id}: no value for "
                             f"{', '.join(p.name for p in missing)} (--param NAME=VALUE)")
        runbook.render(s, params)  # a bad value is refused before anything runs
    cleanup = next((s for s in steps if s.id == CLEANUP), None)
    main_steps = [s for s in steps if s.id != CLEANUP]
    rto, rpo = targets(config)
    say = on_step or (lambda step, what: None)
    rid = store.start(kind.id, runbook=runbook.id, scenario=kind.scenario, title=kind.title)
    j = store.journal(rid)
    figures: dict[str, Any] = {"rto": rto, "rpo": rpo}
    if "backup_tool" in params:
        figures["backup_tool"] = str(params["backup_tool"])
    states: dict[str, _steps.StepState] = {}
    failed: tuple[str, str] | None = None
    running: list[StartedRun] = []  # the step running now

    def run_step(step: Step) -> tuple[bool, str, StartedRun | None]:
        say(step.id, f"running: {step.title}")
        running.clear()
        res = launch.start(store.root, rid, runbook, step, params, author=j.author,
                           mode=store.mode, journal=j, extra_env=extra_env,
                           confirmation=launch.confirmation_for(runbook, step, params) or None)
        if isinstance(res, ClaimedBy) or not isinstance(res, StartedRun):
            return False, f"not started: {res}", None
        running.append(res)
        st = res.wait(timeout=step.timeout + WAIT_EXTRA)
        if st is None:
            return False, "the supervisor did not finish in time", res
        states[step.id] = st
        if st.state != _steps.SUCCEEDED:
            how = "timed out" if st.timed_out else (
                f"exit code {st.exit_code}" if st.exit_code is not None else st.state)
            return False, f"{how}: {_tail(res)}", res
        if step.verify is not None and step.verify.command is not None:
            v = run_verify(store.root, rid, runbook, step, params, author=j.author,
                           mode=store.mode, journal=j, extra_env=extra_env)
            if not v.passed:
                return False, f"verify failed: {v.detail}", res
        return True, "succeeded", res

    interrupted = ""
    step = main_steps[0] if main_steps else cleanup
    try:
        for step in main_steps:
            ok, why, res = run_step(step)
            say(step.id, why)
            if not ok:
                failed = (step.id, why)
                break
            if step.id == "check" and res is not None:
                figures.update(parse_figures(res.output_path.read_text("utf-8", errors="replace")))
    except KeyboardInterrupt:
        name = step.id if step is not None else "?"
        interrupted = f"interrupted (Ctrl-C) during step {name}"
        say(name, f"{interrupted}: stopping it as its timeout would, then the cleanup "
                  "(Ctrl-C again: leave without the cleanup)")
        try:
            stopped = _stop(running[0]) if running else "it had not started"
        except KeyboardInterrupt:
            stopped = "not waited for (Ctrl-C again)"
            cleanup = None
        say(name, stopped)
        interrupted += f" ({stopped})"
        failed = (name, interrupted)
    cleanup_problem = ""
    if cleanup is not None:
        try:
            ok, why, _ = run_step(cleanup)
        except KeyboardInterrupt:
            ok, why = False, "interrupted (Ctrl-C)"
            interrupted = interrupted or "interrupted (Ctrl-C) during the cleanup"
        say(cleanup.id, why)
        if not ok:
            cleanup_problem = (f"; cleanup failed ({why}): remove the scratch directory by "
                               f"hand: {_cleanup_words(runbook, cleanup, params)}")
    elif interrupted and any(s.id == CLEANUP for s in steps):
        c = next(s for s in steps if s.id == CLEANUP)
        cleanup_problem = (f"; cleanup not run (Ctrl-C twice): what it does, by hand: "
                           f"{_cleanup_words(runbook, c, params)}")
    if "restore" in states and "start" in states:
        a, b = states["restore"].started_ts, states["start"].finished_ts
        if a is not None and b is not None:
            figures["restore_seconds"] = round(max(0.0, b - a), 3)
    if "restored_commit" in figures and "primary_commit" in figures:
        figures["data_loss_seconds"] = round(
            max(0.0, figures["primary_commit"] - figures["restored_commit"]), 6)
    figures.pop("primary_commit_source", None)
    if failed is not None:
        figures["failed_step"] = failed[0]
        outcome = "failed"
        detail = f"step {failed[0]} failed: {failed[1]}"
    else:
        problems = []
        rs, dl = figures.get("restore_seconds"), figures.get("data_loss_seconds")
        if rs is not None and rs > rto:
            problems.append(f"the restore took {format_duration(rs)}, over the RTO of "
                            f"{format_duration(rto)}")
        if dl is not None and dl > rpo:
            problems.append(f"the data-loss window is {format_duration(dl)}, over the RPO of "
                            f"{format_duration(rpo)}")
        outcome = "failed" if problems else "passed"
        detail = "; ".join(problems) or "restored, started and checked"
    if cleanup_problem:
        outcome = "failed"
    if interrupted:
        outcome = "aborted"
        detail = interrupted
    detail += cleanup_problem
    store.finish(rid, outcome, detail=detail, figures=figures)
    return DrillResult(rid, outcome, detail, figures)
