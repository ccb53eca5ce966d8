"""Every delivery calculation gives the same result on PySpark as on DuckDB (issue 6; DESIGN.md, "Portable
calculations"): small hand-made data in the in-memory DuckDB store, copied into one shared local Spark session,
the same function run on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_cycle_time import _change, _review
from test_cycle_time import _org as _berlin_org
from test_guardrails import TEAMS, change, deploy, quarter
from test_guardrails import day as at
from test_reviews import _concentration_data
from test_reviews import _org as _two_zone_org
from test_silos import AS_OF, commit, populate

from engmetrics.delivery.cycle_time import cycle_time_stats
from engmetrics.delivery.docs_freshness import docs_freshness
from engmetrics.delivery.guardrails import guardrails
from engmetrics.delivery.reviews import review_report
from engmetrics.delivery.silos import repository_silos, service_silos, team_silos
from engmetrics.delivery.support import support_graph
from engmetrics.settings import DeliverySettings
from engmetrics.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# every table a delivery calculation reads; all are copied each time, so no view of an earlier test is left over
TABLES = ("teams", "people", "holidays", "services", "deployments", "changes", "reviews", "commit_files",
          "incidents", "support_requests", "doc_updates")
SETTINGS = DeliverySettings()


@pytest.fixture
def on_spark(store, spark_session):
    """on_spark() -> a Store on PySpark holding a copy of the delivery tables of the DuckDB `store`."""
    import ibis
    from ibis.backends.pyspark.datatypes import PySparkSchema

    def copy() -> Store:
        for name in TABLES:
            table = store.table(name)
            # Spark has no TIME type: the working hours of teams travel as text (null in these tests, see
            # test_team_working_hours_on_pyspark)
            times = {c: table[c].cast("string") for c, kind in table.schema().items() if kind.is_time()}
            table = table.mutate(**times)
            rows = [tuple(r.values()) for r in table.to_pyarrow().to_pylist()]
            # an explicit schema: columns that are all null (a list column too) cannot be inferred
            spark_session.createDataFrame(rows, schema=PySparkSchema.from_ibis(table.schema())) \
                .createOrReplaceTempView(name)
        return Store(ibis.pyspark.connect(spark_session), url="pyspark://")

    return copy


def _dicts(items: list) -> list[dict]:
    return [i.to_dict() for i in items]


def _approx(value: object) -> object:
    """`value` with every float wrapped in pytest.approx (nested lists and dicts)."""
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-9, abs=1e-9)
    if isinstance(value, dict):
        return {k: _approx(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_approx(v) for v in value]
    return value


def _same(on_spark: object, on_duckdb: object) -> None:
    assert on_spark == _approx(on_duckdb)


# --- cycle time ------------------------------------------------------------------------------------------------

def _cycle_data(store) -> None:
    """Team berlin (a, rev) plus b and c in New York and Tokyo (person zones); a weekend change, a Berlin holiday,
    self and bot reviews, a change without reviews (falls back to first_review_at), a deployed change, a bot's
    change, and one in repo2."""
    _berlin_org(store)
    ex = store.sql.execute
    ex("update teams set holiday_calendar = 'de' where team = 'berlin'")
    ex("insert into holidays (calendar, date, name) values ('de', DATE '2026-01-14', 'a holiday')")
    ex("insert into people (person, valid_from, team, timezone) values ('b', DATE '2020-01-01', 'nyc', "
       "'America/New_York'), ('c', DATE '2020-01-01', 'tokyo', 'Asia/Tokyo')")
    _change(store, "c1", "a", "2026-01-09 19:00:00+00", "2026-01-12 12:00:00+00", "2026-01-09 10:00:00+00", "s1")
    _review(store, "c1", "a", "2026-01-10 09:00:00+00")  # self review: no pickup
    _review(store, "c1", "rev", "2026-01-12 09:00:00+00")
    _review(store, "c1", "renovate[bot]", "2026-01-11 09:00:00+00")  # a bot: no pickup
    ex("insert into deployments (deployment_id, service, environment, started_at, finished_at, status, commit_sha) "
       "values ('d1', 'svc', 'production', '2026-01-12 13:00:00+00', '2026-01-12 13:30:00+00', 'success', 's1')")
    _change(store, "c2", "b", "2026-01-13 15:00:00+00", "2026-01-15 20:00:00+00", "2026-01-12 22:00:00+00")
    _review(store, "c2", "rev", "2026-01-14 10:00:00+00")  # Berlin holiday: no working hours for rev that day
    _review(store, "c2", "c", "2026-01-15 01:00:00+00")
    _change(store, "c3", "c", "2026-01-16 00:00:00+00", "2026-01-19 03:00:00+00")
    ex("update changes set first_review_at = '2026-01-16 06:30:00+00' where change_id = 'c3'")  # no reviews rows
    _change(store, "c4", "a", "2026-01-20 08:00:00+00", "2026-01-21 09:00:00+00")
    ex("update changes set repo = 'repo2', additions = 300, deletions = null where change_id = 'c4'")
    _review(store, "c4", "b", "2026-01-20 16:00:00+00")
    _change(store, "bot", "dependabot[bot]", "2026-01-09 19:00:00+00", "2026-01-12 12:00:00+00")
    _change(store, "open", "a", "2026-01-22 08:00:00+00", None)  # not merged: not counted


def test_cycle_time_is_the_same_on_pyspark(store, on_spark):
    _cycle_data(store)
    spark = on_spark()
    on_duckdb = _dicts(cycle_time_stats(store, SETTINGS, by="team", min_group_size=1))
    assert [g["group"] for g in on_duckdb] == ["berlin", "nyc", "tokyo"]
    assert on_duckdb[0]["stages"]["deploy"]["n"] == 1 and on_duckdb[2]["stages"]["pickup"]["n"] == 1
    _same(_dicts(cycle_time_stats(spark, SETTINGS, by="team", min_group_size=1)), on_duckdb)
    # a window and suppression: repo1 has authors b and c from 13 January, repo2 only a
    window = {"start": datetime(2026, 1, 13, tzinfo=UTC), "end": datetime(2026, 2, 1, tzinfo=UTC)}
    on_duckdb = _dicts(cycle_time_stats(store, SETTINGS, by="repo", min_group_size=2, **window))
    assert [(g["group"], g["suppressed"]) for g in on_duckdb] == [("repo1", False), ("repo2", True)]
    _same(_dicts(cycle_time_stats(spark, SETTINGS, by="repo", min_group_size=2, **window)), on_duckdb)


# --- reviews ---------------------------------------------------------------------------------------------------

NOW = datetime(2026, 1, 14, 15, tzinfo=UTC)


def test_review_report_is_the_same_on_pyspark(store, on_spark):
    _two_zone_org(store)
    _concentration_data(store)
    ex = store.sql.execute
    # waiting at NOW: open (New York hours), reviewed (not waiting), a draft (not waiting), bot-reviewed (waiting)
    for cid, created, draft in (("open", "2026-01-12 14:00:00+00", None), ("reviewed", "2026-01-12 14:00:00+00", None),
                                ("draft", "2026-01-12 14:00:00+00", True),
                                ("bot-reviewed", "2026-01-13 14:00:00+00", False)):
        ex("insert into changes (change_id, repo, author, created_at, is_draft) values (?,?,?,?,?)",
           [cid, "repo2", "a", created, draft])
    ex("insert into changes (change_id, repo, author, created_at, ready_at) values (?,?,?,?,?)",
       ["by-r1", "repo2", "r1", "2026-01-13 08:00:00+00", "2026-01-13 10:00:00+00"])
    ex("insert into reviews (change_id, reviewer, submitted_at, state) values (?,?,?,?)",
       ["reviewed", "r1", "2026-01-12 15:00:00+00", "commented"])
    ex("insert into reviews (change_id, reviewer, submitted_at, state, is_bot) values (?,?,?,?,?)",
       ["bot-reviewed", "lint-checker", "2026-01-13 14:05:00+00", "commented", True])
    ex("insert into people (person, valid_from, valid_to, team) values ('gone', DATE '2019-01-01', "
       "DATE '2019-12-31', 'berlin')")  # a membership outside the window: not one of berlin's reviewers
    spark = on_spark()
    window = {"start": datetime(2026, 1, 12, tzinfo=UTC), "end": datetime(2026, 1, 14, tzinfo=UTC)}
    on_duckdb = review_report(store, SETTINGS, now=NOW, min_group_size=1, **window).to_dict()
    assert [c["reviewers"] for c in on_duckdb["concentration"]] == [5, 1]  # berlin (r1-r5), nyc (a)
    assert [(w["team"], w["n"]) for w in on_duckdb["waiting"]] == [("berlin", 1), ("nyc", 2)]
    assert len(on_duckdb["regions"]) == 3  # America coding and review (author a), Europe pickup
    _same(review_report(spark, SETTINGS, now=NOW, min_group_size=1, **window).to_dict(), on_duckdb)


# --- silos -----------------------------------------------------------------------------------------------------

def _silos_data(store) -> None:
    """test_silos' repositories r and s and people, services by repository and path prefix, bot and merge rows,
    and A's git e-mail alias (A-mail creates r/f5)."""
    populate(store)
    commit(store, [("r", "bot1", "g1", "bot", 5)], bot=True)
    commit(store, [("r", "m1", "f1", "C", 6)], merge=True)
    commit(store, [("r", "a9", "f5", "A-mail", 7)], bot=False, merge=False)
    store.sql.execute("update people set aliases = ['A-mail'] where person = 'A'")
    store.sql.executemany("INSERT INTO services (service, team, repo, path_prefix) VALUES (?, 'core', ?, ?)", [
        ("shop", "r", None), ("basket", "r", "f4"), ("s", None, None), ("ghost", "nowhere", None)])


