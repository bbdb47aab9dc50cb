"""While the cockpit runs, a second writer gives the followed incident hostile titles,
severities, statuses, action notes and commanders (values the CLI refuses), one after the
other; after each, the main screen (title bar, clock pane, log) and the modals that show
them are checked. Two cockpit processes: one for the update draft, one for the status form.
Values the CLI refuses (a status or severity made of the payloads) are unreadable records:
shown as such, never folded, so the title bar keeps the last well-formed status. Role persons and every other field are covered,
without the live title bar behind them, by test_tui_every_field."""

from __future__ import annotations

import pytest

from .payloads import JOINED, MARKUP_ERROR, NAMES, PAYLOADS
from .session import FOLLOWED, MARKUP_AREA, Dataset, declared, live_sweep, screen_problems

pytestmark = pytest.mark.xdist_group("tui-live-writer")

# Each markup payload alone (a parsed tag would hide in the joined string's noise), then
# the joined string, then text that breaks markup parsing.
VALUES = [(NAMES[i], PAYLOADS[i]) for i in (5, 7, 15, 6)] + [
    ("joined", JOINED), ("markup-error", MARKUP_ERROR)]



def _dataset(tmp_path_factory, name: str) -> Dataset:
    ds = Dataset.new(tmp_path_factory.mktemp(name))
    ds.before.append((FOLLOWED, declared("live incident")))
    return ds


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    return live_sweep(_dataset(tmp_path_factory, "live-views"), VALUES,
                      modals=("update-draft",))


@pytest.fixture(scope="module")
def status_form(tmp_path_factory):
    return live_sweep(_dataset(tmp_path_factory, "live-status"), VALUES,
                      modals=("status-form",))


@pytest.mark.parametrize("screen,value", [
    pytest.param(screen, name, id=f"{screen}-{name}")
    for name, _ in VALUES for screen in ("main", "update-draft")])
def test_screen_is_clean_after_a_live_change(views, screen, value):
    problems = screen_problems(views, [f"{screen}-{value}"], markup=MARKUP_AREA[screen])
    assert not problems, "\n".join(problems)


def test_views_cockpit_ends_cleanly(views):
    assert views.crash is None and views.rc == 0, (views.crash, views.rc)
    assert not views.problems, "\n".join(views.problems)


@pytest.mark.parametrize("value", [pytest.param(name, id=name) for name, _ in VALUES])
def test_status_form_is_clean_after_a_live_change(status_form, value):
    problems = screen_problems(status_form, [f"status-form-{value}"],
                               markup=MARKUP_AREA["status-form"])
    assert not problems, "\n".join(problems)


def test_status_form_cockpit_survives_and_ends_cleanly(status_form):
    assert status_form.crash is None and status_form.rc == 0, (status_form.crash,
                                                               status_form.rc)
    assert not status_form.problems, "\n".join(status_form.problems)
