"""``cockpit capture``, ``cockpit pir`` and ``cockpit metrics``: the reviewer's commands.

``pir`` and ``verify`` of a bundle need no configuration, no ``$HOME`` and no network: the
bundle carries the (redacted) configuration the incident ran under; without one the plan's
targets are used and the review says so.

``cockpit metrics`` is a list of sections (``METRICS_SECTIONS``): each is a function of the
measured incidents returning (text lines, JSON value); another kind of figure (a drill's
backup success rate) is one more function in that list.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..incident.clocks import ServiceTargets
from ..incident.metrics import IncidentMetrics, compliance, incident_metrics
from ..plan import Milestones
from ..text import json_line, one_line
from ..timeutil import format_duration, parse_duration, short_duration
from .common import Commands


def _err(msg: str) -> None:
    print(f"cockpit: {one_line(msg, limit=1000)}", file=sys.stderr)


@dataclass
class Targets:
    services: tuple[ServiceTargets, ...]
    milestones: Milestones
    source: str  # where the targets came from, for the review's header
    secrets: tuple[str, ...] = ()

    def mask(self, text: str) -> str:
        from ..redact import redact_text

        return redact_text(text, self.secrets)


def targets_of(config: Any, where: str) -> Targets:
    from ..review.pir import PLAN_TARGETS

    if config is None:
        return Targets(PLAN_TARGETS, Milestones(), "the plan's default targets (no "
                                                    "configuration)")
    from ..secrets import held_secrets

    return Targets(tuple(ServiceTargets(s.id, s.title, s.rto, s.rpo)
                         for s in config.services.values()), config.milestones, where,
                   held_secrets(config))


def _bundle_targets(text: str, name: str) -> Targets:
    if not text:
        return targets_of(None, "")
    from ..config import parse_config
    from ..document import DocumentError

    try:
        cfg = parse_config(tomllib.loads(text), text, Path(name))
    except (tomllib.TOMLDecodeError, DocumentError, ValueError):
        t = targets_of(None, "")
        t.source = "the plan's default targets (the captured configuration did not load)"
        return t
    return targets_of(cfg, "the captured configuration")


@dataclass
class Loaded:
    state_dir: Path
    incident_id: str
    where: str
    targets: Targets
    close: Callable[[], None] = field(default=lambda: None)
    entries: list[Any] | None = None  # a bundle's, read once when it was verified
    # a bundle's figures are measured when it was captured (an open incident's clocks ran
    # until then, not until whenever the review is written); None: now
    measured_at: float | None = None


def load_target(arg: str, args: argparse.Namespace) -> Loaded:
    """A bundle file (verified, extracted) or an incident id of the state directory."""
    from ..review.bundle import BundleError, open_bundle

    p = Path(arg)
    if p.is_file():
        signers = getattr(args, "allowed_signers", None)
        try:
            b = open_bundle(p, Path(signers) if signers else None)
        except BundleError as e:
            raise SystemExit(_fail(str(e))) from None
        taken = (b.manifest or {}).get("captured_ts")
        return Loaded(b.root, b.incident_id, f"bundle {b.name} ({b.signature})",
                      _bundle_targets(b.config_text, f"{b.name}:config/cockpit.toml"), b.close,
                      [e for e in b.entries if e.kind != "session-start"],
                      float(taken) if isinstance(taken, int | float) else None)
    from ..journal.model import InvalidIncidentId, incident_dir

    try:
        if not incident_dir(args.state_dir, arg).is_dir():
            raise SystemExit(_fail(f"no such incident or bundle file: {arg} (incidents are "
                                   f"in {args.state_dir})"))
    except InvalidIncidentId:
        raise SystemExit(_fail(f"no such bundle file: {arg}")) from None
    cfg = getattr(args, "config_obj", None)
    where = f"configuration {cfg.path}" if cfg is not None else ""
    return Loaded(Path(args.state_dir), arg, f"state directory {args.state_dir}",
                  targets_of(cfg, where))


def _fail(msg: str) -> int:
    _err(msg)
    return 1


def _entries(state_dir: Path, incident_id: str) -> list[Any]:
    from ..journal.reader import read_incident

    return [e for e in read_incident(state_dir, incident_id, recover=False).entries
            if e.kind != "session-start"]


# ------------------------------------------------------------------ capture

def cmd_capture(args: argparse.Namespace) -> int:
    from ..journal.model import InvalidIncidentId
    from ..review.bundle import BundleError, capture

    out = Path(args.output or f"{args.incident}.bundle.tar")
    try:
        res = capture(Path(args.state_dir), args.incident, out, config=args.config_obj,
                      sign_key=Path(args.sign) if args.sign else None)
    except (BundleError, InvalidIncidentId) as e:
        return _fail(str(e))
    except OSError as e:
        # the bundle's directory, not capture's temporary file in it
        where = out.parent if not out.parent.is_dir() else (getattr(e, "filename", "") or out)
        return _fail(f"{where}: {e.strerror or e} (writing {out})")
    for n in res.notes:
        print(f"note: {one_line(n, 1000)}", file=sys.stderr)
    print(f"{one_line(res.path, 500)}: {res.members} members, {res.size} bytes"
          f"{', signed' if res.signed else ', unsigned'}"
          f"{' (the incident is still open)' if res.open_incident else ''}")
    return 0


# ------------------------------------------------------------------ pir

def cmd_pir(args: argparse.Namespace) -> int:
    if args.done:
        return _pir_done(args)
    from ..review.pir import Source, render

    src = load_target(args.target, args)
    try:
        entries = (src.entries if src.entries is not None
                   else _entries(src.state_dir, src.incident_id))
        t = src.targets
        try:
            now = src.measured_at if src.measured_at is not None else time.time()
            text = render(entries, t.services, t.milestones, now,
                          Source(src.incident_id, src.where, t.source), mask=t.mask)
        except ValueError as e:
            return _fail(str(e))
    finally:
        src.close()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{one_line(args.output, 500)}: post-incident review of {one_line(src.incident_id)}")
    else:
        sys.stdout.write(text)
    return 0


def _pir_done(args: argparse.Namespace) -> int:
    from ..incident.store import IncidentStore
    from ..journal.model import InvalidIncidentId, incident_dir

    if not args.file:
        return _fail("pir --done INCIDENT FILE: which file is the review?")
    try:
        if not incident_dir(args.state_dir, args.target).is_dir():
            return _fail(f"no such incident: {args.target} (in {args.state_dir})")
    except InvalidIncidentId as e:
        return _fail(str(e))
    try:
        data = Path(args.file).read_bytes()
    except OSError as e:
        return _fail(f"{args.file}: {e.strerror or e}")
    cfg = getattr(args, "config_obj", None)
    store = IncidentStore(args.state_dir, mode=getattr(cfg, "mode", "personal") or "personal")
    try:
        st = store.state(args.target)
        if st is None or st.status != "closed":
            # the review is of what happened, due 7 days after closing: an open incident's
            # review would be marked done before the incident is over
            return _fail(f"{one_line(args.target)} is {st.status if st else 'not declared'}, "
                         "not closed: a post-incident review is marked done once the incident "
                         "is closed (cockpit incident status ID closed)")
        store.journal(args.target).append("review.done", {
            "file": one_line(Path(args.file).name, 200), "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()})
    except OSError as e:
        return _fail(f"{args.state_dir}: {e.strerror or e}")
    finally:
        store.close()
    print(f"{one_line(args.target)}: review done ({one_line(Path(args.file).name, 200)})")
    return 0


# ------------------------------------------------------------------ metrics

@dataclass
class MetricsContext:
    now: float
    since: float | None
    items: list[tuple[str, IncidentMetrics]]
    state_dir: Path | None = None
    drills: tuple[Any, ...] = ()  # the configured drill kinds (cockpit.drills.schedule)


Section = Callable[[MetricsContext], tuple[list[str], Any]]


def _d(x: float | None) -> str:
    return "-" if x is None else format_duration(x)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:g}%"


def _word(met: bool | None) -> str:
    return "met" if met else ("MISSED" if met is False else "-")


def section_incidents(ctx: MetricsContext) -> tuple[list[str], Any]:
    lines, rows = [], []
    for iid, m in ctx.items:
        figs = {}
        for k in ("detect", "respond", "communicate"):
            f = m.figure(f"milestone:{k}")
            figs[k] = (None, None, None) if f is None else (f.achieved, f.target, f.met)
        rto = [f.met for f in m.rto if f.met is not None]
        rpo = [f.met for f in m.rpo if f.met is not None]
        review = ("done" if m.review_done_at is not None else "OVERDUE"
                  if m.review_overdue(ctx.now) else "due" if m.review_due else "-")
        lines.append(
            f"{one_line(iid, 80)}  " + "  ".join(
                f"{k} {_d(a)} ({_word(met)})" for k, (a, _t, met) in figs.items())
            + f"  recover {_d(m.time_to_recover)}  RTO {sum(rto)}/{len(rto)}  "
              f"RPO {sum(rpo)}/{len(rpo)}  review {review}")
        rows.append({"incident": iid, "title": m.incident.title, "status": m.incident.status,
                     **{f"time_to_{k}": a for k, (a, _t, _m) in figs.items()},
                     **{f"{k}_met": met for k, (_a, _t, met) in figs.items()},
                     "time_to_recover": m.time_to_recover,
                     "rto": {f.key.split(":", 1)[1]: {"target": f.target, "achieved": f.achieved,
                                                      "met": f.met} for f in m.rto},
                     "rpo": {f.key.split(":", 1)[1]: {"target": f.target, "achieved": f.achieved,
                                                      "met": f.met} for f in m.rpo},
                     "review_due": m.review_due, "review_done_at": m.review_done_at,
                     "review_overdue": m.review_overdue(ctx.now)})
    return (["Incidents:", *(f"  {x}" for x in lines)] if lines else ["Incidents: none"]), rows


def section_totals(ctx: MetricsContext) -> tuple[list[str], Any]:
    c = compliance([m for _, m in ctx.items], ctx.now)
    lines = [f"Totals over {c.incidents} incident{'s' if c.incidents != 1 else ''}:",
             f"  RTO compliance {_pct(c.rto_percent)} (target 100%)",
             f"  RPO compliance {_pct(c.rpo_percent)} (target 100%)",
             *(f"  {k} within target {_pct(v)}" for k, v in c.milestone_percent.items()),
             f"  reviews done within 7 days {_pct(c.reviews_on_time_percent)}, "
             f"{c.reviews_overdue} overdue"]
    return lines, {"incidents": c.incidents, "rto_percent": c.rto_percent,
                   "rpo_percent": c.rpo_percent, "milestone_percent": c.milestone_percent,
                   "reviews_on_time_percent": c.reviews_on_time_percent,
                   "reviews_overdue": c.reviews_overdue}


def section_drills(ctx: MetricsContext) -> tuple[list[str], Any]:
    """The testing schedule's figures (backup success rate, tests completed on schedule) over
    the same window (the drills' default, a quarter, for all time)."""
    from ..drills.board import read_board
    from ..drills.metrics import DEFAULT_WINDOW

    if ctx.state_dir is None or not ctx.drills:
        return ["Drills: none configured"], None
    board = read_board(ctx.state_dir, ctx.drills, ctx.now, window=ctx.since or DEFAULT_WINDOW)
    m = board.metrics
    return ["Drills (the DR testing schedule):", *(f"  {x}" for x in m.lines()),
            *([f"  overdue: {', '.join(board.overdue)}"] if board.overdue else [])], \
        {**m.as_dict(), "overdue": list(board.overdue)}


# (name, section): the JSON output is {name: value}; add a section by appending here
METRICS_SECTIONS: list[tuple[str, Section]] = [("incidents", section_incidents),
                                               ("totals", section_totals),
                                               ("drills", section_drills)]


def measure(state_dir: Path, targets: Targets, now: float, since: float | None
            ) -> list[tuple[str, IncidentMetrics]]:
    from ..journal.reader import list_incidents

    out = []
    for iid in sorted(list_incidents(state_dir)):
        m = incident_metrics(_entries(state_dir, iid), targets.services, targets.milestones, now)
        if m is None or (since is not None and (m.incident.declared_at or 0) < now - since):
            continue
        out.append((iid, m))
    return out


def cmd_metrics(args: argparse.Namespace) -> int:
    now = time.time()
    cfg = getattr(args, "config_obj", None)
    t = targets_of(cfg, f"configuration {cfg.path}" if cfg is not None else "")
    try:
        items = measure(Path(args.state_dir), t, now, args.since)
    except OSError as e:
        return _fail(f"{getattr(e, 'filename', '') or args.state_dir}: {e.strerror or e}")
    from ..drills.schedule import PLAN_DRILLS

    ctx = MetricsContext(now, args.since, items, Path(args.state_dir),
                         tuple(cfg.drills) if cfg is not None else PLAN_DRILLS)
    if args.json:
        doc = {name: fn(ctx)[1] for name, fn in METRICS_SECTIONS}
        doc["since_seconds"] = args.since
        print(json_line(doc, sort_keys=True))
        return 0
    span = "all time"
    if args.since:  # as the user typed it: 90d, 36h, 15m
        whole_days = args.since % 86400 == 0
        span = "the last " + (f"{int(args.since) // 86400}d" if whole_days
                              else short_duration(args.since))
    print(f"Metrics over {span} (targets: {one_line(t.source, 200)})")
    for _name, fn in METRICS_SECTIONS:
        print()
        for line in fn(ctx)[0]:
            print(line)
    return 0


def _since(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_parsers(sub: Commands) -> None:
    p = sub.add_parser("capture", help="write an incident to one verifiable file (a tar "
                                       "bundle) for offline review")
    p.add_argument("incident", help="incident id")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="the bundle to write (default INCIDENT.bundle.tar)")
    p.add_argument("--sign", metavar="KEY",
                   help="sign the manifest with this SSH private key (ssh-keygen -Y sign)")
    p.set_defaults(func=cmd_capture)
    p = sub.add_parser("pir", help="the post-incident review of a bundle or an incident, "
                                   "in Markdown")
    p.add_argument("target", metavar="BUNDLE|INCIDENT")
    p.add_argument("file", nargs="?", metavar="FILE",
                   help="with --done: the finished review file")
    p.add_argument("-o", "--output", metavar="FILE.md", help="write here (default stdout)")
    p.add_argument("--done", action="store_true",
                   help="journal that the review FILE of INCIDENT is done")
    p.add_argument("--allowed-signers", metavar="FILE",
                   help="a bundle's signature must be by one of these (ssh allowed_signers)")
    p.set_defaults(func=cmd_pir)
    p = sub.add_parser("metrics", help="time to detect/respond/communicate/recover, RTO and "
                                       "RPO compliance, reviews, per incident and in total")
    p.add_argument("--since", type=_since, default=None, metavar="AGE",
                   help="only incidents declared in the last AGE (e.g. 90d)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_metrics)


