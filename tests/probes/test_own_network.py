"""Acceptance: the real cockpit and ``cockpit status`` in a process with no network, and with
only DNS broken (issue 11), driven through the pty harness.

- No network: a user and network namespace (``unshare -rn``): only a loopback that is down.
- Only DNS broken: a user and mount namespace (``unshare -rm``) where ``/etc/resolv.conf`` is
  bind-mounted over by one naming a dead local resolver (127.0.0.9: nothing listens there);
  the machine's network is untouched, and the DNS service's probe asks a responder on
  loopback (it answers: the network works, names do not).
- Partial: in a network namespace, two veth pairs (10.1.0.0/24 with a listener, 10.3.0.0/24
  with nobody) and no route to 10.2.0.0/24.

Each run starts from last-known results two hours old in the state directory. Nothing here
leaves this machine: with no network nothing can; with the dead resolver every name fails
locally. Skipped only where the kernel forbids unprivileged namespaces (said in the reason).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from security.pty_harness import PY, Pty
from shared_fakes import require

from cockpit.config import load_config
from cockpit.health import ProbeResult, Status
from cockpit.probes.scheduler import Scheduler, from_config
from cockpit.timeutil import FixedClock

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "cockpit.example.toml"
TITLES = ("PostgreSQL", "Backend API", "Frontend", "Redis", "S3 backups", "Stellar/Horizon", "DNS")
SECRETS = {"COCKPIT_PG_PASSWORD": "x", "COCKPIT_REDIS_PASSWORD": "x",
           "COCKPIT_S3_ACCESS_KEY_ID": "x", "COCKPIT_S3_SECRET_ACCESS_KEY": "x"}
AGO = 7300.0  # the last-known results: 2h01m old


def _allowed(argv: list[str]) -> str | None:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if p.returncode == 0 else (p.stderr.strip() or f"exit {p.returncode}")


def need(*argv: str) -> None:
    why = _allowed(list(argv))
    if why is not None:  # the kernel (or a sysctl) forbids it here: nothing to test with
        pytest.skip(f"`{' '.join(argv)}` not allowed on this machine: {why}")


def seed_last_known(config: Path, state: Path) -> None:
    """What the cockpit saw two hours ago: every probe OK."""
    async def ok(target, deadline, now) -> ProbeResult:
        return ProbeResult(Status.OK, f"{target.name} fine", now(), latency=0.004,
                           key_figure="4 ms")

    state.mkdir(mode=0o700)
    sched = Scheduler(from_config(load_config(config)), state, FixedClock(time.time() - AGO),
                      runner=ok, load=False)
    asyncio.run(sched.run_once())
    assert (state / "probes.toml").exists()


def rows(text: str) -> dict[str, str]:
    """Each service's line of the health pane (the part between the borders)."""
    out = {}
    for line in text.splitlines():
        inner = line.strip().strip("│").strip()
        for t in TITLES:
            if re.match(rf"^\S+\s+{re.escape(t)}\b", inner) and t not in out:
                out[t] = inner
    return out


def all_unknown_with_age(text: str, titles=TITLES) -> bool:
    r = rows(text)
    return all(t in r and r[t].startswith("UNKNOWN ") and "last known OK" in r[t]
               and re.search(r"\b2h0[1-9]m\s*$", r[t]) for t in titles)


def run_cockpit(argv_prefix: list[str], config: Path, state: Path, tmp_path: Path, *,
                cols: int, rows_: int, want: str, titles=TITLES) -> str:
    env = {**SECRETS, "HOME": str(tmp_path)}
    with Pty.spawn([*argv_prefix, PY, "-m", "cockpit", "--config", str(config), "--state-dir",
                    str(state)], cols=cols, rows=rows_, env=env, cwd=tmp_path) as p:
        ok = p.wait_for(lambda t: want in t.upper() and all_unknown_with_age(t, titles),
                        timeout=60)
        text = p.text()
        assert ok, f"never showed {want!r} with every service UNKNOWN and its age:\n{text}"
        p.press("q")
        assert p.wait(10) == 0
    return text


def run_status(argv_prefix: list[str], config: Path, state: Path, tmp_path: Path,
               *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SECRETS, "COLUMNS": "80", "HOME": str(tmp_path)}
    return subprocess.run([*argv_prefix, PY, "-m", "cockpit", "status", *args, "--config",
                           str(config), "--state-dir", str(state)], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)


