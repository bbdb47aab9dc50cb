"""``cockpit review`` over hostile records: every field of every kind carrying the review's
payloads (escapes, markup, bidi, huge values), and records of the wrong type; the review is
scrubbed from the first entry to the last, its log, an entry and the navigator opened. Nothing
raw reaches the terminal, no markup is parsed, it does not crash and ends with exit code 0.
(``cockpit review`` is the full screen: the CLI output tables of test_cli_output leave it to
this test, as they leave ``cockpit demo``.)"""

from __future__ import annotations

import re

import pytest

from . import datasets
from .payloads import MARKERS_ALL, MARKUP_TAGS
from .pty_harness import Pty, cockpit_argv, markup_parsed, scan, summary
from .session import FOLLOWED


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    ds = datasets.every_field(tmp_path_factory.mktemp("hostile-review"))
    ds.write_before()
    ds.write_after()
    ds.close()
    return ds


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_the_review_shows_payloads_inert(hostile, size):
    ds = hostile
    argv = cockpit_argv("--state-dir", str(ds.state), "review", FOLLOWED, "--at", "T+0s")
    with Pty.spawn(argv, cols=size[0], rows=size[1], env=ds.env(), cwd=ds.base) as p:
        assert p.wait_for("REVIEW", 60), p.text()
        p.settle(0.5)
        # entry by entry through the start, minute steps, then the end; the log, an entry,
        # the navigator (its steps as of t)
        for k in [*["right"] * 40, "]", "]", ">"]:
            p.press(k, pause=0.05)
        p.settle(0.5)
        # the hostile writers' records are in the log (their authors are their tags)
        assert re.search(r"\bh\d{4}\b", p.text()), p.text()
        for k in ["3", "enter", "escape", "down", "down", "enter", "escape", "r", "down",
                  "down", "escape", "<", "space"]:
            p.press(k, pause=0.05)
        p.settle(0.5)
        text = p.text()
        assert not p.exited, text
        assert not markup_parsed(text, MARKUP_TAGS), text
        found = scan(bytes(p.raw), MARKERS_ALL)
        assert not found, summary(found, 6)
        p.press("q")
        assert p.wait(20) == 0, p.text()
    assert not ds.crash_reports()
