"""Vendor connectors on recorded payloads (tests/fixtures/incidents): hand-checked rows, quarantine
reasons, accounting, idempotent re-ingest, severity mapping and the `ingest --from` command."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.errors import InputError
from engmetrics.incidents.connectors import CONNECTORS, Options, connector_for, ingest_vendor
from engmetrics.incidents.connectors.common import Page, Refusal
from engmetrics.incidents.severity import severity_level
from engmetrics.ingest.pseudonym import pseudonym
from engmetrics.settings import IncidentSettings
from engmetrics.store import Store
from engmetrics.store.inventory import quarantine_rows

FIXTURES = Path(__file__).parent.parent / "fixtures" / "incidents"
KEY = bytes(range(32))
PD_PAGES = sorted((FIXTURES / "pagerduty").glob("*.offset*.json"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ingest(store: Store, vendor: str, files: list[Path], incident_settings: IncidentSettings | None = None,
           options: Options | None = None):
    return ingest_vendor(store, CONNECTORS[vendor], incident_settings or IncidentSettings(), files=files,
                         pseudonym_key=KEY, options=options)


def rows(store: Store, table: str) -> dict[str, dict]:
    key = "alert_id" if table == "alerts" else "incident_id"
    return {r[key]: r for r in store.table(table).to_pyarrow().to_pylist()}


def reasons(store: Store, dataset: str) -> dict[tuple[str, int], str]:
    return {(Path(q["source_file"]).name, q["line"]): q["reason"] for q in quarantine_rows(store, dataset)}


def test_pagerduty_p1_from_log_entries(store):
    result = ingest(store, "pagerduty", PD_PAGES)
    # 2 incidents on page offset0 + 1 on offset2; log-entry pages only add times
    assert result.as_dict() | {"files": None} == {"dataset": "incidents", "files": None, "read": 3, "inserted": 3,
                                                  "updated": 0, "unchanged": 0, "quarantined": 0}
    p1 = rows(store, "incidents")["pagerduty:PT4KHLK"]
    # P1 -> 1; triggered 10:00; acknowledged 10:07 (the earlier of 10:07Z and 11:15+01:00 = 10:15Z,
    # spread over three log-entry pages); resolved 11:30
    assert (p1["severity"], p1["declared_at"], p1["acknowledged_at"], p1["resolved_at"]) == (
        1, at("2026-03-02T10:00"), at("2026-03-02T10:07"), at("2026-03-02T11:30"))
    assert (p1["service"], p1["team"], p1["title"], p1["mitigated_at"]) == (
        "checkout-api", "payments", "The server is on fire.", None)


def test_pagerduty_urgency_fallback_offsets_and_status_change(store):
    ingest(store, "pagerduty", PD_PAGES)
    found = rows(store, "incidents")
    search, billing = found["pagerduty:PQ1Z9XB"], found["pagerduty:PRX7M2A"]
    # no priority: urgency "low" -> 4 by the default map; 09:00-05:00 = 14:00Z; still acknowledged, not resolved
    assert (search["severity"], search["declared_at"], search["acknowledged_at"], search["resolved_at"]) == (
        4, at("2026-03-03T14:00"), at("2026-03-03T14:12"), None)
    # P3 -> 3; no log entries at all: resolved = last_status_change_at 09:05, no acknowledgement time
    assert (billing["severity"], billing["acknowledged_at"], billing["resolved_at"]) == (
        3, None, at("2026-03-04T09:05"))


def test_pagerduty_export_quarantines_bad_items_with_reasons(store):
    result = ingest(store, "pagerduty", [FIXTURES / "pagerduty" / "export.json"])
    # 6 items = 1 good + 5 bad
    assert (result.read, result.inserted, result.quarantined) == (6, 1, 5)
    assert result.read == result.inserted + result.updated + result.unchanged + result.quarantined
    good = rows(store, "incidents")["pagerduty:PEXP001"]
    assert (good["severity"], good["acknowledged_at"], good["resolved_at"]) == (
        2, at("2026-04-01T12:05"), at("2026-04-01T12:45"))
    assert reasons(store, "incidents") == {
        ("export.json", 2): "incident_id: required value is missing",
        ("export.json", 3): "severity: unknown severity 'Urgent' (add it to incidents.severity_map)",
        ("export.json", 4): 'declared_at: expected an ISO-8601 timestamp or epoch seconds/milliseconds, '
                            'got "yesterday at noon"',
        ("export.json", 5): "resolved_at: resolved_at is before declared_at",
        ("export.json", 6): "not a JSON object",
    }


def test_reingest_is_unchanged_and_quarantine_not_doubled(store):
    first = ingest(store, "pagerduty", [FIXTURES / "pagerduty" / "export.json", *PD_PAGES])
    again = ingest(store, "pagerduty", [FIXTURES / "pagerduty" / "export.json", *PD_PAGES])
    assert (first.inserted, first.quarantined) == (4, 5)  # 1 + 3 good, 5 bad
    assert (again.read, again.inserted, again.updated, again.unchanged, again.quarantined) == (9, 0, 0, 4, 5)
    assert store.count("incidents") == 4
    assert len(quarantine_rows(store, "incidents")) == 5  # each bad item kept once


def test_a_mapped_name_makes_the_item_valid(store):
    # the map is the only source of truth, case-insensitively: "URGENT" admits priority "Urgent"
    custom = IncidentSettings(severity_map={**IncidentSettings().severity_map, "URGENT": 1})
    result = ingest(store, "pagerduty", [FIXTURES / "pagerduty" / "export.json"], custom)
    assert (result.inserted, result.quarantined) == (2, 4)
    assert rows(store, "incidents")["pagerduty:PEXP003"]["severity"] == 1


def test_opsgenie_alerts(store):
    files = sorted((FIXTURES / "opsgenie").glob("alerts.offset*.json"))
    result = ingest(store, "opsgenie", files)
    assert (result.dataset, result.read, result.inserted) == ("alerts", 3, 3)
    found = rows(store, "alerts")
    first = found["opsgenie:70413a06-38d6-4c85-92b8-5ebc900d42e2"]
    # P1 -> level 1 <= 2: high; 10:00 + 420000 ms (7 min) = 10:07; + 5400000 ms (90 min) = 11:30
    assert (first["rule"], first["urgency"], first["fired_at"], first["acknowledged_at"], first["resolved_at"]) == (
        "event_573", "high", at("2026-03-02T10:00"), at("2026-03-02T10:07"), at("2026-03-02T11:30"))
    assert first["responder"] == pseudonym("trinity@opsgenie.com", KEY)  # pseudonymised, never the address
    assert (first["service"], first["team"], first["source"], first["auto_resolved"]) == (
        "checkout-api", "8418d193-2dab-4490-b331-8c02cdd196b7", "Isengard", False)
    disk = found["opsgenie:1c222ae6-7a56-4c5a-8b2c-6f3e4d9b1a01"]
    # no alias: message template; P3 -> 3 > 2: low; closed 12:00 + 600000 ms = 12:10, never acknowledged
    assert (disk["rule"], disk["urgency"], disk["acknowledged_at"], disk["resolved_at"], disk["auto_resolved"]) == (
        "Disk #% full on db-#", "low", None, at("2026-03-02T12:10"), True)
    assert (disk["service"], disk["team"], disk["responder"]) == ("orders-db", "storage", None)
    open_alert = found["opsgenie:5d8e6f70-1b2c-4d3e-9f40-a1b2c3d4e5f6"]
    assert (open_alert["fired_at"], open_alert["resolved_at"], open_alert["urgency"]) == (
        datetime(2026, 3, 3, 8, 0, 0, 500000, tzinfo=UTC), None, "low")


def test_opsgenie_bad_alerts(store):
    result = ingest(store, "opsgenie", [FIXTURES / "opsgenie" / "bad_alerts.json"])
    assert (result.read, result.inserted, result.quarantined) == (4, 1, 3)
    assert reasons(store, "alerts") == {
        ("bad_alerts.json", 2): "urgency: unknown priority 'P9' (add it to incidents.severity_map)",
        ("bad_alerts.json", 3): "alert_id: required value is missing",
        ("bad_alerts.json", 4): "fired_at: required value is missing",
    }


def test_incidentio_timestamps_fields_and_refusals(store):
    result = ingest(store, "incidentio", sorted((FIXTURES / "incidentio").glob("*.json")))
    assert (result.read, result.inserted, result.quarantined) == (4, 2, 2)
    found = rows(store, "incidents")
    inc42 = found["incidentio:01HQ7ZK3G0M5R9Q2V8W4X6Y1AB"]
    # Critical -> 1; acknowledged 10:12+01:00 = 09:12Z
    assert [inc42[c] for c in ("severity", "impact_started_at", "detected_at", "declared_at", "acknowledged_at",
                               "mitigated_at", "resolved_at", "service", "team", "title")] == [
        1, at("2026-03-05T09:00"), at("2026-03-05T09:05"), at("2026-03-05T09:10"), at("2026-03-05T09:12"),
        at("2026-03-05T09:40"), at("2026-03-05T10:15"), "checkout-api", "payments", "Checkout outage"]
    inc43 = found["incidentio:01HQ80A1B2C3D4E5F6G7H8J9KM"]
    # Minor -> 4; "Impact started" has no value: empty
    assert (inc43["severity"], inc43["impact_started_at"], inc43["detected_at"], inc43["declared_at"]) == (
        4, None, at("2026-03-06T13:55"), datetime(2026, 3, 6, 14, 0, 0, 123456, tzinfo=UTC))
    assert reasons(store, "incidents") == {
        ("incidents.page2.json", 1): "declared_at: never declared (status category declined)",
        ("incidents.page2.json", 2): "severity: unknown severity 'Apocalyptic' (add it to incidents.severity_map)",
    }


def test_incidentio_flat_timestamps_and_renamed_names():
    incident = {"id": "X1", "name": "n", "created_at": "2026-01-01T00:00:00Z", "severity": {"name": "major"},
                "incident_timestamps": [{"name": "fixed", "value": "2026-01-01T00:30:00Z"},
                                        {"name": "Resolved", "value": {"value": "2026-01-01T01:00:00+01:00"}}]}
    [converted] = CONNECTORS["incidentio"].convert(
        [Page("p", {"incidents": [incident]})], IncidentSettings(), Options(timestamp_names={"mitigated_at": "Fixed"}))
    row = converted.rows[0]
    # major -> 2; "fixed" matches the configured "Fixed" case-insensitively; 01:00+01:00 = 00:00Z
    assert (row["severity"], row["mitigated_at"], row["resolved_at"]) == (
        2, "2026-01-01T00:30:00+00:00", "2026-01-01T00:00:00+00:00")
    with pytest.raises(InputError, match="unknown column 'closed_at'"):
        CONNECTORS["incidentio"].convert([Page("p", {"incidents": []})], IncidentSettings(),
                                         Options(timestamp_names={"closed_at": "Closed"}))


def test_github_issues(store):
    result = ingest(store, "github", sorted((FIXTURES / "github").glob("*.json")))
    assert (result.read, result.inserted, result.quarantined) == (4, 3, 1)
    found = rows(store, "incidents")
    first = found["github:acme/ops#101"]
    assert (first["severity"], first["service"], first["team"], first["declared_at"], first["resolved_at"]) == (
        1, "payments-api", "payments", at("2026-03-07T16:00"), at("2026-03-07T17:30"))
    # "Severity: High" -> high -> 2, open: not resolved
    assert (found["github:acme/ops#102"]["severity"], found["github:acme/ops#102"]["resolved_at"]) == (2, None)
    # severity: low -> 4; 23:30-08:00 on the 27th = 07:30Z on the 28th
    assert (found["github:acme/ops#97"]["severity"], found["github:acme/ops#97"]["declared_at"]) == (
        4, at("2026-02-28T07:30"))
    assert reasons(store, "incidents") == {
        ("issues.page2.json", 1): "severity: no severity label (e.g. sev1 or severity: high)"}


@pytest.mark.parametrize(("labels", "expected"), [
    (["incident", "SEV2"], 2),
    (["sev1", "severity: critical"], 1),  # two labels, one level: fine
    (["sev1", "sev3"], Refusal("conflicting severity labels sev1, sev3")),
    (["sev-1"], Refusal("unknown severity 'sev-1' (add it to incidents.severity_map)")),  # not guessed to be sev1
    (["priority/P4"], 4),
])
def test_github_severity_labels(labels, expected):
    issue = {"number": 1, "repository_url": "https://api.github.com/repos/a/b", "created_at": "2026-01-01T00:00:00Z",
             "labels": [{"name": n} for n in labels]}
    [converted] = CONNECTORS["github"].convert([Page("p", [issue])], IncidentSettings(), None)
    assert converted.rows[0]["severity"] == expected


def test_github_needs_the_repository_when_issues_lack_it():
    issue = {"number": 7, "created_at": "2026-01-01T00:00:00Z", "labels": [{"name": "sev2"}]}
    with pytest.raises(InputError, match="--repo"):
        CONNECTORS["github"].convert([Page("p", [issue])], IncidentSettings(), None)
    [converted] = CONNECTORS["github"].convert([Page("p", [issue])], IncidentSettings(), Options(repo="a/b"))
    assert converted.rows[0]["incident_id"] == "github:a/b#7"


def test_unreadable_or_misshapen_files_name_the_file(tmp_path, store):
    broken = tmp_path / "broken.json"
    broken.write_text('{"incidents": [\n  {"id": 1,}\n]}')
    with pytest.raises(InputError, match=r"broken.json:2:\d+: not valid JSON"):
        ingest(store, "pagerduty", [broken])
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"data": []}')
    with pytest.raises(InputError, match=r"wrong\.json: expected a PagerDuty GET /incidents page"):
        ingest(store, "pagerduty", [wrong])


def test_connector_must_fill_the_named_dataset():
    assert connector_for("opsgenie", "alerts").name == "opsgenie"
    with pytest.raises(InputError, match="fills dataset alerts, not incidents"):
        connector_for("opsgenie", "incidents")
    with pytest.raises(InputError, match="unknown source 'jira'"):
        connector_for("jira", "incidents")


@given(st.sampled_from(sorted(IncidentSettings().severity_map)), st.data())
def test_severity_lookup_ignores_case_only(name, data):
    flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    variant = "".join(c.upper() if f else c for c, f in zip(name, flips, strict=True))
    severity_map = IncidentSettings().severity_map
    assert severity_level(f" {variant} ", severity_map) == severity_map[name]
    assert severity_level(variant + "x", severity_map) is None  # nothing near a name is guessed


_PRIORITIES = ["P1", "P2", "p3", "Urgent", None]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PRIORITIES), st.booleans(), st.booleans()), max_size=8))
def test_every_item_is_accounted_for(items):
    """read = items; quarantined = items with an unmapped priority, a bad time or no id (any of them)."""
    incidents = [{"id": f"P{i}" if has_id else None, "priority": {"summary": p} if p else None, "urgency": "zzz",
                  "created_at": "2026-01-01T00:00:00Z" if good_time else "soon"}
                 for i, (p, good_time, has_id) in enumerate(items)]
    bad = sum(1 for p, good_time, has_id in items if p in ("Urgent", None) or not good_time or not has_id)
    with Store.open("duckdb://") as fresh, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "incidents.json"
        path.write_text(json.dumps({"incidents": incidents, "more": False}))
        result = ingest(fresh, "pagerduty", [path])
        assert result.read == len(items)
        assert result.quarantined == bad
        assert result.inserted == len(items) - bad


def test_cli_ingest_from_vendor(workspace, cli):
    pd = cli("ingest", "incidents", "--from", "pagerduty", *map(str, PD_PAGES),
             str(FIXTURES / "pagerduty" / "export.json"), "--json")
    assert pd.exit_code == 0, pd.output
    assert {k: json.loads(pd.output)[k] for k in ("read", "inserted", "quarantined")} == {
        "read": 9, "inserted": 4, "quarantined": 5}
    og = cli("ingest", "alerts", "--from", "opsgenie", str(FIXTURES / "opsgenie" / "alerts.offset0.json"))
    assert og.exit_code == 0, og.output
    assert "alerts: read 2 = inserted 2 + updated 0 + unchanged 0 + quarantined 0" in og.output
    listed = cli("quarantine", "list", "incidents", "--json")
    assert "unknown severity 'Urgent'" in listed.output


@pytest.mark.parametrize(("args", "message"), [
    (["alerts", "--from", "pagerduty", "x.json"], "fills dataset incidents, not alerts"),
    (["incidents", "x.json", "--token", "t"], "need --from VENDOR"),
    (["incidents", "--from", "github"], "give recorded FILEs or --token"),
    (["incidents", "--from", "incidentio", "--timestamp", "oops", "x.json"], "COLUMN=NAME"),
    (["incidents"], "give at least one FILE"),
])
def test_cli_refuses_bad_options(workspace, cli, args, message):
    result = cli("ingest", *args)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
