from catalog_helpers import BASE, GUARD, indicator, lint_rule

from engmetrics.catalog.lint.thresholds import band_problems
from engmetrics.catalog.model import Band


def _bands(**kw):
    return [(name, Band(**bounds)) for name, bounds in kw.items()]


def test_tiling_bands_have_no_problems():
    assert band_problems(_bands(green={"min": 5}, amber={"min": 2, "max": 5}, red={"max": 2}),
                         "higher_is_better") == []
    assert band_problems(_bands(green={"max": 1}, red={"min": 1}), "lower_is_better") == []


def test_overlap_gap_and_open_ends():
    assert band_problems(_bands(green={"min": 4}, amber={"min": 2, "max": 5}, red={"max": 2}),
                         "higher_is_better") == ["overlap: amber and green both hold [4, 5)"]
    assert band_problems(_bands(green={"min": 6}, amber={"min": 2, "max": 5}, red={"max": 2}),
                         "higher_is_better") == ["gap: values in [5, 6) are in no band"]
    assert band_problems(_bands(green={"min": 5, "max": 10}, red={"min": 0, "max": 5}),
                         "higher_is_better") == ["gap: values below 0 are in no band",
                                                 "gap: values from 10 up are in no band"]


def test_order_against_direction():
    assert band_problems(_bands(green={"min": 5}, red={"max": 5}), "lower_is_better") == [
        "bands run red < green but lower_is_better wants green < red"]


def test_rule_fires_and_is_quiet(tmp_path):
    bad = {"green": {"min": 5}, "amber": {"min": 2, "max": 4}, "red": {"max": 2}}
    issues = lint_rule(tmp_path, "threshold-bands", [indicator(BASE, thresholds=bad), indicator(GUARD)])
    assert [(i.metric, i.level, i.message) for i in issues] == [
        ("deploys", "ERROR", "thresholds gap: values in [4, 5) are in no band")]
    assert issues[0].line is not None
    assert lint_rule(tmp_path, "threshold-bands", [indicator(BASE), indicator(GUARD)]) == []
