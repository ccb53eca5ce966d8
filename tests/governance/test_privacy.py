"""Privacy guardrails of individual-level indicators: approval, group size with complementary suppression,
delay, grain, and a person's own numbers (hand-checked against tests/governance/privacy_data.py)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engmetrics.catalog.evaluate import evaluate, evaluate_own
from engmetrics.catalog.loader import Catalog, Definition
from engmetrics.catalog.model import Indicator
from engmetrics.errors import InputError
from engmetrics.governance.board import ReviewBoard, approve, propose
from engmetrics.governance.privacy import Cell, delayed_as_of, person_column, suppress
from engmetrics.ingest.pseudonym import pseudonym
from engmetrics.settings import PrivacySettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from privacy_data import BOARD, INDIVIDUAL, load_people_and_changes

KEY = bytes(range(32))  # tests/conftest.py's ingest key
AS_OF, TODAY = date(2026, 3, 31), date(2026, 4, 10)


def _catalog(board: ReviewBoard | None = None, **changes) -> Catalog:
    ind = Indicator.model_validate({**INDIVIDUAL, **changes})
    return Catalog(definitions=[Definition(ind, "metrics/people.yaml", 1)], review_board=board)


def _approved(store, **changes) -> Catalog:
    catalog = _catalog(ReviewBoard.model_validate(BOARD), **changes)
    ind = catalog.definitions[0].indicator
    propose(store, catalog.review_board, ind, "dee")
    approve(store, catalog.review_board, ind, "ana", "weekly, per team, groups of five")
    return catalog


@pytest.fixture
def org(store, ingest, write):
    load_people_and_changes(ingest, write)
    return store


def _rows(results) -> dict:
    return {r.group: (r.value, r.status, r.people, r.sample_size, r.previous, r.previous_status) for r in results}


# --- the pure suppression rule ------------------------------------------------------------------------------


def test_a_group_of_four_is_suppressed_and_not_derivable_from_the_total():
    cells = [Cell("a", 10.0, 6, 10), Cell("b", 3.0, 4, 3), Cell("c", 12.0, 7, 12), Cell(None, 25.0, 17, 25)]
    out = suppress(cells, 5)
    assert [(c.group, c.value, c.sample_size, c.suppressed) for c in out] == [
        ("a", None, 0, True), ("b", None, 0, True), ("c", 12.0, 12, False), (None, 25.0, 25, False)]
    # what a reader can derive: 25 - 12 = 13 = a + b (10 people), not b's 3
    assert 25.0 - 12.0 == 13.0 != 3.0


@pytest.mark.parametrize(("cells", "hidden"), [
    ([Cell("a", 1.0, 5), Cell("b", 2.0, 9), Cell(None, 3.0, 14)], set()),  # everyone >= 5: nothing hidden
    ([Cell("a", 1.0, 3), Cell("b", 2.0, 3), Cell("c", 4.0, 9), Cell(None, 7.0, 15)], {"a", "b"}),  # 3+3 >= 5
    # 2+2 < 5: the smallest published (d, 6 people) goes too; c (9) stays
    ([Cell("a", 1.0, 2), Cell("b", 2.0, 2), Cell("c", 4.0, 9), Cell("d", 5.0, 6), Cell(None, 12.0, 19)],
     {"a", "b", "d"}),
    ([Cell("a", 1.0, 2), Cell("b", 1.0, 2), Cell(None, 2.0, 4)], {"a", "b", None}),  # the total is 4 people
    ([Cell("a", None, 2), Cell("b", 3.0, 8), Cell(None, 3.0, 10)], set()),  # no value: nothing to hide
])
def test_suppression_cases(cells, hidden):
    assert {c.group for c in suppress(cells, 5) if c.suppressed} == hidden


@given(st.lists(st.tuples(st.integers(1, 12), st.integers(0, 50)), min_size=1, max_size=8),
       st.integers(2, 7), st.integers(0, 3))
def test_suppressed_cells_cannot_be_recovered_from_the_total(teams, k, unassigned):
    cells = [Cell(f"t{i}", float(v), n) for i, (n, v) in enumerate(teams)]
    total = Cell(None, float(sum(v for _, v in teams)), sum(n for n, _ in teams) + unassigned)
    out = suppress([*cells, total], k)
    assert all(c.people >= k for c in out if not c.suppressed)
    hidden = [c for c in out if c.suppressed and c.group is not None]
    if not out[-1].suppressed and hidden:  # total - sum(published) covers the hidden cells together
        assert sum(c.people for c in hidden) >= k
        assert len(hidden) >= 2 or hidden[0].people >= k
    assert all(c.value is None and c.sample_size == 0 for c in out if c.suppressed)


# --- evaluation ---------------------------------------------------------------------------------------------


def test_refused_without_an_approval_then_computed_after_it(org):
    for catalog in (_catalog(), _catalog(ReviewBoard.model_validate(BOARD))):  # no board; board, no decision
        [result] = evaluate(org, catalog, AS_OF, today=TODAY)
        assert (result.group, result.value, result.status, result.sample_size, result.previous_status) == (
            None, None, "not_approved", 0, "not_approved")
    approved = _approved(org)
    assert _rows(evaluate(org, approved, AS_OF, today=TODAY)) == {
        # week 03-25..31: 18 changes by 17 people; search (4 people) hidden, payments (6) hidden with it
        None: (18.0, "green", 17, 18, 6.0, "green"),
        "payments": (None, "suppressed", None, 0, None, "no_data"),
        # week 03-18..24: search (1 person) and platform (5) both hidden, the total of 6 people shown
        "platform": (7.0, "green", 7, 7, None, "suppressed"),
        "search": (None, "suppressed", None, 0, None, "suppressed"),
    }


def test_a_changed_definition_needs_a_new_approval(org):
    approved = _approved(org)
    changed = Catalog(definitions=[Definition(approved.definitions[0].indicator.model_copy(
        update={"name": "Changes per author (renamed)", "tags": ["x"]}), "m.yaml", 1)],
        review_board=approved.review_board)
    assert [r.status for r in evaluate(org, changed, AS_OF, today=TODAY)] == ["not_approved"]


def test_daily_grain_is_refused_even_when_approved(org):
    catalog = _approved(org, cadence="daily")
    [result] = evaluate(org, catalog, AS_OF, today=TODAY)
    assert (result.status, result.value, result.period_start, result.period_end) == (
        "refused_grain", None, AS_OF, AS_OF)


def test_only_data_older_than_the_delay(org):
    catalog = _approved(org)
    # today 04-03, 7 days' delay: as-of 03-31 becomes 03-27, week 03-21..27 (no changes), before 03-14..20
    [total, *teams] = evaluate(org, catalog, AS_OF, today=date(2026, 4, 3))
    assert (total.period_start, total.period_end, total.as_of) == (date(2026, 3, 21), date(2026, 3, 27), AS_OF)
    assert (total.value, total.status, total.previous, total.previous_status) == (None, "no_data", 6.0, "green")
    assert {t.group: t.previous_status for t in teams} == {"platform": "suppressed", "search": "suppressed"}
    # no delay configured: the week asked for
    [total, *_] = evaluate(org, catalog, AS_OF, today=date(2026, 4, 1),
                           privacy=PrivacySettings(individual_delay_days=0))
    assert (total.period_end, total.value) == (AS_OF, 18.0)


def test_delayed_as_of():
    assert delayed_as_of(date(2026, 3, 31), date(2026, 4, 10), PrivacySettings()) == date(2026, 3, 31)
    assert delayed_as_of(date(2026, 3, 31), date(2026, 4, 1), PrivacySettings()) == date(2026, 3, 25)


def test_min_group_size_setting(org):
    rows = _rows(evaluate(org, _approved(org), AS_OF, today=TODAY, privacy=PrivacySettings(min_group_size=4)))
    assert rows["search"] == (4.0, "red", 4, 4, None, "suppressed")  # 4 people now enough; 1 before is not
    assert rows["payments"] == (7.0, "green", 6, 7, None, "no_data")


def test_person_column_prefers_group_by_then_the_subject():
    calc = Indicator.model_validate(INDIVIDUAL).calculation
    assert person_column(calc) == "author"
    feedback = calc.model_copy(update={"dataset": "feedback", "group_by": None})
    assert person_column(feedback) == "ratee"
    assert person_column(calc.model_copy(update={"dataset": "deployments", "group_by": None})) is None


# --- a person's own numbers ---------------------------------------------------------------------------------


def test_own_value_is_that_person_only(org):
    catalog = _approved(org)
    mine = evaluate_own(org, catalog, "changes_per_author", pseudonym("p1", KEY), AS_OF, today=TODAY)
    # p1: two changes on 03-30, none in 03-18..24 (a covered week: 0)
    assert (mine.value, mine.previous, mine.status, mine.group, mine.people) == (2.0, 0.0, "red", None, None)
    theirs = evaluate_own(org, catalog, "changes_per_author", pseudonym("s1", KEY), AS_OF, today=TODAY)
    assert (theirs.value, theirs.previous) == (1.0, 1.0)
    refused = evaluate_own(org, _catalog(), "changes_per_author", pseudonym("p1", KEY), AS_OF, today=TODAY)
    assert (refused.status, refused.value) == ("not_approved", None)


def test_own_value_needs_an_individual_indicator(org):
    team = _catalog(audience="team", calculation={"dataset": "changes", "measure": {"type": "count"}})
    with pytest.raises(InputError, match="not an individual-level indicator"):
        evaluate_own(org, team, "changes_per_author", pseudonym("p1", KEY), AS_OF, today=TODAY)


# --- GET /api/v1/me/indicators/{metric} ---------------------------------------------------------------------


@pytest.fixture
def me_client(org, tmp_path, monkeypatch):
    """An app over `org` whose workspace holds the individual indicator (approved) and the board; the
    router is added here until engmetrics.api.routes registers it."""
    import yaml
    from fastapi.testclient import TestClient

    from engmetrics.api import app as app_module
    from engmetrics.api import create_app
    from engmetrics.api.routes import me
    from engmetrics.settings import Settings

    if me.router not in app_module.API_ROUTERS:
        monkeypatch.setattr(app_module, "API_ROUTERS", [*app_module.API_ROUTERS, me.router])
    root = tmp_path / "ws"
    for sub in ("metrics", "policies", ".engmetrics"):
        (root / sub).mkdir(parents=True)
    (root / "metrics" / "people.yaml").write_text(yaml.safe_dump({"indicators": [INDIVIDUAL]}))
    (root / "policies" / "review_board.yaml").write_text(yaml.safe_dump(BOARD))
    (root / ".engmetrics" / "pseudonym.key").write_text(KEY.hex() + "\n")
    _approved(org)
    return TestClient(create_app(Settings(workspace=root), store=org))


def _bearer(store, role: str = "viewer", user: str | None = None) -> dict[str, str]:
    from engmetrics.auth.tokens import create_token

    return {"Authorization": f"Bearer {create_token(store, role, user=user).token}"}


def test_me_endpoint_shows_only_the_tokens_own_person(org, me_client):
    url, params = "/api/v1/me/indicators/changes_per_author", {"as_of": "2026-03-31"}
    p1 = me_client.get(url, params=params, headers=_bearer(org, user="p1"))
    assert p1.status_code == 200, p1.text
    body = p1.json()
    assert (body["value"], body["previous"], body["status"], body["group"]) == (2.0, 0.0, "red", None)
    assert (body["period_start"], body["period_end"]) == ("2026-03-25", "2026-03-31")
    t3 = me_client.get(url, params=params, headers=_bearer(org, "manager", user="t3")).json()
    assert (t3["value"], t3["previous"]) == (1.0, 1.0)
    nobody = me_client.get(url, params=params, headers=_bearer(org))
    assert nobody.status_code == 400 and "names no person" in nobody.json()["detail"]
    assert me_client.get("/api/v1/me/indicators/nope", headers=_bearer(org, user="p1")).status_code == 404
    from engmetrics.governance import audit

    reads = audit.entries(org, action="read.individual")
    assert [(e.actor, e.target) for e in reads] == [("p1", "changes"), ("t3", "changes")]
