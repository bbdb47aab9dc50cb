"""Journal speed figures: append acknowledgement latency, load+merge and verify of 100,000 entries.

Run: .venv/bin/python -m benchmarks.bench_journal [--entries N] [--dir PATH]
The default directory is a temporary one next to the state directory's disk (/tmp
unless --dir is given); tmpfs would make fdatasync free and the figures meaningless.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

from cockpit.journal import Journal, read_incident, verify_incident
from cockpit.journal import reader as _reader
from cockpit.journal.model import UNREADABLE
from cockpit.journal.record import HEADER, encode_record, genesis

TARGET_P99_MS = 20.0
TARGET_LOAD_S = 1.0
TARGET_VERIFY_S = 5.0


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def bench_append(base: Path, n: int = 1000) -> tuple[float, float, float]:
    lat = []
    with Journal(base / "state-append", "bench-append", author="bench") as j:
        for i in range(n):
            data = {"text": f"note {i}: primary db unreachable from bastion, failing over",
                    "step": i % 40}
            t = time.perf_counter()
            j.append("note", data)
            lat.append((time.perf_counter() - t) * 1000)
    return statistics.median(lat), _pct(lat, 99), max(lat)


def build_incident(state: Path, incident: str, entries: int, writers: int = 8) -> int:
    """Write files byte-identical to what Journal writes (without 100,000 fsyncs)."""
    rng = random.Random(1)
    jdir = state / "incidents" / incident / "journal"
    jdir.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    total = 0
    per = entries // writers
    t0 = 1_764_310_000.0
    for w in range(writers):
        name = f"w-bench-{1000 + w}-{w:08x}.toml"
        prev = genesis(incident, name)
        parts = [HEADER]
        for seq in range(1, per + 1):
            # the kinds the cockpit writes, each well-formed (records are validated on read)
            kind = rng.choice(["note", "health", "step.started", "step.succeeded"])
            text = f"entry {seq} of writer {w}: " + "status nominal " * rng.randint(1, 6)
            if kind == "note":
                data = {"type": rng.choice(["observation", "decision", "action"]),
                        "text": text, "ok": rng.random() < 0.9}
            elif kind == "health":
                data = {"service": f"db{rng.randint(1, 9)}", "status": rng.choice(["ok", "fail"]),
                        "summary": text, "latency_ms": round(rng.random() * 50, 3)}
            else:
                data = {"runbook": "database", "step": f"s{rng.randint(1, 60)}", "attempt": 1,
                        "run": f"database.s{seq}.step.1", "detail": text}
                if kind == "step.started":
                    data["argv"] = ["pg_isready", "-h", f"db{rng.randint(1, 9)}.internal"]
                else:
                    data.update({"exit_code": 0, "duration": round(rng.random() * 5, 3)})
            rec, prev = encode_record(seq=seq, ts=t0 + seq * 0.5 + w * 0.01, kind=kind,
                                      author=f"eng{w}", data=data, prev=prev)
            parts.append(rec)
        blob = b"".join(parts)
        total += len(blob)
        (jdir / name).write_bytes(blob)
        os.chmod(jdir / name, 0o600)
    return total


def bench_load(state: Path, incident: str) -> dict[str, float]:
    files = sorted((state / "incidents" / incident / "journal").glob("*.toml"))
    out: dict[str, float] = {}
    best = 1e9
    for _ in range(5):
        res = None  # free the previous load before timing the next one
        t = time.perf_counter()
        res = read_incident(state, incident, recover=False)
        best = min(best, time.perf_counter() - t)
    assert not res.problems, res.problems[:3]
    bad = [e for e in res.entries if e.kind == UNREADABLE]
    assert not bad, bad[:3]  # the figure is the one of well-formed records
    out["entries"] = len(res.entries)
    res = None
    out["load"] = best
    for label, loads in (("tomllib", tomllib.loads), ("rtoml", _reader._fast_loads)):
        best = 1e9
        for _ in range(2):
            docs = None
            t = time.perf_counter()
            docs = [loads(f.read_bytes().decode())["entry"] for f in files]
            best = min(best, time.perf_counter() - t)
        del docs
        out[label] = best
    best = 1e9
    for _ in range(2):
        t = time.perf_counter()
        v = verify_incident(state, incident)
        best = min(best, time.perf_counter() - t)
    assert v.ok, v.first_bad
    out["verify"] = best
    out["verified"] = v.count
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--appends", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="bench-journal-", dir=args.dir))
    try:
        p50, p99, mx = bench_append(base, args.appends)
        ok = "OK" if p99 <= TARGET_P99_MS else "OVER TARGET"
        print(f"append ack (write+fdatasync), {args.appends} x ~250 B: "
              f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {mx:.3f} ms "
              f"(target p99 <= {TARGET_P99_MS:.0f} ms: {ok})")
        state = base / "state-load"
        size = build_incident(state, "bench-load", args.entries)
        r = bench_load(state, "bench-load")
        ok = "OK" if r["load"] <= TARGET_LOAD_S else "OVER TARGET"
        print(f"load + merge {int(r['entries']):,} entries ({size / 1e6:.1f} MB, 8 writer files, "
              f"parser {_reader.PARSER}, hashes, chains and schemas checked): {r['load']:.3f} s "
              f"(target <= {TARGET_LOAD_S:.1f} s: {ok})")
        print(f"  plain tomllib parse of the same files: {r['tomllib']:.3f} s "
              f"-> our load is {r['tomllib'] / r['load']:.2f}x faster than tomllib "
              f"(plain rtoml parse: {r['rtoml']:.3f} s)")
        ok = "OK" if r["verify"] <= TARGET_VERIFY_S else "OVER TARGET"
        print(f"verify {int(r['verified']):,} records: {r['verify']:.3f} s "
              f"(target <= {TARGET_VERIFY_S:.0f} s: {ok})")
        opens = []
        for _ in range(3):  # a writer joining the incident (its recovery check included)
            t = time.perf_counter()
            Journal(state, "bench-load", author="bench").close()
            opens.append(time.perf_counter() - t)
        print(f"open a journal on that incident (torn-tail recovery checked): "
              f"{min(opens) * 1000:.1f} ms")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
