"""The record serializer: escaping round-trips and cat-safe bytes (P9)."""

from __future__ import annotations

import tomllib
import unicodedata

import pytest
import rtoml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.journal import Journal, read_incident
from cockpit.journal.record import (
    dumps_document,
    encode_record,
    genesis,
    quote,
)
from cockpit.text import DANGEROUS_RANGES as _ESCAPE_RANGES

ESCAPED_CATS = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def bad_raw(ch: str) -> bool:
    """Characters that must never appear raw in a journal (newline is allowed)."""
    if ch == "\n":
        return False
    return unicodedata.category(ch) in ESCAPED_CATS


def _in_table(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _ESCAPE_RANGES)


def test_escape_table_matches_unicodedata():
    for cp in range(0x110000):
        assert _in_table(cp) == (unicodedata.category(chr(cp)) in ESCAPED_CATS), hex(cp)


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
scalars = st.one_of(
    text, st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)
values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(text, kids, max_size=4),
    max_leaves=12,
)
datas = st.dictionaries(text, values, max_size=6)


def _check_bytes(raw: bytes) -> None:
    s = raw.decode("utf-8")
    bad = [hex(ord(c)) for c in s if bad_raw(c)]
    assert not bad, bad
    assert b"\x1b" not in raw


@settings(max_examples=400, deadline=None)
@given(s=text, author=text)
def test_any_string_round_trips_and_bytes_are_safe(s, author):
    rec, digest = encode_record(seq=1, ts=1.25, kind="note", author=author,
                                data={"text": s, s: [s, {s: s}]}, prev=genesis("i", "f"))
    _check_bytes(rec)
    for loads in (tomllib.loads, rtoml.loads):
        d = loads(rec.decode())["entry"][0]
        assert d["author"] == author
        assert d["data"]["text"] == s
        assert d["data"][s] == [s, {s: s}]
        assert d["hash"] == digest


@settings(max_examples=300, deadline=None)
@given(data=datas, ts=st.floats(allow_nan=False, allow_infinity=False))
def test_nested_data_round_trips_identically_with_tomllib_and_rtoml(data, ts):
    rec, _ = encode_record(seq=7, ts=ts, kind="k", author="a", data=data, prev="sha256:x")
    _check_bytes(rec)
    a = tomllib.loads(rec.decode())["entry"][0]
    b = rtoml.loads(rec.decode())["entry"][0]
    assert a == b
    assert a["data"] == (data or {})
    assert a["ts"] == ts
    doc = dumps_document({"d": data})
    assert tomllib.loads(doc) == {"d": data} or (not data and tomllib.loads(doc) == {"d": {}})


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(s=text)
def test_strings_round_trip_through_a_real_journal(tmp_path, s):
    state = tmp_path / "s"
    with Journal(state, "rt", author=s) as j:
        e = j.append("note", {"text": s, "multi": s + "\n" + s})
        raw = j.path.read_bytes()
    _check_bytes(raw)
    got = {x.id: x for x in read_incident(state, "rt").entries}[e.id]
    assert got.data == {"text": s, "multi": s + "\n" + s}
    assert got.author == s
    tomllib.loads(raw.decode())  # the whole file stays valid TOML


def test_lone_surrogates_become_replacement_char():
    rec, _ = encode_record(seq=1, ts=0.0, kind="k", author="\ud800",
                           data={"t": "a\udcffb\nc"}, prev="p")
    d = tomllib.loads(rec.decode())["entry"][0]
    assert d["author"] == "\ufffd"
    assert d["data"]["t"] == "a\ufffdb\nc"


def test_specific_characters_are_escaped():
    for ch in "\x00\x1b\x7f\x85\x9b\u200b\u200d\u202a\u202e\u2066\u2069\ufeff\u00ad\u2028\t\r":
        q = quote("a" + ch + "b")
        assert ch not in q
        assert tomllib.loads(f"x = {q}")["x"] == "a" + ch + "b"


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1])
def test_out_of_range_integers_are_rejected(bad):
    with pytest.raises(ValueError):
        encode_record(seq=1, ts=0.0, kind="k", author="a", data={"n": bad}, prev="p")


@pytest.mark.parametrize("bad", [b"bytes", None, object(), {1: "x"}])
def test_unsupported_types_are_rejected(bad):
    with pytest.raises((TypeError, ValueError)):
        encode_record(seq=1, ts=0.0, kind="k", author="a", data={"v": bad}, prev="p")


def test_special_floats():
    rec, _ = encode_record(seq=1, ts=0.0, kind="k", author="a",
                           data={"a": float("inf"), "b": float("-inf"), "c": 1e-5, "d": -0.0},
                           prev="p")
    d = tomllib.loads(rec.decode())["entry"][0]["data"]
    assert d == {"a": float("inf"), "b": float("-inf"), "c": 1e-5, "d": -0.0}


def test_reader_gives_the_same_result_with_tomllib_and_rtoml(tmp_path, monkeypatch):
    import random

    from cockpit.journal import reader

    from .helpers import hostile_text

    rng = random.Random(9)
    state = tmp_path / "s"
    with Journal(state, "parsers") as j:
        for i in range(200):
            j.append("note", {"text": hostile_text(rng, rng.randint(0, 500)), "i": i,
                              "f": rng.random(), "l": [i, {"k": hostile_text(rng)}]})
    fast = read_incident(state, "parsers")
    monkeypatch.setattr(reader, "_fast_loads", tomllib.loads)
    slow = read_incident(state, "parsers")
    assert fast.entries == slow.entries and len(fast.entries) == 201
    assert fast.problems == slow.problems == []
