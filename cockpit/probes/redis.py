"""Redis probe: PING, last successful save against the RPO, replication link, memory.

redis-py retries 10 times by default: this probe always passes ``Retry(NoBackoff(), 0)``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis.asyncio as aredis
    import redis.exceptions as rexc
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
else:  # loaded by the first probe (start-up time): see _lazy
    from ._lazy import lazy_attr, lazy_module

    aredis = lazy_module("redis.asyncio")
    rexc = lazy_module("redis.exceptions")
    Retry = lazy_attr("redis.asyncio.retry", "Retry")
    NoBackoff = lazy_attr("redis.backoff", "NoBackoff")

from .. import document as schema
from ..health import ProbeResult, Status
from . import base

OPTIONS: dict[str, schema.Field] = {
    "host": schema.Field("str", default="127.0.0.1"),
    "port": schema.Field("int", default=6379, minimum=1),
    "db": schema.Field("int", default=0, minimum=0),
    "username": schema.Field("str"),
    **base.SECRET_FIELDS,
    "tls": schema.Field("bool", default=False),
    "protocol": schema.Field("int", default=2, choices=(2, 3)),
    "expect_role": schema.Field("str", choices=("master", "replica")),
    "expect_replicas": schema.Field("int", minimum=0, help="connected replicas expected on a master"),
    "rpo": schema.Field("duration", help="RPO of this Redis; save age FAILs at it, WARNs at half"),
    "ping_warn": schema.Field("duration", default="200ms"),
    "last_io_warn": schema.Field("duration", default="20s"),
    "last_io_fail": schema.Field("duration", default="60s"),
    "memory_warn": schema.Field("float", default=0.8, minimum=0),
    "memory_fail": schema.Field("float", default=0.95, minimum=0),
}


def _classify(e: BaseException) -> tuple[str, str]:
    text = " ".join(str(e).split())
    if isinstance(e, rexc.AuthenticationError | rexc.AuthorizationError):
        return base.AUTH, text or "authentication failed"
    if isinstance(e, rexc.ResponseError):
        low = text.lower()
        if "noauth" in low or "wrongpass" in low or "invalid password" in low or "auth" in low and "password" in low:
            return base.AUTH, text
        if low.startswith("misconf"):
            return base.WRONG_ANSWER, "background save failing: writes refused (MISCONF)"
        if low.startswith("loading"):
            return base.NOT_READY, "loading the dataset into memory"
        return base.WRONG_ANSWER, text
    if isinstance(e, rexc.TimeoutError):
        return base.TIMEOUT, "timed out"
    if isinstance(e, rexc.ConnectionError):
        low = text.lower()
        if "refused" in low or "error 111 " in low:
            return base.REFUSED, "connection refused"
        if "ssl" in low or "certificate" in low:
            return base.TLS, text
        if "max number of clients" in low:
            return base.SATURATED, text
        if "timeout" in low or "timed out" in low:
            return base.TIMEOUT, "timed out"
        return base.NETWORK, text or "connection error"
    return base.classify(e)


def _f(info: dict[str, Any], key: str) -> float | None:
    try:
        return float(info[key])
    except (KeyError, TypeError, ValueError):
        return None


async def probe(target: base.ProbeTarget, deadline: float, now: base.Now) -> ProbeResult:
    t = max(0.05, deadline)
    client = aredis.Redis(
        host=str(target.opt("host")), port=int(target.opt("port")), db=int(target.opt("db", 0)),
        username=target.opt("username"), password=target.secret("password"),
        ssl=bool(target.opt("tls", False)), protocol=int(target.opt("protocol", 2)),
        socket_connect_timeout=t, socket_timeout=t, retry=Retry(NoBackoff(), 0),
        decode_responses=True, single_connection_client=True, health_check_interval=0,
    )
    try:
        t0 = time.monotonic()
        await client.ping()
        ping = time.monotonic() - t0
        info = await client.info("all")
        try:  # whether RDB snapshots are configured at all (INFO does not say)
            info["cockpit_save_config"] = (await client.config_get("save")).get("save")
        except rexc.ResponseError:  # CONFIG renamed or refused by an ACL: unknown
            info["cockpit_save_config"] = None
    except rexc.RedisError as e:
        cls, msg = _classify(e)
        raise base.ProbeError(cls, msg) from None
    finally:
        await base.close_quietly(client.aclose())
    return evaluate(target, info, ping, now)


def evaluate(target: base.ProbeTarget, info: dict[str, Any], ping: float, now: base.Now) -> ProbeResult:
    """Pure verdict over an INFO dict (unit-testable with recorded INFO payloads)."""
    checks = base.Checks()
    t_now = now()
    role = str(info.get("role", "?"))
    metrics: dict[str, Any] = {"ping": round(ping, 4), "role": role}
    checks.add(base.level(ping, target.opt("ping_warn"), None), f"slow PING: {base.ms(ping)}")
    if str(info.get("loading", "0")) == "1":
        pct = info.get("loading_loaded_perc", "?")
        checks.add(Status.WARN, f"loading dataset ({pct}%)", base.NOT_READY)

    # persistence / RPO
    status = str(info.get("rdb_last_bgsave_status", "ok"))
    last_save = _f(info, "rdb_last_save_time")
    changes = _f(info, "rdb_changes_since_last_save") or 0
    metrics["rdb_last_bgsave_status"] = status
    if last_save is not None:
        metrics["last_save_age"] = round(max(0.0, t_now - last_save), 1)
        exposure = max(0.0, t_now - last_save) if changes > 0 else 0.0
        metrics["rpo_exposure"] = round(exposure, 1)
        metrics["changes_since_save"] = int(changes)
    else:
        exposure = None
    # persistence off altogether (no RDB save points, no AOF): a restart loses every write.
    # Said in words, never "save 0s": there is no save to be 0 s old.
    save_cfg = info.get("cockpit_save_config")
    aof = str(info.get("aof_enabled", "0")) == "1"
    no_persistence = not aof and save_cfg is not None and not str(save_cfg).strip()
    metrics["persistence"] = ("off" if no_persistence else "aof" if aof
                              else "rdb" if save_cfg else "unknown")
    if no_persistence:
        exposure = None
        metrics.pop("rpo_exposure", None)
        if target.opt("rpo"):
            metrics["rpo_at_risk"] = True
            checks.add(Status.WARN, "RPO at risk: persistence off (save \"\", appendonly no): "
                       "a restart loses every write", base.WRONG_ANSWER)
    if status != "ok":
        age = base.age_text(metrics.get("last_save_age"))
        checks.add(Status.FAIL, f"background save failing (last good save {age} ago; "
                   "writes may be refused with MISCONF)", base.WRONG_ANSWER)
    if str(info.get("aof_last_write_status", "ok")) != "ok":
        checks.add(Status.FAIL, "AOF write failing", base.WRONG_ANSWER)
    rpo = target.opt("rpo")
    if rpo and exposure is not None:
        st = base.level(exposure, rpo / 2, rpo)
        checks.add(st, f"unsaved changes for {base.age_text(exposure)} (RPO {base.age_text(rpo)})")

    # replication
    expect = target.opt("expect_role")
    actual = "replica" if role in ("slave", "replica") else role
    if expect and actual != expect:
        checks.add(Status.FAIL, f"role is {actual}, expected {expect}", base.WRONG_ANSWER)
    if actual == "replica":
        link = str(info.get("master_link_status", "?"))
        metrics["master_link_status"] = link
        last_io = _f(info, "master_last_io_seconds_ago")
        if last_io is not None and last_io >= 0:
            metrics["master_last_io"] = last_io
        if link != "up":
            down = _f(info, "master_link_down_since_seconds")
            extra = f" for {base.age_text(down)}" if down is not None and down >= 0 else ""
            checks.add(Status.FAIL, f"replication link down{extra}", base.WRONG_ANSWER)
        elif last_io is not None:
            checks.add(base.level(last_io, target.opt("last_io_warn"), target.opt("last_io_fail")),
                       f"nothing heard from master for {base.age_text(last_io)}")
        if str(info.get("master_sync_in_progress", "0")) == "1":
            checks.add(Status.WARN, "full sync in progress", base.NOT_READY)
    elif actual == "master":
        n = int(_f(info, "connected_slaves") or 0)
        metrics["connected_replicas"] = n
        want = target.opt("expect_replicas")
        if want is not None and n < want:
            checks.add(Status.WARN, f"{n} of {want} replicas connected")
        lags = []
        for k, v in info.items():
            if k.startswith("slave") and isinstance(v, dict) and "lag" in v:
                try:
                    lags.append(float(v["lag"]))
                except (TypeError, ValueError):
                    pass
        if lags:
            metrics["replica_lag"] = max(lags)
            checks.add(base.level(max(lags), 5, 60), f"replica lag {max(lags):g}s")

    # memory
    used = _f(info, "used_memory")
    maxmem = _f(info, "maxmemory") or 0
    if used is not None:
        metrics["used_memory"] = int(used)
    if used is not None and maxmem > 0:
        frac = used / maxmem
        metrics["memory_used_fraction"] = round(frac, 3)
        policy = str(info.get("maxmemory_policy", "?"))
        if frac >= float(target.opt("memory_fail", 0.95)) and policy == "noeviction":
            checks.add(Status.FAIL, f"memory {frac:.0%} of maxmemory, noeviction: writes refused",
                       base.SATURATED)
        elif frac >= float(target.opt("memory_warn", 0.8)):
            checks.add(Status.WARN, f"memory {frac:.0%} of maxmemory ({policy})")
    else:
        rss, total = _f(info, "used_memory_rss"), _f(info, "total_system_memory")
        if rss and total and rss / total >= float(target.opt("memory_warn", 0.8)):
            checks.add(Status.WARN, f"memory {rss / total:.0%} of system memory, no maxmemory")

    st = checks.status()
    ok = f"{actual}, PING {base.ms(ping)}"
    if exposure is not None and rpo:
        ok += f", unsaved {base.age_text(exposure)}"
    if no_persistence:
        ok += ", no persistence"
    summary = checks.summary(ok)
    key = f"save {base.age_text(exposure)}" if rpo and exposure is not None else base.ms(ping)
    if no_persistence:
        key = "no persistence"
    return base.result(st, summary, now, metrics=metrics, error=None if st == Status.OK else summary,
                       error_class=checks.error_class(), key_figure=key)
