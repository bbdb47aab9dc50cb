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
from .incident import EntryLike, Folder, IncidentState, fold
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

    async def run(self, changed: Callable[[], None]) -> None:
        """Background work; ``changed`` may be called from any thread."""

    def stop(self) -> None: ...


def derive(env: Environment) -> tuple[float, list[ServiceHealth], Sequence[EntryLike],
                                      IncidentState | None, list[ClockView]]:
    """Everything the main screen shows, at the environment's ``now``."""
    now = env.clock.now()
    health = env.health()
    entries = env.entries()
    if getattr(env, "loading", False):  # a preview of the newest entries: no state from it
        return now, health, entries, None, []
    folder = getattr(env, "_folder", None)
    if folder is None:
        folder = Folder()
        try:
            env._folder = folder  # type: ignore[attr-defined]
        except AttributeError:
            pass
    incident = folder.update(entries)
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
        self.local: list = []  # what the engineer did in the demo (kept in memory only)
        self.author = "you"

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
        scripted = self.player.entries(self.clock.now())
        out = sorted([*scripted, *self.local], key=lambda e: e.ts) if self.local else scripted
        # The same list object while nothing changed: the UI then has nothing to redraw.
        cached = getattr(self, "_entries_cache", None)
        if cached is not None and cached == out:
            return cached
        self._entries_cache = out
        return out

    # ---- operator actions (the same four as the live environment)
    def _add(self, kind: str, data: dict) -> None:
        from .incident import SimEntry

        self.local.append(SimEntry(self.clock.now(), self.author, kind, data, f"local:{len(self.local)}"))

    def declare(self, title: str, severity: str, services: Sequence[str], impact_start: float | None) -> None:
        data = {"title": title, "severity": severity, "services": list(services)}
        if impact_start is not None:
            data["impact_start"] = impact_start
        self._add("incident.declared", data)

    def set_status(self, status: str) -> None:
        from .incidents import IncidentError, check_transition

        inc = fold(self.entries())
        if inc is None:
            raise IncidentError("no incident declared")
        check_transition(inc.status, status)
        self._add("incident.status", {"status": status})

    def assign(self, role: str, person: str) -> None:
        self._add("role.assigned", {"role": role, "person": person})

    def update(self, **changes) -> None:
        self._add("incident.updated", changes)

    def note(self, type: str, text: str) -> None:
        self._add("note", {"type": type, "text": text})

    async def run(self, changed: Callable[[], None]) -> None:
        return None  # everything is a pure function of the clock

    def stop(self) -> None:
        return None


