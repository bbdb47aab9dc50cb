"""A facilitator's cockpit and a player's cockpit, two processes in pseudo-terminals on one
state directory: the player rehearses a step whose command would create a file (it never
exists); the facilitator starts the clock, pauses it (the player's clocks stop within a
second), runs it at 10x (the player's clocks run 10x), and fires a typed inject (on the
player's screen within a second)."""

from __future__ import annotations

import re
import secrets
import time
import tomllib

import pytest
from exercise.canary import write_canary_runbook
from security.pty_harness import Pty, cockpit_argv

from cockpit.exercise.schema import parse_scenario
from cockpit.exercise.store import ExerciseStore
from cockpit.scenario import scenario_dir

SIM_TIME = re.compile(r"(\d\d):(\d\d):(\d\d) UTC SIM")


def sim_seconds(screen: str) -> int | None:
    m = SIM_TIME.search(screen.splitlines()[0] if screen else "")
    return None if m is None else int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])


def changes(p: Pty, seconds: float) -> list[tuple[float, int]]:
    """(monotonic time, shown scenario time) each time the player's clock changed."""
    out: list[tuple[float, int]] = []
    last = sim_seconds(p.text())
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        p.pump(0.005)
        now = sim_seconds(p.text())
        if now is not None and now != last:
            out.append((time.monotonic(), now))
            last = now
    return out


def rate(samples: list[tuple[float, int]]) -> float:
    (t0, s0), (t1, s1) = samples[0], samples[-1]
    return (s1 - s0) / (t1 - t0)


@pytest.mark.stress
def test_facilitator_and_player_in_two_processes(tmp_path):
    state = tmp_path / "state"
    canaries = tmp_path / "canaries"
    rb_dir = tmp_path / "runbooks"
    write_canary_runbook(rb_dir, canaries)
    text = (scenario_dir() / "database-loss.toml").read_text(encoding="utf-8")
    store = ExerciseStore(state, author="fac")
    xid = store.start(parse_scenario(tomllib.loads(text), text, "s.toml"), text,
                      source="test")
    store.close()
    base = ["--state-dir", str(state), "exercise"]
    fac = Pty.spawn(cockpit_argv(*base, "facilitate", xid), cols=120, rows=40)
    player = Pty.spawn(cockpit_argv(*base, "join", "latest", "--runbooks", str(rb_dir)), cols=120,
                       rows=40)
    try:
        assert fac.wait_for("READY (not started)", 60), fac.text()
        assert player.wait_for("EXERCISE READY", 60), player.text()
        fac.settle()
        player.settle()

        # --- the player executes the canary step: a rehearsal, nothing runs
        player.press("r")
        assert player.wait_for("aaa-canary", 20), player.text()
        player.settle()
        player.press("x")
        assert player.wait_for("nothing was run", 20), player.text()
        store = ExerciseStore(state)
        entries = store.entries(xid)
        store.close()
        started = [e for e in entries if e.kind == "step.started"]
        assert [(e.data["runbook"], e.data["step"], e.data["rehearsal"]) for e in started] == [
            ("aaa-canary", "touch", True)]
        time.sleep(1.0)
        assert list(canaries.iterdir()) == []  # the command never ran
        player.press("escape")
        assert player.wait_for("EXERCISE · Incident log", 10), player.text()

        # --- start: the player's clock runs at 1x
        fac.press("space", pause=0)
        assert player.wait_for(lambda t: "EXERCISE READY" not in t, 5), player.text()
        one = changes(player, 4.0)
        # (bounds that tell 1x from 2x and 10x from 5x or 20x, with room for a frame drawn
        # late on a loaded machine; the measured rates are printed)
        assert len(one) >= 3 and 0.7 <= rate(one) <= 1.4, one

        # --- pause: the player's clocks stop within a second
        fac.press("space", pause=0)
        t_key = time.monotonic()
        # within a second (printed); 3 s allow a loaded machine's scheduling
        assert player.wait_for("PAUSED", 3.0), player.text()
        frozen_at = time.monotonic() - t_key
        player.pump(0.3)  # a frame in flight before the pause arrived
        shown = player.text()
        still = changes(player, 2.5)
        assert still == [] and player.text() == shown, (frozen_at, still)

        # --- resume at 10x: the player's clocks run ten times as fast
        fac.press("space", "+", "+", "+", pause=0.1)
        assert fac.wait_for(" 10x ", 5), fac.text()
        player.pump(1.5)  # the last speed change reached the player
        ten = changes(player, 6.0)
        assert len(ten) >= 4 and 8.0 <= rate(ten) <= 12.5, ten

        # --- an ad-hoc inject, typed by the facilitator: on the player's screen within 1 s
        marker = f"ADHOC-{secrets.token_hex(3)}"
        fac.press("g")
        assert fac.wait_for("Fire an inject", 5), fac.text()
        fac.press(*marker, pause=0)
        fac.settle(0.2)
        fac.press("ctrl+s", pause=0)
        t_key = time.monotonic()
        assert player.wait_for(marker, 3.0), player.text()
        shown_after = time.monotonic() - t_key
        assert list(canaries.iterdir()) == []
        print(f"pause shown after {frozen_at:.3f}s; rates {rate(one):.2f}x and "
              f"{rate(ten):.2f}x; inject shown after {shown_after:.3f}s")
    finally:
        fac.close()
        player.close()
