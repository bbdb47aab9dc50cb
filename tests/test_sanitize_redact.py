"""Untrusted text is made inert; secrets are masked."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.redact import MASK, redact_dsn, redact_text
from cockpit.sanitize import BIDI_AND_INVISIBLE, clean, one_line


def test_escape_sequences_are_removed():
    assert clean("a \x1b[31mred\x1b[0m b") == "a red b"
    assert clean("x\x1b]52;c;ZXZpbA==\x07y") == "xy"  # OSC 52 clipboard write
    assert clean("x\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\y") == "xlinky"
    assert clean("\x9b2J") == ""


def test_controls_become_visible_and_bidi_is_neutralised():
    out = clean("a\x00b\x07c\u202ed\u200be")
    assert "\x00" not in out and "\x07" not in out and "\u202e" not in out and "\u200b" not in out
    assert out.startswith("a\u2400b\u2407c")


def test_newlines_only_when_asked():
    assert one_line("a\nb\r\n") == "a b"
    assert clean("a\nb", keep_newlines=True) == "a\nb"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_nothing_dangerous_survives(s):
    out = clean(s, keep_newlines=True)
    for ch in out:
        o = ord(ch)
        assert ch == "\n" or not (o < 0x20 or o == 0x7F or 0x80 <= o <= 0x9F), repr(out)
        assert ch not in BIDI_AND_INVISIBLE


def test_redact_dsn_and_text():
    assert redact_dsn("postgresql://app:s3cret@db:5432/x") == f"postgresql://app:{MASK}@db:5432/x"
    assert "s3cret" not in redact_dsn("host=db password=s3cret user=app")
    assert "tok123456789" not in redact_text("Authorization: Bearer tok123456789")
    assert redact_text("the value hunter2 leaked", ["hunter2"]) == f"the value {MASK} leaked"
