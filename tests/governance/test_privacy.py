"""Privacy guardrails of individual-level indicators: approval, group size with complementary suppression,
delay, grain on calendar periods, and a person's own numbers (hand-checked against
tests/governance/privacy_data.py). Also the approval gate for person filters, people behind ratios, statuses
without thresholds, and results kept under a legal hold.

AS_OF (Tuesday 2026-03-31) is moved back to Sunday 03-29: the week evaluated is 03-23..29, the one before
03-16..22."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engmetrics.catalog.evaluate import evaluate, evaluate_own, save_results
from engmetrics.catalog.loader import Catalog, Definition
from engmetrics.catalog.model import Indicator
from engmetrics.errors import InputError
from engmetrics.governance.board import ReviewBoard, approval_reasons, approve, needs_approval, propose
from engmetrics.governance.holds import place_hold, release_hold
from engmetrics.governance.privacy import Cell, calendar_end, delayed_as_of, person_column, published_as_of, suppress
from engmetrics.ingest.pseudonym import pseudonym
from engmetrics.settings import PrivacySettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from privacy_data import BOARD, INDIVIDUAL, load_people_and_changes, write_people_workspace

KEY = bytes(range(32))  # tests/conftest.py's ingest key
AS_OF, TODAY = date(2026, 3, 31), date(2026, 4, 10)


def _catalog(board: ReviewBoard | None = None, **changes) -> Catalog:
    ind = Indicator.model_validate({**INDIVIDUAL, **changes})
    return Catalog(definitions=[Definition(ind, "metrics/people.yaml", 1)], review_board=board)


def _approved(store, at: datetime | None = None, **changes) -> Catalog:
    catalog = _catalog(ReviewBoard.model_validate(BOARD), **changes)
    ind = catalog.definitions[0].indicator
    propose(store, catalog.review_board, ind, "dee", at=at)
    approve(store, catalog.review_board, ind, "ana", "weekly, per team, groups of five", at=at)
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
    # no value (min_sample) but 2 people's rows inside the total: hidden, and b with it so 10 people cover it
    ([Cell("a", None, 2, 2), Cell("b", 3.0, 8), Cell(None, 3.0, 10)], {"a", "b"}),
    ([Cell("a", None, 0, 2), Cell("b", 3.0, 8), Cell(None, 5.0, 8)], {"a", "b"}),  # rows, nobody counted
    ([Cell("a", None, 0, 0), Cell("b", 3.0, 8), Cell(None, 3.0, 8)], set()),  # no rows at all: nothing to hide
    ([Cell("a", 1.0, 2), Cell("b", None, 8, 8), Cell(None, None, 10, 10)], {"a", "b"}),  # no values: sizes too
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
    results = evaluate(org, approved, AS_OF, today=TODAY)
    assert {(r.period_start, r.period_end, r.as_of) for r in results} == {(date(2026, 3, 23), date(2026, 3, 29), AS_OF)}
    assert _rows(results) == {
        # week 03-23..29: 18 changes by 17 people; search (4 people) hidden, payments (6) hidden with it
        None: (18.0, "green", 17, 18, 6.0, "green"),
        "payments": (None, "suppressed", None, 0, None, "no_data"),
        # week 03-16..22: search (1 person) and platform (5) both hidden, the total of 6 people shown
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
    # today 04-03, 7 days' delay: as-of 03-31 becomes 03-27, then the week ending Sunday 03-22: 03-16..22
    # (6 changes by 6 people: platform 5 and search 1 both hidden); before it 03-09..15, no changes
    [total, *teams] = evaluate(org, catalog, AS_OF, today=date(2026, 4, 3))
    assert (total.period_start, total.period_end, total.as_of) == (date(2026, 3, 16), date(2026, 3, 22), AS_OF)
    assert (total.value, total.status, total.people, total.previous, total.previous_status) == (
        6.0, "green", 6, None, "no_data")
    assert {t.group: (t.status, t.previous_status) for t in teams} == {
        "platform": ("suppressed", "no_data"), "search": ("suppressed", "no_data")}
    # no delay configured: the last complete week on or before 04-01, 03-23..29
    [total, *_] = evaluate(org, catalog, AS_OF, today=date(2026, 4, 1),
                           privacy=PrivacySettings(individual_delay_days=0))
    assert (total.period_end, total.value) == (date(2026, 3, 29), 18.0)


@pytest.mark.parametrize("min_sample", [2, 5])
def test_cells_without_a_value_are_hidden_and_counted(org, min_sample):
    """review A #1: a team whose value is None for `min_sample` still has rows in the total. min_sample 5: search
    (4 changes by 4 people) has no value; shown with its 4 rows, 18 - 7 - 7 = 4 gave it away. min_sample 2: in
    the week before, search is s1 alone (1 change), and 6 - platform's 5 gave s1's number."""
    calc = {**INDIVIDUAL["calculation"], "min_sample": min_sample}
    rows = _rows(evaluate(org, _approved(org, calculation=calc), AS_OF, today=TODAY))
    assert rows == {
        None: (18.0, "green", 17, 18, 6.0, "green"),
        "payments": (None, "suppressed", None, 0, None, "no_data"),  # hidden with search: 4 + 6 people
        "platform": (7.0, "green", 7, 7, None, "suppressed"),  # hidden before with search: 1 + 5 people
        "search": (None, "suppressed", None, 0, None, "suppressed"),
    }
    [search] = [r for r in evaluate(org, _approved(org, calculation=calc, id="again"), AS_OF, today=TODAY)
                if r.group == "search"]
    assert (search.sample_size, search.previous_sample_size, search.people) == (0, 0, None)


def test_grain_cannot_be_beaten_by_moving_the_as_of_date(org):
    """review A #4: weekly windows ending on consecutive days differ by one day's changes in and one out.
    Every as-of date now gives a whole ISO week (Monday..Sunday): 03-23..28 the week 03-16..22, 03-29..31 the
    week 03-23..29; a daily value cannot be recovered."""
    catalog = _approved(org)
    totals = {d: evaluate(org, catalog, date(2026, 3, d), today=date(2026, 5, 1))[0] for d in range(23, 32)}
    assert {d: (t.period_start.day, t.period_end.day, t.value) for d, t in totals.items()} == {
        **{d: (16, 22, 6.0) for d in range(23, 29)}, **{d: (23, 29, 18.0) for d in range(29, 32)}}
    monthly = _approved(org, id="changes_monthly", cadence="monthly")
    [march, *_] = evaluate(org, monthly, AS_OF, today=date(2026, 5, 1))
    # March: 18 + 6 changes by 17 people (t1..t5 and s1 in both weeks); February: none
    assert (march.period_start, march.period_end, march.value, march.people, march.previous) == (
        date(2026, 3, 1), AS_OF, 24.0, 17, None)
    [february, *_] = evaluate(org, monthly, date(2026, 3, 30), today=date(2026, 5, 1))
    assert (february.period_start, february.period_end, february.value) == (date(2026, 2, 1), date(2026, 2, 28), None)


def test_calendar_end():
    assert [calendar_end("weekly", date(2026, 3, d)) for d in (28, 29, 30)] == [
        date(2026, 3, 22), date(2026, 3, 29), date(2026, 3, 29)]  # Saturday, Sunday, Monday
    assert calendar_end("monthly", date(2026, 1, 31)) == date(2026, 1, 31)
    assert calendar_end("monthly", date(2026, 1, 30)) == date(2025, 12, 31)
    assert calendar_end("quarterly", date(2026, 6, 29)) == date(2026, 3, 31)
    assert calendar_end("quarterly", date(2026, 12, 31)) == date(2026, 12, 31)
    assert calendar_end("daily", date(2026, 3, 31)) == date(2026, 3, 31)
    # the delay first (04-08 - 7 = 04-01, a Wednesday), then the week ending Sunday 03-29
    assert published_as_of("weekly", date(2026, 4, 5), date(2026, 4, 8), PrivacySettings()) == date(2026, 3, 29)


def test_a_filter_on_a_person_column_needs_approval(org):
    """review A #5: an `audience: team` count filtered on one author is that person's number."""
    one = pseudonym("p1", KEY)
    count = {"dataset": "changes", "measure": {"type": "count"}}
    filtered = _catalog(id="p1_changes", audience="team",
                        calculation={**count, "filters": [{"column": "author", "op": "eq", "value": one}]})
    ind = filtered.definitions[0].indicator
    assert approval_reasons(ind) == ["filtered on the person column author"]
    [result] = evaluate(org, filtered, AS_OF, today=TODAY)
    assert (result.value, result.status) == (None, "not_approved")  # was 2.0 (p1's two changes)
    ratio = {"dataset": "changes", "measure": {"type": "ratio", "numerator": {"type": "count", "filters": [
        {"column": "author", "op": "in", "value": [one]}]}, "denominator": {"type": "count"}}}
    assert needs_approval(Indicator.model_validate({**INDIVIDUAL, "audience": "team", "calculation": ratio}))
    with_author = {**count, "filters": [{"column": "author", "op": "not_null"}]}
    assert not needs_approval(Indicator.model_validate({**INDIVIDUAL, "audience": "team", "calculation": with_author}))


