"""RAG status: exact boundaries in both directions, and monotonicity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engmetrics.catalog.model import Thresholds
from engmetrics.catalog.rag import SEVERITY, rag_status

HIGHER = Thresholds.model_validate({"green": {"min": 0.99}, "amber": {"min": 0.95, "max": 0.99},
                                    "red": {"max": 0.95}})
LOWER = Thresholds.model_validate({"green": {"max": 0.15}, "amber": {"min": 0.15, "max": 0.3},
                                   "red": {"min": 0.3}})


@pytest.mark.parametrize(("value", "status"), [
    (1.0, "green"), (0.99, "green"), (0.9899, "amber"), (0.95, "amber"), (0.9499, "red"), (0.0, "red")])
def test_higher_is_better_boundaries(value, status):
    assert rag_status(value, HIGHER) == status


@pytest.mark.parametrize(("value", "status"), [
    (0.0, "green"), (0.1499, "green"), (0.15, "amber"), (0.2999, "amber"), (0.3, "red"), (5.0, "red")])
def test_lower_is_better_boundaries(value, status):
    assert rag_status(value, LOWER) == status


def test_no_value_is_no_data():
    assert rag_status(None, LOWER) == "no_data"


def test_without_amber():
    t = Thresholds.model_validate({"green": {"min": 1}, "red": {"max": 1}})
    assert [rag_status(v, t) for v in (0.999, 1, 2)] == ["red", "green", "green"]


def test_gap_takes_the_worse_neighbour_and_overlap_the_worst():
    gap = Thresholds.model_validate({"green": {"min": 6}, "amber": {"min": 2, "max": 5}, "red": {"max": 2}})
    assert rag_status(5.5, gap) == "amber"
    overlap = Thresholds.model_validate({"green": {"min": 4}, "amber": {"min": 2, "max": 5},
                                         "red": {"max": 2}})
    assert rag_status(4.5, overlap) == "amber"
    outside = Thresholds.model_validate({"green": {"min": 5, "max": 10}, "red": {"min": 0, "max": 5}})
    assert rag_status(11, outside) == "green"
    assert rag_status(-1, outside) == "red"


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(cuts=st.lists(finite, min_size=2, max_size=2, unique=True), a=finite, b=finite)
def test_monotone_in_both_directions(cuts, a, b):
    low, high = sorted(cuts)
    higher = Thresholds.model_validate({"green": {"min": high}, "amber": {"min": low, "max": high},
                                        "red": {"max": low}})
    lower = Thresholds.model_validate({"green": {"max": low}, "amber": {"min": low, "max": high},
                                       "red": {"min": high}})
    small, big = sorted((a, b))
    # a bigger value is never worse when higher is better, never better when lower is better
    assert SEVERITY[rag_status(big, higher)] <= SEVERITY[rag_status(small, higher)]
    assert SEVERITY[rag_status(big, lower)] >= SEVERITY[rag_status(small, lower)]
    # and the boundaries themselves belong to the band above
    assert rag_status(high, higher) == "green" and rag_status(low, higher) == "amber"
    assert rag_status(high, lower) == "red" and rag_status(low, lower) == "amber"
