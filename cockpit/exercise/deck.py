"""A spreadsheet inject list (CSV, the facilitators' MSEL) turned into a scenario file.

The first row names the columns (case and spaces do not matter). One row is one inject:

- ``time`` (or ``at``): scenario time, ``2m``, ``1h30m``, ``0:02:00``, ``02:00`` or
  ``T+2m``; empty with ``spare = yes`` for a spare inject;
- ``id``, ``synopsis``, ``audience`` (all, commander, communications, scribe), ``spare``;
- an effect, with the scenario file's keys as columns: ``service``, ``status``, ``summary``,
  ``figure``, ``latency``, ``rpo_exposure``, ``rpo_growing``, ``silent``; or ``log``,
  ``type``, ``author``;
- an expected outcome: ``expect`` (its text), ``expect_kind`` and the outcome's keys
  prefixed ``expect_`` (``expect_within``, ``expect_by``, ``expect_from``,
  ``expect_runbook``, ``expect_step``, ``expect_severity``, ``expect_status``,
  ``expect_role``, ``expect_type``, ``expect_contains``, ``expect_service``,
  ``expect_services``, ``expect_milestone``, ``expect_id``, ``expect_corrective``,
  ``expect_owner``).

A row with no time, synopsis or effect adds another expected outcome to the inject above
it. Lists (``services``) are separated by commas or semicolons; yes/no, true/false, 1/0
and x are booleans. The services come from another scenario (the demo's by default).

Every problem is named by its row (the spreadsheet's row number, the header being row 1)
and column, all of them in one run; nothing is written while there is one.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..document import DocumentError, KeyPath, Validator
from ..timeutil import parse_duration, short_duration
from .schema import Scenario, check_scenario

if TYPE_CHECKING:
    from ..runbooks import Library

EFFECT_COLUMNS = ("service", "status", "summary", "figure", "latency", "rpo_exposure",
                  "rpo_growing", "silent", "log", "type", "author")
INJECT_COLUMNS = ("id", "synopsis", "audience", "spare", *EFFECT_COLUMNS)
OUTCOME_KEYS = ("id", "kind", "within", "by", "from", "runbook", "step", "state", "severity",
                "status", "role", "type", "contains", "service", "services", "milestone",
                "corrective", "owner")
COLUMNS = ("time", *INJECT_COLUMNS, "expect", *(f"expect_{k}" for k in OUTCOME_KEYS))
_BOOL_COLUMNS = ("spare", "rpo_growing", "silent")
_LIST_COLUMNS = ("expect_services",)
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")
_TRUE, _FALSE = ("yes", "y", "true", "1", "x"), ("no", "n", "false", "0", "")


class DeckError(DocumentError):
    """A problem of a deck, by row and column: ``deck.csv: row 5, column 'status': ...``."""

    def __init__(self, file: str, row: int | None, column: str | None, message: str,
                 line: int | None = None) -> None:
        self.row, self.column = row, column
        super().__init__(file, line if line is not None else row, column, message)

    def one_line(self) -> str:
        where = [f"row {self.row}" if self.row is not None else "",
                 f"column {self.column!r}" if self.column else ""]
        place = ", ".join(w for w in where if w)
        return f"{self.file}: {place + ': ' if place else ''}{' '.join(self.message.split())}"


def deck_time(text: str) -> float:
    """A scenario time as spreadsheets write it: ``2m``, ``0:02:00``, ``02:00``, ``T+2m``."""
    t = text.strip().removeprefix("T+").removeprefix("t+").strip()
    m = _CLOCK.match(t)
    if m:
        h, mi, s = int(m[1] or 0), int(m[2]), int(m[3])
        if s > 59 or (m[1] is not None and mi > 59):
            raise ValueError(f"not a time: {text!r}")
        return h * 3600.0 + mi * 60 + s
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        raise ValueError(f"write the unit: {t}s, {t}m or {t}h (or H:MM:SS)")
    return parse_duration(t)


@dataclass
class _Place:
    rows: dict[int, int]  # inject index -> spreadsheet row
    outcome_rows: dict[tuple[int, int], int]  # (inject, outcome) -> row


class _DeckValidator(Validator):
    """Places every error by the row and column it came from."""

    def __init__(self, file: str, place: _Place, options: dict[str, str]) -> None:
        super().__init__(file, "")
        self.place = place
        self.options = options

    def error(self, path: KeyPath, message: str) -> None:
        row: int | None = None
        col: str | None = None
        if len(path) >= 2 and path[0] == "inject" and isinstance(path[1], int):
            row = self.place.rows.get(path[1])
            if len(path) >= 4 and path[2] == "expect" and isinstance(path[3], int):
                row = self.place.outcome_rows.get((path[1], path[3]), row)
                if len(path) >= 5:
                    key = str(path[4])
                    col = "expect" if key == "text" else f"expect_{key}"
            elif len(path) >= 3:
                key = str(path[2])
                col = "time" if key == "at" else key
        elif path and path[0] == "scenario":
            col = self.options.get(str(path[1]) if len(path) > 1 else "", None)
        elif path and path[0] == "service":
            col = self.options.get("services")
        self.errors.append(DeckError(self.file, row, col, message))


def _bool(v: str) -> bool | None:
    x = v.strip().lower()
    return True if x in _TRUE else False if x in _FALSE else None


def read_deck(text: str, file: str, services_from: Scenario, *, title: str | None = None,
              scenario_id: str | None = None, category: str | None = None,
              length: float | None = None, description: str = "",
              library: Library | None = None) -> tuple[dict[str, Any], list[DocumentError]]:
    """The scenario document (a TOML-shaped dict) of a deck, and every problem."""
    errors: list[DocumentError] = []
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as e:
        return {}, [DeckError(file, reader.line_num, None, f"not CSV: {e}")]
    if not rows:
        return {}, [DeckError(file, 1, None, "empty: the first row names the columns")]
    header = [re.sub(r"[\s-]+", "_", h.strip().lower()) for h in rows[0]]
    header = ["time" if h == "at" else h for h in header]
    for i, h in enumerate(header):
        if h and h not in COLUMNS:
            errors.append(DeckError(file, 1, rows[0][i].strip(), "unknown column (known: "
                                    + ", ".join(COLUMNS) + ")"))
    if "time" not in header:
        errors.append(DeckError(file, 1, "time", "missing column: the scenario time of each "
                                "inject"))
    place = _Place({}, {})
    injects: list[dict[str, Any]] = []
    last_time = 0.0
    for n, raw in enumerate(rows[1:], start=2):
        cells = {h: raw[i].strip() for i, h in enumerate(header) if h and i < len(raw)}
        if len(raw) > len(header) and any(c.strip() for c in raw[len(header):]):
            errors.append(DeckError(file, n, None, f"{len(raw)} cells, {len(header)} columns"))
        if not any(cells.values()):
            continue
        inj: dict[str, Any] = {}
        for col in INJECT_COLUMNS:
            v = cells.get(col, "")
            if not v:
                continue
            if col in _BOOL_COLUMNS:
                b = _bool(v)
                if b is None:
                    errors.append(DeckError(file, n, col, f"expected yes or no, got {v!r}"))
                    continue
                inj[col] = b
            else:
                inj[col] = v
        outcome: dict[str, Any] = {}
        if cells.get("expect"):
            outcome["text"] = cells["expect"]
        for k in OUTCOME_KEYS:
            v = cells.get(f"expect_{k}", "")
            if v:
                outcome[k] = [x.strip() for x in re.split(r"[;,]", v) if x.strip()] \
                    if f"expect_{k}" in _LIST_COLUMNS else v
        when = cells.get("time", "")
        if not when and not inj and outcome:
            if not injects:
                errors.append(DeckError(file, n, "time", "an expected outcome without an "
                                        "inject above it"))
                continue
            i = len(injects) - 1
            injects[-1].setdefault("expect", []).append(outcome)
            place.outcome_rows[(i, len(injects[-1]["expect"]) - 1)] = n
            continue
        if when:
            try:
                at = deck_time(when)
            except ValueError as e:
                errors.append(DeckError(file, n, "time", str(e)))
                at = 0.0  # reported; the rest of the row is still checked
            inj["at"] = f"{int(at)}s" if at == int(at) else f"{at}s"
            last_time = max(last_time, at)
        elif not inj.get("spare"):
            errors.append(DeckError(file, n, "time", "empty: give the scenario time (or "
                                    "spare = yes)"))
            continue
        if outcome:
            inj["expect"] = [outcome]
            place.outcome_rows[(len(injects), 0)] = n
        place.rows[len(injects)] = n
        injects.append(inj)
    stem = Path(file).stem
    head: dict[str, Any] = {
        "id": scenario_id or re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "deck",
        "title": title or stem.replace("_", " ").replace("-", " ").strip() or "Imported deck",
        "length": short_duration(length if length is not None else
                                 max(1800.0, (last_time // 300 + 1) * 300)),
        "loop": False, "environment": "exercise",
    }
    if category:
        head["category"] = category
    if description:
        head["description"] = description
    runbooks = sorted({str(o["runbook"]) for i in injects for o in i.get("expect", [])
                       if isinstance(o.get("runbook"), str)})
    if runbooks:
        head["runbooks"] = runbooks
    services = []
    for svc in services_from.services:
        d: dict[str, Any] = {"id": svc.id, "title": svc.title,
                             "priority": services_from.priorities.get(svc.id, "P1")}
        if svc.rto is not None:
            d["rto"] = short_duration(svc.rto)
        if svc.rpo is not None:
            d["rpo"] = short_duration(svc.rpo)
        services.append(d)
    doc = {"scenario": head, "service": services, "inject": injects}
    options = {"title": "--title", "id": "--id", "category": "--category",
               "length": "--length", "description": "--description",
               "runbooks": "expect_runbook", "services": "--services-from"}
    checker = _DeckValidator(file, place, options)
    _scenario, problems = check_scenario(doc, "", file, library=library, validator=checker)
    errors += problems
    errors.sort(key=lambda e: (e.line or 0))
    return doc, errors


# ---------------------------------------------------------------- writing TOML

def toml_string(s: str) -> str:
    """A TOML basic string; every control or invisible character as a \\u escape."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif o < 0x20 or 0x7F <= o <= 0x9F or ch in "\u2028\u2029" or 0x200B <= o <= 0x200F \
                or 0x202A <= o <= 0x202E or 0x2066 <= o <= 0x2069 or o == 0xFEFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return toml_string(str(v))


def _table(d: dict[str, Any], skip: Sequence[str] = ()) -> list[str]:
    return [f"{k} = {_value(v)}" for k, v in d.items() if k not in skip and v is not None]


def to_toml(doc: dict[str, Any], source: str) -> str:
    """The scenario file of a deck's document."""
    out = [f"# Imported from {source} by `cockpit exercise import`.",
           "# Check it with `cockpit exercise validate FILE`.", "", "[scenario]"]
    out += _table(doc["scenario"])
    for s in doc.get("service", []):
        out += ["", "[[service]]", *_table(s)]
    for inj in doc.get("inject", []):
        out += ["", "[[inject]]", *_table(inj, skip=("expect",))]
        for o in inj.get("expect", []):
            out += ["", "[[inject.expect]]", *_table(o)]
    return "\n".join(out) + "\n"
