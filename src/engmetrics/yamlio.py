"""YAML loading that remembers where every value came from.

Mappings load as `LineDict` and sequences as `LineList`; each knows the line (1-based) of itself and
of each of its keys or items, so a validation error can name file and line.

>>> doc = loads("a: 1\\nb:\\n  - x\\n  - y\\n", "f.yaml")
>>> locate(doc, ("b", 1))
4
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

__all__ = ["LineDict", "LineList", "load_all", "loads", "locate"]


class LineDict(dict):
    """A dict with `line` (its own) and `key_lines` (line of each key)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):
    """A list with `line` (its own) and `item_lines`."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def _parse(text: str, source: str | Path) -> list[Any]:
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InputError(f"invalid YAML: {exc.problem}", file=source,
                         line=mark.line + 1 if mark else None,
                         column=mark.column + 1 if mark else None) from exc


def loads(text: str, source: str | Path = "<string>") -> Any:
    """Parse one YAML document (None when empty)."""
    docs = _parse(text, source)
    if len(docs) > 1:
        raise InputError("expected one YAML document, found several", file=source, line=1)
    return docs[0] if docs else None


def load_all(path: Path) -> list[Any]:
    """Every document of a YAML file, with line information."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from exc
    return _parse(text, path)


def locate(doc: Any, loc: Iterable[Any]) -> int | None:
    """The line of the value at path `loc` (keys and indexes), or of its closest ancestor."""
    line = getattr(doc, "line", None)
    node = doc
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line, node = node.key_lines.get(part, line), node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line, node = node.item_lines[part], node[part]
        else:
            break
    return line
