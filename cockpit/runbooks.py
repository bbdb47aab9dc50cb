"""Runbooks: the TOML schema, its validation and the library.

A runbook file holds one ``[runbook]`` table, ``[[params]]`` and ordered ``[[steps]]``
(reference: ``SCHEMA_REFERENCE`` below, or the README). Every problem is reported as one
line ``file:line: key: message`` (``schema.DocumentError``); ``load_runbook`` collects all
of a file's problems and raises them together as a ``RunbookError``.

Parameters never reach a shell unquoted: in ``command`` (argv form) a placeholder
``{name}`` is substituted inside one argv element and can never split it; in ``shell``
form it is replaced by ``shlex.quote(value)`` and the validator refuses placeholders in
any position where that quoting would not hold (inside quotes, backquotes, heredocs).
A ``secret`` parameter may only be used in ``env`` (argv is readable by every user in
``/proc``). A step with ``remote`` runs through ``ssh``; its remote command line is
built with ``shlex.join`` so the remote shell receives exactly the rendered argv.

This module is pure: no Textual, no execution. The executor and the navigator build on
``Runbook.render`` / ``Runbook.render_argv``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schema import DocumentError, Field, KeyPath, Validator, load_toml
from .timeutil import parse_duration

PARAM_TYPES = ("str", "int", "bool", "duration", "enum", "path", "host", "port")
PRIORITIES = ("P0", "P1", "P2", "P3")
DEFAULT_STEP_TIMEOUT = 300.0
DEFAULT_VERIFY_TIMEOUT = 60.0
MAX_TIMEOUT = 24 * 3600.0
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-T")

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_PLACEHOLDER_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_FROM_CONFIG_RE = re.compile(
    r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*(?:#(?:host|port|dbname|user|password|scheme|path))?\Z"
)
_HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOST_RE = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?\Z")
_SSH_DEST_RE = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*@)?[A-Za-z0-9_\[][A-Za-z0-9_.:\]-]*\Z")
_SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "2>&1", "2>", "|&", "$(", "`"}
# Environment names a runbook may not set: they change how programs or shells load code.
_FORBIDDEN_ENV = {"BASH_ENV", "ENV", "IFS", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND",
                  "GLOBIGNORE", "CDPATH", "PYTHONSTARTUP", "PYTHONPATH", "PERL5OPT", "NODE_OPTIONS"}
_FORBIDDEN_ENV_PREFIXES = ("LD_", "BASH_FUNC_", "DYLD_")
# Characters refused in any runbook text: C0 controls except tab/newline, DEL, C1, bidi
# overrides and invisible characters (Trojan Source).
_BAD_TEXT_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
# Commands that delete, overwrite, promote, stop or block: such a step must say
# ``destructive = true`` (or ``false``) explicitly, so nobody forgets the flag.
_DESTRUCTIVE_HINTS = re.compile(
    r"(?ix)(?:^|[\s/;|&(\"'])(?:"
    r"rm|rmdir|dd|mkfs(?:\.\w+)?|wipefs|shred|truncate|mv|dropdb|pg_resetwal|pg_rewind|"
    r"kill|pkill|killall|reboot|shutdown|poweroff|halt"
    r")(?=\s|$|[\"'])"
    r"|\bip6?tables\s+(?:\S+\s+)*-(?:[AIDRFXNP]|-append|-insert|-delete|-flush|-policy)\b"
    r"|\bnft\s+(?:\S+\s+)*(?:add|insert|delete|flush|replace|create|destroy)\b"
    r"|\bufw\s+(?:\S+\s+)*(?:deny|reject|enable|disable|delete|reset|limit)\b"
    r"|\bpromote\b|\bpg_promote\b|\bbackup-fetch\b|\bwal-g\s+(?:\S+\s+)*delete\b"
    r"|\bsystemctl\s+(?:\S+\s+)*(?:stop|restart|kill|disable|mask|isolate|reload)\b"
    r"|\b(?:drop|truncate)\s+(?:table|database|schema|index)\b|\bdelete\s+from\b"
    r"|\bflushall\b|\bflushdb\b|\bredis-cli\b.*\bshutdown\b|\bs3\s+(?:rm|mv|sync\b.*--delete)"
    r"|\bgit\s+(?:reset|checkout|clean|revert)\b|\bln\s+-\w*f"
    r"|\bpg_terminate_backend\b|\bpg_wal_replay_resume\b|\bsed\s+-i"
)

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
            destructive (must be stated when the command looks destructive), rollback =
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


class RunbookError(DocumentError):
    """All problems of one load; ``str()`` is the first, ``errors`` has them all in file order."""

    def __init__(self, errors: Sequence[DocumentError]):
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.file, first.line, first.key, first.message)

    def lines(self) -> list[str]:
        return [e.one_line() for e in self.errors]


class ParamError(ValueError):
    """A parameter value that is missing or does not fit its type."""

    def __init__(self, name: str, message: str):
        self.name = name
        super().__init__(f"{name}: {message}")


# ---------------------------------------------------------------- model

@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    summary: str = ""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    description: str = ""
    default: Any = None
    from_config: str | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    secret: bool = False
    line: int | None = None

    @property
    def required(self) -> bool:
        return self.default is None

    def coerce(self, value: Any) -> str:
        """The text form of ``value`` as it will appear in a command; raises ``ParamError``."""
        return _coerce(self, value)


@dataclass(frozen=True)
class CommandSpec:
    """A command template: exactly one of ``argv`` and ``shell`` is set."""

    argv: tuple[str, ...] | None = None
    shell: str | None = None
    cwd: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    timeout: float = DEFAULT_STEP_TIMEOUT
    remote: str | None = None

    @property
    def templates(self) -> tuple[str, ...]:
        out = list(self.argv or ())
        if self.shell is not None:
            out.append(self.shell)
        if self.cwd:
            out.append(self.cwd)
        out.extend(v for _, v in self.env)
        if self.remote:
            out.append(self.remote)
        return tuple(out)

    def placeholders(self) -> set[str]:
        names: set[str] = set()
        for t in self.templates:
            names.update(placeholders(t))
        return names


@dataclass(frozen=True)
class Verify:
    """``probe``: the health layer's status of that service must be OK; otherwise ``command``
    must exit with ``expect_exit`` (and print something matching ``expect_output``)."""

    probe: str | None = None
    command: CommandSpec | None = None
    expect_exit: int = 0
    expect_output: str | None = None

    def output_ok(self, stdout: str) -> bool:
        """``expect_output`` is searched line-wise (``re.M``: ``^f$`` matches a line "f")."""
        return self.expect_output is None or re.search(self.expect_output, stdout, re.M) is not None

    def passed(self, exit_code: int | None, stdout: str) -> bool:
        """The verdict for a verify command's result (probe verifies are the health layer's)."""
        return exit_code == self.expect_exit and self.output_ok(stdout)


@dataclass(frozen=True)
class Rollback:
    title: str
    guidance: str = ""
    command: CommandSpec | None = None
    destructive: bool = False

    @property
    def timeout(self) -> float:
        return self.command.timeout if self.command else DEFAULT_STEP_TIMEOUT


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    scenarios: tuple[str, ...] = ()
    guidance: str = ""
    command: CommandSpec | None = None
    destructive: bool = False
    requires_confirmation_of: str | None = None
    verify: Verify | None = None
    rollback: Rollback | None = None
    line: int | None = None

    @property
    def timeout(self) -> float:
        return self.command.timeout if self.command else DEFAULT_STEP_TIMEOUT

    @property
    def is_manual(self) -> bool:
        return self.command is None

    def applies_to(self, scenario: str | None) -> bool:
        return scenario is None or not self.scenarios or scenario in self.scenarios


@dataclass(frozen=True)
class RenderedCommand:
    """Exactly what will run: what a dry-run shows and what the executor executes."""

    argv: tuple[str, ...]
    env: Mapping[str, str]  # declared variables only; the executor adds its fixed base set
    cwd: str | None
    timeout: float
    remote: str | None = None
    secrets: tuple[str, ...] = ()  # values to scrub from captured output
    inner: tuple[str, ...] = ()  # what runs on the target (== argv when local; no ssh wrapper)
    script: str | None = None  # the rendered shell script of a shell step

    @property
    def env_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.env))

    def display(self) -> str:
        """The exact argv as one shell-quoted string (secrets never reach argv: validation)."""
        return shlex.join(self.argv)

    def describe(self) -> str:
        """Readable form for a dry-run view: where it runs, then the script or command."""
        where = f"on {self.remote} via ssh" if self.remote else "on this machine"
        body = self.script if self.script is not None else shlex.join(self.inner or self.argv)
        return f"{where}:\n{body}"


@dataclass(frozen=True)
class Runbook:
    id: str
    title: str
    summary: str
    services: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    params: tuple[Param, ...]
    steps: tuple[Step, ...]
    priority: str = "P2"
    owner: str = ""
    path: Path | None = None
    sha256: str = ""  # of the file bytes, to pin the exact version an incident used

    # -- look-ups
    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def scenario(self, scenario_id: str) -> Scenario:
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        raise KeyError(scenario_id)

    def steps_for(self, scenario: str | None = None) -> tuple[Step, ...]:
        """The ordered steps of one scenario (steps without a scenario belong to all)."""
        return tuple(s for s in self.steps if s.applies_to(scenario))

    def confirmation_token(self, step: Step, params: Mapping[str, Any] | None = None) -> str | None:
        """What the engineer must type before a destructive step runs (None if not needed):
        ``requires_confirmation_of`` (a service id, or a ``{param}`` such as the unit or host
        acted on, rendered with ``params``), else the runbook's first service."""
        if not step.destructive:
            return None
        token = step.requires_confirmation_of or (self.services[0] if self.services else self.id)
        names = placeholders(token)
        if names:
            if params is None:
                return token
            token = substitute(token, self._values(params, names))
        return token

    # -- parameters
    def params_used(self, step: Step | Rollback | Verify | CommandSpec | None = None
                    ) -> tuple[Param, ...]:
        """Params a step needs (its command, confirmation, verify and rollback), or those of
        one rollback / verify / command alone, or (None) all params."""
        if step is None:
            return self.params
        names: set[str] = set()
        if isinstance(step, Step):
            names |= set(placeholders(step.requires_confirmation_of or ""))
            specs = _specs(step)
        else:
            spec = step if isinstance(step, CommandSpec) else step.command
            specs = [spec] if spec else []
        for spec in specs:
            names |= spec.placeholders()
        return tuple(p for p in self.params if p.name in names)

    def param_values(self, given: Mapping[str, Any] | None = None,
                     config: Any = None) -> dict[str, Any]:
        """Merge values: ``given`` first, then ``from_config`` (a parsed cockpit.toml dict or a
        ``Config``), then defaults. Unresolved params are left out (see ``missing_params``)."""
        given = given or {}
        out: dict[str, Any] = {}
        for p in self.params:
            if given.get(p.name) is not None:
                out[p.name] = given[p.name]
                continue
            if p.from_config and config is not None:
                v = config_value(config, p.from_config)
                if isinstance(v, list | tuple) and all(isinstance(x, str | int) for x in v):
                    v = " ".join(str(x) for x in v)  # e.g. resolvers: one space-separated value
                if v is not None and v != "":
                    out[p.name] = v
                    continue
            if p.default is not None:
                out[p.name] = p.default
        return out

    def missing_params(self, params: Mapping[str, Any],
                       step: Step | Rollback | Verify | CommandSpec | None = None) -> list[Param]:
        """Declared params (of ``step`` if given) that have no value and no default."""
        return [p for p in self.params_used(step)
                if params.get(p.name) is None and p.default is None]

    def check_params(self, params: Mapping[str, Any],
                     step: Step | Rollback | Verify | CommandSpec | None = None) -> dict[str, str]:
        """Problems per param name (missing or invalid); empty when all is well."""
        problems: dict[str, str] = {}
        for p in self.params_used(step):
            value = params.get(p.name, p.default)
            if value is None:
                problems[p.name] = "missing value"
                continue
            try:
                p.coerce(value)
            except ParamError as e:
                problems[p.name] = str(e).split(": ", 1)[1]
        return problems

    def _values(self, params: Mapping[str, Any], names: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in names:
            p = self.param(name)
            value = params.get(name, p.default)
            if value is None:
                raise ParamError(name, "missing value")
            out[name] = p.coerce(value)
        return out

    # -- rendering
    def render(self, target: Step | Rollback | Verify | CommandSpec,
               params: Mapping[str, Any]) -> RenderedCommand:
        """The exact command of a step (or of its rollback / verify) with ``params``."""
        spec = _spec_of(target)
        values = self._values(params, sorted(spec.placeholders()))
        secrets = tuple(sorted({values[n] for n in values
                                if self.param(n).secret and values[n]}))
        env = {k: substitute(v, values) for k, v in spec.env}
        cwd = substitute(spec.cwd, values) if spec.cwd else None
        if spec.argv is not None:
            argv = [substitute(a, values) for a in spec.argv]
        else:
            argv = ["/bin/sh", "-c", substitute(spec.shell or "", values, quote=shlex.quote)]
        script = argv[2] if spec.shell is not None else None
        local_argv = list(argv)
        remote = substitute(spec.remote, values) if spec.remote else ""
        if remote:
            if not _SSH_DEST_RE.match(remote) or remote.startswith("-"):
                raise ParamError("remote", f"not an ssh destination: {remote!r}")
            inner = list(argv)
            if env or cwd:
                pre = ["env"]
                if cwd:
                    pre += ["-C", cwd]
                pre += [f"{k}={v}" for k, v in sorted(env.items())]
                inner = pre + inner
            argv = ["ssh", *SSH_OPTIONS, "--", remote, shlex.join(inner)]
            env, cwd = {}, None
        return RenderedCommand(argv=tuple(argv), env=env, cwd=cwd, timeout=spec.timeout,
                               remote=remote or None, secrets=secrets,
                               inner=tuple(local_argv), script=script)

    def render_argv(self, target: Step | Rollback | Verify | CommandSpec,
                    params: Mapping[str, Any]) -> list[str]:
        """The exact argv as it will run (shell steps: ``["/bin/sh", "-c", script]``)."""
        return list(self.render(target, params).argv)


@dataclass(frozen=True)
class Library:
    runbooks: tuple[Runbook, ...] = ()
    dirs: tuple[Path, ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[Runbook]:
        return iter(self.runbooks)

    def __len__(self) -> int:
        return len(self.runbooks)

    def get(self, runbook_id: str) -> Runbook:
        for r in self.runbooks:
            if r.id == runbook_id:
                return r
        raise KeyError(runbook_id)

    @property
    def step_count(self) -> int:
        return sum(len(r.steps) for r in self.runbooks)

    def for_service(self, service: str) -> list[Runbook]:
        return [r for r in self.runbooks if service in r.services]

    def covered(self, runbook: Runbook, failing_services: Iterable[str],
                links: Mapping[str, Iterable[str]] | None = None) -> set[str]:
        """The failing services a runbook covers: listed in its ``services``, or linked to it
        by ``links`` (service id -> runbook ids, i.e. ``ServiceConfig.runbooks``)."""
        out = set(failing_services).intersection(runbook.services)
        for svc in failing_services:
            if links and runbook.id in (links.get(svc) or ()):
                out.add(svc)
        return out

    def rank(self, failing_services: Iterable[str],
             links: Mapping[str, Iterable[str]] | None = None) -> list[Runbook]:
        """All runbooks, those covering failing services first: by how many failing services
        they cover, then priority (P0 first), then id. The rest follow by priority, id.
        ``links`` (service id -> runbook ids from cockpit.toml) adds coverage."""
        failing = set(failing_services)

        def key(r: Runbook) -> tuple[int, str, str]:
            return (-len(self.covered(r, failing, links)), r.priority, r.id)

        return sorted(self.runbooks, key=key)


# ---------------------------------------------------------------- placeholders and values

def placeholders(template: str) -> list[str]:
    """Names referenced by ``{name}`` in a template (``{{``/``}}`` are literal braces)."""
    return [m.group(1) for m in _PLACEHOLDER_RE.finditer(template)
            if m.group(1) is not None]


def _template_problem(template: str) -> str | None:
    for m in _PLACEHOLDER_RE.finditer(template):
        tok = m.group(0)
        if tok in ("{{", "}}"):
            continue
        if m.group(1) is None:
            return f"lone {tok!r} at offset {m.start()} (write {tok * 2} for a literal brace)"
        if not _NAME_RE.match(m.group(1)):
            return (f"bad placeholder {tok!r} (placeholders are {{name}}; write {{{{ and }}}} "
                    "for literal braces)")
    return None


def substitute(template: str, values: Mapping[str, str], quote: Any = None) -> str:
    """Replace ``{name}`` by ``values[name]`` (passed through ``quote`` if given)."""

    def repl(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "{{":
            return "{"
        if tok == "}}":
            return "}"
        name = m.group(1)
        if name is None or name not in values:
            raise ParamError(name or tok, "undefined placeholder")
        v = values[name]
        return quote(v) if quote else v

    return _PLACEHOLDER_RE.sub(repl, template)


def shell_placeholder_problems(script: str) -> list[str]:
    """Placeholders in a position where ``shlex.quote`` would not protect the value: inside
    single or double quotes, inside backquotes, or after a heredoc operator."""
    problems: list[str] = []
    state = "plain"  # plain | sq | dq | bq
    heredoc = False
    i, n = 0, len(script)
    prev = "\n"
    while i < n:
        c = script[i]
        two = script[i:i + 2]
        if two in ("{{", "}}"):
            i += 2
            prev = "x"
            continue
        if c == "\\" and script.startswith("{", i + 1) and not script.startswith("{{", i + 1):
            problems.append("placeholder right after a backslash: the backslash would undo the "
                            "quoting")
            i += 1
            continue
        if c == "{":
            m = _PLACEHOLDER_RE.match(script, i)
            if m and m.group(1):
                where = {"sq": "inside single quotes", "dq": "inside double quotes",
                         "bq": "inside backquotes"}.get(state)
                if where is None and heredoc:
                    where = "in or after a heredoc"
                if where is None and prev == "$":
                    where = "right after $ (write $ then a space, or ${{NAME}} for a variable)"
                if where:
                    problems.append(f"placeholder {{{m.group(1)}}} {where}: leave it bare, "
                                    "the value is shell-quoted for you")
                i = m.end()
                prev = "x"
                continue
        if state == "plain":
            if c == "\\":
                i += 2
                prev = "x"
                continue
            if c == "#" and prev in " \t\n;&|(":
                j = script.find("\n", i)
                i = n if j < 0 else j
                continue
            if c == "'":
                state = "sq"
            elif c == '"':
                state = "dq"
            elif c == "`":
                state = "bq"
            elif two == "<<":
                heredoc = True
        elif state == "sq":
            if c == "'":
                state = "plain"
        elif state == "dq":
            if c == "\\":
                i += 2
                continue
            if c == '"':
                state = "plain"
        elif state == "bq":
            if c == "\\":
                i += 2
                continue
            if c == "`":
                state = "plain"
        prev = c
        i += 1
    if state != "plain":
        problems.append({"sq": "unterminated single quote", "dq": "unterminated double quote",
                         "bq": "unterminated backquote"}[state])
    return problems


def _coerce(p: Param, value: Any) -> str:
    def bad(msg: str) -> ParamError:
        return ParamError(p.name, msg)

    t = p.type
    if t == "bool":
        if isinstance(value, bool):
            return "true" if value else "false"
        s = str(value).strip().lower()
        if s in ("true", "yes", "1", "on"):
            return "true"
        if s in ("false", "no", "0", "off"):
            return "false"
        raise bad("expected true or false")
    if t in ("int", "port"):
        if isinstance(value, bool):
            raise bad("expected an integer")
        if isinstance(value, int):
            n = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
            n = int(value)
        else:
            raise bad("expected an integer")
        if t == "port" and not 1 <= n <= 65535:
            raise bad("a port is 1-65535")
        return str(n)
    if t == "duration":
        try:
            secs = parse_duration(value)
        except ValueError as e:
            raise bad(str(e)) from None
        return str(int(secs)) if secs == int(secs) else f"{secs:g}"
    if not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        else:
            raise bad("expected a string")
    if "\x00" in value:
        raise bad("NUL characters cannot be passed to a command")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise bad("not valid Unicode text") from None
    if t == "enum":
        if value not in p.choices:
            raise bad("must be one of " + ", ".join(p.choices))
    elif t == "host":
        if not value or not _is_host(value):
            raise bad("expected a host name or an IP address")
    elif t == "path":
        if not value:
            raise bad("a path cannot be empty")
        if "\n" in value or "\r" in value:
            raise bad("a path cannot contain a newline")
        if value.startswith("-"):
            raise bad("a path cannot start with '-' (write ./-name)")
    if p.pattern is not None and re.fullmatch(p.pattern, value) is None:
        raise bad(f"does not match the pattern {p.pattern}")
    return value


def _is_host(v: str) -> bool:
    try:
        ipaddress.ip_address(v.strip("[]"))
        return True
    except ValueError:
        return bool(_HOST_RE.match(v)) and len(v) <= 253


def config_value(config: Any, key: str) -> Any:
    """Resolve a ``from_config`` key path in a parsed cockpit.toml dict or a ``Config``.

    Lists (such as probes) are searched by element ``name`` (or index); objects by attribute,
    then by their ``options``. ``#part`` picks host/port/dbname/user/password/scheme/path
    from a DSN or URL. Returns None when absent."""
    path, _, part = key.partition("#")
    cur: Any = config
    for name in path.split("."):
        if cur is None:
            return None
        if isinstance(cur, Mapping):
            cur = cur.get(name)
        elif isinstance(cur, list | tuple):
            found = None
            for el in cur:
                el_name = el.get("name") if isinstance(el, Mapping) else getattr(el, "name", None)
                if el_name == name:
                    found = el
                    break
            if found is None and name.isdigit() and int(name) < len(cur):
                found = cur[int(name)]
            cur = found
        else:
            nxt = getattr(cur, name, None)
            if nxt is None:
                opts = getattr(cur, "options", None)
                nxt = opts.get(name) if isinstance(opts, Mapping) else None
            cur = nxt
    if cur is None or not part:
        return cur
    return dsn_part(str(cur), part)


def dsn_part(dsn: str, part: str) -> str | None:
    """One part of a URL (``postgresql://u:p@h:5432/db``) or libpq key=value DSN."""
    from urllib.parse import unquote, urlsplit

    if "://" in dsn:
        try:
            u = urlsplit(dsn)
            port = u.port
        except ValueError:
            return None
        val = {"host": u.hostname, "port": str(port) if port else None,
               "dbname": unquote(u.path.lstrip("/")) or None,
               "path": u.path or None, "user": unquote(u.username) if u.username else None,
               "password": unquote(u.password) if u.password else None,
               "scheme": u.scheme}.get(part)
        return val
    try:
        pairs = dict(
            (k, v) for k, _, v in (t.partition("=") for t in shlex.split(dsn)) if _
        )
    except ValueError:
        return None
    return pairs.get(part)


def _spec_of(target: Any) -> CommandSpec:
    if isinstance(target, CommandSpec):
        return target
    spec = getattr(target, "command", None)
    if spec is None:
        raise ValueError("this has no command to render")
    return spec


def _specs(step: Step) -> list[CommandSpec]:
    out = [step.command] if step.command else []
    if step.verify and step.verify.command:
        out.append(step.verify.command)
    if step.rollback and step.rollback.command:
        out.append(step.rollback.command)
    return out


# ---------------------------------------------------------------- validation

def _text_check(multiline: bool) -> Any:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        m = _BAD_TEXT_RE.search(value)
        if m:
            return f"contains the control or invisible character U+{ord(m.group(0)):04X}"
        if not multiline and ("\n" in value or "\t" in value):
            return "must be a single line"
        return None

    return check


def _id_check(value: Any) -> str | None:
    if isinstance(value, str) and not _ID_RE.match(value):
        return "must be lower-case letters, digits, - and _ (max 64), starting with a letter or digit"
    return None


def _duration_range(value: Any) -> str | None:
    if value < 1 or value > MAX_TIMEOUT:
        return "must be between 1s and 24h"
    return None


_TEXT1 = _text_check(False)
_TEXTN = _text_check(True)

_TOP = {
    "runbook": Field("table", required=True),
    "params": Field("list[table]", default=[]),
    "steps": Field("list[table]", required=True),
}
_RUNBOOK = {
    "id": Field("str", required=True, check=_id_check),
    "title": Field("str", required=True, check=_TEXT1),
    "summary": Field("str", default="", check=_TEXTN),
    "services": Field("list[str]", default=[]),
    "priority": Field("str", default="P2", choices=PRIORITIES),
    "owner": Field("str", default="", check=_TEXT1),
    "scenarios": Field("any", default=[]),
}
_SCENARIO = {
    "id": Field("str", required=True, check=_id_check),
    "title": Field("str", required=True, check=_TEXT1),
    "summary": Field("str", default="", check=_TEXTN),
}
_PARAM = {
    "name": Field("str", required=True,
                  check=lambda v: None if _NAME_RE.match(v) else
                  "must be a letter or _ then letters, digits or _"),
    "type": Field("str", required=True, choices=PARAM_TYPES),
    "description": Field("str", default="", check=_TEXTN),
    "default": Field("any"),
    "from_config": Field("str", check=lambda v: None if _FROM_CONFIG_RE.match(v) else
                         "expected a dotted key path such as services.database.probes.primary.dsn"
                         " (optionally #host, #port, #dbname, #user, #password, #scheme, #path)"),
    "choices": Field("list[str]"),
    "pattern": Field("str"),
    "secret": Field("bool", default=False),
}
_COMMAND_KEYS = {
    "command": Field("list[str]"),
    "shell": Field("str", check=_TEXTN),
    "timeout": Field("duration", check=_duration_range),
    "cwd": Field("str", check=_TEXT1),
    "env": Field("table"),
    "remote": Field("str", check=_TEXT1),
}
_STEP = {
    "id": Field("str", required=True, check=_id_check),
    "title": Field("str", required=True, check=_TEXT1),
    "scenario": Field("any"),
    "guidance": Field("str", default="", check=_TEXTN),
    "destructive": Field("bool"),
    "requires_confirmation_of": Field("str"),
    "verify": Field("table"),
    "rollback": Field("table"),
    **_COMMAND_KEYS,
}
_VERIFY = {
    "probe": Field("str"),
    "expect_exit": Field("int", default=0, minimum=0),
    "expect_output": Field("str"),
    **_COMMAND_KEYS,
}
del _VERIFY["cwd"]
_ROLLBACK = {
    "title": Field("str", required=True, check=_TEXT1),
    "guidance": Field("str", default="", check=_TEXTN),
    "destructive": Field("bool", default=False),
    **_COMMAND_KEYS,
}


def _fix_lines(lines: dict[KeyPath, int], arrays: tuple[str, ...] = ("steps", "params")) -> None:
    """``schema.key_lines`` files ``[steps.verify]`` under ("steps", "verify"); TOML means the
    last ``[[steps]]`` element: re-file such keys under ("steps", i, "verify", ...)."""
    for arr in arrays:
        starts = sorted((ln, p[1]) for p, ln in lines.items()
                        if len(p) == 2 and p[0] == arr and isinstance(p[1], int))
        if not starts:
            continue
        for p, ln in list(lines.items()):
            if len(p) >= 2 and p[0] == arr and isinstance(p[1], str):
                idx = None
                for start, i in starts:
                    if start <= ln:
                        idx = i
                if idx is not None:
                    lines.setdefault((arr, idx, *p[1:]), ln)


class _Loader:
    def __init__(self, path: Path, text: str):
        self.path = path
        self.v = Validator(path, text)
        _fix_lines(self.v.lines)
        self.param_names: set[str] = set()
        self.secret_names: set[str] = set()

    def err(self, path: KeyPath, msg: str) -> None:
        self.v.error(path, msg)

    def line(self, path: KeyPath) -> int | None:
        from .schema import locate

        return locate(self.v.lines, path)

    # -- parts
    def scenarios(self, raw: Any, path: KeyPath) -> tuple[Scenario, ...]:
        items: list[tuple[KeyPath, dict[str, Any]]] = []
        if isinstance(raw, list):
            for i, el in enumerate(raw):
                if not isinstance(el, dict):
                    self.err((*path, i), "expected a table {id, title}")
                    continue
                items.append(((*path, i), el))
        elif isinstance(raw, dict):
            for sid, el in raw.items():
                if isinstance(el, str):
                    el = {"title": el}
                if not isinstance(el, dict):
                    self.err((*path, sid), "expected a title string or a table {title, summary}")
                    continue
                items.append(((*path, sid), {"id": sid, **el}))
        else:
            self.err(path, "expected an array of {id, title} tables or a table of id = title")
        out: list[Scenario] = []
        seen: set[str] = set()
        for p, el in items:
            s = self.v.table(el, _SCENARIO, p)
            if s.get("id") is None or s.get("title") is None:
                continue
            if s["id"] in seen:
                self.err((*p, "id"), f"duplicate scenario id {s['id']!r}")
                continue
            seen.add(s["id"])
            out.append(Scenario(s["id"], s["title"], s.get("summary") or ""))
        return tuple(out)

    def param(self, raw: dict[str, Any], path: KeyPath) -> Param | None:
        d = self.v.table(raw, _PARAM, path)
        name, typ = d.get("name"), d.get("type")
        if name is not None and typ is None:
            self.param_names.add(name)  # reported already; no cascade of "undefined" errors
            if raw.get("secret") is True:
                self.secret_names.add(name)
        if name is None or typ is None:
            return None
        if name in self.param_names:
            self.err((*path, "name"), f"duplicate parameter {name!r}")
            return None
        choices = tuple(d.get("choices") or ())
        if typ == "enum" and not choices:
            self.err((*path, "choices"), "an enum parameter needs choices")
        if typ != "enum" and d.get("choices") is not None:
            self.err((*path, "choices"), "choices apply only to type = \"enum\"")
        pattern = d.get("pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as e:
                self.err((*path, "pattern"), f"invalid regular expression: {e}")
                pattern = None
        p = Param(name=name, type=typ, description=d.get("description") or "",
                  default=None, from_config=d.get("from_config"), choices=choices,
                  pattern=pattern, secret=bool(d.get("secret")), line=self.line(path))
        default = d.get("default")
        if default is not None and not (typ == "enum" and not choices):
            try:
                p.coerce(default)
            except ParamError as e:
                self.err((*path, "default"), str(e).split(": ", 1)[1])
                default = None
            if isinstance(default, str):
                msg = _TEXTN(default)
                if msg:
                    self.err((*path, "default"), msg)
        self.param_names.add(name)
        if p.secret:
            self.secret_names.add(name)
        return Param(**{**p.__dict__, "default": default})

    def command(self, d: dict[str, Any], path: KeyPath, *, default_timeout: float,
                inherit_remote: str | None = None, required: bool = False) -> CommandSpec | None:
        argv, shell = d.get("command"), d.get("shell")
        if argv is not None and shell is not None:
            self.err((*path, "shell"), "give either command (argv) or shell, not both")
            return None
        if argv is None and shell is None:
            if required:
                self.err(path, "needs a command (argv list) or a shell script")
            for k in ("timeout", "cwd", "env", "remote"):
                if d.get(k) is not None:
                    self.err((*path, k), "only meaningful with a command or shell")
            return None
        ok = True
        if argv is not None:
            if not argv or not argv[0].strip():
                self.err((*path, "command"), "the argv list cannot be empty")
                ok = False
            for i, a in enumerate(argv):
                msg = _TEXTN(a)
                if msg:
                    self.err((*path, "command", i), msg)
                    ok = False
                elif a.strip() in _SHELL_OPERATORS:
                    self.err((*path, "command", i),
                             f"{a!r} is a shell operator but argv form runs no shell; use shell = ...")
                    ok = False
            if argv and placeholders(argv[0]):
                self.err((*path, "command", 0), "the program (argv[0]) cannot be a placeholder")
                ok = False
        if shell is not None:
            if not shell.strip():
                self.err((*path, "shell"), "the script cannot be empty")
                ok = False
            for prob in shell_placeholder_problems(shell):
                self.err((*path, "shell"), prob)
                ok = False
        env: list[tuple[str, str]] = []
        for name, val in (d.get("env") or {}).items():
            if not _ENV_NAME_RE.match(name):
                self.err((*path, "env", name), "not a valid environment variable name")
                ok = False
            elif name in _FORBIDDEN_ENV or name.startswith(_FORBIDDEN_ENV_PREFIXES):
                self.err((*path, "env", name), "this variable changes how programs load code; not allowed")
                ok = False
            elif not isinstance(val, str):
                self.err((*path, "env", name), "expected a string (use \"{param}\" for a parameter)")
                ok = False
            elif _TEXTN(val):
                self.err((*path, "env", name), _TEXTN(val) or "")
                ok = False
            else:
                env.append((name, val))
        remote = d.get("remote", inherit_remote)
        spec = CommandSpec(
            argv=tuple(argv) if argv is not None else None, shell=shell, cwd=d.get("cwd"),
            env=tuple(env), timeout=d.get("timeout") or default_timeout, remote=remote or None,
        )
        # placeholders: syntax, defined, secrets only in env
        fields: list[tuple[KeyPath, str, bool]] = []
        for i, a in enumerate(argv or ()):
            fields.append(((*path, "command", i), a, False))
        if shell is not None:
            fields.append(((*path, "shell"), shell, False))
        if spec.cwd:
            fields.append(((*path, "cwd"), spec.cwd, False))
        if "remote" in d and d["remote"]:
            fields.append(((*path, "remote"), d["remote"], False))
        for name, val in env:
            fields.append(((*path, "env", name), val, True))
        for kp, tmpl, is_env in fields:
            prob = _template_problem(tmpl)
            if prob:
                self.err(kp, prob)
                ok = False
                continue
            for ph in placeholders(tmpl):
                if ph not in self.param_names:
                    self.err(kp, f"placeholder {{{ph}}} refers to no parameter (declare it in [[params]])")
                    ok = False
                elif ph in self.secret_names and not is_env:
                    self.err(kp, f"secret parameter {{{ph}}} may only be used in env (argv is "
                                 "readable by every user in /proc)")
                    ok = False
                elif ph in self.secret_names and spec.remote:
                    self.err(kp, f"secret parameter {{{ph}}} cannot be sent to a remote step "
                                 "(it would be on the remote command line)")
                    ok = False
        return spec if ok else None

    def step(self, raw: dict[str, Any], path: KeyPath, rb: dict[str, Any],
             scenario_ids: set[str]) -> Step | None:
        d = self.v.table(raw, _STEP, path)
        if d.get("id") is None or d.get("title") is None:
            return None
        scen_raw = d.get("scenario")
        scenarios: tuple[str, ...] = ()
        if scen_raw is not None:
            if isinstance(scen_raw, str):
                scen_raw = [scen_raw]
            if not isinstance(scen_raw, list) or not all(isinstance(s, str) for s in scen_raw):
                self.err((*path, "scenario"), "expected a scenario id or a list of scenario ids")
            else:
                for s in scen_raw:
                    if s not in scenario_ids:
                        known = ", ".join(sorted(scenario_ids)) or "none declared"
                        self.err((*path, "scenario"), f"unknown scenario {s!r} (known: {known})")
                scenarios = tuple(scen_raw)
        command = self.command(d, path, default_timeout=DEFAULT_STEP_TIMEOUT)
        destructive = d.get("destructive")
        if destructive is None:
            text = " ".join(command.argv or ()) if command and command.argv else (
                command.shell if command else "")
            m = _DESTRUCTIVE_HINTS.search(text or "")
            if m:
                self.err((*path, "command" if command and command.argv else "shell"),
                         f"the command looks destructive ({m.group(0).strip()!r}): state "
                         "destructive = true (or false if it is not)")
            destructive = False
        services = rb.get("services") or []
        rco = d.get("requires_confirmation_of")
        if rco is not None:
            prob = _template_problem(rco)
            undefined = [ph for ph in placeholders(rco) if ph not in self.param_names
                         or ph in self.secret_names]
            if not destructive:
                self.err((*path, "requires_confirmation_of"), "applies only to destructive steps")
            elif prob or undefined:
                self.err((*path, "requires_confirmation_of"),
                         prob or f"placeholder {{{undefined[0]}}} refers to no (non-secret) parameter")
            elif not placeholders(rco) and rco not in services:
                self.err((*path, "requires_confirmation_of"),
                         f"{rco!r} is not one of this runbook's services ({', '.join(services) or 'none'})")
        if destructive and not services and rco is None:
            self.err((*path, "destructive"),
                     "a destructive step needs a service to confirm: list services in [runbook]")
        verify = None
        if d.get("verify") is not None:
            verify = self.verify(d["verify"], (*path, "verify"), command)
        rollback = None
        if d.get("rollback") is not None:
            r = self.v.table(d["rollback"], _ROLLBACK, (*path, "rollback"))
            rc = self.command(r, (*path, "rollback"), default_timeout=DEFAULT_STEP_TIMEOUT,
                              inherit_remote=command.remote if command else None)
            if r.get("title") is not None:
                rollback = Rollback(title=r["title"], guidance=r.get("guidance") or "",
                                    command=rc, destructive=bool(r.get("destructive")))
        return Step(id=d["id"], title=d["title"], scenarios=scenarios,
                    guidance=d.get("guidance") or "", command=command,
                    destructive=bool(destructive), requires_confirmation_of=rco,
                    verify=verify, rollback=rollback, line=self.line(path))

    def verify(self, raw: dict[str, Any], path: KeyPath, step_cmd: CommandSpec | None) -> Verify | None:
        d = self.v.table(raw, _VERIFY, path)
        has_cmd = d.get("command") is not None or d.get("shell") is not None
        probe = d.get("probe")
        if probe is not None and has_cmd:
            self.err((*path, "probe"), "give either probe or command/shell, not both")
            return None
        if probe is None and not has_cmd:
            self.err(path, "verify needs probe = \"service-id\" or a command (command = [...] or shell)")
            return None
        if probe is not None:
            if not _ID_RE.match(probe):
                self.err((*path, "probe"), "expected a service id")
                return None
            for k in ("expect_output", "timeout", "remote", "env"):
                if raw.get(k) is not None:
                    self.err((*path, k), "only meaningful with a verify command")
            return Verify(probe=probe)
        pattern = d.get("expect_output")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as e:
                self.err((*path, "expect_output"), f"invalid regular expression: {e}")
                return None
        spec = self.command(d, path, default_timeout=DEFAULT_VERIFY_TIMEOUT,
                            inherit_remote=step_cmd.remote if step_cmd else None)
        if spec is None:
            return None
        if _DESTRUCTIVE_HINTS.search(" ".join(spec.argv or ()) or spec.shell or ""):
            self.err(path, "a verify command must only observe; this one looks destructive")
        return Verify(command=spec, expect_exit=d.get("expect_exit") or 0, expect_output=pattern)

    # -- document
    def load(self, data: dict[str, Any], sha: str) -> Runbook | None:
        top = self.v.table(data, _TOP)
        rbraw = top.get("runbook")
        if rbraw is None:
            return None
        rb = self.v.table(rbraw, _RUNBOOK, ("runbook",))
        for i, s in enumerate(rb.get("services") or []):
            if not _ID_RE.match(s):
                self.err(("runbook", "services", i), f"{s!r} is not a service id")
        if len(set(rb.get("services") or [])) != len(rb.get("services") or []):
            self.err(("runbook", "services"), "lists a service twice")
        scenarios = self.scenarios(rbraw.get("scenarios", []), ("runbook", "scenarios")) \
            if "scenarios" in rbraw else ()
        params = []
        for i, praw in enumerate(top.get("params") or []):
            p = self.param(praw, ("params", i))
            if p is not None:
                params.append(p)
        steps: list[Step] = []
        seen: dict[str, int] = {}
        sids = {s.id for s in scenarios}
        raw_steps = top.get("steps") or []
        if not raw_steps and "steps" in data:
            self.err(("steps",), "a runbook needs at least one step")
        for i, sraw in enumerate(raw_steps):
            st = self.step(sraw, ("steps", i), rb, sids)
            if st is None:
                continue
            if st.id in seen:
                self.err(("steps", i, "id"),
                         f"duplicate step id {st.id!r} (first at step {seen[st.id] + 1})")
                continue
            seen[st.id] = i
            steps.append(st)
        used = set()
        for st in steps:
            used |= {s for s in st.scenarios}
        for s in scenarios if not self.v.errors else ():
            if s.id not in used and not any(not st.scenarios for st in steps):
                self.err(("runbook", "scenarios"), f"scenario {s.id!r} has no steps")
        if self.v.errors or rb.get("id") is None:
            return None
        return Runbook(
            id=rb["id"], title=rb["title"], summary=rb.get("summary") or "",
            services=tuple(rb.get("services") or ()), scenarios=scenarios,
            params=tuple(params), steps=tuple(steps), priority=rb.get("priority") or "P2",
            owner=rb.get("owner") or "", path=self.path, sha256=sha,
        )


def load_runbook(path: str | Path) -> Runbook:
    """Load and validate one runbook file; raises ``RunbookError`` (all problems)."""
    path = Path(path)
    data, text = load_toml(path)  # raises DocumentError on unreadable / invalid TOML
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    ld = _Loader(path, text)
    rb = ld.load(data, sha)
    if ld.v.errors or rb is None:
        errs = sorted((e if e.line is not None else DocumentError(e.file, 1, e.key, e.message)
                       for e in ld.v.errors), key=lambda e: e.line or 0)
        if not errs:
            errs = [DocumentError(path, None, None, "not a runbook")]
        raise RunbookError(errs)
    return rb


def runbook_files(paths: Iterable[str | Path]) -> list[Path]:
    """``*.toml`` files of the given files and directories (directories: not recursive)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(f for f in p.glob("*.toml") if f.is_file()))
        else:
            out.append(p)
    return out


def collect_library(paths: Iterable[str | Path]) -> tuple[Library, list[DocumentError]]:
    """Load what can be loaded: the valid runbooks, and every problem found (a broken file
    must not hide the other runbooks during an incident)."""
    paths = list(paths)
    runbooks: list[Runbook] = []
    errors: list[DocumentError] = []
    by_id: dict[str, Runbook] = {}
    for f in runbook_files(paths):
        try:
            rb = load_runbook(f)
        except RunbookError as e:
            errors.extend(e.errors)
            continue
        except DocumentError as e:
            errors.append(e)
            continue
        if rb.id in by_id:
            other = by_id[rb.id]
            line = _line_of_id(f)
            errors.append(DocumentError(f, line, "runbook.id",
                                        f"duplicate runbook id {rb.id!r}, also defined in "
                                        f"{other.path}:{_line_of_id(other.path)}"))
            continue
        by_id[rb.id] = rb
        runbooks.append(rb)
    dirs = tuple(Path(p) for p in paths if Path(p).is_dir())
    return Library(tuple(runbooks), dirs), errors


def load_library(paths: Iterable[str | Path]) -> Library:
    """Load every runbook of ``paths`` (files or directories); ids must be unique across
    files. Raises ``RunbookError`` with every problem of every file."""
    lib, errors = collect_library(paths)
    if errors:
        raise RunbookError(errors)
    return lib


def _line_of_id(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        from .schema import key_lines

        return key_lines(path.read_text("utf-8")).get(("runbook", "id"))
    except (OSError, UnicodeDecodeError):
        return None


def builtin_dir() -> Path:
    """The built-in library: ``runbooks/`` beside the package in the checkout."""
    import cockpit

    return Path(cockpit.__file__).resolve().parent.parent / "runbooks"


__all__ = [
    "PARAM_TYPES", "SCHEMA_REFERENCE", "CommandSpec", "Library", "Param", "ParamError",
    "RenderedCommand", "Rollback", "Runbook", "RunbookError", "Scenario", "Step", "Verify",
    "builtin_dir", "collect_library", "config_value", "dsn_part", "load_library", "load_runbook",
    "placeholders", "runbook_files", "shell_placeholder_problems", "substitute",
]
