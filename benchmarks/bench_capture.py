"""Offline review at scale (issue 12): capture a 100,000-entry incident into a bundle, verify
it, write its post-incident review; and the flight recorder's worst case for the example
configuration.

Targets: the PIR of the 100,000-entry incident <= 2 s (process start to file written). The
capture and verify figures are reported (no target in the issue).
"""

from __future__ import annotations

import resource
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.bench_incident import ENTRIES, INCIDENT, build
from benchmarks.tui import PY

TARGET_PIR_S = 2.0
ROOT = Path(__file__).resolve().parent.parent


CPU: dict[str, list[float]] = {}


def _run(argv: list[str], cwd: Path) -> float:
    """Wall seconds of ``cockpit ARGV`` (process start to exit); its CPU seconds (user +
    system: what it costs on a machine that is not shared) are kept in ``CPU``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([PY, "-m", "cockpit", *argv], cwd=cwd, capture_output=True, text=True,
                       check=False)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError(f"cockpit {' '.join(argv)}: {r.stderr.strip()[:300]}")
    CPU.setdefault(argv[0] + (" dir" if "--state-dir" in argv and argv[0] == "pir" else ""),
                   []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return dt


def flight_recorder_figures() -> tuple[int, float, float]:
    """(services, bound, simulated) entries per hour for cockpit.example.toml, every service
    flapping at every probe answer (a new answer each 100 ms, each one different)."""
    from cockpit.config import load_config
    from cockpit.health import ServiceHealth, Status
    from cockpit.incident.recorder import FlightRecorder, entries_per_hour

    cfg = load_config(ROOT / "cockpit.example.toml")
    intervals = {s.id: min((p.interval for p in s.probes), default=15.0)
                 for s in cfg.services.values()}
    rec = FlightRecorder(intervals)
    n, t = 0, 0.0
    while t < 3600:
        st = Status.FAIL if int(t * 10) % 2 else Status.OK
        health = [ServiceHealth(s, s, st, f"answer at {t:.1f}", t, key_figure=f"{t:.1f}s")
                  for s in intervals]
        for d in rec.due(health, t):
            rec.written(d, t)
            n += 1
        t += 0.1
    return len(intervals), entries_per_hour(intervals), float(n)


def main() -> dict[str, object]:
    print(f"== offline review: capture, verify and review of {ENTRIES:,} entries")
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        state = base / "state"
        build(state)
        sd = ["--state-dir", str(state)]
        caps = [_run(["capture", INCIDENT, "-o", "b.tar", *sd], base) for _ in range(3)]
        size = (base / "b.tar").stat().st_size
        vers = [_run(["verify", "b.tar"], base) for _ in range(3)]
        pirs = [_run(["pir", "b.tar", "-o", "pir.md"], base) for _ in range(3)]
        pirs_dir = [_run(["pir", INCIDENT, "-o", "pir2.md", *sd], base) for _ in range(3)]
        lines = len((base / "pir.md").read_text().splitlines())
        best = min(pirs)
        ok = "OK" if max(pirs) <= TARGET_PIR_S else "OVER TARGET"
        cpu = {k: min(v) for k, v in CPU.items()}
        print(f"capture (process start to bundle written): {min(caps):.2f} s "
              f"(median of 3: {sorted(caps)[1]:.2f} s; CPU {cpu['capture']:.2f} s), "
              f"bundle {size / 1e6:.1f} MB")
        print(f"verify the bundle (members, chains)       : {min(vers):.2f} s "
              f"(median {sorted(vers)[1]:.2f} s; CPU {cpu['verify']:.2f} s)")
        print(f"pir of the bundle (verify + extract + PIR): {best:.2f} s (worst of 3: "
              f"{max(pirs):.2f} s; CPU {cpu['pir']:.2f} s; target <= {TARGET_PIR_S:.0f} s: "
              f"{ok}), {lines} lines")
        print(f"pir of the incident in the state dir      : {min(pirs_dir):.2f} s "
              f"(CPU {cpu['pir dir']:.2f} s)")
        out.update(capture=caps, verify=vers, pir=pirs, pir_dir=pirs_dir, size=size)
    n, bound, sim = flight_recorder_figures()
    print(f"flight recorder, cockpit.example.toml ({n} services), everything flapping: "
          f"{sim:.0f} entries/hour simulated (bound {bound:.0f}/hour: one per service per "
          "probe interval)")
    out.update(recorder=sim, recorder_bound=bound)
    return out


if __name__ == "__main__":
    main()
