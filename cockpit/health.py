"""Health vocabulary shared by probes, the demo/exercise engine, the CLI and the UI.

A probe answers with a ``ProbeResult``. A service aggregates the damped state of its
probes into a ``ServiceHealth``, which is all a health pane needs to draw itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .timeutil import format_duration

MetricValue = float | int | str | bool | None


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    STALE = "stale"  # the last answer is too old to be trusted
    UNKNOWN = "unknown"  # never answered yet

    @property
    def word(self) -> str:
        return _WORDS[self]

    @property
    def severity(self) -> int:
        """Higher is worse; used to pick the worst of several probes."""
        return _SEVERITY[self]

    @property
    def exit_code(self) -> int:
        """For ``cockpit status``: 0 all OK, 1 warning, 2 failing."""
        return {Status.OK: 0, Status.WARN: 1, Status.STALE: 1, Status.UNKNOWN: 1}.get(self, 2)


_WORDS = {
    Status.OK: "OK",
    Status.WARN: "WARN",
    Status.FAIL: "DOWN",
    Status.STALE: "STALE",
    Status.UNKNOWN: "UNKNOWN",
}
_SEVERITY = {Status.OK: 0, Status.UNKNOWN: 1, Status.STALE: 2, Status.WARN: 3, Status.FAIL: 4}


def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
    if not statuses:
        return Status.UNKNOWN
    return max(statuses, key=lambda s: s.severity)


@dataclass(frozen=True)
class ProbeResult:
    """One answer of one probe. Text fields are untrusted: sanitize before display."""

    status: Status
    summary: str
    observed_at: float
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)
    error: str | None = None
    latency: float | None = None  # seconds the probe took, when meaningful
    key_figure: str | None = None  # the one figure a pane shows (lag, age, latency)
    # Machine-readable failure class (refused, timeout, auth, rate_limited, tls, wrong_answer...).
    error_class: str | None = None
    # The probe's own verdict of this run when the shown ``status`` is damped or stale.
    raw_status: Status | None = None


@dataclass(frozen=True)
class ServiceHealth:
    """What a health pane shows for one service."""

    service: str
    title: str
    status: Status
    summary: str
    observed_at: float | None
    key_figure: str | None = None
    latencies: tuple[float, ...] = ()
    probes: Mapping[str, ProbeResult] = field(default_factory=dict)
    rpo_exposure: float | None = None  # seconds of data at risk, when measured
    down_since: float | None = None  # first failed run of the streak that made it DOWN

    def age(self, now: float) -> float | None:
        return None if self.observed_at is None else max(0.0, now - self.observed_at)

    def age_text(self, now: float) -> str:
        a = self.age(now)
        return "never" if a is None else f"{format_duration(a)} ago"  # exact: detail views
