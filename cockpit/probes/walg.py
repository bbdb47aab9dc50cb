"""wal-g backups in S3: newest complete base backup and newest archived WAL segment.

Reads the storage layout only (probe-anchors 1.4, 4.2 W1/W2), so it works when the database
is gone:

- ``<prefix>/basebackups_005/<name>_backup_stop_sentinel.json``: one per *completed* backup; a
  ``<name>/`` folder without a sentinel is unfinished (in progress or failed) and is ignored;
- ``<prefix>/wal_005/<24 hex>[.lz4|.lzma|.zst|.br]``: archived WAL segments.

The backup's time is the sentinel's ``FinishTime`` (V2) or ``metadata.json``'s
``finish_time``, else the sentinel's LastModified. The RPO exposure is ``now`` minus the
LastModified of the newest WAL segment (``rpo_exposure`` metric, seconds).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from .. import document as schema
from ..health import ProbeResult, Status
from . import _s3, base

OPTIONS: dict[str, schema.Field] = {
    **_s3.S3_FIELDS,
    "backup_warn": schema.Field("duration", default="26h"),
    "backup_fail": schema.Field("duration", default="50h"),
    "wal_warn": schema.Field("duration", default="7m30s"),
    "wal_fail": schema.Field("duration", default="15m"),
    "unfinished_warn": schema.Field("duration", default="6h",
                                    help="WARN when an unfinished backup is older"),
}

SENTINEL = "_backup_stop_sentinel.json"
_WAL_RE = re.compile(r"^[0-9A-F]{24}(\.(lz4|lzma|zst|br|gz))?$")
_BACKUP_RE = re.compile(r"^base_([0-9A-F]{24})")


def _ts(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _list(client: Any, bucket: str, prefix: str, **kw: Any) -> tuple[list[dict], list[str]]:
    objects: list[dict] = []
    prefixes: list[str] = []
    token = None
    for _ in range(1000):  # bounded pagination
        args = dict(Bucket=bucket, Prefix=prefix, **kw)
        if token:
            args["ContinuationToken"] = token
        page = client.list_objects_v2(**args)
        objects.extend(page.get("Contents", []) or [])
        prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []) or [])
        if not page.get("IsTruncated"):
            break
        token = page.get("NextContinuationToken")
        if not token:
            break
    return objects, prefixes


def scan(client: Any, bucket: str, prefix: str) -> dict[str, Any]:
    """Read the layout (runs in a worker thread)."""
    p = prefix.strip("/")
    p = f"{p}/" if p else ""
    bb = f"{p}basebackups_005/"
    objs, folders = _list(client, bucket, bb, Delimiter="/")
    sentinels = {}
    for o in objs:
        name = o["Key"][len(bb):]
        if name.endswith(SENTINEL):
            sentinels[name[: -len(SENTINEL)]] = o
    unfinished = []
    for f in folders:
        name = f[len(bb):].rstrip("/")
        if name and name not in sentinels:
            unfinished.append(name)
    out: dict[str, Any] = {"backups": len(sentinels), "unfinished": unfinished}
    latest = None
    if sentinels:
        # LastModified has second resolution: tie-break by name (start WAL segment)
        latest = max(sentinels, key=lambda n: (_ts(sentinels[n]["LastModified"]) or 0, n))
        o = sentinels[latest]
        finish = None
        size = None
        try:
            body = client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read(1 << 20)
            doc = json.loads(body)
            if isinstance(doc, dict):
                finish = _ts(doc.get("FinishTime"))
                size = doc.get("CompressedSize")
        except (ValueError, UnicodeDecodeError):
            doc = None
        if finish is None:
            try:
                body = client.get_object(Bucket=bucket, Key=f"{bb}{latest}/metadata.json")["Body"].read(1 << 20)
                meta = json.loads(body)
                if isinstance(meta, dict):
                    finish = _ts(meta.get("finish_time"))
            except Exception:  # noqa: BLE001 - metadata is optional; fall back to LastModified
                finish = None
        out.update(latest=latest, finish=finish or _ts(o["LastModified"]), size=size,
                   time_source="FinishTime" if finish else "LastModified")
        m = _BACKUP_RE.match(latest)
        out["backup_wal"] = m.group(1) if m else None
    # unfinished backup ages: their folder's newest object
    ages = {}
    for name in unfinished[:20]:
        o2, _ = _list(client, bucket, f"{bb}{name}/", MaxKeys=1000)
        ts = [t for t in (_ts(x.get("LastModified")) for x in o2) if t]
        if ts:
            ages[name] = min(ts)
    out["unfinished_started"] = ages
    wp = f"{p}wal_005/"
    start_after = f"{wp}{out['backup_wal']}" if out.get("backup_wal") else ""
    kw = {"StartAfter": start_after} if start_after else {}
    wal_objs, _ = _list(client, bucket, wp, **kw)
    segs = [o for o in wal_objs if _WAL_RE.match(o["Key"][len(wp):])]
    if segs:
        newest = max(segs, key=lambda o: o["Key"])
        out.update(wal=newest["Key"][len(wp):], wal_time=_ts(newest["LastModified"]),
                   wal_count=len(segs), wal_bytes=sum(int(o.get("Size", 0)) for o in segs))
    return out


async def probe(target: base.ProbeTarget, deadline: float, now: base.Now) -> ProbeResult:
    bucket = str(target.opt("bucket"))
    prefix = str(target.opt("prefix") or "")
    layout = await _s3.call(target, deadline, lambda c: scan(c, bucket, prefix))
    return evaluate(target, layout, now)


def evaluate(target: base.ProbeTarget, layout: dict[str, Any], now: base.Now) -> ProbeResult:
    t = now()
    checks = base.Checks()
    metrics: dict[str, Any] = {"backups": layout.get("backups", 0),
                               "unfinished_backups": len(layout.get("unfinished", []))}
    key = None
    if not layout.get("latest"):
        checks.add(Status.FAIL, "no complete base backup (no stop sentinel)", base.WRONG_ANSWER)
    else:
        age = max(0.0, t - layout["finish"])
        metrics.update(latest_backup=layout["latest"], backup_age=round(age, 1),
                       backup_time_source=layout.get("time_source"),
                       backup_compressed_size=layout.get("size"))
        checks.add(base.level(age, target.opt("backup_warn"), target.opt("backup_fail")),
                   f"newest base backup {base.age_text(age)} old ({layout['latest']})", base.WRONG_ANSWER)
    warn_unfinished = target.opt("unfinished_warn")
    for name, started in (layout.get("unfinished_started") or {}).items():
        if warn_unfinished and t - started >= warn_unfinished:
            checks.add(Status.WARN, f"unfinished backup {name} started {base.age_text(t - started)} ago")
    if layout.get("wal"):
        exposure = max(0.0, t - layout["wal_time"])
        metrics.update(newest_wal=layout["wal"], wal_age=round(exposure, 1),
                       rpo_exposure=round(exposure, 1), wal_segments_since_backup=layout.get("wal_count"),
                       wal_bytes_since_backup=layout.get("wal_bytes"))
        checks.add(base.level(exposure, target.opt("wal_warn"), target.opt("wal_fail")),
                   f"newest WAL {layout['wal']} archived {base.age_text(exposure)} ago "
                   "(idle and broken look alike here)", base.WRONG_ANSWER)
        key = f"RPO {base.age_text(exposure)}"
    elif layout.get("latest"):
        checks.add(Status.FAIL, "no WAL archived since the newest base backup", base.WRONG_ANSWER)
    st = checks.status()
    # failing backups or WAL: the recovery point is at risk (an RPO clock never reads idle)
    metrics["rpo_at_risk"] = st == Status.FAIL
    ok = []
    if "backup_age" in metrics:
        ok.append(f"backup {base.age_text(metrics['backup_age'])} old")
    if "wal_age" in metrics:
        ok.append(f"WAL {base.age_text(metrics['wal_age'])} old")
    summary = checks.summary(", ".join(ok) or "OK")
    return base.result(st, summary, now, metrics=metrics, error=None if st == Status.OK else summary,
                       error_class=checks.error_class(), key_figure=key)
