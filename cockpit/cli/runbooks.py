"""``cockpit runbooks validate|list|show|schema``: the runbook library from the command line.

``add_parsers(sub)`` adds the ``runbooks`` command to an argparse sub-parser set; each
handler takes the parsed args and returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..runbooks import (
    SCHEMA_REFERENCE,
    Library,
    ParamError,
    RunbookError,
    collect_library,
    load_library,
    runbook_files,
)
from ..runbooks.library import check_against_config, library_paths
from ..text import clean
from .common import Commands, commands


def _paths(args: argparse.Namespace) -> list[Path]:
    """The files or directories named, else what the cockpit loads: cockpit.toml's
    ``runbook_dirs`` then the built-in library (``library_paths``, one rule for both)."""
    named = [Path(p) for p in (getattr(args, "paths", None) or [])]
    if named:
        return named
    cfg = getattr(args, "config", None)
    return library_paths(getattr(cfg, "runbook_dirs", ()) or ())


def _config(args: argparse.Namespace) -> Any:
    return getattr(args, "config", None)


def _known_services(args: argparse.Namespace, ids: set[str]) -> str | None:
    """A problem with ``--failing`` ids the configuration does not define (None: fine)."""
    cfg = _config(args)
    services = set(getattr(cfg, "services", {}) or {})
    unknown = sorted(ids - services) if cfg is not None else []
    if unknown:
        return (f"unknown service {unknown[0]!r} (in {cfg.path}: "
                f"{', '.join(sorted(services)) or 'none'})")
    return None


def _out(text: str) -> None:
    print(clean(text, keep_newlines=True))


def cmd_validate(args: argparse.Namespace) -> int:
    paths = _paths(args)
    errors = []
    for p in paths:
        if not p.exists():
            errors.append(f"{p}: no such file or directory")
    files = runbook_files(p for p in paths if p.exists())
    if not files and not errors:
        errors.append(f"{', '.join(map(str, paths))}: no runbook files (*.toml) found")
    lib, doc_errors = collect_library(p for p in paths if p.exists())
    if _config(args) is not None:  # the runbooks against the cockpit.toml they will run with
        doc_errors += check_against_config(lib, _config(args))
    errors.extend(e.one_line() for e in doc_errors)
    if errors:
        for line in errors:
            print(clean(line), file=sys.stderr)
        bad_files = len({e.file for e in doc_errors})
        print(clean(f"{len(errors)} error(s) in {max(bad_files, 1)} file(s); "
                    f"{len(lib)} runbooks valid"), file=sys.stderr)
        return 1
    _out(f"{len(lib)} runbooks, {lib.step_count} steps OK")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    lib, errors = collect_library(_paths(args))
    failing = {s.strip() for s in (args.failing or "").split(",") if s.strip()}
    problem = _known_services(args, failing)
    if problem:
        print(clean(f"cockpit: {problem}"), file=sys.stderr)
        return 2
    for rb in lib.rank(failing):
        covered = sorted(failing.intersection(rb.services))
        mark = "*" if covered else " "
        _out(f"{mark} {rb.id:<16} {rb.priority}  {len(rb.steps):>3} steps  "
             f"{rb.title}  [{', '.join(rb.services)}]")
        if args.verbose:
            for sc in rb.scenarios:
                _out(f"      {sc.id:<22} {len(rb.steps_for(sc.id)):>3} steps  {sc.title}")
    if errors:  # said, with the right count: errors and the files they are in
        for e in errors:
            print(clean(e.one_line()), file=sys.stderr)
        files = len({e.file for e in errors})
        print(clean(f"{len(errors)} error(s) in {files} runbook file(s): those runbooks are "
                    f"not listed (`cockpit runbooks validate` shows them)"), file=sys.stderr)
    return 1 if errors else 0


def _parse_params(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--param expects NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def cmd_show(args: argparse.Namespace) -> int:
    """Print a runbook's steps as a dry-run: the exact argv each step would run."""
    named = bool(getattr(args, "paths", None))
    lib: Library
    if named:
        try:
            lib = load_library(_paths(args))
        except RunbookError as e:
            for line in e.lines():
                print(clean(line), file=sys.stderr)
            return 1
    else:  # what the cockpit loads: a broken file elsewhere does not hide this runbook
        lib, problems = collect_library(_paths(args))
        for problem in problems:
            print(clean(problem.one_line()), file=sys.stderr)
    try:
        rb = lib.get(args.id)
    except KeyError:
        print(clean(f"no runbook {args.id!r} (known: {', '.join(r.id for r in lib)})"),
              file=sys.stderr)
        return 1
    if args.scenario is not None and args.scenario not in [sc.id for sc in rb.scenarios]:
        known = ", ".join(sc.id for sc in rb.scenarios) or "none"
        print(clean(f"cockpit: no scenario {args.scenario!r} in runbook {rb.id} "
                    f"(known: {known})"), file=sys.stderr)
        return 2
    # the values the cockpit would use: given, then from_config (cockpit.toml), then defaults
    params = rb.param_values(_parse_params(args.param), _config(args))
    _out(f"{rb.id}: {rb.title} ({rb.priority}; services: {', '.join(rb.services)})")
    for i, st in enumerate(rb.steps_for(args.scenario), start=1):
        flags = []
        if st.destructive:
            try:
                token = rb.confirmation_token(st, params)
            except ParamError:
                token = rb.confirmation_token(st)
            flags.append(f"DESTRUCTIVE, type {token!r}")
        if st.verify:
            flags.append(f"verify: probe {st.verify.probe}" if st.verify.probe else "verify: command")
        if st.rollback:
            flags.append("rollback")
        _out(f"\n{i:>2}. [{st.id}] {st.title}" + (f"  ({'; '.join(flags)})" if flags else ""))
        if st.command is None:
            _out("    (manual step)")
            continue
        missing = rb.missing_params(params, st)
        if missing:
            _out("    needs: " + ", ".join(p.name for p in missing))
            continue
        try:
            rc = rb.render(st, params)
        except ParamError as e:
            _out(f"    cannot render: {e}")
            continue
        if args.exact:
            _out(f"    $ {rc.display()}")
        else:
            where, _, body = rc.describe().partition("\n")
            _out(f"    {where}")
            for line in body.splitlines():
                _out(f"    | {line}")
        if rc.env_names:
            _out(f"    env: {', '.join(rc.env_names)}")
        _out(f"    timeout: {rc.timeout:g}s" + (f"  cwd: {rc.cwd}" if rc.cwd else ""))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(SCHEMA_REFERENCE, end="")
    return 0


