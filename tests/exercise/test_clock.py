"""The exercise clock: scenario time derived from the journaled clock changes alone."""

from __future__ import annotations

import pytest

from cockpit.exercise.clock import ExerciseClock
from cockpit.incident.model import SimEntry

T = 1_000_000.0


def change(ts: float, action: str, **data: object) -> SimEntry:
    return SimEntry(T + ts, "fac", "exercise.clock", {"action": action, **data})


STORY = [change(0, "ready"), change(10, "start"), change(70, "pause"),
         change(100, "speed", speed=10), change(130, "resume"), change(140, "jump", to=1200),
         change(150, "jump", to=5), change(200, "end"), change(210, "start")]


@pytest.mark.parametrize("wall,offset,running,speed", [
    (-5, 0, False, 1),  # before anything: T+0, standing
    (5, 0, False, 1),  # ready: standing at T+0
    (40, 30, True, 1),  # started at 10, 1x
    (70, 60, False, 1),  # paused at T+60
    (99, 60, False, 1),
    (120, 60, False, 10),  # speed changed while paused: still standing
    (135, 110, True, 10),  # resumed at 130: 5 s at 10x
    (140, 1200, True, 10),  # jumped forward
    (145, 1250, True, 10),
    (150, 1300, True, 10),  # a jump back is refused: the clock never goes back
    (160, 1400, True, 10),
    (200, 1800, False, 10),  # ended at T+30m
    (999, 1800, False, 10),  # nothing moves it after the end (the start at 210 is ignored)
])
def test_offsets_follow_the_journaled_changes(wall, offset, running, speed):
    c = ExerciseClock(STORY)
    assert c.offset_at(T + wall) == pytest.approx(offset)
    assert c.running(T + wall) is running
    assert c.speed(T + wall) == speed
    assert c.ended(T + wall) is (wall >= 200)


def test_the_order_entries_arrive_in_does_not_matter():
    assert [ExerciseClock(list(reversed(STORY))).offset_at(T + w) for w in range(0, 300, 7)] \
        == [ExerciseClock(STORY).offset_at(T + w) for w in range(0, 300, 7)]


def test_a_late_ready_never_resets_a_running_clock():
    c = ExerciseClock([change(0, "start"), change(0, "ready"), change(60, "pause")])
    assert c.offset_at(T + 60) == 60 and c.started


@pytest.mark.parametrize("data", [
    {"action": "warp"}, {"action": "speed", "speed": 0}, {"action": "speed", "speed": 61},
    {"action": "speed", "speed": "10"}, {"action": "speed", "speed": True},
    {"action": "jump", "to": -1}, {"action": "jump", "to": "5m"},
    {"action": "jump", "to": float("inf")}, {"action": 3},
])
def test_invalid_changes_are_named_and_left_out(data):
    c = ExerciseClock([change(0, "start"), SimEntry(T + 10, "eve", "exercise.clock", data)])
    assert c.offset_at(T + 20) == 20 and c.speed(T + 20) == 1
    assert len(c.problems) == 1 and "eve" in c.problems[0]


def test_speed_steps():
    c = ExerciseClock()
    assert [c.next_speed(s, True) for s in (1, 2, 5, 10, 20, 30, 60)] == [2, 5, 10, 20, 30, 60, 60]
    assert [c.next_speed(s, False) for s in (60, 30, 20, 10, 5, 2, 1)] == [30, 20, 10, 5, 2, 1, 1]
