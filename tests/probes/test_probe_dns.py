"""DNS probe against a local dnspython responder: NXDOMAIN, SERVFAIL, wrong answer, no answer."""

from __future__ import annotations

import time

import pytest

from cockpit.health import Status
from cockpit.probes.base import ProbeTarget, run_probe

DEADLINE = 1.0


def target(dns_fake, name: str, **opts) -> ProbeTarget:
    return ProbeTarget.create("dns", "api-name", "dns",
                              {"query": name, "resolvers": [f"127.0.0.1:{dns_fake.port}"],
                               "expect": [dns_fake.ANSWER], **opts}, deadline=DEADLINE)


async def timed(t: ProbeTarget):
    t0 = time.monotonic()
    res = await run_probe(t, DEADLINE)
    assert time.monotonic() - t0 <= DEADLINE + 0.25
    return res


@pytest.mark.parametrize(("name", "status", "error_class", "words"), [
    ("ok.example.test", Status.OK, None, "192.0.2.10"),
    ("missing.example.test", Status.FAIL, "dns_nxdomain", "NXDOMAIN"),
    ("servfail.example.test", Status.FAIL, "dns_servfail", "SERVFAIL"),
    ("refused.example.test", Status.FAIL, "dns_refused", "REFUSED"),
    ("wrong.example.test", Status.FAIL, "wrong_answer", "wrong answer 10.9.9.9"),
    ("empty.example.test", Status.FAIL, "wrong_answer", "no answer"),
    ("drop.example.test", Status.FAIL, "timeout", "no reply"),
])
async def test_dns_modes(dns_fake, name, status, error_class, words):
    res = await timed(target(dns_fake, name))
    assert res.status == status, res
    assert res.error_class == error_class, res
    assert words in res.summary


async def test_dns_ok_metrics(dns_fake):
    res = await timed(target(dns_fake, "ok.example.test"))
    label = f"127.0.0.1:{dns_fake.port}"
    assert res.metrics[f"{label}.rcode"] == "NOERROR"
    assert res.metrics[f"{label}.ttl"] == 60
    assert 0 <= res.metrics[f"{label}.rtt"] < DEADLINE
    assert res.key_figure.endswith("ms")


async def test_dns_long_ttl_warns(dns_fake):
    res = await timed(target(dns_fake, "longttl.example.test", ttl_max="5m"))
    assert res.status == Status.WARN and "TTL 86400s" in res.summary


async def test_one_resolver_down_of_two_is_warn(dns_fake, refused_port):
    t = ProbeTarget.create("dns", "x", "dns", {
        "query": "ok.example.test", "expect": [dns_fake.ANSWER],
        "resolvers": [f"127.0.0.1:{dns_fake.port}", f"127.0.0.1:{refused_port}"]})
    res = await timed(t)
    assert res.status == Status.WARN, res
