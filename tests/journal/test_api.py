"""The journal API contract: ids, authors, clocks, merge order, incidents, async append."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cockpit.journal import (
    Entry,
    InvalidIncidentId,
    Journal,
    check_incident_id,
    list_incidents,
    read_incident,
)
from cockpit.journal.record import HEADER
from cockpit.timeutil import FixedClock


def test_append_returns_an_acknowledged_entry(state_dir):
    clock = FixedClock(1_764_310_414.163514)
    with Journal(state_dir, "inc", author="alice", clock=clock) as j:
        e = j.append("note", {"text": "failing over", "n": 2, "ok": True, "l": [1, "a"]})
        assert isinstance(e, Entry)
        assert (e.seq, e.ts, e.author, e.kind) == (2, clock.t, "alice", "note")
        assert e.writer == j.writer and e.id == f"{j.writer}:2"
        assert e.hash.startswith("sha256:") and len(e.hash) == 71
        assert j.path.name == f"{j.writer}.toml" and j.writer.startswith("w-")
    [start, note] = read_incident(state_dir, "inc").entries
    assert start.kind == "session-start" and start.data["incident"] == "inc"
    assert note == e


def test_merge_order_ids_and_no_duplicates(state_dir):
    clock = FixedClock(100.0)
    a = Journal(state_dir, "m", author="a", clock=clock)
    b = Journal(state_dir, "m", author="b", clock=clock)
    clock.advance(1)
    b1 = b.append("note", {"t": "b1"})
    a1 = a.append("note", {"t": "a1"})  # same ts: ordered by writer, then seq
    clock.advance(1)
    a2 = a.append("note", {"t": "a2"})
    res = read_incident(state_dir, "m")
    notes = [e for e in res.entries if e.kind == "note"]
    assert notes == sorted([a1, b1, a2], key=lambda e: (e.ts, e.writer, e.seq))
    assert len({e.id for e in res.entries}) == len(res.entries) == 5
    a.close()
    b.close()


def test_author_is_the_account_of_the_process(state_dir, monkeypatch):
    """The real uid's account, never $USER / $LOGNAME (anyone sets those); SUDO_USER only
    when the real uid is root, and only when it names an account (issue 17)."""
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    monkeypatch.delenv("SUDO_USER", raising=False)
    with Journal(state_dir, "x") as j:
        assert j.author == me
    monkeypatch.setenv("SUDO_USER", "nobody")
    with Journal(state_dir, "x") as j:
        assert j.author == ("nobody" if os.getuid() == 0 else me)
    monkeypatch.setenv("SUDO_USER", "no-such-account-17")
    with Journal(state_dir, "x") as j:
        assert j.author == me


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "a\\b", "x..y", "-x",
                                 "a" * 129, "inc\n", "in c", None, 3])
def test_incident_ids_are_validated(state_dir, bad):
    with pytest.raises(InvalidIncidentId):
        check_incident_id(bad)
    with pytest.raises(ValueError):
        Journal(state_dir, bad)
    with pytest.raises(ValueError):
        read_incident(state_dir, bad)


def test_list_incidents(state_dir):
    assert list_incidents(state_dir) == []
    for inc in ("2026-11-28-db", "b.c_d", "a"):
        Journal(state_dir, inc).close()
    (state_dir / "incidents" / "bad..name").mkdir()
    assert list_incidents(state_dir) == ["2026-11-28-db", "a", "b.c_d"]


def test_closed_journal_refuses(state_dir):
    j = Journal(state_dir, "c")
    j.close()
    assert not j.writable
    with pytest.raises(OSError):
        j.append("note", {})


async def test_append_async_keeps_order(state_dir):
    import asyncio

    with Journal(state_dir, "async") as j:
        entries = await asyncio.gather(*(j.append_async("note", {"i": i}) for i in range(50)))
        assert [e.data["i"] for e in entries] == list(range(50))
        assert [e.seq for e in entries] == list(range(2, 52))


def test_save_output(state_dir):
    with Journal(state_dir, "o") as j:
        ref = j.save_output(b"\x00\xffbinary\x1b", name="step 1/out")
        assert ref["bytes"] == 9 and len(ref["sha256"]) == 64
        assert (j.incident_dir / ref["path"]).read_bytes() == b"\x00\xffbinary\x1b"
        j.append("step-output", ref)


def test_recovery_at_open_is_journaled(state_dir):
    j = Journal(state_dir, "r")
    j.append("note", {})
    path = j.path
    j.close()
    with open(path, "ab") as f:
        f.write(b"[[entry]]\nsize = 900\nseq = 3\n")
    with Journal(state_dir, "r") as j2:
        assert len(j2.recovered) == 1
    kinds = [e.kind for e in read_incident(state_dir, "r").entries]
    assert kinds.count("recovered") == 1


def test_preview_tail_reads_the_newest_records_of_every_writer(tmp_path):
    """What a big incident shows while its verified load runs: the newest entries, unverified."""
    from cockpit.journal import Journal
    from cockpit.journal.watch import preview_tail

    writers = [Journal(tmp_path, "big", author=f"eng{i}") for i in range(3)]
    for n in range(400):
        writers[n % 3].append("note", {"type": "observation", "text": f"entry {n} " + "x" * 200})
    for w in writers:
        w.close()
    entries = preview_tail(tmp_path, "big", per_file=16 * 1024)
    texts = [e.data.get("text", "") for e in entries if e.kind == "note"]
    assert texts and all(not e.verified for e in entries)
    assert texts[-1].startswith("entry 399 ")  # the newest of all
    assert 0 < len(texts) < 400  # only the ends of the files were read
    assert [e.ts for e in entries] == sorted(e.ts for e in entries)


def test_every_chain_head_is_sent_to_syslog(tmp_path, monkeypatch):
    """Tamper evidence outside the journal (design decision 4), and verify --heads to compare."""
    import syslog

    from cockpit.journal import Journal, verify_incident

    sent = []
    monkeypatch.setattr(syslog, "syslog", lambda prio, msg: sent.append(msg))
    monkeypatch.delenv("COCKPIT_NO_SYSLOG", raising=False)
    j = Journal(tmp_path, "anchored", author="alice")
    e = j.append("note", {"type": "observation", "text": "x"})
    j.close()
    assert sent[-1] == f"journal anchored {e.writer} seq={e.seq} head={e.hash}"
    res = verify_incident(tmp_path, "anchored")
    assert res.ok and res.heads == [(e.writer, e.seq, e.hash)]


def test_recovery_at_open_cuts_what_a_full_read_would_and_nothing_else(tmp_path):
    """``Journal()`` recovers without reading every record (a file that ends where a record
    ends has nothing to cut): the same files as ``read_incident(recover=True)``, whatever
    the dead writers left: whole files, a torn record, NUL bytes, a header only, an empty
    file, a file damaged in the middle, a torn header."""
    import shutil

    from cockpit.journal.reader import recover

    def leave(state: Path) -> None:
        files = []
        for i in range(7):
            j = Journal(state, "dead", author=f"eng{i}")
            for n in range(3):
                j.append("note", {"text": f"{i}/{n}"})
            files.append(j.path)
            j.close()
        with open(files[1], "ab") as f:
            f.write(b"[[entry]]\nsize = 900\nseq = 5\n")  # torn record
        with open(files[2], "ab") as f:
            f.write(b"\0" * 300)  # NUL tail
        files[3].write_bytes(HEADER)  # a header only
        files[4].write_bytes(b"")  # empty
        data = files[5].read_bytes()  # damaged in the middle: named, never cut
        files[5].write_bytes(data.replace(b"5/1", b"5/X"))
        files[6].write_bytes(HEADER[:40])  # torn header

    full, fast = tmp_path / "full", tmp_path / "fast"
    leave(full)
    shutil.copytree(full, fast)
    via_read = read_incident(full, "dead", recover=True)
    via_open = recover(fast, "dead")
    assert len(via_open) == len(via_read.recovered) == 3

    def names(lines):
        return sorted(ln.split(":", 1)[0].rsplit("/", 1)[1] for ln in lines)

    assert names(via_open) == names(via_read.recovered)
    for a, b in zip(sorted((full / "incidents/dead/journal").iterdir()),
                    sorted((fast / "incidents/dead/journal").iterdir()), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    again = read_incident(fast, "dead", recover=True)
    assert again.recovered == []
    assert [p.replace(str(fast), str(full)) for p in again.problems] == via_read.problems
    assert len(again.problems) == 1  # the damaged one, left as it is
