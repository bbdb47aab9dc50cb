"""PostgreSQL probe: role, replication lag from both sides, WAL archiver, saturation,
long transactions, wraparound (probe-anchors 4.1, P1-P6).

One connection per run (psycopg 3 async, autocommit, ``statement_timeout`` as the server-side
second layer); libpq will not give up a connect before 2 s, so the overall deadline is
enforced outside by ``run_probe``. ``checks`` picks the parts a probe runs, so a config can
have e.g. a ``role`` probe every 15 s and an ``archive`` probe every 30 s on the same node.

A replica whose primary is gone keeps ``receive_lsn = replay_lsn`` (lag "0"): it is only
healthy with a streaming WAL receiver row, so "not streaming" is reported whatever the lag.
Two nodes answering primary is split brain: ``split_brain()`` checks the results of one service.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
    import psycopg.errors
else:  # loaded by the first probe (start-up time): see _lazy
    from ._lazy import lazy_module

    psycopg = lazy_module("psycopg", ("errors",))

from .. import document as schema
from ..health import ProbeResult, Status
from ..redact import redact_dsn
from . import base

CHECKS = ("role", "replication", "archiver", "connections", "transactions", "wraparound")


def _check_checks(v: Any) -> str | None:
    bad = [c for c in v if c not in CHECKS]
    return f"unknown checks {bad} (known: {', '.join(CHECKS)})" if bad else None


OPTIONS: dict[str, schema.Field] = {
    "dsn": schema.Field("str", required=True, help="libpq DSN or URL, without the password"),
    **base.SECRET_FIELDS,
    "expect_role": schema.Field("str", choices=("primary", "replica")),
    "checks": schema.Field("list[str]", default=list(CHECKS), check=_check_checks),
    "expect_standbys": schema.Field("int", default=0, minimum=0, help="standbys a primary must have"),
    "lag_warn": schema.Field("duration", default="60s"),
    "lag_fail": schema.Field("duration", default="5m"),
    "lag_bytes_warn": schema.Field("int", default=256 << 20),
    "lag_bytes_fail": schema.Field("int", default=1 << 30),
    "receiver_stale": schema.Field("duration", default="30s", help="WARN when the primary is silent longer"),
    "archive_warn": schema.Field("duration", default="7m30s"),
    "archive_fail": schema.Field("duration", default="15m"),
    "archive_ready_warn": schema.Field("int", default=3),
    "archive_ready_fail": schema.Field("int", default=10),
    "conn_warn": schema.Field("float", default=0.9),
    "conn_fail": schema.Field("float", default=0.95),
    "xact_warn": schema.Field("duration", default="5m"),
    "xact_fail": schema.Field("duration", default="30m"),
    "idle_xact_warn": schema.Field("duration", default="60s"),
    "wrap_warn": schema.Field("int", default=1_000_000_000),
    "wrap_fail": schema.Field("int", default=1_500_000_000),
    "recent_restart": schema.Field("duration", help="WARN when the server started more recently"),
    "statement_timeout": schema.Field("duration", default="2s"),
}

Q_ROLE = """
SELECT pg_is_in_recovery(),
       EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())::float8,
       host(inet_server_addr()), inet_server_port(),
       EXTRACT(EPOCH FROM now())::float8
"""
Q_PRIMARY_REPL = """
SELECT application_name, state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8,
       EXTRACT(EPOCH FROM replay_lag)::float8
FROM pg_stat_replication
"""
Q_REPLICA = """
SELECT pg_is_wal_replay_paused(),
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) END::float8,
       EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8
"""
Q_RECEIVER = """
SELECT status, EXTRACT(EPOCH FROM now() - last_msg_receipt_time)::float8, sender_host, sender_port
FROM pg_stat_wal_receiver
"""
Q_ARCHIVER = """
SELECT archived_count, last_archived_wal,
       failed_count, last_failed_wal,
       EXTRACT(EPOCH FROM now() - last_archived_time)::float8,
       EXTRACT(EPOCH FROM now() - last_failed_time)::float8,
       (last_failed_time IS NOT NULL AND
        (last_archived_time IS NULL OR last_failed_time > last_archived_time)),
       pg_walfile_name(pg_current_wal_lsn()),
       current_setting('archive_mode'),
       EXTRACT(EPOCH FROM current_setting('archive_timeout')::interval)::float8
FROM pg_stat_archiver
"""
Q_READY = r"SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name ~ '\.ready$'"
Q_CONN = """
SELECT count(*),
       current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int
