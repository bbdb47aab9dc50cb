"""``cockpit.toml``: where it is looked up, what it may hold, and its validation.

Look-up order: ``--config``, ``$COCKPIT_CONFIG``, ``./cockpit.toml``, then the user
config dir (``platformdirs``). Every error is one line naming file, line and key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .document import DocumentError, Field, Validator, load_toml
from .drills.schedule import PLAN_DRILLS, DrillKind, merge_kinds
from .keys import keymap_problem
from .plan import PRIORITIES, Milestones

APP_NAME = "dr-cockpit"


@dataclass(frozen=True)
class ProbeConfig:
    name: str
    kind: str
    interval: float
    deadline: float
    fail_after: int
    recover_after: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceConfig:
    id: str
    title: str
    priority: str
    rto: float | None
    rpo: float | None
    description: str = ""
    runbooks: tuple[str, ...] = ()
    probes: tuple[ProbeConfig, ...] = ()


@dataclass(frozen=True)
class SyncConfig:
    """``[sync]``: journal sync across bastions through an S3 bucket (``cockpit.sync``).

    Credentials only by reference (``*_env`` / ``*_file``): an inline secret is refused."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str = "us-east-1"
    interval: float = 30.0
    deadline: float = 10.0
    addressing_style: str = "path"
    verify: bool = True
    ca_file: str | None = None
    # access_key_id, access_key_id_env, secret_access_key_env, secret_access_key_file,
    # session_token_env (resolved when a sync runs, never stored)
    credentials: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    path: Path | None
    environment: str
    mode: str  # "personal" | "shared"
    milestones: Milestones
    services: dict[str, ServiceConfig]
    runbook_dirs: tuple[Path, ...] = ()
    connectivity_anchors: tuple[tuple[str, int], ...] = ()  # (host, port)
    state_dir: Path | None = None
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> keys (the keymap)
    drills: tuple[DrillKind, ...] = PLAN_DRILLS  # the testing schedule ([drills.ID])
    bell: bool = True  # ring the terminal bell with an announcement
    sync: SyncConfig | None = None  # [sync] with enabled = true


_COCKPIT = {
    "environment": Field("str", default="production", help="name shown in the title bar"),
    "mode": Field("str", default="personal", choices=("personal", "shared"),
                  help="personal: state files 0600; shared: group-readable 0640"),
    "state_dir": Field("str", help="state directory (overridden by --state-dir / $COCKPIT_STATE_DIR)"),
    "runbook_dirs": Field("list[str]", help="extra runbook directories, searched before the built-in library"),
    "allow_inline_secrets": Field(
        "bool", default=False,
        help="accept a password in a DSN or URL (not recommended: use *_env or *_file); "
             "it is masked everywhere all the same"),
    "bell": Field("bool", default=True,
                  help="ring the terminal bell when a new incident, a colleague's note or a "
                       "service turning DOWN is announced"),
    "connectivity_anchors": Field(
        "list[str]", check=lambda v: _anchors_problem(v),
        help="host:port pairs the cockpit connects to, to tell its own network outage from a "
             "service outage"),
}


