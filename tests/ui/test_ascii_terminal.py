"""M11 of the ux review, its last point: under ``TERM=vt100`` / ``LC_ALL=C`` the cockpit stays
legible. A real run in a pseudo-terminal writes no byte outside ASCII (what such a terminal
cannot show is never written), and the marks that carry meaning keep distinct ASCII forms:
the focused pane's ``>``, the step marks, the checkbox."""

from __future__ import annotations

import re

import pytest
from rich.cells import cell_len
from security.pty_harness import Pty, cockpit_argv

from cockpit.screens.ascii import MARKS, ascii_only, to_ascii
from cockpit.screens.runbooks import STATE_MARK

ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=$ ]*[A-Za-z~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHMc]")


@pytest.mark.parametrize("env, want", [
    ({"TERM": "vt100", "LANG": "C.UTF-8"}, True),
    ({"TERM": "xterm-256color", "LC_ALL": "C"}, True),
    ({"TERM": "xterm-256color", "LC_ALL": "POSIX", "LANG": "en_US.UTF-8"}, True),
    ({"TERM": "xterm-256color", "LC_CTYPE": "en_US.UTF-8"}, False),
    ({"TERM": "xterm-256color", "LANG": "C.UTF-8"}, False),
    ({"TERM": "xterm-256color"}, False),
    ({"TERM": "vt100", "COCKPIT_ASCII": "0"}, False),
])
def test_m11_which_terminals_are_ascii_only(env, want):
    assert ascii_only(env) is want


def test_m11_every_step_mark_has_its_own_ascii_form_of_the_same_width():
    marks = [m for m, _w, _s in STATE_MARK.values()]
    ascii_marks = [to_ascii(m) for m in marks]
    assert all(a.isascii() for a in ascii_marks)
    assert len(set(ascii_marks)) == len(set(marks)), dict(zip(marks, ascii_marks, strict=True))
    for text in ("╭─ ▶ Health [1] ─╮", "│ ✓ ran ok · ✔ done │", "全角", "▐X▌", "…"):
        assert to_ascii(text).isascii() and cell_len(to_ascii(text)) == cell_len(text)
    assert to_ascii("▶ Health") == "> Health" and MARKS["✔"] != MARKS["✓"]


def test_m11_under_vt100_and_lc_all_c_nothing_but_ascii_is_written():
    env = {"TERM": "vt100", "LC_ALL": "C", "LANG": "C",
           "COCKPIT_ASCII": ""}  # not forced (conftest pins it off for the other tests)
    with Pty.spawn(cockpit_argv("demo", "--paused"), cols=80, rows=24, env=env) as p:
        assert p.wait_for("Incident log", 30), p.text()
        assert p.wait_for("> Health", 15), p.text()  # the focused pane, in ASCII
        p.settle()
        p.press("r")
        assert p.wait_for("Runbooks", 15), p.text()
        p.settle()
        p.press("?")
        assert p.wait_for("Step marks", 15), p.text()
        p.settle()
        legend = p.text()
        for _ in range(3):  # help, then the navigator
            if "Health [1]" in p.text():
                break
            p.press("escape")
            p.settle()
        assert p.wait_for("Health [1]", 15), p.text()
        p.press("d")
        assert p.wait_for("Affected services", 15), p.text()
        p.settle()
        p.press("escape")  # the form closes first: a q sent with it could land in its input
        assert p.wait_for(lambda t: "Affected services" not in t, 15), p.text()
        p.settle()
        p.press("q")
        assert p.wait(15) == 0
    raw = bytes(p.raw)
    text = ESCAPES.sub(b"", raw)
    bad = sorted({b for b in text if b >= 0x80})
    assert not bad, f"non-ASCII bytes written: {bad[:10]} near " \
        f"{text[text.index(bytes([bad[0]])) - 40:][:80]!r}"
    # the legend explains the marks in the same ASCII forms the step list shows
    for shown in ("> running", "+ ran ok", "x FAILED", "~ skipped", ". pending"):
        assert shown in legend, legend
