"""`engmetrics catalog review` on a hand-built workspace: one indicator viewed, one cited by a decision, one
alerted (an anomaly finding on it was notified), one unused (its findings were a false positive and one nobody
was told about); only the unused one is proposed for deprecation.

As of 2026-06-01 with the default 90-day review period: usage counts from 2026-03-04 to 2026-06-01 (90 days,
both inclusive: 28 days of March + 30 + 31 + 1 = 90). Every indicator but two is due 2026-05-01: overdue,
days = 2026-05-01 - 2026-06-01 = -31. `lonely` is due 2026-06-20 (days +19 <= 30: upcoming), `someday`
2027-01-01 (days +214: later).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from engmetrics.catalog.loader import load_catalog
from engmetrics.insights.decisions import Decision, add_decision
from engmetrics.insights.marks import mark
from engmetrics.insights.reviews import review_state, reviews
from engmetrics.insights.usage import record_view
from engmetrics.settings import load_settings
from engmetrics.store import Store

AS_OF = date(2026, 6, 1)
BASE = {"owner": {"team": "platform", "role": "engineering manager"}, "kind": "leading", "unit": "deploys",
        "direction": "higher_is_better", "cadence": "weekly",
        "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
        "thresholds": {"green": {"min": 5}, "amber": {"min": 2, "max": 5}, "red": {"max": 2}},
        "outcome": "delivery", "review_by": "2026-05-01"}


def _indicator(ident: str, **changes: object) -> dict[str, object]:
    return {"id": ident, "name": ident.title(), **BASE, **changes}


INDICATORS = [
    _indicator("viewed"), _indicator("decided", kind="lagging"), _indicator("alerted"), _indicator("unused"),
    _indicator("someday", review_by="2027-01-01"),
    _indicator("lonely", kind="lagging", outcome="care", review_by="2026-06-20"),
    _indicator("retired", status="deprecated"),
]


def build_workspace(root: Path) -> Path:
    """The catalog above, and its uses written to the workspace's store."""
    (root / "metrics" / "example.yaml").unlink()
    (root / "metrics" / "m.yaml").write_text(yaml.safe_dump({
        "outcomes": [{"id": "delivery", "name": "Delivery"}, {"id": "care", "name": "Customer care"}],
        "indicators": INDICATORS}, sort_keys=False))
    catalog = load_catalog(root)
    with Store.open(load_settings(root).store_url) as store:
        record_view(store, "viewed", "web", now=datetime(2026, 5, 10, 12, tzinfo=UTC))
        record_view(store, "unused", "api", now=datetime(2026, 3, 3, 23, 59, tzinfo=UTC))  # the day before
        add_decision(store, catalog, Decision("DEC-1", date(2026, 4, 1), "Ship smaller", metrics=["decided"]))
        add_decision(store, catalog, Decision("DEC-0", date(2026, 3, 3), "Old news", metrics=["unused"]))
        for finding_id, metric in [("f1", "alerted"), ("f2", "unused"), ("f3", "unused"), ("f4", "lonely")]:
            store.sql.execute(
                "INSERT INTO _anomaly_findings (finding_id, series, source, metric, method, direction, start_at, "
                "end_at, score, detected_at) VALUES (?, ?, 'metric', ?, 'mad', 'down', '2026-05-18', '2026-05-19', "
                "4.2, '2026-05-20 08:00:00+00')", [finding_id, f"metric:{metric}", metric])
        # f1 and f2 were notified; f2 was then marked a false positive; f3 was never sent nor marked;
        # f4 was not sent but acknowledged; `slo:unused:...` merely contains an indicator id
        store.sql.execute("INSERT INTO _notifications VALUES ('anomaly:f1', 'slack', '2026-05-20 08:01:00+00'), "
                          "('anomaly:f2', 'slack', '2026-05-20 08:01:00+00'), "
                          "('slo:unused:fast-burn', 'slack', '2026-05-02 09:00:00+00')")
        mark(store, "f2", "false_positive", actor="alice", at=datetime(2026, 5, 21, tzinfo=UTC))
        mark(store, "f4", "acknowledged", actor="alice", at=datetime(2026, 5, 21, tzinfo=UTC))
    return root


@pytest.fixture
def built(workspace: Path) -> Path:
    return build_workspace(workspace)


