"""The cockpit's keypress latency while 200 probe targets (40 blackholed, 2 s deadline) run.

Spawns the real ``cockpit`` on a generated configuration in a pty, then moves the health
selection with down/up and times each key until the selection (shown in words in the pane's
border) is on screen. Target: p95 <= 50 ms.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_probes import SERVER, blackhole
from benchmarks.tui import PY, med, p95, spawn

SERVICES = 20
PER_SERVICE = 10  # 200 targets
BLACKHOLED_PER_SERVICE = 2  # 40


def write_config(path: Path, ports: list[int], holes: list[int]) -> None:
    lines = ['[cockpit]\nenvironment = "bench: 200 targets"\n',
             '[probe_defaults]\ninterval = "2s"\ndeadline = "2s"\n']
    k = 0
    for s in range(SERVICES):
        lines.append(f'[services.svc{s:02d}]\ntitle = "Service {s:02d}"\n')
        for p in range(PER_SERVICE):
            if p < BLACKHOLED_PER_SERVICE:
                port = holes[(s * BLACKHOLED_PER_SERVICE + p) % len(holes)]
                lines.append(f'[[services.svc{s:02d}.probes]]\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n')
            elif p % 2:
                port = ports[k % len(ports)]
                lines.append(f'[[services.svc{s:02d}.probes]]\nkind = "http"\n'
                             f'url = "http://127.0.0.1:{port}/health"\n')
            else:
                port = ports[k % len(ports)]
                lines.append(f'[[services.svc{s:02d}.probes]]\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n')
            k += 1
    path.write_text("\n".join(lines))


def main() -> dict[str, object]:
    print("== keypress latency while 200 probe targets run (40 blackholed, 2 s deadline), pty 120x40")
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    holes_socks = []
    try:
        ports = [int(x) for x in server.stdout.readline().split()]
        holes = []
        for _ in range(8):
            lsock, fillers, port = blackhole()
            holes_socks.append((lsock, fillers))
            holes.append(port)
        with tempfile.TemporaryDirectory() as d:
            cfg = Path(d) / "cockpit.toml"
            write_config(cfg, ports, holes)
            state = Path(d) / "state"
            state.mkdir(mode=0o700)
            s = spawn([PY, "-m", "cockpit", "--config", str(cfg), "--state-dir", str(state)])
            ready = s.wait_for(lambda t: "Service 19" in t and "Health" in t, timeout=30)
            s.pump(3.0)  # probes running, first rounds done
            lat = []
            titles = ["Service 01", "Service 00"]
            for i in range(60):
                key = b"\x1b[B" if i % 2 == 0 else b"\x1b[A"
                want = f"▸ {titles[i % 2]}"
                import time

                t0 = time.monotonic()
                s.send(key)
                s.started = t0
                t = s.wait_for(lambda text, w=want: w in text, timeout=5)
                if t is not None:
                    lat.append(t)
                s.pump(0.1)
            s.close()
    finally:
        server.kill()
        for lsock, fillers in holes_socks:
            for c in fillers:
                c.close()
            lsock.close()
    print(f"first frame with 20 services x 10 probes : {ready * 1000:.0f} ms" if ready else "no frame")
    print(f"keypress (down/up) to screen, {len(lat)} keys  : p50 {med(lat)}, p95 {p95(lat) * 1000:.0f} ms (target <= 50 ms)")
    return {"latencies": lat}


if __name__ == "__main__":
    main()
