"""Small declarative validation for TOML documents, with errors naming file, line and key.

``tomllib`` gives no positions, so ``locate`` scans the source text for table headers
and key assignments to find the line of a dotted key path. Used by the configuration
and the runbook loader alike.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .timeutil import parse_duration

KeyPath = tuple[str | int, ...]


class DocumentError(Exception):
    """One problem in one file, rendered as a single line: ``file:line: key: message``."""

    def __init__(self, file: str | Path, line: int | None, key: str | None, message: str):
        self.file = str(file)
        self.line = line
        self.key = key
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" {self.key}:" if self.key else ""
        msg = " ".join(self.message.split())
        return f"{where}:{key} {msg}"


class DocumentErrors(DocumentError):
    """Every problem of one file, reported in one run: ``str()`` is the first, ``lines()``
    all of them in file order."""

    def __init__(self, errors: list[DocumentError]):
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.file, first.line, first.key, first.message)

    def lines(self) -> list[str]:
        return [e.one_line() for e in self.errors]


def dotted(path: KeyPath) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + (p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else f'"{p}"')
    return out


# ---------------------------------------------------------------- locating keys in TOML text

_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_RE = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")
_PART_RE = re.compile(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|$)""")


def _split_key(s: str) -> list[str]:
    return [p.strip("\"'") for p in _PART_RE.findall(s)]


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every table header and key assignment path to its 1-based line number."""
    lines: dict[KeyPath, int] = {}
    current: KeyPath = ()
    array_counts: dict[KeyPath, int] = {}
    in_multiline: str | None = None
    for no, raw in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if raw.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        m = _HEADER_RE.match(raw)
        if m and not _KEY_RE.match(raw):
            parts = tuple(_split_key(m.group(2)))
            if m.group(1) == "[[":
                idx = array_counts.get(parts, 0)
                array_counts[parts] = idx + 1
                lines.setdefault(parts, no)
                current = (*parts, idx)
            else:
                current = parts
            lines.setdefault(current, no)
            continue
        m = _KEY_RE.match(raw)
        if m:
            path = (*current, *_split_key(m.group(1)))
            lines.setdefault(path, no)
            rest = raw[m.end():]
            for q in ('"""', "'''"):
                if rest.count(q) % 2 == 1:
                    in_multiline = q
                    break
    return lines


def locate(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    """The line of ``path``, or of its longest prefix that has one."""
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return None


# ---------------------------------------------------------------- field specs

@dataclass(frozen=True)
class Field:
    """One key of a table. ``kind``: str, int, float, number, bool, duration, list[str], table, any."""

    kind: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    help: str = ""
    check: Callable[[Any], str | None] | None = None  # extra check: returns an error message


def _type_error(kind: str, value: Any) -> str | None:
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "table": isinstance(value, dict),
        "list[table]": isinstance(value, list) and all(isinstance(v, dict) for v in value),
        "any": True,
    }
    if kind == "duration":
        if isinstance(value, int | float) and not isinstance(value, bool):
            # a bare 15 is ambiguous (seconds? minutes?) in a file people edit under stress
            return f"write the unit: \"{value}s\", \"{value}m\" or \"{value}h\""
        try:
            parse_duration(value)
        except ValueError as e:
            return str(e)
        return None
    if kind not in ok:
        raise ValueError(f"unknown field kind {kind}")
    if ok[kind]:
        return None
    names = {"str": "a string", "int": "an integer", "float": "a number", "number": "a number",
             "bool": "true or false", "list[str]": "a list of strings", "table": "a table",
             "list[table]": "an array of tables"}
    got = type(value).__name__
    got = {"dict": "table", "list": "array", "str": "string", "bool": "boolean"}.get(got, got)
    return f"expected {names[kind]}, got {got}"


class Validator:
    """Collects errors for one document; ``errors`` come out in file order."""

    def __init__(self, file: str | Path, text: str):
        self.file = str(file)
        self.lines = key_lines(text)
        self.errors: list[DocumentError] = []

    def error(self, path: KeyPath, message: str) -> None:
        self.errors.append(DocumentError(self.file, locate(self.lines, path), dotted(path) or None, message))

    def table(self, data: Mapping[str, Any], spec: Mapping[str, Field], path: KeyPath = (),
              *, allow_extra: bool = False) -> dict[str, Any]:
        """Validate ``data`` against ``spec``; return it with defaults filled and durations parsed."""
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key not in spec:
                if allow_extra:
                    out[key] = value
                    continue
                known = ", ".join(sorted(spec)) or "none"
                self.error((*path, key), f"unknown key (known keys: {known})")
                continue
            f = spec[key]
            problem = _type_error(f.kind, value)
            if problem is None and f.choices is not None and value not in f.choices:
                problem = "must be one of " + ", ".join(repr(c) for c in f.choices)
            if problem is None and f.kind == "duration":
                value = parse_duration(value)
            if problem is None and f.minimum is not None and value < f.minimum:
                problem = f"must be at least {f.minimum:g}"
            if problem is None and f.check is not None:
                problem = f.check(value)
            if problem:
                self.error((*path, key), problem)
                continue
            out[key] = value
        for key, f in spec.items():
            if key in data:
                continue
            if f.required:
                self.error((*path, key), "missing required value")
            elif f.default is not None:
                out[key] = parse_duration(f.default) if f.kind == "duration" else f.default
            else:
                out[key] = None
        return out

    def raise_first(self) -> None:
        if self.errors:
            self.errors.sort(key=lambda e: (e.line or 0))
            raise self.errors[0]

    def raise_all(self) -> None:
        """Every error at once (file order): ``DocumentErrors``, whose first is ``str()``."""
        if self.errors:
            self.errors.sort(key=lambda e: (e.line or 0))
            raise DocumentErrors(self.errors)


def load_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML file; a syntax error becomes a one-line ``DocumentError``."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DocumentError(path, None, None, f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DocumentError(path, line, None, "not valid UTF-8") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        at: int | None = int(m.group(1)) if m else getattr(e, "lineno", None)
        msg = re.sub(r"\s*\(at (?:line \d+, column \d+|end of document)\)", "", msg)
        raise DocumentError(path, at, None, f"invalid TOML: {msg}") from None
