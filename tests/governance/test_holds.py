"""Legal holds: placing, releasing, what blocks retention; the CLI and the API route."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from engmetrics.api import create_app
from engmetrics.auth.tokens import create_token
from engmetrics.catalog.loader import check_catalog
from engmetrics.errors import InputError
from engmetrics.governance import audit
from engmetrics.governance.archive import record_definitions
from engmetrics.governance.holds import (
    active_holds,
    blocking_holds,
    datasets_read,
    list_holds,
    place_hold,
    release_hold,
)
from engmetrics.settings import Settings

D = date
DEPLOYS = {
    "id": "deploys", "name": "Deploys", "owner": {"team": "platform", "role": "engineering manager"},
    "kind": "leading", "unit": "deployments", "direction": "higher_is_better", "cadence": "weekly",
    "audience": "org", "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
    "thresholds": {"green": {"min": 5}, "red": {"max": 5}},
}
RATE = {**DEPLOYS, "id": "rate", "calculation": {"calculator": "delivery.deployments_per_day"}}


def at(day: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


def ids(holds) -> list[str]:
    return [h.hold_id for h in holds]


def write_metrics(root: Path, *indicators: dict) -> Path:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "metrics" / "m.yaml").write_text(yaml.safe_dump({"indicators": list(indicators)}, sort_keys=False))
    return root


def test_place_and_list_with_audit_entries(store):
    first = place_hold(store, "dataset", "cost", from_date=D(2026, 1, 1), to_date=D(2026, 3, 31),
                       reason="matter 42", actor="legal", at=at(1))
    second = place_hold(store, "period", from_date=D(2026, 2, 1), to_date=D(2026, 2, 28), reason=" audit ",
                        actor="cfo", at=at(2))
    assert (first.hold_id, second.hold_id, second.reason, second.target) == ("hold-1", "hold-2", "audit", None)
    assert ids(list_holds(store)) == ["hold-1", "hold-2"]
    assert list_holds(store)[0].to_dict() == {
        "hold_id": "hold-1", "scope": "dataset", "target": "cost", "from": "2026-01-01", "to": "2026-03-31",
        "reason": "matter 42", "created_by": "legal", "created_at": "2026-03-01T00:00:00+00:00",
        "released_by": None, "released_at": None, "active": True}
    entries = audit.entries(store)
    assert [(e.actor, e.action, e.target, e.reason) for e in entries] == [
        ("legal", "hold.place", "hold-1", "matter 42"), ("cfo", "hold.place", "hold-2", "audit")]
    assert entries[0].details == {"scope": "dataset", "target": "cost", "from": "2026-01-01", "to": "2026-03-31"}


@pytest.mark.parametrize(("scope", "target", "start", "end", "reason", "message"), [
    ("table", "cost", None, None, "r", "unknown hold scope 'table'"),
    ("dataset", "cost", None, None, "  ", "needs a reason"),
    ("dataset", None, None, None, "r", "needs a target \\(the dataset name\\)"),
    ("metric", None, None, None, "r", "needs a target \\(the metric id\\)"),
    ("dataset", "nope", None, None, "r", "nope"),
    ("period", None, D(2026, 1, 1), None, "r", "needs both --from and --to"),
    ("period", "cost", D(2026, 1, 1), D(2026, 1, 2), "r", "give no target"),
    ("dataset", "cost", D(2026, 2, 1), D(2026, 1, 1), "r", "from date 2026-02-01 is after its to date"),
])
def test_bad_holds_are_refused(store, scope, target, start, end, reason, message):
    with pytest.raises(InputError, match=message):
        place_hold(store, scope, target, from_date=start, to_date=end, reason=reason, actor="legal")
    assert list_holds(store, include_released=True) == [] and audit.entries(store) == []


def test_dataset_and_period_holds_block_overlapping_days_only(store):
    place_hold(store, "dataset", "cost", from_date=D(2026, 1, 1), to_date=D(2026, 3, 31), reason="r", actor="a")
    place_hold(store, "period", from_date=D(2026, 6, 1), to_date=D(2026, 6, 30), reason="r", actor="a")
    place_hold(store, "dataset", "incidents", reason="open-ended", actor="a")
    assert ids(blocking_holds(store, "cost", D(2026, 3, 31), D(2026, 4, 30))) == ["hold-1"]  # one shared day
    assert ids(blocking_holds(store, "cost", D(2026, 4, 1), D(2026, 5, 31))) == []
    assert ids(blocking_holds(store, "cost", D(2026, 5, 1), D(2026, 6, 1))) == ["hold-2"]
    assert ids(blocking_holds(store, "deployments", D(2026, 1, 1), D(2026, 3, 31))) == []
    assert ids(blocking_holds(store, "incidents", D(2000, 1, 1), D(2000, 1, 1))) == ["hold-3"]


def test_metric_holds_block_the_datasets_the_metric_reads(store, tmp_path):
    root = write_metrics(tmp_path / "ws", DEPLOYS)
    record_definitions(store, root, at=at(1), actor="ci")
    place_hold(store, "metric", "deploys", from_date=D(2026, 3, 1), to_date=D(2026, 3, 31), reason="r", actor="a")
    assert datasets_read(store, "deploys") == {"deployments"}
    assert ids(blocking_holds(store, "deployments", D(2026, 3, 1), D(2026, 3, 1))) == ["hold-1"]
    assert ids(blocking_holds(store, "incidents", D(2026, 3, 1), D(2026, 3, 1))) == []
    assert ids(blocking_holds(store, "deployments", D(2026, 4, 1), D(2026, 4, 30))) == []


def test_a_metric_reading_another_dataset_in_a_later_version_blocks_both(store, tmp_path):
    root = write_metrics(tmp_path / "ws", DEPLOYS)
    record_definitions(store, root, at=at(1), actor="ci")
    write_metrics(root, {**DEPLOYS, "calculation": {"dataset": "changes", "measure": {"type": "count"}}})
    record_definitions(store, root, at=at(2), actor="ci")
    assert datasets_read(store, "deploys") == {"deployments", "changes", "people"}  # changes.author: a person


def test_a_metric_hold_on_data_about_people_also_keeps_the_people_dataset(store, tmp_path):
    per_author = {**DEPLOYS, "id": "per_author", "audience": "individual",
                  "calculation": {"dataset": "changes", "group_by": "author", "measure": {"type": "count"}}}
    root = write_metrics(tmp_path / "ws", per_author)
    record_definitions(store, root, at=at(1), actor="ci")
    place_hold(store, "metric", "per_author", from_date=D(2026, 3, 1), to_date=D(2026, 3, 31), reason="r", actor="a")
    assert datasets_read(store, "per_author") == {"changes", "people"}  # `changes.author` is a person column
    assert ids(blocking_holds(store, "people", D(2026, 3, 1), D(2026, 3, 1))) == ["hold-1"]
    assert datasets_read(store, "deploys", check_catalog(write_metrics(tmp_path / "w2", DEPLOYS)).catalog) == {
        "deployments"}  # no person column: no people


def test_metric_holds_with_unknown_datasets_block_everything(store, tmp_path):
    root = write_metrics(tmp_path / "ws", DEPLOYS, RATE)
    catalog = check_catalog(root).catalog
    place_hold(store, "metric", "deploys", reason="not archived yet", actor="a")
    place_hold(store, "metric", "rate", reason="a calculator", actor="a")
    place_hold(store, "metric", "ghost", reason="defined nowhere", actor="a")
    assert datasets_read(store, "deploys", catalog) == {"deployments"}  # from the current catalog
    assert datasets_read(store, "rate", catalog) is None
    assert ids(blocking_holds(store, "cost", D(2026, 1, 1), D(2026, 1, 1), catalog=catalog)) == ["hold-2", "hold-3"]
    assert ids(blocking_holds(store, "deployments", D(2026, 1, 1), D(2026, 1, 1), catalog=catalog)) == [
        "hold-1", "hold-2", "hold-3"]


def test_a_released_hold_no_longer_blocks(store):
    place_hold(store, "dataset", "cost", reason="r", actor="legal", at=at(1))
    released = release_hold(store, "hold-1", actor="counsel", reason="settled", at=at(10))
    assert (released.released_by, released.released_at) == ("counsel", at(10))
    assert blocking_holds(store, "cost", D(2026, 1, 1), D(2026, 1, 1)) == []
    assert ids(active_holds(store, at(9))) == ["hold-1"]
    assert ids(active_holds(store, at(10))) == []
    assert list_holds(store) == [] and ids(list_holds(store, include_released=True)) == ["hold-1"]
    last = audit.entries(store)[-1]
    assert (last.actor, last.action, last.target, last.reason) == ("counsel", "hold.release", "hold-1", "settled")
    with pytest.raises(InputError, match="already released by counsel"):
        release_hold(store, "hold-1", actor="counsel")
    with pytest.raises(InputError, match="no legal hold 'hold-9'"):
        release_hold(store, "hold-9", actor="counsel")
    assert audit.verify(store).ok


def test_hold_cli(cli):
    placed = cli("governance", "hold", "place", "--scope", "dataset", "--target", "cost", "--from", "2026-01-01",
                 "--to", "2026-03-31", "--reason", "matter 42", "--as", "legal", "--json")
    assert placed.exit_code == 0, placed.output
    assert (json.loads(placed.stdout)["hold_id"], json.loads(placed.stdout)["created_by"]) == ("hold-1", "legal")
    assert cli("governance", "hold", "place", "--scope", "period", "--reason", "r").exit_code == 1
    listed = json.loads(cli("governance", "hold", "list", "--json").stdout)
    assert [(h["hold_id"], h["target"], h["from"], h["to"]) for h in listed] == [
        ("hold-1", "cost", "2026-01-01", "2026-03-31")]
    assert "hold-1" in cli("governance", "hold", "list").stdout
    released = cli("governance", "hold", "release", "hold-1", "--as", "counsel", "--json")
    assert json.loads(released.stdout)["released_by"] == "counsel"
    assert json.loads(cli("governance", "hold", "list", "--json").stdout) == []
    assert len(json.loads(cli("governance", "hold", "list", "--all", "--json").stdout)) == 1
    again = cli("governance", "hold", "release", "hold-1")
    assert again.exit_code == 1 and "already released" in again.output


def test_holds_api_is_for_auditors(store, tmp_path):
    place_hold(store, "dataset", "cost", reason="matter 42", actor="legal", at=at(1))
    release_hold(store, "hold-1", actor="counsel", at=at(2))
    place_hold(store, "period", from_date=D(2026, 1, 1), to_date=D(2026, 1, 31), reason="audit", actor="cfo",
               at=at(3))
    client = TestClient(create_app(Settings(workspace=write_metrics(tmp_path / "ws", DEPLOYS)), store=store))

    def get(role: str, url: str):
        token = create_token(store, role, [], description=role).token
        return client.get(url, headers={"Authorization": f"Bearer {token}"})

    assert [h["hold_id"] for h in get("auditor", "/api/v1/governance/holds").json()] == ["hold-2"]
    assert [h["hold_id"] for h in get("metrics-admin", "/api/v1/governance/holds?all=true").json()] == [
        "hold-1", "hold-2"]
    assert get("manager", "/api/v1/governance/holds").status_code == 403
    assert get("viewer", "/api/v1/governance/holds").status_code == 403