class LiveEnvironment:
    """The configured, real environment: the probe scheduler and the incident journal.

    ``health()`` is the scheduler's snapshot (last-known results are loaded from the state
    directory first, so a cockpit started during an outage shows what was last seen);
    ``entries()`` are the active incident's journal entries, followed live from every
    cockpit writing to the same state directory.
    """

    def __init__(self, config, state_dir, *, clock: Clock | None = None, probes: bool = True):
        from .clocks import ServiceTargets
        from .incidents import IncidentStore
        from .timeutil import SystemClock

        self.config = config
        self.state_dir = state_dir
        self.clock = clock or SystemClock()
        self.name = config.environment
        self.milestones = config.milestones
        self.services = tuple(ServiceTargets(s.id, s.title, s.rto, s.rpo) for s in config.services.values())
        self.priorities = {s.id: s.priority for s in config.services.values()}
        from .journal import default_author

        self.author = default_author()
        self.store = IncidentStore(state_dir, mode=config.mode, clock=self.clock, author=self.author)
        self.incident_id: str | None = None
        self.loading = False  # True while a big incident's first load runs (a preview shows)
        self._entries: list = []
        self._follower = None
        self._changed: Callable[[], None] | None = None
        self.scheduler = None
        self.problems: list[str] = []
        if probes:
            from .probes.scheduler import Scheduler, from_config

            anchors = []
            for a in config.connectivity_anchors:
                host, _, port = a.rpartition(":")
                if host and port.isdigit():
                    anchors.append((host.strip("[]"), int(port)))
            self.scheduler = Scheduler(from_config(config), state_dir, self.clock, anchors=anchors,
                                       on_change=self._probe_changed)
            self._health = self.scheduler.snapshot()  # last-known results, loaded from disk
        self._probe_dirty = False
        self._health_written: dict[str, str] = {}
        self._probe_loop = None
        self._probe_thread = None

    # The scheduler runs on its own thread and event loop: probe work (TLS set-up, parsing,
    # library code) never competes with keypresses on the UI loop. The UI reads the last
    # published snapshot, an immutable list swapped in atomically.
    def _probe_changed(self, _service: str) -> None:
        self._probe_dirty = True

    async def _probe_main(self) -> None:
        import asyncio

        self._probe_loop = asyncio.get_running_loop()
        task = asyncio.create_task(self.scheduler.run())
        try:
            while not task.done():
                await asyncio.sleep(0.2)
                if self._probe_dirty:
                    self._probe_dirty = False
                    self._health = self.scheduler.snapshot()
                    self._journal_health(self._health)
                    if self._changed is not None:
                        self._changed()
        finally:
            self.scheduler.stop()
            await asyncio.gather(task, return_exceptions=True)

    def _journal_health(self, health: list[ServiceHealth]) -> None:
        """During an incident, a health change of an affected service is an entry (the RTO
        clock of a service stops when it is journaled back to OK). A change another cockpit
        already journaled is not written again."""
        from .health import Status

        folder = getattr(self, "_folder", None)
        inc = folder.state if folder is not None else None
        iid = self.incident_id
        if inc is None or iid is None or not inc.active:
            return
        known = {sid: st for sid, st, _ in inc.service_health}
        for h in health:
            if h.service not in inc.services or h.status not in (Status.OK, Status.WARN, Status.FAIL):
                continue
            if known.get(h.service) == h.status.value or self._health_written.get(h.service) == h.status.value:
                continue
            try:
                self.store.journal(iid).append("health", {"service": h.service, "status": h.status.value,
                                                          "summary": h.summary[:300]})
                self._health_written[h.service] = h.status.value
            except OSError:
                return  # the banner tells; health is still shown live

    def _start_probes(self) -> None:
        import asyncio
        import threading

        if self.scheduler is None or self._probe_thread is not None:
            return
        import sys

        # The probe thread is CPU-busy in bursts; a short GIL switch interval lets a keypress
        # on the UI thread take the GIL within ~1 ms instead of ~5 ms per hand-over.
        sys.setswitchinterval(0.001)
        self._probe_thread = threading.Thread(target=lambda: asyncio.run(self._probe_main()),
                                              name="cockpit-probes", daemon=True)
        self._probe_thread.start()

    @property
    def offline(self) -> bool:
        return bool(self.scheduler is not None and self.scheduler.offline)

    def health(self) -> list[ServiceHealth]:
        if self.scheduler is None:
            from .health import Status

            return [ServiceHealth(s.id, s.title, Status.UNKNOWN, "probes not running", None)
                    for s in self.services]
        return self._health

    def entries(self) -> Sequence[EntryLike]:
        return self._entries

    def follow(self, incident_id: str | None) -> None:
        """Show ``incident_id`` (None: none); loads its entries and follows new ones."""
        from .journal import Follower

        self.incident_id = incident_id
        stop, loop = getattr(self, "_watch_stop", None), getattr(self, "_run_loop", None)
        if stop is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)  # the watcher of the previous incident
        if incident_id is None:
            self._follower, self._entries = None, []
            return
        import gc

        from .journal.watch import preview_tail

        # A big incident takes a second to load and verify: show its newest entries first
        # (read from the files' ends), marked as loading, then the whole verified record.
        preview = [e for e in preview_tail(self.state_dir, incident_id) if e.kind != "session-start"]
        if len(preview) > 200:
            self._entries = preview
            self.loading = True
            if self._changed is not None:
                self._changed()
        self._follower = Follower(self.state_dir, incident_id)
        # Loading 100,000 entries makes ~1M objects: no cyclic GC while they are built (30 %
        # faster), and frozen afterwards so later collections never walk them (no pauses).
        gc.disable()
        try:
            self._entries = [e for e in self._follower.poll() if e.kind != "session-start"]
        finally:
            gc.enable()
            gc.freeze()
            self.loading = False

    def _merge(self, new: list) -> bool:
        new = [e for e in new if e.kind != "session-start"]
        if not new:
            return False
        key = lambda e: (e.ts, e.writer, e.seq)  # noqa: E731
        if not self._entries or key(new[0]) >= key(self._entries[-1]):
            self._entries.extend(new)  # the usual case: later than all we have
        else:
            self._entries = sorted([*self._entries, *new], key=key)
        return True

    def poll(self) -> bool:
        """Pick up entries written by any cockpit; True when something new arrived."""
        if self._follower is None:
            # The newest incident (ids begin with their UTC declaration time): loaded once,
            # by the follower itself. A closed one is shown as the record it is.
            ids = sorted(self.store.ids()) if self.state_dir.exists() else []
            if not ids:
                return False
            self.follow(ids[-1])
            return True
        return self._merge(self._follower.poll())

    async def run(self, changed: Callable[[], None]) -> None:
        """Probes on their own thread; the active incident followed with inotify (another
        cockpit's entries show within a second), polling as the fallback."""
        import asyncio

        self._changed = changed
        self._start_probes()
        while True:
            if self._follower is None:
                if await asyncio.to_thread(self.poll):
                    changed()
                else:
                    await asyncio.sleep(1.0)
                continue
            follower = self._follower
            self._run_loop = asyncio.get_running_loop()
            self._watch_stop = stop = asyncio.Event()
            async for batch in follower.watch(interval=1.0, stop=stop):
                if self._follower is not follower:
                    break  # we switched incident (declared a new one)
                if self._merge(batch):
                    changed()
            if self._follower is not follower:
                changed()

    # ---- operator actions (blocking: they fsync; call them off the UI thread)
    def declare(self, title: str, severity: str, services: Sequence[str], impact_start: float | None) -> None:
        iid = self.store.declare(title, severity, services, impact_start)
        self.follow(iid)

    def _need_incident(self) -> str:
        from .incidents import IncidentError

        if self.incident_id is None:
            raise IncidentError("no incident declared")
        return self.incident_id

    def set_status(self, status: str) -> None:
        self.store.set_status(self._need_incident(), status)

    def assign(self, role: str, person: str) -> None:
        self.store.assign(self._need_incident(), role, person)

    def note(self, type: str, text: str) -> None:
        self.store.note(self._need_incident(), text, type)

    def update(self, **changes) -> None:
        self.store.update(self._need_incident(), **changes)

    @property
    def journal_error(self) -> str | None:
        if self.incident_id is None:
            return None
        j = self.store._journals.get(self.incident_id)
        return None if j is None else j.error

    def stop(self) -> None:
        loop, thread = self._probe_loop, self._probe_thread
        if self.scheduler is not None and loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.scheduler.stop)
            except RuntimeError:
                pass
        if thread is not None:
            thread.join(timeout=5)  # the scheduler saves the last-known results on stop
        self.store.close()