def add_parsers(sub: Commands) -> None:
    p = sub.add_parser("runbooks", help="validate and list the runbook library")
    rs = commands(p, dest="runbooks_command", metavar="{validate,list,show,schema}",
                  required=True)

    v = rs.add_parser("validate", help="check runbook files (exit 0 when all are valid)")
    v.add_argument("paths", nargs="*", metavar="PATH",
                   help="runbook files or directories (default: the built-in library)")
    v.set_defaults(func=cmd_validate)

    ls = rs.add_parser("list", help="list runbooks, those covering failing services first")
    ls.add_argument("paths", nargs="*", metavar="PATH")
    ls.add_argument("--failing", default="", metavar="SVC,SVC",
                    help="comma-separated failing service ids to rank by")
    ls.add_argument("-v", "--verbose", action="store_true", help="also list scenarios")
    ls.set_defaults(func=cmd_list)

    sh = rs.add_parser("show", help="dry-run view: each step's exact command")
    sh.add_argument("id")
    sh.add_argument("paths", nargs="*", metavar="PATH")
    sh.add_argument("--scenario", default=None)
    sh.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE")
    sh.add_argument("--exact", action="store_true",
                    help="print the exact argv (shell-quoted) instead of the readable form")
    sh.set_defaults(func=cmd_show)

    sc = rs.add_parser("schema", help="print the runbook schema reference")
    sc.set_defaults(func=cmd_schema)


__all__ = ["add_parsers", "cmd_validate", "cmd_list", "cmd_show", "cmd_schema"]
