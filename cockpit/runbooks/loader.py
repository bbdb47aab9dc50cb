"""Reading runbook files: the schema tables, their validation with ``file:line: key``
errors (every problem of a file in one run), and the library of a set of directories."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..document import DocumentError, KeyPath, Validator, key_lines, load_toml, locate
from . import policy
from . import schema as S
from .errors import ParamError, RunbookError
from .library import Library
from .model import (
    DEFAULT_STEP_TIMEOUT,
    DEFAULT_VERIFY_TIMEOUT,
    CommandSpec,
    Param,
    Rollback,
    Runbook,
    Scenario,
    Step,
    Verify,
)
from .params import secret_source
from .template import placeholders, shell_placeholder_problems, template_problem


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
        self.secret_by_rule: set[str] = set()  # from_config takes a secret part

    def err(self, path: KeyPath, msg: str) -> None:
        self.v.error(path, msg)

    def line(self, path: KeyPath) -> int | None:
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
            s = self.v.table(el, S.SCENARIO, p)
            if s.get("id") is None or s.get("title") is None:
                continue
            if s["id"] in seen:
                self.err((*p, "id"), f"duplicate scenario id {s['id']!r}")
                continue
            seen.add(s["id"])
            out.append(Scenario(s["id"], s["title"], s.get("summary") or ""))
        return tuple(out)

    def param(self, raw: dict[str, Any], path: KeyPath) -> Param | None:
        d = self.v.table(raw, S.PARAM, path)
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
        secret = bool(d.get("secret"))
        if not secret and secret_source(d.get("from_config")):
            # secret by rule: a password from cockpit.toml never reaches argv, the journal
            # or the screen, whether the runbook says secret = true or not
            secret = True
            self.secret_by_rule.add(name)
        p = Param(name=name, type=typ, description=d.get("description") or "",
                  default=None, from_config=d.get("from_config"), choices=choices,
                  pattern=pattern, secret=secret, line=self.line(path))
        default = d.get("default")
        if default is not None and not (typ == "enum" and not choices):
            try:
                p.coerce(default)
            except ParamError as e:
                self.err((*path, "default"), str(e).split(": ", 1)[1])
                default = None
            if isinstance(default, str):
                msg = S.TEXTN(default)
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
                msg = S.TEXTN(a)
                if msg:
                    self.err((*path, "command", i), msg)
                    ok = False
                elif a.strip() in policy.SHELL_OPERATORS:
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
            problem = policy.env_problem(name)
            if problem:
                self.err((*path, "env", name), problem)
                ok = False
            elif not isinstance(val, str):
                self.err((*path, "env", name), "expected a string (use \"{param}\" for a parameter)")
                ok = False
            elif S.TEXTN(val):
                self.err((*path, "env", name), S.TEXTN(val) or "")
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
            tproblem = template_problem(tmpl)
            if tproblem:
                self.err(kp, tproblem)
                ok = False
                continue
            for ph in placeholders(tmpl):
                if ph not in self.param_names:
                    self.err(kp, f"placeholder {{{ph}}} refers to no parameter (declare it in [[params]])")
                    ok = False
                elif ph in self.secret_names and not is_env:
                    self.err(kp, f"secret parameter {{{ph}}} may only be used in env (argv is "
                                 f"readable by every user in /proc){self._why_secret(ph)}")
                    ok = False
                elif ph in self.secret_names and spec.remote:
                    self.err(kp, f"secret parameter {{{ph}}} cannot be sent to a remote step "
                                 f"(it would be on the remote command line){self._why_secret(ph)}")
                    ok = False
        return spec if ok else None

    def _why_secret(self, name: str) -> str:
        if name in self.secret_by_rule:
            return "; it is secret by rule: its from_config takes a secret of cockpit.toml"
        return ""

    def step(self, raw: dict[str, Any], path: KeyPath, rb: dict[str, Any],
             scenario_ids: set[str]) -> Step | None:
        d = self.v.table(raw, S.STEP, path)
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
        stated = destructive is not None
        if command is not None:
            problem = policy.unstated_destructive(
                policy.command_text(command.argv, command.shell), stated)
            if problem:
                self.err((*path, "command" if command.argv else "shell"), problem)
        destructive = bool(destructive)
        services = rb.get("services") or []
        rco = d.get("requires_confirmation_of")
        if rco is not None:
            prob = template_problem(rco)
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
        repeatable = bool(d.get("repeatable"))
        if repeatable and destructive:
            self.err((*path, "repeatable"), "a destructive step cannot be repeatable")
        if repeatable and command is None:
            self.err((*path, "repeatable"), "applies only to steps with a command")
        if destructive and not services and rco is None:
            self.err((*path, "destructive"),
                     "a destructive step needs a service to confirm: list services in [runbook]")
        verify = None
        if d.get("verify") is not None:
            verify = self.verify(d["verify"], (*path, "verify"), command)
        rollback = None
        if d.get("rollback") is not None:
            r = self.v.table(d["rollback"], S.ROLLBACK, (*path, "rollback"))
            rc = self.command(r, (*path, "rollback"), default_timeout=DEFAULT_STEP_TIMEOUT,
                              inherit_remote=command.remote if command else None)
            if r.get("title") is not None:
                rollback = Rollback(title=r["title"], guidance=r.get("guidance") or "",
                                    command=rc, destructive=bool(r.get("destructive")))
        return Step(id=d["id"], title=d["title"], scenarios=scenarios,
                    guidance=d.get("guidance") or "", command=command,
                    destructive=destructive, destructive_stated=stated, repeatable=repeatable,
                    requires_confirmation_of=rco,
                    verify=verify, rollback=rollback, line=self.line(path))

    def verify(self, raw: dict[str, Any], path: KeyPath, step_cmd: CommandSpec | None) -> Verify | None:
        d = self.v.table(raw, S.VERIFY, path)
        has_cmd = d.get("command") is not None or d.get("shell") is not None
        probe = d.get("probe")
        if probe is not None and has_cmd:
            self.err((*path, "probe"), "give either probe or command/shell, not both")
            return None
        if probe is None and not has_cmd:
            self.err(path, "verify needs probe = \"service-id\" or a command (command = [...] or shell)")
            return None
        if probe is not None:
            if not S.ID_RE.match(probe):
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
        if policy.destructive_hint(policy.command_text(spec.argv, spec.shell)):
            self.err(path, policy.VERIFY_MUST_OBSERVE)
        return Verify(command=spec, expect_exit=d.get("expect_exit") or 0, expect_output=pattern)

    # -- document
    def load(self, data: dict[str, Any], sha: str) -> Runbook | None:
        top = self.v.table(data, S.TOP)
        rbraw = top.get("runbook")
        if rbraw is None:
            return None
        rb = self.v.table(rbraw, S.RUNBOOK, ("runbook",))
        for i, s in enumerate(rb.get("services") or []):
            if not S.ID_RE.match(s):
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
        return key_lines(path.read_text("utf-8")).get(("runbook", "id"))
    except (OSError, UnicodeDecodeError):
        return None


