"""The test command also runs the linter and the type checker: ruff on the whole tree, mypy
(pyproject's settings: check_untyped_defs) with zero errors in cockpit/ and screens/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.xdist_group("static")
def test_ruff_finds_nothing():
    out = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "."], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


@pytest.mark.xdist_group("static")
def test_mypy_finds_no_error_in_cockpit_and_screens():
    out = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir",
                          str(ROOT / ".mypy_cache")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "no issues found" in out.stdout
