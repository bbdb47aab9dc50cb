"""Disk full (RLIMIT_FSIZE), fsync EIO and write errors: no false acks, fail closed (P5, P6)."""

from __future__ import annotations

import errno
import json
import os
import random
import resource

import pytest

from cockpit.journal import Journal, JournalWriteError, read_incident, verify_incident

from .helpers import fork_child, hostile_text, read_pipe, wait_exit

RLIMIT_RUNS = 100
EIO_RUNS = 100


def _disk_full_child(state, inc, seed):
    def child(w: int) -> None:
        rng = random.Random(seed)
        j = Journal(state, inc, author="df", recover=False)
        acked = []
        for _ in range(rng.randint(0, 5)):
            acked.append(j.append("note", {"text": hostile_text(rng, 200)}).seq)
        big = {"text": hostile_text(rng, rng.randint(500, 70_000))}
        size = os.fstat(j._fd).st_size
        k = rng.randint(1, 400)  # less than the record: a real short write
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + k, resource.RLIM_INFINITY))
        out = {"acked": acked, "k": k, "size": size}
        try:
            e = j.append("note", big)
            out["false_ack"] = e.seq
        except JournalWriteError as err:
            out["error"] = str(err)
        out["failed"], out["writable"] = j.failed, j.writable
        out["unsaved"] = [u.data == big for u in j.unsaved]
        try:
            j.append("note", {"text": "after the failure"})
            out["false_ack2"] = True
        except JournalWriteError:
            pass
        out["unsaved_after"] = len(j.unsaved)
        out["size_after"] = os.fstat(j._fd).st_size
        os.write(w, json.dumps(out).encode())

    return child


@pytest.mark.stress
def test_disk_full_gives_no_false_ack_and_fails_closed(state_dir):
    for run in range(RLIMIT_RUNS):
        inc = f"df-{run}"
        pid, r = fork_child(_disk_full_child(state_dir, inc, run))
        assert wait_exit(pid) == 0
        out = json.loads(read_pipe(r))
        assert "false_ack" not in out and "false_ack2" not in out
        assert "NOT saved" in out["error"]
        assert out["failed"] is True and out["writable"] is False
        assert out["unsaved"] == [True] and out["unsaved_after"] == 2
        assert out["size_after"] == out["size"] + out["k"]  # nothing written after the failure
        res = read_incident(state_dir, inc)  # writer is dead: the torn tail is recovered
        assert res.problems == []
        seqs = [e.seq for e in res.entries]
        assert seqs == [1] + out["acked"]
        assert len(res.recovered) == 1
        assert verify_incident(state_dir, inc).ok


def test_fsync_eio_gives_no_false_ack_fails_closed_and_reopen_saves(state_dir, monkeypatch):
    real = os.fdatasync
    j = Journal(state_dir, "eio", author="eio")
    acked: list[tuple[str, str | None]] = []
    rng = random.Random(1)
    for i in range(EIO_RUNS):
        acked.append((j.append("note", {"i": i, "ok": True}).id, None))
        calls = {"n": 0}

        def boom(fd, calls=calls):
            calls["n"] += 1
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(os, "fdatasync", boom)
        data = {"i": i, "text": hostile_text(rng)}
        with pytest.raises(JournalWriteError) as ei:
            j.append("note", data)
        assert ei.value.errno == errno.EIO and "NOT saved" in str(ei.value)
        assert j.failed and not j.writable and "Input/output error" in j.error
        assert [u.data for u in j.unsaved] == [data]
        poisoned, size = j.path, j.path.stat().st_size
        with pytest.raises(JournalWriteError):
            j.append("note", {"more": i})  # fail closed: nothing is written any more
        assert calls["n"] == 1 and poisoned.stat().st_size == size
        assert len(j.unsaved) == 2
        monkeypatch.setattr(os, "fdatasync", real)
        saved = j.reopen()
        assert [e.kind for e in saved] == ["note", "note"]
        assert saved[0].retry_of is not None and saved[0].data == data
        assert j.writable and not j.failed and j.unsaved == []
        assert j.path != poisoned
        acked += [(e.id, e.retry_of) for e in saved]
    j.close()
    res = read_incident(state_dir, "eio")
    assert res.problems == []
    ids = [e.id for e in res.entries]
    assert len(ids) == len(set(ids))
    notes = [e for e in res.entries if e.kind == "note"]
    # the failed record was fully written before fdatasync failed: the original is kept and
    # its retry copy dropped, so every entry appears exactly once
    assert len(notes) == 3 * EIO_RUNS
    present = set(ids)
    for e_id, retry_of in acked:  # every acknowledged entry is there (or its original is)
        assert e_id in present or retry_of in present
    assert verify_incident(state_dir, "eio").ok


def test_write_error_and_short_write(state_dir, monkeypatch):
    j = Journal(state_dir, "wr")
    j.append("note", {"a": 1})
    real_write = os.write

    def short(fd, data):
        return real_write(fd, bytes(data)[: len(data) // 2])

    monkeypatch.setattr(os, "write", short)
    with pytest.raises(JournalWriteError) as ei:
        j.append("note", {"text": "x" * 500})
    monkeypatch.setattr(os, "write", real_write)
    assert "short write" in str(ei.value)
    assert j.failed
    j.close()
    res = read_incident(state_dir, "wr")
    assert [e.kind for e in res.entries] == ["session-start", "note"]
    assert len(res.recovered) == 1 and res.problems == []

    j = Journal(state_dir, "wr2")

    def enospc(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", enospc)
    with pytest.raises(JournalWriteError) as ei:
        j.append("note", {"a": 2})
    monkeypatch.setattr(os, "write", real_write)
    assert isinstance(ei.value, OSError) and ei.value.errno == errno.ENOSPC
    assert "No space left" in j.error
    saved = j.reopen()
    assert saved[0].data == {"a": 2} and saved[0].retry_of
    j.close()
    assert [e.data.get("a") for e in read_incident(state_dir, "wr2").entries
            if e.kind == "note"] == [2]


def test_bad_data_is_rejected_without_failing_the_journal(state_dir):
    with Journal(state_dir, "bad") as j:
        with pytest.raises(TypeError):
            j.append("note", {"b": b"bytes"})
        with pytest.raises(ValueError):
            j.append("bad kind!", {})
        with pytest.raises(ValueError):
            j.append("note", {"big": "x" * (2 << 20)})
        assert j.writable and j.unsaved == []
        assert j.append("note", {}).seq == 2
