"""The configured, real environment: the probe scheduler and the incident journal.

``health`` is the scheduler's snapshot (last-known results are loaded from the state
directory first, so a cockpit started during an outage shows what was last seen); the
entries are the followed incident's journal entries, read from every cockpit writing to the
same state directory. The session owns the incident fold and journals health changes of the
affected services itself (the RTO clock of a service stops when it is journaled back to OK).

Threads and ownership: the probe scheduler runs on its own thread and event loop (probe work
never competes with keypresses) and publishes an immutable health list; ``run()`` follows
the journal on the UI's loop; actions and ``follow()`` run in UI worker threads. Every piece
of mutable state below is read and replaced under ``self._lock``; slow work (reading a
journal, fsync) happens outside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..config import Config
from ..health import ServiceHealth, Status
from ..incident.clocks import ServiceTargets, incident_clocks
from ..incident.fold import Folder
from ..incident.model import EntryLike, IncidentState, SimEntry
from ..incident.store import IncidentError, IncidentStore
from ..journal import Follower, Journal, JournalWriteError, default_author
from ..journal.validate import is_unreadable, unreadable_line
from ..journal.watch import preview_tail
from ..probes.scheduler import Scheduler, anchors_from_config, from_config
from ..probes.selfcheck import Verdict
from ..text import one_line
from ..timeutil import Clock, SystemClock
from .protocol import (
    Banner,
    BannerLevel,
    Capabilities,
    IncidentChoice,
    SessionKind,
    View,
)
from .steps import LiveSteps

JOURNAL_RETRY = 5.0  # seconds between automatic retries of a failed journal
RECOVERED_NOTICE = 60.0  # seconds the "journal writable again" notice stays


def _ago(seconds: float) -> str:
    """"4m ago": coarse (minutes), so the sync line changes once a minute, not every second."""
    m = int(max(0.0, seconds)) // 60
    if m < 1:
        return "under 1m ago"
    return f"{m}m ago" if m < 60 else f"{m // 60}h{m % 60:02d}m ago"


class LiveSession:
    """See the module docstring. ``probes=False``: no scheduler (tests, tools)."""

    kind = SessionKind.LIVE

    def __init__(self, config: Config, state_dir: Path, *, clock: Clock | None = None,
                 probes: bool = True, runbook_dirs: Sequence[Path] = ()) -> None:
        self.config = config
        self.state_dir = Path(state_dir)
        self.clock: Clock = clock or SystemClock()
        self.name = config.environment
        self.milestones = config.milestones
        self.services: tuple[ServiceTargets, ...] = tuple(
            ServiceTargets(s.id, s.title, s.rto, s.rpo) for s in config.services.values())
        self.priorities = {s.id: s.priority for s in config.services.values()}
        self.author = default_author()
        self.store = IncidentStore(self.state_dir, mode=config.mode, clock=self.clock,
                                   author=self.author)
        self.runbooks = LiveSteps(self, tuple(runbook_dirs))
        self._lock = threading.RLock()
        self._changed: Callable[[], None] = lambda: None
        # --- followed incident (under _lock)
        self.incident_id: str | None = None
        self._loading = False
        self._entries: list[Any] = []
        self._follower: Follower | None = None
        self._folder = Folder()
        self._state: IncidentState | None = None
        self._pending: list[SimEntry] = []
        self._follow_problems: list[str] = []
        # hash-valid records that are not well-formed (shown, never folded), and writer
        # files not proven to be by who they say (shared mode)
        self._unreadable: list[Any] = []
        self._authorship: list[str] = []
        self._journal_notice: tuple[float, str] | None = None
        self._probe_error: str | None = None
        # --- health (the probe thread replaces _health; readers take the reference)
        self.scheduler: Scheduler | None = None
        self._health: list[ServiceHealth] = []
        self._health_written: dict[str, str] = {}
        if probes:
            self.scheduler = Scheduler(from_config(config), self.state_dir, self.clock,
                                       anchors=anchors_from_config(config),
                                       on_change=self._probe_changed, mode=config.mode)
            self._health = self.scheduler.snapshot()  # last-known results, loaded from disk
        self._probe_event: asyncio.Event | None = None
        self._probe_loop: asyncio.AbstractEventLoop | None = None
        self._probe_thread: threading.Thread | None = None
        self._watch_stop: asyncio.Event | None = None
        self._run_loop: asyncio.AbstractEventLoop | None = None
        # --- journal sync across bastions ([sync]; the engine runs in a worker thread)
        self._sync: Any = None
        self._sync_report: Any = None  # the last run's cockpit.sync.Report
        self._sync_last_ok: float | None = None  # time.time() of the last complete run
        self._sync_writes = 0  # this cockpit's writes since the current run began
        self._sync_wake: asyncio.Event | None = None  # set by a write: sync soon
        if config.sync is not None:
            from ..sync import make_engine

            self._sync = make_engine(config.sync, self.state_dir, mode=config.mode)

    # ------------------------------------------------------------------ the seam: reading
    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(declare=True, follow=True, execute=True)

    def health(self) -> list[ServiceHealth]:
        if self.scheduler is None:
            return [ServiceHealth(s.id, s.title, Status.UNKNOWN, "probes not running", None)
                    for s in self.services]
        return self._health

    def view(self) -> View:
        now = self.clock.now()
        health = self.health()
        with self._lock:
            entries, loading, state = self._entries, self._loading, self._state
            iid, pending = self.incident_id, tuple(self._pending)
        unsaved = self._unsaved()
        clocks = [] if loading or state is None else incident_clocks(
            state, self.services, {h.service: h for h in health}, self.milestones, now)
        return View(now=now, health=health, entries=entries, pending=pending, unsaved=unsaved,
                    incident=None if loading else state, incident_id=iid, clocks=clocks,
                    loading=loading, banners=self._banners(now), paused=False,
                    sync=self.sync_status())

    def _sync_soon(self) -> None:
        """A local write: counted as waiting, and the sync loop woken (from any thread)."""
        wake, loop = self._sync_wake, self._run_loop
        if self._sync is None or wake is None or loop is None or loop.is_closed():
            return
        self._sync_writes += 1
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(wake.set)

    def sync_status(self) -> str:
        """"sync: N entries waiting, last sync 4m ago" (empty without [sync])."""
        if self._sync is None:
            return ""
        rep, last = self._sync_report, self._sync_last_ok
        ago = "never" if last is None else _ago(time.time() - last)
        if rep is None:
            return "sync: starting"
        waiting = rep.waiting + self._sync_writes
        if rep.error is None and waiting == 0:
            return f"sync: up to date ({ago})"
        return f"sync: {waiting} entries waiting, last sync {ago}"

    def _sync_banners(self) -> list[Banner]:
        rep = self._sync_report
        if self._sync is None or rep is None:
            return []
        out = []
        if rep.error is not None:
            out.append(Banner("sync", BannerLevel.WARNING, (
                f"Sync behind: {self.sync_status().removeprefix('sync: ')} "
                f"(S3: {one_line(rep.error, 100)}). Entries are saved here; they go out when "
                "S3 answers.")))
        if rep.problems:
            n = len(rep.problems)
            out.append(Banner("sync-quarantine", BannerLevel.ERROR, (
                f"Sync: {n} problem{'' if n == 1 else 's'} with the bucket, nothing of it "
                f"merged: {one_line(rep.problems[0], 200)}. `cockpit sync --once` lists "
                "them.")))
        return out

    def _journal(self) -> Journal | None:
        iid = self.incident_id
        return None if iid is None else self.store.opened_journal(iid)

    def _unsaved(self) -> tuple[SimEntry, ...]:
        j = self._journal()
        if j is None:
            return ()
        return tuple(SimEntry(u.ts, u.author, u.kind, dict(u.data)) for u in j.unsaved
                     if u.kind != "session-start")

    def _banners(self, now: float) -> tuple[Banner, ...]:
        out: list[Banner] = self._sync_banners()
        j = self._journal()
        if j is not None and j.failed:
            n = len([u for u in j.unsaved if u.kind != "session-start"])
            out.append(Banner("journal", BannerLevel.ERROR, (
                f"JOURNAL NOT WRITABLE: {j.error}. Read-only: {n} unsaved "
                f"entr{'y' if n == 1 else 'ies'} kept in memory (lost if the cockpit ends); "
                f"destructive steps refused. Retrying every {JOURNAL_RETRY:.0f}s; free space "
                "or fix the state directory, or press ctrl+r to retry now.")))
        notice = self._journal_notice
        if notice is not None and now - notice[0] < RECOVERED_NOTICE and not (j and j.failed):
            out.append(Banner("journal-ok", BannerLevel.INFO, notice[1]))
        with self._lock:
            problems = list(self._follow_problems)
            unreadable, authorship = list(self._unreadable), list(self._authorship)
        if unreadable:
            n = len(unreadable)
            out.append(Banner("unreadable", BannerLevel.WARNING, (
                f"{n} UNREADABLE RECORD{'' if n == 1 else 'S'} in this incident (hash-valid, "
                f"not well-formed: shown in the log, not counted): the last is an "
                f"{unreadable_line(unreadable[-1])}. `cockpit verify {self.incident_id}` "
                "lists them.")))
        if authorship:
            more = f" (and {len(authorship) - 1} more)" if len(authorship) > 1 else ""
            out.append(Banner("authorship", BannerLevel.ERROR, (
                f"WHO WROTE IT IS NOT PROVEN: {one_line(authorship[-1], 200)}{more}. Its "
                "entries are shown as written; `cockpit verify "
                f"{self.incident_id}` lists every writer file in question.")))
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            out.append(Banner("follower", BannerLevel.ERROR, (
                f"UNREADABLE JOURNAL: {one_line(problems[-1], 160)}{more}. Entries after it "
                "from that writer are not shown; run `cockpit verify "
                f"{self.incident_id}` to see the damage.")))
        if self._probe_error is not None:
            out.append(Banner("probes", BannerLevel.ERROR, (
                f"HEALTH NOT REFRESHED: the probes stopped ({one_line(self._probe_error, 160)})."
                " What the panes show is getting old; restart the cockpit.")))
        sched = self.scheduler
        if sched is not None:
            # the self-check's verdict on our own side (design decision 8.7)
            for i, p in enumerate(sched.network.problems):
                out.append(Banner(f"network-{p.verdict.value}-{i}", BannerLevel.ERROR
                                  if p.verdict == Verdict.OFFLINE else BannerLevel.WARNING, p.text))
            if sched.selfcheck_error:
                out.append(Banner("selfcheck", BannerLevel.WARNING, (
                    f"SELF-CHECK FAILED: {one_line(sched.selfcheck_error, 160)}. The cockpit "
                    "cannot tell its own network outage from a service outage: a probe failing "
                    "at the network level may be our side.")))
            if sched.save_error:
                out.append(Banner("probe-state", BannerLevel.WARNING, (
                    f"Last-known health not saved: {one_line(sched.save_error, 160)}. A "
                    "restarted cockpit would not show what was last seen; check the state "
                    f"directory {self.state_dir}.")))
            if sched.load_error:
                out.append(Banner("probe-state-load", BannerLevel.WARNING, (
                    f"Last-known health not loaded: {one_line(sched.load_error, 160)}. "
                    "Services show UNKNOWN until they answer.")))
        return tuple(out)

    # ------------------------------------------------------------------ following an incident
    def incidents(self) -> list[IncidentChoice]:
        return [IncidentChoice(s.id, s.state) for s in self.store.list()]

    def follow(self, incident_id: str | None) -> None:
        """Show ``incident_id`` (None: none); loads its entries and follows new ones.
        Blocking (reads the whole journal): call it off the UI thread."""
        self._stop_watch()
        with self._lock:
            self.incident_id, self._follower = incident_id, None
        if incident_id is None:
            with self._lock:
                self.incident_id, self._follower, self._entries = None, None, []
                self._folder, self._state, self._follow_problems = Folder(), None, []
                self._unreadable, self._authorship = [], []
            self._changed()
            return
        # A big incident takes a second to load and verify: show its newest entries first
        # (read from the files' ends), marked as loading, then the whole verified record.
        preview = [e for e in preview_tail(self.state_dir, incident_id)
                   if e.kind != "session-start"]
        if len(preview) > 200:
            with self._lock:
                self._entries, self._loading = preview, True
            self._changed()
        # What the last load froze may be garbage by now (the previous incident's entries):
        # back to the collector, then the new load is frozen in its turn.
        gc.unfreeze()
        follower = Follower(self.state_dir, incident_id)
        entries = [e for e in follower.poll() if e.kind != "session-start"]
        folder = Folder()
        state = folder.update(entries)
        # 100,000 entries make ~1M objects that live as long as the incident is shown:
        # frozen, later collections never walk them (no GC pauses while scrolling).
        gc.freeze()
        with self._lock:
            self.incident_id, self._follower, self._entries = incident_id, follower, entries
            self._folder, self._state, self._loading = folder, state, False
            self._follow_problems = list(follower.problems)
            self._unreadable = [e for e in entries if is_unreadable(e)]
            self._authorship = list(follower.authorship)
            self._health_written = {}
        self._changed()

    def _stop_watch(self) -> None:
        stop, loop = self._watch_stop, self._run_loop
        if stop is not None and loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)

    def _merge(self, follower: Follower, new: Sequence[Any]) -> bool:
        new = [e for e in new if e.kind != "session-start"]
        with self._lock:
            if follower is not self._follower:
                return False
            changed = False
            if follower.problems != self._follow_problems:
                self._follow_problems = list(follower.problems)
                changed = True
            if follower.authorship != self._authorship:
                self._authorship = list(follower.authorship)
                changed = True
            if not new:
                return changed
            self._unreadable.extend(e for e in new if is_unreadable(e))
            key = lambda e: (e.ts, e.writer, e.seq)  # noqa: E731
            if not self._entries or key(new[0]) >= key(self._entries[-1]):
                self._entries.extend(new)  # the usual case: later than all we have
            else:
                self._entries = sorted([*self._entries, *new], key=key)
            self._state = self._folder.update(self._entries)
        return True

    def poll(self) -> bool:
        """Pick up entries written by any cockpit now (blocking); True when something new
        arrived. With no incident followed, the newest is followed once one exists."""
        with self._lock:
            follower, chosen = self._follower, self.incident_id
        if follower is None:
            if chosen is not None:
                return False  # being loaded by follow()
            iid = self._default_incident()
            if iid is None:
                return False
            self.follow(iid)
            return True
        return self._merge(follower, follower.poll())

    def _default_incident(self) -> str | None:
        """The incident followed when none was chosen: the newest (ids begin with their
        UTC declaration time); a closed one is shown as the record it is."""
        ids = sorted(self.store.ids()) if self.state_dir.exists() else []
        return ids[-1] if ids else None

    # ------------------------------------------------------------------ background work
    async def run(self, changed: Callable[[], None]) -> None:
        """Probes on their own thread; the followed incident read with inotify (another
        cockpit's entries show within a second), polling as the fallback; a failed journal
        retried every few seconds."""
        self._changed = changed
        self._run_loop = asyncio.get_running_loop()
        self._start_probes()
        upkeep = asyncio.create_task(self._upkeep())
        sync = asyncio.create_task(self._sync_loop()) if self._sync is not None else None
        try:
            while True:
                follower = self._follower
                if follower is None:
                    if await asyncio.to_thread(self.poll):
                        changed()
                    else:
                        await asyncio.sleep(1.0)
                    continue
                self._watch_stop = stop = asyncio.Event()
                async for batch in follower.watch(interval=1.0, stop=stop):
                    if self._follower is not follower:
                        break  # we switched incident
                    if self._merge(follower, batch):
                        changed()
                if self._follower is follower and (follower.problems != self._follow_problems
                                                   or follower.authorship != self._authorship):
                    self._merge(follower, [])
                    changed()
        finally:
            upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep
            if sync is not None:
                sync.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sync

    async def _sync_loop(self) -> None:
        """One sync run per ``[sync] interval`` in a worker thread, never on the UI's loop,
        each bounded by ``[sync] deadline`` (like a probe's): past it the run is given up
        (the engine stops itself at its next request) and the sync shows behind."""
        from ..sync import Report

        engine = self._sync
        cfg = self.config.sync
        assert engine is not None and cfg is not None
        self._sync_wake = wake = asyncio.Event()
        while True:
            wake.clear()
            shown = (self.sync_status(), self._sync_banners())  # as last drawn, roughly
            self._sync_writes = 0
            try:
                rep = await asyncio.wait_for(asyncio.to_thread(engine.run),
                                             timeout=cfg.deadline + 1.0)
            except TimeoutError:
                waiting = self._sync_report.waiting if self._sync_report else 0
                rep = Report(waiting=waiting, finished=time.time(),
                             error=f"no answer within the {cfg.deadline:g}s deadline")
            except Exception as e:  # noqa: BLE001 - shown as a banner, the loop goes on
                rep = Report(finished=time.time(), error=one_line(f"{type(e).__name__}: {e}",
                                                                    200))
            if rep.error is None:
                self._sync_last_ok = rep.finished
            self._sync_report = rep
            if (self.sync_status(), self._sync_banners()) != shown:
                self._changed()  # (pulled entries reach the screen through the follower)
            # the next run after the interval, or soon after this cockpit wrote something
            await asyncio.sleep(min(1.0, cfg.interval))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), max(0.0, cfg.interval - 1.0))

    async def _upkeep(self) -> None:
        while True:
            await asyncio.sleep(JOURNAL_RETRY)
            j = self._journal()
            if j is not None and j.failed:
                await asyncio.to_thread(self.retry_journal)
                self._changed()

    def retry_journal(self) -> str:
        j = self._journal()
        if j is None or not j.failed:
            return "The journal is writable."
        n = len([u for u in j.unsaved if u.kind != "session-start"])
        try:
            saved = j.reopen()
        except (OSError, JournalWriteError) as e:
            return f"Still not writable: {one_line(str(e), 200)}"
        when = time.strftime("%H:%M:%S UTC", time.gmtime(self.clock.now()))
        msg = (f"Journal writable again at {when}: {len(saved)} of {n} kept "
               f"entr{'y' if n == 1 else 'ies'} saved.")
        self._journal_notice = (self.clock.now(), msg)
        with contextlib.suppress(OSError):
            self.poll()
        return msg

    def _probe_changed(self, _service: str) -> None:
        loop, event = self._probe_loop, self._probe_event
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    async def _probe_main(self) -> None:
        assert self.scheduler is not None
        self._probe_loop = asyncio.get_running_loop()
        self._probe_event = event = asyncio.Event()
        task = asyncio.create_task(self.scheduler.run())
        try:
            while not task.done():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(event.wait(), 1.0)
                if not event.is_set():
                    continue
                # Coalesce a burst of answers (a round of 200 probes) into one snapshot.
                await asyncio.sleep(0.2)
                event.clear()
                self._health = health = self.scheduler.snapshot()
                self._journal_health(health)
                self._changed()
            task.result()  # the scheduler ended by itself: raise what ended it
        finally:
            self.scheduler.stop()
            await asyncio.gather(task, return_exceptions=True)

    def _journal_health(self, health: list[ServiceHealth]) -> None:
        """During an incident, a health change of an affected service is an entry. A change
        another cockpit already journaled is not written again."""
        with self._lock:
            inc, iid = self._state, self.incident_id
            written = dict(self._health_written)
        if inc is None or iid is None or not inc.active:
            return
        known = {sid: st for sid, st, _ in inc.service_health}
        for h in health:
            if h.service not in inc.services or h.status not in (Status.OK, Status.WARN,
                                                                 Status.FAIL):
                continue
            if known.get(h.service) == h.status.value or written.get(h.service) == h.status.value:
                continue
            try:
                self.store.journal(iid).append("health", {
                    "service": h.service, "status": h.status.value, "summary": h.summary[:300]})
            except OSError:
                return  # the banner tells; health is still shown live
            with self._lock:
                self._health_written[h.service] = h.status.value

    def _start_probes(self) -> None:
        if self.scheduler is None or self._probe_thread is not None:
            return

        def main() -> None:
            try:
                asyncio.run(self._probe_main())
            except BaseException as e:  # noqa: BLE001 - shown on screen (a banner)
                self._probe_error = f"{type(e).__name__}: {e}"
                self._changed()

        self._probe_thread = threading.Thread(target=main, name="cockpit-probes", daemon=True)
        self._probe_thread.start()

    # ------------------------------------------------------------------ operator actions
    def _need_incident(self) -> tuple[str, IncidentState | None]:
        """The followed incident and its folded state (None while loading)."""
        with self._lock:
            iid, state = self.incident_id, (None if self._loading else self._state)
        if iid is None:
            raise IncidentError("no incident declared")
        return iid, state

    def _act(self, kind: str, data: dict[str, Any], write: Callable[[], object]) -> None:
        """An action's entry is pending (shown, marked) until the journal acknowledged it."""
        entry = SimEntry(self.clock.now(), self.author, kind, data)
        with self._lock:
            self._pending.append(entry)
        self._changed()
        try:
            write()
            self._sync_soon()
            with contextlib.suppress(OSError):
                self.poll()
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._pending.remove(entry)
            self._changed()

    def declare(self, title: str, severity: str, services: Sequence[str],
                impact_start: float | None) -> None:
        data: dict[str, Any] = {"title": title, "severity": severity, "services": list(services)}
        if impact_start is not None:
            data["impact_start"] = impact_start

        def write() -> None:
            iid = self.store.declare(title, severity, services, impact_start)
            self.follow(iid)

        self._act("incident.declared", data, write)

    def set_status(self, status: str) -> None:
        iid, st = self._need_incident()
        self._act("incident.status", {"status": status},
                  lambda: self.store.set_status(iid, status, state=st))

    def assign(self, role: str, person: str) -> None:
        iid, st = self._need_incident()
        self._act("role.assigned", {"role": role, "person": person},
                  lambda: self.store.assign(iid, role, person, state=st))

    def note(self, type: str, text: str) -> None:
        iid, st = self._need_incident()
        self._act("note", {"type": type, "text": text},
                  lambda: self.store.note(iid, text, type, state=st))

    def update(self, *, services: Sequence[str] | None = None, severity: str | None = None,
               title: str | None = None) -> None:
        iid, st = self._need_incident()
        changes: dict[str, Any] = {}
        if services is not None:
            changes["services"] = list(services)
        if severity is not None:
            changes["severity"] = severity
        if title is not None:
            changes["title"] = title
        self._act("incident.updated", changes,
                  lambda: self.store.update(iid, state=st, **changes))

    def entries(self) -> Sequence[EntryLike]:
        with self._lock:
            return self._entries

    def stop(self) -> None:
        self._stop_watch()
        loop, thread = self._probe_loop, self._probe_thread
        if self.scheduler is not None and loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.scheduler.stop)
        if thread is not None:
            thread.join(timeout=5)  # the scheduler saves the last-known results on stop
        self.store.close()
        if self._sync is not None:
            self._sync.bucket.close()
