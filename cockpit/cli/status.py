"""``cockpit status [--json] [--verbose] [--watch]``: the health, one line per service, or JSON.

Exit code: 0 all OK; 1 warning (or stale/unknown); 2 a service is DOWN; 3 the cockpit's own
network (or its resolver, or its routes to some services) is down, so services it cannot
reach are UNKNOWN, and no service is DOWN. One-shot runs report the raw verdict of one round
(no damping across cron runs; the last-known results of the state directory are shown for
services the cockpit cannot reach, with their age); ``--watch`` keeps probing with damping.

The self-check's verdict comes first, in words. A service line is its status word, title, key
figure, the age of its last answer and a summary cut to the terminal's width (80 columns when
not a terminal); ``--verbose`` adds each probe, its whole summary, its error when it says
more, and what the self-check saw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.text import Text

from ..health import ProbeResult, ServiceHealth, Status, worst
from ..probes import base
from ..probes.scheduler import Scheduler, anchors_from_config, from_config
from ..probes.selfcheck import NetworkState, Verdict
from ..text import one_line
from ..timeutil import SystemClock, format_age
from .common import Commands

STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red",
         Status.STALE: "magenta", Status.UNKNOWN: "dim"}
EXIT_OWN_NETWORK = 3
# status word, title, key figure, age: the summary gets the rest of the line
WORD, TITLE, FIGURE, AGE = 8, 17, 12, 7


def add_parsers(sub: Commands) -> None:
    p = sub.add_parser("status", help="probe every service once and print the health",
                       description="Probe every configured service and print its health, one "
                                   "line per service. Exit code 0 all OK, 1 warning, 2 a "
                                   "service is DOWN, 3 the cockpit's own network is down "
                                   "(services it cannot reach are UNKNOWN).")
    p.add_argument("--json", action="store_true", help="print JSON instead of lines")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="every probe, whole summaries, errors and the self-check's findings")
    p.add_argument("--watch", nargs="?", const=5.0, type=float, default=None, metavar="SECONDS",
                   help="repeat every SECONDS (default 5) until interrupted")
    p.set_defaults(func=handler)


def exit_code(health: list[ServiceHealth], network: NetworkState | None = None) -> int:
    if not health:
        return 1
    code = worst([h.status for h in health]).exit_code
    if code < 2 and network is not None and (network.verdict == Verdict.OFFLINE or any(
            r.error_class == base.OFFLINE for h in health for r in h.probes.values())):
        return EXIT_OWN_NETWORK  # no service DOWN, and some we cannot see from here
    return code


def to_json(health: list[ServiceHealth], now: float,
            network: NetworkState | None = None) -> dict[str, Any]:
    def probe_doc(r: ProbeResult) -> dict[str, Any]:
        return {"status": r.status.value, "raw_status": (r.raw_status or r.status).value,
                "summary": r.summary, "observed_at": r.observed_at,
                "age": round(max(0.0, now - r.observed_at), 3), "error": r.error,
                "error_class": r.error_class, "latency": r.latency, "key_figure": r.key_figure,
                "metrics": dict(r.metrics)}

    return {
        "generated_at": now,
        "status": worst([h.status for h in health]).value if health else Status.UNKNOWN.value,
        "exit_code": exit_code(health, network),
        "network": (network or NetworkState()).doc(),
        "services": [{
            "id": h.service, "title": h.title, "status": h.status.value, "word": h.status.word,
            "summary": h.summary, "key_figure": h.key_figure, "observed_at": h.observed_at,
            "age": h.age(now), "rpo_exposure": h.rpo_exposure, "down_since": h.down_since,
            "probes": {n: probe_doc(r) for n, r in h.probes.items()},
        } for h in health],
    }


def _cell(text: str, width: int) -> str:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` terminal cells."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def _age(observed_at: float | None, now: float) -> str:
    return "never" if observed_at is None else format_age(max(0.0, now - observed_at))


def line(word: Status, title: str, figure: str, age: str, summary: str, width: int,
         indent: int = 0) -> Text:
    """One line of exactly ``width`` cells at most: no column ever runs into the next."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(" " * indent)
    t.append(_cell(word.word, WORD - 1) + " ", style=STYLE.get(word, ""))
    t.append(_cell(one_line(title, 200), TITLE - indent - 1) + " ", style="bold")
    t.append(_cell(one_line(figure, 40), FIGURE - 1) + " ")
    t.append(_cell(age, AGE - 1).rstrip().rjust(AGE - 1) + "  ")
    rest = max(8, width - (WORD + TITLE + FIGURE + AGE + 1))
    t.append(_cell(one_line(summary, 400), rest).rstrip(), style="dim" if word == Status.STALE else "")
    return t


