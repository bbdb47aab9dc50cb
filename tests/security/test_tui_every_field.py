"""The live cockpit over every screen, with every field of every record kind set to each
payload (and to all of them joined), unknown kinds and note types made of the payloads,
and incidents whose severity and status are payloads: records the CLI refuses, written as
hash-valid records by a second writer, before the cockpit starts and while it runs."""

from __future__ import annotations

import pytest

from . import datasets
from .session import MARKUP_AREA, SCREENS, screen_problems, sweep

pytestmark = pytest.mark.xdist_group("tui-every-field")

XFAIL: dict[str, str] = {}  # the review's holes here are fixed (issue 17)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return sweep(datasets.every_field(tmp_path_factory.mktemp("every-field")))


def _params():
    for screen in SCREENS:
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[screen])] if screen in XFAIL else []
        yield pytest.param(screen, marks=marks, id=screen)


@pytest.mark.parametrize("screen", _params())
def test_screen_is_clean(result, screen):
    problems = screen_problems(result, SCREENS[screen], tags=screen == "main",
                               markup=MARKUP_AREA[screen])
    assert not problems, "\n".join(problems)


def test_cockpit_ends_cleanly(result):
    assert result.crash is None and result.rc == 0, (result.crash, result.rc)
    assert not result.problems, "\n".join(result.problems)
