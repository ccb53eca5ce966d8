"""`engmetrics cost allocate`: JSON fields, the Rich table, the workspace's rules, and bad input."""

from __future__ import annotations

import json

from test_allocation import SHARED, bill, direct_rows, org


def _workspace(workspace, store, rules: str | None = None) -> None:
    org(store)
    direct_rows(store)
    bill(store, SHARED)
    store.close()
    if rules:
        (workspace / "budgets").mkdir(exist_ok=True)
        (workspace / "budgets" / "allocation.yaml").write_text(rules)


RULES = """kind: AllocationRules
shared:
  - name: support
    match: {ServiceName: AWS Support}
    split: fixed
    percentages: {Payments: 60, search: 40}
"""


def test_json_items_total_and_coverage(workspace, workspace_store, cli):
    _workspace(workspace, workspace_store, RULES)
    result = cli("cost", "allocate", "--by", "team", "--from", "2026-03-01", "--to", "2026-03-31", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["by"], out["basis"], out["from"], out["to"]) == (
        "team", "effective", "2026-03-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00")
    # Payments 18 + 60 % of 30, search 20 + 40 % of 30, untagged 7; total 75
    assert out["items"] == [
        {"group": "Payments", "cost": 36.0, "share": 0.48, "direct": 18.0, "shared": 18.0, "currency": "USD"},
        {"group": "search", "cost": 32.0, "share": 32 / 75, "direct": 20.0, "shared": 12.0, "currency": "USD"},
        {"group": "(untagged)", "cost": 7.0, "share": 7 / 75, "direct": 7.0, "shared": 0.0, "currency": "USD"}]
    assert out["total"] == {"cost": 75.0, "direct": 45.0, "shared": 30.0, "currency": "USD", "share": 1.0}
    assert out["coverage"] == [{"provider": "AWS", "account": "B1", "currency": "USD", "cost": 75.0,
                                "tagged": 35.0, "rule": 0.0, "fallback": 3.0, "shared": 30.0, "untagged": 7.0,
                                "coverage": 35 / 75}]


def test_billed_basis_and_tag_view(workspace, workspace_store, cli):
    _workspace(workspace, workspace_store)
    out = json.loads(cli("cost", "allocate", "--by", "tag:TEAM", "--basis", "billed", "--from", "2026-03-01",
                         "--to", "2026-04-01", "--json").output)
    # billed: the Payments-tagged row is 12 (effective 10), user:team 5; the key alone, so owner-team and the
    # services fallback do not count: 77 - 17 untagged. Payments and payments once each: the first in sort order
    assert {i["group"]: i["cost"] for i in out["items"]} == {"Payments": 17.0, "(untagged)": 60.0}
    assert out["basis"] == "billed"


def test_table_for_people(workspace, workspace_store, cli):
    _workspace(workspace, workspace_store, RULES)
    result = cli("cost", "allocate", "--from", "2026-03-01", "--to", "2026-04-01")
    assert result.exit_code == 0, result.output
    assert "Cost by team (effective)" in result.output
    for text in ("Payments", "36.00", "48.0%", "(untagged)", "total", "75.00", "46.7%"):  # coverage 35 / 75
        assert text in result.output


def test_bad_input_exits_1_with_a_message(workspace, workspace_store, cli):
    _workspace(workspace, workspace_store, RULES.replace("40}", "30}"))
    result = cli("cost", "allocate", "--from", "2026-03-01", "--to", "2026-04-01")
    assert result.exit_code == 1
    assert "budgets/allocation.yaml:6" in result.output and "not 100 %" in result.output
    for args, message in ((("--by", "account"), "--by must be one of"), (("--basis", "list"), "--basis must be"),
                          (("--from", "2026-03-05", "--to", "2026-03-01"), "must be after")):
        result = cli("cost", "allocate", *args)
        assert result.exit_code == 1 and message in result.output, result.output
