"""The published catalog's pages: columns used and field-level differences between versions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engmetrics.catalog.model import Calculation
from engmetrics.governance.publish_pages import MISSING, FieldChange, columns_used, field_diff, flatten


def test_columns_used_in_reading_order_without_repeats():
    calc = Calculation.model_validate({
        "dataset": "deployments", "time_column": "finished_at", "group_by": "service",
        "filters": [{"column": "environment", "value": "production"},
                    {"column": "status", "op": "in", "value": ["success", "failure"]}],
        "measure": {"type": "ratio",
                    "numerator": {"type": "count", "filters": [{"column": "is_rollback", "value": True}]},
                    "denominator": {"type": "count", "filters": [{"column": "status", "op": "not_null"}]}}})
    assert columns_used(calc) == ["finished_at", "environment", "status", "service", "is_rollback"]
    pct = Calculation.model_validate({"dataset": "deployments", "measure": {
        "type": "percentile", "start": "started_at", "end": "finished_at"}})
    assert columns_used(pct) == ["started_at", "finished_at"]


def test_field_diff_names_added_removed_and_changed_fields():
    old = {"unit": "n", "thresholds": {"green": {"min": 5}, "red": {"max": 5}}, "tags": ["a"]}
    new = {"unit": "n", "thresholds": {"green": {"min": 6}, "red": {"max": 5}}, "tags": ["a", "b"], "review_by": "x"}
    changes = field_diff(old, new)
    assert [(c.path, c.kind, c.old, c.new) for c in changes] == [
        ("review_by", "added", MISSING, "x"),
        ("tags[1]", "added", MISSING, "b"),
        ("thresholds.green.min", "changed", 5, 6),
    ]
    assert changes[0].to_dict() == {"path": "review_by", "kind": "added", "old": None, "new": "x"}
    assert FieldChange("a", MISSING, [1, "x"]).text("new") == '[1, "x"]'
    assert field_diff({"tags": ["a"]}, {"tags": []}) == [
        FieldChange("tags", MISSING, []), FieldChange("tags[0]", "a", MISSING)]


# Definitions as JSON-like values: nested mappings and lists of scalars.
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["a", "b", "c"])
keys = st.sampled_from(["id", "unit", "min", "max", "filters", "calculation"])
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                      max_leaves=12)
docs = st.dictionaries(keys, values, max_size=5)


@given(docs)
def test_a_definition_does_not_differ_from_itself(doc):
    assert field_diff(doc, doc) == []


@given(docs, docs)
def test_diff_is_symmetric_and_replays_old_into_new(old, new):
    forward, backward = field_diff(old, new), field_diff(new, old)
    assert [(c.path, c.old, c.new) for c in forward] == [(c.path, c.new, c.old) for c in backward]
    replayed = {p: v for p, v in flatten(old).items() if p}
    for c in forward:
        if c.new is MISSING:
            del replayed[c.path]
        else:
            replayed[c.path] = c.new
    assert replayed == {p: v for p, v in flatten(new).items() if p}
