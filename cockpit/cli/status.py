"""``cockpit status [--json] [--watch]``: the health as a Rich table or JSON.

Exit code: 0 all OK, 1 warning (or stale/unknown), 2 failing. One-shot runs report the raw
verdict of one round (no damping across cron runs); ``--watch`` keeps probing with damping.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..health import ServiceHealth, Status, worst
from ..probes.scheduler import Scheduler, anchors_from_config, from_config
from ..text import one_line
from ..timeutil import SystemClock, format_duration
from .common import Commands

STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red",
         Status.STALE: "dim", Status.UNKNOWN: "dim"}


def add_parsers(sub: Commands) -> None:
    p = sub.add_parser("status", help="probe every service once and print the health",
                       description="Probe every configured service and print its health. "
                                   "Exit code 0 all OK, 1 warning, 2 failing.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--watch", nargs="?", const=5.0, type=float, default=None, metavar="SECONDS",
                   help="repeat every SECONDS (default 5) until interrupted")
    p.set_defaults(func=handler)


def exit_code(health: list[ServiceHealth]) -> int:
    if not health:
        return 1
    return worst([h.status for h in health]).exit_code


def to_json(health: list[ServiceHealth], now: float) -> dict[str, Any]:
    def probe_doc(r: Any) -> dict[str, Any]:
        return {"status": r.status.value, "raw_status": (r.raw_status or r.status).value,
                "summary": r.summary, "observed_at": r.observed_at,
                "age": round(max(0.0, now - r.observed_at), 3), "error": r.error,
                "error_class": r.error_class, "latency": r.latency, "key_figure": r.key_figure,
                "metrics": dict(r.metrics)}

    return {
        "generated_at": now,
        "status": worst([h.status for h in health]).value if health else Status.UNKNOWN.value,
        "exit_code": exit_code(health),
        "services": [{
            "id": h.service, "title": h.title, "status": h.status.value, "word": h.status.word,
            "summary": h.summary, "key_figure": h.key_figure, "observed_at": h.observed_at,
            "age": h.age(now), "rpo_exposure": h.rpo_exposure, "down_since": h.down_since,
            "probes": {n: probe_doc(r) for n, r in h.probes.items()},
        } for h in health],
    }


def table(health: list[ServiceHealth], now: float) -> Table:
    t = Table(title=Text("DR cockpit: service health"), show_lines=False)
    for col in ("Service", "Status", "Key figure", "Age", "Summary"):
        t.add_column(Text(col))
    for h in health:
        style = STYLE.get(h.status, "")
        t.add_row(Text(one_line(h.title, 40)), Text(h.status.word, style=style),
                  Text(one_line(h.key_figure or "", 24)), Text(h.age_text(now)),
                  Text(one_line(h.summary, 160)))
        for name, r in h.probes.items():
            t.add_row(Text("  " + one_line(name, 38), style="dim"),
                      Text(r.status.word, style=STYLE.get(r.status, "")),
                      Text(one_line(r.key_figure or "", 24)),
                      Text(f"{format_duration(max(0.0, now - r.observed_at))} ago"),
                      Text(one_line(r.error or r.summary, 160), style="dim"))
    return t


def handler(args: argparse.Namespace) -> int:
    console = Console()
    err = Console(stderr=True)
    config = args.config
    services = from_config(config)
    if not services:
        err.print(Text("cockpit status: no services configured"))
        return 2
    state_dir = getattr(args, "state_dir", None)
    clock = SystemClock()
    sched = Scheduler(services, Path(state_dir) if state_dir else None, clock,
                      anchors=anchors_from_config(config),
                      load=False, jitter=0.0)
    watch = getattr(args, "watch", None)
    as_json = bool(getattr(args, "json", False))

    def show(health: list[ServiceHealth]) -> None:
        now = clock.now()
        if as_json:
            sys.stdout.write(json.dumps(to_json(health, now), default=str) + "\n")
            sys.stdout.flush()
        else:
            console.print(table(health, now))

    async def main() -> None:
        show(await sched.run_once())
        while watch:
            await asyncio.sleep(max(0.5, watch))
            health = await sched.run_once()
            if not as_json:
                console.clear()
            show(health)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `cockpit status --json | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return exit_code(sched.snapshot())
