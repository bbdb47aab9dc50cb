"""What every command shares: ``--config`` and ``--state-dir`` accepted before or after the
command, and the one-line error type of the CLI."""

from __future__ import annotations

import argparse
from typing import Any

EXIT_USAGE = 2


class CliError(Exception):
    """A one-line error for the user; exit code 2."""


COMMON = argparse.ArgumentParser(add_help=False)
# SUPPRESS: a value given before the command is not overwritten by the subcommand's default.
COMMON.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                    help="the cockpit.toml to use")
COMMON.add_argument("--state-dir", metavar="DIR", default=argparse.SUPPRESS,
                    help="where incidents and last-known health are kept")


class Commands:
    """A set of subcommands whose parsers all accept the common options."""

    def __init__(self, action: Any) -> None:
        self.action = action

    def add_parser(self, name: str, **kw: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self.action.add_parser(name, parents=[COMMON], **kw)
        return parser


def commands(parser: argparse.ArgumentParser, **kw: Any) -> Commands:
    """``parser.add_subparsers(**kw)`` whose parsers accept ``--config``/``--state-dir``."""
    return Commands(parser.add_subparsers(**kw))
