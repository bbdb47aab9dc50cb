"""The ``cockpit`` parser, the cockpit itself and the demo.

Start-up time: ``cockpit`` and ``cockpit demo`` build a parser without the other commands
(their modules are imported only when one of them, or ``--help``, is asked for).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..document import DocumentError
from ..timeutil import parse_duration
from .common import COMMON, EXIT_USAGE, CliError, commands

# The command groups, each a module with ``add_parsers(commands)``.
COMMAND_MODULES = ("drills", "evidence", "exercise", "incident", "journal", "review", "runbooks",
                   "serve", "status", "sync")
# Commands that read no configuration unless one is named with --config (the review of a
# recorded incident runs with none: empty $HOME, no cockpit.toml, no network).
NO_CONFIG = ("demo", "review")
# The module of a command whose start-up counts (``cockpit pir`` of 100,000 entries: <= 2 s):
# with one of these only its module is imported, not every command's (``--help`` and any
# other command build the whole parser).
COMMAND_MODULE = {"capture": "evidence", "pir": "evidence", "metrics": "evidence",
                  "review": "review"}


def _duration(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _speed(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < v <= 1000:
        raise argparse.ArgumentTypeError("the speed must be above 0 and at most 1000")
    return v


def build_parser(full: bool | str = True) -> argparse.ArgumentParser:
    """``full``: every command; False: only ``demo``; a module name: ``demo`` and that
    module's commands."""
    p = argparse.ArgumentParser(
        prog="cockpit",
        description="DR Cockpit: live health, runbooks, RTO/RPO clocks and a crash-safe "
                    "incident log, in a terminal. Without a command it starts the cockpit "
                    "on the configured environment.",
        epilog="Configuration: --config, $COCKPIT_CONFIG, ./cockpit.toml, then the user "
               "config dir. State: --state-dir, $COCKPIT_STATE_DIR, ./state in a checkout, "
               "then the user state dir.",
        parents=[COMMON],
    )
    p.add_argument("--version", action="version", version=f"cockpit {__version__}")
    sub = commands(p, dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="the cockpit on a built-in simulated environment "
                                    "(no network, no config)")
    d.add_argument("--scenario", metavar="FILE",
                   help="play this scenario file instead of the built-in demo")
    d.add_argument("--at", type=_duration, default=parse_duration("4m"), metavar="OFFSET",
                   help="start this far into the scenario (default 4m; e.g. 0s, 90s, 12m)")
    d.add_argument("--speed", type=_speed, default=1.0,
                   help="simulated seconds per real second (default 1)")
    d.add_argument("--paused", action="store_true", help="freeze the simulated clock")
    d.set_defaults(func=cmd_demo)
    if full:
        for name in (COMMAND_MODULES if full is True else (full,)):
            importlib.import_module(f"cockpit.cli.{name}").add_parsers(sub)
    return p


def _needs_full_parser(argv: list[str]) -> bool | str:
    """Only ``cockpit`` and ``cockpit demo`` skip importing the other commands (start-up);
    a command of ``COMMAND_MODULE`` imports its module only."""
    if any(a in ("-h", "--help") for a in argv):
        return True
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--config", "--state-dir"):
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        return COMMAND_MODULE.get(a, a != "demo")
    return False


def _load_config(args: argparse.Namespace, required: bool) -> Any:
    from ..config import find_config, load_config

    path, looked = find_config(getattr(args, "config", None))
    if path is None:
        if required:
            places = ", ".join(str(p) for p in looked)
            raise CliError(f"no cockpit.toml found (looked at {places}); "
                           "copy cockpit.example.toml, or try `cockpit demo`")
        return None
    if not path.is_file():
        raise CliError(f"{path}: no such configuration file")
    return load_config(path)


def run_ui(app_factory: Callable[[], Any]) -> int:
    """Run a Textual app; an internal error (the app's non-zero return code) exits
    non-zero (``crash.EXIT_INTERNAL``)."""
    app = app_factory()
    result = app.run()
    code = app.return_code
    if code:
        return int(code)
    return int(result or 0)


def _screens() -> Any:
    return importlib.import_module("cockpit.screens.app")


def cmd_demo(args: argparse.Namespace) -> int:
    from ..scenario import builtin_demo, load_scenario
    from ..session.demo import DemoSession
    from ..timeutil import SimClock

    scenario = load_scenario(Path(args.scenario)) if args.scenario else builtin_demo()
    session = DemoSession.start(scenario, at=args.at, speed=args.speed)
    if args.paused and isinstance(session.clock, SimClock):
        session.clock.pause()
    ui = _screens()
    return run_ui(lambda: ui.CockpitApp(session))


def cmd_cockpit(args: argparse.Namespace) -> int:
    from ..session.live import LiveSession

    config = args.config_obj
    session = LiveSession(config, args.state_dir, runbook_dirs=config.runbook_dirs)
    ui = _screens()
    return run_ui(lambda: ui.CockpitApp(session, keymap=config.keys))


NEEDS_CONFIG: dict[str | None, bool] = {None: True, "status": True, "sync": True}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(full=_needs_full_parser(argv))
    args = parser.parse_args(argv)
    try:
        from ..config import resolve_state_dir

        needs = NEEDS_CONFIG.get(args.command, False)
        args.config_path = getattr(args, "config", None)
        config = _load_config(args, required=needs) if args.command not in NO_CONFIG else None
        if config is not None:
            from ..crash import remember_secrets
            from ..secrets import held_secrets

            remember_secrets(held_secrets(config))  # masked in any crash report or line
        args.config_obj = config
        args.config = config
        args.state_dir_given = getattr(args, "state_dir", None) is not None  # typed
        args.state_dir = resolve_state_dir(getattr(args, "state_dir", None), config)
        func = getattr(args, "func", None) or cmd_cockpit
        return int(func(args) or 0)
    except DocumentError as e:
        from ..text import clean

        lines = e.lines() if hasattr(e, "lines") else [e.one_line()]  # every problem at once
        for line in lines:
            print(f"cockpit: {clean(line)}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as e:
        from ..text import clean

        print(f"cockpit: {clean(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as e:  # noqa: BLE001 - a bug: one sanitized line, never a traceback
        from ..crash import EXIT_INTERNAL, report

        print(report(e), file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
