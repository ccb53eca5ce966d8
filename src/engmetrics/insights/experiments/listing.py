"""The workspace's experiments (`experiments/*.yaml`) with their analyses, for the API and the pages: a spec
that does not load or cannot be analysed is listed with its error instead of failing the list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...catalog.loader import Catalog
from ...errors import InputError
from .analyze import Analysis, analyze
from .spec import NAME_PATTERN, list_specs, load_spec

__all__ = ["Entry", "analyze_all", "analyze_named", "spec_path"]


@dataclass(frozen=True)
class Entry:
    """One spec file: its analysis, or the error that stopped it (file, line and message)."""

    name: str
    file: str
    analysis: Analysis | None = None
    error: str | None = None

    @property
    def units(self) -> list[str]:
        """Every unit the analysis used (empty without one)."""
        return [*self.analysis.treated, *self.analysis.control] if self.analysis else []

    def to_dict(self) -> dict[str, Any]:
        """`{"name", "file", "error"}` plus, when analysed, the fields of `analyze --json`."""
        head = {"name": self.name, "file": self.file, "error": self.error}
        return {**head, **self.analysis.to_dict()} if self.analysis else head


def _name(path: Path) -> str:
    return path.name.rsplit(".", 1)[0]


def spec_path(root: Path, name: str) -> Path | None:
    """The spec file of experiment file name `name` (`experiments/NAME.yaml` or `.yml`), None when absent or
    when `name` is not a plain file name."""
    if not re.match(NAME_PATTERN, name):
        return None
    return next((p for p in list_specs(root) if _name(p) == name), None)


def _entry(store: Any, catalog: Catalog, root: Path, path: Path) -> Entry:
    file = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    try:
        return Entry(_name(path), file, analyze(store, catalog, load_spec(path, root)))
    except InputError as exc:
        return Entry(_name(path), file, error=str(exc))


def analyze_named(store: Any, catalog: Catalog, root: Path, name: str) -> Entry | None:
    """The entry of experiment `name`, None when there is no such spec."""
    path = spec_path(root, name)
    return None if path is None else _entry(store, catalog, root, path)


def analyze_all(store: Any, catalog: Catalog, root: Path) -> list[Entry]:
    """Every spec of the workspace, analysed, in file-name order."""
    return [_entry(store, catalog, root, p) for p in list_specs(root)]
