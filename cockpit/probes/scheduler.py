"""Runs every probe on its interval, damps the verdicts and keeps the last-known results.

- One asyncio task per probe, first run after a small random jitter, then every ``interval``
  (measured start to start, skipping a beat when a run overran); a bounded semaphore caps the
  number of probes in flight. Sync libraries run in threads inside the kinds, so the event
  loop (a Textual app's, when the UI awaits ``run()`` in a worker) is never blocked.
- ``Damper`` is the pure state machine: DOWN after ``fail_after`` consecutive failures, WARN
  after as many non-OK runs, OK after ``recover_after`` consecutive successes. The first
  answer of a probe that never answered is shown as it is (no history to damp against).
- ``display_status``: a result older than interval + deadline + grace is STALE, never green.
- Self-check: when a probe fails with a network-ish error (refused, timeout, DNS) and TCP
  connects to every configured anchor fail too, the cockpit's own network is down: the run is
  recorded as UNKNOWN "cockpit offline" and does not count toward DOWN.
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
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..health import ProbeResult, ServiceHealth, Status, worst
from ..journal.perms import ensure_dir, file_mode
from ..journal.snapshot import write_bytes_atomic
from ..text import one_line
from ..timeutil import Clock, SystemClock
from . import base
from .base import ProbeTarget
from .damping import Damper, display_status, stale_after
from .laststate import STATE_FILE, dumps_state, result_from_record

Runner = Callable[[ProbeTarget, float, Callable[[], float]], Awaitable[ProbeResult]]

HISTORY = 30


@dataclass(frozen=True)
class ServiceSpec:
    id: str
    title: str
    probes: tuple[ProbeTarget, ...] = ()
    priority: str | int = ""
    rto: float | None = None
    rpo: float | None = None


def from_config(config: Any) -> list[ServiceSpec]:
    """ServiceSpecs from the loaded configuration (``config.services`` or a list of services).

    Reads ``id, title, priority, rto, rpo, probes`` and per probe ``name, kind, interval,
    deadline, fail_after, recover_after, options`` (durations in seconds, options validated).
    """
    services = getattr(config, "services", config) or []
    if isinstance(services, dict):
        services = list(services.values())
    out = []
    for s in services:
        sid = str(s.id)
        probes = []
        rpo = getattr(s, "rpo", None)
        for p in getattr(s, "probes", []) or []:
            options = dict(p.options or {})
            if p.kind == "redis" and options.get("rpo") is None and rpo:
                options["rpo"] = float(rpo)  # judge the last save against the service's RPO
            probes.append(ProbeTarget(
                service=sid, name=str(p.name), kind=str(p.kind), options=options,
                interval=float(getattr(p, "interval", 30.0) or 30.0),
                deadline=float(getattr(p, "deadline", 5.0) or 5.0),
                fail_after=int(getattr(p, "fail_after", 3) or 1),
                recover_after=int(getattr(p, "recover_after", 2) or 1)))
        out.append(ServiceSpec(id=sid, title=str(getattr(s, "title", sid) or sid), probes=tuple(probes),
                               priority=getattr(s, "priority", "") or "",
                               rto=getattr(s, "rto", None), rpo=getattr(s, "rpo", None)))
    return out


def anchors_from_config(config: Any) -> list[tuple[str, int]]:
    """Self-check anchors, (host, port) pairs parsed and validated by the configuration."""
    return list(getattr(config, "connectivity_anchors", ()) or ())


# ---------------------------------------------------------------- per-probe state


@dataclass
class ProbeState:
    target: ProbeTarget
    damper: Damper
    last: ProbeResult | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    shown: Status = Status.UNKNOWN
    running: bool = False
    runs: int = 0

    def view(self, now: float, grace: float) -> ProbeResult | None:
        if self.last is None:
            return None
        shown = display_status(self.last.status, self.last.observed_at, now,
                               stale_after(self.target, grace))
        if shown == self.last.status and self.last.raw_status is None:
            return self.last
        summary = self.last.summary
        if shown == Status.STALE:
            summary = f"no fresh answer; last: {self.last.status.word} {summary}"
        return replace(self.last, status=shown, raw_status=self.last.raw_status or self.last.status,
                       summary=summary)


class Scheduler:
    """Concurrent probe runner; ``snapshot()`` is what the health panes and ``status`` show."""

    def __init__(self, services: Sequence[ServiceSpec], state_dir: Path | None = None,
                 clock: Clock | None = None, *, concurrency: int = 64, jitter: float = 1.0,
                 grace: float = 5.0, anchors: Iterable[tuple[str, int]] = (),
                 anchor_timeout: float = 2.0, selfcheck_ttl: float = 10.0,
                 on_change: Callable[[str], None] | None = None, runner: Runner | None = None,
                 load: bool = True, save: bool = True, save_every: float = 2.0,
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
        self.save_enabled = save and self.state_dir is not None
        self.save_every = save_every
        self.tick = tick
        self.states: dict[tuple[str, str], ProbeState] = {}
        for s in self.services:
            for t in s.probes:
                self.states[(s.id, t.name)] = ProbeState(t, Damper(t.fail_after, t.recover_after))
        self.offline: bool = False  # last self-check verdict
        self.offline_checked_at: float | None = None
        self.load_error: str | None = None
        self.save_error: str | None = None
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._dirty = False
        self._selfcheck_task: asyncio.Task[bool] | None = None
        self._shown: dict[str, tuple[Status, float | None]] = {}
        self._warm = False
        self._stop_requested = False
        if load and self.state_dir is not None:
            self.load()

    # ------------------------------------------------------------ running

    async def warm_up(self) -> None:
        """Import the kind modules and build TLS contexts in a thread, not on the event loop."""
        if self._warm:
            return
        kinds = sorted({st.target.kind for st in self.states.values()})
        await asyncio.to_thread(_warm, kinds)
        self._warm = True

    async def run(self) -> None:
        """Run until ``stop()``; safe to await in a Textual worker on the app's loop."""
        self._stop = asyncio.Event()
        if self._stop_requested:  # stop() came before run()
            self._stop_requested = False
            return
        await self.warm_up()
        tasks = [asyncio.create_task(self._loop(st), name=f"probe {st.target.id}")
                 for st in self.states.values()]
        tasks.append(asyncio.create_task(self._housekeeping(), name="probe housekeeping"))
        try:
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
            if res.status != Status.OK and res.error_class in base.NETWORK_CLASSES and self.anchors \
                    and not await self._network_ok():
                res = replace(res, status=Status.UNKNOWN, raw_status=res.status,
                              error_class=base.OFFLINE,
                              summary="cockpit offline: no network anchor reachable; "
                                      f"service state unknown (probe said: {res.summary})")
            self.record(st.target.service, st.target.name, res)
        finally:
            st.running = False

    async def _housekeeping(self) -> None:
        last_save = time.monotonic()
        while True:
            await asyncio.sleep(self.tick)
            self._notify_changes()
            if self.save_enabled and self._dirty and time.monotonic() - last_save >= self.save_every:
                last_save = time.monotonic()
                self._dirty = False
                await self._save_async()

    # ------------------------------------------------------------ self-check

    async def _network_ok(self) -> bool:
        now = time.monotonic()
        if self.offline_checked_at is not None and now - self.offline_checked_at < self.selfcheck_ttl:
            return not self.offline
        task = self._selfcheck_task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._selfcheck_task = task = asyncio.create_task(self.self_check())
        return await asyncio.shield(task)

    async def self_check(self) -> bool:
        """TCP connect to the anchors; True when at least one answers (or none configured)."""
        if not self.anchors:
            return True

        async def one(host: str, port: int) -> bool:
            try:
                async with asyncio.timeout(self.anchor_timeout):
                    _, w = await asyncio.open_connection(host, port)
                w.transport.abort()
                return True
            except (OSError, TimeoutError):
                return False

        oks = await asyncio.gather(*(one(h, p) for h, p in self.anchors))
        was = self.offline
        self.offline = not any(oks)
        self.offline_checked_at = time.monotonic()
        if was != self.offline:
            for s in self.services:
                self._call_on_change(s.id)
        return not self.offline

    # ------------------------------------------------------------ results

    def record(self, service: str, name: str, res: ProbeResult) -> None:
        """Account one result (also the way the demo/exercise engine injects states)."""
        st = self.states.get((service, name))
        if st is None:
            return
        if res.error_class == base.CONFIG:
            # our configuration is wrong, not the service: never "DOWN" (nor an exit code 2)
            res = replace(res, status=Status.UNKNOWN, raw_status=res.status,
                          summary=f"probe misconfigured: {res.summary}")
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
        return [self._service_health(s, now) for s in self.services]

    def _service_health(self, spec: ServiceSpec, now: float) -> ServiceHealth:
        views: dict[str, ProbeResult] = {}
        order = []
        for t in spec.probes:
            st = self.states[(spec.id, t.name)]
            v = st.view(now, self.grace)
            order.append((t, st, v))
            if v is not None:
                views[t.name] = v
        statuses = [v.status if v is not None else Status.UNKNOWN for _, _, v in order]
        status = worst(statuses) if statuses else Status.UNKNOWN
        summary = ""
        key = None
        split = None
        pg = {n: v for n, v in views.items()
              if self.states[(spec.id, n)].target.kind == "postgres" and v.status != Status.STALE}
        if len(pg) >= 2:
            from .postgres import split_brain

            split = split_brain(pg)
        if split:
            status = Status.FAIL
            summary = split
        if not views:
            summary = "cockpit offline" if self.offline else "no answer yet"
        else:
            worst_view = None
            for t, _st, v in order:
                if v is None:
                    continue
                if worst_view is None or v.status.severity > worst_view[1].status.severity:
                    worst_view = (t, v)
            assert worst_view is not None
            t0, v0 = worst_view
            if not summary:
                summary = v0.summary if len(order) == 1 else f"{t0.name}: {v0.summary}"
            key = v0.key_figure
            if v0.status == Status.OK:
                key = next((v.key_figure for _, _, v in order if v is not None and v.key_figure), None)
        observed = [v.observed_at for v in views.values()]
        expo: list[float] = []
        for v in views.values():
            x = v.metrics.get("rpo_exposure")
            if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x):
                expo.append(float(x))
        first = self.states[(spec.id, spec.probes[0].name)] if spec.probes else None
        downs = [st.damper.down_since for _, st, _ in order if st.damper.down_since is not None]
        return ServiceHealth(
            service=spec.id, title=spec.title, status=status, summary=summary,
            observed_at=min(observed) if observed else None, key_figure=key,
            latencies=tuple(first.latencies) if first else (), probes=views,
            rpo_exposure=max(expo) if expo else None,
            down_since=min(downs) if downs and status == Status.FAIL else None)

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
                st.damper.status = res.status
                ds = rec.get("down_since")
                st.damper.down_since = float(ds) if isinstance(ds, int | float) else None
                lat = rec.get("latencies", [])
                st.latencies.extend(float(x) for x in lat if isinstance(x, int | float))
            except (KeyError, TypeError, ValueError):
                continue


def _warm(kinds: list[str]) -> None:
    from . import KINDS, _lazy, _module

    for k in kinds:
        if k in KINDS:
            try:
                mod = _module(k)
                _lazy.load(*vars(mod).values())  # the client library (psycopg, redis...)
            except Exception:  # noqa: BLE001 - a broken kind is reported by its runs
                continue
            if k in ("http", "horizon"):
                import anyio._backends._asyncio  # noqa: F401 - imported lazily on first request
                import h11  # noqa: F401
                import httpcore._async.http11  # noqa: F401

                from . import _http

                _lazy.load(_http.httpx)
                _http.ssl_context(True, None)
            if k == "dns":
                import dns._asyncio_backend  # noqa: F401
            if k in ("s3", "walg"):
                import boto3.session  # noqa: F401
            del mod
