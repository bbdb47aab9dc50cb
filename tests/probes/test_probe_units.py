"""Server-free unit tests: error classification, INFO/layout verdicts, option validation."""

from __future__ import annotations

import psycopg
import pytest

from cockpit.health import ProbeResult, Status
from cockpit.probes import base, option_spec, postgres, redis, walg
from cockpit.probes import http as httpprobe
from cockpit.probes.base import ProbeTarget
from cockpit.probes.scheduler import Scheduler, ServiceSpec
from cockpit.timeutil import FixedClock

T0 = 1_800_000_000.0


@pytest.mark.parametrize(("message", "cls"), [
    ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  sorry, too many clients already',
     "saturated"),
    ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed '
     'for user "probe"', "auth"),
    ('connection to server at "10.0.0.1", port 5432 failed: FATAL:  no pg_hba.conf entry for host', "auth"),
    ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is starting up',
     "not_ready"),
    ('connection to server at "127.0.0.1", port 1 failed: Connection refused', "refused"),
    ("connection timeout expired", "timeout_connect"),
])
def test_postgres_classify(message, cls):
    assert postgres.classify(psycopg.OperationalError(message))[0] == cls


def test_postgres_next_segment():
    assert postgres._next_segment("000000010000000000000004") == "000000010000000000000005"
    assert postgres._next_segment("0000000100000000000000FF") == "000000010000000100000000"
    assert postgres._next_segment("junk") is None


def redis_target(**opts) -> ProbeTarget:
    return ProbeTarget.create("r", "c", "redis", opts)


def test_redis_memory_verdicts():
    info = {"role": "master", "used_memory": 97, "maxmemory": 100, "maxmemory_policy": "noeviction",
            "rdb_last_bgsave_status": "ok", "rdb_last_save_time": T0, "rdb_changes_since_last_save": 0}
    res = redis.evaluate(redis_target(), info, 0.001, lambda: T0)
    assert res.status == Status.FAIL and "writes refused" in res.summary
    info["maxmemory_policy"] = "allkeys-lru"
    assert redis.evaluate(redis_target(), info, 0.001, lambda: T0).status == Status.WARN
    info["used_memory"] = 10
    assert redis.evaluate(redis_target(), info, 0.001, lambda: T0).status == Status.OK


def test_redis_replica_last_io_early_signal():
    info = {"role": "slave", "master_link_status": "up", "master_last_io_seconds_ago": 25,
            "master_sync_in_progress": 0}
    assert redis.evaluate(redis_target(), info, 0.001, lambda: T0).status == Status.WARN
    info["master_last_io_seconds_ago"] = 61
    assert redis.evaluate(redis_target(), info, 0.001, lambda: T0).status == Status.FAIL


def test_walg_evaluate_no_wal_since_backup():
    t = ProbeTarget.create("d", "w", "walg", {"bucket": "b"})
    res = walg.evaluate(t, {"backups": 1, "latest": "base_1", "finish": T0 - 60, "unfinished": []},
                        lambda: T0)
    assert res.status == Status.FAIL and "no WAL archived" in res.summary


@pytest.mark.parametrize(("cond", "doc", "ok"), [
    ("status == ok", {"status": "ok"}, True),
    ("checks.db == true", {"checks": {"db": True}}, True),
    ("items[1].id >= 2", {"items": [{"id": 1}, {"id": 2}]}, True),
    ("len(items) > 2", {"items": [1]}, False),
    ("has(version)", {"v": 1}, False),
    ("count < 3", {"count": "x"}, False),
])
def test_http_conditions(cond, doc, ok):
    assert httpprobe.evaluate(cond, doc)[0] is ok


def test_every_kind_declares_options():
    from cockpit.probes import KINDS

    for kind in KINDS:
        spec = option_spec(kind)
        assert spec, kind
        assert all(hasattr(f, "kind") for f in spec.values())


def test_option_validation_errors_are_one_line():
    with pytest.raises(ValueError) as e:
        ProbeTarget.create("x", "y", "postgres", {"dsn": 5, "lag_warn": "soon", "bogus": 1})
    assert "\n" not in str(e.value) and "lag_warn" in str(e.value) and "bogus" in str(e.value)
    with pytest.raises(ValueError, match="unknown probe kind"):
        ProbeTarget.create("x", "y", "nope", {})


def test_secret_file_and_env_resolution(tmp_path):
    f = tmp_path / "pw"
    f.write_text("s3cret\nignored\n")
    assert base.resolve_secrets({"password_file": str(f), "token_env": "X", "ca_file": "/x"},
                                {"X": "tok"}) == {"password": "s3cret", "token": "tok"}
    with pytest.raises(base.ProbeError, match="NOPE is not set"):
        base.resolve_secrets({"password_env": "NOPE"}, {})


def test_stale_transition_notifies_on_change():
    clock = FixedClock(T0)
    changed: list[str] = []
    t = ProbeTarget("svc", "a", "tcp", {}, interval=10, deadline=2)
    s = Scheduler([ServiceSpec("svc", "Svc", (t,))], None, clock, on_change=changed.append)
    s.record("svc", "a", ProbeResult(Status.OK, "fine", T0))
    s._notify_changes()
    changed.clear()
    clock.advance(5)
    s._notify_changes()
    assert changed == []
    clock.advance(20)
    s._notify_changes()
    assert changed == ["svc"]
    assert s.snapshot()[0].status == Status.STALE
