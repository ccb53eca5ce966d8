"""`engmetrics slo status`, `backtest` and `recommend` on a workspace store: exit codes and JSON fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from test_status import minutes, slo_doc
from typer.testing import CliRunner

from engmetrics.cli.common import console
from engmetrics.cli.main import app
from engmetrics.settings import load_settings
from engmetrics.store import Store
from engmetrics.workspace import init_workspace

runner = CliRunner()
AT = datetime(2026, 1, 4, tzinfo=UTC)
STATUS_FIELDS = {"slo", "service", "objective", "target", "window", "budgeting_method", "good", "total", "sli",
                 "error_budget", "burn_rate", "burn_rates", "alerts", "excluded_events", "state"}


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    init_workspace(root)
    (root / "slos").mkdir(exist_ok=True)
    (root / "slos" / "checkout.yaml").write_text(slo_doc("checkout-availability", "checkout", "availability"))
    with Store.open(load_settings(root).store_url) as store:
        # 1-3 January at 1000 events a minute; 22:00-22:30 on 3 January at 5 % errors (50 bad a minute)
        minutes(store, "checkout", "availability", AT - timedelta(days=3), 3 * 1440, 1000,
                3 * 1440 - 120, 3 * 1440 - 90, 50)
        store.sql.execute("""INSERT INTO incidents (incident_id, service, severity, title, impact_started_at,
            declared_at, resolved_at) VALUES ('INC-1', 'checkout', 2, 'payment errors', '2026-01-03 22:00:00+00',
            '2026-01-03 22:10:00+00', '2026-01-03 22:40:00+00')""")
    return root


def invoke(root, *args: str):
    return runner.invoke(app, ["-w", str(root), "slo", *args])


def test_status_json_has_the_contract_fields_and_the_firing_tier(workspace):
    result = invoke(workspace, "status", "--at", "2026-01-03T22:30:00", "--json")
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)
    assert set(item) >= STATUS_FIELDS
    assert set(item["burn_rates"]) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    # window so far: 2 days + 22.5 h = 4,230,000 events, 1,500 bad; allowed 4,230
    assert item["error_budget"] == {"allowed": pytest.approx(4230), "consumed": 1500,
                                    "remaining": pytest.approx(1 - 1500 / 4230)}
    # burn 50 over 30m and 5m, 25 over 1h (>= 14.4: the fast page), 50 x 30 / 360 = 4.17 over 6h (< 6)
    assert (item["burn_rates"]["5m"], item["burn_rates"]["1h"]) == (pytest.approx(50), pytest.approx(25))
    assert [(a["long_window"], a["short_window"]) for a in item["alerts"] if a["firing"]] == [("1h", "5m")]
    assert item["state"] == "warning"


def test_status_table_and_spec_errors(workspace, monkeypatch):
    monkeypatch.setattr(console, "width", 200)  # Rich reads COLUMNS once, when the console is made
    result = invoke(workspace, "status", "--at", "2026-01-03T22:30:00")
    assert result.exit_code == 0, result.output
    assert "checkout-availability" in result.stdout and "warning" in result.stdout
    (workspace / "slos" / "bad.yaml").write_text("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\n")
    result = invoke(workspace, "status")
    assert result.exit_code == 1 and "slos/bad.yaml:" in result.output


def test_backtest_scores_the_outage_against_the_incident(workspace):
    result = invoke(workspace, "backtest", "checkout-availability", "--from", "2026-01-02", "--to", "2026-01-04",
                    "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [t["table"] for t in report["tables"]] == ["default", "workbook"]
    default = report["tables"][0]
    # the 1h burn reaches 14.4 after 18 bad minutes (50 x 18 / 60 = 15) at 22:18; the 5m window falls below
    # it at 22:34 (one bad minute left: 10); no other tier reaches its factor
    assert [(f["severity"], f["long_window"], f["start"], f["end"]) for f in default["firings"]] == [
        ("page", "1h", "2026-01-03T22:18:00+00:00", "2026-01-03T22:34:00+00:00")]
    page = default["scores"]["page"]
    assert (page["precision"], page["recall"], page["detection_delay_median"]) == (1.0, 1.0, 18 * 60)
    assert [row["page_recall"] for row in report["comparison"]] == [1.0, 1.0]


def test_backtest_of_an_unknown_slo_fails(workspace):
    result = invoke(workspace, "backtest", "nope")
    assert result.exit_code == 1 and "no OpenSLO SLO named 'nope'" in result.output


def test_recommend_json(workspace):
    result = invoke(workspace, "recommend", "checkout", "availability", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert any("baseline too short" in w for w in data["warnings"])
    # 4,320,000 events, 1,500 bad: achieved 0.999653
    assert data["overall"]["achieved"] == pytest.approx(1 - 1500 / 4_320_000)
