"""History: the last N periods of an indicator, oldest first, with hand-counted values."""

from __future__ import annotations

from datetime import date

from catalog_helpers import BASE, indicator

from engmetrics.catalog.history import history, periods_back
from engmetrics.catalog.loader import Definition
from engmetrics.catalog.model import Indicator
from engmetrics.store import Store


def test_periods_back_are_consecutive_and_oldest_first():
    got = [(p.start.isoformat(), p.end.isoformat()) for p in periods_back("monthly", date(2026, 3, 31), 3)]
    assert got == [("2026-01-01", "2026-01-31"), ("2026-02-01", "2026-02-28"), ("2026-03-01", "2026-03-31")]


def test_weekly_history_counts_and_statuses():
    with Store.open("duckdb://") as store:
        store.sql.execute("""INSERT INTO deployments (deployment_id, service, environment, started_at, status)
            VALUES ('a', 's', 'production', '2026-03-10 09:00:00+00', 'success'),
                   ('b', 's', 'production', '2026-03-19 09:00:00+00', 'success'),
                   ('c', 's', 'production', '2026-03-20 09:00:00+00', 'success'),
                   ('d', 's', 'production', '2026-03-31 23:00:00+00', 'success')""")
        definition = Definition(Indicator.model_validate(indicator(BASE, calculation={
            "dataset": "deployments", "measure": {"type": "count"}},
            thresholds={"green": {"min": 2}, "red": {"max": 2}})), "metrics/m.yaml", 1)
        points = history(store, definition, date(2026, 3, 31), periods=4)
    # weeks: 03-04..03-10 (a), 03-11..03-17 (none, but covered: 0), 03-18..03-24 (b, c), 03-25..03-31 (d)
    assert [(p.period_end.isoformat(), p.value, p.status) for p in points] == [
        ("2026-03-10", 1.0, "red"), ("2026-03-17", 0.0, "red"), ("2026-03-24", 2.0, "green"),
        ("2026-03-31", 1.0, "red")]
