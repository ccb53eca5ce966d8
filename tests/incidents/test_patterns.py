"""Recurring patterns and the TF-IDF similarity they rest on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engmetrics.incidents.patterns import recurring_patterns
from engmetrics.incidents.text import TfIdf, cosine, similarity, tokenize
from engmetrics.store import Store


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def incident(store: Store, incident_id: str, service: str | None, title: str, start: datetime, *,
             resolved_h: float | None = None, mitigated_h: float | None = None,
             factors: list[str] | None = None) -> None:
    resolved = start + timedelta(hours=resolved_h) if resolved_h is not None else None
    mitigated = start + timedelta(hours=mitigated_h) if mitigated_h is not None else None
    store.sql.execute(
        "INSERT INTO incidents (incident_id, service, severity, title, summary, impact_started_at, declared_at, "
        "mitigated_at, resolved_at, contributing_factors) VALUES (?, ?, 2, ?, NULL, ?, ?, ?, ?, ?)",
        [incident_id, service, title, start, start + timedelta(minutes=5), mitigated, resolved, factors])


def action(store: Store, incident_id: str, item_id: str, status: str, completed: datetime | None) -> None:
    store.sql.execute("INSERT INTO action_items VALUES (?, ?, 'prevent', 'team-a', ?, NULL, ?, ?)",
                      [incident_id, item_id, at(1, 1), completed, status])


def pool_incidents(store: Store) -> None:
    """Three checkout incidents about an exhausted database connection pool, one unrelated."""
    incident(store, "i1", "checkout", "Checkout database connection pool exhausted", at(1, 5), resolved_h=2)
    incident(store, "i2", "checkout", "Database connection pool exhausted again", at(4, 10), mitigated_h=1.5)
    incident(store, "i3", "checkout", "Checkout errors: connection pool exhausted", at(5, 20), resolved_h=0.5)
    incident(store, "i4", "checkout", "TLS certificate expired on the CDN", at(7, 1), resolved_h=9)
    action(store, "i1", "a1", "done", at(1, 20))
    action(store, "i1", "a2", "done", at(2, 1))
    action(store, "i2", "a3", "open", None)


def test_three_similar_incidents_form_one_pattern(store):
    pool_incidents(store)
    (p,) = recurring_patterns(store)
    assert (p.pattern_id, p.service, p.incident_ids) == ("P1", "checkout", ["i1", "i2", "i3"])
    assert p.responder_hours == pytest.approx(2 + 1.5 + 0.5)  # i2 has no resolved_at: mitigated counts
    assert p.open_incidents == 0
    assert set(p.terms) <= {"connection", "pool", "exhausted", "checkout", "database"}
    # per quarter up to the latest incident's (Q3, i4): 1, 2, 0 -> slope -0.5
    assert p.counts == [{"period": "2026-Q1", "incidents": 1}, {"period": "2026-Q2", "incidents": 2},
                        {"period": "2026-Q3", "incidents": 0}]
    assert p.direction == "falling"


def test_recurrence_after_the_action_items_were_closed(store):
    pool_incidents(store)
    (p,) = recurring_patterns(store)
    # i1's items were done by 1 Feb and i2 started 10 Apr: a recurrence. i3 follows i2, whose item is open.
    assert (p.recurred_after_closure, p.recurrences) == (True, ["i2"])


def test_no_recurrence_flag_without_closed_items(store):
    incident(store, "i1", "checkout", "Checkout database connection pool exhausted", at(1, 5), resolved_h=1)
    incident(store, "i2", "checkout", "Database connection pool exhausted again", at(4, 10), resolved_h=1)
    action(store, "i1", "a1", "done", at(4, 11))  # done after i2 started
    (p,) = recurring_patterns(store)
    assert (p.recurred_after_closure, p.recurrences, p.direction) == (False, [], "flat")  # 1 per quarter


def test_shared_factor_links_and_services_separate(store):
    incident(store, "i1", "search", "Index rebuild stalled", at(2, 1), factors=["config-change"])
    incident(store, "i2", "search", "Slow queries after rollout", at(2, 9), factors=["config-change"])
    incident(store, "i3", "cart", "Index rebuild stalled", at(2, 2))  # same words, other service
    (p,) = recurring_patterns(store)
    assert (p.incident_ids, p.factors, p.open_incidents, p.responder_hours) == (["i1", "i2"], ["config-change"],
                                                                                 2, 0.0)
    assert p.direction == "insufficient_data"  # one quarter only
    assert len(recurring_patterns(store, min_size=3)) == 0


def test_cli_patterns_json(workspace, workspace_store, cli):
    pool_incidents(workspace_store)
    workspace_store.close()
    result = cli(workspace, "incidents", "patterns", "--min-size", "3", "--json")
    assert result.exit_code == 0, result.output
    (p,) = json.loads(result.stdout)
    assert (p["pattern_id"], p["size"], p["responder_hours"], p["recurrences"]) == ("P1", 3, 4.0, ["i2"])
    table = cli(workspace, "incidents", "patterns")
    assert table.exit_code == 0 and "P1" in table.stdout


words = st.lists(st.sampled_from(["disk", "full", "checkout", "dns", "timeout", "the", "pool", "db"]), max_size=8)


@given(words.map(" ".join), words.map(" ".join), st.lists(words.map(" ".join), max_size=4))
def test_similarity_is_symmetric_bounded_and_one_for_identical_texts(a, b, corpus):
    s = similarity(a, b, corpus)
    assert 0.0 <= s <= 1.0
    assert s == pytest.approx(similarity(b, a, corpus))
    assert similarity(a, a, corpus) == (pytest.approx(1.0) if tokenize(a) else 0.0)


def test_tfidf_weights_rare_terms_higher():
    model = TfIdf(["disk full", "disk slow", "disk gone"])
    # idf(disk) = ln(4/4) + 1 = 1; idf(full) = ln(4/2) + 1 = 1.693; vector (1, 1.693) / 1.966
    assert model.vectors[0] == pytest.approx({"disk": 1 / 1.9663, "full": 1.6931 / 1.9663}, abs=1e-4)
    assert cosine(model.vectors[0], model.vectors[1]) == pytest.approx((1 / 1.9663) ** 2, abs=1e-4)
