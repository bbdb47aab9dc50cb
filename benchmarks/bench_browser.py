"""The browser view (``cockpit serve``): from ``cockpit incident note`` in a terminal to the
note on the browser's screen (headless Chromium, the xterm.js buffer polled every 20 ms).

Two figures per note: from the CLI's start (Python start-up included: what a person typing
the command sees) and from the CLI's exit (the entry on disk) to the screen. Target: 2 s."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.browser import PY, browser, free_port, open_page, screen_text, serve

NOTES = int(os.environ.get("BENCH_NOTES", "20"))
CONFIG = """
[cockpit]
environment = "bench"

[services.database]
title = "PostgreSQL"
priority = "P0"
rto = "1h"
rpo = "15m"
"""


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    from cockpit.incident.store import IncidentStore

    with tempfile.TemporaryDirectory() as d:
        cfg, state = Path(d) / "cockpit.toml", Path(d) / "state"
        cfg.write_text(CONFIG)
        store = IncidentStore(state, author="bench")
        iid = store.declare("Browser latency", "P1", ["database"])
        store.close()
        srv = serve("--config", str(cfg), "--state-dir", str(state), "serve", "--incident",
                    iid, "--port", str(free_port()))
        from_start, from_exit = [], []
        try:
            with browser() as b:
                page = open_page(b, srv.url)
                deadline = time.monotonic() + 60
                while "Incident log" not in screen_text(page) and time.monotonic() < deadline:
                    time.sleep(0.1)
                for i in range(NOTES):
                    marker = f"bench-note-{i:03d}"
                    t0 = time.monotonic()
                    subprocess.run([PY, "-m", "cockpit", "--config", str(cfg), "--state-dir",
                                    str(state), "incident", "note", iid, marker], check=True,
                                   capture_output=True, timeout=60)
                    t1 = time.monotonic()
                    while marker not in screen_text(page):
                        if time.monotonic() - t0 > 30:
                            raise RuntimeError(f"{marker} never reached the browser")
                        time.sleep(0.02)
                    t2 = time.monotonic()
                    from_start.append(t2 - t0)
                    from_exit.append(t2 - t1)
        finally:
            srv.stop()
    print(f"== browser view: a note from a terminal to the browser's screen ({NOTES} notes)")
    print(f"from `cockpit incident note` started: p50 {statistics.median(from_start):.2f} s, "
          f"p95 {_pct(from_start, 95):.2f} s, max {max(from_start):.2f} s (target 2 s)")
    print(f"from the entry on disk (the CLI exited): p50 {statistics.median(from_exit):.2f} s, "
          f"p95 {_pct(from_exit, 95):.2f} s, max {max(from_exit):.2f} s")


if __name__ == "__main__":
    main()
