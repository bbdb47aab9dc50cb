"""Clocks and durations.

Every piece of the core that needs "now" takes a ``Clock`` so tests, snapshots,
the demo and exercises can inject their own time.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (wall clock, possibly simulated)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass
class FixedClock:
    """A clock that only moves when told to (tests, snapshots)."""

    t: float

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class SimClock:
    """Simulated time: starts at ``start`` and runs ``speed`` times faster than real time.

    ``pause()``/``resume()`` and ``speed`` changes keep the simulated time continuous
    (the facilitator clock of an exercise grows from this).
    """

    start: float
    speed: float = 1.0
    _anchor_real: float = field(default_factory=time.monotonic)
    _anchor_sim: float = 0.0
    paused: bool = False

    def __post_init__(self) -> None:
        self._anchor_sim = self.start

    def now(self) -> float:
        if self.paused:
            return self._anchor_sim
        return self._anchor_sim + (time.monotonic() - self._anchor_real) * self.speed

    def _rebase(self) -> None:
        self._anchor_sim = self.now()
        self._anchor_real = time.monotonic()

    def set_speed(self, speed: float) -> None:
        self._rebase()
        self.speed = speed

    def pause(self) -> None:
        self._rebase()
        self.paused = True

    def resume(self) -> None:
        self._anchor_real = time.monotonic()
        self.paused = False


_DURATION_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*(ms|s|m|h|d))+\s*$")
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str | int | float) -> float:
    """Parse ``"1h"``, ``"15m"``, ``"1h30m"``, ``"250ms"`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 1h or 30s")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str) or not _DURATION_RE.match(value):
        raise ValueError(f"expected a duration such as 15m, 1h or 30s, got {value!r}")
    return sum(float(n) * _UNIT[u] for n, u in _PART_RE.findall(value))


def format_duration(seconds: float, *, precise: bool = False) -> str:
    """Compact human duration: ``45s``, ``3m05s``, ``1h02m``, ``2d04h``."""
    neg = seconds < 0
    s = int(abs(seconds))
    if s < 60:
        out = f"{s}s"
    elif s < 3600:
        out = f"{s // 60}m{s % 60:02d}s"
    elif s < 86400:
        out = f"{s // 3600}h{(s % 3600) // 60:02d}m"
        if precise:
            out += f"{s % 60:02d}s"
    else:
        out = f"{s // 86400}d{(s % 86400) // 3600:02d}h"
    return ("-" if neg else "") + out


def format_clock(seconds: float) -> str:
    """``H:MM:SS`` countdown style, with a leading minus when overdue."""
    neg = seconds < 0
    s = int(abs(seconds))
    out = f"{s // 3600}:{(s % 3600) // 60:02d}:{s % 60:02d}"
    return ("-" if neg else "") + out


def short_duration(seconds: float) -> str:
    """A target as people say it: ``15m``, ``1h``, ``90s``, ``1h30m``."""
    s = int(seconds)
    if s % 3600 == 0:
        return f"{s // 3600}h"
    if s >= 3600 and s % 60 == 0:
        return f"{s // 3600}h{(s % 3600) // 60}m"
    if s % 60 == 0:
        return f"{s // 60}m"
    return f"{s}s"


def compact_duration(seconds: float) -> str:
    """At most 5 characters for durations under 100 hours: ``45s``, ``3m05s``, ``56m``, ``1h02m``."""
    s = int(abs(seconds))
    sign = "-" if seconds < 0 else ""
    if s < 600:
        return sign + format_duration(s)
    if s < 3600:
        return f"{sign}{s // 60}m"
    if s < 100 * 3600:
        return f"{sign}{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{sign}{s // 86400}d"


def format_age(seconds: float) -> str:
    """The age of an answer, coarse on purpose: ``<10s``, ``40s``, ``3m``, ``1h05m``, ``2d04h``.

    It changes a few times a minute instead of every second: over SSH each change is bytes,
    and the state (OK / STALE) is what tells whether an answer is recent enough."""
    s = max(0, int(seconds))
    if s < 10:
        return "<10s"
    if s < 60:
        return f"{s // 10 * 10}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\Z")


def parse_when(text: str, now: float) -> float:
    """A moment in the past as an engineer writes it, the same everywhere (the declare form,
    ``cockpit incident declare --impact-start``):

    - an age: ``10m``, ``1h30m``, ``90s``, optionally followed by ``ago``;
    - a UTC time of day ``HH:MM`` or ``HH:MM:SS``: today, or yesterday when that time is
      still to come today (at 00:05, "23:50" is ten minutes before midnight);
    - an ISO 8601 time with a zone: ``2026-11-28T07:10:00Z``.

    Raises ``ValueError`` with a one-line reason."""
    import calendar
    from datetime import datetime

    t = text.strip()
    age = t.removesuffix("ago").strip()
    if age and _DURATION_RE.match(age):
        return now - parse_duration(age)
    m = _CLOCK_RE.match(t)
    if m:
        h, mi, sec = int(m[1]), int(m[2]), int(m[3] or 0)
        if h > 23 or mi > 59 or sec > 59:
            raise ValueError(f"{text!r} is not a time of day (HH:MM or HH:MM:SS, UTC)")
        day = time.gmtime(now)
        at = float(calendar.timegm((day.tm_year, day.tm_mon, day.tm_mday, h, mi, sec, 0, 0, 0)))
        return at - 86400 if at > now + 60 else at
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read the time {text!r}: write an age like 10m, HH:MM (UTC) "
                         "or an ISO time with a zone") from None
    if dt.tzinfo is None:
        raise ValueError(f"give a time zone (e.g. {t}Z) or an age like 10m")
    return dt.timestamp()
