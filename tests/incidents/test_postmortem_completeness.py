"""Completeness per team: mean and distribution over the team's postmortems, severe incidents without one as 0."""

from __future__ import annotations

import json

import pytest

from engmetrics.incidents.postmortem import completeness_by_team, completeness_per_postmortem

INCIDENTS = [  # incident, team, severity
    ("I1", "A", 1), ("I2", "A", 2), ("I3", "A", 2), ("I4", "A", 3), ("I5", "B", 3), ("I6", "B", 1)]
POSTMORTEMS = [  # incident, the postmortem's own team, completeness
    ("I1", "A", 1.0), ("I2", "X", 0.5), ("I5", "B", 0.8), ("I7", "C", 0.9)]


def fill(store) -> None:
    for incident, team, severity in INCIDENTS:
        store.sql.execute("INSERT INTO incidents (incident_id, team, severity, declared_at) VALUES "
                          "(?, ?, ?, TIMESTAMPTZ '2026-03-01 10:00:00+00')", [incident, team, severity])
    for incident, team, completeness in POSTMORTEMS:
        store.sql.execute("INSERT INTO postmortems (incident_id, file, team, completeness, content_sha256, "
                          "imported_at) VALUES (?, ?, ?, ?, 'x', TIMESTAMPTZ '2026-03-05 10:00:00+00')",
                          [incident, f"{incident}.md", team, completeness])


EXPECTED = [
    # A: I1 1.0, I2 0.5 (the incident's team A wins over the postmortem's X), I3 severity 2 without one: 0;
    #    I4 severity 3 without one is not counted. mean (1 + 0.5 + 0) / 3 = 0.5
    {"team": "A", "postmortems": 2, "missing": 1, "n": 3, "mean_score": 0.5, "min_score": 0.0, "max_score": 1.0,
     "below_50": 1, "from_50": 1, "from_80": 0, "complete": 1},
    # B: I5 0.8, I6 severity 1 without one: 0. mean 0.8 / 2 = 0.4
    {"team": "B", "postmortems": 1, "missing": 1, "n": 2, "mean_score": 0.4, "min_score": 0.0, "max_score": 0.8,
     "below_50": 1, "from_50": 0, "from_80": 1, "complete": 0},
    # C: I7 is not in incidents: the postmortem's own team
    {"team": "C", "postmortems": 1, "missing": 0, "n": 1, "mean_score": 0.9, "min_score": 0.9, "max_score": 0.9,
     "below_50": 0, "from_50": 0, "from_80": 1, "complete": 0},
]


def rows(table):
    return table.to_pyarrow().to_pylist()


def test_by_team_counts_severe_incidents_without_postmortem_as_zero(workspace_store):
    fill(workspace_store)
    got = rows(completeness_by_team(workspace_store))
    assert [{k: pytest.approx(v) if isinstance(v, float) else v for k, v in r.items()} for r in got] == EXPECTED


def test_max_severity_widens_what_must_have_a_postmortem(workspace_store):
    fill(workspace_store)
    got = {r["team"]: (r["missing"], r["mean_score"]) for r in rows(completeness_by_team(workspace_store, 3))}
    assert got["A"] == (2, pytest.approx(1.5 / 4))  # I4 (severity 3) now counts: (1 + 0.5 + 0 + 0) / 4


def test_per_postmortem_lists_the_missing_ones(workspace_store):
    fill(workspace_store)
    got = [(r["incident_id"], r["team"], r["has_postmortem"], r["score"]) for r in
           rows(completeness_per_postmortem(workspace_store))]
    assert got == [("I1", "A", True, 1.0), ("I2", "A", True, 0.5), ("I3", "A", False, 0.0),
                   ("I5", "B", True, 0.8), ("I6", "B", False, 0.0), ("I7", "C", True, 0.9)]


def test_no_data_gives_no_rows(workspace, cli):
    result = cli("postmortem", "completeness", "--by", "team", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


@pytest.mark.spark
@pytest.mark.slow
def test_by_team_is_the_same_on_pyspark(workspace_store, spark_session):
    import ibis

    from engmetrics.store import Store

    fill(workspace_store)
    spark = ibis.pyspark.connect(spark_session)
    for name, columns in (("incidents", ["incident_id", "team", "severity"]),
                          ("postmortems", ["incident_id", "team", "completeness"])):  # all-null ones have no type
        frame = workspace_store.table(name).select(columns).to_pyarrow().to_pandas()
        spark_session.createDataFrame(frame).createOrReplaceTempView(name)
    on_spark = rows(completeness_by_team(Store(spark, url="pyspark://")))
    assert json.dumps(on_spark, sort_keys=True) == json.dumps(rows(completeness_by_team(workspace_store)),
                                                              sort_keys=True)
