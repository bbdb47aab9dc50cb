"""The offline review: a recorded incident replayed read-only, as of a cursor ``t``.

``ReviewSession`` is the session seam over an incident's journals (a state root laid out as
``<root>/incidents/<id>/...``: a state directory, or a capture bundle extracted by
``cockpit.review.bundle.open_bundle``). Nothing is probed, nothing is written, nothing runs:
the capabilities say so and every action is refused in words. Every pane shows the incident as
it was at ``t``:

- health panes: rebuilt from the journaled ``health`` entries (the flight recorder): the last
  entry of each service at or before ``t`` (status, key figure, summary, RPO exposure, when it
  was observed); a service with none yet is UNKNOWN;
- clocks: ``incident_clocks`` (the clocks core) of the fold at ``t``, with ``now = t``;
- runbook step states: ``step_states`` of the ``step.*`` entries up to ``t``;
- roles, status, title: the fold at ``t``; the log: the entries up to ``t``.

Scrubbing is cheap at 100,000 entries (``Timeline``): entry times are a sorted list (bisect),
the fold is checkpointed every ``CHECKPOINT`` entries (a move folds at most that many), each
service's health entries are their own sorted list, and the log up to ``t`` is a view of the
entries (``Prefix``), never a copy.

Size: over the ~500 lines a module aims at: the session, its index (``Timeline``) and its
read-only runbook side (``ReviewSteps``) are one job, the state of a record as of ``t``;
split, each would reach into the others' index.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from ..health import ServiceHealth, Status
from ..incident.clocks import ServiceTargets, incident_clocks
from ..incident.fold import fold
from ..incident.model import EntryLike, IncidentState
from ..incident.store import IncidentError
from ..journal import incident_dir, list_incidents, read_incident
from ..journal.validate import is_unreadable, unreadable_line
from ..plan import Milestones
from ..runbooks import Runbook, Step
from ..runbooks import state as S
from ..runbooks.errors import StepError
from ..runbooks.process import display_tail, tail_bytes
from ..runbooks.state import StepState
from ..text import one_line
from ..timeutil import Clock
from .protocol import (
    Banner,
    BannerLevel,
    Capabilities,
    IncidentChoice,
    Runbooks,
    SessionKind,
    StepOutput,
    StepResult,
    View,
)
from .steps import OUTPUT_TAIL, LibrarySteps

CHECKPOINT = 512  # entries between two saved folds: a move folds at most this many
READ_ONLY = ("Review: read-only. Nothing can be written or run here; this is the record of "
             "an incident as it was.")
SPEEDS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class ReviewError(ValueError):
    """The incident or bundle cannot be reviewed: one line naming what and why."""


class Prefix(Sequence[Any]):
    """The first ``n`` items of a list, without copying it (the log up to ``t``)."""

    __slots__ = ("_items", "_n")

    def __init__(self, items: Sequence[Any], n: int) -> None:
        self._items = items
        self._n = n

    @property
    def base(self) -> Sequence[Any]:
        """The list this is a prefix of (two prefixes of one list share their items)."""
        return self._items

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> Any: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Any]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self._items[k] for k in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        return self._items[i]

    def __iter__(self) -> Iterator[Any]:
        for k in range(self._n):
            yield self._items[k]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Prefix) and other._items is self._items
                and other._n == self._n)

    def __hash__(self) -> int:
        return hash((id(self._items), self._n))


def _float(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def health_from_entry(e: EntryLike, title: str) -> ServiceHealth:
    """What a health pane showed, from one journaled ``health`` entry (the flight recorder's
    fields; an older entry has only status and summary)."""
    d = e.data or {}
    try:
        status = Status(str(d.get("status", "unknown")))
    except ValueError:
        status = Status.UNKNOWN
    fig = d.get("key_figure", d.get("figure"))
    lat = d.get("latencies")
    latencies = tuple(x for x in (_float(v) for v in lat) if x is not None) \
        if isinstance(lat, list) else ()
    observed = _float(d.get("observed_at"))
    down = _float(d.get("down_since"))
    return ServiceHealth(
        service=str(d.get("service", "")), title=title, status=status,
        summary=str(d.get("summary", "")),
        observed_at=observed if observed is not None else e.ts,
        key_figure=str(fig) if fig is not None else None, latencies=latencies,
        rpo_exposure=_float(d.get("rpo_exposure")), down_since=down)


class Timeline:
    """An incident's entries indexed for scrubbing (see the module docstring)."""

    def __init__(self, entries: Sequence[Any], until: float | None = None) -> None:
        # ``until``: when the record was taken (a bundle's capture): nothing happened between
        # the last entry and it, so the cursor may go there (an open incident's clocks ran on)
        self.until = until
        self.entries: list[Any] = [e for e in entries if e.kind != "session-start"]
        self.times: list[float] = [e.ts for e in self.entries]
        self.checkpoints: list[IncidentState | None] = []  # fold of entries[: k * CHECKPOINT]
        state: IncidentState | None = None
        for k in range(0, len(self.entries) + 1, CHECKPOINT):
            if k:
                state = fold(self.entries[k - CHECKPOINT:k], state)
            self.checkpoints.append(state)
        self.health_at: dict[str, list[int]] = {}  # service -> positions of its health entries
        self.steps_at: list[int] = []  # positions of step.* entries
        self.minutes: list[float] = []
        for i, e in enumerate(self.entries):
            if e.kind == "health":
                self.health_at.setdefault(str((e.data or {}).get("service", "")), []).append(i)
            elif e.kind.startswith("step."):
                self.steps_at.append(i)
        self.unreadable = [e for e in self.entries if is_unreadable(e)]

    @property
    def start(self) -> float:
        return self.times[0] if self.times else 0.0

    @property
    def end(self) -> float:
        last = self.times[-1] if self.times else 0.0
        return max(last, self.until) if self.until is not None and self.times else last

    def count(self, t: float) -> int:
        """How many entries are at or before ``t``."""
        return bisect.bisect_right(self.times, t)

    def fold_at(self, n: int) -> IncidentState | None:
        """The fold of the first ``n`` entries: a checkpoint and at most CHECKPOINT more."""
        k = n // CHECKPOINT
        base = self.checkpoints[k]
        return fold(self.entries[k * CHECKPOINT:n], base) if n > k * CHECKPOINT else base

    def last_health(self, service: str, n: int) -> Any | None:
        pos = self.health_at.get(service)
        if not pos:
            return None
        j = bisect.bisect_left(pos, n)
        return self.entries[pos[j - 1]] if j else None

    def steps(self, n: int) -> list[Any]:
        j = bisect.bisect_left(self.steps_at, n)
        return [self.entries[i] for i in self.steps_at[:j]]


