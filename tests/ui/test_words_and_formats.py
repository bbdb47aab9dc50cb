"""M8 and POLISH 14 of the ux review: one clock format per meaning, explained in help's
legend; the log says DOWN like the health pane; a cut role line still says which role."""

from __future__ import annotations

import re

from cockpit.incident.clocks import CLOCK_LEGEND, countdown, rpo_exposure
from cockpit.incident.log import describe
from cockpit.incident.model import SimEntry
from cockpit.screens.modals import HelpScreen

from . import contrast
from .helpers import T0, demo_app

HMS = r"\d+:\d\d:\d\d"


def screen_text(app) -> str:
    return "\n".join("".join(s.text for s in line) for line in contrast.screen_lines(app))


def test_m8_clock_values_one_format_per_meaning():
    left = countdown("rto:db", "RTO db", 3600, T0, T0 + 120)
    over = countdown("rto:db", "RTO db", 600, T0, T0 + 900)
    took_short = countdown("m:r", "Respond", 900, T0, T0 + 9999, done_at=T0 + 120)
    took_long = countdown("rto:db", "RTO db", 3600, T0, T0 + 9999, done_at=T0 + 1080)
    rpo = rpo_exposure("rpo:db", "RPO db", 900, 35)
    shown = {c: (c.value_text(), c.word_text()) for c in (left, over, took_short, took_long, rpo)}
    assert shown[left] == ("0:58:00", "left ok")  # the review: no "left" on a running clock
    assert shown[over] == ("+0:05:00", "BREACHED")
    # the review's "18m/1h" beside "8m00s/2h": one format for a measured time
    assert shown[took_short] == ("0:02:00", "met of 15m")
    assert shown[took_long] == ("0:18:00", "met of 1h")
    assert shown[rpo] == ("0:00:35", "ok of 15m")
    for value, _ in shown.values():
        assert re.fullmatch(rf"\+?{HMS}", value)
    # the legend shows every one of those meanings
    legend = " | ".join(s for s, _ in CLOCK_LEGEND)
    for needed in (" left ", "+0:", " met of ", " ok of "):
        assert needed in legend


def test_m8_the_log_says_down_like_the_health_pane():
    e = SimEntry(T0, "cockpit", "health", {"service": "database", "status": "fail",
                                           "summary": "refused"})
    assert describe(e) == ("health", "database DOWN refused")
    odd = SimEntry(T0, "cockpit", "health", {"service": "database", "status": "weird"})
    assert describe(odd)[1].startswith("database WEIRD")


def test_polish14_a_cut_role_line_still_says_which_role():
    e = SimEntry(T0, "alice", "role.assigned", {"person": "bob", "role": "communications"})
    label, text = describe(e)
    assert label == "role" and text.startswith("communications: bob")
    cut = text[:14]  # what an 80-column log keeps of it
    assert "communications" in cut


async def test_m8_main_screen_values_and_help_legend():
    app = demo_app(at=1380)  # recovered: stopped clocks of both lengths
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert re.search(rf"RTO PostgreSQL +{HMS} met of 1h", text), text
        assert re.search(rf"RTO Backend API {HMS} met of 2h", text), text
        assert re.search(rf"Respond +{HMS} met of 15m", text), text
        assert "database FAIL" not in text
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        legend = dict(app.screen.legend)
        assert "Clock values" in legend and "Health words" in legend
        words = dict(legend["Health words"])
        assert "DOWN" in words and "FAIL" not in words
    app = demo_app(at=400)  # responding: running clocks say "left"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert re.search(rf"RTO PostgreSQL +{HMS} left ok", text), text
        assert re.search(rf"Communicate +{HMS} left ok", text), text


def test_help_shows_keys_as_they_are_typed():
    """The facilitator's and the review's help: ``+ / =`` and ``>``, not Textual's key names
    (``plus / equals_sign``, ``greater_than_sign``)."""
    from cockpit.keys import BY_ID
    from cockpit.screens.keys import display_keys

    assert display_keys(BY_ID["fx-faster"].keys) == "+ / ="
    assert display_keys(BY_ID["fx-jump"].keys) == ">"
    assert display_keys(BY_ID["review-prev"].keys) == "←"
    assert display_keys("question_mark,ctrl+r") == "? / ctrl+r"
