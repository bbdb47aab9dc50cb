"""The runbook file schema: its field tables and the reference text of
``cockpit runbooks schema`` (the loader validates against these)."""

from __future__ import annotations

import re
from typing import Any

from ..document import Field
from ..plan import PRIORITIES
from . import policy
from .model import MAX_TIMEOUT
from .params import FROM_CONFIG_RE, PARAM_TYPES
from .template import NAME_RE

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")


SCHEMA_REFERENCE = """\
[runbook]   id, title (required); summary, services (service ids it covers; the first one is what
            a destructive step asks to type by default), priority (P0-P3, default P2), owner,
            scenarios = [{id, title, summary}] or [runbook.scenarios] id = "title" | {title, summary}
[[params]]  name, type (str|int|bool|duration|enum|path|host|port) required; description,
            default (none = must be given), from_config (dotted path into cockpit.toml, e.g.
            "services.database.probes.primary.dsn#host"; list elements by name; #host|port|
            dbname|user|password|scheme|path takes a part of a DSN or URL), choices (enum),
            pattern (regex the whole value must match), secret (true: usable in env only)
[[steps]]   id (unique), title required; scenario (id or list; none = every scenario), guidance,
            command = [argv...] | shell = "script for /bin/sh -c", timeout (default 5m, 1s-24h),
            destructive (must be stated when the command looks destructive), repeatable
            (true: a step that succeeded may run again, e.g. a progress check; never with
            destructive; a failed step runs again only through retry with a reason), rollback =
            {title, guidance, command|shell, timeout, cwd, env, remote, destructive},
            verify = {probe = "service-id"} | {command|shell, expect_exit = 0, expect_output =
            "regex (per line)", timeout (1m), env, remote}, requires_confirmation_of (service id
            of this runbook or "{param}"), cwd, env = {NAME = "text {param}"}, remote =
            "{ssh_param}" (run over ssh; an empty value runs on this machine)
Placeholders  {name} in command, shell, cwd, env, remote, requires_confirmation_of; {{ and }} are
            literal braces. argv: substituted inside one element, never split. shell: replaced
            by shlex.quote(value); refused inside quotes, backquotes, heredocs, after $ or \\.
            Secret params: env only, never with remote. Verify/rollback inherit the step's remote.
"""


def text_check(multiline: bool) -> Any:
    def check(value: Any) -> str | None:
        return policy.text_problem(value, multiline=multiline) if isinstance(value, str) else None

    return check


def id_check(value: Any) -> str | None:
    if isinstance(value, str) and not ID_RE.match(value):
        return "must be lower-case letters, digits, - and _ (max 64), starting with a letter or digit"
    return None


def duration_range(value: Any) -> str | None:
    if value < 1 or value > MAX_TIMEOUT:
        return "must be between 1s and 24h"
    return None


TEXT1 = text_check(False)
TEXTN = text_check(True)

TOP = {
    "runbook": Field("table", required=True),
    "params": Field("list[table]", default=[]),
    "steps": Field("list[table]", required=True),
}
RUNBOOK = {
    "id": Field("str", required=True, check=id_check),
    "title": Field("str", required=True, check=TEXT1),
    "summary": Field("str", default="", check=TEXTN),
    "services": Field("list[str]", default=[]),
    "priority": Field("str", default="P2", choices=PRIORITIES),
    "owner": Field("str", default="", check=TEXT1),
    "scenarios": Field("any", default=[]),
}
SCENARIO = {
    "id": Field("str", required=True, check=id_check),
    "title": Field("str", required=True, check=TEXT1),
    "summary": Field("str", default="", check=TEXTN),
}
PARAM = {
    "name": Field("str", required=True,
                  check=lambda v: None if NAME_RE.match(v) else
                  "must be a letter or _ then letters, digits or _"),
    "type": Field("str", required=True, choices=PARAM_TYPES),
    "description": Field("str", default="", check=TEXTN),
    "default": Field("any"),
    "from_config": Field("str", check=lambda v: None if FROM_CONFIG_RE.match(v) else
                         "expected a dotted key path such as services.database.probes.primary.dsn"
                         " (optionally #host, #port, #dbname, #user, #password, #scheme, #path)"),
    "choices": Field("list[str]"),
    "pattern": Field("str"),
    "secret": Field("bool", default=False),
}
COMMAND_KEYS = {
    "command": Field("list[str]"),
    "shell": Field("str", check=TEXTN),
    "timeout": Field("duration", check=duration_range),
    "cwd": Field("str", check=TEXT1),
    "env": Field("table"),
    "remote": Field("str", check=TEXT1),
}
STEP = {
    "id": Field("str", required=True, check=id_check),
    "title": Field("str", required=True, check=TEXT1),
    "scenario": Field("any"),
    "guidance": Field("str", default="", check=TEXTN),
    "destructive": Field("bool"),
    "repeatable": Field("bool", default=False),
    "requires_confirmation_of": Field("str"),
    "verify": Field("table"),
    "rollback": Field("table"),
    **COMMAND_KEYS,
}
VERIFY = {
    "probe": Field("str"),
    "expect_exit": Field("int", default=0, minimum=0),
    "expect_output": Field("str"),
    **COMMAND_KEYS,
}
del VERIFY["cwd"]
ROLLBACK = {
    "title": Field("str", required=True, check=TEXT1),
    "guidance": Field("str", default="", check=TEXTN),
    "destructive": Field("bool", default=False),
    **COMMAND_KEYS,
}


