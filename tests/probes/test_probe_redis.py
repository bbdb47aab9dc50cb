"""Redis probe against real redis-server instances."""

from __future__ import annotations

import os
import shutil
import signal
import time

from cockpit.health import Status
from cockpit.probes.base import ProbeTarget, run_probe

DEADLINE = 1.0


def target(srv, **opts) -> ProbeTarget:
    return ProbeTarget.create("redis", "cache", "redis", {"port": srv.port, **opts}, deadline=DEADLINE)


async def timed(t: ProbeTarget, now=time.time):
    t0 = time.monotonic()
    res = await run_probe(t, DEADLINE, now)
    assert time.monotonic() - t0 <= DEADLINE + 0.25, res
    return res


async def test_healthy(redis_factory):
    srv = redis_factory("--save", "3600 1")  # persistence on (off is WARN: test_health_truth)
    res = await timed(target(srv, expect_role="master", rpo="1h"))
    assert res.status == Status.OK, res
    assert res.metrics["role"] == "master"
    assert res.metrics["rdb_last_bgsave_status"] == "ok"
    assert res.summary.startswith("master, PING")


async def test_unsaved_changes_against_rpo(redis_factory):
    srv = redis_factory("--save", "3600 1")
    srv.client().set("k", "v")
    t = target(srv, rpo="1h")
    assert (await timed(t)).status == Status.OK
    warn = await timed(t, now=lambda: time.time() + 40 * 60)
    assert warn.status == Status.WARN and 2390 < warn.metrics["rpo_exposure"] < 2420
    fail = await timed(t, now=lambda: time.time() + 2 * 3600)
    assert fail.status == Status.FAIL


async def test_failing_background_save(redis_factory, tmp_path):
    srv = redis_factory("--save", "3600 1", data_dir=tmp_path / "data")
    c = srv.client()
    c.set("k", "v")
    shutil.rmtree(srv.dir)
    c.bgsave()
    deadline = time.monotonic() + 10
    while c.info("persistence")["rdb_last_bgsave_status"] != "err":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    res = await timed(target(srv, rpo="1h"))
    assert res.status == Status.FAIL, res
    assert "background save failing" in res.summary and "MISCONF" in res.summary


async def test_hung_server_client_pause(redis_factory):
    srv = redis_factory()
    srv.client().execute_command("CLIENT", "PAUSE", "3000", "ALL")
    res = await timed(target(srv))
    assert res.status == Status.FAIL and res.error_class == "timeout", res


async def test_frozen_server_sigstop(redis_factory):
    srv = redis_factory()
    os.kill(srv.proc.pid, signal.SIGSTOP)
    try:
        res = await timed(target(srv))
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    assert res.status == Status.FAIL and res.error_class == "timeout", res
    assert "no answer within the deadline" in res.summary


async def test_auth_failure_and_secret_never_in_result(redis_factory, monkeypatch):
    secret = "redis-Pa55-word-123"
    srv = redis_factory("--requirepass", secret)
    none = await timed(target(srv))
    assert (none.status, none.error_class) == (Status.FAIL, "auth"), none
    assert none.summary.startswith("auth failure")
    monkeypatch.setenv("COCKPIT_TEST_REDIS_PW", "wrong-one")
    wrong = await timed(target(srv, password_env="COCKPIT_TEST_REDIS_PW"))
    assert (wrong.status, wrong.error_class) == (Status.FAIL, "auth"), wrong
    assert "down" not in wrong.summary.lower()
    monkeypatch.setenv("COCKPIT_TEST_REDIS_PW", secret)
    ok = await timed(target(srv, password_env="COCKPIT_TEST_REDIS_PW"))
    assert ok.status == Status.OK, ok
    for r in (none, wrong, ok):
        assert secret not in repr(r)


async def test_missing_secret_is_a_config_error(redis_factory):
    srv = redis_factory()
    res = await timed(target(srv, password_env="COCKPIT_NO_SUCH_VAR_X"))
    assert res.error_class == "config" and "COCKPIT_NO_SUCH_VAR_X" in res.summary


async def test_replica_link(redis_factory):
    master = redis_factory()
    replica = redis_factory("--replicaof", "127.0.0.1", str(master.port))
    deadline = time.monotonic() + 10
    while replica.client().info("replication").get("master_link_status") != "up":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ok = await timed(target(replica, expect_role="replica"))
    assert ok.status == Status.OK, ok
    wrong_role = await timed(target(replica, expect_role="master"))
    assert wrong_role.status == Status.FAIL and "expected master" in wrong_role.summary
    master.close()
    deadline = time.monotonic() + 10
    while replica.client().info("replication").get("master_link_status") == "up":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    down = await timed(target(replica, expect_role="replica"))
    assert down.status == Status.FAIL and "replication link down" in down.summary


async def test_refused(refused_port):
    res = await run_probe(ProbeTarget.create("r", "c", "redis", {"port": refused_port}), DEADLINE)
    assert (res.status, res.error_class) == (Status.FAIL, "refused"), res
