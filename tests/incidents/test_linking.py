"""Incident -> deployment linking: explicit id, window edges, dependency match, DuckDB/PySpark parity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engmetrics.incidents.linking import link_incidents_to_deployments, related_services
from engmetrics.store import Store

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def incident(store: Store, incident_id: str, service: str | None, start: datetime | None, *,
             declared: datetime | None = None, caused_by: str | None = None) -> None:
    store.sql.execute(
        "INSERT INTO incidents (incident_id, service, severity, impact_started_at, declared_at, "
        "caused_by_deployment_id) VALUES (?, ?, 2, ?, ?, ?)",
        [incident_id, service, start, declared or (start or T0) + timedelta(minutes=5), caused_by])


def deploy(store: Store, deployment_id: str, service: str, started: datetime, *, environment: str = "production",
           status: str = "success", rollback: bool = False) -> None:
    store.sql.execute(
        "INSERT INTO deployments (deployment_id, service, environment, started_at, status, is_rollback) "
        "VALUES (?, ?, ?, ?, ?, ?)", [deployment_id, service, environment, started, status, rollback])


def service(store: Store, name: str, depends_on: list[str]) -> None:
    store.sql.execute("INSERT INTO services (service, team, tier, depends_on) VALUES (?, 'team-a', 1, ?)",
                      [name, depends_on])


def links(store: Store, **options) -> list[tuple[str, str, str]]:
    t = link_incidents_to_deployments(store, **{"window_hours": 2.0, **options})
    return sorted(tuple(r.values()) for r in t.to_pyarrow().to_pylist())


def test_explicit_id_wins_over_a_later_deploy_in_the_window(store):
    incident(store, "i1", "checkout", T0, caused_by="d-old")
    deploy(store, "d-old", "checkout", T0 - timedelta(days=3))
    deploy(store, "d-near", "checkout", T0 - timedelta(minutes=10))
    assert links(store) == [("i1", "d-old", "explicit")]


def test_the_latest_deploy_within_the_window_edges_included(store):
    incident(store, "i1", "checkout", T0)
    deploy(store, "d-edge", "checkout", T0 - timedelta(hours=2))  # exactly 2 h before: inside
    incident(store, "i2", "search", T0)
    deploy(store, "d-out", "search", T0 - timedelta(hours=2, seconds=1))  # 1 s too early
    incident(store, "i3", "cart", T0)
    deploy(store, "d-at", "cart", T0)  # at impact start: inside
    deploy(store, "d-after", "cart", T0 + timedelta(seconds=1))  # after impact start: never
    deploy(store, "d-earlier", "cart", T0 - timedelta(minutes=30))  # in the window but not the latest
    assert links(store) == [("i1", "d-edge", "service"), ("i3", "d-at", "service")]


def test_impact_start_falls_back_to_declared_and_staging_is_ignored(store):
    incident(store, "i1", "checkout", None, declared=T0)
    deploy(store, "d-prod", "checkout", T0 - timedelta(minutes=50))
    deploy(store, "d-staging", "checkout", T0 - timedelta(minutes=5), environment="staging")
    assert links(store) == [("i1", "d-prod", "service")]


def test_dependency_match_both_directions(store):
    service(store, "checkout", ["payments"])  # checkout calls payments
    service(store, "web", ["checkout"])  # web calls checkout
    incident(store, "i1", "checkout", T0)
    deploy(store, "d-pay", "payments", T0 - timedelta(minutes=20))
    incident(store, "i2", "checkout", T0 + timedelta(days=1))
    deploy(store, "d-web", "web", T0 + timedelta(days=1, minutes=-20))
    deploy(store, "d-own", "checkout", T0 + timedelta(days=1, minutes=-40))
    # service match: only i2's own deploy; dependency match: the latest of own and both directions
    assert links(store) == [("i2", "d-own", "service")]
    assert links(store, match="dependency") == [("i1", "d-pay", "dependency"), ("i2", "d-web", "dependency")]


def test_same_start_prefers_the_incident_service(store):
    service(store, "checkout", ["payments"])
    incident(store, "i1", "checkout", T0)
    deploy(store, "a-pay", "payments", T0 - timedelta(minutes=20))
    deploy(store, "b-own", "checkout", T0 - timedelta(minutes=20))
    assert links(store, match="dependency") == [("i1", "b-own", "service")]


def test_related_services_are_both_directions(store):
    service(store, "checkout", ["payments", "checkout"])
    rows = sorted(tuple(r.values()) for r in related_services(store).to_pyarrow().to_pylist())
    assert rows == [("checkout", "payments", "depends_on"), ("payments", "checkout", "dependent")]


def test_bad_match_is_refused(store):
    with pytest.raises(ValueError, match="match must be"):
        link_incidents_to_deployments(store, window_hours=1, match="team")  # type: ignore[arg-type]


@pytest.mark.spark
@pytest.mark.slow
def test_linking_is_the_same_on_pyspark(store, spark_session):
    import ibis
    from ibis.backends.pyspark.datatypes import PySparkSchema

    service(store, "checkout", ["payments"])
    incident(store, "i1", "checkout", T0)
    deploy(store, "d-pay", "payments", T0 - timedelta(minutes=20))
    deploy(store, "d-own", "checkout", T0 - timedelta(minutes=40))
    incident(store, "i2", "checkout", T0 + timedelta(days=1), caused_by="d-own")
    incident(store, "i3", "search", T0)
    deploy(store, "d-out", "search", T0 - timedelta(hours=2, seconds=1))
    spark = ibis.pyspark.connect(spark_session)
    for name in ("incidents", "deployments", "services"):
        table = store.table(name)  # an explicit schema: columns that are all null cannot be inferred
        rows = [tuple(r.values()) for r in table.to_pyarrow().to_pylist()]
        spark_session.createDataFrame(rows, schema=PySparkSchema.from_ibis(table.schema())) \
            .createOrReplaceTempView(name)
    on_spark = Store(spark, url="pyspark://")
    for match in ("service", "dependency"):
        assert links(on_spark, match=match) == links(store, match=match)
    assert links(store, match="dependency") == [("i1", "d-pay", "dependency"), ("i2", "d-own", "explicit")]
