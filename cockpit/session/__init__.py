"""The session seam between the core and the UI (``protocol``), and its implementations:
``live`` (the configured environment: probes and the journal), ``demo`` (a scenario
played against a simulated clock) and ``exercise`` (a tabletop exercise on a journaled
facilitator clock). ``steps`` and ``rehearsal`` are the runbook side of the seam."""

from .protocol import (
    Banner,
    BannerLevel,
    Capabilities,
    IncidentChoice,
    Notice,
    Runbooks,
    Session,
    SessionKind,
    StepOutput,
    StepResult,
    View,
)

__all__ = [
    "Banner", "BannerLevel", "Capabilities", "IncidentChoice", "Notice", "Runbooks", "Session",
    "SessionKind", "StepOutput", "StepResult", "View",
]
