"""DR Cockpit: the domain core (never imports Textual)."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("dr-cockpit")
except _metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
