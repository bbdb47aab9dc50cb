"""Health truth (issue 10, ux-review M2, M3, MISSING 7), against real PostgreSQL and
redis-server: availability and durability are separate words. A serving PostgreSQL whose WAL
archiving is off or failing is WARN "RPO at risk" (never DOWN), and its RPO clock says
UNKNOWN or a figure, never "-"; Redis with persistence off says so; a missing database is a
configuration error, not a network one."""

from __future__ import annotations

import time

from probe_servers import make_pg_pair

from cockpit.config import Config, Milestones, ProbeConfig, ServiceConfig
from cockpit.health import Status
from cockpit.incident.clocks import Level, ServiceTargets, incident_clocks
from cockpit.incident.fold import fold
from cockpit.incident.model import SimEntry
from cockpit.probes import base
from cockpit.probes.base import ProbeTarget, run_probe
from cockpit.probes.scheduler import Scheduler, from_config

DEADLINE = 3.0
T0 = time.time()


def pg_target(pair, **opts) -> ProbeTarget:
    return ProbeTarget.create("database", "node", "postgres",
                              {"dsn": pair.dsn(pair.primary_port), **opts}, deadline=DEADLINE)


def service_health(sid: str, title: str, kind: str, options: dict, res):
    """The result through the real aggregation (the scheduler's record and snapshot)."""
    cfg = Config(path=None, environment="t", mode="personal", milestones=Milestones(),
                 services={sid: ServiceConfig(sid, title, "P0", 3600.0, 900.0, probes=(
                     ProbeConfig("node", kind, 15.0, DEADLINE, 1, 1, options),))})
    sched = Scheduler(from_config(cfg), None)
    sched.record(sid, "node", res)
    return next(h for h in sched.snapshot() if h.service == sid)


def rpo_clock(h, sid: str):
    inc = fold([SimEntry(T0 - 60, "alice", "incident.declared",
                         {"title": "x", "severity": "P0", "services": [sid]})])
    clocks = incident_clocks(inc, [ServiceTargets(sid, h.title, 3600.0, 900.0)], {sid: h},
                             Milestones(), T0)
    return next(c for c in clocks if c.key == f"rpo:{sid}")


async def test_M2_archive_mode_off_is_warn_rpo_at_risk_not_down(pg_scratch):
    pair = make_pg_pair(with_replica=False)
    pg_scratch.append(pair)
    pair.sql(pair.primary_port, "ALTER SYSTEM SET archive_mode = off")
    pair.ctl("primary", "-w", "-l", str(pair.base / "primary2.log"), "restart")
    t = pg_target(pair)
    res = await run_probe(t, DEADLINE)
    assert res.status == Status.WARN, res  # it serves connections: never DOWN
    assert "RPO at risk" in res.summary and "archive_mode is off" in res.summary
    assert res.metrics["rpo_at_risk"] is True
    h = service_health("database", "PostgreSQL", "postgres", dict(t.options), res)
    assert h.status == Status.WARN and h.status.word == "WARN"
    c = rpo_clock(h, "database")
    assert c.level == Level.UNKNOWN and c.value_text() != "-" and c.level.word == "UNKNOWN"
    assert c.note == "RPO at risk"


async def test_M2_archiver_failing_is_warn_rpo_at_risk_with_a_figure(pg_scratch):
    pair = make_pg_pair(with_replica=False)
    pg_scratch.append(pair)
    t = pg_target(pair, checks=["archiver"])
    pair.sql(pair.primary_port, "ALTER SYSTEM SET archive_command = 'false'")
    pair.sql(pair.primary_port, "SELECT pg_reload_conf()")
    time.sleep(0.3)
    pair.sql(pair.primary_port, "CREATE TABLE a (x int); INSERT INTO a VALUES (1)", fetch=False)
    pair.sql(pair.primary_port, "SELECT pg_switch_wal()")
    deadline = time.monotonic() + 15
    while True:
        res = await run_probe(t, DEADLINE)
        if res.metrics.get("archive_failing") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert res.metrics["archive_failing"] is True, res
    assert res.status == Status.WARN, res
    assert "RPO at risk: WAL archiving failing" in res.summary
    h = service_health("database", "PostgreSQL", "postgres", dict(t.options), res)
    c = rpo_clock(h, "database")
    assert c.level != Level.IDLE and c.value_text() != "-"
    assert c.note == "RPO at risk"


async def test_M3_missing_database_is_configuration_not_network(pg):
    dsn = f"host=127.0.0.1 port={pg.primary_port} user=postgres dbname=nosuchdb"
    res = await run_probe(ProbeTarget.create("database", "node", "postgres", {"dsn": dsn},
                                             deadline=DEADLINE), DEADLINE)
    assert res.error_class == base.CONFIG, res
    assert "network" not in res.summary
    assert 'database "nosuchdb" does not exist' in res.summary
    h = service_health("database", "PostgreSQL", "postgres", {"dsn": dsn}, res)
    assert h.status == Status.UNKNOWN  # our configuration, not the service: never DOWN


async def test_M3_unset_password_env_has_one_prefix(pg, monkeypatch):
    monkeypatch.delenv("COCKPIT_TEST_UNSET_PW", raising=False)
    opts = {"dsn": pg.dsn(pg.primary_port), "password_env": "COCKPIT_TEST_UNSET_PW"}
    res = await run_probe(ProbeTarget.create("database", "node", "postgres", opts,
                                             deadline=DEADLINE), DEADLINE)
    h = service_health("database", "PostgreSQL", "postgres", opts, res)
    assert h.summary.count("probe misconfigured") == 1, h.summary
    assert "COCKPIT_TEST_UNSET_PW is not set" in h.summary


async def test_MISSING7_redis_with_persistence_off_says_so(redis_factory):
    srv = redis_factory()  # --save "" --appendonly no
    srv.client().set("k", "v")
    opts = {"port": srv.port, "rpo": "1h"}
    res = await run_probe(ProbeTarget.create("redis", "node", "redis", opts, deadline=2.0), 2.0)
    assert res.status == Status.WARN, res
    assert "persistence off" in res.summary and "RPO at risk" in res.summary
    assert res.key_figure == "no persistence"  # never "save 0s"
    assert "rpo_exposure" not in res.metrics and res.metrics["persistence"] == "off"
    h = service_health("redis", "Redis", "redis", opts, res)
    c = rpo_clock(h, "redis")
    assert c.level == Level.UNKNOWN and c.value_text() != "-"
    # with snapshots configured the same server is OK with a real save age
    on = redis_factory("--save", "3600 1")
    res = await run_probe(ProbeTarget.create("redis", "node", "redis",
                                             {"port": on.port, "rpo": "1h"}, deadline=2.0), 2.0)
    assert res.status == Status.OK, res
    assert res.metrics["persistence"] == "rdb" and res.key_figure.startswith("save ")
