"""Snapshots of the main screen at 80x24 and 120x40 with a fixed clock."""

from __future__ import annotations

import pytest

from .helpers import demo_app


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("at", [60, 400, 1380], ids=["before-incident", "responding", "recovered"])
def test_main_screen(snap_compare, size, at):
    assert snap_compare(demo_app(at=at), terminal_size=size)


def test_help_screen(snap_compare):
    assert snap_compare(demo_app(), terminal_size=(80, 24), press=["question_mark"])
