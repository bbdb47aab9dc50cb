"""The runbook errors: a file's problems (``RunbookError``) and a bad parameter value."""

from __future__ import annotations

from collections.abc import Sequence

from ..document import DocumentError


class RunbookError(DocumentError):
    """All problems of one load; ``str()`` is the first, ``errors`` has them all in file order."""

    def __init__(self, errors: Sequence[DocumentError]):
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.file, first.line, first.key, first.message)

    def lines(self) -> list[str]:
        return [e.one_line() for e in self.errors]


class ParamError(ValueError):
    """A parameter value that is missing or does not fit its type."""

    def __init__(self, name: str, message: str):
        self.name = name
        super().__init__(f"{name}: {message}")


class StepError(ValueError):
    """A transition that is not allowed from the step's current state (one-line reason)."""
