"""The session seam between the core and the UI (``protocol``), and its implementations:
``live`` (the configured environment: probes and the journal) and ``demo`` (a scenario
played against a simulated clock). ``steps`` is the runbook side of the seam."""

from .protocol import (
    Banner,
    BannerLevel,
    Capabilities,
    IncidentChoice,
    Runbooks,
    Session,
    SessionKind,
    StepOutput,
    StepResult,
    View,
)

__all__ = [
    "Banner", "BannerLevel", "Capabilities", "IncidentChoice", "Runbooks", "Session",
    "SessionKind", "StepOutput", "StepResult", "View",
]