@dataclass(frozen=True)
class Plan:
    """What a review knows of the plan: the services (titles, RTO/RPO targets) and the
    milestones; from the bundle's configuration, a configuration given, or the entries."""

    services: tuple[ServiceTargets, ...]
    milestones: Milestones
    priorities: Mapping[str, str]
    source: str  # said in the title bar's help and the banner


def plan_from_config(config: Any, source: str) -> Plan:
    return Plan(tuple(ServiceTargets(s.id, s.title, s.rto, s.rpo)
                      for s in config.services.values()), config.milestones,
                {s.id: s.priority for s in config.services.values()}, source)


def plan_from_config_text(text: str, name: str = "cockpit.toml") -> Plan:
    """The plan of a (redacted) configuration's text: parsed and validated like any
    ``cockpit.toml`` (a redacted secret is a string like any other)."""
    import tomllib

    from ..config import parse_config
    from ..document import DocumentError

    try:
        data = tomllib.loads(text)
        config = parse_config(data, text, Path(name))
    except (tomllib.TOMLDecodeError, DocumentError) as e:
        raise ReviewError(f"{name}: the captured configuration does not parse: "
                          f"{one_line(str(e), 200)}") from None
    return plan_from_config(config, f"the configuration captured in {name}")


def plan_from_entries(entries: Sequence[Any]) -> Plan:
    """No configuration: the services the incident names and those with journaled health, in
    the order first seen, with the plan's default targets where the plan names the service
    (the same targets ``cockpit pir`` and ``cockpit metrics`` use without a configuration);
    another service has no RTO/RPO target (its clocks are not shown)."""
    from ..review.pir import PLAN_TARGETS

    known = {t.id: t for t in PLAN_TARGETS}
    seen: dict[str, None] = {}
    for e in entries:
        d = e.data or {}
        if e.kind in ("incident.declared", "incident.updated"):
            for s in d.get("services") or ():
                seen.setdefault(str(s), None)
        elif e.kind == "health" and d.get("service"):
            seen.setdefault(str(d["service"]), None)
    return Plan(tuple(known.get(s) or ServiceTargets(s, s, None, None) for s in seen),
                Milestones(), {}, "the plan's default targets (no configuration)")


class CursorClock:
    """The session's ``clock``: the cursor ``t`` (detail views and forms read it)."""

    def __init__(self, session: ReviewSession) -> None:
        self._session = session

    def now(self) -> float:
        return self._session.t


