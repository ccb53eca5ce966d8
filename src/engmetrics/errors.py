"""Errors that reach the user: each says what is wrong and where.

>>> str(InputError("bad value", file="a.yaml", line=3, column=5))
'a.yaml:3:5: bad value'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["EngmetricsError", "InputError", "Issue", "StoreLockedError", "ValidationFailed"]


class EngmetricsError(Exception):
    """Base class; `exit_code` is what the CLI exits with (1 = bad input)."""

    exit_code = 1


class InputError(EngmetricsError):
    """Bad input, located by file, line and column where known."""

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None,
                 column: int | str | None = None) -> None:
        self.message, self.file, self.line, self.column = message, file, line, column
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)
        return f"{where}: {self.message}" if where else self.message


class StoreLockedError(EngmetricsError):
    """Another process holds the store's write lock for longer than we may wait."""


@dataclass(frozen=True)
class Issue:
    """One finding of a validation or lint pass, located in a file."""

    level: str  # "ERROR" or "WARNING"
    rule: str
    message: str
    file: str | None = None
    line: int | None = None
    metric: str | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        return f"{where}: {self.level} [{self.rule}] {self.message}" if where else self.message


class ValidationFailed(EngmetricsError):
    """Raised with every ERROR issue found, so the user sees them all at once."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))