def test_people_behind_a_ratio_count_the_numerator_too(store, ingest, write):
    """review A #11: 3 lib changes by b1..b3 over 2 app changes by a1, a2. The value 1.5 is about 5 people;
    counted over the denominator only it was 2, and the cells were hidden."""
    ingest("changes", write("changes.csv", "change_id,repo,author,created_at\n" + "".join(
        f"{a},{'lib' if a[0] == 'b' else 'app'},{a},2026-03-26T10:00:00Z\n" for a in ("a1", "a2", "b1", "b2", "b3"))))
    lib, app = ({"type": "count", "filters": [{"column": "repo", "op": "eq", "value": r}]} for r in ("lib", "app"))
    calc = {"dataset": "changes", "group_by": "author",
            "measure": {"type": "ratio", "numerator": lib, "denominator": app}}
    rows = _rows(evaluate(store, _approved(store, calculation=calc), AS_OF, today=TODAY))
    # nobody has a team: one team "(null)" with everyone, and the organisation; sample size = denominator rows
    assert rows == {None: (1.5, "red", 5, 2, None, "no_data"), "(null)": (1.5, "red", 5, 2, None, "no_data")}


def test_an_indicator_without_thresholds_has_a_status(org):
    """review A #6: an approved `proposed` indicator has no thresholds; rag_status crashed (a 500 on /me)."""
    catalog = _approved(org, thresholds=None, status="proposed")
    mine = evaluate_own(org, catalog, "changes_per_author", pseudonym("p1", KEY), AS_OF, today=TODAY)
    assert (mine.value, mine.status, mine.previous, mine.previous_status) == (
        2.0, "no_thresholds", 0.0, "no_thresholds")
    rows = _rows(evaluate(org, catalog, AS_OF, today=TODAY, metrics=["changes_per_author"]))
    assert rows[None] == (18.0, "no_thresholds", 17, 18, 6.0, "no_thresholds")
    assert rows["payments"][1] == "suppressed" and rows["payments"][5] == "no_data"


