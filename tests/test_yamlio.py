"""YAML with line numbers for nested keys and list items; syntax errors name line and column."""

from __future__ import annotations

import pytest

from engmetrics.errors import InputError
from engmetrics.yamlio import LineDict, LineList, load_all, loads, locate

DOC = """\
name: latency
owner:
  team: payments
  contacts:
    - alice
    - bob
thresholds:
  - level: warn

    value: 200
  - level: page
    value: 500
"""


def test_lines_of_nested_keys_and_list_items():
    doc = loads(DOC, "m.yaml")
    assert isinstance(doc, LineDict) and isinstance(doc["thresholds"], LineList)
    assert doc.line == 1
    assert locate(doc, ["name"]) == 1
    assert locate(doc, ["owner"]) == 2
    assert locate(doc, ["owner", "team"]) == 3
    assert locate(doc, ["owner", "contacts"]) == 4
    assert locate(doc, ["owner", "contacts", 0]) == 5
    assert locate(doc, ["owner", "contacts", 1]) == 6
    assert locate(doc, ["thresholds", 0]) == 8
    assert locate(doc, ["thresholds", 0, "value"]) == 10
    assert locate(doc, ["thresholds", 1]) == 11
    assert locate(doc, ["thresholds", 1, "value"]) == 12
    assert doc["thresholds"].item_lines == [8, 11]
    assert doc["owner"].key_lines == {"team": 3, "contacts": 4}


def test_locate_falls_back_to_the_closest_ancestor():
    doc = loads(DOC)
    assert locate(doc, ["owner", "missing", "deeper"]) == 2
    assert locate(doc, ["thresholds", 7]) == 7
    assert locate(doc, []) == 1
    assert locate({"plain": "dict"}, ["plain"]) is None


def test_values_are_ordinary_python():
    assert loads("a: [1, 2]\nb: {c: true}\n") == {"a": [1, 2], "b": {"c": True}}
    assert loads("") is None


def test_syntax_error_names_line_and_column():
    with pytest.raises(InputError) as err:
        loads("a: 1\nb:\n  c: [1, 2\n  d: 3\n", "bad.yaml")
    assert (err.value.file, err.value.line) == ("bad.yaml", 4)
    assert str(err.value).startswith("bad.yaml:4:")
    with pytest.raises(InputError) as err:
        loads("a: 1\n  b: 2\n", "bad.yaml")  # the second ':' is at column 4 of line 2
    assert str(err.value) == "bad.yaml:2:4: invalid YAML: mapping values are not allowed here"


def test_several_documents(tmp_path):
    with pytest.raises(InputError, match="expected one YAML document"):
        loads("a: 1\n---\nb: 2\n")
    path = tmp_path / "many.yaml"
    path.write_text("a: 1\n---\n---\nb: 2\n")
    docs = load_all(path)
    assert docs == [{"a": 1}, {"b": 2}]
    assert docs[1].key_lines == {"b": 4}


def test_unreadable_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_all(tmp_path / "nope.yaml")


def test_anchors_and_merge_keys_keep_lines():
    doc = loads("base: &b\n  x: 1\nuse:\n  <<: *b\n  y: 2\n")
    assert doc["use"] == {"x": 1, "y": 2}
    assert locate(doc, ["use", "y"]) == 5
