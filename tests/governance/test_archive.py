"""The definition archive: what gets recorded, when it changes, and what was in force when."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.catalog.loader import check_catalog
from engmetrics.catalog.model import Indicator
from engmetrics.catalog.version import definition_version
from engmetrics.errors import InputError
from engmetrics.governance import audit
from engmetrics.governance.archive import (
    assessed_versions,
    board_as_of,
    catalog_as_of,
    catalogs_as_shown,
    definition_as_of,
    definitions_as_of,
    history,
    in_force_during,
    indicator_as_of,
    record_definitions,
    versions_seen,
)
from engmetrics.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DEPLOYS = {
    "id": "deploys", "name": "Deploys", "owner": {"team": "platform", "role": "engineering manager"},
    "kind": "leading", "unit": "deployments", "direction": "higher_is_better", "cadence": "weekly",
    "audience": "org", "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
    "thresholds": {"green": {"min": 5}, "amber": {"min": 2, "max": 5}, "red": {"max": 2}},
}
INCIDENTS = {**DEPLOYS, "id": "incidents", "name": "Incidents", "kind": "lagging", "direction": "lower_is_better",
             "calculation": {"dataset": "incidents", "measure": {"type": "count"}},
             "thresholds": {"green": {"max": 1}, "red": {"min": 1}}}
ASSESSMENT = {"intended_behaviour_change": "ship smaller changes", "gaming_risks": ["split deploys"],
              "groups_harmed": ["none known"], "guardrails": ["incidents"], "review_date": "2027-01-01"}
POLICY = "kind: ErrorBudgetPolicy\nname: default\nservices: ['*']\n---\nkind: ErrorBudgetPolicy\nname: money\n"
BUDGET = "kind: Budget\nname: platform\nscope: {team: platform}\nperiod: monthly\namount: 100\ncurrency: USD\n"


def at(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def write_metrics(root: Path, *indicators: dict) -> None:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "metrics" / "m.yaml").write_text(yaml.safe_dump({"indicators": list(indicators)}, sort_keys=False))


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write_metrics(root, DEPLOYS, INCIDENTS)
    write(root, "slos/web.yaml", (FIXTURES / "openslo" / "ratio-timeslices.yaml").read_text())
    write(root, "budgets/b.yaml", BUDGET)
    write(root, "policies/error-budget.yaml", POLICY)
    write(root, "policies/review_board.yaml", "name: Board\nmembers: [ana, ben]\nquorum: 1\n")
    write(root, "assessments/deploys.yaml", yaml.safe_dump(ASSESSMENT))
    return root


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def ind_version(data: dict) -> str:
    return definition_version(Indicator.model_validate(data))


def test_first_record_archives_every_kind(store, ws):
    changes = record_definitions(store, ws, at=at(1), actor="ci")
    assert [(c.kind, c.id, c.change) for c in changes] == [
        ("indicator", "deploys", "new"), ("indicator", "incidents", "new"),
        ("slo", "SLO/main-page", "new"),
        ("budget", "Budget/platform", "new"),
        ("policy", "error-budget/default", "new"), ("policy", "error-budget/money", "new"),
        ("policy", "review_board", "new"),
        ("assessment", "deploys", "new")]
    by_id = {c.id: c for c in changes if c.kind != "assessment"}
    assert by_id["deploys"].version == ind_version(DEPLOYS)
    assert by_id["deploys"].source == "metrics/m.yaml:2"
    # a policy's version hashes its parsed document as canonical JSON (sorted keys, no spaces)
    assert by_id["review_board"].version == sha('{"members":["ana","ben"],"name":"Board","quorum":1}')
    assert by_id["error-budget/money"].version == sha('{"kind":"ErrorBudgetPolicy","name":"money"}')
    assert history(store, "budget", "Budget/platform")[0].content == {
        "kind": "Budget", "name": "platform", "scope": {"team": "platform"}, "period": "monthly",
        "amount": 100, "currency": "USD"}
    [entry] = audit.entries(store)
    assert (entry.actor, entry.action, entry.at) == ("ci", "definitions.record", at(1))
    assert entry.details["counts"] == {"new": 8, "changed": 0, "removed": 0}
    assert entry.details["ids"][:2] == ["indicator:deploys", "indicator:incidents"]


def test_recording_again_changes_nothing_and_audits_nothing(store, ws):
    record_definitions(store, ws, at=at(1), actor="ci")
    assert record_definitions(store, ws, at=at(2), actor="ci") == []
    assert store.sql.execute("SELECT count(*) FROM _definitions").fetchone()[0] == 8
    assert len(audit.entries(store)) == 1


def test_formatting_and_key_order_do_not_change_a_policy_version(store, ws):
    record_definitions(store, ws, at=at(1), actor="ci")
    write(ws, "policies/review_board.yaml", "# the board\nquorum: 1\nmembers:\n  - ana\n  - ben\nname: Board\n")
    assert record_definitions(store, ws, at=at(2), actor="ci") == []


def test_a_changed_indicator_gets_a_new_row_and_keeps_the_old(store, ws):
    record_definitions(store, ws, at=at(1), actor="ci")
    changed = {**DEPLOYS, "thresholds": {"green": {"min": 3}, "red": {"max": 3}}}
    write_metrics(ws, changed, INCIDENTS)
    [change] = record_definitions(store, ws, at=at(15), actor="ci")
    assert (change.id, change.change, change.previous_version, change.version) == (
        "deploys", "changed", ind_version(DEPLOYS), ind_version(changed))
    rows = history(store, "indicator", "deploys")
    assert [(r.version, r.effective_at) for r in rows] == [(ind_version(DEPLOYS), at(1)),
                                                          (ind_version(changed), at(15))]
    assert rows[0].content["thresholds"]["green"] == {"min": 5.0, "max": None}
    assert versions_seen(store, "indicator") == {"deploys": {ind_version(DEPLOYS), ind_version(changed)},
                                                 "incidents": {ind_version(INCIDENTS)}}
    assert audit.entries(store)[-1].details == {"counts": {"new": 0, "changed": 1, "removed": 0},
                                                "ids": ["indicator:deploys"]}


def test_assessed_versions_need_an_assessment_in_force_at_the_same_time(store, ws):
    record_definitions(store, ws, at=at(1), actor="ci")  # deploys v1 with its assessment; incidents without
    v2 = {**DEPLOYS, "cadence": "monthly"}
    write_metrics(ws, v2, INCIDENTS)
    (ws / "assessments" / "deploys.yaml").unlink()
    record_definitions(store, ws, at=at(5), actor="ci")  # v2 from day 5, the assessment removed that instant
    v3 = {**DEPLOYS, "cadence": "daily"}
    write_metrics(ws, v3, INCIDENTS)
    record_definitions(store, ws, at=at(8), actor="ci")  # v3, still no assessment
    write(ws, "assessments/deploys.yaml", yaml.safe_dump(ASSESSMENT))
    record_definitions(store, ws, at=at(9), actor="ci")  # the assessment comes back while v3 is in force
    assert assessed_versions(store) == {"deploys": {ind_version(DEPLOYS), ind_version(v3)}}
    # archived without an assessment: seen, but not assessed
    assert versions_seen(store, "indicator")["incidents"] == {ind_version(INCIDENTS)}


def test_board_as_of_is_the_archived_board_then(store, ws):
    record_definitions(store, ws, at=at(1), actor="ci")
    write(ws, "policies/review_board.yaml", "name: Board\nmembers: [ana, ben, cy]\nquorum: 2\n")
    record_definitions(store, ws, at=at(5, hour=9), actor="ci")
    assert board_as_of(store, date(2026, 2, 28)) is None  # nothing archived yet
    assert board_as_of(store, date(2026, 3, 4)).quorum == 1
    assert board_as_of(store, at(5, hour=8)).members == ["ana", "ben"]
    assert board_as_of(store, date(2026, 3, 5)).quorum == 2
    write(ws, "policies/review_board.yaml", "name: Board\nmembers: [ana]\nquorum: 3\n")  # invalid: no board then
    record_definitions(store, ws, at=at(6), actor="ci")
    assert board_as_of(store, at(6)) is None


def test_catalogs_as_shown_group_metrics_by_when_their_values_were_computed(store, ws):
    from engmetrics.catalog.evaluate import MetricResult, save_results

    def stored(metric: str, data: dict, when: datetime) -> None:
        save_results(store, [MetricResult(metric, date(2026, 3, 1), date(2026, 3, 7), 1.0, None, "green",
                                          ind_version(data), as_of=date(2026, 3, 7))], evaluated_at=when)

    stored("deploys", DEPLOYS, at(7, hour=6))  # computed before the archive began: the current board counts
    record_definitions(store, ws, at=at(8), actor="ci")  # the board with quorum 1; both indicators
    write(ws, "policies/review_board.yaml", "name: Board\nmembers: [ana, ben, cy]\nquorum: 2\n")
    changed = {**INCIDENTS, "cadence": "monthly"}
    write_metrics(ws, DEPLOYS, changed)
    record_definitions(store, ws, at=at(9), actor="ci")
    stored("incidents", changed, at(9, hour=1))
    current = check_catalog(ws).catalog
    shown = catalogs_as_shown(store, current, date(2026, 3, 7))
    assert [(when, then.ids, then.review_board.quorum) for when, then in shown] == [
        (at(7, hour=6), ["deploys"], 2), (at(9, hour=1), ["incidents"], 2)]
    assert shown[1][1].get("incidents").indicator.cadence == "monthly"  # the stored version, recorded on 03-09
    shown = catalogs_as_shown(store, current, date(2026, 3, 8))  # nothing stored: in force at the day's end
    assert [(when, then.ids, then.review_board.quorum) for when, then in shown] == [
        (at(9) - timedelta(microseconds=1), ["deploys", "incidents"], 1)]
    with pytest.raises(InputError, match="no indicators in force at 2026-03-06"):
        catalogs_as_shown(store, current, date(2026, 3, 6))


def test_a_removed_definition_gets_a_null_row(store, ws):
    record_definitions(store, ws, at=at(1), actor="ci")
    (ws / "assessments" / "deploys.yaml").unlink()
    [change] = record_definitions(store, ws, at=at(5), actor="ci")
    assert (change.kind, change.id, change.change, change.version) == ("assessment", "deploys", "removed", None)
    removed = definition_as_of(store, "assessment", "deploys", date(2026, 3, 5))
    assert (removed.version, removed.content, removed.effective_at) == (None, None, at(5))
    assert definition_as_of(store, "assessment", "deploys", date(2026, 3, 4)).content == ASSESSMENT
    assert "deploys" in versions_seen(store, "assessment")  # removal keeps what was seen
    # it comes back: recorded as new again
    write(ws, "assessments/deploys.yaml", yaml.safe_dump(ASSESSMENT))
    assert [c.change for c in record_definitions(store, ws, at=at(9), actor="ci")] == ["new"]


def test_a_kind_with_errors_records_no_removals(store, ws):
    record_definitions(store, ws, at=at(1), actor="ci")
    write(ws, "metrics/m.yaml", "indicators: [\n")  # broken YAML: neither indicator loads
    assert record_definitions(store, ws, at=at(2), actor="ci") == []
    assert definition_as_of(store, "indicator", "deploys", at(2)).version == ind_version(DEPLOYS)


def test_as_of_a_date_means_the_end_of_that_day(store, ws):
    record_definitions(store, ws, at=at(10, hour=12), actor="ci")
    assert definition_as_of(store, "indicator", "deploys", date(2026, 3, 10)).effective_at == at(10, hour=12)
    assert definition_as_of(store, "indicator", "deploys", date(2026, 3, 9)) is None
    assert definition_as_of(store, "indicator", "deploys", at(10, hour=11)) is None
    assert definition_as_of(store, "indicator", "deploys", at(10, hour=12)) is not None


def test_backfilling_an_earlier_state(store, ws):
    record_definitions(store, ws, at=at(20), actor="ci")
    older = {**DEPLOYS, "cadence": "monthly"}
    write_metrics(ws, older, INCIDENTS)
    changes = record_definitions(store, ws, at=at(1), actor="ci")
    assert [(c.kind, c.id, c.change) for c in changes][:2] == [("indicator", "deploys", "new"),
                                                                ("indicator", "incidents", "new")]
    assert [r.version for r in history(store, "indicator", "deploys")] == [ind_version(older), ind_version(DEPLOYS)]


def test_in_force_during_a_period(store, ws):
    record_definitions(store, ws, at=at(1), actor="ci")
    write_metrics(ws, {**DEPLOYS, "cadence": "monthly"}, INCIDENTS)
    record_definitions(store, ws, at=at(15, hour=6), actor="ci")

    def deploys(start: date, end: date) -> list[datetime]:
        rows = in_force_during(store, start, end)
        return [r.effective_at for r in rows if (r.kind, r.id) == ("indicator", "deploys")]

    assert deploys(date(2026, 3, 16), date(2026, 3, 31)) == [at(15, hour=6)]
    assert deploys(date(2026, 3, 15), date(2026, 3, 15)) == [at(1), at(15, hour=6)]  # replaced that day
    assert deploys(date(2026, 3, 2), date(2026, 3, 14)) == [at(1)]
    assert deploys(date(2026, 2, 1), date(2026, 2, 28)) == []
    assert len(in_force_during(store, date(2026, 3, 2), date(2026, 3, 14))) == 8


def test_catalog_as_of_rebuilds_the_indicators_then(store, ws):
    write_metrics(ws, DEPLOYS)
    record_definitions(store, ws, at=at(1), actor="ci")
    write_metrics(ws, {**DEPLOYS, "name": "Deployments"}, INCIDENTS)  # deploys changed, incidents added
    record_definitions(store, ws, at=at(10), actor="ci")
    current = check_catalog(ws).catalog
    then = catalog_as_of(store, current, date(2026, 3, 5))
    assert then.ids == ["deploys"]
    assert then.get("deploys").indicator.name == "Deploys"
    assert (then.get("deploys").file, then.get("deploys").line) == ("metrics/m.yaml", 2)
    assert then.review_board == current.review_board  # the rest of the catalog is kept
    write_metrics(ws, INCIDENTS)  # deploys removed
    record_definitions(store, ws, at=at(20), actor="ci")
    assert catalog_as_of(store, current, date(2026, 3, 12)).ids == ["deploys", "incidents"]
    assert catalog_as_of(store, current, date(2026, 3, 25)).ids == ["incidents"]
    assert [d.id for d in definitions_as_of(store, "indicator", date(2026, 3, 25))] == ["incidents"]
    with pytest.raises(InputError, match="no indicators in force at 2026-02-28; its earliest indicator is from "
                                         "2026-03-01T00:00:00"):
        catalog_as_of(store, current, date(2026, 2, 28))


def test_indicator_as_of_errors(store, ws):
    with pytest.raises(InputError, match="never recorded"):
        indicator_as_of(store, "deploys", date(2026, 3, 1))
    record_definitions(store, ws, at=at(2), actor="ci")
    with pytest.raises(InputError, match="its first version took effect 2026-03-02T00:00:00"):
        indicator_as_of(store, "deploys", date(2026, 3, 1))
    detail = indicator_as_of(store, "deploys", date(2026, 3, 2))
    assert (detail["name"], detail["definition_version"], detail["effective_at"], detail["source"]) == (
        "Deploys", ind_version(DEPLOYS), "2026-03-02T00:00:00+00:00", "metrics/m.yaml:2")
    write_metrics(ws, INCIDENTS)
    record_definitions(store, ws, at=at(3), actor="ci")
    with pytest.raises(InputError, match="had been removed by 2026-03-04"):
        indicator_as_of(store, "deploys", date(2026, 3, 4))


def test_slo_versions_get_their_effective_date_in_the_id(store, tmp_path):
    text = (FIXTURES / "openslo" / "ratio-timeslices.yaml").read_text()
    dated = text.replace("  name: main-page\n", "  name: main-page\n  annotations:\n"
                         "    engmetrics.dev/effective-from: '2026-03-01'\n", 1)
    write(tmp_path, "slos/web.yaml", text + "\n---\n" + dated)
    ids = [c.id for c in record_definitions(store, tmp_path, at=at(1), actor="ci") if c.kind == "slo"]
    assert ids == ["SLO/main-page", "SLO/main-page@2026-03-01"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(states=st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 3), max_size=3),
                       min_size=1, max_size=6))
def test_the_archive_replays_every_recorded_state(tmp_path_factory, states):
    """Invariant: after recording states s1..sn at days 1..n, the archive in force at day i is exactly s_i,
    and recording s_n again changes nothing."""
    root = tmp_path_factory.mktemp("ws")
    (root / "assessments").mkdir()
    with Store.open("duckdb://") as store:
        for day, state in enumerate(states, start=1):
            for path in (root / "assessments").glob("*.yaml"):
                path.unlink()
            for name, value in state.items():
                (root / "assessments" / f"{name}.yaml").write_text(f"score: {value}\n")
            record_definitions(store, root, at=at(day), actor="ci")
        for day, state in enumerate(states, start=1):
            seen = {d.id: d.content for d in definitions_as_of(store, "assessment", at(day))}
            assert seen == {name: {"score": value} for name, value in state.items()}
            assert {d.id: d.version for d in definitions_as_of(store, "assessment", at(day))} == {
                name: sha(f'{{"score":{value}}}') for name, value in state.items()}
        assert record_definitions(store, root, at=at(len(states) + 1), actor="ci") == []
