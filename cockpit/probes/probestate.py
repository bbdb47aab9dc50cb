"""One probe's state in the scheduler and what a pane shows of it (``ProbeState.view``), and
a service aggregated from its probes (``service_health``)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..health import ProbeResult, ServiceHealth, Status, worst
from . import base
from .base import ProbeTarget
from .damping import Damper, display_status, stale_after
from .selfcheck import endpoints

if TYPE_CHECKING:
    from .scheduler import ServiceSpec

HISTORY = 30


@dataclass
class ProbeState:
    target: ProbeTarget
    damper: Damper
    last: ProbeResult | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    shown: Status = Status.UNKNOWN
    running: bool = False
    runs: int = 0
    raw: ProbeResult | None = None  # the latest run's own verdict (this process): evidence
    undecided: tuple[str, ProbeResult] | None = None  # the latest run failed on our side: why
    undo: tuple[ProbeResult | None, Damper] | None = None  # to take back a network failure
    hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.hosts = tuple(h for h, _ in endpoints(self.target))

    def view(self, now: float, grace: float) -> ProbeResult | None:
        if self.undecided is not None:
            return self._undecided_view()
        if self.last is None:
            return None
        shown = display_status(self.last.status, self.last.observed_at, now,
                               stale_after(self.target, grace))
        if shown == self.last.status and self.last.raw_status is None:
            return self.last
        summary = self.last.summary
        if shown == Status.STALE:
            summary = f"no fresh answer; last: {self.last.status.word} {summary}"
        return replace(self.last, status=shown, raw_status=self.last.raw_status or self.last.status,
                       summary=summary)

    def _undecided_view(self) -> ProbeResult:
        """UNKNOWN: the cockpit could not look (its own network); the last-known state, whose
        age is the age shown."""
        assert self.undecided is not None
        why, raw = self.undecided
        last = self.last
        if last is None:
            return ProbeResult(Status.UNKNOWN, f"never answered ({why})", raw.observed_at,
                               error=raw.error or raw.summary, error_class=base.OFFLINE,
                               raw_status=raw.status)
        return ProbeResult(
            Status.UNKNOWN, f"last known {last.status.word} ({why}): {last.summary}",
            last.observed_at, {"last_known_status": last.status.word},  # observed_at: its time
            error=raw.error or raw.summary, error_class=base.OFFLINE, raw_status=raw.status)


def service_health(spec: ServiceSpec, states: Sequence[ProbeState], now: float, grace: float,
                   empty: str = "no answer yet") -> ServiceHealth:
    """A service from its probes' views: the worst one names it; two PostgreSQL nodes
    answering primary are split brain."""
    views: dict[str, ProbeResult] = {}
    order = []
    for t, st in zip(spec.probes, states, strict=True):
        v = st.view(now, grace)
        order.append((t, st, v))
        if v is not None:
            views[t.name] = v
    statuses = [v.status if v is not None else Status.UNKNOWN for _, _, v in order]
    status = worst(statuses) if statuses else Status.UNKNOWN
    summary = ""
    key = None
    split = None
    kinds = {st.target.name: st.target.kind for st in states}
    pg = {n: v for n, v in views.items() if kinds[n] == "postgres" and v.status != Status.STALE}
    if len(pg) >= 2:
        from .postgres import split_brain

        split = split_brain(pg)
    if split:
        status = Status.FAIL
        summary = split
    if not views:
        summary = empty
    else:
        worst_view = None
        for t, _st, v in order:
            if v is None:
                continue
            if worst_view is None or v.status.severity > worst_view[1].status.severity:
                worst_view = (t, v)
        assert worst_view is not None
        t0, v0 = worst_view
        if not summary:
            summary = v0.summary if len(order) == 1 else f"{t0.name}: {v0.summary}"
        key = v0.key_figure
        if v0.status == Status.OK:
            key = next((v.key_figure for _, _, v in order if v is not None and v.key_figure), None)
    observed = [v.observed_at for _, st, v in order
                if v is not None and not (st.undecided is not None and st.last is None)]
    expo: list[float] = []
    for v in views.values():
        x = v.metrics.get("rpo_exposure")
        if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x):
            expo.append(float(x))
    first = states[0] if states else None
    downs = [st.damper.down_since for _, st, _ in order if st.damper.down_since is not None]
    return ServiceHealth(
        service=spec.id, title=spec.title, status=status, summary=summary,
        observed_at=min(observed) if observed else None, key_figure=key,
        latencies=tuple(first.latencies) if first else (), probes=views,
        rpo_exposure=max(expo) if expo else None,
        down_since=min(downs) if downs and status == Status.FAIL else None)
