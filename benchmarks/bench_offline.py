"""Start-up with the network gone: first useful frame and peak memory (issue 11).

Four programs in a pty (120x40), interleaved run by run so that load on the machine hits
them alike; medians of ``RUNS``:

- a minimal Textual app (Header, Label, Footer): the floor;
- ``cockpit demo``: the target (goal: the live cockpit within 1.2x of it);
- the live cockpit on ``cockpit.example.toml`` with no network at all (``unshare -rn``: a
  user and network namespace with only a loopback that is down);
- the live cockpit on the same services with every target blackholed: loopback listeners
  that never answer (TCP: a full accept queue, SYNs dropped; UDP: a socket never read).

The first useful frame is the health pane with every service, the incident log and the
plan's targets on screen; the CPU time the process used by then (every thread) is printed
too: on a loaded machine it is the steadier figure. Memory: the RSS when that frame is on screen, and the process's
peak RSS (``wait4``) over its first ``SETTLE`` seconds (the probe clients are loaded by then).

Run: ``./run bench offline`` (or ``.venv/bin/python -m benchmarks.bench_offline``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.blackhole import Blackhole
from benchmarks.tui import MINIMAL_APP, PY, ROOT, spawn

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SETTLE = 5.0
EXAMPLE = ROOT / "cockpit.example.toml"
TITLES = ("PostgreSQL", "Backend API", "Frontend", "Redis", "S3 backups", "Stellar/Horizon", "DNS")
SECRETS = {"COCKPIT_PG_PASSWORD": "x", "COCKPIT_REDIS_PASSWORD": "x",
           "COCKPIT_S3_ACCESS_KEY_ID": "x", "COCKPIT_S3_SECRET_ACCESS_KEY": "x"}


def useful(text: str) -> bool:
    return all(t in text for t in TITLES) and "Incident log" in text and "RTO" in text


def demo_useful(text: str) -> bool:
    return "PostgreSQL" in text and "Incident log" in text and "RTO" in text


class Holes:
    """Loopback listeners that never answer."""

    def __init__(self) -> None:
        self.tcp = Blackhole()
        self.port = self.tcp.port
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp_port = self.udp.getsockname()[1]

    def close(self) -> None:
        self.tcp.close()
        self.udp.close()


def blackholed_config(path: Path, holes: Holes) -> None:
    """The example's services, every target a listener on loopback that never answers."""
    h, u = holes.port, holes.udp_port
    text = EXAMPLE.read_text()
    for old, new in (
            ("host=db-1.internal port=5432", f"host=127.0.0.1 port={h}"),
            ("host=db-2.internal port=5432", f"host=127.0.0.1 port={h}"),
            ("https://api.stellar-insights.com/health", f"http://127.0.0.1:{h}/health"),
            ('url = "https://stellar-insights.com/"', f'url = "http://127.0.0.1:{h}/"'),
            ('host = "redis-1.internal"\nport = 6379', f'host = "127.0.0.1"\nport = {h}'),
            ('prefix = "wal-g/"', f'prefix = "wal-g/"\nendpoint = "http://127.0.0.1:{h}"'),
            ('bucket = "stellar-insights-backups"\naccess_key_id_env',
             f'bucket = "stellar-insights-backups"\nendpoint = "http://127.0.0.1:{h}"\n'
             'access_key_id_env'),
            ("https://horizon.stellar.org", f"http://127.0.0.1:{h}"),
            ('resolvers = ["1.1.1.1", "8.8.8.8", "9.9.9.9"]', f'resolvers = ["127.0.0.1:{u}"]')):
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text)


