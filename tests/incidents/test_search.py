"""BM25 search over incidents: tokens, hand-computed scores, ranking, filters, snippets and the CLI.

The 3-document corpus (title + summary + root cause + factors + service, as tokens):
  i1 "Database outage" + "database"  -> [database, outage, database]   |D| = 3
  i2 "Network outage"                -> [network, outage]              |D| = 2
  i3 "Disk full"                     -> [disk, full]                   |D| = 2
N = 3, avgdl = 7/3. Query "database outage":
  idf(database) = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)) = ln(8/3) = 0.980829   (n = 1)
  idf(outage)   = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln(1.6) = 0.470004   (n = 2)
  i1: norm = 1.2 * (0.25 + 0.75 * 3 / (7/3)) = 1.2 * 17/14 = 51/35
      database f=2: 2 * 2.2 / (2 + 51/35) = 14/11 = 1.272727; outage f=1: 2.2 / (1 + 51/35) = 77/86 = 0.895349
      score = 14/11 * 0.980829 + 77/86 * 0.470004 = 1.248328 + 0.420818 = 1.669145
  i2: norm = 1.2 * (0.25 + 0.75 * 2 / (7/3)) = 15/14; outage: 2.2 / (1 + 15/14) = 154/145 = 1.062069
      score = 1.062069 * 0.470004 = 0.499176
  i3: no query term: score 0, not a hit.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.incidents.search import (
    IncidentFilter,
    bm25_scores,
    get_incident,
    list_incidents,
    parse_bound,
    search_incidents,
    snippet_parts,
    tokenize,
)
from engmetrics.store import Store

I1, I2 = 14 / 11 * math.log(8 / 3) + 77 / 86 * math.log(1.6), 154 / 145 * math.log(1.6)
CORPUS = [
    {"incident_id": "i1", "title": "Database outage", "summary": "database", "severity": 1,
     "declared_at": "2026-03-01 10:00:00+00"},
    {"incident_id": "i2", "title": "Network outage", "severity": 2, "declared_at": "2026-03-02 10:00:00+00"},
    {"incident_id": "i3", "title": "Disk full", "severity": 3, "declared_at": "2026-03-03 10:00:00+00"},
]


def add_incidents(store: Store, rows: list[dict[str, Any]]) -> None:
    """Insert incident rows (missing columns are null)."""
    for row in rows:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        store.sql.execute(f"INSERT INTO incidents ({columns}) VALUES ({marks})", list(row.values()))


def add_postmortem(store: Store, incident_id: str, **fields: Any) -> None:
    """Insert a postmortem of `incident_id` with `fields` (the required bookkeeping columns filled in)."""
    row = {"incident_id": incident_id, "file": f"{incident_id}.md", "completeness": 1.0, "content_sha256": "0" * 64,
           "imported_at": "2026-03-05 00:00:00+00", **fields}
    store.sql.execute(f"INSERT INTO postmortems ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                      list(row.values()))


@pytest.fixture
def corpus(store):
    add_incidents(store, CORPUS)
    return store


def test_tokenize_splits_on_punctuation_and_underscores_and_casefolds():
    assert tokenize("Config_change: DB-Pool (v2) Straße") == ["config", "change", "db", "pool", "v2", "strasse"]
    assert tokenize(None) == [] and tokenize("-- !") == []


def test_bm25_of_the_hand_computed_corpus():
    docs = [["database", "outage", "database"], ["network", "outage"], ["disk", "full"]]
    scores = bm25_scores(docs, ["database", "outage", "outage"])  # a repeated query term counts once
    assert scores.tolist() == pytest.approx([I1, I2, 0.0])
    assert (round(I1, 6), round(I2, 6)) == (1.669145, 0.499176)


def test_bm25_of_nothing_is_nothing():
    assert bm25_scores([], ["a"]).tolist() == []
    assert bm25_scores([[], []], ["a"]).tolist() == [0.0, 0.0]


def test_search_ranks_by_bm25_with_the_hand_computed_scores(corpus):
    hits = search_incidents(corpus, "Database OUTAGE", None)
    assert [h.incident_id for h in hits] == ["i1", "i2"]
    assert [h.score for h in hits] == pytest.approx([I1, I2])
    assert hits[0].to_dict() == {"incident_id": "i1", "score": 1.669145, "title": "Database outage", "service": None,
                                 "severity": 1, "declared_at": "2026-03-01T10:00:00+00:00",
                                 "snippet": "**Database** **outage**", "redacted": False}


def test_equal_scores_rank_newest_first(corpus):
    # "outage" in i1 (|D| 3) and i2 (|D| 2) differ by length; i4 copies i2 one day later: same score, newer
    add_incidents(corpus, [{"incident_id": "i4", "title": "Network outage", "severity": 2,
                            "declared_at": "2026-03-05 10:00:00+00"}])
    assert [h.incident_id for h in search_incidents(corpus, "network", None)] == ["i4", "i2"]


def test_a_query_without_words_is_refused(corpus):
    with pytest.raises(Exception, match="no word"):
        search_incidents(corpus, " -- ", None)


def test_filters_service_severity_dates_and_factor(store):
    add_incidents(store, [
        {"incident_id": "a", "service": "pay", "severity": 1, "title": "pool outage",
         "declared_at": "2026-03-01 10:00:00+00", "contributing_factors": ["config", "load"]},
        {"incident_id": "b", "service": "pay", "severity": 2, "title": "pool outage",
         "declared_at": "2026-03-31 23:59:59+00", "contributing_factors": ["load"]},
        {"incident_id": "c", "service": "search", "severity": 1, "title": "pool outage",
         "declared_at": "2026-04-01 00:00:00+00"},
    ])

    def ids(**kw: Any) -> list[str]:
        return sorted(h.incident_id for h in search_incidents(store, "outage", None, IncidentFilter(**kw)))

    assert ids() == ["a", "b", "c"]
    assert ids(service="pay") == ["a", "b"]
    assert ids(severity=1) == ["a", "c"]
    # --to 2026-03-31 covers that whole day: b at 23:59:59 is in, c at midnight of April 1st is out
    assert ids(start=parse_bound("2026-03-02"), end=parse_bound("2026-03-31", end=True)) == ["b"]
    assert ids(start=datetime(2026, 4, 1, tzinfo=UTC)) == ["c"]
    assert ids(factor="load") == ["a", "b"] and ids(factor="config") == ["a"] and ids(factor="x") == []
    total, items = list_incidents(store, None, IncidentFilter(service="pay"), limit=1, offset=1)
    assert total == 2 and [i["incident_id"] for i in items] == ["a"]  # newest first: b, then a


def test_parse_bound_refuses_garbage():
    with pytest.raises(Exception, match="not an ISO date"):
        parse_bound("31/03/2026")
    assert parse_bound("2026-03-31T12:00:00+02:00") == datetime(2026, 3, 31, 10, tzinfo=UTC)


def test_snippet_is_the_window_with_the_most_informative_terms():
    weights = {"pool": 0.5, "exhausted": 2.0}
    text = "one two three pool four five six seven eight nine ten eleven the pool was exhausted at noon"
    parts = snippet_parts(["nothing here", text], weights, words=6, before=2)
    # windows start 2 words before a match: "two three pool four five six" scores 0.5;
    # "eleven the pool was exhausted at" scores 2.5 (the best)
    assert parts == (("…", False), ("eleven the ", False), ("pool", True), (" was ", False), ("exhausted", True),
                     (" at", False), ("…", False))


def test_search_snippet_comes_from_the_summary_when_it_matches_best(store):
    add_incidents(store, [{"incident_id": "x", "title": "Checkout slow", "severity": 2,
                           "declared_at": "2026-03-01 10:00:00+00",
                           "summary": "A retry storm from the mobile app saturated the connection pool of the "
                                      "orders database for forty minutes until the pool size was raised."}])
    hit, = search_incidents(store, "connection pool", None)
    # the first match, "connection", is word 9 (from 0): the window is words 4..19 (16 words, from 5 before it);
    # it holds both terms, and no later window holds more
    assert hit.snippet == ("…the mobile app saturated the **connection** **pool** of the orders database "
                           "for forty minutes until the…")


@given(st.lists(st.sampled_from(["db", "pool", "x", "y", "z", "DB-pool", "the"]), min_size=1, max_size=40),
       st.sets(st.sampled_from(["db", "pool", "x"]), min_size=1))
@settings(max_examples=100, deadline=None)
def test_snippets_are_pieces_of_the_text_and_highlight_only_query_terms(words, terms):
    text = " ".join(words)
    parts = snippet_parts([text], {t: 1.0 for t in terms})
    body = "".join(p for p, _ in parts if p != "…")
    assert (parts == ()) == (not set(tokenize(text)) & terms)
    assert body in text
    assert all(tokenize(p) == [p.casefold()] and p.casefold() in terms for p, match in parts if match)


@given(st.lists(st.lists(st.sampled_from("abcd"), max_size=6), min_size=1, max_size=6))
@settings(max_examples=100, deadline=None)
def test_bm25_scores_are_positive_exactly_where_a_term_occurs(docs):
    scores = bm25_scores(docs, ["a", "b"])
    assert all((s > 0) == bool({"a", "b"} & set(d)) for s, d in zip(scores, docs, strict=True))


def test_get_incident_has_timeline_and_action_items(store):
    add_incidents(store, [{"incident_id": "x", "severity": 2, "declared_at": "2026-03-01 10:05:00+00",
                           "impact_started_at": "2026-03-01 09:50:00+00", "detected_at": "2026-03-01 10:00:00+00",
                           "resolved_at": "2026-03-01 11:00:00+00"}])
    store.sql.execute("INSERT INTO action_items (incident_id, item_id, type, created_at, status) VALUES "
                      "('x', 'b', 'prevent', '2026-03-02 00:00:00+00', 'open'), "
                      "('x', 'a', 'mitigate', '2026-03-02 00:00:00+00', 'done'), "
                      "('y', 'c', 'process', '2026-03-02 00:00:00+00', 'open')")
    found = get_incident(store, None, "x")
    assert [(e["event"], e["at"].strftime("%H:%M")) for e in found["timeline"]] == [
        ("impact started", "09:50"), ("detected", "10:00"), ("declared", "10:05"), ("resolved", "11:00")]
    assert [(a["item_id"], a["status"]) for a in found["action_items"]] == [("a", "done"), ("b", "open")]
    assert get_incident(store, None, "nope") is None


def test_cli_search_json_and_table(workspace, workspace_store, cli):
    add_incidents(workspace_store, CORPUS)
    workspace_store.close()
    result = cli("incidents", "search", "database outage", "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [(i["incident_id"], i["score"]) for i in items] == [("i1", 1.669145), ("i2", 0.499176)]
    assert list(items[0]) == ["incident_id", "score", "title", "service", "severity", "declared_at", "snippet",
                              "redacted"]
    assert json.loads(cli("incidents", "search", "outage", "--severity", "2", "--json").stdout)[0][
        "incident_id"] == "i2"
    assert json.loads(cli("incidents", "search", "database outage", "--limit", "1",
                                 "--json").stdout)[0][
        "incident_id"] == "i1"
    table = cli("incidents", "search", "disk")
    assert table.exit_code == 0 and "i3" in table.stdout and "Disk full" in table.stdout
    bad = cli("incidents", "search", "disk", "--from", "yesterday")
    assert bad.exit_code == 1 and "not an ISO date" in bad.output


@pytest.mark.spark
@pytest.mark.slow
def test_search_is_the_same_on_pyspark(corpus, spark_session):
    import ibis

    add_postmortem(corpus, "i1", trigger="a database failover", confidentiality="public")
    for name in ("incidents", "postmortems"):
        spark_session.createDataFrame(corpus.table(name).to_pyarrow()).createOrReplaceTempView(name)
    spark = Store(ibis.pyspark.connect(spark_session), url="pyspark://")
    filters = IncidentFilter(start=datetime(2026, 3, 1, tzinfo=UTC), severity=1)
    assert search_incidents(spark, "database outage", None, filters) == search_incidents(
        corpus, "database outage", None, filters)
