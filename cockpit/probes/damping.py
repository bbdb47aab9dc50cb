"""Damping: the pure state machine that turns probe verdicts into what a pane shows.

DOWN after ``fail_after`` consecutive failures, WARN after as many non-OK runs (a failure not
yet confirmed shows "unconfirmed", never green), OK after ``recover_after`` consecutive
successes; a result older than interval + deadline + grace is STALE, never green.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..health import Status
from .base import ProbeTarget


@dataclass
class Damper:
    fail_after: int = 3
    recover_after: int = 2
    status: Status = Status.UNKNOWN  # damped
    bad_streak: int = 0
    fail_streak: int = 0
    ok_streak: int = 0
    nonfail_streak: int = 0
    streak_started: float | None = None  # first non-OK run of the current bad streak
    fail_started: float | None = None  # first FAIL run of the current fail streak
    down_since: float | None = None

    def feed(self, raw: Status, at: float) -> Status:
        """Account one run's verdict; returns the damped status."""
        n, m = max(1, self.fail_after), max(1, self.recover_after)
        if raw in (Status.UNKNOWN, Status.STALE):
            return self.status  # no evidence either way (e.g. cockpit offline)
        if raw == Status.OK:
            self.ok_streak += 1
            self.bad_streak = self.fail_streak = 0
            self.nonfail_streak += 1
            self.streak_started = self.fail_started = None
            if self.status == Status.UNKNOWN or self.ok_streak >= m:
                self.status = Status.OK
                self.down_since = None
            return self.status
        self.ok_streak = 0
        self.bad_streak += 1
        if self.streak_started is None:
            self.streak_started = at
        if raw == Status.FAIL:
            self.fail_streak += 1
            self.nonfail_streak = 0
            if self.fail_started is None:
                self.fail_started = at
        else:
            self.fail_streak = 0
            self.fail_started = None
            self.nonfail_streak += 1
        if self.status == Status.UNKNOWN:
            self.status = raw
        elif self.fail_streak >= n:
            self.status = Status.FAIL
        elif (self.status == Status.FAIL and raw == Status.WARN and self.nonfail_streak >= m) or \
                (self.status == Status.OK and self.bad_streak >= n):
            self.status = Status.WARN
        if self.status == Status.FAIL and self.down_since is None:
            self.down_since = self.fail_started if self.fail_started is not None else at
        elif self.status != Status.FAIL:
            self.down_since = None
        return self.status


def stale_after(target: ProbeTarget, grace: float) -> float:
    return target.interval + target.deadline + grace


def display_status(damped: Status, observed_at: float | None, now: float, limit: float) -> Status:
    """What to show: STALE when the last answer is too old (never green from old data)."""
    if observed_at is None:
        return Status.UNKNOWN
    if now - observed_at > limit:
        return Status.STALE
    return damped
