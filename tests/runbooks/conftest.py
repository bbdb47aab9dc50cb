"""Helpers for the runbook tests: a minimal valid runbook and an in-process CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cockpit.cli import runbooks as runbooks_cli
from cockpit.cli.common import commands

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "runbooks"

MINIMAL = """\
[runbook]
id = "demo"
title = "Demo"
services = ["database"]

[runbook.scenarios]
crash = "Crash"

[[params]]
name = "host"
type = "host"
default = "db1"

[[steps]]
id = "check"
title = "Check"
command = ["pg_isready", "-h", "{host}"]
timeout = "30s"
destructive = false
"""


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="cockpit")
    runbooks_cli.add_parsers(commands(parser))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def minimal() -> str:
    return MINIMAL


@pytest.fixture
def library_dir() -> Path:
    return LIBRARY


@pytest.fixture
def write(tmp_path):
    """write(text, name="rb.toml") -> Path of a runbook file in tmp_path."""

    def _write(text: str, name: str = "rb.toml") -> Path:
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return p

    return _write

