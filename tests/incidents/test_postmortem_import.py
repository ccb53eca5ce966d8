"""`postmortem import`: the timeline, action items and the postmortem land in the datasets; re-import is
unchanged; files with errors are reported and skipped; `postmortem new` pre-fills from the incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from engmetrics.incidents.postmortem import import_postmortems

from .test_postmortem_validate import BROKEN, COMPLETE

NOW = datetime(2026, 3, 20, 9, tzinfo=UTC)


def add_incident(store) -> None:
    store.sql.execute("""INSERT INTO incidents (incident_id, service, team, severity, title, declared_at,
        detected_at, resolved_at, root_cause_category, caused_by_deployment_id) VALUES ('INC-0042', 'checkout',
        'payments', 2, 'Payments down', '2026-03-01 13:08:00+00', '2026-03-01 13:06:00+00',
        '2026-03-01 15:30:00+00', 'configuration', 'D-17')""")


def folder_with(tmp_path, **files: str):
    folder = tmp_path / "postmortems"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.md").write_text(text)
    return folder


def test_import_round_trip(tmp_path, workspace_store):
    store = workspace_store
    add_incident(store)
    folder = folder_with(tmp_path, **{"INC-0042": COMPLETE})
    result = import_postmortems(store, folder, now=NOW)
    assert [f.as_dict() for f in result.files] == [{
        "file": str(folder / "INC-0042.md"), "incident": "INC-0042", "status": "imported", "errors": 0,
        "warnings": 0, "completeness": 1.0}]
    counts = {name: (r.read, r.inserted, r.updated, r.unchanged, r.quarantined) for name, r in result.ingests.items()}
    assert counts == {"incidents": (1, 0, 1, 0, 0), "action_items": (2, 2, 0, 0, 0), "postmortems": (1, 1, 0, 0, 0)}
    row = store.sql.execute("""SELECT impact_started_at, detected_at, declared_at, acknowledged_at, mitigated_at,
        resolved_at, title, root_cause_category, caused_by_deployment_id, users_affected, contributing_factors,
        detection_source FROM incidents""").fetchall()
    utc = [datetime(2026, 3, 1, h, m, tzinfo=UTC) for h, m in ((13, 0), (13, 5), (13, 8), (13, 10), (13, 45), (15, 0))]
    # the timeline is the postmortem's (14:00+01:00 is 13:00Z ...); the stored title, cause and deploy stay;
    # the empty users_affected, contributing_factors and detection_source are filled from the postmortem
    assert [v.astimezone(UTC) for v in row[0][:6]] == utc
    assert row[0][6:] == ("Payments down", "configuration", "D-17", 1200, ["configuration", "monitoring_gap"],
                          "alert")
    items = store.sql.execute("""SELECT item_id, type, owner_team, created_at, due_at, completed_at, status
        FROM action_items ORDER BY item_id""").fetchall()
    day = lambda m, d: datetime(2026, m, d, tzinfo=UTC)  # noqa: E731
    assert [(i[0], i[1], i[2], i[3].astimezone(UTC), i[4].astimezone(UTC), i[5] and i[5].astimezone(UTC), i[6])
            for i in items] == [
        ("AI-01", "prevent", "payments", day(3, 1), day(3, 15), day(3, 10), "done"),  # created: the resolved day
        ("AI-02", "mitigate", "sre", day(3, 1), day(4, 1), None, "open")]
    pm = store.sql.execute("""SELECT team, users_affected, duration_minutes, slo_budget_consumed, trigger, went_well,
        authors, action_items, completeness, imported_at FROM postmortems""").fetchall()
    assert pm[0][:9] == ("payments", 1200, 45.0, 0.25, "A configuration push set the payment provider timeout to "
                         "100 ms.", "The alert fired within five minutes.", ["payments", "sre"], 2, 1.0)
    assert pm[0][9].astimezone(UTC) == NOW

    again = import_postmortems(store, folder, now=datetime(2026, 3, 21, tzinfo=UTC))
    assert {name: (r.read, r.unchanged) for name, r in again.ingests.items()} == {
        "incidents": (1, 1), "action_items": (2, 2), "postmortems": (1, 1)}
    assert store.sql.execute("SELECT imported_at FROM postmortems").fetchone()[0].astimezone(UTC) == NOW


def test_files_with_errors_are_reported_and_the_rest_load(tmp_path, workspace_store):
    store = workspace_store
    folder = folder_with(tmp_path, **{"INC-0042": COMPLETE, "INC-0043": BROKEN})
    result = import_postmortems(store, folder, now=NOW)
    assert [(f.incident, f.imported, f.errors, f.warnings) for f in result.files] == [
        ("INC-0042", True, 0, 0), ("INC-0043", False, 10, 3)]  # BROKEN: 10 errors and 3 warnings
    assert result.rejected == 1
    # INC-0042 was not in the store: it is created from the postmortem, declared_at from timeline.declared
    assert store.sql.execute("SELECT incident_id, team, severity, title FROM incidents").fetchall() == [
        ("INC-0042", "payments", 2, "Checkout: payments failing")]
    assert store.count("postmortems") == 1 and store.count("action_items") == 2


def test_cli_new_validate_import_and_completeness(tmp_path, workspace, cli):
    from engmetrics.settings import load_settings
    from engmetrics.store import Store

    with Store.open(load_settings(workspace).store_url) as store:
        add_incident(store)
    made = cli("postmortem", "new", "INC-0042")
    path = workspace / "postmortems" / "INC-0042.md"
    assert made.exit_code == 0, made.output
    text = path.read_text()
    assert 'title: "Payments down"' in text and "detected: 2026-03-01T13:06:00+00:00" in text
    assert cli("postmortem", "new", "INC-0042").exit_code == 1  # exists: needs --force
    assert cli("postmortem", "new", "INC-0042", "--force").exit_code == 0
    unknown = cli("postmortem", "new", "INC-9")
    assert unknown.exit_code == 1 and "unknown incident 'INC-9'" in unknown.stderr
    assert cli("postmortem", "new", "../INC-0042").exit_code == 1  # not a file name

    checked = cli("postmortem", "validate", str(path), "--json")
    assert checked.exit_code == 1
    issues = json.loads(checked.stdout)
    assert set(issues[0]) == {"level", "rule", "file", "line", "message", "incident"}
    assert {"rule": "missing-field", "line": 11, "message": "summary is missing"}.items() <= next(
        i for i in issues if i["message"] == "summary is missing").items()

    path.write_text(COMPLETE)
    assert cli("postmortem", "validate", str(path)).exit_code == 0
    (workspace / "postmortems" / "INC-0043.md").write_text(BROKEN)
    imported = cli("postmortem", "import", str(workspace / "postmortems"), "--json")
    assert imported.exit_code == 1  # one file rejected
    body = json.loads(imported.stdout)
    assert [f["status"] for f in body["files"]] == ["imported", "rejected"]
    assert body["ingests"]["action_items"]["inserted"] == 2

    by_team = cli("postmortem", "completeness", "--by", "team", "--json")
    assert by_team.exit_code == 0
    assert json.loads(by_team.stdout) == [{
        "team": "payments", "postmortems": 1, "missing": 0, "n": 1, "mean_score": 1.0, "min_score": 1.0,
        "max_score": 1.0, "below_50": 0, "from_50": 0, "from_80": 0, "complete": 1}]
    table = cli("postmortem", "completeness")
    assert table.exit_code == 0 and "INC-0042" in table.stdout
    assert cli("postmortem", "completeness", "--by", "service").exit_code == 2
