"""``cockpit sync [--once] [INCIDENT]``: journal sync through the ``[sync]`` bucket (for cron,
or a terminal without the cockpit)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..journal.model import InvalidIncidentId, check_incident_id
from ..text import one_line
from .common import CliError, Commands


def _print_report(rep: Any, incident: str | None) -> None:
    for line in rep.problems:
        print(f"sync problem: {one_line(line, 1000)}", file=sys.stderr)
    if rep.error:
        print(f"cockpit: sync: {one_line(rep.error, 500)}; {rep.waiting} entries waiting",
              file=sys.stderr)
    for iid in rep.new_incidents:
        print(f"new incident from another bastion: {one_line(iid)}")
    print(f"sync: pushed {rep.pushed} entries ({rep.segments_put} segments), pulled "
          f"{rep.pulled} entries ({rep.segments_got} segments), {rep.waiting} waiting, "
          f"{rep.requests} requests")


def cmd_sync(args: argparse.Namespace) -> int:
    from ..sync import make_engine

    cfg = args.config_obj
    if cfg is None or cfg.sync is None:
        where = cfg.path if cfg is not None else "cockpit.toml"
        raise CliError(f"{where}: sync is not configured ([sync] with enabled = true, "
                       "bucket, endpoint; see README)")
    if args.incident is not None:
        try:
            check_incident_id(args.incident)
        except InvalidIncidentId as e:
            raise CliError(str(e)) from None
    engine = make_engine(cfg.sync, args.state_dir, mode=cfg.mode)
    try:
        while True:
            try:
                rep = engine.run(args.incident)
            except OSError as e:
                where = getattr(e, "filename", None) or args.state_dir
                raise CliError(f"{where}: {e.strerror or e}") from None
            _print_report(rep, args.incident)
            sys.stdout.flush()
            if args.once:
                return 0 if rep.ok else 1
            time.sleep(cfg.sync.interval)
    finally:
        engine.bucket.close()


def add_parsers(sub: Commands) -> None:
    p = sub.add_parser("sync", help="sync incidents and exercises with other bastions "
                                    "through the [sync] S3 bucket")
    p.add_argument("incident", nargs="?", help="only this incident (default: all, and new "
                                               "ones from the bucket)")
    p.add_argument("--once", action="store_true",
                   help="one run, then exit (1 if S3 failed or a segment was quarantined)")
    p.set_defaults(func=cmd_sync)
