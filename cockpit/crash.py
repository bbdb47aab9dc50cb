"""Crash reports without secrets: no locals, known secret patterns masked, files 0600."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Iterable
from pathlib import Path

from .redact import redact_text
from .text import clean, one_line

# Every secret value the process holds (its configuration's probe passwords, tokens, keys,
# inline DSN passwords): masked by value in crash reports and crash lines, whatever form the
# exception message quotes them in. Filled once the configuration is loaded.
_SECRETS: set[str] = set()


def remember_secrets(values: Iterable[str]) -> None:
    _SECRETS.update(v for v in values if v)


def _redact(text: str) -> str:
    return redact_text(text, sorted(_SECRETS, key=len, reverse=True))


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
            # `cat` of a report must not drive the terminal: escapes made inert
            f.write(clean(_redact(text), keep_newlines=True))
        old = sorted(d.glob("crash-*.txt"))[:-keep]
        for p in old:
            p.unlink(missing_ok=True)
        return path
    except OSError:
        return None


def one_line_error(exc: BaseException) -> str:
    """``Type: message`` on one line, secrets masked, every escape sequence and control
    character made inert (an exception message may quote any data)."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the crash
        text = ""
    msg = " ".join(text.split()) or type(exc).__name__
    return one_line(_redact(f"{type(exc).__name__}: {msg}"), limit=300)


EXIT_INTERNAL = 70  # EX_SOFTWARE: an internal error (a bug), after its one-line reason


def report(exc: BaseException, directory: Path | None = None) -> str:
    """The one line a crashed command prints: the sanitized reason and where the redacted
    report is."""
    where = write_crash_report(exc, directory)
    msg = f"cockpit: internal error: {one_line_error(exc)}"
    if where is not None:
        msg += f" (report: {one_line(where, 300)})"
    return msg
