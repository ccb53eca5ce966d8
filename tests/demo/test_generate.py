"""The generated organisation: every dataset present, and the correlations the demo promises."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pyarrow.compute as pc
import pytest

from engmetrics.demo import DemoData
from engmetrics.demo.bad_rows import BAD_ROWS_EXPECTED
from engmetrics.store import REGISTRY


def sql(query: str, **tables: object) -> list[tuple]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, table in tables.items():
        con.register(name, table)
    return con.execute(query).fetchall()


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_dataset_has_rows_with_registry_columns(data: DemoData, name: str) -> None:
    table = data.tables[name]
    assert table.num_rows > 0
    assert set(table.column_names) <= set(REGISTRY[name].column_names)
    required = [c.name for c in REGISTRY[name].columns if c.required and not REGISTRY[name].hash_key]
    for column in required:
        assert column in table.column_names
        assert table[column].null_count == 0, column


def test_shape_of_the_organisation(data: DemoData) -> None:
    teams = data.tables["teams"]
    assert teams.num_rows == 8
    assert len(set(teams["timezone"].to_pylist())) == 3
    assert data.tables["services"].num_rows == 30


def test_incident_hours_have_lower_availability(data: DemoData) -> None:
    rows = dict(sql("""
        WITH s AS (SELECT service, ts, good / total AS ratio FROM sli
                   WHERE indicator = 'availability' AND total > 0)
        SELECT EXISTS (SELECT 1 FROM inc i WHERE i.service = s.service AND i.severity <= 3
                       AND i.impact_started_at < s.ts + INTERVAL 1 HOUR
                       AND coalesce(i.mitigated_at, TIMESTAMPTZ '9999-01-01') > s.ts) AS hit,
               avg(ratio)
        FROM s GROUP BY hit""", sli=data.tables["sli_events"], inc=data.tables["incidents"]))
    assert rows[True] < rows[False] - 0.005, rows


def test_deploys_cause_some_incidents_and_rollbacks_fix_them(data: DemoData) -> None:
    caused = sql("""
        SELECT i.incident_id, i.impact_started_at >= d.finished_at, d.environment
        FROM inc i JOIN dep d ON d.deployment_id = i.caused_by_deployment_id""",
                 inc=data.tables["incidents"], dep=data.tables["deployments"])
    assert caused, "no incident was caused by a deployment"
    assert all(after and env == "production" for _, after, env in caused)
    fixed = set(pc.drop_null(data.tables["deployments"]["fixes_incident_id"]).to_pylist())
    assert {c[0] for c in caused} & fixed
    share = len(caused) / data.tables["incidents"].num_rows
    assert 0.1 < share < 0.9


def test_weekends_are_quieter(data: DemoData) -> None:
    rows = dict(sql("""SELECT dayofweek(ts) IN (0, 6), avg(total) FROM sli
                       WHERE indicator = 'availability' GROUP BY 1""", sli=data.tables["sli_events"]))
    assert rows[True] < 0.85 * rows[False]
    changes = dict(sql("SELECT dayofweek(created_at) IN (0, 6), count(*) FROM c WHERE NOT is_bot GROUP BY 1",
                       c=data.tables["changes"]))
    assert changes[True] < 0.2 * changes[False]


def test_durations_are_skewed(data: DemoData) -> None:
    (mean, median), = sql("""SELECT avg(epoch(merged_at) - epoch(first_commit_at)),
                                    median(epoch(merged_at) - epoch(first_commit_at)) FROM c""",
                          c=data.tables["changes"])
    assert mean > 1.3 * median


def test_csat_is_lower_on_slow_days(data: DemoData) -> None:
    rows = dict(sql("""
        WITH lat AS (SELECT split_part(split_part(series, 'service="', 2), '"', 1) AS service,
                            date_trunc('day', ts) AS day, avg(value) AS p95
                     FROM tel WHERE metric = 'http_request_duration_p95_seconds' GROUP BY ALL),
             rel AS (SELECT service, day, p95 / median(p95) OVER (PARTITION BY service) AS ratio FROM lat),
             ranked AS (SELECT *, ntile(4) OVER (ORDER BY ratio) AS quartile FROM rel),
             scored AS (SELECT r.quartile = 4 AS slow, c.score FROM csat c
                        JOIN ranked r ON r.service = c.service AND r.day = date_trunc('day', c.ts))
        SELECT slow, avg(score) FROM scored GROUP BY slow""",
                    tel=data.tables["telemetry_samples"], csat=data.tables["csat"]))
    assert rows[True] < rows[False] - 0.2, rows


def test_cost_has_untagged_rows_and_inconsistent_tag_keys(data: DemoData) -> None:
    usage = data.tables["cost"].filter(pc.equal(data.tables["cost"]["ChargeCategory"], "Usage"))
    tags = usage["Tags"].to_pylist()
    untagged = sum(t is None for t in tags)
    assert 0 < untagged < len(tags) / 2
    keys = {k for t in tags if t for k in json.loads(t)}
    assert {"team", "Team", "TEAM"} <= keys
    assert {"service", "Service"} <= keys
    assert set(data.tables["cost"]["ChargeCategory"].to_pylist()) >= {"Usage", "Tax", "Credit"}


def test_some_resources_are_idle(data: DemoData) -> None:
    peak = sql("SELECT resource_id, max(cpu_util) FROM u GROUP BY 1", u=data.tables["utilization"])
    idle = [r for r, cpu in peak if cpu < 0.05]
    assert idle and len(idle) < len(peak) / 3


def test_noisy_alert_rules_are_mostly_not_actionable(data: DemoData) -> None:
    rows = sql("""SELECT rule, count(*) AS n, avg(actionable::INT) AS share FROM a
                  GROUP BY rule ORDER BY n DESC LIMIT 3""", a=data.tables["alerts"])
    assert all(share < 0.3 for _, _, share in rows)
    linked = sql("SELECT bool_and(actionable) FROM a WHERE incident_id IS NOT NULL", a=data.tables["alerts"])
    assert linked[0][0] is True


def test_bad_rows_break_their_rules(data: DemoData) -> None:
    assert {k: len(v) for k, v in data.bad_rows.items()} == BAD_ROWS_EXPECTED
    (sli,) = data.bad_rows["sli_events"]
    assert sli["good"] > sli["total"]
    deploys = data.bad_rows["deployments"]
    assert any(d["finished_at"] < d["started_at"] for d in deploys)
    assert any(d["environment"] not in REGISTRY["deployments"].column("environment").enum for d in deploys)
    assert not str(data.bad_rows["incidents"][0]["severity"]).isdigit()
    for name in ("deployments", "incidents", "csat"):  # fresh keys: a bad row never replaces a good one
        (key,) = REGISTRY[name].key
        assert not {r[key] for r in data.bad_rows[name]} & set(data.tables[name][key].to_pylist())
    assert sli["ts"].minute == 30  # good buckets start on the hour
    resources = set(data.tables["utilization"]["resource_id"].to_pylist())
    assert data.bad_rows["utilization"][0]["resource_id"] not in resources


def test_people_move_between_teams(data: DemoData) -> None:
    people = data.tables["people"]
    persons = people["person"].to_pylist()
    assert len(persons) > len(set(persons))  # effective-dated rows for movers
    assert people["valid_to"].null_count == len(set(persons))


def test_seeds_are_per_topic(data: DemoData) -> None:
    """Each topic draws from its own generator: same seed, same org, no matter what else is built."""
    from engmetrics.demo.org import build_org

    again = build_org(7, data.period)
    assert np.array_equal(again.people, data.org.people)


@pytest.mark.parametrize("days", [1, 2, 7])
def test_tiny_periods_still_generate_every_dataset(days: int) -> None:
    from datetime import date

    from engmetrics.demo import generate

    data = generate(days=days, seed=3, end=date(2026, 1, 5))  # spans New Year, a holiday everywhere
    assert set(data.tables) == set(REGISTRY)
    assert data.tables["sli_events"].num_rows == days * 24 * 30 * 2
