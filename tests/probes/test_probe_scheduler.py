"""Scheduler: damping, stale, self-check, persistence, on_change, secrets, status CLI."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cockpit.cli import status as cli
from cockpit.config import Config as RealConfig
from cockpit.config import ProbeConfig, ServiceConfig
from cockpit.health import ProbeResult, Status
from cockpit.plan import Milestones
from cockpit.probes.base import ProbeTarget
from cockpit.probes.damping import Damper, display_status
from cockpit.probes.laststate import STATE_FILE
from cockpit.probes.scheduler import Scheduler, ServiceSpec, from_config
from cockpit.timeutil import FixedClock

T0 = 1_800_000_000.0


def feed(d: Damper, seq: str, t: float = T0) -> list[Status]:
    m = {"o": Status.OK, "w": Status.WARN, "f": Status.FAIL, "u": Status.UNKNOWN}
    out = []
    for i, c in enumerate(seq):
        out.append(d.feed(m[c], t + i))
    return out


def words(statuses: list[Status]) -> str:
    return "".join(s.value[0] for s in statuses)


# ---------------------------------------------------------------- the pure state machine


def test_damping_fail_after_n_recover_after_m():
    d = Damper(fail_after=3, recover_after=2)
    # first answer adopted as is; 2 failures keep OK; the 3rd turns DOWN
    assert words(feed(d, "offf")) == "ooof"
    assert d.down_since == T0 + 1  # backdated to the first failure of the streak
    # one OK is not enough, two are
    assert words(feed(d, "ofoo", T0 + 10)) == "fffo"
    assert d.down_since is None


def test_damping_flapping_never_goes_down():
    d = Damper(fail_after=3, recover_after=2)
    assert words(feed(d, "ofofofofo")) == "ooooooooo"


def test_damping_warn_and_back():
    d = Damper(fail_after=2, recover_after=2)
    assert words(feed(d, "owwwoo")) == "oowwwo"
    assert words(feed(d, "ffw", T0 + 10)) == "off"  # FAIL -> WARN needs M non-fail runs
    assert d.feed(Status.WARN, T0 + 20) == Status.WARN


def test_damping_unknown_is_no_evidence():
    d2 = Damper(fail_after=2, recover_after=1)
    feed(d2, "o")
    assert d2.feed(Status.FAIL, T0) == Status.OK
    assert d2.feed(Status.UNKNOWN, T0 + 1) == Status.OK  # offline runs do not count
    assert d2.feed(Status.FAIL, T0 + 2) == Status.FAIL


def test_damping_n1_m1_is_raw():
    d = Damper(fail_after=1, recover_after=1)
    assert words(feed(d, "ofwof")) == "ofwof"


def test_display_status_stale_never_green():
    assert display_status(Status.OK, T0, T0 + 10, 20) == Status.OK
    assert display_status(Status.OK, T0, T0 + 21, 20) == Status.STALE
    assert display_status(Status.FAIL, T0, T0 + 21, 20) == Status.STALE
    assert display_status(Status.OK, None, T0, 20) == Status.UNKNOWN


# ---------------------------------------------------------------- scheduler with a fake runner


@dataclass
class FakeRunner:
    """Answers per probe name from a script; records calls."""

    script: dict[str, list[ProbeResult | Exception | float]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def __call__(self, target: ProbeTarget, deadline: float, now) -> ProbeResult:
        self.calls.append(target.name)
        seq = self.script.get(target.name) or [ok()]
        item = seq.pop(0) if len(seq) > 1 else seq[0]
        if isinstance(item, Exception):
            raise item
        if isinstance(item, float):  # hang that long
            await asyncio.sleep(item)
            return ok()
        return ProbeResult(item.status, item.summary, now(), dict(item.metrics), item.error, 0.01,
                           item.key_figure, item.error_class)


def ok(summary="fine", **metrics) -> ProbeResult:
    return ProbeResult(Status.OK, summary, 0.0, metrics, key_figure="12 ms")


def bad(cls="refused", summary="down: connection refused") -> ProbeResult:
    return ProbeResult(Status.FAIL, summary, 0.0, {}, error=summary, error_class=cls)


def spec(*names: str, interval=10.0, deadline=2.0, fail_after=2, recover_after=2, kind="tcp",
         service="api") -> ServiceSpec:
    return ServiceSpec(service, service.upper(), tuple(
        ProbeTarget(service, n, kind, {"host": "127.0.0.1", "port": 1}, interval=interval, deadline=deadline,
                    fail_after=fail_after, recover_after=recover_after) for n in names))


async def test_scheduler_damping_and_stale_with_fixed_clock(tmp_path):
    clock = FixedClock(T0)
    runner = FakeRunner({"a": [ok(), bad(), bad(), ok(), ok()]})
    changed: list[str] = []
    s = Scheduler([spec("a")], None, clock, runner=runner, on_change=changed.append)
    assert s.snapshot()[0].status == Status.UNKNOWN
    assert s.snapshot()[0].summary == "no answer yet"
    seen = []
    for _ in range(5):
        h = (await s.run_once())[0]
        seen.append(h.status)
        clock.advance(10)
    # one failure is not a verdict (fail_after=2): amber "unconfirmed", never a green word next
    # to a failing answer; red from the second; green again after recover_after successes
    assert seen == [Status.OK, Status.WARN, Status.FAIL, Status.FAIL, Status.OK]
    assert changed == ["api"] * 5
    h = s.snapshot()[0]
    assert h.probes["a"].status == Status.OK
    # no fresh answer for interval + deadline + grace (10 + 2 + 5): STALE, never green
    clock.advance(7.5)  # 17.5 s since the last answer
    h = s.snapshot()[0]
    assert h.status == Status.STALE
    assert h.probes["a"].status == Status.STALE and h.probes["a"].raw_status == Status.OK
    assert "no fresh answer" in h.summary
    assert h.age_text(clock.now()) == "17s ago"


async def test_raw_result_shown_next_to_damped(tmp_path):
    clock = FixedClock(T0)
    s = Scheduler([spec("a", fail_after=3)], None, clock, runner=FakeRunner({"a": [ok(), bad()]}))
    await s.run_once()
    h = (await s.run_once())[0]
    assert h.status == Status.WARN  # not DOWN yet (fail_after=3), and not OK either
    assert h.probes["a"].raw_status == Status.FAIL
    assert h.probes["a"].error == "down: connection refused"
    assert h.probes["a"].summary.startswith("unconfirmed (1 of 3): ")


async def test_down_since_and_service_aggregation():
    clock = FixedClock(T0)
    runner = FakeRunner({"a": [ok(rpo_exposure=30.0)], "b": [bad("timeout", "no answer")]})
    s = Scheduler([spec("a", "b", fail_after=1)], None, clock, runner=runner)
    h = (await s.run_once())[0]
    assert h.status == Status.FAIL
    assert h.summary == "b: no answer"
    assert h.down_since == T0
    assert h.rpo_exposure == 30.0
    assert h.latencies == (0.01,)
    assert set(h.probes) == {"a", "b"}


async def test_self_check_offline_vs_service_down(refused_port, http_fake):
    clock = FixedClock(T0)
    runner = FakeRunner({"a": [bad("timeout_connect", "no answer within the deadline")]})
    offline = Scheduler([spec("a", fail_after=1)], None, clock, runner=runner,
                        anchors=[("127.0.0.1", refused_port)])
    h = (await offline.run_once())[0]
    assert offline.offline is True
    assert h.status == Status.UNKNOWN
    assert h.probes["a"].error_class == "offline"
    assert h.summary == "never answered (cockpit offline)"  # not DOWN, and says why
    online = Scheduler([spec("a", fail_after=1)], None, clock, runner=runner,
                       anchors=[("127.0.0.1", refused_port), ("127.0.0.1", http_fake.port)])
    h = (await online.run_once())[0]
    assert online.offline is False
    assert h.status == Status.FAIL and h.probes["a"].error_class == "timeout_connect"
    # an auth failure proves the network works: no self-check needed, service blamed
    auth = Scheduler([spec("a", fail_after=1)], None, clock,
                     runner=FakeRunner({"a": [bad("auth", "auth failure")]}),
                     anchors=[("127.0.0.1", refused_port)])
    h = (await auth.run_once())[0]
    assert h.status == Status.FAIL and auth.offline_checked_at is None


async def test_persistence_roundtrip_shows_last_known_as_stale(tmp_path):
    clock = FixedClock(T0)
    runner = FakeRunner({"a": [ok("fine \x1b[31mred\x1b[0m \u202e", lag=1.5, role="primary")],
                         "b": [bad()]})
    s = Scheduler([spec("a", "b", fail_after=1)], tmp_path, clock, runner=runner)
    await s.run_once()
    path = tmp_path / STATE_FILE
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    text = path.read_text()
    assert "\x1b" not in text and "\u202e" not in text
    assert not list(tmp_path.glob(".*.tmp"))
    # a cockpit started an hour later (during an outage) shows what was last seen, and how old
    clock.advance(3600)
    s2 = Scheduler([spec("a", "b", fail_after=1)], tmp_path, clock, runner=FakeRunner())
    h = s2.snapshot()[0]
    assert h.status == Status.STALE
    assert h.probes["a"].metrics["lag"] == 1.5 and h.probes["a"].raw_status == Status.OK
    assert h.probes["b"].raw_status == Status.FAIL
    assert h.age_text(clock.now()) == "1h00m ago"
    assert h.down_since is None  # STALE now: not claimed DOWN on an hour-old answer
    assert [st.damper.down_since for st in s2.states.values() if st.target.name == "b"] == [T0]
    # unknown probes in the file and a corrupt file are ignored, never a crash
    s3 = Scheduler([spec("zzz")], tmp_path, clock)
    assert s3.snapshot()[0].status == Status.UNKNOWN
    path.write_text("this is [not toml")
    s4 = Scheduler([spec("a")], tmp_path, clock)
    assert s4.load_error and s4.snapshot()[0].status == Status.UNKNOWN


async def test_run_loop_concurrent_nonblocking_and_stop():
    """32 probes hung on a 2 s answer: the loop keeps ticking, stop() ends run() promptly."""
    names = [f"p{i}" for i in range(32)]
    runner = FakeRunner({n: [2.0] for n in names})
    s = Scheduler([spec(*names, interval=0.2, deadline=1)], None, runner=runner, jitter=0.05)
    task = asyncio.create_task(s.run())
    lags = []
    for _ in range(30):
        t0 = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - t0 - 0.01)
    # a blocked loop would lag by the probes' 2 s; a loaded 2-core machine's scheduling
    # hiccups are far below 0.5 s
    assert max(lags) < 0.5
    assert len(runner.calls) == 32  # all in flight at once
    s.stop()
    await asyncio.wait_for(task, 1.0)


async def test_real_probes_hung_on_blackhole_do_not_block_loop(blackhole):
    targets = tuple(ProbeTarget("api", f"h{i}", "http" if i % 2 else "tcp",
                                {"url": f"http://127.0.0.1:{blackhole.port}/", "host": "127.0.0.1",
                                 "port": blackhole.port}, interval=5, deadline=1.0)
                    for i in range(32))
    s = Scheduler([ServiceSpec("api", "API", targets)], None, jitter=0.0)
    task = asyncio.create_task(s.run_once())
    lags = []
    while not task.done():
        t0 = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - t0 - 0.01)
    health = task.result()[0]
    assert health.status == Status.FAIL
    # Not blocked behind the hung probes: a blocked loop would stall for their whole 1 s
    # deadline. (How small the lag is, is a speed figure: benchmarks/bench_probes.py prints
    # its p95 and max; a unit test on a shared 2-core box does not time it.)
    assert max(lags) < 0.5, max(lags)


async def test_split_brain_across_probes_of_one_service():
    clock = FixedClock(T0)
    prim = ProbeResult(Status.OK, "primary", 0.0, {"role": "primary", "node": "10.0.0.1:5432"})
    prim2 = ProbeResult(Status.OK, "primary", 0.0, {"role": "primary", "node": "10.0.0.2:5432"})
    runner = FakeRunner({"a": [prim], "b": [prim2]})
    s = Scheduler([spec("a", "b", kind="postgres", service="db")], None, clock, runner=runner)
    h = (await s.run_once())[0]
    assert h.status == Status.FAIL
    assert h.summary == "split brain: 2 primaries (10.0.0.1:5432, 10.0.0.2:5432)"


async def test_run_persists_on_stop(tmp_path):
    s = Scheduler([spec("a", interval=0.1)], tmp_path, runner=FakeRunner(), jitter=0.0, save_every=60)
    task = asyncio.create_task(s.run())
    await asyncio.sleep(0.3)
    s.stop()
    await asyncio.wait_for(task, 2.0)
    assert 'name = "a"' in (tmp_path / STATE_FILE).read_text()
    s.stop()  # stop before run: run returns at once
    await asyncio.wait_for(s.run(), 1.0)


async def test_runner_exception_becomes_result_and_callback_errors_are_contained():
    def boom(_sid):
        raise RuntimeError("ui bug")

    s = Scheduler([spec("a", fail_after=1)], None, FixedClock(T0),
                  runner=FakeRunner({"a": [ValueError("kaput")]}), on_change=boom)
    h = (await s.run_once())[0]
    assert h.status == Status.FAIL and "kaput" in h.probes["a"].error


async def test_secrets_never_in_results(http_fake, monkeypatch, tmp_path):
    token = "tok-SECRET-abcdef123456"
    monkeypatch.setenv("COCKPIT_TEST_TOKEN", token)
    t = ProbeTarget.create("api", "echo", "http", {"url": http_fake.url + "/echo-auth",
                                                   "token_env": "COCKPIT_TEST_TOKEN",
                                                   "json": ["auth == nope"]})
    s = Scheduler([ServiceSpec("api", "API", (t,))], tmp_path, FixedClock(T0))
    h = (await s.run_once())[0]
    assert h.status == Status.FAIL  # the echoed header fails the condition, value masked
    assert token not in repr(h)
    assert token not in (tmp_path / STATE_FILE).read_text()
    pw_file = tmp_path / "pw"
    pw_file.write_text("file-secret-999\n")
    t2 = ProbeTarget.create("db", "p", "postgres", {
        "dsn": "postgresql://u:inline-pw-777@127.0.0.1:1/x", "password_file": str(pw_file)})
    s2 = Scheduler([ServiceSpec("db", "DB", (t2,))], None, FixedClock(T0))
    h2 = (await s2.run_once())[0]
    assert "file-secret-999" not in repr(h2) and "inline-pw-777" not in repr(h2)


# ---------------------------------------------------------------- config contract and CLI


def PC(name: str, kind: str, interval: float, deadline: float, fail_after: int,
       recover_after: int, options: dict) -> ProbeConfig:
    return ProbeConfig(name, kind, interval, deadline, fail_after, recover_after, options)


def SC(sid: str, title: str, priority: str, rto: float | None, rpo: float | None,
       probes: list[ProbeConfig]) -> ServiceConfig:
    return ServiceConfig(sid, title, priority, rto, rpo, probes=tuple(probes))


def Config(services: list[ServiceConfig]) -> RealConfig:
    """A real configuration (the types `cockpit.toml` loads into), not a look-alike."""
    return RealConfig(path=None, environment="test", mode="personal", milestones=Milestones(),
                      services={s.id: s for s in services})


def test_from_config():
    cfg = Config([SC("db", "Database", "P1", 3600.0, 900.0,
                     [PC("primary", "tcp", 15.0, 5.0, 3, 2, {"host": "h", "port": 5432})]),
                  SC("redis", "Redis", "P1", 7200.0, 3600.0,
                     [PC("cache", "redis", 15.0, 3.0, 3, 2, {})])])
    s, r = from_config(cfg)
    assert r.probes[0].options["rpo"] == 3600.0  # the service RPO judges the last save
    assert (s.id, s.title, s.rto, s.rpo) == ("db", "Database", 3600.0, 900.0)
    (p,) = s.probes
    assert (p.service, p.name, p.kind, p.interval, p.deadline, p.fail_after, p.recover_after) == \
        ("db", "primary", "tcp", 15.0, 5.0, 3, 2)


def run_cli(capsys, cfg, tmp_path, *argv):
    parser = argparse.ArgumentParser()
    cli.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["status", *argv])
    args.config = cfg
    args.state_dir = tmp_path
    code = args.func(args)
    return code, capsys.readouterr().out


def tcp_cfg(port: int, name="up") -> PC:
    return PC(name, "tcp", 15.0, 1.0, 3, 2, {"host": "127.0.0.1", "port": port})


def test_status_cli_exit_codes_and_json(capsys, tmp_path, http_fake, refused_port):
    up = Config([SC("api", "API", "P1", None, None, [tcp_cfg(http_fake.port)])])
    code, out = run_cli(capsys, up, tmp_path, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["exit_code"] == 0 and doc["services"][0]["status"] == "ok"
    assert doc["services"][0]["probes"]["up"]["metrics"]["connect"] >= 0
    warn = Config([SC("api", "API", "P1", None, None, [
        PC("slow", "tcp", 15.0, 1.0, 3, 2, {"host": "127.0.0.1", "port": http_fake.port,
                                             "latency_warn": 0.0})])])
    assert run_cli(capsys, warn, tmp_path, "--json")[0] == 1
    down = Config([SC("api", "API", "P1", None, None, [tcp_cfg(http_fake.port)]),
                   SC("db", "DB \x1b[2J[red]x[/red]", "P1", None, None, [tcp_cfg(refused_port, "gone")])])
    code, out = run_cli(capsys, down, tmp_path)
    assert code == 2
    assert "DOWN" in out and "connection refused" in out and "\x1b[2J" not in out
    assert "[red]x[/red]" in out  # shown literally, not parsed as markup
    assert (tmp_path / STATE_FILE).exists()
    assert run_cli(capsys, Config([]), tmp_path)[0] == 2


def test_status_cli_without_services_says_so(capsys, tmp_path):
    parser = argparse.ArgumentParser()
    cli.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["status"])
    args.config, args.state_dir = Config([]), tmp_path
    assert args.func(args) == 2
    assert "no services configured" in capsys.readouterr().err


@pytest.mark.parametrize("bad_state_dir", [Path("/proc/definitely/not/writable")])
def test_unwritable_state_dir_is_reported_not_raised(bad_state_dir):
    s = Scheduler([spec("a")], bad_state_dir, FixedClock(T0), runner=FakeRunner())
    asyncio.run(s.run_once())
    assert s.save_error and "cannot save" in s.save_error