def test_repository_silos_are_the_same_on_pyspark(store, on_spark):
    _silos_data(store)
    spark = on_spark()
    on_duckdb = _dicts(repository_silos(store, AS_OF))
    # r: A (with A-mail's f5) owns f1-f3 and f5 and left; B owns f4
    assert [(r["repo"], r["files"], r["leaver_files"]) for r in on_duckdb] == [("r", 5, 4), ("s", 2, 2)]
    assert _dicts(repository_silos(spark, AS_OF)) == on_duckdb


def test_service_silos_are_the_same_on_pyspark(store, on_spark):
    _silos_data(store)
    spark = on_spark()
    on_duckdb = _dicts(service_silos(store, AS_OF))
    assert [r["service"] for r in on_duckdb] == ["basket", "s", "shop"]
    assert _dicts(service_silos(spark, AS_OF)) == on_duckdb


def test_team_silos_are_the_same_on_pyspark(store, on_spark):
    _silos_data(store)
    commit(store, [("s", "z1", "s9", "nobody", 8)])  # an owner without a membership: team None
    spark = on_spark()
    on_duckdb = _dicts(team_silos(store, AS_OF))
    assert [t["team"] for t in on_duckdb] == ["core", "edge", None]
    assert _dicts(team_silos(spark, AS_OF)) == on_duckdb