def test_approvals_count_only_up_to_approvals_at(org):
    catalog = _approved(org, at=datetime(2026, 4, 1, 12, tzinfo=UTC))
    before = evaluate(org, catalog, AS_OF, today=TODAY, approvals_at=datetime(2026, 4, 1, 11, tzinfo=UTC))
    assert [r.status for r in before] == ["not_approved"]
    after = evaluate(org, catalog, AS_OF, today=TODAY, approvals_at=datetime(2026, 4, 1, 12, tzinfo=UTC))
    assert after[0].value == 18.0


def _stored(store) -> list[tuple]:
    return store.sql.execute("SELECT period_start, value FROM _metric_results WHERE \"group\" IS NULL "
                             "ORDER BY period_start").fetchall()


def test_save_results_keeps_rows_under_a_legal_hold(org):
    """review B #5: evaluated again later, as-of 03-31 moves from the week 03-16..22 (6 changes; today 04-03,
    within the delay) to 03-23..29 (18). Without a hold the row is replaced; under a hold both stay."""
    catalog = _approved(org)
    early, late = (evaluate(org, catalog, AS_OF, today=date(2026, 4, d)) for d in (3, 10))
    save_results(org, early)
    save_results(org, late)
    assert _stored(org) == [(date(2026, 3, 23), 18.0)]
    save_results(org, early)
    place_hold(org, "period", from_date=date(2026, 1, 1), to_date=date(2026, 3, 15), reason="before", actor="legal")
    save_results(org, late)  # the period hold does not reach the week 03-16..22: replaced
    assert _stored(org) == [(date(2026, 3, 23), 18.0)]
    save_results(org, early)
    hold = place_hold(org, "metric", "changes_per_author", reason="dispute", actor="legal")
    save_results(org, late)
    assert _stored(org) == [(date(2026, 3, 16), 6.0), (date(2026, 3, 23), 18.0)]
    release_hold(org, hold.hold_id, actor="legal")
    place_hold(org, "period", from_date=date(2026, 3, 22), to_date=date(2026, 3, 22), reason="day", actor="legal")
    save_results(org, early)  # the stored 03-16..22 row is held by the period; the 03-23..29 one is replaced
    assert _stored(org) == [(date(2026, 3, 16), 6.0), (date(2026, 3, 16), 6.0)]


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
    # p1: two changes on 03-26 (week 03-23..29), none in 03-16..22 (a covered week: 0)
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
    from fastapi.testclient import TestClient

    from engmetrics.api import app as app_module
    from engmetrics.api import create_app
    from engmetrics.api.routes import me
    from engmetrics.settings import Settings

    if me.router not in app_module.API_ROUTERS:
        monkeypatch.setattr(app_module, "API_ROUTERS", [*app_module.API_ROUTERS, me.router])
    root = write_people_workspace(tmp_path / "ws", KEY)
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
    assert (body["period_start"], body["period_end"]) == ("2026-03-23", "2026-03-29")
    t3 = me_client.get(url, params=params, headers=_bearer(org, "manager", user="t3")).json()
    assert (t3["value"], t3["previous"]) == (1.0, 1.0)
    nobody = me_client.get(url, params=params, headers=_bearer(org))
    assert nobody.status_code == 400 and "names no person" in nobody.json()["detail"]
    assert me_client.get("/api/v1/me/indicators/nope", headers=_bearer(org, user="p1")).status_code == 404
    from engmetrics.governance import audit

    reads = audit.entries(org, action="read.individual")
    assert [(e.actor, e.target) for e in reads] == [("p1", "changes"), ("t3", "changes")]
