"""The recovery plan's own vocabulary, in one place: priorities (P0-P3, which are also the
incident severities), the response milestones and what each severity means to stakeholders.

Configuration, runbooks, scenarios, incidents and the stakeholder update all take these
from here, so a fifth priority or another milestone is one edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


PRIORITIES: tuple[str, ...] = tuple(p.value for p in Priority)
SEVERITIES = PRIORITIES  # an incident's severity uses the plan's priority scale

# What a severity means, in the words of a stakeholder update.
IMPACT = {
    "P0": "critical: the platform or its data is at risk",
    "P1": "major: a core function is unavailable or degraded",
    "P2": "minor: degraded with a workaround",
    "P3": "low: little or no customer impact",
}


@dataclass(frozen=True)
class Milestones:
    """The plan's response targets, seconds from impact start / declaration."""

    detect: float = 300.0
    respond: float = 900.0
    communicate: float = 1800.0
    update_every: float = 1800.0  # stakeholder update cadence
