"""HTTP, Horizon and TCP probes against misbehaving local servers.

Acceptance: every case reaches the right status within deadline + 250 ms.
"""

from __future__ import annotations

import time

import pytest

from cockpit.health import Status
from cockpit.probes.base import ProbeTarget, run_probe

DEADLINE = 1.0
BACKEND_JSON = ["status == ok", "checks.db == true", "len(items) > 0"]


async def timed(target: ProbeTarget, deadline: float = DEADLINE):
    t0 = time.monotonic()
    res = await run_probe(target, deadline, time.time)
    elapsed = time.monotonic() - t0
    assert elapsed <= deadline + 0.25, f"{target.name}: {elapsed:.3f}s > deadline+250ms"
    return res


def backend(url: str, **opts) -> ProbeTarget:
    return ProbeTarget.create("backend", "health", "http", {"url": url, "json": BACKEND_JSON, **opts},
                              deadline=DEADLINE)


@pytest.mark.parametrize(("path", "status", "error_class", "words"), [
    ("/ok", Status.OK, None, "HTTP 200"),
    ("/degraded", Status.FAIL, "wrong_answer", "status (degraded) == ok"),
    ("/slow", Status.FAIL, "timeout", "no answer within the deadline"),
    ("/drip", Status.FAIL, "timeout", "no answer within the deadline"),
    ("/500", Status.FAIL, "http_5xx", "server error (HTTP 500)"),
    ("/429", Status.WARN, "rate_limited", "rate limited"),
    ("/403", Status.FAIL, "auth", "auth failure (HTTP 403)"),
    ("/401", Status.FAIL, "auth", "auth failure (HTTP 401)"),
    ("/garbage", Status.FAIL, "wrong_answer", "body is not JSON"),
    ("/huge", Status.FAIL, "wrong_answer", "larger than"),
])
async def test_backend_modes(http_fake, path, status, error_class, words):
    res = await timed(backend(http_fake.url + path))
    assert res.status == status, res
    if error_class == "timeout":  # outer deadline or the library's own read timeout
        assert res.error_class.startswith("timeout"), res
    else:
        assert res.error_class == error_class, res
    assert words in res.summary
    if status != Status.OK:
        assert res.error and "\n" not in res.error


async def test_rate_limited_is_told_apart_from_auth(http_fake):
    r429 = await timed(backend(http_fake.url + "/429"))
    r403 = await timed(backend(http_fake.url + "/403"))
    assert (r429.status, r429.error_class) == (Status.WARN, "rate_limited")
    assert r429.metrics["retry_after"] == "7"
    assert (r403.status, r403.error_class) == (Status.FAIL, "auth")
    assert "down" not in r403.summary.lower()


async def test_refused(refused_port):
    res = await timed(backend(f"http://127.0.0.1:{refused_port}/ok"))
    assert (res.status, res.error_class) == (Status.FAIL, "refused")


async def test_never_answers_full_accept_queue(blackhole):
    res = await timed(backend(f"http://127.0.0.1:{blackhole.port}/ok"))
    assert res.status == Status.FAIL
    assert res.error_class in ("timeout", "timeout_connect")


async def test_frontend_marker_and_garbage_escape_sequences(http_fake):
    ok = await timed(ProbeTarget.create("frontend", "index", "http",
                                        {"url": http_fake.url + "/frontend", "body_contains": "build-id"}))
    assert ok.status == Status.OK
    bad = await timed(ProbeTarget.create("frontend", "index", "http",
                                         {"url": http_fake.url + "/garbage", "body_contains": "build-id"}))
    assert bad.status == Status.FAIL and "lacks" in bad.summary


async def test_bad_tls_certificate(https_bad):
    res = await timed(backend(https_bad.url.replace("localhost", "127.0.0.1") + "/ok"))
    assert (res.status, res.error_class) == (Status.FAIL, "tls")
    assert "TLS" in res.summary


async def test_tls_certificate_expiry(https_good, certs):
    # the localhost certificate expires in 2 days: under cert_fail (72h) -> FAIL
    res = await timed(backend(https_good.url + "/ok", ca_file=str(certs["ca.pem"])))
    assert res.status == Status.FAIL, res
    assert res.error_class == "tls"
    assert 1.9 * 86400 < res.metrics["cert_expires_in"] < 2.1 * 86400
    warn = await timed(backend(https_good.url + "/ok", ca_file=str(certs["ca.pem"]), cert_fail="1d"))
    assert warn.status == Status.WARN and "expires in" in warn.summary
    fine = await timed(backend(https_good.url + "/ok", ca_file=str(certs["ca.pem"]),
                               cert_fail="1d", cert_warn="1d"))
    assert fine.status == Status.OK