def parse_anchor(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); ValueError naming what is wrong."""
    from .probes.base import parse_host_port

    t = text.strip()
    if not (t.startswith("[") and "]:" in t) and t.count(":") != 1:
        raise ValueError(f"{text!r}: write host:port (e.g. 1.1.1.1:53 or [2606:4700::1111]:53)")
    try:
        return parse_host_port(t, 0)
    except ValueError:
        raise ValueError(f"{text!r}: write host:port with a port from 1 to 65535") from None


def _anchors_problem(values: list[str]) -> str | None:
    for a in values:
        try:
            parse_anchor(a)
        except ValueError as e:
            return str(e)
    return None


SERVICE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
_MILESTONES = {
    "detect": Field("duration", default="5m"),
    "respond": Field("duration", default="15m"),
    "communicate": Field("duration", default="30m"),
    "update_every": Field("duration", default="30m"),
}
_PROBE_DEFAULTS = {
    "interval": Field("duration", default="15s", minimum=0.1),
    "deadline": Field("duration", default="5s", minimum=0.05),
    "fail_after": Field("int", default=3, minimum=1),
    "recover_after": Field("int", default=2, minimum=1),
}
_SERVICE = {
    "title": Field("str", required=True),
    "priority": Field("str", default="P1", choices=PRIORITIES),
    "rto": Field("duration"),
    "rpo": Field("duration"),
    "description": Field("str", default=""),
    "runbooks": Field("list[str]", default=[]),
    "probes": Field("list[table]", default=[]),
}
_PROBE_COMMON = {
    "name": Field("str"),
    "kind": Field("str", required=True),
    "interval": Field("duration", minimum=0.1),
    "deadline": Field("duration", minimum=0.05),
    "fail_after": Field("int", minimum=1),
    "recover_after": Field("int", minimum=1),
}
_TOP = {
    "cockpit": Field("table", default={}),
    "milestones": Field("table", default={}),
    "probe_defaults": Field("table", default={}),
    "services": Field("table", default={}),
    "keys": Field("table", default={}),
    "drills": Field("table", default={}),
    "sync": Field("table", default={}),
}
_DRILL = {
    "title": Field("str"),
    "cadence": Field("duration", minimum=60),
    "runbook": Field("str"),
    "scenario": Field("str"),
    "enabled": Field("bool"),
}
_SYNC_CREDENTIALS = ("access_key_id", "access_key_id_env", "secret_access_key_env",
                     "secret_access_key_file", "session_token_env")
_INLINE_SECRETS = ("secret_access_key", "session_token", "password")
_SYNC = {
    "enabled": Field("bool", default=False, help="sync is off unless this is true"),
    "bucket": Field("str", help="the S3 bucket (required when enabled)"),
    "prefix": Field("str", default="", help="key prefix inside the bucket (no leading slash)",
                    check=lambda v: "no leading '/'" if v.startswith("/") else None),
    "endpoint": Field("str", help="S3 endpoint URL for S3-compatible stores (default: AWS)",
                      check=lambda v: None if v.startswith(("http://", "https://"))
                      else "write an http:// or https:// URL"),
    "region": Field("str", default="us-east-1"),
    "interval": Field("duration", default="30s", minimum=1.0),
    "deadline": Field("duration", default="10s", minimum=0.5,
                      help="hard limit of one sync run (like a probe's deadline)"),
    "addressing_style": Field("str", default="path", choices=("path", "virtual", "auto")),
    "verify": Field("bool", default=True),
    "ca_file": Field("str"),
    **{k: Field("str") for k in _SYNC_CREDENTIALS},
}


def _sync(v: Validator, raw: dict[str, Any], base: Path) -> SyncConfig | None:
    for k in _INLINE_SECRETS:
        if k in raw:
            v.error(("sync", k), "inline secrets are refused: name an environment variable "
                                 f"({k}_env) or a file ({k}_file)")
    s = v.table({k: x for k, x in raw.items() if k not in _INLINE_SECRETS}, _SYNC, ("sync",))
    if not s.get("enabled"):
        return None
    if not s.get("bucket"):
        v.error(("sync", "bucket"), "missing required value (sync is enabled)")
        return None
    creds = {k: s[k] for k in _SYNC_CREDENTIALS if s.get(k)}
    if "secret_access_key_file" in creds:
        creds["secret_access_key_file"] = str(base / creds["secret_access_key_file"])
    return SyncConfig(
        bucket=s["bucket"], prefix=(s.get("prefix") or "").strip("/"),
        endpoint=s.get("endpoint"), region=s["region"], interval=s["interval"],
        deadline=s["deadline"], addressing_style=s["addressing_style"], verify=s["verify"],
        ca_file=str(base / s["ca_file"]) if s.get("ca_file") else None, credentials=creds)


INLINE_SECRET = ("a secret written inline in a DSN or URL: remove it and name it with "
                 "password_env / password_file (a *_env or *_file option) instead")


def _inline_secret_keys(options: dict[str, Any]) -> list[str]:
    """The option keys whose value carries a secret (a DSN password, a URL's userinfo)."""
    from .secrets import inline_secrets

    return [k for k, val in options.items() if isinstance(val, str) and inline_secrets({k: val})]


def _probe(v: Validator, raw: dict[str, Any], path: tuple, defaults: dict[str, Any],
           index: int, allow_inline: bool = False) -> ProbeConfig | None:
    from . import probes as probe_kinds

    common_raw = {k: raw[k] for k in raw if k in _PROBE_COMMON}
    common = v.table(common_raw, _PROBE_COMMON, path)
    kind = common.get("kind")
    if kind is None:
        return None
    if kind not in probe_kinds.KINDS:
        v.error((*path, "kind"), "unknown probe kind (known kinds: " + ", ".join(sorted(probe_kinds.KINDS)) + ")")
        return None
    rest = {k: raw[k] for k in raw if k not in _PROBE_COMMON}
    spec = probe_kinds.option_spec(kind)
    options = v.table(rest, spec, path) if spec is not None else rest
    if not allow_inline:
        for key in _inline_secret_keys(rest):  # the error names the key, never the value
            v.error((*path, key), INLINE_SECRET)
    return ProbeConfig(
        name=common.get("name") or f"{kind}-{index + 1}",
        kind=kind,
        interval=common.get("interval") or defaults["interval"],
        deadline=common.get("deadline") or defaults["deadline"],
        fail_after=common.get("fail_after") or defaults["fail_after"],
        recover_after=common.get("recover_after") or defaults["recover_after"],
        options=options,
    )


def parse_config(data: dict[str, Any], text: str, path: Path) -> Config:
    """Validate a parsed ``cockpit.toml``; raises every problem at once (``DocumentErrors``,
    in file order; its ``str()`` is the first)."""
    v = Validator(path, text)
    top = v.table(data, _TOP)
    cockpit = v.table(top.get("cockpit") or {}, _COCKPIT, ("cockpit",))
    ms = v.table(top.get("milestones") or {}, _MILESTONES, ("milestones",))
    defaults = v.table(top.get("probe_defaults") or {}, _PROBE_DEFAULTS, ("probe_defaults",))
    keys: dict[str, str] = {}
    for kid, kval in (top.get("keys") or {}).items():
        problem = keymap_problem(kid, kval)
        if problem:
            v.error(("keys", kid), problem)
        else:
            keys[kid] = kval.replace(" ", "")
    services: dict[str, ServiceConfig] = {}
    for sid, sraw in (top.get("services") or {}).items():
        spath = ("services", sid)
        if not SERVICE_ID_RE.match(sid):
            v.error(spath, "a service id is lower-case letters, digits, - and _ (at most 64), "
                           "starting with a letter or digit")
            continue
        if not isinstance(sraw, dict):
            v.error(spath, "expected a table ([services.NAME])")
            continue
        s = v.table(sraw, _SERVICE, spath)
        probes = []
        for i, praw in enumerate(s.get("probes") or []):
            if not isinstance(praw, dict):
                continue
            p = _probe(v, praw, (*spath, "probes", i), defaults, i,
                       bool(cockpit.get("allow_inline_secrets")))
            if p is not None:
                probes.append(p)
        names = [p.name for p in probes]
        for i, n in enumerate(names):
            if n in names[:i]:
                v.error((*spath, "probes", i, "name"), f"duplicate probe name {n!r}")
        services[sid] = ServiceConfig(
            id=sid, title=s.get("title") or sid, priority=s.get("priority") or "P1",
            rto=s.get("rto"), rpo=s.get("rpo"), description=s.get("description") or "",
            runbooks=tuple(s.get("runbooks") or ()), probes=tuple(probes),
        )
    drills: dict[str, dict[str, Any]] = {}
    for did, draw in (top.get("drills") or {}).items():
        dpath = ("drills", did)
        if not SERVICE_ID_RE.match(did):
            v.error(dpath, "a drill id is lower-case letters, digits, - and _ (at most 64), "
                           "starting with a letter or digit")
        elif not isinstance(draw, dict):
            v.error(dpath, "expected a table ([drills.NAME] cadence = \"7d\")")
        else:
            drills[did] = v.table(draw, _DRILL, dpath)
    sync = _sync(v, top.get("sync") or {}, path.parent)
    v.raise_all()
    base = path.parent
    state_dir = cockpit.get("state_dir")
    return Config(
        path=path,
        environment=cockpit["environment"],
        mode=cockpit["mode"],
        milestones=Milestones(**ms),
        services=services,
        runbook_dirs=tuple(base / d for d in (cockpit.get("runbook_dirs") or ())),
        connectivity_anchors=tuple(parse_anchor(a) for a in cockpit.get("connectivity_anchors")
                                   or ()),
        state_dir=(base / state_dir) if state_dir else None,
        keys=keys,
        drills=merge_kinds(drills),
        bell=bool(cockpit["bell"]),
        sync=sync,
    )


def load_config(path: Path) -> Config:
    data, text = load_toml(path)
    return parse_config(data, text, path)


def user_config_path() -> Path:
    import platformdirs

    return platformdirs.user_config_path(APP_NAME) / "cockpit.toml"


def find_config(explicit: str | None, env: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> tuple[Path | None, list[Path]]:
    """Return (the config file to use or None, the places looked at)."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    if explicit:
        return Path(explicit), [Path(explicit)]
    if env.get("COCKPIT_CONFIG"):
        p = Path(env["COCKPIT_CONFIG"])
        return p, [p]
    looked = [cwd / "cockpit.toml", user_config_path()]
    for p in looked:
        if p.is_file():
            return p, looked
    return None, looked


def checkout_root() -> Path | None:
    """The source checkout this package runs from, if any (``pyproject.toml`` beside it)."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "state").is_dir():
        return root
    return None


def resolve_state_dir(explicit: str | None, config: Config | None = None,
                      env: Mapping[str, str] | None = None) -> Path:
    """``--state-dir``, ``$COCKPIT_STATE_DIR``, the config's ``state_dir``, ``./state`` in a
    checkout, else the user state dir. The same resolution for every command."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("COCKPIT_STATE_DIR"):
        return Path(env["COCKPIT_STATE_DIR"])
    if config is not None and config.state_dir is not None:
        return config.state_dir
    root = checkout_root()
    if root is not None:
        return root / "state"
    import platformdirs

    return platformdirs.user_state_path(APP_NAME)


__all__ = [
    "Config", "ServiceConfig", "SyncConfig", "ProbeConfig", "Milestones", "DocumentError",
    "load_config", "parse_config", "find_config", "resolve_state_dir",
]
