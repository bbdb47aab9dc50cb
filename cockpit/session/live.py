"""The configured, real environment: the probe scheduler and the incident journal.

``health`` is the scheduler's snapshot (last-known results are loaded from the state
directory first, so a cockpit started during an outage shows what was last seen); the
entries are the followed incident's journal entries, read from every cockpit writing to the
same state directory. The session owns the incident fold and is the flight recorder
(``incident.recorder``): while an incident is open, what every service's pane shows is
journaled when it changes, at most once per probe interval (the RTO clock of an affected
service stops when it is journaled back to OK).

Threads and ownership: the probe scheduler runs on its own thread and event loop (probe work
never competes with keypresses) and publishes an immutable health list; ``run()`` follows
the journal on the UI's loop; actions and ``follow()`` run in UI worker threads. Every piece
of mutable state below is read and replaced under ``self._lock``; slow work (reading a
journal, fsync) happens outside it.

Size: over the ~500 lines a module aims at, because it is the one owner of the followed
incident's state and its lock (following, the fold, announcements of what others write, the
probe thread's results, the operator's actions); the parts with state of their own live
apart: ``livesync.py`` (sync across bastions), ``steps.py`` (runbook steps),
``incident/recorder.py`` (what the flight recorder writes), ``incident/store.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..config import Config
from ..drills.board import DrillBoard
from ..health import ServiceHealth, Status
from ..incident.clocks import ServiceTargets, detect_countdown, incident_clocks
from ..incident.fold import Folder
from ..incident.model import EntryLike, IncidentState, SimEntry
from ..incident.recorder import recorder_for
from ..incident.store import IncidentError, IncidentIndex, IncidentStore, is_open, to_follow
from ..journal import Follower, Journal, JournalWriteError, default_author
from ..journal.validate import is_unreadable, unreadable_line
from ..journal.watch import preview_tail
from ..journal.writer import _host
from ..probes.scheduler import Scheduler, anchors_from_config, from_config
from ..probes.selfcheck import Verdict
from ..text import one_line
from ..timeutil import Clock, SystemClock
from .livesync import SyncPart
from .protocol import (
    Banner,
    BannerLevel,
    Capabilities,
    IncidentChoice,
    Notice,
    SessionKind,
    View,
)
from .steps import LiveSteps

JOURNAL_RETRY = 5.0  # seconds between automatic retries of a failed journal
INCIDENT_SCAN = 0.4  # seconds between looks for incidents declared by anyone
MAX_NOTICES = 20  # announcements kept for the UI (it shows each once)
RECOVERED_NOTICE = 60.0  # seconds the "journal writable again" notice stays


class LiveSession(SyncPart):
    """See the module docstring. ``probes=False``: no scheduler (tests, tools);
    ``observer=True``: never journals by itself (a read-only view)."""

    kind = SessionKind.LIVE

    def __init__(self, config: Config, state_dir: Path, *, clock: Clock | None = None,
                 probes: bool = True, runbook_dirs: Sequence[Path] = (),
                 observer: bool = False) -> None:
        self.config = config
        # observer: a read-only view (``observer.ObserverSession`` wraps it): health changes
        # are shown, never journaled (the operator's cockpit journals them)
        self.observer = observer
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
        self.recorder = recorder_for(config)
        if probes:
            self.scheduler = Scheduler(from_config(config), self.state_dir, self.clock,
                                       anchors=anchors_from_config(config),
                                       on_change=self._probe_changed, mode=config.mode,
                                       save=not observer)  # an observer writes nothing
            self._health = self.scheduler.snapshot()  # last-known results, loaded from disk
        # --- every incident of the state directory, and announcements (under _lock)
        self._index = IncidentIndex(self.store)
        self._open_count: int | None = None
        self._notices: list[Notice] = []
        self._notice_seq = 0
        self._index_primed = False
        self._declaring = 0
        self._declared_here: set[str] = set()
        self._start_ids: set[str] = set()
        self._polled_once = False
        self._default_rejected: set[str] = set()  # closed: followed by default only once
        self._unannounced: list[Any] = []
        self._own_writers = f"w-{_host()}-{os.getpid()}-"
        self._seen_health = {h.service: h.status for h in self._health}
        self._probe_event: asyncio.Event | None = None
        self._probe_loop: asyncio.AbstractEventLoop | None = None
        self._probe_thread: threading.Thread | None = None
        self._watch_stop: asyncio.Event | None = None
        self._run_loop: asyncio.AbstractEventLoop | None = None
        # journal sync across bastions ([sync]; the engine runs in a worker thread); an
        # observer writes nothing, mirrors included: the operator's cockpit or cron syncs
        self._init_sync(config, self.state_dir, enabled=not observer)

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
        if state is None and not loading and iid is None:
            # nothing declared: a failing service starts the Detect countdown
            detect = detect_countdown(health, self.milestones, now)
            clocks = [detect] if detect is not None else []
        with self._lock:
            open_count, notices = self._open_count, tuple(self._notices)
        return View(now=now, health=health, entries=entries, pending=pending, unsaved=unsaved,
                    incident=None if loading else state, incident_id=iid, clocks=clocks,
                    loading=loading, banners=self._banners(now), paused=False,
                    open_incidents=open_count, notices=notices,
                    sync=self.sync_status())

    # ------------------------------------------------------------------ announcements
    def announce(self, text: str, level: str = "warning") -> None:
        """One notice for the UI (a notification, and the bell unless ``bell = false``)."""
        with self._lock:
            self._notice_seq += 1
            self._notices.append(Notice(self._notice_seq, one_line(text, 300), level,
                                        self.config.bell))
            del self._notices[:-MAX_NOTICES]

    def scan_incidents(self) -> list[Any]:
        """Every incident of the state directory (newest first), re-read only where a journal
        changed; counts the open ones and announces an incident declared elsewhere.
        Blocking (reads journals): call it off the UI thread."""
        with self._lock:
            iid, state, loading = self.incident_id, self._state, self._loading
            follower = self._follower
        ready = iid is not None and state is not None and not loading and follower is not None
        known = {iid: state} if ready and iid is not None and state is not None else {}
        # the followed incident is read once, by follow(): never a second time here
        skip = frozenset([iid]) if iid is not None and not ready else frozenset()
        at_start = None if self._index_primed else set(self.store.ids())
        summaries, fresh = self._index.refresh(known, skip)
        with self._lock:
            self._open_count = sum(1 for s in summaries if is_open(s.state))
            if at_start is not None:
                self._index_primed = True  # what exists at start is not news
                self._start_ids = at_start
                return summaries
            self._unannounced.extend(fresh)
            if self._declaring:
                return summaries  # ours may be among them: decide once it is known
            news, self._unannounced = self._unannounced, []
            news = [n for n in news if n.id not in self._declared_here
                    and n.id not in self._start_ids and is_open(n.state)]
        for n in news:
            st = n.state
            services = ", ".join(st.services) or "no service named"
            self.announce(f"NEW INCIDENT {st.severity} declared: {st.title} ({services}). "
                          "Press i to follow it.", "error" if st.severity in ("P0", "P1")
                          else "warning")
        return summaries

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
        return [IncidentChoice(s.id, s.state) for s in self.scan_incidents()]

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
            self.recorder.reset()
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
            others = [e for e in new if e.kind == "note"
                      and not str(e.writer).startswith(self._own_writers)]
            key = lambda e: (e.ts, e.writer, e.seq)  # noqa: E731
            if not self._entries or key(new[0]) >= key(self._entries[-1]):
                self._entries.extend(new)  # the usual case: later than all we have
            else:
                self._entries = sorted([*self._entries, *new], key=key)
            self._state = self._folder.update(self._entries)
        for e in others:  # a note by someone else (another cockpit, the CLI)
            d = e.data or {}
            self.announce(f"Note by {one_line(e.author, 40)} ({one_line(d.get('type'), 14)}): "
                          f"{one_line(d.get('text', ''), 200)}", "information")
        return True

    def poll(self) -> bool:
        """Pick up entries written by any cockpit now (blocking); True when something new
        arrived. With no incident followed, the newest is followed once one exists."""
        try:
            return self._poll()
        finally:
            self._polled_once = True

    def _poll(self) -> bool:
        with self._lock:
            follower, chosen = self._follower, self.incident_id
        if follower is None:
            if chosen is not None:
                return False  # being loaded by follow()
            iid = self._default_incident()
            if iid is None:
                return False
            self.follow(iid)
            with self._lock:
                closed = self._state is not None and self._state.status == "closed"
            if closed and self.incident_id == iid:  # a closed one is never followed by default
                self._default_rejected.add(iid)
                self.follow(None)
            return True
        return self._merge(follower, follower.poll())

    def _default_incident(self) -> str | None:
        """The incident followed when none was chosen: the most severe open one, the newest
        of equal severity (``store.to_follow``); a closed incident never by default (``i``
        lists them)."""
        if not self.state_dir.exists():
            return None
        ids = self.store.ids()
        if len(ids) == 1 and ids[0] not in self._default_rejected:
            # one incident: nothing to rank, and reading it twice (here and to follow it)
            # would double the start of a big one; a closed one is let go once loaded
            return ids[0]
        return to_follow(self.scan_incidents())

    # ------------------------------------------------------------------ background work
    async def run(self, changed: Callable[[], None]) -> None:
        """Probes on their own thread; the followed incident read with inotify (another
        cockpit's entries show within a second), polling as the fallback; a failed journal
        retried every few seconds."""
        self._changed = changed
        self._run_loop = asyncio.get_running_loop()
        self._start_probes()
        upkeep = asyncio.create_task(self._upkeep())
        scan = asyncio.create_task(self._scan_loop())
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
            scan.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep
            with contextlib.suppress(asyncio.CancelledError):
                await scan
            if sync is not None:
                sync.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sync

    async def _scan_loop(self) -> None:
        """Incidents declared or changed by anyone: the open count and announcements. It
        starts once the first look for an incident to follow is done (a big incident is
        then read by follow() alone)."""
        while not self._polled_once:
            await asyncio.sleep(0.05)
        while True:
            with self._lock:
                before = (self._open_count, self._notice_seq)
            with contextlib.suppress(OSError):
                await asyncio.to_thread(self.scan_incidents)
            with self._lock:
                after = (self._open_count, self._notice_seq)
            if after != before:
                self._changed()
            await asyncio.sleep(INCIDENT_SCAN)


    async def _upkeep(self) -> None:
        while True:
            await asyncio.sleep(JOURNAL_RETRY)
            j = self._journal()
            if j is not None and j.failed:
                await asyncio.to_thread(self.retry_journal)
                self._changed()

    def drills(self) -> DrillBoard:
        from ..drills.board import read_board

        return read_board(self.state_dir, self.config.drills, self.clock.now())

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
                    if self.recorder.pending(self._health):
                        self._journal_health(self._health)  # a coalesced change is due
                    continue
                # Coalesce a burst of answers (a round of 200 probes) into one snapshot.
                await asyncio.sleep(0.2)
                event.clear()
                self._health = health = self.scheduler.snapshot()
                self._announce_down(health)
                self._journal_health(health)
                self._changed()
            task.result()  # the scheduler ended by itself: raise what ended it
        finally:
            self.scheduler.stop()
            await asyncio.gather(task, return_exceptions=True)

    def _announce_down(self, health: list[ServiceHealth]) -> None:
        """A service turning DOWN is announced (once per turn)."""
        down = [h for h in health if h.status == Status.FAIL
                and self._seen_health.get(h.service) != Status.FAIL]
        self._seen_health = {h.service: h.status for h in health}
        if down:
            self.announce("DOWN: " + "; ".join(
                f"{one_line(h.title, 40)} ({one_line(h.summary, 80)})" for h in down[:5])
                + (f" and {len(down) - 5} more" if len(down) > 5 else ""), "error")

    def _journal_health(self, health: list[ServiceHealth]) -> None:
        """The flight recorder (``incident.recorder``): while an incident is open, what the
        health pane of every configured service shows is journaled when it changes, at most
        once per probe interval per service."""
        if self.observer:  # an observer writes nothing
            return
        with self._lock:
            inc, iid = self._state, self.incident_id
        if inc is None or iid is None or not inc.active:
            return
        now = self.clock.now()
        for data in self.recorder.due(health, now):
            try:
                e = self.store.journal(iid).append("health", data)
            except OSError:
                return  # the banner tells; health is still shown live
            # the entry's own time (after a slow fsync it is later than ``now``): the next
            # one is at least an interval after it, as the journal shows them
            self.recorder.written(data, max(now, float(e.ts)))

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
            with self._lock:
                self._declaring += 1
            try:
                iid = self.store.declare(title, severity, services, impact_start)
                with self._lock:
                    self._declared_here.add(iid)
            finally:
                with self._lock:
                    self._declaring -= 1
            self.follow(iid)

        self._act("incident.declared", data, write)

    def set_status(self, status: str) -> None:
        """The screen asked for confirmation of a skip or a reopening before calling this."""
        iid, st = self._need_incident()
        self._act("incident.status", {"status": status},
                  lambda: self.store.set_status(iid, status, state=st, skip_ok=True,
                                                reopen=True, reason="reopened in the cockpit"))

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