def test_cli_review_proposes_only_the_unused_indicator_for_deprecation(built, cli):
    result = cli("catalog", "review", "--as-of", AS_OF.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["as_of"], out["within_days"]) == ("2026-06-01", 30)
    assert out["period"] == {"start": "2026-03-04", "end": "2026-06-01"}
    by_metric = {r["metric"]: r for r in out["reviews"]}
    # overdue first (same date: by id), then upcoming, then later; the deprecated indicator is not reviewed
    assert [r["metric"] for r in out["reviews"]] == ["alerted", "decided", "unused", "viewed", "lonely", "someday"]
    assert {m: (r["state"], r["days"]) for m, r in by_metric.items()} == {
        "alerted": ("overdue", -31), "decided": ("overdue", -31), "unused": ("overdue", -31),
        "viewed": ("overdue", -31), "lonely": ("upcoming", 19), "someday": ("later", 214)}
    assert by_metric["viewed"]["usage"] == {"views_api": 0, "views_web": 1, "decisions": 0, "alerts": 0}
    assert by_metric["decided"]["usage"] == {"views_api": 0, "views_web": 0, "decisions": 1, "alerts": 0}
    assert by_metric["alerted"]["usage"] == {"views_api": 0, "views_web": 0, "decisions": 0, "alerts": 1}
    assert by_metric["lonely"]["usage"] == {"views_api": 0, "views_web": 0, "decisions": 0, "alerts": 1}
    assert by_metric["unused"]["usage"] == {"views_api": 0, "views_web": 0, "decisions": 0, "alerts": 0}
    actions = {m: [s["action"] for s in r["suggestions"]] for m, r in by_metric.items()}
    # `someday` is unused too, but not due for review; `lonely` is lagging with no leading indicator under `care`
    assert actions == {"alerted": [], "decided": [], "unused": ["deprecate"], "viewed": [],
                       "lonely": ["add leading indicator"], "someday": []}
    assert by_metric["unused"]["suggestions"][0]["reason"] == \
        "no views, decisions or alerts from 2026-03-04 to 2026-06-01"
    assert by_metric["viewed"]["owner"] == "platform" and by_metric["viewed"]["review_by"] == "2026-05-01"


def test_a_longer_period_sees_the_old_uses(built, cli):
    # 100 days: 2026-02-22..2026-06-01 holds the view of 2026-03-03 and the decision dated 2026-03-03
    out = json.loads(cli("catalog", "review", "--as-of", "2026-06-01", "--period-days", "100", "--json").stdout)
    unused = next(r for r in out["reviews"] if r["metric"] == "unused")
    assert unused["usage"] == {"views_api": 1, "views_web": 0, "decisions": 1, "alerts": 0}
    assert unused["suggestions"] == []


def test_within_moves_the_upcoming_boundary_and_the_table_prints(built, cli):
    out = json.loads(cli("catalog", "review", "--as-of", "2026-06-01", "--within", "18", "--json").stdout)
    assert next(r for r in out["reviews"] if r["metric"] == "lonely")["state"] == "later"  # 19 days > 18
    table = cli("catalog", "review", "--as-of", "2026-06-01")
    assert table.exit_code == 0, table.output
    assert table.stdout.startswith("Reviews as of 2026-06-01; usage from 2026-03-04 to 2026-06-01")


def test_bad_options_are_usage_errors(built, cli):
    assert cli("catalog", "review", "--within", "-1").exit_code == 2
    assert cli("catalog", "review", "--as-of", "June").exit_code == 2


@pytest.mark.parametrize(("review_by", "expected"), [
    (None, ("none", None)), (date(2026, 5, 31), ("overdue", -1)), (date(2026, 6, 1), ("upcoming", 0)),
    (date(2026, 7, 1), ("upcoming", 30)), (date(2026, 7, 2), ("later", 31)),
])
def test_review_state_boundaries(review_by, expected):
    assert review_state(review_by, AS_OF, 30) == expected


def test_an_indicator_without_a_date_is_due_and_a_leading_child_links_a_lagging_one(store, tmp_path):
    root = tmp_path / "ws"
    (root / "metrics").mkdir(parents=True)
    (root / "metrics" / "m.yaml").write_text(yaml.safe_dump({"outcomes": [{"id": "delivery", "name": "D"}],
        "indicators": [_indicator("outcome_lag", kind="lagging", review_by=None),
                       _indicator("predictor", outcome="outcome_lag", review_by="2030-01-01")]}))
    report = reviews(store, load_catalog(root), AS_OF)
    got = {r.metric: (r.state, [s.action for s in r.suggestions]) for r in report.reviews}
    # no date: due, and unused -> deprecate; its leading child links it, so no `add leading indicator`
    assert got == {"outcome_lag": ("none", ["deprecate"]), "predictor": ("later", [])}
