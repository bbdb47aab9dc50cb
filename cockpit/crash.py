"""Crash reports without secrets: no locals, known secret patterns masked, files 0600."""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from .redact import redact_text


def crash_dir() -> Path:
    import platformdirs

    return platformdirs.user_log_path("dr-cockpit")


def write_crash_report(exc: BaseException, directory: Path | None = None, keep: int = 10) -> Path | None:
    """Write a redacted traceback (never locals) and return its path, or None if it cannot."""
    d = directory or crash_dir()
    try:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = d / time.strftime("crash-%Y%m%d-%H%M%S.txt", time.gmtime())
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(redact_text(text))
        old = sorted(d.glob("crash-*.txt"))[:-keep]
        for p in old:
            p.unlink(missing_ok=True)
        return path
    except OSError:
        return None


def one_line_error(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return redact_text(f"{type(exc).__name__}: {msg}")[:300]
