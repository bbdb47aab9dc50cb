"""S3 bucket probe: reachable and credentials valid (HeadBucket + ListObjectsV2 MaxKeys=1)."""

from __future__ import annotations

import time
from typing import Any

from .. import document as schema
from ..health import ProbeResult, Status
from . import _s3, base

OPTIONS: dict[str, schema.Field] = {
    **_s3.S3_FIELDS,
    "latency_warn": schema.Field("duration", default="1s"),
    "latency_fail": schema.Field("duration", default="3s"),
}


async def probe(target: base.ProbeTarget, deadline: float, now: base.Now) -> ProbeResult:
    bucket = str(target.opt("bucket"))
    prefix = str(target.opt("prefix") or "")

    def work(client: Any) -> dict[str, Any]:
        t0 = time.monotonic()
        head = client.head_bucket(Bucket=bucket)
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        hdrs = head.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return {"took": time.monotonic() - t0, "region": hdrs.get("x-amz-bucket-region"),
                "keys": listed.get("KeyCount", 0)}

    out = await _s3.call(target, deadline, work)
    took = out["took"]
    st = base.level(took, target.opt("latency_warn"), target.opt("latency_fail"))
    summary = f"bucket {bucket} reachable, credentials valid ({base.ms(took)})"
    if st != Status.OK:
        summary = f"bucket {bucket} slow: {base.ms(took)}"
    return base.result(st, summary, now, metrics={"latency": round(took, 4), "region": out["region"],
                                                   "listed_keys": out["keys"]},
                       key_figure=base.ms(took))
