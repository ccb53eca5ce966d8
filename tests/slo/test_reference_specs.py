"""Every OpenSLO and Sloth reference file loads; the copies in tests/fixtures load too."""

from __future__ import annotations

from pathlib import Path

import pytest

from engmetrics.slo import check_files
from engmetrics.slo.openslo import SLO, V1AlphaSLO
from engmetrics.slo.sloth import AlertWindows, SlothSpec

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"  # the same place as the `shared_data` fixture
FIXTURES = REPO / "tests" / "fixtures"


def _reference_files() -> list[str]:
    if not SHARED_DATA.is_dir():
        return []
    files = [*SHARED_DATA.glob("openslo/**/*.y*ml"), *SHARED_DATA.glob("sloth/**/*.y*ml")]
    return sorted(str(p.relative_to(SHARED_DATA)) for p in files)


def test_reference_data_is_there(shared_data):
    assert len(_reference_files()) >= 18


@pytest.mark.parametrize("name", _reference_files())
def test_reference_file_loads_without_error(shared_data, name):
    report = check_files([shared_data / name], shared_data)
    assert report.errors == []
    if "/_gen/" in f"/{name}":  # Sloth's generated Prometheus rules: recognised and ignored
        assert {i.rule for i in report.issues} == {"ignored"}
        assert report.specs.documents == []
    else:
        assert report.issues == []
        assert report.specs.documents


def test_openslo_examples_model_the_budgeting_methods(shared_data):
    report = check_files([shared_data / "openslo" / "budgeting-method"], shared_data)
    slos = {d.name: d.model for d in report.specs.of(SLO)}
    assert slos["search-slo"].spec.budgetingMethod == "Occurrences"
    assert slos["search-slo"].spec.objectives[0].op == "lt"
    assert slos["main-page"].spec.budgetingMethod == "RatioTimeslices"
    timeslices = slos["service-availability"].spec
    assert [(o.target, o.timeSliceTarget, o.timeSliceWindow) for o in timeslices.objectives] == [
        (0.995, 0.99, "1m"), (0.99, 0.99, "1m")]
    assert timeslices.timeWindow[0].calendar.timeZone == "America/New_York"
    assert report.specs.indicator(slos["main-page"]).ratioMetric.good.metricSource.spec == {"query": "Any"}


def test_sloth_specs_and_windows(shared_data):
    report = check_files([shared_data / "sloth"], shared_data)
    assert [i.rule for i in report.errors] == ["duplicate"]  # multifile.yml repeats getting-started.yml
    assert {d.model.service for d in report.specs.of(SlothSpec)} >= {"myservice", "myservice2", "home-wifi"}
    home = next(d.model for d in report.specs.of(SlothSpec) if d.file == "sloth/home-wifi.yml")
    assert [s.target for s in home.slos] == [0.95, 0.999]
    alpha = report.specs.of(V1AlphaSLO)[0].model
    assert alpha.spec.objectives[0].target == 0.999
    windows = check_files([shared_data / "sloth" / "windows"]).specs.of(AlertWindows)
    assert {w.model.spec.sloPeriod for w in windows} == {"7d", "30d"}


@pytest.mark.parametrize("path", sorted([*FIXTURES.glob("openslo/*.y*ml"), *FIXTURES.glob("sloth/*.y*ml")]),
                         ids=lambda p: p.name)
def test_fixture_copies_load(path: Path):
    report = check_files([path])
    assert report.issues == [] and report.specs.documents
