"""TCP connect probe: the plain fallback (and the self-check's tool)."""

from __future__ import annotations

import asyncio
import time

from .. import document as schema
from ..health import ProbeResult, Status
from . import base

OPTIONS: dict[str, schema.Field] = {
    "host": schema.Field("str", required=True),
    "port": schema.Field("int", required=True, minimum=1, check=lambda p: None if p < 65536 else "must be < 65536"),
    "latency_warn": schema.Field("duration", default="500ms"),
}


async def connect(host: str, port: int) -> float:
    """Seconds to connect; raises ProbeError (refused, network) or TimeoutError."""
    t0 = time.monotonic()
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        cls, msg = base.classify(e)
        raise base.ProbeError(cls, msg) from None
    took = time.monotonic() - t0
    writer.transport.abort()
    return took


async def probe(target: base.ProbeTarget, deadline: float, now: base.Now) -> ProbeResult:
    took = await connect(str(target.opt("host")), int(target.opt("port")))
    st = base.level(took, target.opt("latency_warn"), None)
    summary = f"connected in {base.ms(took)}" if st == Status.OK else f"slow connect: {base.ms(took)}"
    return base.result(st, summary, now, metrics={"connect": round(took, 4)}, key_figure=base.ms(took))
