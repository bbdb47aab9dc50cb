"""``cockpit serve`` (the browser view) and ``cockpit observe`` (the same read-only view in
this terminal).

    serve [--incident ID | --exercise ID | --review BUNDLE] [--host H] [--port N]
          [--insecure] [--tls-cert FILE --tls-key FILE]
    observe [--incident ID | --exercise ID]

``serve`` prints one URL carrying a random access token; each browser that opens it gets its
own read-only cockpit (``cockpit observe ...``, or ``cockpit review BUNDLE``). It binds to
loopback unless ``--host`` says otherwise, and refuses a non-loopback address without TLS
(``--tls-cert``/``--tls-key``) unless ``--insecure`` says TLS is in front of it.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import secrets
import shlex
import ssl
import sys
from pathlib import Path
from typing import Any

from ..exercise.store import ExerciseError, ExerciseStore
from ..text import one_line
from .common import CliError, Commands

DEFAULT_PORT = 8000


def _mode(args: argparse.Namespace) -> str:
    cfg = getattr(args, "config", None)
    return getattr(cfg, "mode", "personal") if cfg is not None else "personal"


def _need_config(args: argparse.Namespace) -> Any:
    cfg = getattr(args, "config_obj", None)
    if cfg is None:
        raise CliError("an incident view needs the environment's cockpit.toml (--config, "
                       "$COCKPIT_CONFIG or ./cockpit.toml); an exercise needs none (--exercise)")
    return cfg


def _incident_id(args: argparse.Namespace) -> str | None:
    """The incident asked for (checked to exist), or None: the newest, as it comes."""
    from ..incident.store import IncidentStore
    from ..journal.model import check_incident_id

    ref = args.incident
    ids = sorted(IncidentStore(args.state_dir).ids()) if Path(args.state_dir).exists() else []
    if ref in (None, "latest"):
        return ids[-1] if ids else None
    try:
        check_incident_id(ref)
    except ValueError as e:
        raise CliError(str(e)) from None
    if ref not in ids:
        raise CliError(f"no such incident: {ref} (in {args.state_dir}; `cockpit incident list` "
                       "shows them)")
    return str(ref)


def _exercise_id(args: argparse.Namespace) -> str:
    store = ExerciseStore(args.state_dir, mode=_mode(args))
    try:
        return store.resolve(args.exercise)
    except ExerciseError as e:
        raise CliError(str(e)) from None
    finally:
        store.close()


def describe(args: argparse.Namespace) -> str:
    """What the view shows, for the banner and the page title: ``INCIDENT <id>`` ..."""
    if getattr(args, "review", None):
        return f"REVIEW {one_line(Path(args.review).name, 80)}"
    if args.exercise:
        return f"EXERCISE {_exercise_id(args)}"
    iid = _incident_id(args)
    return f"INCIDENT {iid}" if iid else "INCIDENT (the newest, once declared)"


# ---------------------------------------------------------------- observe (the child)

def cmd_observe(args: argparse.Namespace) -> int:
    from ..session.observer import ObserverSession
    from .main import run_ui

    what = describe(args)
    cfg = getattr(args, "config_obj", None)
    keymap = getattr(cfg, "keys", None) if cfg is not None else None
    if args.exercise:
        from ..session.exercise import ExerciseSession

        xid = _exercise_id(args)
        dirs = tuple(getattr(cfg, "runbook_dirs", ()) or ()) if cfg is not None else ()
        try:
            inner: Any = ExerciseSession(args.state_dir, xid, mode=_mode(args),
                                         facilitator=False, runbook_dirs=dirs)  # never joins
        except ExerciseError as e:
            raise CliError(str(e)) from None
        ui = importlib.import_module("cockpit.screens.exercise")
        session = ObserverSession(inner, what)
        return run_ui(lambda: ui.ExerciseApp(session, facilitator=None, keymap=keymap))
    from ..session.live import LiveSession

    config = _need_config(args)
    iid = _incident_id(args)
    live: Any = LiveSession(config, args.state_dir, runbook_dirs=config.runbook_dirs,
                       observer=True)
    if iid is not None:
        live.follow(iid)
    app_module = importlib.import_module("cockpit.screens.app")
    observer = ObserverSession(live, what)
    return run_ui(lambda: app_module.CockpitApp(observer, keymap=keymap))


# ---------------------------------------------------------------- serve

def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    cert, key = args.tls_cert, args.tls_key
    if not cert and not key:
        return None
    if not cert or not key:
        raise CliError("TLS needs both --tls-cert FILE and --tls-key FILE")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise CliError(f"{cert} / {key}: cannot load the TLS certificate and key: "
                       f"{one_line(getattr(e, 'strerror', None) or e, 200)}") from None
    return ctx


def _review_available() -> bool:
    from .main import build_parser

    sub = next((a for a in build_parser(full=True)._actions
                if isinstance(a, argparse._SubParsersAction)), None)
    return sub is not None and "review" in sub.choices


def child_command(args: argparse.Namespace) -> list[str]:
    """The read-only cockpit each browser gets (its argv)."""
    base = [sys.executable, "-m", "cockpit", "--state-dir", str(Path(args.state_dir).resolve())]
    cfg = getattr(args, "config_obj", None)
    if cfg is not None and getattr(cfg, "path", None) is not None:
        base += ["--config", str(Path(cfg.path).resolve())]
    if args.review:
        if not _review_available():
            raise CliError("--review needs `cockpit review`, which this cockpit does not have "
                           "(serve an --incident or an --exercise instead)")
        bundle = Path(args.review)
        if not bundle.exists():
            raise CliError(f"{args.review}: no such review bundle")
        return [*base, "review", str(bundle.resolve())]
    if args.exercise:
        return [*base, "observe", "--exercise", _exercise_id(args)]
    _need_config(args)
    iid = _incident_id(args)
    return [*base, "observe", *(["--incident", iid] if iid else [])]


def cmd_serve(args: argparse.Namespace) -> int:
    host = args.host
    tls = _tls(args)
    if not is_loopback(host) and tls is None and not args.insecure:
        raise CliError(f"refusing to serve on {host}: not a loopback address and no TLS "
                       "(give --tls-cert and --tls-key, or --insecure when TLS is in front)")
    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port}: not a TCP port (1 to 65535)")
    argv = child_command(args)
    what = describe(args)
    token = secrets.token_urlsafe(24)
    serve = importlib.import_module("cockpit.screens.serve")
    server = serve.make_server(shlex.join(argv), host=host, port=args.port, token=token,
                               what=what, ssl_context=tls)
    shown = f"[{host}]" if ":" in host else host
    url = f"{'https' if tls else 'http'}://{shown}:{args.port}/?token={token}"

    def announce() -> None:
        print(f"{what} READ-ONLY browser view: {url}", flush=True)
        print("Anyone with this URL sees the view (nothing can be changed from it). "
              "Ctrl+C stops it.", flush=True)

    try:
        server.serve(announce=announce)
    except OSError as e:
        raise CliError(f"{host}:{args.port}: cannot serve: "
                       f"{one_line(e.strerror or e, 200)}") from None
    return 0


def add_parsers(sub: Commands) -> None:
    def what(q: argparse.ArgumentParser, review: bool) -> None:
        g = q.add_mutually_exclusive_group()
        g.add_argument("--incident", metavar="ID",
                       help="an incident of the state directory (default: the newest)")
        g.add_argument("--exercise", metavar="ID", help="a tabletop exercise (or latest)")
        if review:
            g.add_argument("--review", metavar="BUNDLE",
                           help="an incident bundle, through `cockpit review BUNDLE`")

    p = sub.add_parser("serve", help="the cockpit in a browser, read-only, behind a token "
                                     "(a projector, a stakeholder)")
    what(p, True)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; another one needs TLS or "
                        "--insecure)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate")
    p.add_argument("--tls-key", metavar="FILE", help="the certificate's private key")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback address without TLS (TLS is in front of it)")
    p.set_defaults(func=cmd_serve, review=None)
    q = sub.add_parser("observe", help="the read-only cockpit in this terminal (what "
                                       "`cockpit serve` shows each browser)")
    what(q, False)
    q.set_defaults(func=cmd_observe, review=None)
