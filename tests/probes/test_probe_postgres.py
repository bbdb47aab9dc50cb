"""PostgreSQL probe against a real primary (WAL archiving) + streaming replica.

The healthy pair is shared (session); the destructive cases (archiver failure, stopped
primary, split brain) make their own pair and throw it away.
"""

from __future__ import annotations

import time

import psycopg
from probe_servers import PROBE_PASSWORD, make_pg_pair

from cockpit.health import Status
from cockpit.probes import postgres
from cockpit.probes.base import ProbeTarget, run_probe

DEADLINE = 3.0


def target(pair, port, name="node", **opts) -> ProbeTarget:
    return ProbeTarget.create("database", name, "postgres", {"dsn": pair.dsn(port), **opts},
                              deadline=DEADLINE)


async def probe(t: ProbeTarget):
    t0 = time.monotonic()
    res = await run_probe(t, DEADLINE)
    # The deadline holds (a probe without one would hang for minutes on a dead server); how
    # close to it a probe ends is a benchmark figure (bench_probes), not a unit-test bound.
    assert time.monotonic() - t0 <= DEADLINE + 2.0
    return res


def wait_replayed(pg) -> None:
    pg.sql(pg.primary_port, "CREATE TABLE IF NOT EXISTS t (x int)", fetch=False)
    pg.sql(pg.primary_port, "INSERT INTO t VALUES (1)", fetch=False)
    lsn = pg.sql(pg.primary_port, "SELECT pg_current_wal_lsn()::text")[0][0]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ok = pg.sql(pg.replica_port, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn")[0][0]
        if ok:
            return
        time.sleep(0.05)
    raise AssertionError("replica did not catch up")


async def test_roles_and_lag(pg):
    wait_replayed(pg)
    p = await probe(target(pg, pg.primary_port, expect_role="primary", expect_standbys=1))
    r = await probe(target(pg, pg.replica_port, expect_role="replica"))
    assert p.status == Status.OK, p
    assert r.status == Status.OK, r
    assert p.metrics["role"] == "primary" and r.metrics["role"] == "replica"
    assert p.metrics["standbys_streaming"] == 1
    assert r.metrics["streaming"] is True and r.metrics["receiver_status"] == "streaming"
    assert r.metrics["lag"] < 5
    assert r.key_figure.startswith("lag ")
    assert p.metrics["archive_failing"] is False
    assert p.metrics["xid_age"] > 0 and p.metrics["connections"] >= 1
    wrong = await probe(target(pg, pg.replica_port, expect_role="primary"))
    assert wrong.status == Status.FAIL and "role is replica, expected primary" in wrong.summary


async def test_lag_grows_with_replay_paused(pg):
    wait_replayed(pg)
    pg.sql(pg.replica_port, "SELECT pg_wal_replay_pause()")
    try:
        pg.sql(pg.primary_port, "INSERT INTO t SELECT generate_series(1, 1000)", fetch=False)
        time.sleep(1.2)
        pg.sql(pg.primary_port, "INSERT INTO t VALUES (2)", fetch=False)
        first = await probe(target(pg, pg.replica_port, lag_warn="1h"))
        time.sleep(1.0)
        second = await probe(target(pg, pg.replica_port, lag_warn="1h"))
        prim = await probe(target(pg, pg.primary_port, checks=["replication"]))
    finally:
        pg.sql(pg.replica_port, "SELECT pg_wal_replay_resume()")
    assert first.metrics["replay_paused"] is True
    assert first.status == Status.WARN and "replay paused" in first.summary
    assert first.metrics["lag"] >= 1.0
    assert second.metrics["lag"] >= first.metrics["lag"] + 0.8
    assert second.metrics["replay_backlog_bytes"] > 0
    assert prim.metrics["replay_bytes"] > 0
    warn = await probe(target(pg, pg.replica_port, lag_warn="1s"))
    assert warn.metrics["replay_paused"] is False


async def test_wrong_password_is_auth_failure_not_down(pg, monkeypatch):
    dsn = f"host=127.0.0.1 port={pg.primary_port} user=probe dbname=postgres"
    monkeypatch.setenv("COCKPIT_TEST_PG_PW", "wrong")
    bad = await probe(ProbeTarget.create("database", "p", "postgres",
                                         {"dsn": dsn, "password_env": "COCKPIT_TEST_PG_PW"}))
    assert (bad.status, bad.error_class) == (Status.FAIL, "auth"), bad
    assert bad.summary.startswith("auth failure") and "password authentication failed" in bad.summary
    assert "down" not in bad.summary.lower()
    monkeypatch.setenv("COCKPIT_TEST_PG_PW", PROBE_PASSWORD)
    ok = await probe(ProbeTarget.create("database", "p", "postgres",
                                        {"dsn": dsn, "password_env": "COCKPIT_TEST_PG_PW"}))
    assert ok.status == Status.OK, ok  # pg_monitor is enough for every check
    assert ok.metrics["archive_ready"] is not None
    assert PROBE_PASSWORD not in repr(ok) and PROBE_PASSWORD not in repr(bad)


async def test_long_transaction(pg):
    conn = psycopg.connect(pg.dsn(pg.primary_port))
    try:
        conn.execute("SELECT txid_current()")
        time.sleep(1.2)
        res = await probe(target(pg, pg.primary_port, checks=["transactions"], xact_warn="1s",
                                 idle_xact_warn="1s"))
    finally:
        conn.close()
    assert res.status == Status.WARN and "transaction open for" in res.summary
    assert res.metrics["oldest_xact"] >= 1.0


async def test_refused_and_blackholed(refused_port, blackhole):
    r = await run_probe(ProbeTarget.create("d", "p", "postgres",
                                           {"dsn": f"host=127.0.0.1 port={refused_port} user=x"}), 1.0)
    assert (r.status, r.error_class, r.summary) == (Status.FAIL, "refused", "down: connection refused")
    t0 = time.monotonic()
    h = await run_probe(ProbeTarget.create("d", "p", "postgres",
                                           {"dsn": f"host=127.0.0.1 port={blackhole.port} user=x"}), 1.0)
    assert time.monotonic() - t0 <= 1.25  # libpq's 2 s connect floor is cut by the deadline
    assert h.status == Status.FAIL and h.error_class.startswith("timeout")


async def test_archiver_failure_turns_archive_probe_amber_rpo_at_risk(pg_scratch):
    pair = make_pg_pair(with_replica=False)
    pg_scratch.append(pair)
    arch = target(pair, pair.primary_port, name="archive", checks=["archiver"])
    ok = await probe(arch)
    assert ok.status == Status.OK, ok
    pair.sql(pair.primary_port, "ALTER SYSTEM SET archive_command = 'false'")
    pair.sql(pair.primary_port, "SELECT pg_reload_conf()")
    time.sleep(0.3)
    pair.sql(pair.primary_port, "CREATE TABLE a (x int); INSERT INTO a VALUES (1)", fetch=False)
    pair.sql(pair.primary_port, "SELECT pg_switch_wal()")
    deadline = time.monotonic() + 15
    while True:
        res = await probe(arch)
        if res.status == Status.WARN or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert res.status == Status.WARN, res  # durability, not availability (ux-review M2)
    assert res.metrics["archive_failing"] is True and res.metrics["rpo_at_risk"] is True
    assert res.metrics["archive_failed_count"] >= 1
    assert isinstance(res.metrics["archive_age"], float)
    assert "WAL archiving failing: last archived" in res.summary
    assert res.key_figure.startswith("archived ") and res.key_figure.endswith(" ago")


async def test_stopped_primary_shows_replica_not_streaming(pg_scratch):
    pair = make_pg_pair()
    pg_scratch.append(pair)
    rep = target(pair, pair.replica_port, expect_role="replica")
    assert (await probe(rep)).status == Status.OK
    pair.stop("primary")
    deadline = time.monotonic() + 15
    while True:
        res = await probe(rep)
        if res.status == Status.FAIL or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert res.status == Status.FAIL, res
    assert "replica not streaming" in res.summary
    assert res.metrics["streaming"] is False
    assert res.key_figure == "not streaming"  # never "lag 0s"
    assert "rpo_exposure" not in res.metrics
    gone = await probe(target(pair, pair.primary_port))
    assert gone.status == Status.FAIL and gone.error_class == "refused"

    # promoting the replica while the old primary comes back = two primaries
    pair.ctl("replica", "-w", "promote")
    pair.ctl("primary", "-l", str(pair.base / "primary2.log"), "-w", "start")
    a = await probe(target(pair, pair.primary_port, checks=["role"]))
    b = await probe(target(pair, pair.replica_port, checks=["role"]))
    assert a.metrics["role"] == b.metrics["role"] == "primary"
    verdict = postgres.split_brain({"a": a, "b": b})
    assert verdict is not None and verdict.startswith("split brain: 2 primaries")
    assert postgres.split_brain([a, a]) is None  # the same node twice is not split brain

