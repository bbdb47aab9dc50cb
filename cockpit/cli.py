"""``cockpit``: the command line. The full-screen UI lives in the ``screens`` package and is
imported by name only when a screen is wanted, so the core never imports Textual."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .schema import DocumentError
from .timeutil import parse_duration

EXIT_USAGE = 2


class CliError(Exception):
    """A one-line error for the user; exit code 2."""


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


def builtin_runbook_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "runbooks"


def _optional_parsers(sub) -> None:
    """Subcommands contributed by the other core modules (journal, probes, runbooks)."""
    for mod in ("cockpit.incidents_cli", "cockpit.journal.cli", "cockpit.probes.cli",
                "cockpit.runbooks_cli"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name and mod.startswith(e.name):
                continue
            raise
        m.add_parsers(sub)


def build_parser(full: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cockpit",
        description="DR Cockpit: live health, runbooks, RTO/RPO clocks and a crash-safe "
                    "incident log, in a terminal. Without a command it starts the cockpit "
                    "on the configured environment.",
        epilog="Configuration: --config, $COCKPIT_CONFIG, ./cockpit.toml, then the user "
               "config dir. State: --state-dir, $COCKPIT_STATE_DIR, ./state in a checkout, "
               "then the user state dir.",
    )
    p.add_argument("--version", action="version", version=f"cockpit {__version__}")
    p.add_argument("--config", metavar="FILE", help="the cockpit.toml to use")
    p.add_argument("--state-dir", metavar="DIR", help="where incidents and last-known health are kept")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="the cockpit on a built-in simulated environment (no network, no config)")
    d.add_argument("--scenario", metavar="FILE", help="play this scenario file instead of the built-in demo")
    d.add_argument("--at", type=_duration, default=parse_duration("4m"), metavar="OFFSET",
                   help="start this far into the scenario (default 4m; e.g. 0s, 90s, 12m)")
    d.add_argument("--speed", type=_speed, default=1.0, help="simulated seconds per real second (default 1)")
    d.add_argument("--paused", action="store_true", help="freeze the simulated clock")
    d.set_defaults(func=cmd_demo)
    if full:
        _optional_parsers(sub)
    _global_options_everywhere(sub)
    return p


def _global_options_everywhere(sub) -> None:
    """``cockpit status --config X`` works as well as ``cockpit --config X status``."""
    for parser in set(sub.choices.values()):
        known = {o for a in parser._actions for o in a.option_strings}
        if "--config" not in known:
            parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                                help="the cockpit.toml to use")
        if "--state-dir" not in known:
            parser.add_argument("--state-dir", metavar="DIR", default=argparse.SUPPRESS,
                                help="where incidents and last-known health are kept")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _global_options_everywhere(action)


def _needs_full_parser(argv: list[str]) -> bool:
    """Only ``cockpit`` and ``cockpit demo`` skip importing the other commands (start-up time)."""
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
        return a != "demo"
    return False


def _load_config(args, required: bool):
    from .config import find_config, load_config

    path, looked = find_config(args.config)
    if path is None:
        if required:
            places = ", ".join(str(p) for p in looked)
            raise CliError(f"no cockpit.toml found (looked at {places}); "
                           "copy cockpit.example.toml, or try `cockpit demo`")
        return None
    if not path.is_file():
        raise CliError(f"{path}: no such configuration file")
    return load_config(path)


def run_ui(app_factory: Callable[[], object]) -> int:
    app = app_factory()
    result = app.run()  # type: ignore[attr-defined]
    return int(result or 0)


def cmd_demo(args) -> int:
    from .environment import DemoEnvironment
    from .scenario import builtin_demo, load_scenario
    from .timeutil import SimClock

    scenario = load_scenario(Path(args.scenario)) if args.scenario else builtin_demo()
    env = DemoEnvironment.start(scenario, at=args.at, speed=args.speed)
    if args.paused and isinstance(env.clock, SimClock):
        env.clock.pause()
    screens = importlib.import_module("screens.app")
    return run_ui(lambda: screens.CockpitApp(env, simulated=True, runbook_dirs=(builtin_runbook_dir(),)))


def cmd_cockpit(args) -> int:
    from .environment import LiveEnvironment

    config = args.config_obj
    env = LiveEnvironment(config, args.state_dir)
    screens = importlib.import_module("screens.app")
    dirs = (*config.runbook_dirs, builtin_runbook_dir())
    return run_ui(lambda: screens.CockpitApp(env, simulated=False, runbook_dirs=dirs))


NEEDS_CONFIG = {None: True, "status": True}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(full=_needs_full_parser(argv))
    args = parser.parse_args(argv)
    try:
        from .config import resolve_state_dir

        needs = NEEDS_CONFIG.get(args.command, False)
        config = _load_config(args, required=needs) if args.command != "demo" else None
        args.config_obj = config
        args.config = config if args.command != "demo" else None
        args.state_dir = resolve_state_dir(args.state_dir, config)
        func = getattr(args, "func", None) or cmd_cockpit
        return int(func(args) or 0)
    except DocumentError as e:
        print(f"cockpit: {e.one_line()}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as e:
        print(f"cockpit: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
