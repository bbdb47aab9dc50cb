"""The exercise clock: scenario time as a pure function of its journaled changes.

The facilitator's clock actions are journal entries (``exercise.clock``), each stamped with
the wall time of its writer like every entry. They carry only what changed::

    ready                 the exercise exists, the clock stands at T+0 (``exercise start``)
    start | resume        the clock runs from where it stands
    pause                 the clock stops where it stands
    speed   speed=S       S scenario seconds per real second from now on (1 to 60)
    jump    to=SECONDS    the clock jumps forward to T+to (never back)
    end                   the exercise is over; later changes are ignored

Where the clock stands at a change is derived from the changes before it, never written,
so every cockpit that reads the same journal derives the same scenario time, whoever wrote
which change and whenever it reached them. Wall times of other entries (a player's note)
map to scenario time the same way: ``offset_at(entry.ts)``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..incident.model import EntryLike

ACTIONS = ("ready", "start", "resume", "pause", "speed", "jump", "end")
SPEEDS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)  # the facilitator's steps (+ / -)
MIN_SPEED, MAX_SPEED = 1.0, 60.0


@dataclass(frozen=True)
class Segment:
    """The clock from ``wall`` on: it stood at ``offset`` and runs at ``speed`` if running."""

    wall: float
    offset: float
    speed: float
    running: bool
    ended: bool = False
    action: str = "ready"
    author: str = ""

    def offset_at(self, wall: float) -> float:
        if not self.running or wall <= self.wall:
            return self.offset
        return self.offset + (wall - self.wall) * self.speed


def clock_change(e: EntryLike) -> tuple[str, float | None] | str:
    """(action, value) of an ``exercise.clock`` entry, or why it is not a valid one."""
    d = e.data if isinstance(e.data, dict) else {}
    action = d.get("action")
    if action not in ACTIONS:
        return f"unknown clock action {action!r}"
    if action == "speed":
        v = d.get("speed")
        if isinstance(v, bool) or not isinstance(v, int | float) or not (
                MIN_SPEED <= v <= MAX_SPEED):
            return f"speed must be a number from {MIN_SPEED:g} to {MAX_SPEED:g}"
        return action, float(v)
    if action == "jump":
        v = d.get("to")
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                or v < 0:
            return "jump needs to = a scenario time in seconds"
        return action, float(v)
    return action, None


class ExerciseClock:
    """Scenario time at any wall time, from the clock entries of an exercise."""

    def __init__(self, entries: Iterable[EntryLike] = (), speed: float = 1.0) -> None:
        self.problems: list[str] = []
        segs: list[Segment] = []
        cur = Segment(wall=-math.inf, offset=0.0, speed=speed, running=False)
        for e in sorted((x for x in entries if x.kind == "exercise.clock"),
                        key=lambda x: x.ts):
            change = clock_change(e)
            if isinstance(change, str):
                self.problems.append(f"clock entry by {e.author}: {change}")
                continue
            action, value = change
            if cur.ended or (action == "ready" and segs):
                continue  # "ready" is the state before anything happened, never a reset
            here = cur.offset_at(e.ts)
            running, new_speed, offset = cur.running, cur.speed, here
            if action in ("start", "resume"):
                running = True
            elif action in ("pause", "end", "ready"):
                running = False
            elif action == "speed" and value is not None:
                new_speed = value
            elif action == "jump" and value is not None:
                offset = max(here, value)
            cur = Segment(e.ts, offset, new_speed, running, action == "end", action, e.author)
            segs.append(cur)
        self.segments: tuple[Segment, ...] = tuple(segs)
        self._walls = [s.wall for s in segs]
        self.initial_speed = speed

    def segment(self, wall: float) -> Segment:
        i = bisect_right(self._walls, wall) - 1
        if i < 0:
            return Segment(-math.inf, 0.0, self.initial_speed, False)
        return self.segments[i]

    def offset_at(self, wall: float) -> float:
        return self.segment(wall).offset_at(wall)

    def running(self, wall: float) -> bool:
        return self.segment(wall).running

    def speed(self, wall: float) -> float:
        return self.segment(wall).speed

    def ended(self, wall: float) -> bool:
        return self.segment(wall).ended

    @property
    def started(self) -> bool:
        return any(s.action == "start" for s in self.segments)

    def pauses(self) -> Sequence[Segment]:
        return [s for s in self.segments if s.action == "pause"]

    def next_speed(self, current: float, up: bool) -> float:
        """The facilitator's next speed step up or down from ``current``."""
        if up:
            return next((s for s in SPEEDS if s > current + 1e-9), SPEEDS[-1])
        return next((s for s in reversed(SPEEDS) if s < current - 1e-9), SPEEDS[0])
