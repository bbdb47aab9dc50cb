"""``cockpit exercise ...``: tabletop exercises on the real cockpit.

    scenarios [--json]                   the built-in scenario library
    validate [FILE ...]                  every error of each file (no FILE: the library); 0/1
    import DECK.csv [-o FILE] ...        a spreadsheet inject list into a scenario file; 0/1
    start SCENARIO [--speed N] [--running]   a new exercise; prints its id
    facilitate ID                        the facilitator's cockpit
    join ID [--role ROLE]                a player's cockpit
    list [--json] | log ID [--json] | verify ID
    report ID [-o FILE.md]               the after-action report and improvement plan

Every line printed says EXERCISE (every JSON object has ``"exercise": true``); ``ID`` may
be ``latest``. Refusals are one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from ..document import DocumentError
from ..exercise.store import ExerciseError, ExerciseStore, exercise_root
from ..incident.model import ROLES
from ..text import clean, one_line
from ..timeutil import format_clock, parse_duration
from .common import Commands, commands

EXIT_INVALID = 1
EXIT_REFUSED = 2


def _mode(args: argparse.Namespace) -> str:
    cfg = getattr(args, "config", None)
    return getattr(cfg, "mode", "personal") if cfg is not None else "personal"


def _runbook_dirs(args: argparse.Namespace) -> tuple[Path, ...]:
    cfg = getattr(args, "config", None)
    dirs = list(getattr(cfg, "runbook_dirs", ()) or ()) if cfg is not None else []
    return tuple([*dirs, *(Path(d) for d in getattr(args, "runbooks", None) or [])])


def _library(args: argparse.Namespace) -> Any:
    from ..session.steps import load_library

    lib = load_library(_runbook_dirs(args))
    return lib.library


def _err(msg: str) -> None:
    print(f"cockpit: {one_line(msg, 1000)}", file=sys.stderr)


def _run(fn: Any, args: argparse.Namespace) -> int:
    try:
        return int(fn(args) or 0)
    except ExerciseError as e:
        _err(str(e))
        return EXIT_REFUSED
    except DocumentError as e:
        _err(e.one_line())
        return EXIT_REFUSED
    except BrokenPipeError:
        raise  # the reader went away (`| head`): main() ends quietly, not the state dir's fault
    except OSError as e:
        _err(f"{getattr(e, 'filename', '') or args.state_dir}: {e.strerror or e}")
        return EXIT_REFUSED


def _store(args: argparse.Namespace) -> ExerciseStore:
    return ExerciseStore(args.state_dir, mode=_mode(args))


# ---------------------------------------------------------------- the library

def cmd_scenarios(args: argparse.Namespace) -> int:
    from ..exercise.library import library_files
    from ..scenario import load_scenario

    for path in library_files():
        s = load_scenario(path)
        told = sum(1 for i in s.injects if i.synopsis and not i.demo_only)
        if args.json:
            print(json.dumps({"exercise": True, "id": s.id, "title": s.title,
                              "category": s.category, "length": s.length, "injects": told,
                              "outcomes": len(s.outcomes), "spares": len(s.spares),
                              "runbooks": list(s.runbooks)}, ensure_ascii=True))
            continue
        print(f"EXERCISE scenario {one_line(s.id, 40):<22} {one_line(s.category or '-', 15):<15}"
              f" {format_clock(s.length):>8}  {told:>2} injects {len(s.outcomes):>2} outcomes "
              f"{len(s.spares)} spares  {one_line(s.title, 60)}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from ..document import load_toml
    from ..exercise.library import library_files
    from ..exercise.schema import check_scenario

    files = [Path(f) for f in args.files] or library_files()
    library = _library(args)
    bad = 0
    for f in files:
        try:
            data, text = load_toml(f)
        except DocumentError as e:
            print(f"cockpit: {clean(e.one_line())}", file=sys.stderr)
            bad += 1
            continue
        s, errors = check_scenario(data, text, f, library=library)
        for problem in errors:
            print(f"cockpit: {clean(problem.one_line())}", file=sys.stderr)
        if errors or s is None:
            bad += 1
            continue
        told = sum(1 for i in s.injects if i.synopsis and not i.demo_only)
        print(f"EXERCISE scenario OK {one_line(str(f), 200)}: {one_line(s.id, 40)}, "
              f"{format_clock(s.length)}, {told} injects, {len(s.outcomes)} expected "
              f"outcomes, {len(s.spares)} spares")
    n = len(files)
    print(f"EXERCISE {n} scenario file{'s' if n != 1 else ''}: "
          + ("all valid" if not bad else f"{bad} with errors"))
    return EXIT_INVALID if bad else 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..exercise.deck import read_deck, to_toml
    from ..exercise.library import find_scenario
    from ..scenario import load_scenario

    path = Path(args.deck)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ExerciseError(f"{path}: not UTF-8 text (save the sheet as CSV UTF-8)") from None
    src, _ = find_scenario(args.services_from)
    length = parse_duration(args.length) if args.length else None
    doc, errors = read_deck(text, str(path), load_scenario(src), title=args.title,
                            scenario_id=args.id, category=args.category, length=length,
                            library=_library(args))
    for problem in errors:
        print(f"cockpit: {clean(problem.one_line())}", file=sys.stderr)
    if errors:
        print(f"EXERCISE deck {one_line(str(path), 200)}: {len(errors)} problem"
              f"{'s' if len(errors) != 1 else ''}; nothing written", file=sys.stderr)
        return EXIT_INVALID
    out = to_toml(doc, path.name)
    if args.output:
        dest = Path(args.output)
        if dest.exists() and not args.force:
            raise ExerciseError(f"{dest} exists (--force replaces it)")
        dest.write_text(out, encoding="utf-8")
        n = len(doc["inject"])
        print(f"EXERCISE scenario written to {one_line(str(dest), 200)} ({n} injects): "
              f"cockpit exercise start {one_line(str(dest), 200)}")
    else:
        sys.stdout.write(out)
    return 0


# ---------------------------------------------------------------- running

def cmd_start(args: argparse.Namespace) -> int:
    from ..exercise.library import find_scenario, read_scenario
    from ..exercise.schema import parse_scenario

    path, source = find_scenario(args.scenario)
    data, text = read_scenario(path)
    scenario = parse_scenario(data, text, path, library=_library(args))
    store = _store(args)
    try:
        xid = store.start(scenario, text, source=source, speed=args.speed,
                          running=args.running)
    finally:
        store.close()
    if args.quiet:
        print(xid)
        return 0
    print(f"EXERCISE {xid} created: {one_line(scenario.title, 80)} "
          f"({format_clock(scenario.length)}, clock {'running' if args.running else 'at T+0'})")
    # the commands as they must be typed: with the state directory this one used
    given = getattr(args, "state_dir_given", None)
    sd = f" --state-dir {shlex.quote(str(args.state_dir))}" if given else ""
    print(f"EXERCISE facilitator: cockpit exercise facilitate {xid}{sd}")
    print(f"EXERCISE each player: cockpit exercise join {xid} [--role ROLE]{sd}")
    return 0


def _open_ui(args: argparse.Namespace, facilitator: bool) -> int:
    from ..session.exercise import ExerciseSession, Facilitator
    from .main import run_ui

    store = _store(args)
    try:
        xid = store.resolve(args.exercise)
    finally:
        store.close()
    roles = [args.role] if getattr(args, "role", None) else []
    session = ExerciseSession(args.state_dir, xid, mode=_mode(args), roles=roles,
                              facilitator=facilitator, runbook_dirs=_runbook_dirs(args),
                              joins=not facilitator)
    cfg = getattr(args, "config", None)
    keymap = getattr(cfg, "keys", None) if cfg is not None else None
    ui = importlib.import_module("cockpit.screens.exercise")
    controls = Facilitator(session) if facilitator else None
    return run_ui(lambda: ui.ExerciseApp(session, facilitator=controls, keymap=keymap))


def cmd_list(args: argparse.Namespace) -> int:
    from ..exercise.board import build_board
    from ..exercise.timeline import Timeline

    store = _store(args)
    try:
        rows = store.list()
    finally:
        store.close()
    import time

    now = time.time()
    if not rows and not args.json:
        print(f"EXERCISE none in {exercise_root(args.state_dir)}")
    for r in rows:
        tl = Timeline(r.record, r.entries)
        b = build_board(tl, now)
        players = tl.authors()
        if args.json:
            print(json.dumps({"exercise": True, "id": r.id, "scenario": r.record.scenario.id,
                              "title": r.record.scenario.title, "state": b.state_word,
                              "offset": b.offset, "started_at": r.record.started_at,
                              "facilitator": r.record.facilitator, "players": players},
                             ensure_ascii=True))
            continue
        print(f"EXERCISE {r.id}  {b.state_word:<8} T+{format_clock(b.offset)}  "
              f"{one_line(r.record.scenario.title, 60)}  (facilitator "
              f"{one_line(r.record.facilitator, 20)}, {len(players)} player"
              f"{'s' if len(players) != 1 else ''})")
    return 0


def _timeline(args: argparse.Namespace) -> Any:
    from ..exercise.store import exercise_record
    from ..exercise.timeline import Timeline

    store = _store(args)
    try:
        xid = store.resolve(args.exercise)
        entries = store.entries(xid)
    finally:
        store.close()
    return Timeline(exercise_record(xid, entries), entries), entries


def cmd_log(args: argparse.Namespace) -> int:
    import time

    from ..exercise.timeline import joined_roles
    from ..incident.log import describe

    tl, entries = _timeline(args)
    sim_end = tl.sim(time.time())
    lines: list[tuple[float, str, str, str, Any]] = []
    for e in tl.log(sim_end, None):
        label, text = describe(e)
        lines.append((e.ts - tl.base, e.author, label, text, e))
    for e in entries:
        if e.kind in ("exercise.clock", "exercise.mark"):
            d = e.data if isinstance(e.data, dict) else {}
            text = ", ".join(f"{k}={v}" for k, v in d.items())
            lines.append((tl.offset(e.ts), e.author, e.kind.split(".", 1)[1], text, e))
        elif e.kind == "exercise.joined":
            roles = joined_roles(e.data)
            text = f"as {', '.join(roles)}" if roles else "no role given"
            lines.append((tl.offset(e.ts), e.author, "joined", text, e))
    lines.sort(key=lambda x: x[0])
    for off, author, label, text, e in lines:
        if args.json:
            print(json.dumps({"exercise": True, "t": off, "author": author, "kind": e.kind,
                              "data": e.data, "id": getattr(e, "id", "")}, ensure_ascii=True,
                             sort_keys=True, default=str))
        else:
            print(f"EXERCISE T+{format_clock(off)} {one_line(author, 30)} "
                  f"{one_line(label, 20)}: {one_line(text, 300)}")
    for p in tl.problems:
        _err(p)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from ..journal.verify import verify_incident

    store = _store(args)
    try:
        xid = store.resolve(args.exercise)
    finally:
        store.close()
    res = verify_incident(exercise_root(args.state_dir), xid)
    if res.ok:
        print(f"EXERCISE {xid} OK: {res.count} records in {res.files} journal files, "
              "chains intact")
        return 0
    print(f"EXERCISE {xid}: {one_line(str(res.first_bad), 2000)}")
    return 1


def cmd_report(args: argparse.Namespace) -> int:
    import time

    from ..exercise.report import render
    from ..journal.perms import file_mode

    tl, _entries = _timeline(args)
    text = render(tl, time.time())
    if not args.output:
        sys.stdout.write(text)
        return 0
    dest = Path(args.output)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                 file_mode(_mode(args)))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"EXERCISE report of {tl.record.id} written to {one_line(str(dest), 200)}")
    return 0


def add_parsers(sub: Commands) -> None:
    p = sub.add_parser("exercise", help="tabletop exercises: scenarios, facilitator, players, "
                                        "after-action report")
    x = commands(p, dest="exercise_command", metavar="ACTION", required=True)

    def runbooks(q: argparse.ArgumentParser) -> None:
        q.add_argument("--runbooks", action="append", metavar="DIR",
                       help="more runbooks (a directory or file; repeat)")

    q = x.add_parser("scenarios", help="the built-in scenario library")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=lambda a: _run(cmd_scenarios, a))
    q = x.add_parser("validate", help="check scenario files: every error (no FILE: the "
                                      "whole library); exit 0/1")
    q.add_argument("files", nargs="*", metavar="FILE")
    runbooks(q)
    q.set_defaults(func=lambda a: _run(cmd_validate, a))
    q = x.add_parser("import", help="a spreadsheet inject list (CSV) into a scenario file")
    q.add_argument("deck", metavar="DECK.csv")
    q.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    q.add_argument("--force", action="store_true", help="replace an existing output file")
    q.add_argument("--title")
    q.add_argument("--id")
    q.add_argument("--category")
    q.add_argument("--length", metavar="DURATION", help="scenario length (default: after "
                                                        "the last inject, at least 30m)")
    q.add_argument("--services-from", default="database-loss", metavar="SCENARIO",
                   help="take the services from this scenario (default: the demo's)")
    runbooks(q)
    q.set_defaults(func=lambda a: _run(cmd_import, a))
    q = x.add_parser("start", help="start an exercise of a scenario (library id or file); "
                                   "prints its id")
    q.add_argument("scenario", metavar="SCENARIO")
    q.add_argument("--speed", type=float, default=1.0, help="scenario seconds per second "
                                                             "(1 to 60; default 1)")
    q.add_argument("--running", action="store_true",
                   help="start the clock now (default: the facilitator starts it)")
    q.add_argument("-q", "--quiet", action="store_true", help="print only the id")
    runbooks(q)
    q.set_defaults(func=lambda a: _run(cmd_start, a))
    q = x.add_parser("facilitate", help="the facilitator's cockpit of an exercise")
    q.add_argument("exercise", metavar="ID", help="exercise id, or latest")
    runbooks(q)
    q.set_defaults(func=lambda a: _run(lambda b: _open_ui(b, True), a))
    q = x.add_parser("join", help="a player's cockpit of an exercise")
    q.add_argument("exercise", metavar="ID", help="exercise id, or latest")
    q.add_argument("--role", choices=ROLES, help="also see the injects meant for this role")
    runbooks(q)
    q.set_defaults(func=lambda a: _run(lambda b: _open_ui(b, False), a))
    q = x.add_parser("list", help="the exercises of the state directory, newest first")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=lambda a: _run(cmd_list, a))
    q = x.add_parser("log", help="an exercise's timeline in scenario time")
    q.add_argument("exercise", metavar="ID")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=lambda a: _run(cmd_log, a))
    q = x.add_parser("verify", help="check an exercise's journals (hash chains)")
    q.add_argument("exercise", metavar="ID")
    q.set_defaults(func=lambda a: _run(cmd_verify, a))
    q = x.add_parser("report", help="the after-action report and improvement plan (Markdown)")
    q.add_argument("exercise", metavar="ID")
    q.add_argument("-o", "--output", metavar="FILE.md")
    q.set_defaults(func=lambda a: _run(cmd_report, a))