FROM pg_stat_activity WHERE backend_type = 'client backend'
"""
Q_XACT = """
SELECT COALESCE(MAX(EXTRACT(EPOCH FROM clock_timestamp() - xact_start))
                FILTER (WHERE state IS DISTINCT FROM 'idle'), 0)::float8,
       COALESCE(MAX(EXTRACT(EPOCH FROM clock_timestamp() - state_change))
                FILTER (WHERE state = 'idle in transaction'), 0)::float8
FROM pg_stat_activity
WHERE xact_start IS NOT NULL AND backend_type = 'client backend' AND pid <> pg_backend_pid()
"""
Q_WRAP = """
SELECT datname, age(datfrozenxid)::float8 FROM pg_database WHERE datallowconn ORDER BY 2 DESC LIMIT 1
"""

_AUTH_RE = re.compile(r"password authentication failed|no pg_hba\.conf entry|no password supplied|"
                      r"authentication failed|role \S+ does not exist|pg_hba\.conf rejects", re.I)


def classify(e: BaseException) -> tuple[str, str]:
    text = " ".join(str(e).split()) or type(e).__name__
    # libpq repeats "connection to server at ... failed:" per address: keep the reason
    reason = re.sub(r'connection to server (at|on) "[^"]*"(, port \d+)? failed: ', "", text)
    low = reason.lower()
    if isinstance(e, psycopg.errors.QueryCanceled):
        return base.TIMEOUT_READ, "statement timed out"
    if isinstance(e, psycopg.errors.InsufficientPrivilege):
        return base.CONFIG, f"permission denied (grant pg_monitor): {reason}"
    if isinstance(e, psycopg.errors.TooManyConnections) or "too many clients" in low \
            or "remaining connection slots are reserved" in low:
        return base.SATURATED, reason
    if _AUTH_RE.search(reason):
        return base.AUTH, reason
    if "connection refused" in low:
        return base.REFUSED, "connection refused"
    if isinstance(e, psycopg.errors.ConnectionTimeout) or "timeout expired" in low:
        return base.TIMEOUT_CONNECT, "connect timed out"
    if "starting up" in low or "shutting down" in low or "not yet accepting" in low \
            or "recovery mode" in low:
        return base.NOT_READY, reason
    if "ssl" in low or "certificate" in low:
        return base.TLS, reason
    if "could not translate host name" in low:
        return base.DNS, reason
    if re.search(r'database "[^"]*" does not exist', reason):
        return base.CONFIG, f"{reason} (check dbname in the dsn)"
    if isinstance(e, psycopg.ProgrammingError) and "dsn" in low:
        return base.CONFIG, f"bad dsn: {reason}"
    if isinstance(e, psycopg.OperationalError):
        return base.NETWORK, reason
    return base.classify(e)


async def _one(conn: Any, sql: str) -> tuple[Any, ...] | None:
    cur = await conn.execute(sql)
    return await cur.fetchone()


async def _all(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = await conn.execute(sql)
    return await cur.fetchall()


async def probe(target: base.ProbeTarget, deadline: float, now: base.Now) -> ProbeResult:
    st_ms = int(max(100, min(float(target.opt("statement_timeout", 2.0)), deadline) * 1000))
    conn = None
    try:
        conn = await psycopg.AsyncConnection.connect(
            str(target.opt("dsn")), password=target.secret("password"),
            connect_timeout=max(2, int(math.ceil(deadline))), autocommit=True,
            application_name="cockpit-probe",
            options=f"-c statement_timeout={st_ms} -c lock_timeout={min(st_ms, 1000)}")
        return await _probe(conn, target, now)
    except psycopg.Error as e:
        cls, msg = classify(e)
        raise base.ProbeError(cls, msg) from None
    finally:
        if conn is not None:
            await base.close_quietly(conn.close())


async def _probe(conn: Any, target: base.ProbeTarget, now: base.Now) -> ProbeResult:
    checks = base.Checks()
    want = set(target.opt("checks") or CHECKS)
    row = await _one(conn, Q_ROLE)
    assert row is not None
    in_recovery, uptime, addr, port, _server_now = row
    role = "replica" if in_recovery else "primary"
    metrics: dict[str, Any] = {"role": role, "uptime": round(uptime or 0, 1),
                               "node": f"{addr}:{port}" if addr else redact_dsn(str(target.opt("dsn")))}
    key: str | None = None
    expect = target.opt("expect_role")
    if "role" in want:
        if expect and expect != role:
            checks.add(Status.FAIL, f"role is {role}, expected {expect}", base.WRONG_ANSWER)
        rr = target.opt("recent_restart")
        if rr and uptime is not None and uptime < rr:
            checks.add(Status.WARN, f"restarted {base.age_text(uptime)} ago")

    if "replication" in want:
        if in_recovery:
            key = await _replica(conn, target, checks, metrics)
        else:
            key = await _primary_repl(conn, target, checks, metrics)
    if "archiver" in want and not in_recovery:
        k = await _archiver(conn, target, checks, metrics)
        if key is None or want == {"archiver"}:
            key = k
    if "connections" in want:
        used, max_conn, reserved = await _one(conn, Q_CONN) or (0, 0, 0)
        usable = max(1, max_conn - reserved)
        frac = used / usable
        metrics.update(connections=used, connections_usable=usable,
                       connections_fraction=round(frac, 3))
        checks.add(base.level(frac, target.opt("conn_warn"), target.opt("conn_fail")),
                   f"{used} of {usable} connections used", base.SATURATED)
    if "transactions" in want:
        oldest, idle = await _one(conn, Q_XACT) or (0.0, 0.0)
        metrics.update(oldest_xact=round(oldest, 1), oldest_idle_in_xact=round(idle, 1))
        checks.add(base.level(oldest, target.opt("xact_warn"), target.opt("xact_fail")),
                   f"transaction open for {base.age_text(oldest)}")
        checks.add(base.level(idle, target.opt("idle_xact_warn"), None),
                   f"idle in transaction for {base.age_text(idle)}")
    if "wraparound" in want:
        r = await _one(conn, Q_WRAP)
        if r:
            datname, age = r
            metrics.update(xid_age=int(age), xid_age_db=datname)
            checks.add(base.level(age, target.opt("wrap_warn"), target.opt("wrap_fail")),
                       f"wraparound: xid age {age / 1e6:.0f}M in {datname}")
    st = checks.status()
    summary = checks.summary(role if key is None else f"{role}, {key}")
    return base.result(st, summary, now, metrics=metrics, error=None if st == Status.OK else summary,
                       error_class=checks.error_class(), key_figure=key or role)


async def _replica(conn: Any, target: base.ProbeTarget, checks: base.Checks,
                   metrics: dict[str, Any]) -> str:
    paused, backlog, lag, last_replay = await _one(conn, Q_REPLICA) or (False, 0, 0, None)
    recv = await _all(conn, Q_RECEIVER)
    lag = float(lag or 0)
    metrics.update(lag=round(lag, 2), replay_backlog_bytes=int(backlog or 0), replay_paused=bool(paused),
                   last_replay_age=None if last_replay is None else round(last_replay, 1))
    status = recv[0][0] if recv else None
    metrics["receiver_status"] = status or "none"
    if status != "streaming":
        what = "no WAL receiver" if status is None else f"WAL receiver {status}"
        checks.add(Status.FAIL, f"replica not streaming ({what}); replayed data may be stale",
                   base.WRONG_ANSWER)
        metrics["streaming"] = False
    else:
        metrics["streaming"] = True
        msg_age = recv[0][1]
        if msg_age is not None:
            metrics["last_msg_age"] = round(msg_age, 1)
            checks.add(base.level(msg_age, target.opt("receiver_stale"), None),
                       f"nothing heard from primary for {base.age_text(msg_age)}")
    checks.add(base.level(lag, target.opt("lag_warn"), target.opt("lag_fail")),
               f"replication lag {base.age_text(lag)}")
    if paused:
        checks.add(Status.WARN, f"WAL replay paused (lag {base.age_text(lag)})")
    if status == "streaming":
        metrics["rpo_exposure"] = round(lag, 1)
    return f"lag {base.age_text(lag)}" if status == "streaming" else "not streaming"


async def _primary_repl(conn: Any, target: base.ProbeTarget, checks: base.Checks,
                        metrics: dict[str, Any]) -> str | None:
    rows = await _all(conn, Q_PRIMARY_REPL)
    streaming = [r for r in rows if r[1] == "streaming"]
    lag = max((float(r[3] or 0) for r in streaming), default=0.0)
    nbytes = max((float(r[2] or 0) for r in rows), default=0.0)
    metrics.update(standbys=len(rows), standbys_streaming=len(streaming), lag=round(lag, 2),
                   replay_bytes=int(nbytes))
    want = int(target.opt("expect_standbys", 0) or 0)
    if len(streaming) < want:
        checks.add(Status.FAIL, f"{len(streaming)} of {want} standbys streaming", base.WRONG_ANSWER)
    for r in rows:
        if r[1] != "streaming":
            checks.add(Status.WARN, f"standby {r[0] or '?'} is {r[1]}")
    if rows:
        checks.add(base.level(lag, target.opt("lag_warn"), target.opt("lag_fail")),
                   f"standby replay lag {base.age_text(lag)}")
        checks.add(base.level(nbytes, target.opt("lag_bytes_warn"), target.opt("lag_bytes_fail")),
                   f"standby {nbytes / 1e6:.0f} MB behind")
        return f"lag {base.age_text(lag)}"
    return None


def _next_segment(name: str) -> str | None:
    """The WAL segment name after ``name`` (16 MB segments)."""
    if not re.fullmatch(r"[0-9A-F]{24}", name or ""):
        return None
    tl, log, seg = int(name[:8], 16), int(name[8:16], 16), int(name[16:], 16)
    seg += 1
    if seg > 0xFF:
        log, seg = log + 1, 0
    return f"{tl:08X}{log:08X}{seg:08X}"


async def _archiver(conn: Any, target: base.ProbeTarget, checks: base.Checks,
                    metrics: dict[str, Any]) -> str:
    (archived, last_wal, failed, last_failed_wal, age, failed_age, failing, current_wal,
     mode, timeout) = await _one(conn, Q_ARCHIVER) or (0,) * 10
    ready: int | None
    try:
        r = await _one(conn, Q_READY)
        ready = int(r[0]) if r else None
    except psycopg.errors.InsufficientPrivilege:
        ready = None
    metrics.update(archived_count=archived, archive_failed_count=failed, last_archived_wal=last_wal,
                   archive_age=None if age is None else round(age, 1), archive_ready=ready,
                   archive_failing=bool(failing), archive_timeout=timeout)
    # Durability is not availability: a server that serves connections while its WAL does
    # not reach the archive is WARN with "RPO at risk" (never DOWN, the word of a refused
    # connection); the metric ``rpo_at_risk`` keeps its RPO clock from reading idle.
    at_risk = False

    def durability(level: Status, text: str) -> None:
        nonlocal at_risk
        if level == Status.FAIL:
            at_risk = True
            checks.add(Status.WARN, f"RPO at risk: {text}", base.WRONG_ANSWER)
        else:
            checks.add(level, text, base.WRONG_ANSWER)

    if mode == "off":
        durability(Status.FAIL, "archive_mode is off: no WAL reaches the archive")
        metrics["rpo_at_risk"] = True
        return "archiving off"
    idle = bool(last_wal) and _next_segment(last_wal) == current_wal and not ready and not failing
    age_txt = "never" if age is None else f"{base.age_text(age)} ago"
    if failing:
        durability(Status.FAIL, f"WAL archiving failing: last archived {age_txt}"
                   f"{f' ({last_wal})' if last_wal else ''}, {failed} failures, "
                   f"last on {last_failed_wal}")
    if ready is not None:
        durability(base.level(ready, target.opt("archive_ready_warn"),
                              target.opt("archive_ready_fail")),
                   f"{ready} WAL segments waiting to be archived")
    if age is not None and not idle:
        durability(base.level(age, target.opt("archive_warn"), target.opt("archive_fail")),
                   f"last WAL archived {age_txt}")
    metrics["rpo_at_risk"] = at_risk
    if timeout is not None and (timeout == 0 or timeout > 300):
        checks.add(Status.WARN, f"archive_timeout is {timeout:g}s: an idle-ish database can keep "
                   "a segment open past the RPO")
    metrics["archive_idle"] = idle
    metrics["rpo_exposure"] = 0.0 if idle else (None if age is None else round(age, 1))
    return f"archived {age_txt}" + (" (idle)" if idle else "")


def split_brain(results: Mapping[str, ProbeResult] | Iterable[ProbeResult]) -> str | None:
    """A one-line verdict when several distinct nodes of one service answer primary."""
    items = results.values() if isinstance(results, Mapping) else results
    nodes = sorted({str(r.metrics.get("node")) for r in items
                    if r.metrics.get("role") == "primary" and r.status != Status.STALE})
    if len(nodes) >= 2:
        return f"split brain: {len(nodes)} primaries ({', '.join(nodes)})"
    return None
