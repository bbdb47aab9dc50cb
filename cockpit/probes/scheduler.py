"""Runs every probe on its interval, damps the verdicts and keeps the last-known results.

- One asyncio task per probe, first run after a small random jitter, then every ``interval``
  (measured start to start, skipping a beat when a run overran); a bounded semaphore caps the
  number of probes in flight. Sync libraries run in threads inside the kinds, so the event
  loop (a Textual app's, when the UI awaits ``run()`` in a worker) is never blocked.
- ``Damper`` is the pure state machine: DOWN after ``fail_after`` consecutive failures, WARN
  after as many non-OK runs, OK after ``recover_after`` consecutive successes. The first
  answer of a probe that never answered is shown as it is (no history to damp against).
- ``display_status``: a result older than interval + deadline + grace is STALE, never green.
- Self-check (``selfcheck``, design decision 8.7): a run that failed at the network level
  (unreachable, no answer to connect, name not resolved) is judged only once the cockpit has
  looked at its own side (``localnet.observe``: interfaces, routes, resolver, anchors; cached
  for ``selfcheck_ttl``) and at what every other probe saw. When the verdict explains the
  failure (own network down, own DNS down, no route from here), the run counts toward nothing:
  the probe shows UNKNOWN with its last-known state and that state's age. A failure already
  counted is taken back when a later verdict explains it (the probes of one round fail one by
  one), so nothing turns DOWN on that evidence.
- Last-known results persist in ``<state_dir>/probes.toml`` (temp + fsync + rename + fsync
  of the directory), loaded on start so a cockpit started during an outage shows what was
  last seen and how old it is (STALE until fresh answers arrive).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import tomllib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import Config
from ..health import ProbeResult, ServiceHealth, Status
from ..journal.perms import ensure_dir, file_mode
from ..journal.snapshot import write_bytes_atomic
from ..text import one_line
from ..timeutil import Clock, SystemClock
from . import _lazy, base, localnet
from .base import ProbeTarget
from .damping import Damper, stale_after
from .laststate import STATE_FILE, dumps_state, result_from_record
from .probestate import ProbeState, service_health
from .selfcheck import Evidence, NetworkState, Outcome, Verdict, decide, endpoints, outcome

Runner = Callable[[ProbeTarget, float, Callable[[], float]], Awaitable[ProbeResult]]
Observer = Callable[..., Awaitable[localnet.Observation]]
NETWORK_FAILURE = (Outcome.NETWORK, Outcome.DNS)



@dataclass(frozen=True)
class ServiceSpec:
    id: str
    title: str
    probes: tuple[ProbeTarget, ...] = ()
    priority: str | int = ""
    rto: float | None = None
    rpo: float | None = None


def from_config(config: Config) -> list[ServiceSpec]:
    """ServiceSpecs from the loaded configuration (durations in seconds, options validated)."""
    out = []
    for s in config.services.values():
        probes = []
        for p in s.probes:
            options = dict(p.options or {})
            if p.kind == "redis" and options.get("rpo") is None and s.rpo:
                options["rpo"] = float(s.rpo)  # judge the last save against the service's RPO
            probes.append(ProbeTarget(
                service=s.id, name=p.name, kind=p.kind, options=options,
                interval=float(p.interval), deadline=float(p.deadline),
                fail_after=int(p.fail_after), recover_after=int(p.recover_after)))
        out.append(ServiceSpec(id=s.id, title=s.title, probes=tuple(probes),
                               priority=s.priority, rto=s.rto, rpo=s.rpo))
    return out


def anchors_from_config(config: Config) -> list[tuple[str, int]]:
    """Self-check anchors, (host, port) pairs parsed and validated by the configuration."""
    return list(config.connectivity_anchors)


class Scheduler:
    """Concurrent probe runner; ``snapshot()`` is what the health panes and ``status`` show."""

    def __init__(self, services: Sequence[ServiceSpec], state_dir: Path | None = None,
                 clock: Clock | None = None, *, concurrency: int = 64, jitter: float = 1.0,
                 grace: float = 5.0, anchors: Iterable[tuple[str, int]] = (),
                 anchor_timeout: float = 2.0, selfcheck_ttl: float = 10.0,
                 on_change: Callable[[str], None] | None = None, runner: Runner | None = None,
                 observer: Observer | None = None,
                 load: bool = True, damp_loaded: bool = True, save: bool = True,
                 save_every: float = 2.0,
                 tick: float = 1.0, mode: str = "personal"):
        self.services = list(services)
        self.mode = mode  # of the state directory: personal (0600 files) or shared (0640)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.clock = clock or SystemClock()
        self.concurrency = max(1, concurrency)
        self.jitter = max(0.0, jitter)
        self.grace = grace
        self.anchors = list(anchors)
        self.anchor_timeout = anchor_timeout
        self.selfcheck_ttl = selfcheck_ttl
        self.on_change = on_change
        self.runner: Runner = runner or base.run_probe
        self.observer: Observer = observer or localnet.observe
        self.save_enabled = save and self.state_dir is not None
        self.save_every = save_every
        self.tick = tick
        self.states: dict[tuple[str, str], ProbeState] = {}
        for s in self.services:
            for t in s.probes:
                self.states[(s.id, t.name)] = ProbeState(t, Damper(t.fail_after, t.recover_after))
        self.network = NetworkState()  # the self-check's verdict on our own side
        self.selfcheck_error: str | None = None
        self._observation: localnet.Observation | None = None
        self._observe_task: asyncio.Task[None] | None = None
        self.load_error: str | None = None
        self.save_error: str | None = None
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._dirty = False
        self._shown: dict[str, tuple[Status, float | None]] = {}
        self._warm = False
        self._stop_requested = False
        self.damp_loaded = damp_loaded  # False: last-known shown, not damped against
        if load and self.state_dir is not None:
            self.load()

    # ------------------------------------------------------------ running

    async def warm_up(self) -> None:
        """Import the kind modules and build TLS contexts in a thread, not on the event loop."""
        if self._warm:
            return
        kinds = sorted({st.target.kind for st in self.states.values()})
        await asyncio.to_thread(_lazy.warm, kinds)
        self._warm = True

    async def run(self) -> None:
        """Run until ``stop()``; safe to await in a Textual worker on the app's loop."""
        self._stop = asyncio.Event()
        if self._stop_requested:  # stop() came before run()
            self._stop_requested = False
            return
        # our own side first, while the client libraries load: a cockpit started with no
        # network says so before any probe ran
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(self.network_state(), name="self-check")]
        try:
            await self.warm_up()
            tasks += [asyncio.create_task(self._loop(st), name=f"probe {st.target.id}")
                      for st in self.states.values()]
            tasks.append(asyncio.create_task(self._housekeeping(), name="probe housekeeping"))
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._dirty and self.save_enabled:
                await self._save_async()
            self._stop = None

    def stop(self) -> None:
        """Ask ``run()`` to end (call from the loop's thread; use call_soon_threadsafe else)."""
        if self._stop is not None and not self._stop.is_set():
            self._stop.set()
        else:
            self._stop_requested = True

    async def run_once(self, *, keys: Iterable[tuple[str, str]] | None = None) -> list[ServiceHealth]:
        """One round of every probe (or of ``keys``), concurrently; returns the snapshot."""
        chosen = [self.states[k] for k in keys] if keys is not None else list(self.states.values())
        await self.warm_up()
        tasks = []
        for i, st in enumerate(chosen):
            tasks.append(asyncio.create_task(self._run_one(st)))
            if i % 8 == 7:
                await asyncio.sleep(0)  # start in small batches: the loop stays responsive
        await asyncio.gather(*tasks)
        self.redecide()
        if self._dirty and self.save_enabled:
            await self._save_async()
        return self.snapshot()

    async def _loop(self, st: ProbeState) -> None:
        await asyncio.sleep(random.uniform(0, min(self.jitter, st.target.interval)))
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self._run_one(st)
            interval = max(0.05, st.target.interval)
            ra = st.last.metrics.get("retry_after") if st.last is not None else None
            try:
                # rate limited: honour Retry-After (capped at 10 intervals)
                interval = max(interval, min(float(ra), 10 * interval)) if ra else interval
            except (TypeError, ValueError):
                pass
            elapsed = loop.time() - started
            await asyncio.sleep(interval - (elapsed % interval) if elapsed > interval else interval - elapsed)

    async def _run_one(self, st: ProbeState) -> None:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:
            self._sem, self._sem_loop = asyncio.Semaphore(self.concurrency), loop
        st.running = True
        try:
            async with self._sem:
                try:
                    # run_probe keeps its own deadline; this net catches a runner that does not
                    async with asyncio.timeout(st.target.deadline + 1.0):
                        res = await self.runner(st.target, st.target.deadline, self.clock.now)
                except TimeoutError:
                    res = ProbeResult(Status.FAIL, "no answer within the deadline", self.clock.now(),
                                      error=f"probe overran its {st.target.deadline:g}s deadline",
                                      error_class=base.TIMEOUT)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - a runner bug must not kill the loop
                    cls, msg = base.classify(e)
                    res = ProbeResult(Status.FAIL, "probe error", self.clock.now(), error=msg,
                                      error_class=cls)
            out = outcome(res)
            if out in NETWORK_FAILURE:
                # decided before the service is judged: is it our own side? (decision 8.7)
                st.raw = res
                remote = any(not localnet.is_loopback(h) for h in st.hosts)
                why = (await self.network_state(resolver=remote)).explains(st.target, res)
                if why is not None:
                    st.undecided, st.undo = (why, res), None
                    self._call_on_change(st.target.service)
                    return
            self.record(st.target.service, st.target.name, res)
            if out == Outcome.ANSWERED and self.network.verdict not in (Verdict.OK, Verdict.UNKNOWN):
                self.redecide()  # something answered: maybe our network is back
                self._look_again()
        finally:
            st.running = False

    async def _housekeeping(self) -> None:
        last_save = time.monotonic()
        while True:
            await asyncio.sleep(self.tick)
            self._notify_changes()
            if self.network.verdict not in (Verdict.OK, Verdict.UNKNOWN):
                self._look_again(min_age=self.selfcheck_ttl)
            if self.save_enabled and self._dirty and time.monotonic() - last_save >= self.save_every:
                last_save = time.monotonic()
                self._dirty = False
                await self._save_async()

    # ------------------------------------------------------------ self-check

    @property
    def offline(self) -> bool:
        """The cockpit's own network is down (the self-check's verdict)."""
        return self.network.verdict == Verdict.OFFLINE

    @property
    def offline_checked_at(self) -> float | None:
        return None if self._observation is None else self._observation.at

    async def network_state(self, *, resolver: bool = False) -> NetworkState:
        """Look at our own side (at most every ``selfcheck_ttl``; ``resolver``: ask the
        nameservers too) and decide with what every probe saw."""
        for _ in range(2):  # twice: the look in flight may not have asked the resolver
            obs = self._observation
            if obs is not None and time.monotonic() - obs.at < self.selfcheck_ttl and (
                    not resolver or obs.resolver.answers is not None):
                break
            task = self._observe_task
            if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
                self._observe_task = task = asyncio.create_task(self._observe(resolver))
            await asyncio.shield(task)
        return self.redecide()

    def _look_again(self, min_age: float = 0.0) -> None:
        """While a verdict blames our side, look again (in the background) when something
        answered or every ``selfcheck_ttl``: the banner goes when the network is back."""
        obs, task = self._observation, self._observe_task
        if obs is None or (task is not None and not task.done()) \
                or time.monotonic() - obs.at < min_age:
            return
        self._observe_task = task = asyncio.create_task(
            self._observe(obs.resolver.answers is not None))
        task.add_done_callback(lambda _t: self.redecide())

    async def _observe(self, resolver: bool) -> None:
        hosts = [hp for st in self.states.values() for hp in endpoints(st.target)]
        try:
            self._observation = await self.observer(hosts, self.anchors, resolver=resolver,
                                                    anchor_timeout=self.anchor_timeout)
            self.selfcheck_error = None
        except Exception as e:  # noqa: BLE001 - a self-check bug must not stop probing: shown
            self.selfcheck_error = f"{type(e).__name__}: {one_line(e, 200)}"

    def redecide(self) -> NetworkState:
        """The verdict from the last observation and the probes' latest runs; a new verdict
        takes back the failures it explains and redraws every service."""
        if self._observation is None:
            return self.network
        now = self.clock.now()
        evidence = [Evidence(st.target.id, st.hosts, outcome(st.raw)) for st in self.states.values()
                    if st.raw is not None
                    and now - st.raw.observed_at <= stale_after(st.target, self.grace)]
        state = decide(self._observation, evidence)
        old, self.network = self.network, state
        if (state.verdict, state.text) != (old.verdict, old.text):
            self._rejudge(state)
            for s in self.services:
                self._call_on_change(s.id)
        return state

    def _rejudge(self, state: NetworkState) -> None:
        for st in self.states.values():
            if st.undecided is not None:
                why = state.explains(st.target, st.undecided[1])
                if why is not None:
                    st.undecided = (why, st.undecided[1])
            elif st.undo is not None and st.raw is not None:
                why = state.explains(st.target, st.raw)
                if why is not None:  # counted before the verdict came: take it back
                    st.last, st.damper = st.undo
                    st.undecided, st.undo = (why, st.raw), None
                    self._dirty = True

    # ------------------------------------------------------------ results

    def record(self, service: str, name: str, res: ProbeResult) -> None:
        """Account one result (also the way the demo/exercise engine injects states)."""
        st = self.states.get((service, name))
        if st is None:
            return
        st.raw, st.undecided = res, None
        st.undo = (st.last, replace(st.damper)) if outcome(res) in NETWORK_FAILURE else None
        if res.error_class == base.CONFIG:
            # our configuration is wrong, not the service: never "DOWN" (nor an exit code 2)
            summary = res.summary if res.summary.startswith("probe misconfigured") \
                else f"probe misconfigured: {res.summary}"
            res = replace(res, status=Status.UNKNOWN, raw_status=res.status, summary=summary)
        damped = st.damper.feed(res.status, res.observed_at)
        if res.error_class in (base.OFFLINE, base.CONFIG):
            stored = res  # UNKNOWN, the probe's own verdict in raw_status
        elif damped == res.status:
            stored = res
        elif damped == Status.OK and res.status in (Status.WARN, Status.FAIL):
            # failing but not yet confirmed (fail_after): amber, never a green word next to
            # a "refused" summary
            n = st.damper.bad_streak
            stored = replace(res, status=Status.WARN, raw_status=res.status,
                             summary=f"unconfirmed ({n} of {st.target.fail_after}): {res.summary}")
        else:
            stored = replace(res, status=damped, raw_status=res.status)
        st.last = stored
        st.runs += 1
        if res.latency is not None and math.isfinite(res.latency):
            st.latencies.append(float(res.latency))
        self._dirty = True
        self._call_on_change(service)

    def _call_on_change(self, service: str) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(service)
        except Exception:  # noqa: BLE001 - a UI callback bug must not stop probing
            pass

    def _notify_changes(self) -> None:
        """Call ``on_change`` for services whose shown status changed by time alone (stale)."""
        for h in self.snapshot():
            key = (h.status, h.observed_at)
            if self._shown.get(h.service, key) != key:
                self._call_on_change(h.service)
            self._shown[h.service] = key

    def probe_view(self, service: str, name: str) -> ProbeResult | None:
        st = self.states.get((service, name))
        return None if st is None else st.view(self.clock.now(), self.grace)

    def snapshot(self) -> list[ServiceHealth]:
        now = self.clock.now()
        summary = "cockpit offline" if self.offline else "no answer yet"
        return [service_health(s, [self.states[(s.id, t.name)] for t in s.probes], now,
                               self.grace, summary) for s in self.services]

    # ------------------------------------------------------------ persistence

    @property
    def state_file(self) -> Path | None:
        return None if self.state_dir is None else self.state_dir / STATE_FILE

    def save(self) -> None:
        """Write last-known results atomically (temp + fsync + rename + fsync dir)."""
        path = self.state_file
        if path is None:
            return
        self._dirty = False
        try:
            text = dumps_state(self.states.values(), self.clock.now())
            self._write(path, text)
            self.save_error = None
        except OSError as e:
            self.save_error = f"cannot save {path}: {e.strerror or e}"

    async def _save_async(self) -> None:
        """Serialize on the loop (states keep changing there), write in a thread."""
        path = self.state_file
        if path is None:
            return
        self._dirty = False
        text = dumps_state(self.states.values(), self.clock.now())
        try:
            await asyncio.to_thread(self._write, path, text)
            self.save_error = None
        except OSError as e:
            self.save_error = f"cannot save {path}: {e.strerror or e}"

    def _write(self, path: Path, text: str) -> None:
        """Atomically, with the state directory's safety checks and file modes."""
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        ensure_dir(path.parent, self.mode)
        write_bytes_atomic(path, text.encode("utf-8"), mode=file_mode(self.mode))

    def load(self) -> None:
        path = self.state_file
        if path is None or not path.exists():
            return
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            self.load_error = f"ignored {path}: {one_line(e, 120)}"
            return
        for rec in doc.get("probe", []) if isinstance(doc.get("probe"), list) else []:
            try:
                st = self.states.get((str(rec["service"]), str(rec["name"])))
                if st is None or rec.get("kind") != st.target.kind:
                    continue
                res = result_from_record(rec)
                st.last = res
                if self.damp_loaded:
                    st.damper.status = res.status
                    ds = rec.get("down_since")
                    st.damper.down_since = float(ds) if isinstance(ds, int | float) else None
                lat = rec.get("latencies", [])
                st.latencies.extend(float(x) for x in lat if isinstance(x, int | float))
            except (KeyError, TypeError, ValueError):
                continue
