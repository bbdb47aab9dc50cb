"""The live cockpit over every screen, with the payloads in every field the real CLI
accepts free text in (titles, note texts, role persons, authors), written by a second
writer before the cockpit starts and while it runs. Review channel 3a: clean, but for the
update draft (F1)."""

from __future__ import annotations

import pytest

from . import datasets
from .session import MARKUP_AREA, SCREENS, screen_problems, sweep

pytestmark = pytest.mark.xdist_group("tui-cli-fields")

XFAIL: dict[str, str] = {}  # the review's holes here are fixed (issue 17)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return sweep(datasets.cli_fields(tmp_path_factory.mktemp("cli-fields")))


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
