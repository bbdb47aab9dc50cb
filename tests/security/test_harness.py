"""The harness itself: the scanner finds every payload kind written raw and nothing in a
clean run; the pty records every byte and answers queries; the second writer's records
verify."""

from __future__ import annotations

import re
import sys

import pytest

from cockpit.journal import read_incident, verify_incident
from cockpit.journal import writer as journal_writer
from cockpit.journal.model import UNREADABLE

from . import hostile_writer as hw
from .payloads import HOSTILE_VALUES, JOINED, MARKERS, MARKERS_ALL, NAMES, PAYLOADS, marker
from .pty_harness import PY, TEXTUAL_OWN, Pty, ScreenFeed, cockpit_argv, scan, summary

# Payloads that are inert as bytes: Rich/Textual markup is only dangerous when parsed, and
# then what reaches the terminal is ordinary SGR (or an OSC 8 link, which is caught). The
# tests look for them on screen instead (markup shown literally).
MARKUP_ONLY = {"markup-click", "markup-link", "markup-style", "textual-variable"}


def kinds(findings) -> set[str]:
    return {f.kind for f in findings}


@pytest.mark.parametrize("name,payload", list(zip(NAMES, PAYLOADS, strict=True)), ids=NAMES)
def test_scanner_finds_each_payload_written_raw(name, payload):
    found = scan(f"text before {payload} text after".encode(), MARKERS)
    if name in MARKUP_ONLY:
        assert found == [], summary(found)
        return
    assert found, f"payload {name} written raw was not found"
    # the payload's own marker, when inside its escape sequence, is named
    i = NAMES.index(name)
    if any(f.kind == "marker-in-escape" for f in found):
        assert any(marker(i) in f.what for f in found if f.kind == "marker-in-escape")


