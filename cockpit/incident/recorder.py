"""The flight recorder: what the health panes showed, journaled while an incident is open.

Every configured service (not only the affected ones) gets a ``health`` entry when something
its pane shows changes: the status word, the key figure, the RPO exposure (as shown, to the
second) or the sanitized summary. Coalesced: at most one entry per service per probe
interval (the service's shortest); a change that comes sooner is written when the interval
has passed, with what is shown then. So the panes can be rebuilt for any moment of the
incident, at a bounded cost: with every service flapping at every probe run, the cost is
``sum(3600 / interval)`` entries per hour (``benchmarks/bench_review.py`` prints it for the
example configuration).

Pure bookkeeping (no I/O): the live session asks ``due`` what to journal and tells
``written`` what it journaled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..health import ServiceHealth
from ..text import one_line

SUMMARY_LIMIT = 300

Shown = tuple[str, str, float | None, str]


def shown(h: ServiceHealth, mask: Any = None) -> Shown:
    """What a pane shows of ``h``: status, key figure, RPO exposure (whole seconds),
    sanitized (and masked) summary."""
    summary = h.summary if mask is None else mask(h.summary)
    # whole seconds, cut down as the clocks show them (never rounded up: "1s", not "2s")
    exposure = None if h.rpo_exposure is None else float(int(h.rpo_exposure))
    return (h.status.value, one_line(h.key_figure or "", 80), exposure,
            one_line(summary, SUMMARY_LIMIT))


def entry_data(h: ServiceHealth, s: Shown) -> dict[str, Any]:
    data: dict[str, Any] = {"service": h.service, "status": s[0], "summary": s[3]}
    if s[1]:
        data["key_figure"] = s[1]
    if s[2] is not None:
        data["rpo_exposure"] = s[2]
    if h.observed_at is not None:
        data["observed_at"] = float(h.observed_at)
    return data


class FlightRecorder:
    """Which health changes to journal now. ``intervals``: service -> probe interval (s)."""

    def __init__(self, intervals: Mapping[str, float], mask: Any = None) -> None:
        self.intervals = dict(intervals)
        self.mask = mask
        self._shown: dict[str, Shown] = {}
        self._at: dict[str, float] = {}

    def reset(self) -> None:
        """A new incident followed: every service gets its baseline entry again."""
        self._shown.clear()
        self._at.clear()

    def due(self, health: Iterable[ServiceHealth], now: float) -> list[dict[str, Any]]:
        """The ``health`` entries' data to journal at ``now`` (changes whose service's last
        entry is at least one probe interval old)."""
        out = []
        for h in health:
            s = shown(h, self.mask)
            if self._shown.get(h.service) == s:
                continue
            last = self._at.get(h.service)
            if last is not None and now - last < self.intervals.get(h.service, 0.0):
                continue  # coalesced: written once the interval has passed
            out.append(entry_data(h, s))
        return out

    def pending(self, health: Sequence[ServiceHealth]) -> bool:
        """Something shown differs from what was journaled (a coalesced change waits)."""
        return any(self._shown.get(h.service) != shown(h, self.mask) for h in health)

    def written(self, data: Mapping[str, Any], now: float) -> None:
        sid = str(data["service"])
        self._shown[sid] = (str(data["status"]), str(data.get("key_figure", "")),
                            data.get("rpo_exposure"), str(data.get("summary", "")))
        self._at[sid] = now


def entries_per_hour(intervals: Mapping[str, float]) -> float:
    """The most entries an hour of everything flapping can make (one per interval)."""
    return sum(3600.0 / max(i, 1e-9) for i in intervals.values())


def recorder_for(config: Any) -> FlightRecorder:
    """The flight recorder of ``config`` (a ``cockpit.config.Config``): each service's shortest probe interval, summaries
    masked with every secret the configuration holds."""
    from ..redact import redact_text
    from ..secrets import held_secrets

    held: list[Any] = []  # the secrets, found once

    def mask(text: str) -> str:
        # the secrets are found on the first summary (in the probe thread): finding them
        # parses DSNs with libpq's parser, a client library start-up must not wait for
        if not held:
            held.append(held_secrets(config))
        return redact_text(text, held[0])

    intervals = {s.id: min((p.interval for p in s.probes), default=15.0)
                 for s in config.services.values()}
    return FlightRecorder(intervals, mask=mask)
