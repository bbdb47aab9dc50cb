"""The self-check: the cockpit's own side looked at first (interfaces, routes, resolver,
anchors), a verdict from that and from what every probe saw, and the scheduler that never
calls a service DOWN on evidence that is its own network's (design decision 8.7).

The verdicts are pure functions of an observation: tested on observations written here. What
the observation is made of is tested against this machine and real local servers (a DNS
responder, a closed UDP port); the whole thing without any network runs in namespaces in
``test_own_network.py``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace

import pytest

from cockpit.cli import status as cli
from cockpit.config import Config, Milestones, ProbeConfig, ServiceConfig
from cockpit.health import ProbeResult, Status
from cockpit.probes import localnet
from cockpit.probes.base import ProbeTarget
from cockpit.probes.localnet import Observation, Resolver
from cockpit.probes.scheduler import Scheduler, ServiceSpec
from cockpit.probes.selfcheck import Evidence, Outcome, Verdict, decide, endpoints, outcome
from cockpit.session.live import LiveSession
from cockpit.timeutil import FixedClock

T0 = 1_800_000_000.0
UP = Observation(at=0.0, links=("eth0",), route=True)


def ev(probe: str, host: str, out: Outcome) -> Evidence:
    return Evidence(probe, (host,), out)


def res(cls: str | None, status: Status = Status.FAIL) -> ProbeResult:
    return ProbeResult(status, "x", T0, error="boom" if cls else None, error_class=cls)


def tcp(name: str, host: str, service: str = "api") -> ProbeTarget:
    return ProbeTarget(service, name, "tcp", {"host": host, "port": 5432})


# ---------------------------------------------------------------- what a run says


@pytest.mark.parametrize("cls,want", [
    (None, Outcome.ANSWERED), ("refused", Outcome.ANSWERED), ("auth", Outcome.ANSWERED),
    ("http_5xx", Outcome.ANSWERED), ("timeout_read", Outcome.ANSWERED),
    ("dns_nxdomain", Outcome.ANSWERED),  # a resolver answered, by address
    ("network", Outcome.NETWORK), ("timeout", Outcome.NETWORK), ("timeout_connect", Outcome.NETWORK),
    ("dns", Outcome.DNS), ("config", Outcome.NONE), ("error", Outcome.NONE)])
def test_outcome_of_a_run(cls, want):
    assert outcome(res(cls)) == want


def test_endpoints_of_every_kind():
    t = ProbeTarget.create
    assert endpoints(t("db", "p", "postgres", {"dsn": "host=db-1.internal port=6432 dbname=x"})) == \
        (("db-1.internal", 6432),)
    assert endpoints(t("db", "p", "postgres", {"dsn": "postgresql://u@h1:5433,[::1]:5434/db"})) == \
        (("h1", 5433), ("::1", 5434))
    assert endpoints(t("db", "p", "postgres", {"dsn": "host=/run/postgresql dbname=x"})) == ()
    assert endpoints(t("r", "c", "redis", {"host": "10.0.0.7"})) == (("10.0.0.7", 6379),)
    assert endpoints(t("w", "h", "http", {"url": "https://api.example.com/health"})) == \
        (("api.example.com", 443),)
    assert endpoints(t("b", "s", "s3", {"bucket": "b"})) == (("s3.amazonaws.com", 443),)
    assert endpoints(t("b", "s", "s3", {"bucket": "b", "endpoint": "http://10.1.0.9:8333"})) == \
        (("10.1.0.9", 8333),)
    assert endpoints(t("d", "q", "dns", {"query": "x.example", "resolvers": ["1.1.1.1", "10.0.0.2:5353"]})) \
        == (("1.1.1.1", 53), ("10.0.0.2", 5353))


# ---------------------------------------------------------------- the verdict, pure


def test_no_interface_or_no_route_is_our_network_down_whatever_the_probes_say():
    for obs, words in ((replace(UP, links=()), "no network interface is up besides loopback"),
                       (replace(UP, route=False), "no route from this machine to any other network")):
        state = decide(obs, [ev("db/primary", "db-1.internal", Outcome.DNS)])
        assert state.verdict == Verdict.OFFLINE
        assert "THE COCKPIT'S OWN NETWORK IS DOWN" in state.text and words in state.text
        assert "none is called DOWN" in state.text
        # every network-level failure is ours; an answer from the service is not explained
        assert state.explains(tcp("a", "10.0.0.1"), res("network")) == "cockpit offline"
        assert state.explains(tcp("a", "10.0.0.1"), res("dns")) == "cockpit offline"
        assert state.explains(tcp("a", "10.0.0.1"), res("auth")) is None
        assert state.explains(tcp("a", "10.0.0.1"), res("config")) is None


def test_an_answer_from_beyond_this_machine_outweighs_what_the_machine_looks_like():
    """A bastion routed to its own networks only (no default route), or an interface this
    platform does not report: an answer proves the network works."""
    answer = [ev("api/health", "10.0.0.3", Outcome.ANSWERED)]
    assert decide(replace(UP, route=False), answer).verdict == Verdict.OK
    assert decide(replace(UP, links=()), answer).verdict == Verdict.OK
    remote = Resolver(("10.0.0.53",), True, reachable=True)
    assert decide(replace(UP, route=False, resolver=remote), []).verdict == Verdict.OK
    # a local resolver answering (from its cache) proves nothing beyond this machine
    local = Resolver(("127.0.0.53",), True, reachable=True)
    assert decide(replace(UP, links=(), resolver=local), []).verdict == Verdict.OFFLINE


def test_everything_failing_at_once_is_our_network_one_answer_is_not():
    failing = [ev("db/primary", "10.0.0.1", Outcome.NETWORK), ev("db/replica", "10.0.0.2", Outcome.NETWORK)]
    assert decide(UP, failing).verdict == Verdict.OFFLINE
    assert "every probe beyond this machine fails at the network level" in decide(UP, failing).text
    # one probe alone is not enough evidence: that service may be down; nor two of one server
    assert decide(UP, failing[:1]).verdict == Verdict.OK
    assert decide(UP, [*failing[:1], ev("db/archive", "10.0.0.1", Outcome.NETWORK)]).verdict \
        == Verdict.OK
    # something beyond this machine answered: our network works, the services are judged
    assert decide(UP, [*failing, ev("api/health", "10.0.0.3", Outcome.ANSWERED)]).verdict == Verdict.OK
    # so does a resolver that answers
    answering = replace(UP, resolver=Resolver(("10.0.0.53",), True, reachable=True))
    assert decide(answering, failing).verdict == Verdict.OK
    # loopback targets (every target blackholed on this machine) say nothing about the network
    local = [ev("a/x", "127.0.0.1", Outcome.NETWORK), ev("a/y", "localhost", Outcome.NETWORK)]
    assert decide(UP, local).verdict == Verdict.OK


def test_anchors_none_answering_while_nothing_answers_is_offline():
    obs = replace(UP, anchors=(("10.0.0.2", 53, False), ("10.0.0.3", 53, False)))
    state = decide(obs, [])
    assert state.verdict == Verdict.OFFLINE
    assert "none of the 2 connectivity anchors answers (10.0.0.2:53, 10.0.0.3:53)" in state.text
    assert decide(obs, [ev("a/b", "10.0.0.9", Outcome.ANSWERED)]).verdict == Verdict.OK
    ok = replace(UP, anchors=(("10.0.0.2", 53, False), ("10.0.0.3", 53, True)))
    assert decide(ok, [ev("a/b", "10.0.0.9", Outcome.NETWORK),
                       ev("a/c", "10.0.0.8", Outcome.NETWORK)]).verdict == Verdict.OK


def test_dead_local_resolver_is_dns_not_the_network_and_explains_only_names():
    obs = replace(UP, resolver=Resolver(("127.0.0.9",), False, "127.0.0.9: connection refused"))
    names = [ev("db/primary", "db-1.internal", Outcome.DNS), ev("api/health", "api.example.com", Outcome.NETWORK),
             ev("redis/cache", "redis-1.internal", Outcome.NETWORK)]
    state = decide(obs, names)
    assert state.verdict == Verdict.DNS
    assert "THE COCKPIT'S DNS IS DOWN" in state.text and "127.0.0.9: connection refused" in state.text
    assert "the network itself is up" in state.text
    assert state.explains(tcp("a", "db-1.internal"), res("dns")) == "cockpit DNS down"
    assert state.explains(tcp("a", "db-1.internal"), res("timeout")) == "cockpit DNS down"
    # a probe by address is judged as usual
    assert state.explains(tcp("a", "10.0.0.1"), res("timeout_connect")) is None
    # an address answering makes it "addresses are reachable"
    state = decide(obs, [*names, ev("dns/api", "10.0.0.53", Outcome.ANSWERED)])
    assert state.verdict == Verdict.DNS and "addresses are reachable" in state.text


def test_silent_remote_resolver_and_every_name_failing_is_our_network():
    obs = replace(UP, resolver=Resolver(("10.0.0.53",), False, "10.0.0.53: no answer within 1.5s"))
    state = decide(obs, [ev("db/primary", "db-1.internal", Outcome.DNS)])
    assert state.verdict == Verdict.OFFLINE
    assert "the resolver does not answer (10.0.0.53: no answer within 1.5s)" in state.text
    # a remote resolver that answers SERVFAIL is reachable: our network works, DNS does not
    servfail = replace(UP, resolver=Resolver(("10.0.0.53",), False, "10.0.0.53: SERVFAIL", True))
    assert decide(servfail, [ev("db/primary", "db-1.internal", Outcome.DNS)]).verdict == Verdict.DNS


def test_no_route_to_one_subnet_is_partial_and_explains_only_those_probes():
    obs = replace(UP, addresses={"10.2.0.5": ("10.2.0.5",), "10.1.0.2": ("10.1.0.2",)},
                  unroutable=frozenset({"10.2.0.5"}))
    state = decide(obs, [ev("db/primary", "10.2.0.5", Outcome.NETWORK),
                         ev("api/health", "10.1.0.2", Outcome.ANSWERED)])
    assert state.verdict == Verdict.PARTIAL
    assert "no route from the cockpit to 10.2.0.0/24 (db/primary)" in state.text
    assert state.explains(tcp("p", "10.2.0.5"), res("network")) == "no route from the cockpit to 10.2.0.5"
    assert state.explains(tcp("p", "10.1.0.2"), res("network")) is None


def test_one_silent_subnet_among_answering_ones_is_said_not_explained():
    obs = replace(UP, addresses={"10.3.0.9": ("10.3.0.9",), "10.3.0.8": ("10.3.0.8",),
                                 "10.1.0.2": ("10.1.0.2",)})
    state = decide(obs, [ev("db/primary", "10.3.0.9", Outcome.NETWORK),
                         ev("db/replica", "10.3.0.8", Outcome.NETWORK),
                         ev("api/health", "10.1.0.2", Outcome.ANSWERED)])
    assert state.verdict == Verdict.PARTIAL
    assert "nothing in 10.3.0.0/24 answers (db/primary, db/replica) while 10.1.0.0/24 does" in state.text
    # that network may be what is down: the services there keep their verdict
    assert state.explains(tcp("p", "10.3.0.9"), res("network")) is None


# ---------------------------------------------------------------- this machine, real servers


async def test_resolver_answers_told_apart_against_a_real_dns_responder(dns_fake, tmp_path):
    ask = localnet.ask
    assert await ask("127.0.0.1", "ok.example.test", 1.0, dns_fake.port) == "NOERROR"
    assert await ask("127.0.0.1", "missing.example.test", 1.0, dns_fake.port) == "NXDOMAIN"
    assert await ask("127.0.0.1", "servfail.example.test", 1.0, dns_fake.port) == "SERVFAIL"
    assert await ask("127.0.0.1", "refused.example.test", 1.0, dns_fake.port) == "REFUSED"
    assert await ask("127.0.0.1", "drop.example.test", 0.3, dns_fake.port) == "no answer within 0.3s"
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    assert await ask("127.0.0.1", "ok.example.test", 1.0, port) == "connection refused"
    # a resolver that answers SERVFAIL is reachable (the network to it works), not resolving
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\n")
    r = await localnet.check_resolver(["servfail.example.test"], str(conf), 1.0, dns_fake.port)
    assert (r.answers, r.reachable, r.detail) == (False, True, "127.0.0.1: SERVFAIL")
    r = await localnet.check_resolver(["missing.example.test"], str(conf), 1.0, dns_fake.port)
    assert (r.answers, r.reachable) == (True, True)


async def test_resolver_of_resolv_conf_and_the_machine_seen_from_here(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# dead local resolver\nsearch example\nnameserver 127.0.0.9\n"
                    "nameserver not-an-address\noptions ndots:1\n")
    assert localnet.nameservers(str(conf)) == ("127.0.0.9",)
    assert localnet.nameservers(str(tmp_path / "missing")) == ("127.0.0.1",)  # glibc's default
    r = await localnet.check_resolver(["db-1.internal"], str(conf), timeout=1.0)
    assert r.answers is False and not r.reachable and r.local
    assert r.detail == "127.0.0.9: connection refused"
    assert (await localnet.check_resolver([], str(conf))).answers is None  # not asked
    assert localnet.route_source("127.0.0.1") == "127.0.0.1"
    assert await localnet.ask("127.0.0.1", "x" * 70 + ".example", 0.1, 9) == "not asked: not a DNS name"
    obs = await localnet.observe([("127.0.0.1", 1)], [("127.0.0.1", 1)], resolver=False)
    assert obs.anchors == (("127.0.0.1", 1, False),)  # a closed port: no answer
    assert obs.resolver.answers is None and obs.unroutable == frozenset()


# ---------------------------------------------------------------- the scheduler


class Runner:
    def __init__(self, script: dict[str, list[ProbeResult]]) -> None:
        self.script = script

    async def __call__(self, target, deadline, now) -> ProbeResult:
        seq = self.script[target.name]
        r = seq.pop(0) if len(seq) > 1 else seq[0]
        return replace(r, observed_at=now())


class Looker:
    """An observer returning what the test says this machine looks like."""

    def __init__(self, obs: Observation) -> None:
        self.obs, self.calls = obs, []

    async def __call__(self, hosts, anchors, *, resolver=False, anchor_timeout=2.0):
        self.calls.append(resolver)
        if isinstance(self.obs, Exception):
            raise self.obs
        return replace(self.obs, at=asyncio.get_running_loop().time())


def unreachable(name: str = "x") -> ProbeResult:
    return ProbeResult(Status.FAIL, "network error: network unreachable", 0.0,
                       error="network unreachable", error_class="network")


def ok() -> ProbeResult:
    return ProbeResult(Status.OK, "fine", 0.0, key_figure="3 ms")


def two_services(fail_after: int = 1) -> list[ServiceSpec]:
    return [ServiceSpec("db", "DB", (ProbeTarget("db", "primary", "tcp", {"host": "10.0.0.1", "port": 5432},
                                                 interval=10, deadline=2, fail_after=fail_after),)),
            ServiceSpec("api", "API", (ProbeTarget("api", "health", "tcp", {"host": "10.0.0.2", "port": 80},
                                                   interval=10, deadline=2, fail_after=fail_after),))]


async def test_a_failure_counted_before_the_verdict_is_taken_back_nothing_turns_down(tmp_path):
    clock = FixedClock(T0)
    runner = Runner({"primary": [ok(), unreachable()], "health": [ok(), unreachable()]})
    s = Scheduler(two_services(), tmp_path, clock, runner=runner, observer=Looker(UP))
    await s.run_once()  # both answer: last-known OK
    clock.advance(3600)
    # the first failure alone is one service's problem (fail_after=1: DOWN)...
    h = (await s.run_once(keys=[("db", "primary")]))[0]
    assert h.status == Status.FAIL and s.network.verdict == Verdict.OK
    # ...until the second shows everything beyond this machine failing at once
    health = await s.run_once(keys=[("api", "health")])
    assert s.network.verdict == Verdict.OFFLINE
    assert [x.status for x in health] == [Status.UNKNOWN, Status.UNKNOWN]
    db = health[0]
    assert db.summary == "last known OK (cockpit offline): fine"
    assert db.age_text(clock.now()) == "1h00m ago"  # the age of the last-known state
    assert db.probes["primary"].metrics["last_known_status"] == "OK"
    assert db.probes["primary"].raw_status == Status.FAIL and db.down_since is None
    # what is saved is still the last-known answer, not the outage
    assert 'status = "ok"' in (tmp_path / "probes.toml").read_text()
    code = cli.exit_code(health, s.network)
    assert code == cli.EXIT_OWN_NETWORK == 3


async def test_the_verdict_comes_before_the_service_is_judged_and_goes_when_answers_come(tmp_path):
    clock = FixedClock(T0)
    looker = Looker(replace(UP, links=()))
    runner = Runner({"primary": [unreachable(), ok()], "health": [unreachable()]})
    s = Scheduler(two_services(), None, clock, runner=runner, observer=looker)
    h = (await s.run_once(keys=[("db", "primary")]))[0]
    assert h.status == Status.UNKNOWN and h.summary == "never answered (cockpit offline)"
    assert h.observed_at is None  # never answered: no age
    assert looker.calls and all(looker.calls)  # towards another machine: the resolver asked too
    looks = len(looker.calls)
    # the network comes back: an answer makes the cockpit look again; the banner goes
    looker.obs = UP
    h = (await s.run_once(keys=[("db", "primary")]))[0]
    assert h.status == Status.OK
    for _ in range(50):  # the look again runs in the background
        await asyncio.sleep(0.01)
        if s.network.verdict == Verdict.OK:
            break
    assert s.network.verdict == Verdict.OK and s.network.problems == ()
    assert len(looker.calls) == looks + 1  # looked again once something answered


async def test_a_broken_self_check_is_reported_and_probing_goes_on():
    s = Scheduler(two_services(), None, FixedClock(T0), runner=Runner({"primary": [unreachable()],
                                                                     "health": [ok()]}),
                  observer=Looker(RuntimeError("no ioctl here")))
    health = await s.run_once()
    assert s.selfcheck_error == "RuntimeError: no ioctl here"
    assert health[0].status == Status.FAIL  # judged as usual, and the banner says why
    cfg = Config(path=None, environment="t", mode="personal", milestones=Milestones(), services={
        "db": ServiceConfig("db", "DB", "P1", None, None, probes=(
            ProbeConfig("primary", "tcp", 10.0, 2.0, 1, 1, {"host": "10.0.0.1", "port": 5432}),))})
    live = LiveSession(cfg, __import__("pathlib").Path("/nonexistent-state"), probes=False)
    live.scheduler = s
    assert any(b.key == "selfcheck" and "SELF-CHECK FAILED: RuntimeError" in b.text
               for b in live.view().banners)


async def test_live_banner_and_status_json_say_the_verdict(tmp_path, capsys, monkeypatch):
    cfg = Config(path=None, environment="t", mode="personal", milestones=Milestones(), services={
        sid: ServiceConfig(sid, sid.upper(), "P1", None, None, probes=(
            ProbeConfig("p", "tcp", 10.0, 2.0, 1, 1, {"host": host, "port": 80}),))
        for sid, host in (("db", "10.0.0.1"), ("api", "10.0.0.2"))})
    live = LiveSession(cfg, tmp_path / "state", probes=False)
    live.scheduler = s = Scheduler(two_services(), None, FixedClock(T0), observer=Looker(
        replace(UP, links=())), runner=Runner({"primary": [unreachable()], "health": [unreachable()]}))
    await s.run_once()
    (banner,) = [b for b in live.view().banners if b.key.startswith("network")]
    assert banner.level.value == "error"
    assert banner.text.startswith("THE COCKPIT'S OWN NETWORK IS DOWN: no network interface is up")
    doc = cli.to_json(s.snapshot(), T0, s.network)
    assert doc["exit_code"] == 3 and doc["network"]["verdict"] == "offline"
    assert doc["network"]["interfaces"] == [] and doc["network"]["route_beyond_this_machine"] is True
    assert {x["status"] for x in doc["services"]} == {"unknown"}
    json.dumps(doc)
