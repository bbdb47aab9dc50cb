"""Placeholders: ``{name}`` in commands, and the rules that keep values from ever reaching
a shell unquoted.

In ``command`` (argv form) a placeholder is substituted inside one argv element and can never
split it; in ``shell`` form it is replaced by ``shlex.quote(value)`` and
``shell_placeholder_problems`` refuses any position where that quoting would not hold (inside
quotes, backquotes, heredocs, after ``$`` or a backslash). ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import ParamError

if TYPE_CHECKING:
    from .model import CommandSpec

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
PLACEHOLDER_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def placeholders(template: str) -> list[str]:
    """Names referenced by ``{name}`` in a template (``{{``/``}}`` are literal braces)."""
    return [m.group(1) for m in PLACEHOLDER_RE.finditer(template)
            if m.group(1) is not None]


def template_problem(template: str) -> str | None:
    for m in PLACEHOLDER_RE.finditer(template):
        tok = m.group(0)
        if tok in ("{{", "}}"):
            continue
        if m.group(1) is None:
            return f"lone {tok!r} at offset {m.start()} (write {tok * 2} for a literal brace)"
        if not NAME_RE.match(m.group(1)):
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

    return PLACEHOLDER_RE.sub(repl, template)


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
            m = PLACEHOLDER_RE.match(script, i)
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




def preview(spec: CommandSpec, known: Mapping[str, Any] | None = None) -> str:
    """A command with its ``{param}`` placeholders shown as ``<param>``, for a step whose
    values are not all known yet: where it runs, then the command. ``known`` values (from
    cockpit.toml, defaults, what was typed) are filled in (M7: never ``<web_port>`` for a
    value the configuration gives)."""
    known = known or {}
    marks = {n: str(known[n]) if known.get(n) not in (None, "") else f"<{n}>"
             for n in spec.placeholders()}
    if spec.shell is not None:
        body = substitute(spec.shell, {n: v if v.startswith("<") else shlex.quote(v)
                                       for n, v in marks.items()})
    else:
        body = shlex.join(substitute(a, marks) for a in spec.argv or ())
    where = f"on {substitute(spec.remote, marks)} via ssh" if spec.remote else "on this machine"
    return f"{where}:\n{body}"
