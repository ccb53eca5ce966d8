"""Versioned migrations: old stores are upgraded with their data, newer stores are refused."""

from __future__ import annotations

import duckdb
import pytest

from engmetrics.errors import EngmetricsError
from engmetrics.store import REGISTRY, Store
from engmetrics.store import migrations as mig
from engmetrics.store.migrations import SCHEMA_VERSION, current_version, migrate

# `_metric_results` columns added by later migrations (dropped to rebuild an older store)
_RESULT_COLUMNS = ("group", "sample_size", "previous_sample_size", "low", "high")


def test_new_store_is_at_the_current_version_with_every_table(tmp_path):
    assert SCHEMA_VERSION == 15
    url = f"duckdb://{tmp_path / 'store.duckdb'}"
    with Store.open(url) as store:
        versions = store.sql.execute("SELECT version FROM _schema_version ORDER BY 1").fetchall()
        assert versions == [(v,) for v in range(1, 16)]
        tables = {t for (t,) in store.sql.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        meta = {"_ingests", "_quarantine", "_metric_results", "_schema_version", "_api_tokens", "_notifications",
                "_audit", "_definitions", "_board_decisions", "_legal_holds", "_discrepancy_reviews",
                *_INSIGHTS, *_TELEMETRY}
        assert set(REGISTRY) | meta <= tables
    with Store.open(url) as store:  # reopening applies nothing
        assert migrate(store.sql) == []


def _make_store(path):
    with Store.open(f"duckdb://{path}") as store:
        store.sql.execute("INSERT INTO _ingests VALUES ('b1', 'holidays', ['h.csv'], "
                          "TIMESTAMPTZ '2026-01-01 00:00:00Z', TIMESTAMPTZ '2026-01-01 00:00:01Z', 1, 1, 0, 0, 0)")
        store.sql.execute("INSERT INTO _metric_results (metric, period_start, period_end, value, status, "
                          "definition_version, as_of, evaluated_at) VALUES ('m', DATE '2026-01-01', "
                          "DATE '2026-01-31', 0.5, 'ok', 'v1', DATE '2026-02-01', TIMESTAMPTZ '2026-02-01 00:00:00Z')")


_GOVERNANCE = ("_audit", "_definitions", "_board_decisions", "_legal_holds", "_discrepancy_reviews")  # migration 9
_INSIGHTS = ("_anomaly_findings", "_anomaly_marks", "_views")  # migration 10
_TELEMETRY = ("_telemetry_rollups", "_telemetry_overlaps", "_retention_horizons")  # migrations 12, 14


def _undo_migrations_after_2(con) -> None:
    """Make a current store look like what a version-2 release wrote."""
    con.execute("DELETE FROM _schema_version WHERE version >= 3")
    tables = ("_api_tokens", "release_gate_overrides", "postmortems", "request_events", "_notifications",
              *_GOVERNANCE, *_INSIGHTS, *_TELEMETRY)
    for table in tables:
        con.execute(f"DROP TABLE {table}")
    for dataset in REGISTRY.values():
        for column in dataset.columns:
            if column.since > 2:
                con.execute(f'ALTER TABLE "{dataset.name}" DROP COLUMN "{column.name}"')
    for column in _RESULT_COLUMNS:
        con.execute(f'ALTER TABLE _metric_results DROP COLUMN "{column}"')


def test_store_from_version_2_is_upgraded_and_keeps_its_data(tmp_path):
    path = tmp_path / "store.duckdb"
    _make_store(path)
    with duckdb.connect(str(path)) as con:
        _undo_migrations_after_2(con)
        con.execute("INSERT INTO holidays VALUES ('uk', DATE '2026-12-25', 'Christmas')")
    with Store.open(f"duckdb://{path}") as store:
        assert current_version(store.sql) == SCHEMA_VERSION
        assert store.sql.execute("SELECT batch_id, inserted FROM _ingests").fetchall() == [("b1", 1)]
        assert store.sql.execute('SELECT metric, "value", "group", sample_size FROM _metric_results').fetchall() == [
            ("m", 0.5, None, None)]
        assert store.sql.execute("SELECT name FROM holidays").fetchall() == [("Christmas",)]
        assert store.count("_api_tokens") == 0
        assert store.count("release_gate_overrides") == 0
        assert store.count("postmortems") == 0
        columns = {r[0] for r in store.sql.execute("DESCRIBE cost").fetchall()}
        assert {"x_extensions", "InvoiceId", "CommitmentDiscountQuantity"} <= columns


def test_store_from_version_1_gets_the_datasets_and_keeps_its_log(tmp_path):
    path = tmp_path / "store.duckdb"
    _make_store(path)
    with duckdb.connect(str(path)) as con:  # undo migrations 2 to 12
        con.execute("DELETE FROM _schema_version WHERE version >= 2")
        for table in ("_api_tokens", "_notifications", *_GOVERNANCE, *_INSIGHTS, *_TELEMETRY):
            con.execute(f"DROP TABLE {table}")
        for column in _RESULT_COLUMNS:
            con.execute(f'ALTER TABLE _metric_results DROP COLUMN "{column}"')
        for name in REGISTRY:
            con.execute(f'DROP TABLE "{name}"')
    with Store.open(f"duckdb://{path}") as store:
        assert current_version(store.sql) == SCHEMA_VERSION
        assert store.sql.execute("SELECT batch_id FROM _ingests").fetchall() == [("b1",)]
        assert store.count("deployments") == 0


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    path = tmp_path / "store.duckdb"
    _make_store(path)
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM _schema_version WHERE version >= 3")
        con.execute("DROP TABLE _api_tokens")
        con.execute("DROP TABLE release_gate_overrides")
        con.execute("DROP TABLE postmortems")
        for column in _RESULT_COLUMNS:
            con.execute(f'ALTER TABLE _metric_results DROP COLUMN "{column}"')

    def broken(con):
        con.execute("ALTER TABLE _metric_results ADD COLUMN half_done VARCHAR")
        raise RuntimeError("boom")

    monkeypatch.setattr(mig, "MIGRATIONS", [*mig.MIGRATIONS[:2], mig.Migration(3, "broken", broken)])
    with pytest.raises(RuntimeError, match="boom"):
        Store.open(f"duckdb://{path}")
    with duckdb.connect(str(path), read_only=True) as con:
        assert current_version(con) == 2
        columns = [r[0] for r in con.execute("DESCRIBE _metric_results").fetchall()]
        assert "half_done" not in columns
        assert con.execute("SELECT count(*) FROM _ingests").fetchone() == (1,)


def test_newer_store_is_refused_not_recreated(tmp_path, cli, workspace):
    path = workspace / ".engmetrics" / "store.duckdb"
    _make_store(path)
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO _schema_version (version, description) VALUES (99, 'from the future')")
    with pytest.raises(EngmetricsError) as err:
        Store.open(f"duckdb://{path}")
    assert "schema version 99, newer than this engmetrics (15)" in str(err.value)
    with pytest.raises(EngmetricsError, match="schema version 99"):
        Store.open(f"duckdb://{path}", read_only=True)
    for args in (["ingest", "holidays", tmp_path / "none.csv"], ["datasets", "list", "--json"]):
        result = cli(*args)  # the lock of the refused opens above was released, so no waiting here
        assert result.exit_code == 1
        assert "schema version 99, newer than this engmetrics (15); upgrade engmetrics" in result.stderr
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM _ingests").fetchone() == (1,)
        assert current_version(con) == 99


def test_read_only_open_upgrades_an_older_store_first(tmp_path):
    from engmetrics.store import Store
    from engmetrics.store.migrations import SCHEMA_VERSION, current_version

    url = f"duckdb://{tmp_path / 'old.duckdb'}"
    with Store.open(url) as store:
        _undo_migrations_after_2(store.sql)
    with Store.open(url, read_only=True) as store:
        assert current_version(store.sql) == SCHEMA_VERSION == 15
        assert store.table("_metric_results").schema()["group"].is_string()


def test_every_registry_version_has_its_migration_and_a_migrated_store_matches_the_registry():
    from engmetrics.store import REGISTRY, Store
    from engmetrics.store.migrations import MIGRATIONS, SCHEMA_VERSION

    versions = {ds.since for ds in REGISTRY.values()} | {c.since for ds in REGISTRY.values() for c in ds.columns}
    registry_migrations = {m.version for m in MIGRATIONS if m.apply.__qualname__.startswith("registry_changes")}
    assert versions <= registry_migrations and max(versions) <= SCHEMA_VERSION
    with Store.open("duckdb://") as store:
        for ds in REGISTRY.values():
            schema = store.table(ds.name).schema()
            assert list(schema.names) == ds.column_names, ds.name


def test_registry_changes_adds_only_what_a_version_introduced():
    import duckdb

    from engmetrics.store.migrations import registry_changes
    from engmetrics.store.registry import Column, Dataset, Registry

    old = Dataset("things", "t", ("id",), (Column("id", required=True), Column("size", "int", since=4)))
    new = Dataset("gadgets", "g", ("id",), (Column("id", required=True),), since=4)
    registry = Registry([old, new])
    con = duckdb.connect()
    registry_changes(2, registry)(con)
    assert [r[0] for r in con.execute("DESCRIBE things").fetchall()] == ["id"]
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'gadgets'").fetchone() == (0,)
    registry_changes(4, registry)(con)
    assert [r[0] for r in con.execute("DESCRIBE things").fetchall()] == ["id", "size"]
    assert [r[0] for r in con.execute("DESCRIBE gadgets").fetchall()] == ["id"]
