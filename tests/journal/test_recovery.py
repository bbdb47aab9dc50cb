"""Byte prefixes, zero tails, bit flips and edits (P4, A1 ops 1-5), and no false alarms."""

from __future__ import annotations

import random
import shutil
import tomllib
from pathlib import Path

import pytest

from cockpit.journal import Journal, read_incident, verify_incident
from cockpit.journal.reader import scan
from cockpit.journal.record import HEADER, TERMINATOR_RE, encode_record
from cockpit.timeutil import FixedClock

from .helpers import hostile_text

INC = "inc-prefix"


def make_journal(state: Path, n: int = 30, seed: int = 1) -> tuple[Path, bytes, list[int]]:
    """A closed journal of n records (1 session-start + n-1 hostile notes). Returns
    (path, bytes, end offset of each record)."""
    rng = random.Random(seed)
    clock = FixedClock(1_700_000_000.0)
    with Journal(state, INC, clock=clock, author="alice\u202e") as j:
        for i in range(n - 1):
            clock.advance(0.5)
            j.append("note", {"text": hostile_text(rng, rng.choice([0, 10, 300])), "i": i,
                              "nested": {"l": [hostile_text(rng), i, 1.5, True]}})
        path = j.path
    raw = path.read_bytes()
    ends = [m.end() for m in TERMINATOR_RE.finditer(raw)]
    assert len(ends) == n
    return path, raw, ends


@pytest.fixture(scope="module")
def journal30(tmp_path_factory):
    state = tmp_path_factory.mktemp("j30") / "state"
    path, raw, ends = make_journal(state)
    return state, path, raw, ends


def complete_records(ends: list[int], length: int) -> int:
    return sum(1 for e in ends if e <= length)


def test_every_byte_prefix_scans_to_exactly_its_complete_records(journal30):
    _, path, raw, ends = journal30
    for n in range(len(raw) + 1):
        for tail in (b"", b"\0" * 4096):
            fs = scan(raw[:n] + tail, path, INC)
            k = complete_records(ends, n)
            assert fs.damage is None, (n, fs.problem())
            assert len(fs.entries) == k, n
            assert [e.seq for e in fs.entries] == list(range(1, k + 1))
            good_end = ends[k - 1] if k else (len(HEADER) if n >= len(HEADER) else 0)
            assert fs.valid_end == good_end, n
            assert fs.tail == n + len(tail) - good_end, n


def test_byte_prefixes_recover_on_disk_into_quarantine(journal30, tmp_path):
    """Real recovery (quarantine + truncate + fsync) on every 13th prefix, plain and zero-filled."""
    _, path, raw, ends = journal30
    rng = random.Random(5)
    for n in range(0, len(raw) + 1, 13):
        tail = b"\0" * rng.choice([0, 4096])
        state = tmp_path / f"p{n}-{len(tail)}"
        jdir = state / "incidents" / INC / "journal"
        jdir.mkdir(parents=True)
        (jdir / path.name).write_bytes(raw[:n] + tail)
        res = read_incident(state, INC)
        k = complete_records(ends, n)
        assert res.problems == []
        assert len(res.entries) == k
        after = (jdir / path.name).read_bytes()
        good_end = len(after)
        assert raw.startswith(after)
        if after:
            assert len(tomllib.loads(after.decode()).get("entry", [])) == k
        cut = (raw[:n] + tail)[good_end:]
        q = list((state / "incidents" / INC / "quarantine").glob("*.tail"))
        if cut:
            assert len(q) == 1 and q[0].read_bytes() == cut
            assert q[0].name == f"{path.name}.{good_end}.tail"
        else:
            assert q == []
        assert verify_incident(state, INC).ok
        shutil.rmtree(state)


def _verify_bytes(tmp_path: Path, name: str, data: bytes):
    state = tmp_path / "v"
    jdir = state / "incidents" / INC / "journal"
    jdir.mkdir(parents=True, exist_ok=True)
    for p in jdir.iterdir():
        p.unlink()
    (jdir / name).write_bytes(data)
    return verify_incident(state, INC)


