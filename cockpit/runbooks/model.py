"""The runbook model: a runbook, its parameters, steps, verifies and rollbacks, and a
command rendered with its parameter values (exactly what will run).

Pure data: no Textual, no execution. A ``secret`` parameter may only be used in ``env``
(argv is readable by every user in ``/proc``). A step with ``remote`` runs through ``ssh``;
its remote command line is built with ``shlex.join`` so the remote shell receives exactly
the rendered argv.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import params as _params
from .errors import ParamError, RunbookError
from .policy import SSH_DEST_RE, SSH_OPTIONS
from .template import placeholders, substitute

DEFAULT_STEP_TIMEOUT = 300.0
DEFAULT_VERIFY_TIMEOUT = 60.0
MAX_TIMEOUT = 24 * 3600.0

__all__ = ["ParamError", "RunbookError"]


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
        return _params.coerce(self, value)


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
    # ``destructive`` was written in the runbook (a command that looks destructive must
    # say so: the loader and the executor both refuse it otherwise).
    destructive_stated: bool = True
    # A step that succeeded may run again (a progress or status check: "run again until
    # done"); never a destructive one (the loader refuses it).
    repeatable: bool = False

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
                v = _params.config_value(config, p.from_config)
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
            if not SSH_DEST_RE.match(remote) or remote.startswith("-"):
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


