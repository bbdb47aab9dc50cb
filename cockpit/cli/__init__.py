"""``cockpit``: the command line. One module per command group: ``main`` (the parser, the
cockpit and the demo), ``incident``, ``journal`` (verify, log), ``runbooks``, ``status``.
The full-screen UI (``cockpit.screens``) is imported by name only when a screen is wanted,
so the core never imports Textual."""

from .main import main

__all__ = ["main"]
