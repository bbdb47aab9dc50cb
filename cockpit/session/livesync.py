"""The live session's sync across bastions ([sync] in cockpit.toml): the engine
(``cockpit.sync``) runs in a worker thread, one run per interval or soon after a local write,
each bounded by its deadline; what the UI shows of it (the log title's sync line, banners).
A part of ``LiveSession`` (see ``live.py``), apart because it is one job with its own state."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Config
from ..text import one_line
from .protocol import Banner, BannerLevel


def _ago(seconds: float) -> str:
    """"4m ago": coarse (minutes), so the sync line changes once a minute, not every second."""
    m = int(max(0.0, seconds)) // 60
    if m < 1:
        return "under 1m ago"
    return f"{m}m ago" if m < 60 else f"{m // 60}h{m % 60:02d}m ago"


class SyncPart:
    """Sync of a ``LiveSession``: its state and loop (the session provides ``config``,
    ``_run_loop`` and ``_changed``)."""

    config: Config
    _run_loop: asyncio.AbstractEventLoop | None
    _changed: Callable[[], None]

    def _init_sync(self, config: Config, state_dir: Path, *, enabled: bool) -> None:
        self._sync: Any = None
        self._sync_report: Any = None  # the last run's cockpit.sync.Report
        self._sync_last_ok: float | None = None  # time.time() of the last complete run
        self._sync_writes = 0  # this cockpit's writes since the current run began
        self._sync_wake: asyncio.Event | None = None  # set by a write: sync soon
        if config.sync is not None and enabled:
            from ..sync import make_engine

            self._sync = make_engine(config.sync, state_dir, mode=config.mode)

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
