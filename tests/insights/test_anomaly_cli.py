"""`engmetrics insights anomalies` and `engmetrics insights ack`: a round trip on a workspace store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from engmetrics.settings import load_settings
from engmetrics.store import Store

MONDAY = datetime(2026, 1, 5, 9, tzinfo=UTC)
WEEKLY = [1, 0, 2, 1, 0, 1, 2, 0, 1, 1, 12, 1, 0, 2, 1, 0]


def _seed(workspace) -> None:
    rows = [(f"d{w}-{i}", "api", "production", MONDAY + timedelta(days=7 * w + i % 5, hours=i // 5), "success")
            for w, n in enumerate(WEEKLY) for i in range(n)]
    with Store.open(load_settings(workspace).store_url) as store:
        store.sql.executemany("INSERT INTO deployments (deployment_id, service, environment, started_at, status) "
                              "VALUES (?, ?, ?, ?, ?)", rows)


def test_scan_ack_and_rescan(cli, workspace):
    _seed(workspace)
    result = cli("insights", "anomalies", "--as-of", "2026-04-27", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    # the new workspace's example indicator, deployment_frequency (weekly production deploys), sees it too
    # (same week; newest first, then the higher score first: the daily rows summed by week score higher)
    assert [(f["series"], f["metric"]) for f in found] == [("dataset:deployments", None),
                                                          ("metric:deployment_frequency", "deployment_frequency")]
    finding = found[0]
    assert list(finding) == ["finding_id", "series", "source", "metric", "group", "datasets", "method", "direction",
                             "start_at", "end_at", "peak_at", "value", "expected", "expected_low", "expected_high",
                             "score", "detected_at"]
    assert (finding["group"], finding["datasets"]) == (None, ["deployments"])
    assert (finding["method"], finding["direction"], finding["start_at"], finding["end_at"], finding["value"]) == (
        "counts", "up", "2026-03-16T00:00:00+00:00", "2026-03-23T00:00:00+00:00", 12.0)

    # a rescan prints the stored first detection, not its own time
    rescan = json.loads(cli("insights", "anomalies", "--as-of", "2026-04-27", "--json").output)
    assert [(f["finding_id"], f["detected_at"]) for f in rescan] == [(f["finding_id"], f["detected_at"]) for f in found]

    table = cli("insights", "anomalies", "--as-of", "2026-04-27", "--metric", "dataset:deployments")
    assert table.exit_code == 0 and finding["finding_id"] in table.output

    acked = cli("insights", "ack", finding["finding_id"], "--false-positive", "--note", "release train",
                "--as", "ann", "--json")
    assert acked.exit_code == 0, acked.output
    assert {k: v for k, v in json.loads(acked.output).items() if k != "marked_at"} == {
        "finding_id": finding["finding_id"], "status": "false_positive", "note": "release train", "actor": "ann"}

    again = json.loads(cli("insights", "anomalies", "--as-of", "2026-04-27", "--json").output)
    assert [f["finding_id"] for f in again] == [found[1]["finding_id"]]
    assert cli("insights", "ack", found[1]["finding_id"]).exit_code == 0
    assert "No anomalies." in cli("insights", "anomalies", "--as-of", "2026-05-11").output


def test_bad_input_exit_codes(cli):
    unknown = cli("insights", "ack", "0000000000000000")
    assert unknown.exit_code == 1 and "no anomaly finding" in unknown.output
    assert cli("insights", "anomalies", "--metric", "nope").exit_code == 1
    assert cli("insights", "anomalies", "--since", "yesterday").exit_code == 2


def test_help_shows_examples(cli):
    for command in ("anomalies", "ack"):
        assert "Example: engmetrics insights" in cli("insights", command, "--help").output