# --- guardrails ------------------------------------------------------------------------------------------------

def test_guardrails_are_the_same_on_pyspark(store, on_spark):
    quarter(store, TEAMS)  # flags for team fast
    store.sql.execute("INSERT INTO services (service, team) VALUES ('s', 'core')")
    h = timedelta(hours=1)
    # team core (service s) in February: f2 rolled back by f3, f4 failed, f5 caused incident i, f6 a hotfix of i,
    # f7 deploys c2's merge commit; lead times 2, 4 and 6 h by three authors, a bot's change and a negative one
    deploy(store, "f1", "s", at(2, 2, 10), finished_at=at(2, 2, 10) + h / 2, change_ids=["c1", "c4", "c5"])
    deploy(store, "f2", "s", at(2, 3, 10))
    deploy(store, "f3", "s", at(2, 3, 11), is_rollback=True)
    deploy(store, "f4", "s", at(2, 5, 10), "failure")
    deploy(store, "f5", "s", at(2, 6, 10))
    deploy(store, "f6", "s", at(2, 6, 14), is_hotfix=True, fixes_incident_id="i")
    deploy(store, "f7", "s", at(2, 7, 10), commit_sha="m2")
    deploy(store, "x", "s", at(2, 9), environment="staging")
    store.sql.execute("INSERT INTO incidents (incident_id, service, severity, declared_at, caused_by_deployment_id) "
                      "VALUES ('i', 's', 2, ?, 'f5')", [at(2, 6, 11)])
    change(store, "c1", "a1", at(2, 2, 8) + h / 2, at(2, 2, 9))
    change(store, "c2", "a2", at(2, 7, 6), at(2, 7, 9), merge_commit_sha="m2")
    change(store, "c3", "a3", at(2, 6, 8), at(2, 6, 12))
    change(store, "c4", "bot", at(1, 2), at(2, 2, 9), is_bot=True)
    change(store, "c5", "a5", at(2, 2, 11), at(2, 2, 9))
    # churn in repo r (team core owns its changes): f +10, then -4 within 21 days; g -3 45 days after its lines;
    # a merge and a bot row that do not count
    rows = [("1", "f", at(2, 5), 10, 0, False, False), ("2", "f", at(2, 10), 2, 4, False, False),
            ("3", "g", at(1, 5) - timedelta(days=20), 1, 0, False, False), ("4", "g", at(2, 28), 0, 3, None, None),
            ("m", "f", at(2, 11), 12, 4, True, False), ("b", "f", at(2, 12), 50, 9, False, True)]
    store.sql.executemany("INSERT INTO commit_files (sha, path, repo, author, committed_at, added, deleted, is_merge, "
                          "is_bot) VALUES (?,?,'r','A',?,?,?,?,?)", rows)
    spark = on_spark()
    options = {"start": datetime(2026, 1, 1, tzinfo=UTC), "end": datetime(2026, 4, 1, tzinfo=UTC),
               "min_group_size": 3, "min_count": 5}
    on_duckdb = _dicts(guardrails(store, SETTINGS, **options))
    assert [t["team"] for t in on_duckdb] == ["core", "fast", "once", "small", "steady"]
    assert on_duckdb[0]["series"]["lead_time_p50_hours"][1] == 4.0 and on_duckdb[1]["flags"]
    _same(_dicts(guardrails(spark, SETTINGS, **options)), on_duckdb)