def check_status(p: subprocess.CompletedProcess[str], headline: str, titles=TITLES) -> None:
    assert p.returncode == 3, (p.returncode, p.stdout, p.stderr)
    lines = p.stdout.splitlines()
    assert lines[0].startswith(headline), p.stdout
    for t in titles:
        (line,) = [x for x in lines if re.match(rf"^\S+\s+{re.escape(t)}\b", x)]
        assert line.startswith("UNKNOWN ") and "last known OK" in line, line
        assert re.search(r"\b2h0[1-9]m\b", line), line  # the last-known state's age
        assert len(line) <= 80
    assert not any(x.startswith("DOWN") for x in lines)
    words = [[w.strip(".,:;()").lower() for w in x.split()] for x in lines]
    for ws in words:  # nothing said twice in a line ("probe misconfigured: probe misconfigured")
        pairs = [f"{a} {b}" for a, b in zip(ws, ws[1:], strict=False)]
        assert len(pairs) == len(set(pairs)), ws


# ---------------------------------------------------------------- no network at all


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_no_network_cockpit_says_its_own_network_is_down(tmp_path, size):
    need("unshare", "-rn", "true")
    state = tmp_path / "state"
    seed_last_known(EXAMPLE, state)
    text = run_cockpit(["unshare", "-rn"], EXAMPLE, state, tmp_path, cols=size[0], rows_=size[1],
                       want="THE COCKPIT'S OWN NETWORK IS DOWN")
    assert "NO NETWORK INTERFACE IS UP BESIDES LOOPBACK" in " ".join(text.upper().split())
    assert not any(r.startswith("DOWN") for r in rows(text).values())


def test_no_network_status_and_json_say_the_same(tmp_path):
    need("unshare", "-rn", "true")
    state = tmp_path / "state"
    seed_last_known(EXAMPLE, state)
    check_status(run_status(["unshare", "-rn"], EXAMPLE, state, tmp_path),
                 "THE COCKPIT'S OWN NETWORK IS DOWN: no network interface is up besides")
    p = run_status(["unshare", "-rn"], EXAMPLE, state, tmp_path, "--json")
    doc = json.loads(p.stdout)
    assert p.returncode == doc["exit_code"] == 3
    assert doc["network"]["verdict"] == "offline" and doc["network"]["interfaces"] == []
    assert doc["network"]["route_beyond_this_machine"] is False
    for s in doc["services"]:
        assert s["status"] == "unknown" and 7200 < s["age"] < 7300 + 120, s
        for probe in s["probes"].values():
            assert probe["metrics"]["last_known_status"] == "OK"
            assert probe["raw_status"] == "fail" and probe["error_class"] == "offline"


# ---------------------------------------------------------------- only DNS broken


def dns_broken_config(tmp_path: Path, dns_port: int) -> Path:
    """The example, its DNS service asking a responder on loopback (by address)."""
    text = EXAMPLE.read_text()
    text = text.replace('query = "api.stellar-insights.com"', 'query = "ok.example.test"')
    text = text.replace('resolvers = ["1.1.1.1", "8.8.8.8", "9.9.9.9"]',
                        f'resolvers = ["127.0.0.1:{dns_port}"]')
    assert f"127.0.0.1:{dns_port}" in text
    path = tmp_path / "cockpit.toml"
    path.write_text(text)
    return path


def dead_resolver(tmp_path: Path) -> list[str]:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.9\n")  # nothing listens there
    return ["unshare", "-rm", "sh", "-c", f'mount --bind "{conf}" /etc/resolv.conf && exec "$@"',
            "sh"]


def test_only_dns_broken_says_dns(tmp_path, dns_fake):
    need("unshare", "-rm", "sh", "-c", "mount --bind /etc/hostname /etc/resolv.conf")
    config = dns_broken_config(tmp_path, dns_fake.port)
    state = tmp_path / "state"
    seed_last_known(config, state)
    by_name = TITLES[:-1]  # every service but DNS, whose probe goes to an address
    text = run_cockpit(dead_resolver(tmp_path), config, state, tmp_path, cols=120, rows_=40,
                       want="THE COCKPIT'S DNS IS DOWN", titles=by_name)
    flat = " ".join(text.split())
    assert "its resolver does not resolve names (127.0.0.9: connection refused)" in flat
    assert "OWN NETWORK IS DOWN" not in text
    r = rows(text)
    assert r["DNS"].startswith("OK "), r["DNS"]  # by address: judged, and it answers
    assert not any(x.startswith("DOWN") for x in r.values())
    p = run_status(dead_resolver(tmp_path), config, state, tmp_path)
    check_status(p, "THE COCKPIT'S DNS IS DOWN", titles=by_name)
    assert re.search(r"^OK\s+DNS\b", p.stdout, re.M)
    doc = json.loads(run_status(dead_resolver(tmp_path), config, state, tmp_path, "--json").stdout)
    assert doc["network"]["verdict"] == "dns"
    assert doc["network"]["resolver"] == {"servers": ["127.0.0.9"], "answers": False,
                                          "detail": "127.0.0.9: connection refused"}


