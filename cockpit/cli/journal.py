"""``cockpit verify <incident>|<bundle>`` and ``cockpit log <incident> [--json]``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from ..journal.model import Entry, InvalidIncidentId, incident_dir
from ..journal.reader import read_incident
from ..journal.validate import is_unreadable
from ..journal.verify import verify_incident
from ..text import json_line, one_line
from .common import Commands


def _err(msg: str) -> None:
    print(f"cockpit: {one_line(msg, limit=1000)}", file=sys.stderr)


def _fmt_ts(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    except (OverflowError, OSError, ValueError):
        return repr(ts)


def format_entry(e: Entry) -> str:
    """One readable line (every untrusted part escaped); an unreadable record as
    "unreadable record from WRITER seq N: reason"."""
    from ..incident.log import describe

    mark = "" if e.verified else " [UNVERIFIED]"
    label, text = describe(e)
    line = (f"{_fmt_ts(e.ts)} {one_line(e.author, 40)} {one_line(label, 40)}{mark}: "
            f"{one_line(text, 400)}")
    return line.rstrip(": ")


def cmd_verify_bundle(args: argparse.Namespace) -> int:
    """A capture bundle, offline: every member against the manifest, every journal chain,
    the signature. The first problem in one line, exit 1."""
    from pathlib import Path

    from ..review.bundle import verify_bundle

    signers = Path(args.allowed_signers) if args.allowed_signers else None
    if signers is not None and not signers.is_file():
        _err(f"{signers}: no such allowed signers file" if not signers.exists() else
             f"{signers}: not a regular file (an allowed signers file is ssh-keygen's "
             "'principal key' lines)")
        return 2
    res = verify_bundle(Path(args.incident), signers)
    for note in res.notes:
        print(f"note: {one_line(note, limit=1000)}", file=sys.stderr)
    if not res.ok:
        print(f"NOT OK: {one_line(args.incident, 500)}: {one_line(res.problem, 1500)}")
        return 1
    m = res.manifest
    print(f"OK: {res.members} members match the manifest, {res.records} records in intact "
          f"chains; incident {one_line(m.get('incident', '?'), 140)}"
          f"{' (captured while open)' if m.get('open_incident') else ''}; "
          f"{one_line(res.signature, 200)}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    if Path(args.incident).is_file() or args.allowed_signers:
        return cmd_verify_bundle(args)
    try:
        if not incident_dir(args.state_dir, args.incident).is_dir():
            what = "bundle file or incident" if "." in args.incident else "incident"
            _err(f"no such {what}: {args.incident} (in {args.state_dir})")
            return 1
        res = verify_incident(args.state_dir, args.incident)
    except InvalidIncidentId as e:
        _err(str(e))
        return 2
    except OSError as e:
        _err(f"{getattr(e, 'filename', '') or args.state_dir}: {e.strerror or e}")
        return 2
    for note in res.notes:
        print(f"note: {one_line(note, limit=1000)}", file=sys.stderr)
    if not res.ok:
        print(one_line(str(res.first_bad), limit=2000))
        return 1
    if res.clean:
        print(f"OK: {res.count} records in {res.files} journal files, chains intact")
    else:
        print(f"chains intact: {res.count} records in {res.files} journal files, but:")
        for line in res.unreadable:
            print(one_line(line, limit=1000))
        for line in res.authorship:
            print(f"authorship not proven: {one_line(line, limit=1000)}")
        n = len(res.unreadable)
        print(f"NOT OK: {n} unreadable record{'' if n == 1 else 's'} (hash-valid but not "
              f"well-formed: not folded into the incident)"
              + (f", {len(res.authorship)} writer file(s) not proven to be by who they say"
                 if res.authorship else ""))
    if getattr(args, "heads", False):
        # compare with the heads the writers sent to syslog (`journalctl -t dr-cockpit`):
        # a cut-off tail or a deleted file shows as a head syslog has and the files lack
        for writer, seq, digest in res.heads:
            print(f"head {one_line(writer, 200)} seq={seq} head={one_line(digest, 80)}")
    return 0 if res.clean else 1


def cmd_log(args: argparse.Namespace) -> int:
    try:
        if not incident_dir(args.state_dir, args.incident).is_dir():
            _err(f"no such incident: {args.incident} (in {args.state_dir})")
            return 1
        res = read_incident(args.state_dir, args.incident, recover=False)
    except InvalidIncidentId as e:
        _err(str(e))
        return 2
    except OSError as e:
        _err(f"{getattr(e, 'filename', '') or args.state_dir}: {e.strerror or e}")
        return 2
    out = sys.stdout
    for entry in res.entries:
        if not args.json and not args.all and entry.kind == "session-start":
            continue  # bookkeeping of each writer process: --all shows it
        if args.json:
            # every control, bidi or zero-width character is a \\u escape
            out.write(json_line(entry.as_json(), sort_keys=True) + "\n")
        else:
            out.write(format_entry(entry) + "\n")
    unreadable = sum(1 for e in res.entries if is_unreadable(e))
    for p in res.problems:
        _err(p)
    for p in res.authorship:
        _err(f"authorship not proven: {p}")
    if unreadable:
        _err(f"{unreadable} unreadable record{'' if unreadable == 1 else 's'} (hash-valid but "
             f"not well-formed; shown, not folded): `cockpit verify {args.incident}` lists them")
    return 1 if res.problems or unreadable or res.authorship else 0


def add_parsers(sub: Commands) -> None:
    p = sub.add_parser("verify", help="check an incident's journals (hash chains), or a "
                                      "capture bundle (members, chains, signature)")
    p.add_argument("incident", metavar="INCIDENT|BUNDLE", help="incident id or bundle file")
    p.add_argument("--allowed-signers", metavar="FILE",
                   help="a bundle's signature must be by one of these (ssh allowed_signers)")
    p.add_argument("--heads", action="store_true",
                   help="also print each writer's last chain head, to compare with syslog")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("log", help="print an incident's merged timeline")
    p.add_argument("incident", help="incident id")
    p.add_argument("--json", action="store_true", help="one JSON object per line (every record)")
    p.add_argument("--all", action="store_true",
                   help="also the session-start record of every writer process")
    p.set_defaults(func=cmd_log)
