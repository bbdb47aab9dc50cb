"""The terminal-injection payloads of the security review, and hostile non-string values.

Each of the 16 payloads carries its own marker ``PWNED-NN`` (two digits, so no marker is a
prefix of another). ``scan`` (pty_harness) reports a marker found inside an escape
sequence, so a payload that reaches the terminal raw is told apart from one shown as inert
text. ``JOINED`` is all of them in one string (what most fields of the review received).

``HOSTILE_VALUES`` are the wrong-typed values a second writer can put in any field of a
record: numbers where strings go, lists, nested tables, huge strings, NaN and infinities,
text where a timestamp goes. Every value here can be written by the journal's own encoder
(TOML has no null, and integers are 64-bit), so the records carrying them verify.
"""

from __future__ import annotations

import base64
from typing import Any


def marker(n: int) -> str:
    return f"PWNED-{n:02d}"


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


# (name, payload). The numbering follows the review (0-8: its hostile server, 9-15 extra).
PAYLOAD_TABLE: list[tuple[str, str]] = [
    ("osc0-title", f"\x1b]0;{marker(0)}\x07"),
    ("osc52-clipboard", f"\x1b]52;c;{_b64(marker(1))}\x07"),
    ("csi-clear", f"\x1b[2J\x1b[H{marker(2)}"),
    ("c1-csi", f"\x9b2J{marker(3)}"),
    ("osc8-link", f"\x1b]8;;http://{marker(4)}.example/\x07link\x1b]8;;\x07"),
    ("markup-click", f"[@click=app.quit]{marker(5)}[/]"),
    ("markup-link", f"[link=http://{marker(6)}.example/]{marker(6)}[/link]"),
    ("markup-style", f"[bold red]{marker(7)}[/]"),
    ("bidi-rlo", f"\u202e{marker(8)}"),
    ("osc2-st", f"\x1b]2;{marker(9)}\x1b\\"),
    ("c1-osc", f"\x9d0;{marker(10)}\x9c"),
    ("csi-cpr-request", f"\x1b[6n{marker(11)}"),
    ("dcs", f"\x1bP$q{marker(12)}\x1b\\"),
    ("cr-overwrite", f"{marker(13)}\rOVERWRITTEN"),
    ("bidi-isolate-zw", f"\u2066{marker(14)}\u2069\u200bzw"),
    ("textual-variable", f"[$accent]{marker(15)}[/] $text-error"),
]

PAYLOADS: list[str] = [p for _, p in PAYLOAD_TABLE]
NAMES: list[str] = [n for n, _ in PAYLOAD_TABLE]
MARKERS: list[str] = [marker(i) for i in range(len(PAYLOADS))]
JOINED: str = " ".join(PAYLOADS)

# Text that breaks Rich/Textual markup parsing (the review: a status like this crashed the
# cockpit with MarkupError on ``s``). Carries a marker of its own.
MARKUP_ERROR = "[/\x1b]0;PWNED-16\x07]"
MARKERS_ALL: list[str] = [*MARKERS, "PWNED-16"]

ONE_MB = 1_000_000  # a record is at most 1 MiB: one such string per record fits
HUGE = "H" * ONE_MB

# Hostile values of the wrong type (or of absurd size) for any field: (name, value).
HOSTILE_VALUES: list[tuple[str, Any]] = [
    ("int-zero", 0),
    ("int-negative", -1),
    ("int-max", 2**63 - 1),
    ("int-min", -(2**63)),
    ("float-negative", -1.5),
    ("float-huge", 1e308),
    ("float-inf", float("inf")),
    ("float-neg-inf", float("-inf")),
    ("float-nan", float("nan")),
    ("bool", True),
    ("list-mixed", [PAYLOADS[7], 1, [2, "x"], {"k": JOINED}]),
    ("list-empty", []),
    ("table-nested", {"a": {"b": {"c": JOINED}}, "n": 1}),
    ("table-empty", {}),
    ("str-empty", ""),
    ("str-nan", "NaN"),
    ("str-time", "yesterday 10:00"),
    ("str-markup-error", MARKUP_ERROR),
    ("str-joined", JOINED),
    ("str-multiline", "line one\nline two " + PAYLOADS[2] + "\n\n" + PAYLOADS[0]),
]

# The 1 MB string is kept apart: one per record (the record limit is 1 MiB), and only in a
# few fields, or the state directory would hold hundreds of megabytes.
HUGE_VALUES: list[tuple[str, Any]] = [("str-1mb", HUGE)]

# The markup payloads, by marker: the literal opening tag that must be on screen before the
# marker when the text is shown as text (a parsed tag disappears).
MARKUP_TAGS: dict[str, str] = {
    marker(5): "[@click=app.quit]",
    marker(6): f"[link=http://{marker(6)}.example/]",
    marker(7): "[bold red]",
    marker(15): "[$accent]",
}
