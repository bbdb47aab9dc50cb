"""``cockpit review BUNDLE|INCIDENT``: a recorded incident, replayed read-only.

No configuration is read unless one is named (``--config``: its services' RTO/RPO targets
and milestones); no network is used; nothing is written. A BUNDLE (a file written by
``cockpit capture``) is verified and extracted by ``cockpit.review.bundle.open_bundle``; its
captured (redacted) configuration gives the plan (a named one only when it has none). ``cockpit
serve --review BUNDLE`` runs this command for each browser. An INCIDENT is an incident id of the state
directory, or the path of an incident's directory (``<state>/incidents/<id>``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..text import one_line
from .common import CliError, Commands


def add_parsers(sub: Commands) -> None:
    p = sub.add_parser(
        "review", help="replay a recorded incident read-only (a capture bundle or an "
                       "incident): no network, no configuration needed",
        description="Open the cockpit read-only on a recorded incident. A timeline scrubber "
                    "moves the cursor t: left/right entry by entry, [ ] minute by minute, : a "
                    "typed time, space plays (+/- speed). Every pane shows the state as of t.")
    p.add_argument("target", metavar="BUNDLE|INCIDENT",
                   help="a capture bundle file, an incident id of the state directory, or an "
                        "incident's directory")
    p.add_argument("--at", metavar="TIME", default=None,
                   help="open with the cursor at this time (HH:MM[:SS] UTC, YYYY-MM-DD HH:MM, "
                        "T+12m); default: the last entry")
    p.set_defaults(func=cmd_review)


def _bundle_opener() -> Callable[[Path], Any]:
    """Part of the capture work (``cockpit capture``): where a bundle plugs in."""
    try:
        mod = importlib.import_module("cockpit.review.bundle")
    except ImportError:
        raise CliError("this cockpit cannot open capture bundles (cockpit.review.bundle is "
                       "missing); review the incident from its state directory instead") from None
    error = getattr(mod, "BundleError", ValueError)

    def opener(path: Path) -> Any:
        try:
            return mod.open_bundle(path)
        except error as e:  # the first problem of the bundle, in one line
            raise CliError(one_line(str(e), 500)) from None

    return opener


def open_review(target: str, state_dir: Path, config_path: str | None = None, *,
                load: bool = True) -> tuple[Any, Callable[[], None]]:
    """The review session of ``target`` and what closes it (a bundle's temporary copy).
    ``load=False``: the journals are read after the first frame (``ReviewSession.run``)."""
    from ..session.review import ReviewError, ReviewSession, plan_from_config, plan_from_config_text

    plan = None
    if config_path:
        from ..config import load_config

        plan = plan_from_config(load_config(Path(config_path)), str(config_path))
    path = Path(target)
    try:
        if path.is_file():
            bundle = _bundle_opener()(path)
            try:
                # the bundle's own (captured, redacted) configuration is the record's plan:
                # it wins over a configuration named here (``cockpit serve --review`` passes
                # the server's), which is used only for a bundle captured without one
                config_text = str(getattr(bundle, "config_text", None) or "")
                if config_text:
                    plan = plan_from_config_text(config_text, f"{path.name}:cockpit.toml")
                # the bundle's verification read every journal once: its entries are used
                entries = getattr(bundle, "entries", None) or None
                taken = (getattr(bundle, "manifest", None) or {}).get("captured_ts")
                session = ReviewSession(Path(bundle.root), bundle.incident_id, plan=plan,
                                        name=str(bundle.name), signature=str(bundle.signature),
                                        runbook_dirs=_bundle_runbooks(bundle),
                                        entries=entries, load=load,
                                        until=float(taken) if isinstance(
                                            taken, int | float) else None)
            except BaseException:
                bundle.close()
                raise
            return session, bundle.close
        if path.is_dir() and path.parent.name == "incidents":
            root, iid = path.parent.parent, path.name
        elif "/" in target or path.exists():
            raise CliError(f"{target}: neither a capture bundle nor an incident's directory")
        else:
            root, iid = Path(state_dir), target
        session = ReviewSession(root, iid, plan=plan, name=iid, load=load,
                                signature="state directory, unsigned")  # short: the title bar
    except ReviewError as e:
        raise CliError(str(e)) from None
    except ValueError as e:  # an incident id that is not one (journal.check_incident_id)
        raise CliError(f"{one_line(target, 200)}: {one_line(str(e), 200)}") from None
    return session, lambda: None


def _bundle_runbooks(bundle: Any) -> tuple[Path, ...]:
    """The runbooks the incident used, as captured (``runbooks/`` beside the state root)."""
    d = Path(bundle.root).parent / "runbooks"
    return (d,) if d.is_dir() else ()


def cmd_review(args: Any) -> int:
    from .main import run_ui

    # With --at the record is read first (a wrong time is said before the screen opens);
    # else the first frame shows the newest entries while every journal is read and verified.
    session, close = open_review(args.target, Path(args.state_dir),
                                 getattr(args, "config_path", None), load=bool(args.at))
    try:
        if not session.loaded:
            session.preview()
        if args.at:
            from ..session.review import ReviewError

            try:
                session.seek_text(args.at)
            except ReviewError as e:
                raise CliError(f"--at: {e}") from None
        ui = importlib.import_module("cockpit.screens.review")
        return run_ui(lambda: ui.ReviewApp(session))
    finally:
        close()

