"""Usage counting (`engmetrics.insights.usage`) and view recording through the API and the web pages (real
TestClient requests against the API tests' app: `deploys`, `failures`, `incidents`; tests/api/conftest.py)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import api.conftest as api_setup
from engmetrics.auth.tokens import create_token
from engmetrics.catalog.loader import Catalog
from engmetrics.insights.decisions import Decision, add_decision
from engmetrics.insights.marks import mark
from engmetrics.insights.usage import Usage, record_view, usage
from engmetrics.store import Store

# The API tests' app and workspace (tests/api/conftest.py), as fixtures of this module.
api_store, app, auth, client, settings, tokens = (api_setup.api_store, api_setup.app, api_setup.auth,
                                                  api_setup.client, api_setup.settings, api_setup.tokens)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _views(store: Store) -> list[tuple]:
    return store.sql.execute("SELECT metric, channel, actor FROM _views ORDER BY metric, channel").fetchall()


def _findings(store: Store, *rows: tuple[str, str | None, str]) -> None:
    """Anomaly findings (finding_id, metric, detected_at) with the other columns filled in."""
    for finding_id, metric, detected in rows:
        store.sql.execute(
            "INSERT INTO _anomaly_findings (finding_id, series, source, metric, method, direction, start_at, end_at, "
            "score, detected_at) VALUES (?, 's', 'metric', ?, 'mad', 'up', ?, ?, 3, ?)",
            [finding_id, metric, detected, detected, detected])


def _sent(store: Store, *rows: tuple[str, str, str]) -> None:
    """Notifications delivered: (key, channel, sent_at)."""
    for row in rows:
        store.sql.execute("INSERT INTO _notifications VALUES (?, ?, ?)", list(row))


def test_usage_counts_views_and_decisions_in_the_period(store):
    # period 2026-03-01..2026-03-31: instants 2026-03-01T00:00Z <= t < 2026-04-01T00:00Z
    for at, metric, channel in [(T0, "a", "api"), (T0 + timedelta(days=30, hours=23), "a", "web"),
                                (T0 + timedelta(days=2), "a", "api"), (T0 + timedelta(days=31), "a", "api"),
                                (T0 - timedelta(seconds=1), "b", "web")]:
        assert record_view(store, metric, channel, now=at)
    catalog = Catalog()
    add_decision(store, catalog, Decision("D1", date(2026, 3, 31), "x", metrics=["a", "b"]), allow_unknown=True)
    add_decision(store, catalog, Decision("D2", date(2026, 4, 1), "y", metrics=["a"]), allow_unknown=True)
    got = usage(store, date(2026, 3, 1), date(2026, 3, 31))
    # a: api views on 03-01 and 03-03 (not 04-01), a web view on 03-31 23:00; D1 only
    assert got["a"] == Usage(views_api=2, views_web=1, decisions=1)
    # b: its view is a second before the period; D1
    assert got["b"] == Usage(decisions=1)
    assert _views(store)[0] == ("a", "api", None)  # no actor is ever stored


def test_alerts_count_findings_that_reached_someone(store):
    # period 2026-03-01..2026-03-31
    _findings(store, ("f1", "b", "2026-03-02 00:00:00+00"), ("f2", None, "2026-03-02 00:00:00+00"),
              ("f3", "b", "2026-04-02 00:00:00+00"), ("f4", "c", "2026-03-09 00:00:00+00"),
              ("f5", "c", "2026-03-09 00:00:00+00"), ("f6", "d", "2026-03-19 00:00:00+00"),
              ("f7", "d", "2026-03-05 00:00:00+00"), ("f8", "e", "2026-02-26 00:00:00+00"),
              ("f9", "e", "2026-03-03 00:00:00+00"), ("f10", "g", "2026-02-01 00:00:00+00"))
    _sent(store, ("anomaly:f1", "slack", "2026-03-05 00:00:00+00"), ("anomaly:f1", "pager", "2026-03-05 00:01:00+00"),
          ("anomaly:f2", "slack", "2026-03-05 00:00:00+00"), ("anomaly:f3", "slack", "2026-04-02 08:00:00+00"),
          ("anomaly:f4", "slack", "2026-03-10 00:00:00+00"), ("anomaly:f7", "slack", "2026-03-06 00:00:00+00"),
          ("anomaly:f8", "slack", "2026-02-27 00:00:00+00"), ("anomaly:f9", "slack", "2026-03-04 00:00:00+00"),
          ("anomaly:f10", "slack", "2026-02-01 00:00:00+00"),
          # keys that merely contain an indicator id are about an SLO or a budget, not an indicator
          ("slo:a:fast-burn", "slack", "2026-03-05 00:00:00+00"),
          ("budget:b:2026-03-01:forecast:80", "slack", "2026-03-05 00:00:00+00"))
    mark(store, "f4", "false_positive", actor="alice", at=datetime(2026, 3, 11, tzinfo=UTC))
    mark(store, "f6", "acknowledged", actor="alice", at=datetime(2026, 3, 20, tzinfo=UTC))
    mark(store, "f7", "acknowledged", actor="alice", at=datetime(2026, 3, 7, tzinfo=UTC))
    mark(store, "f8", "acknowledged", actor="alice", at=datetime(2026, 3, 3, tzinfo=UTC))
    mark(store, "f9", "acknowledged", actor="alice", at=datetime(2026, 4, 2, tzinfo=UTC))
    mark(store, "f10", "acknowledged", actor="alice", at=datetime(2026, 2, 2, tzinfo=UTC))
    got = usage(store, date(2026, 3, 1), date(2026, 3, 31))
    # b: f1 notified on 03-05 (two webhooks: one alert); f3 was sent in April; f2 is on no indicator
    # c: f4 was notified but marked a false positive; f5 was neither notified nor acknowledged: no alert
    # d: f6 acknowledged 03-20 (never notified) + f7 notified 03-06 and acknowledged 03-07 (once) = 2
    # e: f8 notified in February, acknowledged 03-03 + f9 notified 03-04, acknowledged in April = 2
    # g: f10 notified and acknowledged in February; a and b are not alerted by the slo/budget keys
    assert got == {"b": Usage(alerts=1), "d": Usage(alerts=2), "e": Usage(alerts=2)}


def test_a_failed_record_is_logged_not_raised(tmp_path, caplog):
    path = tmp_path / "s.duckdb"
    Store.open(f"duckdb:///{path}").close()
    with Store.open(f"duckdb:///{path}", read_only=True) as read_only, caplog.at_level(logging.WARNING):
        assert record_view(read_only, "deploys", "web") is False
    assert "could not record a web view of deploys" in caplog.text
    with pytest.raises(ValueError, match="channel must be one of api, web"):
        record_view(read_only, "deploys", "email")


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]), st.sampled_from(["api", "web"]),
                          st.integers(min_value=-3 * 86400, max_value=13 * 86400)), max_size=30))
def test_views_in_the_window_are_counted_once_each(events):
    with Store.open("duckdb://") as store:
        for metric, channel, seconds in events:
            record_view(store, metric, channel, now=T0 + timedelta(seconds=seconds))
        got = usage(store, date(2026, 3, 1), date(2026, 3, 7))  # [0, 7 days) from T0
    inside = Counter((m, c) for m, c, s in events if 0 <= s < 7 * 86400)
    assert {m: (u.views_api, u.views_web) for m, u in got.items()} == {
        m: (inside[(m, "api")], inside[(m, "web")]) for m in {m for m, _ in inside}}


def test_api_views_of_one_indicator_are_recorded(client, auth, api_store):
    assert client.get("/api/v1/indicators/deploys", headers=auth("viewer")).status_code == 200
    assert client.get("/api/v1/indicators/nope", headers=auth("viewer")).status_code == 404  # no view of nothing
    assert client.get("/api/v1/indicators", headers=auth("viewer")).status_code == 200  # a list is no view
    values = client.get("/api/v1/metrics", params=[("metric", "failures"), ("metric", "deploys"),
                                                    ("metric", "failures"), ("as_of", "2026-03-31")],
                        headers=auth("manager"))
    assert values.status_code == 200
    assert client.get("/api/v1/metrics", params={"as_of": "2026-03-31"}, headers=auth("manager")).status_code == 200
    # show deploys; the values of failures and deploys (failures named twice: one view)
    assert _views(api_store) == [("deploys", "api", None), ("deploys", "api", None), ("failures", "api", None)]
    today = datetime.now(UTC).date()
    assert usage(api_store, today - timedelta(days=1), today)["deploys"] == Usage(views_api=2)


def test_values_left_out_of_the_answer_are_no_views(client, auth, settings, api_store):
    # deployments (behind deploys and failures) readable by managers only; incidents is grouped by team
    (settings.workspace / "policies").mkdir(exist_ok=True)
    (settings.workspace / "policies" / "access.yaml").write_text("datasets:\n  deployments: [manager]\n")
    outsider = create_token(api_store, "team-member", ["platform"], description="no incidents").token
    named = [("metric", "deploys"), ("metric", "incidents"), ("as_of", "2026-03-31")]
    viewer = client.get("/api/v1/metrics", params=named, headers=auth("viewer"))
    assert {r["metric"] for r in viewer.json()} == {"incidents"}  # deploys left out by the access policy
    # team `platform` has no incident rows (payments and search have): nothing of incidents is shown to it
    scoped = client.get("/api/v1/metrics", params=named[1:], headers={"Authorization": f"Bearer {outsider}"})
    assert scoped.status_code == 200 and scoped.json() == []
    # the `payments` team-member sees its team's incidents row: a view
    member = client.get("/api/v1/metrics", params=named[1:], headers=auth("team-member"))
    assert [(r["metric"], r["group"]) for r in member.json()] == [("incidents", "payments")]
    assert _views(api_store) == [("incidents", "api", None), ("incidents", "api", None)]  # viewer's, member's


def test_web_views_of_the_indicator_page_are_recorded(client, tokens, api_store):
    client.post("/login", data={"token": tokens["viewer"], "next": "/"}, follow_redirects=False)
    assert client.get("/indicators/deploys", params={"as_of": "2026-03-31"}).status_code == 200
    assert client.get("/indicators/nope").status_code == 404
    assert client.get("/catalog").status_code == 200
    assert _views(api_store) == [("deploys", "web", None)]