async def test_slow_answer_latency_warn(http_fake):
    # the answer arrives (in 3 s) within a 5 s deadline, over the latency budget: WARN
    t = backend(http_fake.url + "/slow", latency_warn="1s")
    res = await timed(t, deadline=5.0)
    assert res.status == Status.WARN and "slow" in res.summary


# ---------------------------------------------------------------- Horizon


def horizon(url: str, **opts) -> ProbeTarget:
    return ProbeTarget.create("stellar", "horizon", "horizon", {"url": url, **opts}, deadline=DEADLINE)


@pytest.mark.parametrize(("mode", "status", "words"), [
    ("ok", Status.OK, "ledger 1000000"),
    ("old", Status.FAIL, "closed 5m00s ago"),
    ("behind", Status.FAIL, "50 ledgers behind core"),
    ("stalehist", Status.FAIL, "stale_history"),
    ("unhealthy", Status.FAIL, "core_synced=false"),
    ("ratelimit", Status.WARN, "rate limited"),
    ("garbage", Status.FAIL, "not JSON"),
    ("slow", Status.FAIL, "no answer within the deadline"),
    ("drip", Status.FAIL, "no answer within the deadline"),
])
async def test_horizon_modes(http_fake, mode, status, words):
    res = await timed(horizon(f"{http_fake.url}/hz/{mode}"))
    assert res.status == status, res
    assert words in res.summary, res.summary


async def test_horizon_ledger_age_uses_injected_now(http_fake):
    t = horizon(f"{http_fake.url}/hz/ok")
    res = await run_probe(t, DEADLINE, lambda: time.time() + 60)
    assert res.status == Status.WARN
    assert 60 <= res.metrics["ledger_age"] <= 65
    assert res.metrics["rpo_exposure"] == res.metrics["ledger_age"]


async def test_horizon_wrong_passphrase(http_fake):
    res = await timed(horizon(f"{http_fake.url}/hz/ok", network_passphrase="Public Global Stellar Network ; September 2015"))
    assert res.status == Status.FAIL and "passphrase" in res.summary


async def test_horizon_refused_and_blackholed(refused_port, blackhole):
    r1 = await timed(horizon(f"http://127.0.0.1:{refused_port}"))
    assert (r1.status, r1.error_class) == (Status.FAIL, "refused")
    r2 = await timed(horizon(f"http://127.0.0.1:{blackhole.port}"))
    assert r2.status == Status.FAIL and r2.error_class.startswith("timeout")


async def test_horizon_bad_tls(https_bad):
    res = await timed(horizon(https_bad.url.replace("localhost", "127.0.0.1") + "/hz/ok"))
    assert (res.status, res.error_class) == (Status.FAIL, "tls")


# ---------------------------------------------------------------- TCP


async def test_tcp(http_fake, refused_port, blackhole):
    ok = await timed(ProbeTarget.create("x", "tcp", "tcp", {"host": "127.0.0.1", "port": http_fake.port}))
    assert ok.status == Status.OK and ok.key_figure.endswith("ms")
    ref = await timed(ProbeTarget.create("x", "tcp", "tcp", {"host": "127.0.0.1", "port": refused_port}))
    assert (ref.status, ref.error_class, ref.summary) == (Status.FAIL, "refused", "down: connection refused")
    hole = await timed(ProbeTarget.create("x", "tcp", "tcp", {"host": "127.0.0.1", "port": blackhole.port}))
    assert (hole.status, hole.error_class) == (Status.FAIL, "timeout")


async def test_bad_input_never_raises():
    for opts in ({"url": "not a url"}, {"url": "ftp://x/"}, {"url": "http://[::1"}):
        res = await run_probe(ProbeTarget("x", "bad", "http", opts), 1.0)
        assert res.status == Status.FAIL and res.error
    res = await run_probe(ProbeTarget("x", "bad", "nosuchkind", {}), 1.0)
    assert res.error_class == "config"
    with pytest.raises(ValueError, match="url"):
        ProbeTarget.create("x", "bad", "http", {})
