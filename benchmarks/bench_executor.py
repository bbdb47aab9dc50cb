"""Executor figures: start latency through the detached supervisor, in-process spawn cost,
1 GiB output throughput and memory, and how long a timeout takes to clear a tree.

Run: .venv/bin/python -m benchmarks.bench_executor [--dir PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from cockpit.journal import read_incident
from cockpit.runbooks import launch, load_runbook, process

RUNBOOK = """\
[runbook]
id = "bench"
title = "Bench"
services = ["database"]

[[steps]]
id = "true"
title = "true"
command = ["true"]
timeout = "30s"
destructive = false

[[steps]]
id = "gib"
title = "1 GiB"
command = ["head", "-c", "1G", "/dev/zero"]
timeout = "2m"
destructive = false

[[steps]]
id = "hang"
title = "hang, ignoring SIGTERM"
shell = "trap '' TERM; sleep 1000 & sleep 1000 & wait"
timeout = "1s"
destructive = false
"""


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=None)
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="bench-exec-", dir=args.dir))
    try:
        (base / "rb.toml").write_text(RUNBOOK)
        rb = load_runbook(base / "rb.toml")
        state = base / "state"
        print("== executor")
        # start -> step.started and start -> result, through the detached supervisor
        to_start, to_result = [], []
        for i in range(10):
            t = time.perf_counter()
            r = launch.start(state, f"lat-{i}", rb, "true", {}, author="bench")
            while not any(e.kind == "step.started" for e in
                          read_incident(state, f"lat-{i}", recover=False).entries):
                time.sleep(0.002)
            to_start.append(time.perf_counter() - t)
            r.wait(timeout=30, poll=0.005)
            to_result.append(time.perf_counter() - t)
        print(f"start() -> step.started  median {statistics.median(to_start) * 1000:.0f} ms")
        print(f"start() -> result        median {statistics.median(to_result) * 1000:.0f} ms")
        # in-process spawn + drain (what verify commands and the hypothesis test use)
        fd = os.open(os.devnull, os.O_WRONLY)
        lat = []
        for _ in range(200):
            t = time.perf_counter()
            process.run_command(["printf", "%s", "x"], env=process.base_env(), out_fd=fd,
                                 timeout=10)
            lat.append(time.perf_counter() - t)
        os.close(fd)
        print(f"run_command(printf) in-process  median {statistics.median(lat) * 1000:.1f} ms")
        # 1 GiB of output
        before = _rss_kib()
        t = time.perf_counter()
        r = launch.start(state, "flood", rb, "gib", {}, author="bench")
        peak = before
        while r.alive():
            r.tail()
            peak = max(peak, _rss_kib())
            time.sleep(0.05)
        st = r.wait(timeout=120)
        dt = time.perf_counter() - t
        res = [e for e in read_incident(state, "flood").entries if e.kind == "step.succeeded"]
        print(f"1 GiB output: {dt:.2f} s ({1024 / dt:.0f} MiB/s), saved {st.output.bytes} bytes; "
              f"caller RSS +{(peak - before) / 1024:.1f} MiB; supervisor peak "
              f"{res[0].data['supervisor_maxrss_kib'] / 1024:.1f} MiB")
        r.output_path.unlink()
        # timeout of a tree that ignores SIGTERM: timeout 1 s + grace 2 s
        t = time.perf_counter()
        r = launch.start(state, "hang", rb, "hang", {}, author="bench")
        st = r.wait(timeout=30, poll=0.01)
        print(f"timeout 1 s, SIGTERM ignored: tree cleared and result journaled after "
              f"{time.perf_counter() - t:.2f} s (signal {st.signal})")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
