"""``python -m benchmarks`` (or ``./run bench``): every speed and memory figure, in one run."""

from __future__ import annotations

import importlib
import sys

SUITES = ["benchmarks.tui", "benchmarks.bench_offline", "benchmarks.bench_journal", "benchmarks.bench_probes",
          "benchmarks.bench_ui_probes", "benchmarks.bench_incident",
          "benchmarks.bench_executor", "benchmarks.bench_memory", "benchmarks.bench_capture",
          "benchmarks.bench_browser", "benchmarks.bench_review",
          "benchmarks.bench_sync"]


def main(argv: list[str]) -> int:
    wanted = [s for s in SUITES if not argv or any(a in s for a in argv)]
    for a in argv:
        if a.startswith("-") or not any(a in s for s in SUITES):
            print(f"note: {a!r} names no suite and is not passed on (a suite's own options: "
                  "python -m benchmarks.bench_NAME --help)", file=sys.stderr)
    sys.argv = sys.argv[:1]  # the names chose the suites; a suite's own options are its defaults
    for name in wanted:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            print(f"== {name}: not available ({e})")
            continue
        mod.main()
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