def rss_now(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_now(pid: int) -> float:
    """CPU seconds (user + system, every thread) the process used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def one_run(argv: list[str], predicate, env: dict[str, str] | None = None,
            cwd: str | None = None) -> tuple[float | None, float, float, float]:
    """(seconds to the first useful frame, CPU seconds used by then, RSS MiB then, peak RSS
    MiB over the first SETTLE seconds)."""
    here = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        s = spawn(argv, env=env)
    finally:
        os.chdir(here)
    t = s.wait_for(predicate, timeout=30)
    cpu, at_frame = cpu_now(s.pid), rss_now(s.pid)
    end = time.monotonic() + SETTLE
    while time.monotonic() < end:
        s.pump(0.1)
    os.kill(s.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    rss = float("nan")
    while True:
        s.pump(0.05)
        pid, _, ru = os.wait4(s.pid, os.WNOHANG)
        if pid:
            rss = ru.ru_maxrss / 1024
            break
        if time.monotonic() > deadline:
            os.kill(s.pid, signal.SIGKILL)
            _, _, ru = os.wait4(s.pid, 0)
            rss = ru.ru_maxrss / 1024
            break
    os.close(s.fd)
    return t, cpu, at_frame, rss


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> dict[str, object]:
    print(f"== start-up with the network gone (pty 120x40; medians of {RUNS} interleaved runs; "
          f"peak RSS over the first {SETTLE:g} s)")
    netns = shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rn", "true"], capture_output=True).returncode == 0
    if not netns:
        print("   (no unprivileged network namespaces here: the no-network case is skipped)")
    holes = Holes()
    out: dict[str, tuple[list[float], list[float], list[float], list[float]]] = {}
    paired: dict[str, list[float]] = {}  # per round: this case / the demo of the same round
    try:
        with tempfile.TemporaryDirectory() as d:
            cfg = Path(d) / "blackholed.toml"
            blackholed_config(cfg, holes)
            cases = [
                ("minimal Textual app", [PY, "-c", MINIMAL_APP], lambda t: "hello-marker" in t, None),
                ("cockpit demo", [PY, "-m", "cockpit", "demo"], demo_useful, None),
                ("live, example config, no network",
                 ["unshare", "-rn", PY, "-m", "cockpit", "--config", str(EXAMPLE), "--state-dir",
                  f"{d}/state-nonet"], useful, SECRETS),
                ("live, every target blackholed",
                 [PY, "-m", "cockpit", "--config", str(cfg), "--state-dir", f"{d}/state-holes"],
                 useful, SECRETS),
            ]
            if not netns:
                cases = [c for c in cases if "no network" not in c[0]]
            for _ in range(RUNS):
                round_: dict[str, float | None] = {}
                for name, argv, pred, env in cases:
                    t, cpu, at_frame, rss = one_run(argv, pred, env, cwd=d)
                    times, cpus, frames, mems = out.setdefault(name, ([], [], [], []))
                    if t is not None:
                        times.append(t)
                        cpus.append(cpu)
                    frames.append(at_frame)
                    mems.append(rss)
                    round_[name] = t
                demo_t = round_.get("cockpit demo")
                for name, t in round_.items():
                    if t is not None and demo_t:
                        paired.setdefault(name, []).append(t / demo_t)
    finally:
        holes.close()
    demo = med(out["cockpit demo"][0])
    demo_cpu = med(out["cockpit demo"][1])
    for name, (times, cpus, frames, mems) in out.items():
        ratio = med(times) / demo if demo == demo and times else float("nan")
        goal = (f" (paired median {med(paired.get(name, [])):.2f}x; goal <= 1.2x)"
                if name.startswith("live") else "")
        missing = f", {RUNS - len(times)} runs never drew it" if len(times) < RUNS else ""
        print(f"{name:<36}: first useful frame {med(times) * 1000:4.0f} ms "
              f"[{min(times, default=float('nan')) * 1000:.0f}-{max(times, default=float('nan')) * 1000:.0f}]"
              f" = {ratio:.2f}x the demo{goal}; CPU by then {med(cpus) * 1000:.0f} ms "
              f"({med(cpus) / demo_cpu:.2f}x); RSS at that frame {med(frames):.0f} MiB, "
              f"peak {med(mems):.0f} MiB{missing}")
    return {k: v for k, v in out.items()}


if __name__ == "__main__":
    main()