class ReviewSession:
    """A recorded incident, read-only, as of the cursor ``t`` (see the module docstring)."""

    kind: SessionKind = SessionKind.REVIEW

    def __init__(self, root: Path, incident_id: str, *, plan: Plan | None = None,
                 name: str | None = None, signature: str = "not a bundle: no signature",
                 runbook_dirs: Sequence[Path] = (), entries: Sequence[Any] | None = None,
                 load: bool = True, until: float | None = None) -> None:
        """``load=False``: the journals are read by ``run()`` (in a thread, after the first
        frame, which shows the newest entries marked as loading: ``preview()``)."""
        self.root = Path(root)
        self.incident_id = incident_id
        self.until = until  # when the record was taken (see Timeline)
        if entries is None and incident_id not in list_incidents(self.root):
            what = "bundle file or incident" if "." in incident_id else "incident"
            raise ReviewError(f"no such {what}: {incident_id} (in {self.root})")
        self.problems: list[str] = []
        self._given_plan = plan
        self.plan = plan or Plan((), Milestones(), {}, "")
        self.signature = signature
        self.bundle_name = name or incident_id
        self.name: str = f"{self.bundle_name} · {signature}"  # after REVIEW in the title bar
        self.author = "reviewer"
        self.clock: Clock = CursorClock(self)
        self.runbooks: Runbooks = ReviewSteps(self, tuple(runbook_dirs))
        self.timeline = Timeline(())
        self.loaded = False
        self.t: float = 0.0
        self.playing = False
        self.speed = 10.0
        self._preview: list[Any] = []
        self._at: str | None = None  # a typed time to seek once loaded
        self._steps_cache: tuple[int, str, dict[tuple[str, str], StepState]] | None = None
        self._apply_plan(self.plan)
        if entries is not None:
            self._loaded(entries, [])
        elif load:
            self.load()

    def _apply_plan(self, plan: Plan) -> None:
        self.plan = plan
        self.milestones: Milestones = plan.milestones
        self.services: Sequence[ServiceTargets] = plan.services
        self.priorities: Mapping[str, str] = plan.priorities

    def preview(self) -> None:
        """The newest entries, read from the files' ends (unverified): the first frame's log
        while ``load()`` runs."""
        from ..journal.watch import preview_tail

        try:
            self._preview = [e for e in preview_tail(self.root, self.incident_id)
                             if e.kind != "session-start"]
        except (OSError, ValueError):
            self._preview = []
        if self._preview and self._given_plan is None:
            self._apply_plan(plan_from_entries(self._preview))

    def load(self) -> None:
        """Read and verify every writer's journal, index it; the cursor at the last entry
        (or at the time given to ``seek_later``)."""
        import gc

        res = read_incident(self.root, self.incident_id, recover=False)
        self._loaded(res.entries, list(res.problems))
        # 100,000 entries make ~1M objects that live as long as the review: frozen, later
        # collections never walk them (no GC pause while scrubbing), as the live session does
        gc.freeze()

    def _loaded(self, entries: Sequence[Any], problems: list[str]) -> None:
        import gc

        # the index makes ~300,000 objects and no cycles: cyclic GC passes only cost time
        was = gc.isenabled()
        gc.disable()
        try:
            timeline = Timeline(entries, self.until)
        finally:
            if was:
                gc.enable()
        if self._given_plan is None:
            self._apply_plan(plan_from_entries(timeline.entries))
        self.problems = problems
        self.timeline = timeline
        self.t = timeline.end
        self.loaded = True
        self._preview = []
        if self._at is not None:
            at, self._at = self._at, None
            self.seek_text(at)

    def seek_later(self, text: str) -> None:
        """Seek to a typed time once loaded (the time is checked now as far as it can be)."""
        if self.loaded:
            self.seek_text(text)
        else:
            self._at = text

    # ------------------------------------------------------------------ the cursor
    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(declare=False, follow=False, execute=False,
                            why_not_execute=READ_ONLY)

    def seek(self, t: float) -> float:
        """Move the cursor to ``t`` (kept within the incident); returns it."""
        tl = self.timeline
        self.t = min(max(float(t), tl.start), tl.end)
        return self.t

    def step_entry(self, delta: int) -> float:
        """To the next (or previous) entry's time: entry by entry."""
        tl = self.timeline
        if not tl.times:
            return self.t
        n = tl.count(self.t)  # entries shown now; the last shown is n - 1
        if delta > 0:
            i = min(len(tl.times) - 1, n - 1 + delta)
            # several entries may share a time: move past all of them
            return self.seek(tl.times[max(i, n)] if n < len(tl.times) else tl.end)
        i = bisect.bisect_left(tl.times, self.t) + delta  # the first entry before t's group
        return self.seek(tl.times[max(0, i)])

    def step_minutes(self, minutes: float) -> float:
        return self.seek(self.t + 60.0 * minutes)

    def seek_text(self, text: str) -> float:
        """A typed time: ``HH:MM[:SS]`` (UTC, the day of the incident's start),
        ``YYYY-MM-DD HH:MM[:SS]``, ``T+12m`` / ``+90s`` (from the incident's first entry)."""
        import calendar

        from ..timeutil import parse_duration

        s = text.strip()
        tl = self.timeline
        try:
            if s.upper().startswith("T+") or s.startswith("+"):
                return self.seek(tl.start + parse_duration(s.split("+", 1)[1]))
            for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                        "%Y-%m-%dT%H:%M"):
                try:
                    return self.seek(calendar.timegm(time.strptime(s.removesuffix("Z"), fmt)))
                except ValueError:
                    continue
            for fmt in ("%H:%M:%S", "%H:%M"):
                try:
                    hms = time.strptime(s, fmt)
                except ValueError:
                    continue
                day = time.gmtime(tl.start)
                base = calendar.timegm((day.tm_year, day.tm_mon, day.tm_mday, 0, 0, 0))
                t = base + hms.tm_hour * 3600 + hms.tm_min * 60 + hms.tm_sec
                if t < tl.start - 60:
                    t += 86400  # an incident across midnight: the time after its start
                return self.seek(t)
        except ValueError:
            pass
        raise ReviewError(f"not a time: {one_line(s, 40)!r} (HH:MM[:SS] UTC, "
                          "YYYY-MM-DD HH:MM, or T+12m from the start)")

    def set_speed(self, up: bool) -> float:
        i = min(range(len(SPEEDS)), key=lambda k: abs(SPEEDS[k] - self.speed))
        self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, i + (1 if up else -1)))]
        return self.speed

    def advance(self, seconds: float) -> bool:
        """Playing: move ``seconds`` of real time at the chosen speed; False at the end."""
        self.seek(self.t + seconds * self.speed)
        if self.t >= self.timeline.end:
            self.playing = False
        return self.playing

    # ------------------------------------------------------------------ reading
    def count(self) -> int:
        return self.timeline.count(self.t)

    def incident(self) -> IncidentState | None:
        return self.timeline.fold_at(self.count())

    def health(self, n: int | None = None) -> list[ServiceHealth]:
        n = self.count() if n is None else n
        out = []
        for s in self.services:
            e = self.timeline.last_health(s.id, n)
            if e is None:
                out.append(ServiceHealth(s.id, s.title, Status.UNKNOWN,
                                         "no health journaled by this moment", None))
            else:
                out.append(health_from_entry(e, s.title))
        return out

    def step_entries(self) -> list[Any]:
        return self.timeline.steps(self.count())

    def step_states(self, runbook_id: str) -> dict[tuple[str, str], StepState]:
        """``step_states`` of the step entries up to ``t`` (kept while ``t`` stays between
        the same two entries: the navigator asks every second)."""
        n = self.count()
        c = self._steps_cache
        if c is not None and c[0] == n and c[1] == runbook_id:
            return c[2]
        # ``alive`` is not asked: a step with no result by ``t`` was running then
        states = S.step_states(self.step_entries(), runbook_id)
        self._steps_cache = (n, runbook_id, states)
        return states

    def view(self) -> View:
        if not self.loaded:
            return View(now=self._preview[-1].ts if self._preview else 0.0,
                        health=self.health(0), entries=self._preview, pending=(), unsaved=(),
                        incident=None, incident_id=self.incident_id, clocks=(), loading=True,
                        banners=(), paused=False)
        t = self.t
        n = self.timeline.count(t)
        state = self.timeline.fold_at(n)
        health = self.health(n)
        clocks = incident_clocks(state, self.services, {h.service: h for h in health},
                                 self.milestones, t)
        return View(now=t, health=health, entries=Prefix(self.timeline.entries, n), pending=(),
                    unsaved=(), incident=state, incident_id=self.incident_id, clocks=clocks,
                    loading=False, banners=self._banners(n), paused=False)  # said by the scrubber

    def _banners(self, n: int) -> tuple[Banner, ...]:
        out: list[Banner] = []
        if self.problems:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            out.append(Banner("follower", BannerLevel.ERROR, (
                f"UNREADABLE JOURNAL: {one_line(self.problems[-1], 160)}{more}. Entries after "
                "it from that writer are not shown.")))
        bad = [e for e in self.timeline.unreadable if e.ts <= self.t]
        if bad:
            out.append(Banner("unreadable", BannerLevel.WARNING, (
                f"{len(bad)} UNREADABLE RECORD{'' if len(bad) == 1 else 'S'} by this moment "
                f"(shown in the log, not counted): the last is an {unreadable_line(bad[-1])}.")))
        if not self.timeline.entries:
            out.append(Banner("empty", BannerLevel.WARNING, "This incident has no entries."))
        return tuple(out)

    def cursor_text(self) -> str:
        """The scrubber's line: where ``t`` is, in words."""
        if not self.loaded:
            return (f"Loading the record: reading and verifying every journal… (the newest "
                    f"{len(self._preview)} entries shown meanwhile)")
        tl = self.timeline
        n = tl.count(self.t)
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.t))
        off = int(self.t - tl.start)
        h, rem = divmod(off, 3600)
        play = f"PLAYING {self.speed:g}x" if self.playing else f"paused ({self.speed:g}x)"
        return f"t {when} · T+{h}:{rem // 60:02d}:{rem % 60:02d} · entry {n}/{len(tl.entries)} · {play}"

    # ------------------------------------------------------------------ nothing happens here
    async def run(self, changed: Callable[[], None]) -> None:
        """Load the record if not loaded yet; nothing is followed: it is what it is."""
        if not self.loaded:
            import asyncio

            await asyncio.to_thread(self.load)
            changed()

    def stop(self) -> None:
        self.playing = False

    def _refuse(self, *_: Any, **__: Any) -> None:
        raise IncidentError(READ_ONLY)

    def declare(self, title: str, severity: str, services: Sequence[str],
                impact_start: float | None) -> None:
        self._refuse()

    def set_status(self, status: str) -> None:
        self._refuse()

    def assign(self, role: str, person: str) -> None:
        self._refuse()

    def note(self, type: str, text: str) -> None:
        self._refuse()

    def update(self, *, services: Sequence[str] | None = None, severity: str | None = None,
               title: str | None = None) -> None:
        self._refuse()

    def incidents(self) -> list[IncidentChoice]:
        st = self.timeline.fold_at(len(self.timeline.entries))
        return [] if st is None else [IncidentChoice(self.incident_id, st)]

    def follow(self, incident_id: str | None) -> None:
        raise IncidentError("A review shows one incident, the one opened.")

    def retry_journal(self) -> str:
        return READ_ONLY

    def drills(self) -> Any:
        """A recorded incident holds no drill runs: an empty schedule that says so."""
        from ..drills.board import drill_board

        return drill_board((), (), self.t, note="A review holds one incident, no drill runs: "
                           "see cockpit drills on the bastion.")


