"""``cockpit drills ...``: the plan's DR testing schedule, like a monitoring check.

    drills [--json]                          each drill: last run, result, next due; exit 1
                                             when one is overdue (0: all on schedule)
    drills record KIND --outcome passed|failed [--note TEXT]
                                             a drill done by hand (tabletop, failover test)
    drills run KIND [--param NAME=VALUE ...] a drill's runbook run step by step through the
                                             runbook executor (the restore drill); exit 1
                                             when the drill failed
    drills log [--json]                      every run, newest first, with its figures

Refusals are one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..drills.board import read_board
from ..drills.schedule import PLAN_DRILLS, DrillKind, DrillStatus, cadence_words
from ..drills.store import DrillError, DrillRun, DrillStore
from ..text import clean, one_line
from ..timeutil import SystemClock, format_duration
from .common import Commands, commands

EXIT_OVERDUE = 1
EXIT_REFUSED = 2


def _kinds(args: argparse.Namespace) -> tuple[DrillKind, ...]:
    cfg = getattr(args, "config", None)
    return tuple(getattr(cfg, "drills", PLAN_DRILLS) or PLAN_DRILLS) if cfg is not None \
        else PLAN_DRILLS


def _mode(args: argparse.Namespace) -> str:
    cfg = getattr(args, "config", None)
    return getattr(cfg, "mode", "personal") if cfg is not None else "personal"


def _store(args: argparse.Namespace) -> DrillStore:
    return DrillStore(args.state_dir, mode=_mode(args))


def _kind(args: argparse.Namespace, kid: str) -> DrillKind:
    for k in _kinds(args):
        if k.id == kid:
            return k
    raise DrillError(f"no drill {kid!r} (drills: {', '.join(k.id for k in _kinds(args))})")


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts)) if ts is not None else "-"


def status_dict(s: DrillStatus) -> dict[str, Any]:
    return {"drill": s.kind.id, "title": s.kind.title, "cadence_seconds": s.kind.cadence,
            "runbook": s.kind.runbook, "enabled": s.kind.enabled, "state": s.state,
            "last_run": s.last.finished_at if s.last else None, "result": s.result,
            "next_due": s.next_due, "overdue": s.overdue,
            "overdue_seconds": s.overdue_by, "due": s.due_words()}


def cmd_status(args: argparse.Namespace) -> int:
    board = read_board(args.state_dir, _kinds(args), SystemClock().now())
    rows, m, overdue = board.rows, board.metrics, list(board.overdue)
    if args.json:
        print(json.dumps({"drills": [status_dict(s) for s in rows], "overdue": overdue,
                          "metrics": m.as_dict()}, ensure_ascii=True))
    else:
        print(f"{'STATE':<8} {'DRILL':<14} {'CADENCE':<17} {'LAST RUN':<21} {'RESULT':<10} NEXT")
        for s in rows:
            print(f"{s.state:<8} {one_line(s.kind.id, 14):<14} "
                  f"{cadence_words(s.kind.cadence):<17} "
                  f"{_when(s.last.finished_at if s.last else None):<21} {s.result:<10} "
                  f"{s.due_words()}")
        for line in m.lines():
            print(line)
        if overdue:
            print(f"OVERDUE: {', '.join(overdue)}")
    return EXIT_OVERDUE if overdue else 0


def run_dict(r: DrillRun) -> dict[str, Any]:
    return {"id": r.id, "drill": r.drill, "runbook": r.runbook, "started_at": r.started_at,
            "finished_at": r.finished_at, "by": r.by, "outcome": r.outcome,
            "detail": r.detail, "note": r.note, "figures": r.figures}


def describe_figures(f: dict[str, Any]) -> str:
    parts = []
    if "restore_seconds" in f:
        parts.append(f"restore {format_duration(f['restore_seconds'], precise=True)}"
                     f" (RTO {format_duration(f.get('rto', 3600))})")
    if "data_loss_seconds" in f:
        parts.append(f"data-loss window {f['data_loss_seconds']:.1f}s"
                     f" (RPO {format_duration(f.get('rpo', 900))})")
    if "failed_step" in f:
        parts.append(f"failed at step {one_line(f['failed_step'], 64)}")
    return ", ".join(parts)


def cmd_log(args: argparse.Namespace) -> int:
    for r in _store(args).runs():
        if args.json:
            print(json.dumps(run_dict(r), ensure_ascii=True))
            continue
        # an aborted run: why, and what was left (its figures are partial)
        what = r.detail if r.outcome == "aborted" else describe_figures(r.figures) or r.detail
        if r.note:  # what the engineer wrote of it
            what = f"{what}; note: {r.note}" if what else f"note: {r.note}"
        print(f"{_when(r.started_at)}  {one_line(r.drill, 14):<14} {r.outcome:<8} "
              f"{one_line(r.by, 20):<20} {one_line(what, 160)}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    k = _kind(args, args.kind)
    store = _store(args)
    rid = store.record(k.id, args.outcome, note=args.note or "", title=k.title)
    store.close()
    print(f"drill {k.id} recorded: {args.outcome} ({rid})")
    return 0


def _params(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise DrillError(f"--param expects NAME=VALUE, got {one_line(item, 80)!r}")
        out[name] = value
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from ..drills.restore import run_drill
    from ..session.steps import load_library

    k = _kind(args, args.kind)
    if not k.runbook:
        raise DrillError(f"drill {k.id} has no runbook: record it with `cockpit drills "
                         f"record {k.id} --outcome passed|failed`")
    cfg = getattr(args, "config", None)
    dirs = tuple(getattr(cfg, "runbook_dirs", ()) or ()) if cfg is not None else ()
    lib = load_library(dirs).library
    rb = lib.get(k.runbook)
    if rb is None:
        raise DrillError(f"drill {k.id}: no runbook {k.runbook!r} in the library")
    params = rb.param_values(_params(args.param), cfg)
    steps = rb.steps_for(k.scenario or None)
    # the values the commands' environment names stand for (a secret one masked)
    secret = {p.name for p in rb.params if p.secret}
    given = [f"{n}={'***' if n in secret else one_line(str(v), 120)}"
             for n, v in params.items() if v is not None]
    print(f"drill {k.id}: parameters: {', '.join(given) or 'none'}")
    for st in steps:  # everything that runs is shown before it runs
        missing = rb.missing_params(params, st)
        shown = rb.render(st, params).display() if not missing else (
            "needs " + ", ".join(p.name for p in missing))
        print(f"drill {k.id}: step {st.id}: {clean(shown, keep_newlines=args.dry_run)}"
              if args.dry_run else f"drill {k.id}: step {st.id}: {one_line(shown, 160)}")
    if args.dry_run:
        print(f"drill {k.id}: dry run, nothing ran")
        return 0
    store = _store(args)
    try:
        result = run_drill(store, k, rb, _params(args.param), config=cfg,
                           on_step=lambda s, w: print(f"drill {k.id}: {s}: {w}", flush=True))
    finally:
        store.close()
    print(f"drill {k.id} {result.outcome}: {one_line(result.detail, 300)}")
    f = describe_figures(result.figures)
    if f:
        print(f"drill {k.id} figures: {f}")
    if result.outcome == "aborted":
        return 130  # Ctrl-C, as a shell reports it
    return 0 if result.outcome == "passed" else EXIT_OVERDUE


def _safe(fn: Any, args: argparse.Namespace) -> int:
    from ..document import DocumentError
    from ..runbooks.errors import ParamError, RunbookError, StepError

    try:
        return int(fn(args) or 0)
    except (DrillError, RunbookError, ParamError, StepError) as e:
        print(f"cockpit: {one_line(str(e), 1000)}", file=sys.stderr)
        return EXIT_REFUSED
    except DocumentError as e:
        print(f"cockpit: {one_line(e.one_line(), 1000)}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as e:
        print(f"cockpit: {getattr(e, 'filename', '') or args.state_dir}: {e.strerror or e}",
              file=sys.stderr)
        return EXIT_REFUSED


def add_parsers(sub: Commands) -> None:
    p = sub.add_parser("drills", help="the DR testing schedule: drills, last run, next due "
                                      "(exit 1 when one is overdue)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _safe(cmd_status, a))
    x = commands(p, dest="drills_command", metavar="ACTION", required=False)
    q = x.add_parser("record", help="record a drill done by hand")
    q.add_argument("kind", metavar="KIND")
    q.add_argument("--outcome", required=True, choices=("passed", "failed"))
    q.add_argument("--note", help="what was done, what was found")
    q.set_defaults(func=lambda a: _safe(cmd_record, a))
    q = x.add_parser("run", help="run a drill's runbook through the executor (restore drill)")
    q.add_argument("kind", metavar="KIND")
    q.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE")
    q.add_argument("--dry-run", action="store_true",
                   help="show every step's command with its values; run nothing")
    q.set_defaults(func=lambda a: _safe(cmd_run, a))
    q = x.add_parser("log", help="every drill run, newest first, with its figures")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=lambda a: _safe(cmd_log, a))
