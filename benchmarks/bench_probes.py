"""Probe round benchmark: 200 targets (local HTTP and TCP servers), 40 of them blackholed,
2 s deadline. Target: a full round within 2.5 s, with the event loop staying responsive.

Run: ``.venv/bin/python -m benchmarks.bench_probes``. The local servers run in a child process
so that their work does not compete with the probing loop for the GIL.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import textwrap
import time

from cockpit.health import Status
from cockpit.probes.base import ProbeTarget
from cockpit.probes.scheduler import Scheduler, ServiceSpec

TARGETS = 200
BLACKHOLED = 40
DEADLINE = 2.0
BUDGET = 2.5

SERVER = textwrap.dedent("""
    import asyncio, sys
    BODY = b'{"status":"ok"}'
    RESP = (b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: "
            + str(len(BODY)).encode() + b"\\r\\nConnection: close\\r\\n\\r\\n" + BODY)
    async def handle(r, w):
        try:
            await r.readuntil(b"\\r\\n\\r\\n")
            w.write(RESP)
            await w.drain()
        except Exception:
            pass
        finally:
            w.close()
    async def main():
        servers = [await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512) for _ in range(4)]
        print(" ".join(str(s.sockets[0].getsockname()[1]) for s in servers), flush=True)
        await asyncio.Event().wait()
    asyncio.run(main())
""")


def blackhole() -> tuple[socket.socket, list[socket.socket], int]:
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    return lsock, fillers, port


def targets(ports: list[int], hole: int) -> list[ServiceSpec]:
    services = []
    per = 10
    for s in range(TARGETS // per):
        probes = []
        for i in range(per):
            n = s * per + i
            dead = n % (TARGETS // BLACKHOLED) == 0
            port = hole if dead else ports[n % len(ports)]
            if n % 2:
                probes.append(ProbeTarget(f"svc{s}", f"http{n}", "http",
                                          {"url": f"http://127.0.0.1:{port}/health",
                                           "json": ["status == ok"]}, interval=30, deadline=DEADLINE))
            else:
                probes.append(ProbeTarget(f"svc{s}", f"tcp{n}", "tcp", {"host": "127.0.0.1", "port": port},
                                          interval=30, deadline=DEADLINE))
        services.append(ServiceSpec(f"svc{s}", f"Service {s}", tuple(probes)))
    return services


async def round_(sched: Scheduler) -> tuple[float, list[float]]:
    lags: list[float] = []
    stop = False

    async def ticker() -> None:
        while not stop:
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - t0 - 0.005)

    tick = asyncio.create_task(ticker())
    t0 = time.perf_counter()
    await sched.run_once()
    took = time.perf_counter() - t0
    stop = True
    await tick
    return took, lags


async def bench(ports: list[int], hole: int) -> dict[str, float]:
    services = targets(ports, hole)
    sched = Scheduler(services, None, concurrency=256, jitter=0.0)
    await sched.warm_up()
    results = []
    all_lags: list[float] = []
    for _ in range(3):
        took, lags = await round_(sched)
        results.append(took)
        all_lags.extend(lags)
    probes = [r for h in sched.snapshot() for r in h.probes.values()]
    failed = sum(1 for r in probes if r.raw_status == Status.FAIL or r.status == Status.FAIL)
    lags_ms = sorted(x * 1000 for x in all_lags)
    return {"rounds": len(results), "round_s_max": max(results), "round_s_median": statistics.median(results),
            "probes": len(probes), "failed": failed,
            "loop_lag_p95_ms": lags_ms[int(0.95 * (len(lags_ms) - 1))] if lags_ms else 0.0,
            "loop_lag_max_ms": lags_ms[-1] if lags_ms else 0.0}


def main() -> int:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    lsock, fillers, hole = blackhole()
    try:
        assert server.stdout is not None
        ports = [int(p) for p in server.stdout.readline().split()]
        out = asyncio.run(bench(ports, hole))
    finally:
        server.kill()
        server.wait()
        for c in fillers:
            c.close()
        lsock.close()
    ok = out["round_s_max"] <= BUDGET and out["failed"] == BLACKHOLED
    print(f"probe round: {TARGETS} targets ({TARGETS // 2} http, {TARGETS // 2} tcp), "
          f"{BLACKHOLED} blackholed, deadline {DEADLINE:g}s")
    print(f"  full round: median {out['round_s_median']:.3f}s, max {out['round_s_max']:.3f}s "
          f"over {out['rounds']} rounds (budget {BUDGET:g}s)")
    print(f"  results: {out['probes']} probes, {out['failed']} failing (expected {BLACKHOLED})")
    print(f"  event-loop lag while probing: p95 {out['loop_lag_p95_ms']:.1f} ms, "
          f"max {out['loop_lag_max_ms']:.1f} ms")
    print("  verdict:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
