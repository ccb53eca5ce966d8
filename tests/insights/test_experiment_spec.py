"""Experiment specs: defaults, and every problem named by file, line and field."""

from __future__ import annotations

import pytest

from engmetrics.errors import InputError
from engmetrics.insights.experiments.spec import list_specs, load_spec

GOOD = """\
metric: deployment_frequency
unit: service
grain: week
assignment: randomised
treated: [a, b]
control: [c, d]
before: {from: 2026-01-05, to: 2026-02-01}
after: {from: 2026-02-02, to: 2026-03-01}
"""


def _load(tmp_path, text, name="checklist.yaml"):
    (tmp_path / "experiments").mkdir(exist_ok=True)
    path = tmp_path / "experiments" / name
    path.write_text(text)
    return load_spec(path, tmp_path)


def test_defaults_and_name_from_the_file(tmp_path):
    source = _load(tmp_path, GOOD)
    spec = source.spec
    assert (spec.experiment, spec.method, spec.alpha, spec.ratio, spec.seed) == ("checklist", "auto", 0.05, 0.5, 7)
    assert source.file == "experiments/checklist.yaml"
    assert spec.before.period.days == 28
    assert list_specs(tmp_path) == [tmp_path / "experiments" / "checklist.yaml"]


@pytest.mark.parametrize(("change", "line", "words"), [
    (("unit: service", "unit: squad"), 2, "unit:"),
    (("grain: week", "grain: month"), 3, "grain:"),
    (("assignment: randomised", "assignment: random"), 4, "assignment:"),
    (("control: [c, d]", "control: [b, d]"), 6, "both treated and control: b"),
    (("after: {from: 2026-02-02", "after: {from: 2026-01-20"), 8, "after: must start after"),
    (("before: {from: 2026-01-05, to: 2026-02-01}", "before: {from: 2026-02-05, to: 2026-02-01}"), 7,
     "before"),
    (("treated: [a, b]", "treated: [a, a]"), 5, "treated: lists a unit twice"),
    (("grain: week", "grain: week\nalpha: 0.7"), 4, "alpha"),
    (("grain: week", "grain: week\ncolour: red"), 4, "colour"),
    (("grain: week", "grain: week\nmethod: cuped"), None, None),
    (("treated: [a, b]", "treated: [a]"), None, None),
    # grain week: whole ISO weeks only (2026-02-03 is a Tuesday, 2026-01-31 a Saturday); a day grain may cut weeks
    (("after: {from: 2026-02-02", "after: {from: 2026-02-03"), 8,
     "after: grain week needs whole ISO weeks, from a Monday to a Sunday; 2026-02-03 is a Tuesday"),
    (("to: 2026-02-01}", "to: 2026-01-31}"), 7, "2026-01-31 a Saturday"),
    ((GOOD, GOOD.replace("grain: week", "grain: day").replace("after: {from: 2026-02-02", "after: {from: 2026-02-03")),
     None, None),
    (("control: [c, d]", "control: [c, d]\nstrata: {a: x, b: y, c: x}"), 7, "strata: no stratum for d"),
    (("control: [c, d]", "control: [c, d]\nstrata: {a: x, b: y, c: x, d: y}"), None, None),
])
def test_problems_name_file_line_and_field(tmp_path, change, line, words):
    text = GOOD.replace(*change)
    if line is None:  # allowed
        _load(tmp_path, text)
        return
    with pytest.raises(InputError) as caught:
        _load(tmp_path, text)
    assert caught.value.file == "experiments/checklist.yaml"
    assert caught.value.line == line, str(caught.value)
    assert words in str(caught.value)


def test_method_needs_enough_units(tmp_path):
    with pytest.raises(InputError, match="method: cuped needs at least 2 treated and 2 control units") as caught:
        _load(tmp_path, GOOD.replace("treated: [a, b]", "treated: [a]") + "method: cuped\n")
    assert caught.value.line == 9


def test_several_treated_without_control_is_refused_under_auto(tmp_path):
    with pytest.raises(InputError, match="several treated units and no control") as caught:
        _load(tmp_path, GOOD.replace("control: [c, d]", "control: []"))
    assert caught.value.line == 6


def test_broken_yaml_and_missing_file(tmp_path):
    with pytest.raises(InputError) as caught:
        _load(tmp_path, GOOD + "treated: [\n")
    assert caught.value.file == "experiments/checklist.yaml" and caught.value.line is not None
    with pytest.raises(InputError, match="no such experiment spec"):
        load_spec(tmp_path / "nope.yaml", tmp_path)
    with pytest.raises(InputError, match="expected a mapping"):
        _load(tmp_path, "- a\n- b\n")