# ---------------------------------------------------------------- one subnet


PARTIAL = textwrap.dedent("""
    import asyncio, json, socket, subprocess
    from cockpit.probes.base import ProbeTarget
    from cockpit.probes.scheduler import Scheduler, ServiceSpec
    for cmd in ("ip link add v0 type veth peer name v1", "ip link add v2 type veth peer name v3",
                "ip addr add 10.1.0.1/24 dev v0", "ip addr add 10.1.0.2/24 dev v1",
                "ip addr add 10.3.0.1/24 dev v2", "ip link set lo up", "ip link set v0 up",
                "ip link set v1 up", "ip link set v2 up", "ip link set v3 up"):
        subprocess.run(cmd.split(), check=True)
    srv = socket.socket(); srv.bind(("10.1.0.2", 0)); srv.listen(8)
    port = srv.getsockname()[1]
    def svc(sid, host, port):
        return ServiceSpec(sid, sid, (ProbeTarget(sid, "p", "tcp", {"host": host, "port": port},
                                                  deadline=1.5, fail_after=1),))
    s = Scheduler([svc("api", "10.1.0.2", port), svc("db", "10.2.0.5", 5432),
                   svc("cache", "10.3.0.9", 6379)], None, jitter=0.0)
    health = asyncio.run(s.run_once())
    print(json.dumps({"verdict": s.network.verdict.value, "text": s.network.text,
                      "status": {h.service: [h.status.value, h.summary] for h in health}}))
""")


def test_one_subnet_unroutable_and_one_silent_are_told_apart(tmp_path):
    need("unshare", "-rn", "true")
    require(shutil.which("ip") is not None, "the `ip` command (iproute2) to make the test network")
    p = subprocess.run(["unshare", "-rn", sys.executable, "-c", PARTIAL], capture_output=True,
                       text=True, timeout=60, cwd=tmp_path)
    if p.returncode != 0 and "veth" in p.stderr:
        pytest.skip(f"veth pairs not allowed in a user namespace here: {p.stderr[-200:]}")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    assert doc["verdict"] == "partial", doc
    assert "no route from the cockpit to 10.2.0.0/24 (db/p)" in doc["text"]
    assert "nothing in 10.3.0.0/24 answers (cache/p) while 10.1.0.0/24 does" in doc["text"]
    assert doc["status"]["api"][0] == "ok"
    assert doc["status"]["db"] == ["unknown", "never answered (no route from the cockpit to 10.2.0.5)"]
    assert doc["status"]["cache"][0] == "fail"  # routed but silent: that network may be down


NO_DEFAULT_ROUTE = textwrap.dedent("""
    import asyncio, json, subprocess, sys
    from cockpit.probes import localnet
    from cockpit.probes.selfcheck import decide
    for cmd in ("ip link add v0 type veth peer name v1", "ip addr add 10.1.0.1/24 dev v0",
                "ip link set v0 up", "ip link set v1 up", "ip link set lo up"):
        subprocess.run(cmd.split(), check=True)
    subprocess.run(["mount", "--bind", sys.argv[1], "/etc/resolv.conf"], check=True)
    obs = asyncio.run(localnet.observe([("db-1.internal", 5432)], resolver=False))
    print(json.dumps({"route": obs.route, "links": obs.links,
                      "verdict": decide(obs, []).verdict.value}))
""")


def test_a_bastion_routed_to_its_own_networks_only_is_not_offline(tmp_path):
    """No default route, the probes by name: the route to the nameserver is a route beyond
    this machine (the cockpit must not say "no route" at start on such a bastion)."""
    need("unshare", "-rnm", "true")
    require(shutil.which("ip") is not None, "the `ip` command (iproute2) to make the test network")
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 10.1.0.53\n")
    p = subprocess.run(["unshare", "-rnm", sys.executable, "-c", NO_DEFAULT_ROUTE, str(conf)],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    if p.returncode != 0 and "veth" in p.stderr:
        pytest.skip(f"veth pairs not allowed in a user namespace here: {p.stderr[-200:]}")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    # v0 is up with an address (v1, without one, is no usable interface)
    assert doc == {"route": True, "links": ["v0"], "verdict": "ok"}, doc
