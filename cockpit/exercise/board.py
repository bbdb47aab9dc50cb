"""The facilitator's board: the clock, the master scenario events list with what each
inject expects and how the players are doing, and the spare injects. A pure function of
the exercise's timeline and the wall time (the facilitator screen draws it each second)."""

from __future__ import annotations

from dataclasses import dataclass

from .schema import Inject
from .scoring import Decision, Score, decide
from .timeline import Timeline


@dataclass(frozen=True)
class BoardLine:
    at: float  # scenario offset
    inject: Inject
    played: bool
    adhoc: bool  # fired by the facilitator (a spare, or typed)
    author: str
    decisions: tuple[Decision, ...]


@dataclass(frozen=True)
class Board:
    exercise_id: str
    title: str
    offset: float
    length: float
    speed: float
    running: bool
    started: bool
    ended: bool
    lines: tuple[BoardLine, ...]  # played and coming, in scenario time
    spares: tuple[tuple[Inject, bool], ...]  # (spare, fired)
    score: Score
    next_at: float | None  # the next scheduled inject (jump target)

    @property
    def state_word(self) -> str:
        if self.ended:
            return "ENDED"
        if not self.started:
            return "READY (not started)"
        return "RUNNING" if self.running else "PAUSED"


def build_board(tl: Timeline, wall: float) -> Board:
    off = tl.offset(wall)
    score = decide(tl, wall)
    by_inject: dict[str, list[Decision]] = {}
    for d in score.decisions:
        by_inject.setdefault(d.inject.id, []).append(d)
    lines = [BoardLine(i.at or 0.0, i, (i.at or 0.0) <= off + 1e-6, False, "scenario",
                       tuple(by_inject.get(i.id, ())))
             for i in tl.scenario.injects if not i.demo_only]
    lines += [BoardLine(f.offset, f.inject, True, True, f.author,
                        tuple(by_inject.get(f.inject.id, ()))) for f in tl.fired]
    lines.sort(key=lambda b: (b.at, b.adhoc, b.inject.index))
    fired = tl.fired_spares()
    nxt = tl.next_inject(off)
    seg = tl.clock.segment(wall)
    return Board(tl.record.id, tl.scenario.title, off, tl.scenario.length, seg.speed,
                 seg.running, tl.clock.started, seg.ended, tuple(lines),
                 tuple((s, s.id in fired) for s in tl.scenario.spares), score,
                 None if nxt is None else nxt.at)
