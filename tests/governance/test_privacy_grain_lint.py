"""The `privacy_grain` lint rule (engmetrics.catalog.lint.privacy_grain)."""

from __future__ import annotations

from datetime import date

from engmetrics.catalog.lint.base import LintContext
from engmetrics.catalog.lint.privacy_grain import check
from engmetrics.catalog.loader import Catalog, Definition
from engmetrics.catalog.model import Indicator

BASE = {"id": "reviews_given", "name": "Reviews given", "kind": "leading", "unit": "reviews",
        "direction": "higher_is_better", "cadence": "daily", "status": "proposed",
        "calculation": {"dataset": "reviews", "measure": {"type": "count"}}}


def _issues(*indicators: dict) -> list:
    defs = [Definition(Indicator.model_validate(i), "metrics/m.yaml", n + 1) for n, i in enumerate(indicators)]
    return list(check(LintContext(Catalog(definitions=defs), date(2026, 1, 1))))


def test_daily_individual_level_indicators_are_errors():
    issues = _issues({**BASE, "audience": "individual"},
                     {**BASE, "id": "promo", "affects": ["promotion"]},
                     {**BASE, "id": "per_reviewer", "calculation": {**BASE["calculation"], "group_by": "reviewer"}})
    assert [(i.metric, i.level, i.line) for i in issues] == [
        ("reviews_given", "ERROR", 1), ("promo", "ERROR", 2), ("per_reviewer", "ERROR", 3)]
    assert issues[0].message.startswith("individual-level numbers are published weekly or coarser")


def test_quiet_on_weekly_or_team_level():
    assert _issues({**BASE, "audience": "individual", "cadence": "weekly"}, {**BASE, "id": "team_daily"}) == []
