"""Recurring patterns and the TF-IDF similarity they rest on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engmetrics.auth.roles import Principal, Role
from engmetrics.incidents.actions import action_follow_through
from engmetrics.incidents.patterns import recurring_patterns
from engmetrics.incidents.text import TfIdf, cosine, similarity, tokenize
from engmetrics.store import Store


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def incident(store: Store, incident_id: str, service: str | None, title: str, start: datetime, *,
             resolved_h: float | None = None, mitigated_h: float | None = None,
             factors: list[str] | None = None, confidentiality: str | None = None) -> None:
    resolved = start + timedelta(hours=resolved_h) if resolved_h is not None else None
    mitigated = start + timedelta(hours=mitigated_h) if mitigated_h is not None else None
    store.sql.execute(
        "INSERT INTO incidents (incident_id, service, severity, title, summary, impact_started_at, declared_at, "
        "mitigated_at, resolved_at, contributing_factors, confidentiality, team) "
        "VALUES (?, ?, 2, ?, NULL, ?, ?, ?, ?, ?, ?, 'team-a')",
        [incident_id, service, title, start, start + timedelta(minutes=5), mitigated, resolved, factors,
         confidentiality])


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
    assert set(p.terms) <= {"connection", "pool", "exhausted", "database"}  # "checkout" names the service
    # observed 5 Jan (i1) .. 1 Jul (i4): Q1 5 Jan - 31 Mar = 27 + 28 + 31 = 86 days, Q2 91, Q3 1 day
    assert [(c["period"], c["incidents"], c["days"]) for c in p.counts] == [
        ("2026-Q1", 1, 86), ("2026-Q2", 2, 91), ("2026-Q3", 0, 1)]
    assert [c["per_day"] for c in p.counts] == [pytest.approx(1 / 86), pytest.approx(2 / 91), 0.0]
    # Q3 (1 of 92 days) is too short to judge (the old count trend 1, 2, 0 read "falling");
    # 1/86 = 0.0116 -> 2/91 = 0.0220 a day: up 0.0104 > 10 % of the mean 3/177 = 0.0017
    assert p.direction == "rising"


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
    # Q2 is observed 1-10 Apr, 10 of 91 days: too short to judge, one judged quarter
    assert (p.recurred_after_closure, p.recurrences, p.direction) == (False, [], "insufficient_data")


def test_a_partial_last_period_is_compared_as_a_rate(store):
    for k, day in enumerate((at(1, 1), at(1, 20), at(2, 5), at(2, 15), at(3, 3))):
        incident(store, f"w{k}", "payments", "Webhook retries exhausted", day)
    incident(store, "dns", "edge", "DNS outage", at(3, 16))  # the latest start: observed until 16 Mar
    (p,) = recurring_patterns(store, period="month")
    # counts 2, 2, 1 (read "falling" before); days 31, 28, 16 (16 >= half of March's 31: judged)
    assert [(c["incidents"], c["days"]) for c in p.counts] == [(2, 31), (2, 28), (1, 16)]
    # rates 0.0645, 0.0714, 0.0625; weights 31, 28, 16: mean x = 60/75 = 0.8, mean rate 5/75 = 0.0667;
    # sum w (x - 0.8)(y - 0.0667) = 31 x -0.8 x -0.00215 + 28 x 0.2 x 0.00476 + 16 x 1.2 x -0.00417 = 0.0000
    assert p.direction == "flat"


def test_a_shared_factor_alone_does_not_link_but_lowers_the_threshold(store):
    incident(store, "i1", "search", "Index rebuild stalled", at(2, 1), factors=["config-change"])
    incident(store, "i2", "search", "Index queries slow", at(2, 9), factors=["config-change"])
    incident(store, "i3", "cart", "Index rebuild stalled", at(2, 2))  # same words, other service
    incident(store, "i4", "search", "Cache eviction storm", at(2, 3), factors=["config-change"])  # factor only
    # idf (n = 4): index ln(5/4) + 1 = 1.2231, rebuild and stalled ln(5/3) + 1 = 1.5108, queries and slow 1.9163
    # cos(i1, i2) = 1.2231² / (sqrt(1.2231² + 2 x 1.5108²) x sqrt(1.2231² + 2 x 1.9163²)) = 1.496 / 7.321 = 0.2044:
    # below 0.3, above 0.3 x 0.5 = 0.15 with the shared factor
    (p,) = recurring_patterns(store)
    assert (p.incident_ids, p.factors, p.open_incidents, p.responder_hours) == (["i1", "i2"], ["config-change"],
                                                                                 2, 0.0)
    assert p.direction == "insufficient_data"  # one quarter only
    assert recurring_patterns(store, threshold=0.45) == []  # 0.2044 < 0.225
    assert len(recurring_patterns(store, min_size=3)) == 0


def test_service_names_do_not_make_incidents_alike(store):
    store.sql.execute("INSERT INTO services (service, team, tier, depends_on) VALUES ('payments', 'team-a', 1, [])")
    incident(store, "c1", "checkout-api", "checkout-api: payments timeouts", at(2, 1))
    incident(store, "c2", "checkout-api", "Checkout API: payments disk full", at(2, 5))
    # without the names "checkout", "api" (its own) and "payments" (another service) they share no word:
    # before, 3 shared tokens of 4 and 5 linked them
    assert recurring_patterns(store) == []
    incident(store, "c3", "checkout-api", "checkout-api: disk full", at(2, 9))
    (p,) = recurring_patterns(store)
    assert (p.incident_ids, p.terms) == (["c2", "c3"], ["disk", "full"])


def test_a_pattern_with_an_unreadable_incident_is_left_out_for_that_reader(store):
    incident(store, "s1", "vault", "Zeta key rotation broke signing", at(2, 1), confidentiality="restricted")
    incident(store, "s2", "vault", "Zeta key rotation broke signing", at(2, 8))
    incident(store, "o1", "edge", "DNS resolver outage", at(2, 2))
    incident(store, "o2", "edge", "DNS resolver outage again", at(2, 9))
    assert [p.incident_ids for p in recurring_patterns(store)] == [["s1", "s2"], ["o1", "o2"]]
    viewer = recurring_patterns(store, reader=Principal("t", Role.viewer))
    assert [(p.pattern_id, p.incident_ids) for p in viewer] == [("P1", ["o1", "o2"])]
    assert len(recurring_patterns(store, reader=Principal("t", Role.auditor))) == 2


def test_cli_patterns_as_role_and_markup(workspace, workspace_store, cli):
    store = workspace_store
    incident(store, "s1", "vault", "Zeta key rotation broke signing", at(2, 1), confidentiality="restricted",
             factors=["[/x] secret"])
    incident(store, "s2", "vault", "Zeta key rotation broke signing", at(2, 8), factors=["[/x] secret"])
    incident(store, "o1", "[edge]", "DNS resolver outage", at(2, 2), factors=["[/bold] dns"])
    incident(store, "o2", "[edge]", "DNS resolver outage again", at(2, 9), factors=["[/bold] dns"])
    store.close()
    owner = cli("incidents", "patterns")  # crashed with MarkupError on "[/x]"
    assert owner.exit_code == 0, owner.output
    assert "[/x]" in owner.stdout and "[/bold]" in owner.stdout and "[edge]" in owner.stdout  # printed as text
    for args in (("--json",), ()):
        viewer = cli("incidents", "patterns", "--as-role", "viewer", *args)
        assert viewer.exit_code == 0, viewer.output
        assert "zeta" not in viewer.stdout.lower() and "secret" not in viewer.stdout and "o1" in viewer.stdout
    bad = cli("incidents", "patterns", "--team", "a")
    assert bad.exit_code == 1 and "--as-role" in bad.output


def test_patterns_and_actions_share_what_done_means(store):
    incident(store, "i1", "checkout", "Database connection pool exhausted", at(1, 5))
    incident(store, "i2", "checkout", "Database connection pool exhausted again", at(4, 10))
    action(store, "i1", "a1", "done", None)  # done, but undated: counts as done, cannot date a closure
    (team,) = action_follow_through(store, now=at(5, 1))
    assert team.done == 1
    assert recurring_patterns(store)[0].recurrences == []


def test_unicode_text_is_tokenized_as_words():
    assert tokenize("Störung über München") == ["störung", "über", "münchen"]  # was st, rung, ber, nchen
    model = TfIdf(["Störung in München", "Störung in Köln"], exclude={"münchen", "köln"})
    assert cosine(model.vectors[0], model.vectors[1]) == pytest.approx(1.0)


def test_cli_patterns_json(workspace, workspace_store, cli):
    pool_incidents(workspace_store)
    workspace_store.close()
    result = cli("incidents", "patterns", "--min-size", "3", "--json")
    assert result.exit_code == 0, result.output
    (p,) = json.loads(result.stdout)
    assert (p["pattern_id"], p["size"], p["responder_hours"], p["recurrences"]) == ("P1", 3, 4.0, ["i2"])
    table = cli("incidents", "patterns")
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
