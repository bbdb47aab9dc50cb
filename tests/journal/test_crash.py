"""kill -9 during appends (P1) and during snapshot rewrites (P7)."""

from __future__ import annotations

import os
import random
import select
import signal
import time
import tomllib

import pytest

from cockpit.journal import Journal, read_incident, read_snapshot, verify_incident, write_snapshot

from .helpers import fork_child, hostile_text, read_pipe, wait_exit

RUNS = 300
SNAPSHOT_RUNS = 200


def _appender(state, incident, seed):
    def child(w: int) -> None:
        rng = random.Random(seed)
        j = Journal(state, incident, author="kill\u202etest", recover=False)
        os.write(w, f"W {j.path.name}\n".encode())
        while True:
            r = rng.random()
            size = rng.randint(100, 65536) if r < 0.95 else rng.randint(600_000, 1_000_000)
            e = j.append("note", {"text": hostile_text(rng, size), "r": r})
            os.write(w, f"{e.seq}\n".encode())  # only after the acknowledgement

    return child


@pytest.mark.stress
def test_kill9_during_appends_loses_no_acknowledged_entry(state_dir):
    rng = random.Random(20261128)
    torn = acked_total = 0
    for run in range(RUNS):
        inc = f"kill-{run}"
        pid, r = fork_child(_appender(state_dir, inc, run))
        # Kill it while it appends: once its first entry is acknowledged (a loaded machine
        # may take a while to start the child), then at a random moment of its appending.
        first = b""
        deadline = time.monotonic() + 10.0
        while not any(x.isdigit() for x in first.split()) and time.monotonic() < deadline:
            if select.select([r], [], [], max(0.0, deadline - time.monotonic()))[0]:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                first += chunk
        time.sleep(rng.uniform(0.0, 0.04))
        os.kill(pid, signal.SIGKILL)
        wait_exit(pid)
        lines = (first + read_pipe(r)).decode().split()
        jdir = state_dir / "incidents" / inc / "journal"
        files = list(jdir.glob("*.toml")) if jdir.is_dir() else []
        assert len(files) <= 1
        acked = {int(x) for x in lines if x.isdigit()}
        acked_total += len(acked)
        if not files:
            assert not acked
            continue
        before = files[0].read_bytes()
        res = read_incident(state_dir, inc)  # recovers the torn tail of the dead writer
        assert res.problems == [], res.problems
        seqs = [e.seq for e in res.entries]
        assert seqs == list(range(1, len(seqs) + 1))
        assert acked <= set(seqs), f"run {run}: lost {sorted(acked - set(seqs))}"
        after = files[0].read_bytes()
        assert before.startswith(after)  # only a tail was ever cut
        if after:
            assert len(tomllib.loads(after.decode())["entry"]) == len(seqs)
        quarantined = list((state_dir / "incidents" / inc / "quarantine").glob("*.tail"))
        if before != after:
            torn += 1
            assert len(quarantined) == 1
            assert quarantined[0].read_bytes() == before[len(after):]
        else:
            assert quarantined == []
        v = verify_incident(state_dir, inc)
        assert v.ok and v.count == len(seqs) and v.notes == []
    print(f"{RUNS} kills, {acked_total} acknowledged entries, {torn} torn tails recovered")
    assert acked_total >= RUNS  # the children really were appending (each acknowledged one)


def _snapshotter(path, start_gen):
    def child(w: int) -> None:
        gen = start_gen
        while True:
            gen += 1
            write_snapshot(path, {"gen": gen, "body": "x" * (1000 + gen % 50_000),
                                  "check": gen * 7})
            os.write(w, b"s")  # one snapshot written whole

    return child


@pytest.mark.stress
def test_kill9_during_snapshot_writes_leaves_old_or_new(tmp_path):
    rng = random.Random(7)
    path = tmp_path / "snapshot.toml"
    write_snapshot(path, {"gen": 0, "body": "x" * 1000, "check": 0})
    last = 0
    for run in range(SNAPSHOT_RUNS):
        pid, r = fork_child(_snapshotter(path, last))
        if run % 10 == 0:  # some kills after a whole write, however slow the machine
            select.select([r], [], [], 10.0)
        time.sleep(rng.uniform(0.0, 0.01))
        os.kill(pid, signal.SIGKILL)
        wait_exit(pid)
        read_pipe(r)
        snap = read_snapshot(path)
        assert snap is not None, f"run {run}: snapshot unreadable or missing"
        assert snap["check"] == snap["gen"] * 7
        assert snap["body"] == "x" * (1000 + snap["gen"] % 50_000)
        assert snap["gen"] >= last
        last = snap["gen"]
        leftovers = list(tmp_path.glob("snapshot.toml.*.tmp"))
        assert len(leftovers) <= 1, leftovers
    write_snapshot(path, {"gen": -1})
    assert list(tmp_path.glob("snapshot.toml.*.tmp")) == []  # cleaned by the next write
    assert last >= SNAPSHOT_RUNS // 10  # snapshots really were written (one per tenth run)
