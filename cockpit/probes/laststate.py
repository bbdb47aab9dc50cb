"""Last-known probe results in ``<state_dir>/probes.toml``: written with the journal's
cat-safe TOML writer and atomic file replacement, read back at start so a cockpit started
during an outage shows what was last seen, and how old it is."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..health import MetricValue, ProbeResult, Status
from ..journal.record import dumps_document
from ..text import one_line

if TYPE_CHECKING:
    from .probestate import ProbeState

STATE_FILE = "probes.toml"
STATE_HEADER = "# DR cockpit: last-known probe results (a cache; safe to delete)\n"



def _metric(v: MetricValue) -> MetricValue:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, str):
        return one_line(v, 500)
    return v


def state_document(states: Iterable[ProbeState], saved_at: float) -> dict[str, Any]:
    """Last-known results as a document for ``journal.record.dumps_document`` (the one
    cat-safe TOML writer)."""
    probes = []
    for st in states:
        r = st.last
        if r is None:
            continue
        t = st.target
        rec: dict[str, Any] = {
            "service": t.service, "name": t.name, "kind": t.kind, "status": r.status.value,
            "raw_status": (r.raw_status or r.status).value, "summary": one_line(r.summary, 500),
            "observed_at": float(r.observed_at), "error": r.error, "error_class": r.error_class,
            "latency": r.latency, "key_figure": r.key_figure, "down_since": st.damper.down_since,
        }
        rec = {k: _metric(v) for k, v in rec.items()}
        rec["latencies"] = [float(x) for x in st.latencies if math.isfinite(x)]
        rec["metrics"] = {str(k): _metric(v) for k, v in r.metrics.items()}
        probes.append({k: v for k, v in rec.items() if v is not None})
    for p in probes:
        p["metrics"] = {k: v for k, v in p["metrics"].items() if v is not None}
    return {"version": 1, "saved_at": float(saved_at), "probe": probes}


def dumps_state(states: Iterable[ProbeState], saved_at: float) -> str:
    return STATE_HEADER + dumps_document(state_document(states, saved_at))


def result_from_record(rec: dict[str, Any]) -> ProbeResult:
    metrics = rec.get("metrics") or {}
    raw = rec.get("raw_status")
    return ProbeResult(
        status=Status(rec["status"]), summary=str(rec.get("summary", "")),
        observed_at=float(rec["observed_at"]),
        metrics={str(k): v for k, v in metrics.items() if isinstance(v, int | float | str | bool)},
        error=rec.get("error"), error_class=rec.get("error_class"),
        latency=rec.get("latency"), key_figure=rec.get("key_figure"),
        raw_status=Status(raw) if raw and raw != rec["status"] else None)
