"""What the cockpit is looking at: the simulated demo/exercise world or the real one.

The UI talks only to an ``Environment``: it asks for health, log entries and the
incident at a moment ``now`` (from the environment's clock) and lets the environment
run its background work (probes, journal following) in its own asyncio task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from .clocks import ClockView, ServiceTargets, incident_clocks
from .config import Milestones
from .health import ServiceHealth
from .incident import EntryLike, IncidentState, fold
from .scenario import Scenario, ScenarioPlayer
from .timeutil import Clock, SimClock


class Environment(Protocol):
    name: str
    clock: Clock
    milestones: Milestones
    services: Sequence[ServiceTargets]
    priorities: dict[str, str]

    def health(self) -> list[ServiceHealth]: ...

    def entries(self) -> Sequence[EntryLike]: ...

    async def run(self, changed: Callable[[], None]) -> None: ...

    def stop(self) -> None: ...


def derive(env: Environment) -> tuple[float, list[ServiceHealth], Sequence[EntryLike],
                                      IncidentState | None, list[ClockView]]:
    """Everything the main screen shows, at the environment's ``now``."""
    now = env.clock.now()
    health = env.health()
    entries = env.entries()
    incident = fold(entries)
    clocks = incident_clocks(incident, env.services, {h.service: h for h in health},
                             env.milestones, now)
    return now, health, entries, incident, clocks


class DemoEnvironment:
    """A scenario played against a (simulated) clock: no network, no config."""

    def __init__(self, scenario: Scenario, clock: Clock, epoch: float):
        self.scenario = scenario
        self.clock = clock
        self.player = ScenarioPlayer(scenario, epoch)
        self.name = f"{scenario.environment}: {scenario.title}"
        self.milestones = scenario.milestones
        self.services = scenario.services
        self.priorities = scenario.priorities

    @classmethod
    def start(cls, scenario: Scenario, *, at: float = 0.0, speed: float = 1.0,
              now: float | None = None, clock: Clock | None = None) -> DemoEnvironment:
        """Begin ``at`` seconds into the scenario, running ``speed`` times real time.

        With ``clock`` given (tests, snapshots) the scenario time follows that clock.
        """
        if clock is None:
            import time

            start = time.time() if now is None else now
            clock = SimClock(start=start, speed=speed)
        return cls(scenario, clock, epoch=clock.now() - at)

    def health(self) -> list[ServiceHealth]:
        return self.player.health(self.clock.now())

    def entries(self) -> Sequence[EntryLike]:
        return self.player.entries(self.clock.now())

    async def run(self, changed: Callable[[], None]) -> None:
        return None  # everything is a pure function of the clock

    def stop(self) -> None:
        return None


class LiveEnvironment:
    """The configured, real environment: probes and the incident journal.

    Until the probe scheduler and the journal are wired in, services show UNKNOWN.
    """

    def __init__(self, config, state_dir):
        from .clocks import ServiceTargets
        from .timeutil import SystemClock

        self.config = config
        self.state_dir = state_dir
        self.clock = SystemClock()
        self.name = config.environment
        self.milestones = config.milestones
        self.services = tuple(ServiceTargets(s.id, s.title, s.rto, s.rpo) for s in config.services.values())
        self.priorities = {s.id: s.priority for s in config.services.values()}

    def health(self) -> list[ServiceHealth]:
        from .health import Status

        return [ServiceHealth(s.id, s.title, Status.UNKNOWN, "no answer yet", None)
                for s in self.services]

    def entries(self) -> Sequence[EntryLike]:
        return []

    async def run(self, changed: Callable[[], None]) -> None:
        return None

    def stop(self) -> None:
        return None
