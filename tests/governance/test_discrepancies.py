"""Discrepancies between indicator health and team perception, and their reviews (hand-checked numbers).

Data: monthly `incidents_per_team` (incidents grouped by team; green < 2, amber 2-4, red >= 5 a month), survey
dimension oncall_sustainability, as of 2026-10-31. Incidents: one of team `other` on 2026-06-15 and one on
2026-10-15 (so every month from June to October is covered: a month without incidents is 0, green); search
has 5 in July (red), 2 in August (amber), none in September (green). Perception (1-5 scale -> 0-1):
- payments 2026-Q3 1.5 -> 0.125; green all quarter (health 1): gap 0.875, teams_feel_worse;
- search 2026-Q3 5.0 -> 1.0; red, amber, green (health (0 + 0.5 + 1) / 3 = 0.5): gap 0.5, teams_feel_better;
- checkout 2026-Q3 4.6 -> 0.9; green (health 1): gap 0.1, no discrepancy;
- payments 2026-Q2 1.0: April and May have no data (nothing before their end), June is green: 1 of 3 windows
  has data, below the default coverage of 0.5, so not compared;
- payments 2026-Q3 focus_time 1.0: a dimension no indicator names.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from engmetrics.catalog.loader import Catalog, Definition
from engmetrics.catalog.model import Indicator
from engmetrics.catalog.periods import Period, period_ending
from engmetrics.errors import InputError
from engmetrics.governance import audit
from engmetrics.governance.board import ReviewBoard, approve, propose
from engmetrics.governance.discrepancies import (
    RESOLUTIONS,
    find_discrepancies,
    health,
    record_review,
    survey_period,
    windows_in,
)
from engmetrics.settings import GovernanceSettings

AS_OF = date(2026, 10, 31)
Q3 = Period(date(2026, 7, 1), date(2026, 9, 30))
METRIC = {
    "id": "incidents_per_team", "name": "Incidents per team", "owner": {"team": "platform"}, "kind": "lagging",
    "unit": "incidents", "direction": "lower_is_better", "cadence": "monthly", "perception": "oncall_sustainability",
    "calculation": {"dataset": "incidents", "group_by": "team", "measure": {"type": "count"}},
    "thresholds": {"green": {"max": 2}, "amber": {"min": 2, "max": 5}, "red": {"min": 5}},
}
SEARCH_DAYS = ("07-03", "07-10", "07-17", "07-24", "07-30", "08-05", "08-20")
INCIDENTS = ("incident_id,team,severity,declared_at\ni0,other,3,2026-06-15T10:00:00Z\niz,other,3,2026-10-15T10:00:00Z\n"
             + "".join(f"s{n},search,3,2026-{day}T10:00:00Z\n" for n, day in enumerate(SEARCH_DAYS)))
PERCEPTION = """team,period,dimension,score
payments,2026-Q3,oncall_sustainability,1.5
search,2026-Q3,oncall_sustainability,5.0
checkout,2026-Q3,oncall_sustainability,4.6
payments,2026-Q2,oncall_sustainability,1.0
payments,2026-Q3,focus_time,1.0
"""


def catalog(*docs: dict) -> Catalog:
    return Catalog(definitions=[Definition(Indicator.model_validate(d), "metrics/x.yaml", 1) for d in docs])


@pytest.fixture
def data(store, write, ingest):
    ingest("incidents", write("incidents.csv", INCIDENTS))
    ingest("perception", write("perception.csv", PERCEPTION))
    return store


def pairs(report) -> list[tuple]:
    return [(i.metric, i.team, i.period, i.status, i.health, i.perception, i.gap, i.direction) for i in report.items]


def test_green_quarter_against_low_perception_is_a_discrepancy(data):
    report = find_discrepancies(data, catalog(METRIC), as_of=AS_OF)
    assert pairs(report) == [
        ("incidents_per_team", "payments", "2026-Q3", "green", 1.0, 0.125, 0.875, "teams_feel_worse"),
        ("incidents_per_team", "search", "2026-Q3", "mixed", 0.5, 1.0, 0.5, "teams_feel_better"),
    ]
    assert (report.compared, report.insufficient_data, report.skipped) == (3, 1, [])
    payments, search = report.items
    assert (payments.dimension, payments.score, payments.windows, payments.review) == (
        "oncall_sustainability", 1.5, {"green": 3}, None)
    assert search.windows == {"amber": 1, "green": 1, "red": 1}
    assert report.to_dict()["items"][0] == {
        "metric": "incidents_per_team", "team": "payments", "period": "2026-Q3", "dimension": "oncall_sustainability",
        "status": "green", "health": 1.0, "score": 1.5, "perception": 0.125, "gap": 0.875,
        "direction": "teams_feel_worse", "windows": {"green": 3}, "review": None}


def test_the_threshold_and_coverage_settings_change_the_verdict(data):
    stricter = find_discrepancies(data, catalog(METRIC), as_of=AS_OF,
                                  settings=GovernanceSettings(discrepancy_threshold=0.6))
    assert [i.team for i in stricter.items] == ["payments"]  # search's gap 0.5 < 0.6
    looser = find_discrepancies(data, catalog(METRIC), as_of=AS_OF,
                                settings=GovernanceSettings(discrepancy_threshold=0.1, discrepancy_min_coverage=0.3))
    # checkout's gap 0.1 now counts; payments Q2 (1 of 3 windows, 0.33 >= 0.3) is compared: green 1 vs 0
    assert [(i.team, i.period, i.gap) for i in looser.items] == [
        ("payments", "2026-Q2", 1.0), ("payments", "2026-Q3", 0.875), ("search", "2026-Q3", 0.5),
        ("checkout", "2026-Q3", 0.1)]
    assert (looser.compared, looser.insufficient_data) == (4, 0)
    ten_point = find_discrepancies(data, catalog(METRIC), as_of=AS_OF,
                                   settings=GovernanceSettings(perception_scale=(0, 10)))
    # 1.5/10 -> 0.15 (gap 0.85); 5/10 -> 0.5 (gap 0); 4.6/10 -> 0.46 (gap 0.54, worse)
    assert [(i.team, i.gap, i.direction) for i in ten_point.items] == [
        ("payments", 0.85, "teams_feel_worse"), ("checkout", 0.54, "teams_feel_worse")]


def test_period_and_team_filters(data):
    assert find_discrepancies(data, catalog(METRIC), as_of=AS_OF, period="2026-Q2").items == []
    only = find_discrepancies(data, catalog(METRIC), as_of=AS_OF, teams=["search", "nobody"])
    assert ([i.team for i in only.items], only.compared) == (["search"], 1)
    assert find_discrepancies(data, catalog(METRIC), as_of=AS_OF, teams=[]).compared == 0
    with pytest.raises(InputError, match="survey period 'Q3'"):
        find_discrepancies(data, catalog(METRIC), period="Q3")


def test_an_owner_team_indicator_is_read_for_its_owner_only(data):
    # all teams' incidents: July 5 + 0 (red), August 2 (amber), September 0 (green): health 0.5 vs checkout 0.9
    owned = {**METRIC, "id": "incidents", "owner": {"team": "checkout"},
             "calculation": {"dataset": "incidents", "measure": {"type": "count"}}}
    report = find_discrepancies(data, catalog(owned), as_of=AS_OF)
    assert (report.items, report.compared) == ([], 1)
    report = find_discrepancies(data, catalog(owned), as_of=AS_OF,
                                settings=GovernanceSettings(discrepancy_threshold=0.4))
    assert pairs(report) == [("incidents", "checkout", "2026-Q3", "mixed", 0.5, 0.9, 0.4, "teams_feel_better")]


def test_indicators_that_cannot_be_compared_are_skipped_with_a_reason(data):
    by_service = {**METRIC, "id": "by_service", "calculation": {**METRIC["calculation"], "group_by": "service"}}
    no_owner = {**METRIC, "id": "no_owner", "owner": {"team": ["a", "b"]},
                "calculation": {"dataset": "incidents", "measure": {"type": "count"}}}
    person = {**METRIC, "id": "person", "audience": "individual"}
    career = {**METRIC, "id": "career", "affects": ["promotion"]}
    without = {key: value for key, value in METRIC.items() if key != "perception"}
    report = find_discrepancies(data, catalog(by_service, no_owner, person, career, {**without, "id": "plain"}),
                                as_of=AS_OF)
    assert report.items == [] and report.compared == 0
    assert report.skipped == [
        {"metric": "by_service", "reason": "grouped by service, not by team"},
        {"metric": "no_owner", "reason": "no team: not grouped by team and no single owner team"},
        {"metric": "person", "reason": "audience individual: perception is team-level, individuals are never "
                                       "compared"},
        {"metric": "career", "reason": CAREER_SKIPPED}]


CAREER_SKIPPED = ("needs review-board approval (affects promotion): its values are published only through the "
                  "privacy guardrails, never compared here")


def test_a_career_indicator_is_skipped_even_when_approved(data):
    """review_b #4 / review_a #8: comparing it would publish per-team cells the guardrails suppress (search's
    incidents, without group-size rule or delay); approved or not, it is skipped."""
    career = {**METRIC, "id": "career", "affects": ["promotion"]}
    cat = catalog(career)
    cat.review_board = ReviewBoard(name="board", members=["ana", "ben"], quorum=1)
    propose(data, cat.review_board, cat.get("career"), "dee")
    approve(data, cat.review_board, cat.get("career"), "ana", "team-level only")
    report = find_discrepancies(data, cat, as_of=AS_OF, settings=GovernanceSettings(discrepancy_threshold=0.000001))
    assert (report.items, report.compared, report.insufficient_data) == ([], 0, 0)
    assert report.skipped == [{"metric": "career", "reason": CAREER_SKIPPED}]


def test_bad_labels_and_scores_outside_the_scale_are_skipped(data, write, ingest):
    ingest("perception", write("more.csv", "team,period,dimension,score\nsearch,Q3 2026,oncall_sustainability,1\n"
                                           "checkout,2026-09,oncall_sustainability,6\n"))
    report = find_discrepancies(data, catalog(METRIC), as_of=AS_OF)
    assert report.skipped == [
        {"team": "checkout", "period": "2026-09", "dimension": "oncall_sustainability",
         "reason": "score 6 outside the perception scale"},
        {"team": "search", "period": "Q3 2026", "dimension": "oncall_sustainability",
         "reason": "survey period 'Q3 2026': expected YYYY-Qn (2026-Q3), YYYY-MM, YYYY-Hn or YYYY"}]
    assert len(report.items) == 2


def test_a_review_shows_up_and_a_resolved_one_stays_listed(data):
    cat = catalog(METRIC)
    first = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    record_review(data, cat, "incidents_per_team", "payments", "2026-Q3", "  pager noise, not incidents ",
                  reviewer="ana", at=first)
    item = find_discrepancies(data, cat, as_of=AS_OF).items[0]
    assert item.review.to_dict() == {"note": "pager noise, not incidents", "resolution": None, "reviewer": "ana",
                                     "reviewed_at": "2026-11-02T09:00:00+00:00"}
    record_review(data, cat, "incidents_per_team", "payments", "2026-Q3", "silenced two rules",
                  reviewer="ben", resolution="action_taken", at=first + timedelta(days=1))
    report = find_discrepancies(data, cat, as_of=AS_OF)
    assert [(i.team, i.review and (i.review.reviewer, i.review.resolution)) for i in report.items] == [
        ("payments", ("ben", "action_taken")), ("search", None)]
    assert [i.team for i in find_discrepancies(data, cat, as_of=AS_OF, open_only=True).items] == ["search"]
    logged = audit.entries(data, action="discrepancy.")
    assert [(e.actor, e.action, e.target, e.reason, e.details) for e in logged] == [
        ("ana", "discrepancy.review", "incidents_per_team", "pager noise, not incidents",
         {"team": "payments", "period": "2026-Q3", "dimension": "oncall_sustainability", "resolution": None}),
        ("ben", "discrepancy.review", "incidents_per_team", "silenced two rules",
         {"team": "payments", "period": "2026-Q3", "dimension": "oncall_sustainability",
          "resolution": "action_taken"})]
    assert audit.verify(data).ok


@pytest.mark.parametrize(("args", "message"), [
    (("nope", "payments", "2026-Q3", "n"), "no indicator 'nope'"),
    (("plain", "payments", "2026-Q3", "n"), "names no perception dimension"),
    (("incidents_per_team", "payments", "2026-Q3", "n", "fixed"), "resolution 'fixed': expected one of explained"),
    (("incidents_per_team", "payments", "2026-Q3", "  "), "a review needs a note"),
    (("incidents_per_team", "payments", "2026 Q3", "n"), "survey period '2026 Q3'"),
    (("incidents_per_team", "paymnts", "2026-Q3", "n"), "no perception score of team 'paymnts' for 2026-Q3"),
])
def test_a_bad_review_is_refused_and_writes_nothing(data, rows, args, message):
    cat = catalog(METRIC, {**{k: v for k, v in METRIC.items() if k != "perception"}, "id": "plain"})
    metric, team, period, note, *resolution = args
    with pytest.raises(InputError, match=message):
        record_review(data, cat, metric, team, period, note, reviewer="ana",
                      resolution=resolution[0] if resolution else None)
    assert rows("SELECT count(*) FROM _discrepancy_reviews") == [(0,)]
    assert rows("SELECT count(*) FROM _audit") == [(0,)]


def test_survey_period_labels():
    assert survey_period("2026-Q3") == Q3
    assert survey_period("2026-q1") == Period(date(2026, 1, 1), date(2026, 3, 31))
    assert survey_period("2028-02") == Period(date(2028, 2, 1), date(2028, 2, 29))
    assert survey_period("2026-H2") == Period(date(2026, 7, 1), date(2026, 12, 31))
    assert survey_period("2026") == Period(date(2026, 1, 1), date(2026, 12, 31))
    for bad in ("2026-13", "2026-Q5", "2026-00", "26-Q1", "Q3"):
        with pytest.raises(InputError):
            survey_period(bad)
    assert RESOLUTIONS == ("explained", "metric_changed", "action_taken", "wont_fix")


def test_windows_inside_a_quarter():
    weekly = windows_in("weekly", Q3, AS_OF)  # 13 weeks = 91 days back from 09-30: 07-01 is left out
    assert (len(weekly), weekly[0], weekly[-1]) == (
        13, Period(date(2026, 7, 2), date(2026, 7, 8)), Period(date(2026, 9, 24), date(2026, 9, 30)))
    assert windows_in("monthly", Q3, AS_OF) == [Period(date(2026, 7, 1), date(2026, 7, 31)),
                                                Period(date(2026, 8, 1), date(2026, 8, 31)),
                                                Period(date(2026, 9, 1), date(2026, 9, 30))]
    assert windows_in("quarterly", Q3, AS_OF) == [Q3]
    assert len(windows_in("daily", Q3, AS_OF)) == 92
    # a survey period still running: windows end on as_of; a cadence coarser than the survey period
    assert windows_in("monthly", Q3, date(2026, 8, 15)) == [Period(date(2026, 7, 16), date(2026, 8, 15))]
    assert windows_in("quarterly", survey_period("2026-08"), AS_OF) == [Period(date(2026, 6, 1), date(2026, 8, 31))]
    assert windows_in("quarterly", survey_period("2026-08"), date(2026, 8, 30)) == []


def test_health_of_window_statuses():
    assert health(["green"] * 3) == ("green", 1.0)
    assert health(["red", "amber", "green"]) == ("mixed", 0.5)
    assert health(["amber", "no_data"]) == ("amber", 0.5)
    assert health(["no_data", "no_data"]) == ("no_data", None)


@given(st.lists(st.sampled_from(["green", "amber", "red", "no_data"]), max_size=20), st.randoms())
def test_health_is_between_0_and_1_and_ignores_order(statuses, rnd):
    status, score = health(statuses)
    shuffled = list(statuses)
    rnd.shuffle(shuffled)
    assert health(shuffled) == (status, score)
    judged = {s for s in statuses if s != "no_data"}
    assert (score is None) == (not judged)
    if judged:
        assert 0 <= score <= 1
        assert status == (judged.pop() if len(judged) == 1 else "mixed")


@given(st.sampled_from(["daily", "weekly", "monthly", "quarterly"]), st.integers(2000, 2100), st.integers(1, 4))
def test_windows_tile_the_end_of_a_quarter(cadence, year, quarter):
    period = survey_period(f"{year}-Q{quarter}")
    windows = windows_in(cadence, period, date(2101, 1, 1))
    assert windows and windows[-1].end == period.end
    assert all(w == period_ending(cadence, w.end) for w in windows)
    assert all(b.start == a.end + timedelta(days=1) for a, b in pairwise(windows))
    assert windows[0].start >= period.start
    assert (windows[0].start - period.start).days < windows[0].days  # no room for another window


@pytest.fixture
def cli_workspace(cli, workspace, write):
    (workspace / "metrics" / "oncall.yaml").write_text(yaml.safe_dump({"indicators": [METRIC]}))
    for dataset, text in (("incidents", INCIDENTS), ("perception", PERCEPTION)):
        assert cli("ingest", dataset, write(f"{dataset}.csv", text), "--json").exit_code == 0
    return cli


def test_cli_lists_reviews_and_filters_open(cli_workspace, monkeypatch):
    cli = cli_workspace
    listed = cli("governance", "discrepancies", "--at", "2026-10-31", "--json")
    assert listed.exit_code == 0, listed.output
    out = json.loads(listed.stdout)
    assert (out["at"], out["threshold"], out["compared"], out["insufficient_data"]) == ("2026-10-31", 0.5, 3, 1)
    assert [(i["team"], i["gap"], i["direction"]) for i in out["items"]] == [
        ("payments", 0.875, "teams_feel_worse"), ("search", 0.5, "teams_feel_better")]
    monkeypatch.setenv("ENGMETRICS_USER", "ana")
    reviewed = cli("governance", "discrepancies", "review", "incidents_per_team", "--team", "search", "--period",
                   "2026-Q3", "--note", "a migration month", "--resolution", "explained", "--json")
    assert reviewed.exit_code == 0, reviewed.output
    assert {k: v for k, v in json.loads(reviewed.stdout).items() if k != "reviewed_at"} == {
        "metric": "incidents_per_team", "team": "search", "period": "2026-Q3", "note": "a migration month",
        "resolution": "explained", "reviewer": "ana"}
    out = json.loads(cli("governance", "discrepancies", "--at", "2026-10-31", "--json").stdout)
    assert [i["review"] and i["review"]["resolution"] for i in out["items"]] == [None, "explained"]
    out = json.loads(cli("governance", "discrepancies", "--at", "2026-10-31", "--open", "--json").stdout)
    assert [i["team"] for i in out["items"]] == ["payments"]
    table = cli("governance", "discrepancies", "--at", "2026-10-31", "--period", "2026-Q3")
    assert table.exit_code == 0 and "3 compared, 0 without enough indicator data" in table.stdout


def test_cli_threshold_setting_and_errors(cli_workspace, workspace):
    cli = cli_workspace
    text = (workspace / "engmetrics.yaml").read_text().replace("discrepancy_threshold: 0.5",
                                                               "discrepancy_threshold: 0.6")
    (workspace / "engmetrics.yaml").write_text(text)
    out = json.loads(cli("governance", "discrepancies", "--at", "2026-10-31", "--json").stdout)
    assert [i["team"] for i in out["items"]] == ["payments"]
    bad = cli("governance", "discrepancies", "review", "incidents_per_team", "--team", "search", "--period",
              "2026-Q3", "--note", "x", "--resolution", "fixed", "--as", "ana")
    assert bad.exit_code == 1 and "resolution 'fixed'" in bad.output
    assert cli("governance", "discrepancies", "--period", "2026-Q9").exit_code == 1


def test_governance_settings_refuse_a_reversed_scale(tmp_path):
    from engmetrics.settings import load_settings

    (tmp_path / "engmetrics.yaml").write_text("governance:\n  discrepancy_threshold: 0.3\n")
    assert load_settings(tmp_path).governance.discrepancy_threshold == 0.3
    (tmp_path / "engmetrics.yaml").write_text("governance:\n  perception_scale: [5, 1]\n")
    with pytest.raises(InputError, match=r"\.yaml:2: setting governance\.perception_scale: .*lowest score 5 must"):
        load_settings(tmp_path)
