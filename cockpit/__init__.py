"""DR Cockpit: the domain core (never imports Textual)."""

__version__ = "0.1.0"
