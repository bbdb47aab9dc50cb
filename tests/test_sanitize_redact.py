"""Untrusted text is made inert; secrets are masked."""

from __future__ import annotations

import pytest
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


# ------------------------------------------------------------------ issue 17: DSN secrets

DSN_FORMS = [  # (DSN, its secret values) in every form libpq reads
    ("host=db user=app password=S3cr3tCanary", ["S3cr3tCanary"]),
    ("host=db password='S3cr3t CanaryQ' user=app", ["S3cr3t CanaryQ"]),
    ("host=db password = 'S3cr3t\\'CanaryQ2' user=app", ["S3cr3t'CanaryQ2"]),
    ("host=db password=S3cr3t;Canary3 dbname=d", ["S3cr3t;Canary3"]),
    ("host=/run/pg port=5432 sslpassword=SslCanary6 user=c", ["SslCanary6"]),
    ("host=db password=PwCanary sslpassword='Ssl Canary7'", ["PwCanary", "Ssl Canary7"]),
    ("postgresql://app:S3cr3tCanaryUrl@db:5432/x", ["S3cr3tCanaryUrl"]),
    ("postgresql://app:p%40ssCanary@db/x?sslpassword=QueryCanary", ["p%40ssCanary", "p@ssCanary",
                                                                     "QueryCanary"]),
]


@pytest.mark.parametrize("dsn,secrets", DSN_FORMS)
def test_dsn_secrets_are_found_by_libpq_and_masked(dsn, secrets):
    from cockpit.redact import dsn_secrets

    assert dsn_secrets(dsn) == sorted(secrets)
    shown = redact_dsn(dsn)
    for s in secrets:
        assert s not in shown, shown
    assert MASK in shown
    # what is left is still a DSN libpq reads, with only the secrets changed
    from psycopg.conninfo import conninfo_to_dict

    before, after = conninfo_to_dict(dsn), conninfo_to_dict(shown)
    assert {k: v for k, v in before.items() if not k.endswith("password")} == {
        k: v for k, v in after.items() if not k.endswith("password")}
    assert all(v == MASK for k, v in after.items() if k.endswith("password"))


def test_free_text_masks_quoted_and_ssl_passwords():
    text = "x password='a b c' y sslpassword=\"d e\" z token: tok123 Bearer abcdefghij"
    out = redact_text(text)
    for s in ("a b c", "d e", "tok123", "abcdefghij"):
        assert s not in out, out


def test_held_secrets_of_a_config(tmp_path, monkeypatch):
    """Every secret the cockpit holds: *_env, *_file, inline DSN forms, URL userinfo."""
    from cockpit.config import load_config
    from cockpit.secrets import held_secrets

    monkeypatch.setenv("CANARY_ENV", "EnvCanary123")
    (tmp_path / "pw").write_text("FileCanary456\nsecond line\n")
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(f"""
[cockpit]
allow_inline_secrets = true  # refused by default (issue 10): masked all the same
[services.db]
title = "DB"
[[services.db.probes]]
kind = "postgres"
name = "a"
dsn = "host=127.0.0.1 port=1 password='Quoted Canary13' sslpassword=SslCanary6"
[[services.db.probes]]
kind = "postgres"
name = "b"
dsn = "host=127.0.0.1 port=1"
password_env = "CANARY_ENV"
[[services.db.probes]]
kind = "postgres"
name = "c"
dsn = "postgresql://u:UrlCanary789@127.0.0.1:1/db"
password_file = "{tmp_path / 'pw'}"
[services.web]
title = "Web"
[[services.web.probes]]
kind = "http"
name = "h"
url = "http://user:HttpCanary42@127.0.0.1:1/health"
token_env = "NOT_SET_ANYWHERE_17"
""")
    held = held_secrets(load_config(cfg))
    assert set(held) == {"Quoted Canary13", "SslCanary6", "EnvCanary123", "UrlCanary789",
                         "FileCanary456", "HttpCanary42"}
    assert list(held) == sorted(held, key=lambda s: (-len(s), s))  # longest first
