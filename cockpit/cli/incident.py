"""``cockpit incident declare|status|note|assign|list``: for when the full screen is not there."""

from __future__ import annotations

import sys

from ..incident.model import LIFECYCLE, NOTE_TYPES, ROLES
from ..incident.store import IncidentError, IncidentStore, NoSuchIncident, is_reopen
from ..plan import SEVERITIES
from ..text import json_line, one_line
from ..timeutil import format_duration
from ..timeutil import parse_when as _parse_when
from .common import Commands, commands


def parse_when(text: str, now: float) -> float:
    try:
        return _parse_when(text, now)
    except ValueError as e:
        raise IncidentError(str(e)) from None


def _store(args) -> IncidentStore:
    cfg = getattr(args, "config", None)
    mode = getattr(cfg, "mode", "personal") if cfg is not None else "personal"
    return IncidentStore(args.state_dir, mode=mode)


def _run(fn, args) -> int:
    store = _store(args)
    try:
        return fn(store, args)
    except NoSuchIncident as e:  # not found: exit 1, as `cockpit log` and `cockpit verify`
        print(f"cockpit: {one_line(str(e), 1000)}", file=sys.stderr)
        return 1
    except IncidentError as e:
        print(f"cockpit: {one_line(str(e), 1000)}", file=sys.stderr)
        return 2
    except OSError as e:
        where = getattr(e, "filename", "") or args.state_dir
        print(f"cockpit: {one_line(where, 500)}: {one_line(e.strerror or e, 300)}",
              file=sys.stderr)
        return 2
    finally:
        store.close()


def _declare(store: IncidentStore, args) -> int:
    cfg = getattr(args, "config", None)
    known = set(getattr(cfg, "services", {}) or {})
    unknown = [s for s in args.service or [] if known and s not in known]
    if unknown:
        where = cfg.path if cfg is not None else "the configuration"
        raise IncidentError(f"unknown service {unknown[0]!r} (in {where}: "
                            f"{', '.join(sorted(known))})")
    impact = parse_when(args.impact_start, store.clock.now()) if args.impact_start else None
    iid = store.declare(args.title, args.severity, args.service or [], impact)
    print(one_line(iid))
    return 0


def _status(store: IncidentStore, args) -> int:
    store.set_status(args.incident, args.status, skip_ok=args.skip)
    print(f"{one_line(args.incident)}: {args.status}")
    return 0


def _reopen(store: IncidentStore, args) -> int:
    st = store.state(args.incident)
    if st is not None and not is_reopen(st.status, args.status):
        raise IncidentError(f"the incident is {st.status}: {args.status} is not a step back "
                            "(use `cockpit incident status`)")
    store.set_status(args.incident, args.status, reopen=True, reason=" ".join(args.reason))
    print(f"{one_line(args.incident)}: reopened, now {args.status}")
    return 0


def _note(store: IncidentStore, args) -> int:
    e = store.note(args.incident, " ".join(args.text), args.type)
    print(f"{one_line(args.incident)}: {args.type} noted ({one_line(e.id)})")
    return 0


def _assign(store: IncidentStore, args) -> int:
    store.assign(args.incident, args.role, args.person)
    print(f"{one_line(args.incident)}: {args.role} is {one_line(args.person, 60)}")
    return 0


def _list(store: IncidentStore, args) -> int:
    rows = store.list()
    now = store.clock.now()
    if args.json:
        for s in rows:
            st = s.state
            # every control, bidi or zero-width character is a \\u escape
            print(json_line({"id": s.id, "title": st.title, "severity": st.severity,
                             "status": st.status, "services": list(st.services),
                             "declared_at": st.declared_at, "impact_start": st.impact_start,
                             "roles": dict(st.roles),
                             "review_overdue": bool(_review_word(store, s.id, st, now))}))
        return 0
    if not rows:
        print(f"no incidents in {one_line(args.state_dir, 500)}")
    # columns aligned whatever the ids' lengths (POLISH 11)
    ids = [one_line(s.id) for s in rows]
    width = max((len(i) for i in ids), default=0)
    for iid, s in zip(ids, rows, strict=True):
        st = s.state
        age = format_duration(now - (st.declared_at or now))
        print(f"{iid:<{width}}  {one_line(st.severity, 4):<4} {one_line(st.status, 10):<10} "
              f"{age:>7} ago  {one_line(st.title, 80)}{_review_word(store, s.id, st, now)}")
    return 0


def _review_word(store: IncidentStore, iid: str, st, now: float) -> str:
    """"  REVIEW OVERDUE" when the post-incident review of a closed incident is late (the
    metrics core decides: 7 days after closing, none journaled with ``pir --done``)."""
    from ..incident.metrics import REVIEW_DUE, incident_metrics
    from ..plan import Milestones

    if st.closed_at is None or now <= st.closed_at + REVIEW_DUE:
        return ""
    m = incident_metrics(store.entries(iid), (), Milestones(), now)
    return "  REVIEW OVERDUE" if m is not None and m.review_overdue(now) else ""


def add_parsers(sub: Commands) -> None:
    p = sub.add_parser("incident", help="declare and update incidents without the full screen")
    isub = commands(p, dest="incident_command", metavar="ACTION", required=True)
    d = isub.add_parser("declare", help="declare an incident; prints its id")
    d.add_argument("--title", required=True)
    d.add_argument("--severity", choices=SEVERITIES, default="P1")
    d.add_argument("--service", action="append", metavar="ID", help="an affected service (repeat)")
    d.add_argument("--impact-start", metavar="WHEN", help="when the impact began: 10m (ago), HH:MM UTC or ISO time")
    d.set_defaults(func=lambda a: _run(_declare, a))
    s = isub.add_parser("status", help="move an incident forward: " + " -> ".join(LIFECYCLE))
    s.add_argument("incident")
    s.add_argument("status", choices=LIFECYCLE[1:])
    s.add_argument("--skip", action="store_true",
                   help="confirm a change that skips states (e.g. declared -> closed)")
    s.set_defaults(func=lambda a: _run(_status, a))
    ro = isub.add_parser("reopen", help="move an incident back (e.g. closed -> responding): "
                         "journaled with its reason; its clocks run again")
    ro.add_argument("incident")
    ro.add_argument("status", choices=LIFECYCLE[1:-1])
    ro.add_argument("--reason", nargs="+", required=True)
    ro.set_defaults(func=lambda a: _run(_reopen, a))
    n = isub.add_parser("note", help="add a log entry")
    n.add_argument("incident")
    n.add_argument("text", nargs="+")
    n.add_argument("--type", choices=NOTE_TYPES, default="observation")
    n.set_defaults(func=lambda a: _run(_note, a))
    r = isub.add_parser("assign", help="assign or hand over a role")
    r.add_argument("incident")
    r.add_argument("role", choices=ROLES)
    r.add_argument("person")
    r.set_defaults(func=lambda a: _run(_assign, a))
    ls = isub.add_parser("list", help="incidents, newest first")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=lambda a: _run(_list, a))
