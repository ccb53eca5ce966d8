"""Versioned store migrations. A store made by an older version is upgraded in one transaction;
a store made by a newer version is refused, never recreated.

Add a migration by appending to `MIGRATIONS`; never edit one that has shipped. Registry changes need
no hand-written SQL: give the new dataset or column `since=N` in `datasets.py` and append
`Migration(N, "...", registry_changes(N))`; a test checks every `since` has its migration and that a
migrated store matches the registry exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import EngmetricsError
from .datasets import REGISTRY
from .registry import Registry

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "check_version", "current_version", "migrate", "registry_changes"]

Connection = object  # a duckdb.DuckDBPyConnection; kept loose to avoid importing duckdb types here


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_meta(con) -> None:
    con.execute("""
        CREATE TABLE IF NOT EXISTS _ingests (
            batch_id VARCHAR PRIMARY KEY, dataset VARCHAR NOT NULL, files VARCHAR[] NOT NULL,
            started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ NOT NULL,
            "read" BIGINT, inserted BIGINT, updated BIGINT, unchanged BIGINT, quarantined BIGINT)""")
    con.execute("""
        CREATE TABLE IF NOT EXISTS _quarantine (
            batch_id VARCHAR NOT NULL, dataset VARCHAR NOT NULL, source_file VARCHAR NOT NULL,
            line BIGINT, "column" VARCHAR, reason VARCHAR NOT NULL, record VARCHAR,
            quarantined_at TIMESTAMPTZ NOT NULL)""")
    con.execute("""
        CREATE TABLE IF NOT EXISTS _metric_results (
            metric VARCHAR NOT NULL, period_start DATE NOT NULL, period_end DATE NOT NULL,
            "value" DOUBLE, previous DOUBLE, status VARCHAR NOT NULL, definition_version VARCHAR NOT NULL,
            git_commit VARCHAR, as_of DATE NOT NULL, evaluated_at TIMESTAMPTZ NOT NULL)""")


def registry_changes(version: int, registry: Registry = REGISTRY) -> Callable[[Connection], None]:
    """The migration that creates the datasets and adds the columns introduced in `version`."""

    def apply(con) -> None:
        for ds in registry.values():
            if ds.since == version:
                cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in ds.columns if c.since <= version)
                con.execute(f'CREATE TABLE "{ds.name}" ({cols})')
            elif ds.since < version:
                for c in ds.columns:
                    if c.since == version:
                        con.execute(f'ALTER TABLE "{ds.name}" ADD COLUMN "{c.name}" {c.sql_type}')

    return apply


def _metric_results_groups(con) -> None:
    con.execute('ALTER TABLE _metric_results ADD COLUMN "group" VARCHAR')
    con.execute("ALTER TABLE _metric_results ADD COLUMN sample_size BIGINT")
    con.execute("ALTER TABLE _metric_results ADD COLUMN previous_sample_size BIGINT")


def _api_tokens(con) -> None:
    con.execute("""
        CREATE TABLE _api_tokens (
            token_id VARCHAR PRIMARY KEY, secret_sha256 VARCHAR NOT NULL UNIQUE, role VARCHAR NOT NULL,
            teams VARCHAR[] NOT NULL, description VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL, revoked_at TIMESTAMPTZ)""")


def _notifications(con) -> None:
    con.execute("""
        CREATE TABLE _notifications (
            key VARCHAR NOT NULL, channel VARCHAR NOT NULL, sent_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (key, channel))""")


def _governance(con) -> None:
    con.execute("""
        CREATE TABLE _audit (
            seq BIGINT PRIMARY KEY, logged_at TIMESTAMPTZ NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL,
            target VARCHAR, reason VARCHAR, details VARCHAR, prev_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL)""")
    con.execute("""
        CREATE TABLE _definitions (
            kind VARCHAR NOT NULL, id VARCHAR NOT NULL, version VARCHAR, content VARCHAR, source VARCHAR,
            effective_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (kind, id, effective_at))""")
    con.execute("""
        CREATE TABLE _board_decisions (
            metric VARCHAR NOT NULL, version VARCHAR NOT NULL, action VARCHAR NOT NULL, actor VARCHAR NOT NULL,
            rationale VARCHAR, decided_at TIMESTAMPTZ NOT NULL)""")
    con.execute("""
        CREATE TABLE _legal_holds (
            hold_id VARCHAR PRIMARY KEY, scope VARCHAR NOT NULL, target VARCHAR, from_date DATE, to_date DATE,
            reason VARCHAR NOT NULL, created_by VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL,
            released_by VARCHAR, released_at TIMESTAMPTZ)""")
    con.execute("""
        CREATE TABLE _discrepancy_reviews (
            metric VARCHAR NOT NULL, team VARCHAR NOT NULL, period VARCHAR NOT NULL, note VARCHAR,
            resolution VARCHAR, reviewer VARCHAR NOT NULL, reviewed_at TIMESTAMPTZ NOT NULL)""")
    con.execute("ALTER TABLE _api_tokens ADD COLUMN \"user\" VARCHAR")


def _insights(con) -> None:
    con.execute("""
        CREATE TABLE _anomaly_findings (
            finding_id VARCHAR PRIMARY KEY, series VARCHAR NOT NULL, source VARCHAR NOT NULL, metric VARCHAR,
            "group" VARCHAR, datasets VARCHAR[], method VARCHAR NOT NULL, direction VARCHAR NOT NULL,
            start_at TIMESTAMPTZ NOT NULL, end_at TIMESTAMPTZ NOT NULL, peak_at TIMESTAMPTZ, value DOUBLE,
            expected DOUBLE, expected_low DOUBLE, expected_high DOUBLE, score DOUBLE NOT NULL,
            detected_at TIMESTAMPTZ NOT NULL)""")
    con.execute("""
        CREATE TABLE _anomaly_marks (
            finding_id VARCHAR PRIMARY KEY, status VARCHAR NOT NULL, note VARCHAR, actor VARCHAR NOT NULL,
            marked_at TIMESTAMPTZ NOT NULL)""")
    con.execute("""
        CREATE TABLE _views (
            metric VARCHAR NOT NULL, channel VARCHAR NOT NULL, actor VARCHAR, viewed_at TIMESTAMPTZ NOT NULL)""")


def _telemetry(con) -> None:
    con.execute("""
        CREATE TABLE _telemetry_rollups (
            series VARCHAR NOT NULL, resolution VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, metric VARCHAR,
            labels VARCHAR, sum DOUBLE NOT NULL, count BIGINT NOT NULL, min DOUBLE, max DOUBLE,
            PRIMARY KEY (series, resolution, ts))""")
    con.execute("""
        CREATE TABLE _telemetry_overlaps (
            series VARCHAR NOT NULL, kept_source VARCHAR NOT NULL, dropped_source VARCHAR NOT NULL,
            first_ts TIMESTAMPTZ NOT NULL, last_ts TIMESTAMPTZ NOT NULL, samples BIGINT NOT NULL,
            PRIMARY KEY (series, kept_source, dropped_source))""")


def _telemetry_history(con) -> None:
    con.execute("ALTER TABLE _telemetry_rollups ADD COLUMN increase DOUBLE")
    con.execute("ALTER TABLE _telemetry_rollups ADD COLUMN last DOUBLE")
    con.execute("""
        CREATE TABLE _retention_horizons (
            dataset VARCHAR PRIMARY KEY, before TIMESTAMPTZ NOT NULL, set_at TIMESTAMPTZ NOT NULL)""")


def _metric_results_intervals(con) -> None:
    con.execute("ALTER TABLE _metric_results ADD COLUMN low DOUBLE")
    con.execute("ALTER TABLE _metric_results ADD COLUMN high DOUBLE")


MIGRATIONS: list[Migration] = [
    Migration(1, "schema version, ingest log, quarantine and metric results", _create_meta),
    Migration(2, "the canonical datasets of DESIGN.md", registry_changes(2)),
    Migration(3, "metric results: group and sample sizes", _metric_results_groups),
    Migration(4, "API tokens (hashed secrets, role, teams, expiry, revocation)", _api_tokens),
    Migration(5, "release gate overrides", registry_changes(5)),
    Migration(6, "postmortems", registry_changes(6)),
    Migration(7, "FOCUS 1.1 and 1.2 cost columns, x_ extensions, service code locations", registry_changes(7)),
    Migration(8, "notifications sent (at most once per alert and webhook)", _notifications),
    Migration(9, "governance: audit chain, definition archive, board decisions, legal holds, discrepancy "
                 "reviews, the user behind an API token", _governance),
    Migration(10, "insights: anomaly findings and their marks, indicator views", _insights),
    Migration(11, "telemetry samples: receive time", registry_changes(11)),
    Migration(12, "telemetry: rollups, overlaps between pipelines", _telemetry),
    Migration(13, "sampled request events", registry_changes(13)),
    Migration(14, "telemetry: counter increases in rollups, retention horizons", _telemetry_history),
    Migration(15, "metric results: the interval of a value estimated from sampled data", _metric_results_intervals),
]
SCHEMA_VERSION = MIGRATIONS[-1].version


def current_version(con) -> int:
    """The store's schema version; 0 for an empty store."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = '_schema_version'").fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM _schema_version").fetchone()[0]


def check_version(con) -> int:
    """The store's schema version; refuses a store made by a newer engmetrics."""
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise EngmetricsError(
            f"the store has schema version {version}, newer than this engmetrics ({SCHEMA_VERSION}); "
            "upgrade engmetrics")
    return version


def migrate(con) -> list[int]:
    """Apply pending migrations in one transaction; return the versions applied."""
    version = check_version(con)
    pending = [m for m in MIGRATIONS if m.version > version]
    if not pending:
        return []
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("""CREATE TABLE IF NOT EXISTS _schema_version (
            version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMPTZ DEFAULT now())""")
        for m in pending:
            m.apply(con)
            con.execute("INSERT INTO _schema_version (version, description) VALUES (?, ?)",
                        [m.version, m.description])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return [m.version for m in pending]