def render(health: list[ServiceHealth], network: NetworkState, now: float, width: int,
           verbose: bool = False) -> list[Text]:
    out: list[Text] = []
    for p in network.problems:
        style = "bold red" if p.verdict == Verdict.OFFLINE else "bold yellow"
        for chunk in textwrap.wrap(one_line(p.text, 600), width):
            out.append(Text(chunk, style=style))
    head = Text(no_wrap=True)
    head.append(f"{'STATUS':<{WORD}}{'SERVICE':<{TITLE}}{'KEY FIGURE':<{FIGURE}}{'AGE':>{AGE - 1}}  "
                "SUMMARY", style="bold")
    out.append(head)
    for h in health:
        out.append(line(h.status, h.title, h.key_figure or "", _age(h.observed_at, now),
                        h.summary, width))
        if not verbose:
            continue
        for name, r in h.probes.items():
            never = r.error_class == base.OFFLINE and "last_known_status" not in r.metrics
            out.append(line(r.status, name, r.key_figure or "",
                            _age(None if never else r.observed_at, now), "", width, indent=2))
            more = [r.summary]
            if r.error and one_line(r.error, 600) not in one_line(r.summary, 600):
                more.append(f"error: {r.error}")
            for m in more:
                for chunk in textwrap.wrap(one_line(m, 1000), max(20, width - 6)):
                    out.append(Text("      " + chunk, style="dim"))
    if verbose:
        out.extend(Text(chunk, style="dim") for chunk in textwrap.wrap(
            "Self-check: " + self_check_words(network), width, subsequent_indent="  "))
    return out


def self_check_words(network: NetworkState) -> str:
    o = network.observation
    if o is None:
        return "not looked (no probe failed at the network level)."
    ifaces = ("cannot tell" if o.links is None else ", ".join(o.links) or "none besides loopback")
    res = o.resolver
    asked = ("not asked" if res.answers is None else "answers" if res.answers else
             f"does not answer ({res.detail})")
    anchors = ", ".join(f"{h}:{p} {'answers' if ok else 'no answer'}" for h, p, ok in o.anchors)
    return one_line(
        f"interfaces up: {ifaces}; route beyond this machine: {'yes' if o.route else 'no'}; "
        f"resolver {', '.join(res.servers) or '-'}: {asked}; anchors: "
        f"{anchors or 'none configured'}; verdict: {network.verdict.value}.", 1000)


def handler(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    config = args.config
    services = from_config(config)
    if not services:
        err.print(Text("cockpit status: no services configured"))
        return 2
    state_dir = getattr(args, "state_dir", None)
    clock = SystemClock()
    sched = Scheduler(services, Path(state_dir) if state_dir else None, clock,
                      anchors=anchors_from_config(config),
                      damp_loaded=False, jitter=0.0)  # last-known shown, never damped against
    if sched.load_error:
        err.print(Text(f"cockpit status: last-known health {one_line(sched.load_error, 200)}"))
    watch = getattr(args, "watch", None)
    as_json = bool(getattr(args, "json", False))
    verbose = bool(getattr(args, "verbose", False))

    def show(health: list[ServiceHealth]) -> None:
        now = clock.now()
        if as_json:
            sys.stdout.write(json.dumps(to_json(health, now, sched.network), default=str) + "\n")
            sys.stdout.flush()
            return
        for t in render(health, sched.network, now, console.width, verbose):
            console.print(t, no_wrap=True, overflow="ellipsis", crop=True)

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
    return exit_code(sched.snapshot(), sched.network)
