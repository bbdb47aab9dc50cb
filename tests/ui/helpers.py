"""Apps for UI tests: the demo on a fixed clock, so every frame is reproducible."""

from __future__ import annotations

from cockpit.cli import builtin_runbook_dir
from cockpit.environment import DemoEnvironment
from cockpit.scenario import builtin_demo
from cockpit.timeutil import FixedClock
from screens.app import CockpitApp

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def demo_app(at: float = 400.0, clock: FixedClock | None = None) -> CockpitApp:
    clock = clock or FixedClock(T0)
    env = DemoEnvironment.start(builtin_demo(), at=at, clock=clock)
    return CockpitApp(env, simulated=True, runbook_dirs=(builtin_runbook_dir(),), tick=0)
