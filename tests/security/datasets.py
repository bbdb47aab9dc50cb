"""The hostile state directories the tests run the cockpit and the CLI on.

* ``cli_fields``: payloads only where the real CLI accepts free text (incident titles,
  note texts of the four note types, role persons and the hand-over they imply, authors).
  Review channel 3a: clean everywhere but the update draft (F1) and
  ``incident list --json`` (F3).
* ``every_field``: every field of every record kind set to each payload and to the joined
  string, unknown kinds made of the payloads, note types made of the payloads, and 16
  incidents whose severity and status are payloads (review F2). The followed incident
  ends with a well-formed status and severity, so the modals are drawn over a clean title
  bar and their findings are their own.
* ``wrong_types(kinds)``: every field of the given kinds set, one at a time, to each
  hostile non-string value, a 1 MB string and text in ``impact_start`` (the hostile-writer
  acceptance); ``envelopes()``: records whose top-level fields have the wrong type.

Half of each is written before the cockpit starts, the rest while it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from . import hostile_writer as hw
from .hostile_writer import Case, tag
from .payloads import JOINED, PAYLOADS
from .session import FOLLOWED, T0, Dataset, declared

NOTE_TYPES = ("observation", "decision", "action", "communication")
ROLES = ("commander", "communications", "scribe")
ALL = [*PAYLOADS, JOINED]
# one record kind per way the log describes an entry
ENTRY_KINDS = ("note", "incident.declared", "incident.status", "incident.updated",
               "role.assigned", "health", "recovered", "step.started", "x.unknown")


def other_incident(i: int) -> str:
    return f"20980101-0000{i:02d}-other-{i:04d}"


def _restore() -> list[Case]:
    """Well-formed status, severity, title and services for the followed incident (not
    tagged: the entry view's search for ``h0`` skips them)."""
    return [
        Case("incident.updated", {"title": "restored title", "severity": "P1",
                                  "services": ["database"]}, "restore", "restore", ""),
        Case("incident.status", {"status": "responding"}, "restore", "restore", ""),
    ]


def cli_fields(base: Path) -> Dataset:
    ds = Dataset.new(base)
    n = 0
    ds.before.append((FOLLOWED, Case("incident.declared", {
        "title": f"Hostile incident {JOINED}", "severity": "P1", "services": ["database"],
        "impact_start": T0}, tag(n), "title = joined", tag(n))))
    n += 1
    persons: dict[str, str] = {}

    def batch(into: list) -> None:
        nonlocal n
        for i, p in enumerate(ALL):
            t = tag(n)
            into.append((FOLLOWED, Case("note", {"type": NOTE_TYPES[i % 4], "text": f"{p} tail"},
                                        f"{t} {p}", f"note text = payload {i}", t)))
            n += 1
            role = ROLES[i % 3]
            t = tag(n)
            data = {"role": role, "person": f"{p} p"}
            if role in persons:
                data["handover_from"] = persons[role]
            persons[role] = data["person"]
            into.append((FOLLOWED, Case("role.assigned", data, f"{t} {p}",
                                        f"role person = payload {i}", t)))
            n += 1

    batch(ds.before)
    for i, p in enumerate(ALL):
        c = Case("incident.declared", {"title": f"T{i} {p} tail", "severity": "P2",
                                       "services": ["backend"], "impact_start": T0},
                 tag(n), f"other incident title = payload {i}", tag(n))
        ds.before.append((other_incident(i), c))
        n += 1
    batch(ds.after)
    # the last action note (what the update draft quotes) carries the joined string
    t = tag(n)
    ds.after.append((FOLLOWED, Case("note", {"type": "action", "text": f"act {JOINED}"},
                                    f"{t} {JOINED}", "action note = joined", t)))
    return ds


def every_field(base: Path) -> Dataset:
    ds = Dataset.new(base)
    ds.before.append((FOLLOWED, declared()))
    kinds = list(hw.KINDS)  # incident.declared first: a declaration resets the state
    before = list(hw.payload_cases(kinds, start=0))
    before += list(hw.kind_cases(start=hw.next_tag(before)))
    before += list(hw.note_type_cases(start=hw.next_tag(before)))
    n = hw.next_tag(before)
    # the joined-string records go last, written while the cockpit runs: they are the
    # newest entries, the ones opened in the entry view
    joined = [c for c in before if "joined" in c.what]
    rest = [c for c in before if "joined" not in c.what]
    ds.before += [(FOLLOWED, c) for c in rest]
    ds.before += [(FOLLOWED, c) for c in _restore()]
    for i, p in enumerate(ALL):
        inc = other_incident(i)
        ds.before.append((inc, Case("incident.declared", {
            "title": f"T{i} severity and status", "severity": p, "services": ["backend"],
            "impact_start": T0}, tag(n), f"severity = payload {i}", tag(n))))
        ds.before.append((inc, Case("incident.status", {"status": p}, tag(n + 1),
                                    f"status = payload {i}", tag(n + 1))))
        n += 2
    # newest last: the entries opened in the entry view (one per way an entry is
    # described, see cockpit.incident.describe), then the restoring status and severity
    opened = [c for c in joined if c.kind in ENTRY_KINDS or not c.kind.startswith(
        ("incident.", "step.", "note", "role.", "health", "recovered", "session-start",
         "x.unknown"))]
    opened += [c for c in joined if c.kind.startswith(("step.", "incident.")) and
               c.kind not in hw.KIND_FIELDS]  # kinds made of the payloads
    ds.after += [(FOLLOWED, c) for c in joined if c not in opened]
    ds.after += [(FOLLOWED, c) for c in opened]
    ds.after += [(FOLLOWED, c) for c in _restore()]
    ds.entry_views = len(opened)
    return ds


def wrong_types(base: Path, kinds: Iterable[str], *, huge: bool = True,
                values: list | None = None, one_at_a_time: bool = True) -> Dataset:
    ds = Dataset.new(base)
    ds.before.append((FOLLOWED, declared()))
    cases = list(hw.wrong_type_cases(list(kinds), huge=huge, values=values,
                                     one_at_a_time=one_at_a_time))
    half = len(cases) // 2
    ds.before += [(FOLLOWED, c) for c in cases[:half]]
    ds.after += [(FOLLOWED, c) for c in cases[half:]]
    # the same records in a second incident: the picker and `incident list` fold it too
    ds.before += [(other_incident(0), declared("other incident"))]
    ds.before += [(other_incident(0), c) for c in cases[:half]]
    return ds


def envelopes(base: Path) -> Dataset:
    ds = Dataset.new(base)
    ds.before.append((FOLLOWED, declared()))
    ds.envelopes = list(hw.ENVELOPE_CASES)
    t = tag(0)
    ds.after.append((FOLLOWED, Case("note", {"type": "observation", "text": "after"}, t,
                                    "a good record after the damaged ones", t)))
    return ds