class ReviewSteps(LibrarySteps):
    """The runbook navigator in a review: step states as of ``t``, saved outputs; every
    action refused."""

    session: ReviewSession

    def states(self, runbook_id: str) -> dict[tuple[str, str], StepState]:
        return self.session.step_states(runbook_id)

    def redact(self, text: str) -> str:
        return text  # nothing of a configuration is held (a bundle's is redacted)

    def output(self, state: StepState) -> StepOutput | None:
        rel = state.output.path if state.output is not None else (
            f"outputs/{state.run}.out" if state.run else None)
        if not rel:
            return None
        base = incident_dir(self.session.root, self.session.incident_id).resolve()
        path = (base / rel).resolve()
        if not path.is_relative_to(base):
            return None  # a recorded path outside the incident is never followed
        data = tail_bytes(path, OUTPUT_TAIL)
        size = state.output.bytes if state.output is not None else len(data)
        sha = state.output.sha256 if state.output is not None else ""
        return StepOutput(rel, size, sha, display_tail(data))

    def _no(self, *_: Any, **__: Any) -> StepResult:
        raise StepError(READ_ONLY)

    def execute(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
                confirmation: str | None, state: StepState) -> StepResult:
        return self._no()

    def dry_run(self, runbook: Runbook, step: Step, params: Mapping[str, Any]) -> StepResult:
        return self._no()

    def rollback(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
                 confirmation: str | None) -> StepResult:
        return self._no()

    def verify(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
               state: StepState) -> StepResult:
        return self._no()

    def confirm(self, runbook: Runbook, step: Step, state: StepState) -> StepResult:
        return self._no()

    def skip(self, step: Step, state: StepState, reason: str) -> StepResult:
        return self._no()

    def mark_failed(self, step: Step, state: StepState, reason: str) -> StepResult:
        return self._no()

    def override(self, step: Step, state: StepState, reason: str) -> StepResult:
        return self._no()

    def retry(self, step: Step, state: StepState, reason: str) -> StepResult:
        return self._no()
