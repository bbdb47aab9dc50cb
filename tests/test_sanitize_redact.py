"""Untrusted text is made inert; secrets are masked."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.redact import MASK, redact_dsn, redact_text
from cockpit.text import DANGEROUS_RE, clean, is_dangerous, one_line


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
        assert ch == "\n" or not is_dangerous(ch), repr(out)


def test_redact_dsn_and_text():
    assert redact_dsn("postgresql://app:s3cret@db:5432/x") == f"postgresql://app:{MASK}@db:5432/x"
    assert "s3cret" not in redact_dsn("host=db password=s3cret user=app")
    assert "tok123456789" not in redact_text("Authorization: Bearer tok123456789")
    assert redact_text("the value hunter2 leaked", ["hunter2"]) == f"the value {MASK} leaked"


def test_one_table_of_dangerous_code_points_for_screen_journal_and_runbooks():
    """Every Cc/Cf/Zl/Zp/Cs code point is dangerous; the screen sanitizer makes each one
    visible, and the runbook text check refuses each one (but tab and newline)."""
    import unicodedata

    from cockpit.runbooks.policy import text_problem

    for cp in range(0x110000):
        ch = chr(cp)
        want = unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")
        assert bool(DANGEROUS_RE.match(ch)) == want, hex(cp)
    for cp in (0x00AD, 0x2028, 0x2029, 0xE0041, 0xFFF9, 0x202E, 0x200B, 0x9B):
        ch = chr(cp)
        assert ch not in clean(f"a{ch}b"), hex(cp)
        assert text_problem(f"a{ch}b", multiline=True), hex(cp)
    assert text_problem("a\tb\nc", multiline=True) is None


def test_an_unterminated_string_sequence_hides_nothing_after_it():
    assert clean("condition failed: status (\x1b]0;X) == ok; slow: 900 ms") == \
        "condition failed: status (0;X) == ok; slow: 900 ms"
    assert clean("a\x1bPb DB DOWN") == "ab DB DOWN"
    assert clean("x\x1b]0;title\x07y") == "xy"  # terminated: removed whole
