"""Export bundles: contents of a period, a manifest whose hashes match the files, an audited export."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from engmetrics.catalog.evaluate import MetricResult, save_results
from engmetrics.errors import InputError
from engmetrics.governance import audit
from engmetrics.governance.archive import record_definitions
from engmetrics.governance.bundle import export_bundle
from engmetrics.governance.holds import place_hold

DEPLOYS = {
    "id": "deploys", "name": "Deploys", "owner": {"team": "platform", "role": "engineering manager"},
    "kind": "leading", "unit": "deployments", "direction": "higher_is_better", "cadence": "weekly",
    "audience": "org", "calculation": {"dataset": "deployments", "measure": {"type": "count"}},
    "thresholds": {"green": {"min": 5}, "red": {"max": 5}},
}
NAMES = ["definitions.jsonl", "values.jsonl", "approvals.jsonl", "holds.jsonl", "audit.jsonl", "manifest.json"]


def at(day: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


def write_metrics(root: Path, indicator: dict) -> None:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "metrics" / "m.yaml").write_text(yaml.safe_dump({"indicators": [indicator]}, sort_keys=False))


def result(metric: str, as_of: date, value: float) -> MetricResult:
    return MetricResult(metric=metric, period_start=as_of, period_end=as_of, value=value, previous=None,
                        status="green", definition_version="sha256:0000000000000001", as_of=as_of)


@pytest.fixture
def filled(store, tmp_path):
    """March 2026 holds: 2 definition rows of `deploys` (one from 03-01, one from 03-20), 2 values, 1 board
    decision, 1 hold and 3 audit entries (records on 03-01 and 03-20, hold on 03-10); April holds one more
    of each (outside the period)."""
    root = tmp_path / "ws"
    write_metrics(root, DEPLOYS)
    record_definitions(store, root, at=at(1), actor="ci")                              # audit 1
    place_hold(store, "dataset", "cost", reason="matter 42", actor="legal", at=at(10))  # audit 2
    write_metrics(root, {**DEPLOYS, "name": "Deployments"})
    record_definitions(store, root, at=at(20), actor="ci")                             # audit 3
    write_metrics(root, {**DEPLOYS, "name": "Prod deployments"})
    record_definitions(store, root, at=at(10, 4), actor="ci")                          # audit 4
    place_hold(store, "period", from_date=date(2026, 4, 1), to_date=date(2026, 4, 2), reason="r", actor="legal",
               at=at(5, 4))                                                            # audit 5
    save_results(store, [result("deploys", date(2026, 3, 31), 7.0), result("failures", date(2026, 3, 31), 1.0),
                         result("deploys", date(2026, 4, 7), 6.0), result("deploys", date(2026, 2, 28), 4.0)],
                 evaluated_at=at(1, 4))
    store.sql.executemany("INSERT INTO _board_decisions VALUES (?, ?, ?, ?, ?, ?)", [
        ("deploys", "sha256:0000000000000001", "approve", "ana", "fair", at(5)),
        ("deploys", "sha256:0000000000000002", "approve", "ben", "later", at(2, 4))])
    return store


def read(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_manifest_matches_the_files(filled, tmp_path):
    head_before = audit.verify(filled).head
    out = tmp_path / "march.zip"
    bundle = export_bundle(filled, date(2026, 3, 1), date(2026, 3, 31), out, actor="legal", at=at(1, 5))
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == NAMES
    files = read(out)
    manifest = json.loads(files["manifest.json"])
    assert manifest == bundle.manifest
    for entry in manifest["files"]:
        data = files[entry["name"]]
        assert (entry["bytes"], entry["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert [(f["name"], f["rows"]) for f in manifest["files"]] == [
        ("definitions.jsonl", 2), ("values.jsonl", 2), ("approvals.jsonl", 1), ("holds.jsonl", 1),
        ("audit.jsonl", 3)]
    assert manifest["period"] == {"from": "2026-03-01", "to": "2026-03-31"}
    assert (manifest["created_at"], manifest["created_by"]) == ("2026-05-01T00:00:00+00:00", "legal")
    assert manifest["audit"] == {"head": head_before, "head_seq": 5, "entries": 5, "verified": True,
                                 "first_bad": None, "problem": None}
    last = audit.entries(filled)[-1]
    assert (last.seq, last.actor, last.action, last.target) == (6, "legal", "bundle.export", "march.zip")
    assert last.details["manifest_sha256"] == hashlib.sha256(files["manifest.json"]).hexdigest()
    assert bundle.manifest_sha256 == last.details["manifest_sha256"]


def test_the_files_hold_the_period(filled, tmp_path):
    out = tmp_path / "march.zip"
    export_bundle(filled, date(2026, 3, 1), date(2026, 3, 31), out, actor="legal", at=at(1, 5))
    files = {name: [json.loads(line) for line in data.splitlines()] for name, data in read(out).items()
             if name.endswith(".jsonl")}
    assert [(d["id"], d["content"]["name"], d["effective_at"]) for d in files["definitions.jsonl"]] == [
        ("deploys", "Deploys", "2026-03-01T00:00:00+00:00"), ("deploys", "Deployments", "2026-03-20T00:00:00+00:00")]
    assert [(v["metric"], v["as_of"], v["value"], v["definition_version"]) for v in files["values.jsonl"]] == [
        ("deploys", "2026-03-31", 7.0, "sha256:0000000000000001"),
        ("failures", "2026-03-31", 1.0, "sha256:0000000000000001")]
    assert [(a["actor"], a["rationale"]) for a in files["approvals.jsonl"]] == [("ana", "fair")]
    assert [(h["hold_id"], h["reason"]) for h in files["holds.jsonl"]] == [("hold-1", "matter 42")]
    assert [(e["seq"], e["action"]) for e in files["audit.jsonl"]] == [
        (1, "definitions.record"), (2, "hold.place"), (3, "definitions.record")]


def test_the_bundle_holds_the_approvals_and_versions_behind_its_values(store, tmp_path):
    """Values of 03-05 computed on 03-22 with a version recorded on 03-20 and approved on 03-21: that version and
    its approval are in the bundle of 03-05, and so is the approval (of 02-03) in force when the day began. A
    round of a version never in force and a decision made after the values were computed are not."""
    from engmetrics.catalog.model import Indicator
    from engmetrics.catalog.version import definition_version
    from engmetrics.governance.board import ReviewBoard, approve, propose, reject

    board = ReviewBoard.model_validate({"name": "Board", "members": ["ana", "ben"], "quorum": 1})
    v1 = {**DEPLOYS, "id": "gated", "affects": ["performance_review"]}
    v2 = {**v1, "name": "Gated deploys"}
    root = tmp_path / "ws"
    write_metrics(root, v1)
    record_definitions(store, root, at=at(1, 2), actor="ci")
    store.sql.execute("INSERT INTO _board_decisions VALUES ('gated', 'sha256:00000000000000aa', 'propose', 'zed', "
                      "NULL, ?)", [at(15, 1)])  # a round of a version never in force
    propose(store, board, Indicator.model_validate(v1), "dee", at=at(2, 2))
    approve(store, board, Indicator.model_validate(v1), "ana", "org level only", at=at(3, 2))
    write_metrics(root, v2)
    record_definitions(store, root, at=at(20), actor="ci")  # after the period
    propose(store, board, Indicator.model_validate(v2), "dee", at=at(21))
    approve(store, board, Indicator.model_validate(v2), "ana", "renamed only", at=at(21).replace(hour=12))
    v2_version = definition_version(Indicator.model_validate(v2))
    save_results(store, [MetricResult(metric="gated", period_start=date(2026, 2, 27), period_end=date(2026, 3, 5),
                                      value=7.0, previous=None, status="green", definition_version=v2_version,
                                      as_of=date(2026, 3, 5))],
                 evaluated_at=at(22))  # `metrics evaluate --as-of 2026-03-05` run on 03-22
    reject(store, board, Indicator.model_validate(v2), "ben", "too late", at=at(25))  # after the values
    out = tmp_path / "day.zip"
    export_bundle(store, date(2026, 3, 5), date(2026, 3, 5), out, actor="legal", at=at(1, 5))
    files = {name: [json.loads(line) for line in data.splitlines()] for name, data in read(out).items()
             if name.endswith(".jsonl")}
    assert [(d["id"], d["version"], d["effective_at"]) for d in files["definitions.jsonl"] if d["kind"] == "indicator"
            ] == [("gated", definition_version(Indicator.model_validate(v1)), "2026-02-01T00:00:00+00:00"),
                  ("gated", v2_version, "2026-03-20T00:00:00+00:00")]
    assert [(a["action"], a["actor"], a["decided_at"]) for a in files["approvals.jsonl"]] == [
        ("propose", "dee", "2026-02-02T00:00:00+00:00"), ("approve", "ana", "2026-02-03T00:00:00+00:00"),
        ("propose", "dee", "2026-03-21T00:00:00+00:00"), ("approve", "ana", "2026-03-21T12:00:00+00:00")]


def test_the_same_period_exports_the_same_data_bytes(filled, tmp_path):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    export_bundle(filled, date(2026, 3, 1), date(2026, 3, 31), first, actor="legal", at=at(1, 5))
    export_bundle(filled, date(2026, 3, 1), date(2026, 3, 31), second, actor="legal", at=at(1, 5))
    a, b = read(first), read(second)
    assert {n: a[n] for n in NAMES[:-1]} == {n: b[n] for n in NAMES[:-1]}
    # the audit head moved: the first export is itself audited
    assert json.loads(b["manifest.json"])["audit"]["head_seq"] == 6


def test_a_broken_audit_chain_is_reported_in_the_manifest(filled, tmp_path):
    filled.sql.execute("UPDATE _audit SET reason = 'nothing' WHERE seq = 2")
    bundle = export_bundle(filled, date(2026, 3, 1), date(2026, 3, 31), tmp_path / "x.zip", actor="legal")
    assert (bundle.manifest["audit"]["verified"], bundle.manifest["audit"]["first_bad"]) == (False, 2)


def test_bad_requests(store, tmp_path):
    with pytest.raises(InputError, match="before its --from"):
        export_bundle(store, date(2026, 3, 2), date(2026, 3, 1), tmp_path / "x.zip", actor="legal")
    with pytest.raises(InputError, match="does not exist"):
        export_bundle(store, date(2026, 3, 1), date(2026, 3, 2), tmp_path / "no" / "x.zip", actor="legal")
    assert audit.entries(store) == []


def test_export_bundle_cli(cli, tmp_path):
    out = tmp_path / "q1.zip"
    result = cli("governance", "export-bundle", "--from", "2026-01-01", "--to", "2026-03-31", "--out", out,
                 "--as", "legal", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["path"] == str(out) and data["created_by"] == "legal"
    assert data["manifest_sha256"] == hashlib.sha256(read(out)["manifest.json"]).hexdigest()
    human = cli("governance", "export-bundle", "--from", "2026-01-01", "--to", "2026-03-31", "--out", out)
    assert human.exit_code == 0 and "verified" in human.stdout
    assert cli("governance", "export-bundle", "--from", "2026-04-01", "--to", "2026-03-31", "--out", out
               ).exit_code == 1