# --- support graph and documentation freshness -----------------------------------------------------------------

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_support_graph_is_the_same_on_pyspark(store, on_spark):
    # test_support's requests: (id, from, to, hours to resolve or None = open); 7 and 8 platform asking itself;
    # 9 without an asking team, 10 created later
    rows = [("1", "a", "platform", 2), ("2", "a", "platform", 4), ("3", "a", "platform", None),
            ("4", "b", "platform", 10), ("5", "c", "platform", None), ("6", "a", "data", 1),
            ("7", "platform", "platform", None), ("8", "platform", "platform", 1), ("9", None, "data", 3)]
    store.sql.executemany(
        "INSERT INTO support_requests (request_id, from_team, to_team, created_at, resolved_at) VALUES (?,?,?,?,?)",
        [(i, f, t, T0, None if h is None else T0 + timedelta(hours=h)) for i, f, t, h in rows])
    store.sql.execute("INSERT INTO support_requests (request_id, from_team, to_team, created_at) VALUES "
                      "('10', 'd', 'platform', ?)", [T0 + timedelta(hours=3)])
    spark = on_spark()
    for window in ({}, {"end": T0 + timedelta(hours=3)}, {"start": T0 + timedelta(hours=1)}):
        on_duckdb = support_graph(store, **window)
        assert on_duckdb["teams"]
        _same(support_graph(spark, **window), on_duckdb)


def test_docs_freshness_is_the_same_on_pyspark(store, on_spark):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    # test_support's documents, plus g1 and g2 without a team (g1 updated 60 and 1.5 days ago)
    rows = [("d1", "x", 200), ("d1", "x", 10), ("d2", "x", 100), ("d3", "x", 30), ("d4", "x", 400),
            ("e1", "y", 91), ("f1", "y", -5), ("g1", None, 60), ("g1", None, 1.5), ("g2", None, 70)]
    store.sql.executemany("INSERT INTO doc_updates (doc_id, updated_at, team) VALUES (?,?,?)",
                          [(d, now - timedelta(days=ago), t) for d, t, ago in rows])
    spark = on_spark()
    for as_of in (now, now - timedelta(days=50)):
        on_duckdb = _dicts(docs_freshness(store, as_of))
        assert [t["team"] for t in on_duckdb][-1] is None
        _same(_dicts(docs_freshness(spark, as_of)), on_duckdb)


# --- the working hours of teams: Spark holds teams.work_start / work_end as text (no TIME type) -----------------

def test_team_working_hours_on_pyspark(store, on_spark):
    """Cycle time, reviews and every other `working_time` user, for a team with its own working hours."""
    ex = store.sql.execute
    ex("insert into teams (team, timezone, work_start, work_end) values ('early', 'Europe/Berlin', '08:00', '16:00')")
    ex("insert into people (person, valid_from, team) values ('a', DATE '2020-01-01', 'early'), "
       "('rev', DATE '2020-01-01', 'early')")
    _change(store, "c1", "a", "2026-01-12 06:00:00+00", "2026-01-12 10:00:00+00")
    _review(store, "c1", "rev", "2026-01-12 08:00:00+00")
    on_duckdb = _dicts(cycle_time_stats(store, SETTINGS, min_group_size=1))
    # opened Mon 07:00 CET, reviewed 09:00 CET: one working hour from 08:00 (none in the default 09:00-17:00)
    assert on_duckdb[0]["stages"]["pickup"]["working_hours_p50"] == 1.0
    _same(_dicts(cycle_time_stats(on_spark(), SETTINGS, min_group_size=1)), on_duckdb)