@pytest.mark.parametrize("raw,kind", [
    (b"a\x9b2Jb", "c1"),  # 8-bit CSI, raw byte
    ("a\u009b2Jb".encode(), "c1"),  # the same as UTF-8
    (b"a\x9d0;PWNED-10\x9cb", "marker-in-escape"),  # 8-bit OSC ... ST, raw bytes
    ("a\u009d0;PWNED-10\u009cb".encode(), "marker-in-escape"),
    (b"a\x90$qPWNED-12\x9cb", "marker-in-escape"),  # 8-bit DCS
    (b"a\x1b_PWNED-03\x1b\\b", "marker-in-escape"),  # APC
    (b"a\x1b^PWNED-03\x1b\\b", "marker-in-escape"),  # PM
    (b"a\x1bXPWNED-03\x1b\\b", "marker-in-escape"),  # SOS
    # Rich drops the BEL: the terminal ends the OSC at the next ESC
    (b"\x1b[1mINCIDENT \x1b]0;PWNED-00 \x1b[0m", "marker-in-escape"),
    (b"\x1b]0;PWNED-00", "marker-in-escape"),  # unterminated, to the end
    (b"\x1b]52;c;UFdORUQtMDE=\x07", "marker-in-escape"),  # base64 of PWNED-01
    (b"\x1b]52;c;aGVsbG8=\x07", "foreign-escape"),  # OSC 52 without a marker
    (b"\x1b[2J", "foreign-escape"),
    (b"\x1b[6n", "foreign-escape"),
    (b"\x1b[PWNED-00", "foreign-escape"),  # ESC [ P: delete character
    (b"\x1b7\x1b8", "foreign-escape"),  # save / restore cursor
    (b"\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\", "foreign-escape"),
    ("x\u202ey".encode(), "bidi"),
    ("x\u2067y".encode(), "bidi"),
    ("x\u200ey".encode(), "bidi"),
    ("x\u061cy".encode(), "bidi"),
    ("x\u200by".encode(), "format"),
    ("x\u200dy".encode(), "format"),
    ("x\ufeffy".encode(), "format"),
    ("x\u00ady".encode(), "format"),
    ("x\u2028y".encode(), "format"),
    ("x\u2029y".encode(), "format"),
    (b"PWNED-13\rOVERWRITTEN", "c0"),
    (b"a\x08b", "c0"),
    (b"a\x0bb", "c0"),
    (b"a\tb", "c0"),  # not allowed in a full-screen UI by default
    (b"a\xffb", "bad-utf8"),
])
def test_scanner_reports(raw, kind):
    found = scan(raw, MARKERS_ALL)
    assert kind in kinds(found), summary(found)


def test_scanner_ignores_what_textual_writes_itself():
    own = (
        "\x1b[?1049h\x1b[?1000h\x1b[?1003h\x1b[?1015h\x1b[?1006h\x1b[?25l\x1b[?1004h"
        "\x1b[>25u\x1b[?2026$p\x1b[?2048$p\x1b[?2004h\x1b[?7l\x1b]22;default\x07"
        "\x1b[1;1H\x1b[48;5;17m \x1b[0m\x1b[1;38;5;253;48;5;17mDR Cockpit \u2502 \x1b[0m"
        "\x1b[38;2;10;20;30mx\x1b[4:3m\x1b[12;40Hy\r\n\x07"
        "\x1b[?2026h\x1b[?2026l\x1b[?1016h"
        "\x1b[?2004l\x1b[?7h\x1b[?1000l\x1b[<u\x1b[?1049l\x1b[?25h\x1b[?1004l"
    )
    assert scan(own.encode(), MARKERS_ALL) == []
    for p in TEXTUAL_OWN:  # no marker fits in any of Textual's own patterns
        assert not any(p.fullmatch(m) or p.search(m) for m in MARKERS_ALL)


def test_a_segment_cut_inside_the_applications_escape_sequence_is_not_a_finding():
    from .session import Segment, SweepResult

    own = "\x1b[0m\x1b[38;5;253;48;5;233m text \x1b[0m"
    raw = (own + "gap" + own + "\x1b]0;title\x07" + own).encode()
    cut_csi = raw.index(b"38;5;253") + 3  # the test moved on while Textual was writing
    cut_osc = raw.index(b"title")
    segs = {"a": Segment("a", 0, cut_csi, True, True, ""),
            "b": Segment("b", raw.index(b"gap") + 3, cut_osc, True, True, ""),
            "c": Segment("c", cut_osc + 2, len(raw), True, True, "")}
    r = SweepResult(raw, segs, None, None, set(), [], [])
    assert scan(r.segment_raw("a", "b", "c"), allowed=[re.compile(r"\x1b\]0;title\x07")]) == []
    # without moving the cuts out of the sequences, the pieces join into broken ones
    joined = raw[:cut_csi] + raw[segs["b"].start:cut_osc] + raw[cut_osc + 2:]
    assert "foreign-escape" in kinds(scan(joined))
    # a foreign sequence inside a segment is still found
    bad = raw + b"\x1b]52;c;aGVsbG8=\x07"
    segs["c"] = Segment("c", cut_osc + 2, len(bad), True, True, "")
    r = SweepResult(bad, segs, None, None, set(), [], [])
    assert "foreign-escape" in kinds(scan(r.segment_raw("c"),
                                          allowed=[re.compile(r"\x1b\]0;title\x07")]))


def test_scanner_options():
    assert scan(b"a\tb\n", allow_c0="\n\t") == []
    assert kinds(scan(b"a\r\nb", allow_crlf=False)) == {"c0"}
    osc52 = b"\x1b]52;c;aGVsbG8=\x07"
    assert scan(osc52, MARKERS_ALL, allow_clipboard=True) == []
    # a marker in a copy is still reported
    assert kinds(scan(b"\x1b]52;c;UFdORUQtMDE=\x07", MARKERS_ALL, allow_clipboard=True)) == {
        "marker-in-escape"}
    assert scan(b"\x1b[2J", allowed=[re.compile(r"\x1b\[2J")]) == []


def test_scanner_finds_every_marker_of_the_joined_string_written_raw():
    found = scan(JOINED.encode(), MARKERS_ALL)
    escaped = {m for m in MARKERS for f in found if f.kind == "marker-in-escape" and m in f.what}
    # the payloads whose marker sits inside their escape sequence
    assert escaped >= {marker(i) for i in (0, 1, 4, 9, 10, 12)}, summary(found)
    assert {"c1", "bidi", "format", "c0", "foreign-escape"} <= kinds(found)


def test_screen_feed_keeps_the_screen_readable():
    import pyte

    screen = pyte.Screen(40, 3)
    feed = ScreenFeed(screen)
    data = ("ab\x1b[2Jc\x1b]0;PWN\x07d\x1b[1;31mE\x1b[0m\x9b2Jf\u202eg PWNED-13\rOVER\r\n"
            "line2").encode()
    for i in range(0, len(data), 3):  # split sequences and characters across chunks
        feed.feed(data[i:i + 3])
    assert screen.display[0].rstrip() == "abcdE2Jfg PWNED-13OVER"
    assert screen.display[1].rstrip() == "line2"


def test_pty_records_every_byte_and_answers_cursor_position_requests(tmp_path):
    child = (
        "import os, sys, tty\n"
        "tty.setraw(0)\n"
        "os.write(1, b'\\x9b\\xff\\x1b]0;t\\x07')\n"
        "os.write(1, b'\\x1b[6n')\n"
        "r = b''\n"
        "while not r.endswith(b'R'):\n"
        "    r += os.read(0, 1)\n"
        "os.write(1, b'got ' + r[1:] + b'\\r\\n')\n"
    )
    with Pty.spawn([PY, "-c", child], cols=50, rows=5) as p:
        assert p.wait_for("got [", 10), p.raw
        assert p.wait(10) == 0
    assert bytes(p.raw).startswith(b"\x9b\xff\x1b]0;t\x07\x1b[6n")
    assert p.answered == 1
    assert b"got [1;1R" in bytes(p.raw)


def test_a_clean_demo_run_over_every_screen_has_no_findings():
    """No false positives: the scanner knows everything Textual writes in a real session."""
    with Pty.spawn(cockpit_argv("demo", "--paused"), cols=120, rows=40) as p:
        assert p.wait_for("Incident log", 20)
        # (the live sweeps over every screen are clean runs too, where no payload leaks)
        steps = [("?", "this help"), ("escape", None), ("r", "Runbooks (ranked)"),
                 ("tab", None), ("down", None), ("escape", None), ("3", "▶ Incident log"),
                 ("enter", "Log entry"), ("escape", None), ("u", "Stakeholder update"),
                 ("escape", None), ("d", "Declare an incident"), ("escape", None),
                 ("f", "Filter the incident log"), ("escape", None)]
        shown = ""
        for key, shows in steps:
            p.press(key, pause=0.05)
            if shows:
                assert p.wait_for(shows, 5), (key, p.text())
                shown = shows
            elif key == "escape":  # closed before the next key (else ESC + key is alt+key)
                assert p.wait_for(lambda t, gone=shown: gone not in t, 10), (shown, p.text())
            p.settle(0.1, 2)
        p.press("q", pause=0.0)
        assert p.wait(15) == 0
    found = scan(bytes(p.raw), MARKERS_ALL)
    assert found == [], summary(found)
    assert len(p.raw) > 50_000  # it really drew the screens
    # POLISH 18: clicks and the wheel, but no any-motion mouse tracking over SSH
    assert b"\x1b[?1002h" in p.raw and b"\x1b[?1003h" not in p.raw


# ------------------------------------------------------------------ the second writer

def test_hostile_records_verify_as_chains_intact(tmp_path):
    iid = "20990101-000000-writer-0001"
    with hw.HostileWriter(tmp_path, iid) as w:
        cases = hw.write_cases(w, hw.payload_cases(["note", "incident.status", "step.started"]))
        cases += hw.write_cases(w, hw.kind_cases(start=hw.next_tag(cases)))
        cases += hw.write_cases(w, hw.wrong_type_cases(["role.assigned"], huge=True,
                                                       start=hw.next_tag(cases)))
    res = verify_incident(tmp_path, iid)
    assert res.ok, res.first_bad
    assert res.count == len(cases) + 1  # and the session-start record
    entries = read_incident(tmp_path, iid, recover=False).entries
    # each record is read: as itself, or (not well-formed) as an unreadable entry that keeps
    # the record's kind
    got = {(e.author, e.data["record"]["kind"] if e.kind == UNREADABLE else e.kind)
           for e in entries}
    for c in cases:
        assert (c.author, c.kind) in got
    # kinds the CLI's own writer refuses, e.g. a kind made of escape sequences: hash-valid,
    # and never taken for an entry of a kind
    made_of_escapes = [e for e in entries if e.kind == UNREADABLE
                       and e.data["record"]["kind"] == PAYLOADS[0]]
    assert made_of_escapes and not any(e.kind == PAYLOADS[0] for e in entries)
    assert not journal_writer._KIND.match(PAYLOADS[0])
    assert journal_writer._KIND.pattern == r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z"  # untouched


def test_records_with_wrong_typed_envelopes_are_hash_valid(tmp_path):
    """``append_raw`` seals records as the real writer does: the reader rejects their
    fields (an unreadable record), never their hash or chain: the record after it is
    read and proven."""
    for i, (what, fields) in enumerate(hw.ENVELOPE_CASES):
        iid = f"20990101-000000-envelope-{i:04d}"
        with hw.HostileWriter(tmp_path, iid, session_start=False) as w:
            w.append_raw(fields, what=what)
            w.append("note", {"type": "observation", "text": "after"})
        res = verify_incident(tmp_path, iid)
        assert res.ok and res.count == 2, (what, res.first_bad)
        assert len(res.unreadable) == 1 and " seq 1: " in res.unreadable[0], (what, res)
        entries = read_incident(tmp_path, iid, recover=False).entries
        assert [e.kind for e in entries] == [UNREADABLE, "note"], what
        assert all(e.verified for e in entries)


def test_the_case_generators_cover_every_field_of_every_kind():
    cases = list(hw.payload_cases())
    for kind, fields in hw.KIND_FIELDS.items():
        mine = [c for c in cases if c.kind == kind]
        assert len(mine) == len(PAYLOADS) + 1, kind
        for f in fields:
            values = {c.data.get(f) for c in mine}
            if f == "impact_start":
                continue
            if kind.startswith("step.") and f in ("runbook", "step", "attempt"):
                assert JOINED in values, (kind, f)  # the others name a real step
            else:
                assert set(PAYLOADS) <= values, (kind, f)
    wrong = list(hw.wrong_type_cases(["note"], huge=False))
    assert len(wrong) == len(hw.KIND_FIELDS["note"]) * len(HOSTILE_VALUES)
    assert len({c.tag for c in wrong}) == len(wrong)
    assert sys.getsizeof(hw.HUGE_VALUES[0][1]) >= 1_000_000
