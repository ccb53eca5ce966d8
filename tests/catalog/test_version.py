from pathlib import Path

from catalog_helpers import BASE, indicator

from engmetrics.catalog.loader import load_catalog
from engmetrics.catalog.model import Indicator
from engmetrics.catalog.version import definition_version

YAML = """\
id: deploys
name: Deploys
kind: leading
unit: deployments
direction: higher_is_better
cadence: weekly
calculation: {dataset: deployments, measure: {type: count}}
thresholds: {green: {min: 5}, red: {max: 5}}
"""


def _version_of(tmp_path: Path, text: str) -> str:
    (tmp_path / "metrics").mkdir(exist_ok=True)
    (tmp_path / "metrics" / "a.yaml").write_text(text)
    return definition_version(load_catalog(tmp_path).definitions[0].indicator)


def test_stable_across_formatting_order_comments_and_explicit_defaults(tmp_path):
    v1 = _version_of(tmp_path, YAML)
    reordered = "# a comment\n" + "\n".join(reversed(YAML.splitlines())) + "\nstatus: active\n"
    v2 = _version_of(tmp_path, reordered.replace("{dataset: deployments, measure: {type: count}}",
                                                  "\n  dataset: deployments\n  measure:\n    type: count\n"
                                                  "  min_sample: 1"))
    assert v1 == v2
    assert v1.startswith("sha256:") and len(v1) == len("sha256:") + 16


def test_changes_with_meaning():
    base = Indicator.model_validate(indicator(BASE))
    assert definition_version(base) != definition_version(
        Indicator.model_validate(indicator(BASE, cadence="daily")))
    assert definition_version(base) != definition_version(Indicator.model_validate(
        indicator(BASE, thresholds={"green": {"min": 6}, "amber": {"min": 2, "max": 6}, "red": {"max": 2}})))


def test_known_value_pins_the_canonical_form():
    # Pinned: if this changes, every stored result's version changes - make it a deliberate decision.
    ind = Indicator.model_validate({"id": "x", "name": "X", "kind": "leading", "unit": "n",
                                    "direction": "higher_is_better", "cadence": "daily",
                                    "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
                                    "thresholds": {"green": {"min": 5}, "red": {"max": 5}}})
    assert definition_version(ind) == PINNED


PINNED = "sha256:c4cafbbd67d846d2"
