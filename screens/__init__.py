"""The Textual UI of the cockpit, installed as ``cockpit.screens``: thin, and talking to the
core only through the session seam (``cockpit.session``)."""