def test_every_single_bit_flip_is_detected(journal30, tmp_path):
    _, path, raw, _ = journal30
    rng = random.Random(42)
    positions = rng.sample(range(len(raw) * 8), 3000)
    missed = []
    for bit in positions:
        b = bytearray(raw)
        b[bit // 8] ^= 1 << (bit % 8)
        res = _verify_bytes(tmp_path, path.name, bytes(b))
        if res.ok:
            missed.append(bit)
        else:
            assert res.first_bad is not None and res.first_bad.file.name == path.name
    assert missed == []


def _records(raw: bytes, ends: list[int]) -> tuple[bytes, list[bytes]]:
    starts = [len(HEADER)] + ends[:-1]
    return raw[: len(HEADER)], [raw[s:e] for s, e in zip(starts, ends, strict=True)]


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def test_edits_are_detected_with_file_seq_and_line(journal30, tmp_path):
    _, path, raw, ends = journal30
    header, recs = _records(raw, ends)
    rng = random.Random(7)
    cases = 0
    for _ in range(100):
        k = rng.randrange(1, len(recs) - 1)
        start_k = len(header) + sum(len(r) for r in recs[:k])
        line_k = _line_of(raw, start_k)
        # 1. change one byte of a value (keep it valid UTF-8 / TOML)
        r = recs[k]
        i = r.index(b"i = ") + 4
        changed = r[:i] + (b"9" if r[i:i + 1] != b"9" else b"8") + r[i + 1:]
        # 2. edit the timestamp
        j = r.index(b"ts = ") + 5
        ts_edit = r[:j] + (b"2" if r[j:j + 1] != b"2" else b"3") + r[j + 1:]
        variants = {
            "change": recs[:k] + [changed] + recs[k + 1:],
            "timestamp": recs[:k] + [ts_edit] + recs[k + 1:],
            "delete": recs[:k] + recs[k + 1:],
            "reorder": recs[:k] + [recs[k + 1], recs[k]] + recs[k + 2:],
            "duplicate": recs[:k + 1] + [recs[k]] + recs[k + 1:],
        }
        # 3. insert a forged record with a correct own hash but an invented chain link
        forged, _ = encode_record(seq=k + 1, ts=1.0, kind="note", author="mallory",
                                  data={"text": "all fine"}, prev="sha256:" + "ab" * 32)
        variants["insert"] = recs[:k] + [forged] + recs[k:]
        for what, rs in variants.items():
            res = _verify_bytes(tmp_path, path.name, header + b"".join(rs))
            cases += 1
            assert not res.ok, what
            bad = res.first_bad
            assert bad.file.name == path.name
            expect_line = line_k if what != "reorder" and what != "duplicate" else None
            if what == "duplicate":
                expect_line = _line_of(raw, start_k + len(recs[k]))
            assert bad.line == (expect_line or line_k), (what, bad)
            assert f"{path.name}:{bad.line}: seq {bad.seq}: " in str(bad)
    assert cases == 600


def test_verify_reports_damage_but_reader_keeps_later_records_unverified(journal30, tmp_path):
    _, path, raw, ends = journal30
    header, recs = _records(raw, ends)
    state = tmp_path / "d"
    jdir = state / "incidents" / INC / "journal"
    jdir.mkdir(parents=True)
    data = header + b"".join(recs[:5] + recs[6:])  # record 6 (seq 6) deleted
    (jdir / path.name).write_bytes(data)
    res = read_incident(state, INC)
    assert len(res.problems) == 1 and "seq 7" in res.problems[0]
    assert [e.verified for e in res.entries].count(True) == 5
    assert len(res.entries) == 29
    assert (jdir / path.name).read_bytes() == data  # never "fixed"
    assert not list((state / "incidents" / INC / "quarantine").glob("*"))


def test_no_false_alarms_on_clean_journals(tmp_path):
    rng = random.Random(3)
    for n in range(60):
        state = tmp_path / f"c{n}"
        clock = FixedClock(1_700_000_000.0 + n)
        writers = [Journal(state, INC, clock=clock, author=f"u{w}") for w in range(3)]
        for _ in range(rng.randint(0, 15)):
            clock.advance(rng.random())
            rng.choice(writers).append("note", {"text": hostile_text(rng, rng.randint(0, 2000))})
        for w in writers:
            w.close()
        res = verify_incident(state, INC)
        assert res.ok and res.first_bad is None, res
        assert res.notes == []
        rd = read_incident(state, INC)
        assert rd.problems == [] and len(rd.entries) == res.count
