"""GET /api/v1/cost/allocation, /idle, /budgets, /commitments, /unit and /reconcile: each is what `engmetrics cost
... --json` prints for the same options (the CLI runs on a copy of the data in the workspace's own store), with
hand-checked figures, bad parameters as 422 problems, budgets never notifying, and team scoping (the
team-member's team is payments).

Data (`fill`), AWS account 111, USD, daily rows 2026-03-01..14 (14 days):
- payments: 10 a day, tags team=payments service=checkout, resource i-pay (idle: p95 CPU 2 %);
- search: 20 a day, tag team=search, resource i-search (rightsizing: p95 CPU 20 %, memory 30 %);
- untagged: 5 a day, resource i-orphan (cost but no utilisation: unknown);
- AWS Support: 6 a day, shared in proportion to direct cost (payments 2, search 4), and 3 on 03-20 when nobody
  has direct cost (unallocated);
- a savings plan sp-1 on 2026-02-25: used 6, unused 2; an Azure row of 10 EUR on 2026-02-10 (stops early).
Business volume: checkout orders 100 a day over the same 14 days. Rates: 1 EUR = 1.1 USD (budgets/rates.yaml).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from fastapi.testclient import TestClient

from cost.test_budgets import receiver  # noqa: F401  (a webhook receiver fixture)
from engmetrics.api import create_app
from engmetrics.api.routes.cost import RATES_FILES
from engmetrics.auth.tokens import create_token
from engmetrics.cost.reconcile import RATES_FILES as CLI_RATES_FILES  # the one list the CLI and API share
from engmetrics.notify import NotifySettings, Webhook
from engmetrics.settings import load_settings
from engmetrics.store import Store

PROBLEM = "application/problem+json"
ROUTES = ("allocation", "idle", "budgets", "commitments", "unit", "reconcile")
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
_ids = count()

ALLOCATION = """kind: AllocationRules
shared:
  - name: support
    match: {ServiceName: AWS Support}
    split: proportional
"""
BUDGETS = {
    "pay.yaml": "kind: Budget\nname: pay-monthly\nscope: {team: payments}\nperiod: monthly\namount: 300\n"
                "currency: USD\n",
    "search.yaml": "kind: Budget\nname: search-monthly\nscope: {team: search}\nperiod: monthly\namount: 2000\n"
                   "currency: USD\n",
    "account.yaml": "kind: Budget\nname: aws-account\nscope: {account: '111'}\nperiod: monthly\namount: 1000\n"
                    "currency: USD\n",
}
RATES = "rates:\n  - {from: EUR, to: USD, rate: 1.1}\n"
OPEN_COST = "datasets:\n  cost: [viewer, team-member, manager, auditor, metrics-admin]\n"


def open_cost(root) -> None:
    """Let every role read cost (these tests are about cost; the default policy restricts it)."""
    (root / "policies").mkdir(exist_ok=True)
    (root / "policies" / "access.yaml").write_text(OPEN_COST)


def _row(day: datetime, cost: float, *, tags: dict | None = None, resource: str | None = None,
         service: str = "Amazon EC2", provider: str = "AWS", account: str = "111", currency: str = "USD",
         commitment: tuple[str, str] | None = None) -> tuple:
    period = day.replace(day=1)
    return (f"r{next(_ids)}", period, (period + timedelta(days=32)).replace(day=1), day, day + timedelta(days=1),
            "Usage", cost, cost, currency, provider, account, resource, service, "Compute", "Standard",
            json.dumps(tags) if tags else None, *(commitment or (None, None)))


def fill(store: Store) -> None:
    """The module docstring's data."""
    store.sql.execute("INSERT INTO teams (team) VALUES ('payments'), ('search')")
    store.sql.execute("INSERT INTO services (service, team) VALUES ('checkout', 'payments'), ('search-api', 'search')")
    rows = []
    for d in range(14):
        day = MARCH + timedelta(days=d)
        rows += [_row(day, 10, tags={"team": "payments", "service": "checkout"}, resource="i-pay"),
                 _row(day, 20, tags={"team": "search"}, resource="i-search"),
                 _row(day, 5, resource="i-orphan"), _row(day, 6, service="AWS Support")]
    feb25 = datetime(2026, 2, 25, tzinfo=UTC)
    rows += [_row(datetime(2026, 3, 20, tzinfo=UTC), 3, service="AWS Support"),
             _row(feb25, 6, tags={"team": "payments"}, commitment=("sp-1", "Used")),
             _row(feb25, 2, commitment=("sp-1", "Unused")),
             _row(datetime(2026, 2, 10, tzinfo=UTC), 10, provider="Azure", account="az-1", currency="EUR")]
    store.sql.executemany(
        "INSERT INTO cost (x_row_hash, BillingPeriodStart, BillingPeriodEnd, ChargePeriodStart, ChargePeriodEnd, "
        "ChargeCategory, BilledCost, EffectiveCost, BillingCurrency, ProviderName, SubAccountId, ResourceId, "
        "ServiceName, ServiceCategory, PricingCategory, Tags, CommitmentDiscountId, CommitmentDiscountStatus) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    samples = []
    t = datetime(2026, 2, 20, tzinfo=UTC)
    while t < datetime(2026, 3, 15, tzinfo=UTC):
        samples += [("i-pay", t, 0.02, 0.3), ("i-search", t, 0.2, 0.3)]
        t += timedelta(hours=6)
    store.sql.executemany("INSERT INTO utilization (resource_id, ts, cpu_util, mem_util, provider, resource_type, "
                          "region) VALUES (?, ?, ?, ?, 'AWS', 'Virtual Machine', 'eu-central-1')", samples)
    store.sql.executemany("INSERT INTO business_volume (service, metric, ts, value) VALUES ('checkout', 'orders', ?, "
                          "100)", [[MARCH + timedelta(days=d)] for d in range(14)])


@pytest.fixture
def workspace(workspace):
    """The CLI's workspace (tests/conftest.py) with the rules, budgets and rates, and the data in its store."""
    budgets = workspace / "budgets"
    (budgets / "allocation.yaml").write_text(ALLOCATION)
    for name, text in BUDGETS.items():
        (budgets / name).write_text(text)
    (budgets / "rates.yaml").write_text(RATES)
    open_cost(workspace)
    with Store.open(load_settings(workspace).store_url) as store:
        fill(store)
    return workspace


@pytest.fixture
def settings(workspace):
    return load_settings(workspace)


@pytest.fixture
def api_store():
    with Store.open("duckdb://") as store:
        fill(store)
        yield store


def _get(client, auth, route: str, role: str = "manager", **params: object) -> object:
    response = client.get(f"/api/v1/cost/{route}", params=params, headers=auth(role))
    assert response.status_code == 200, response.text
    return response.json()


def _cli(cli, *args: object) -> object:
    result = cli("cost", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _rounded(value: object) -> object:
    """`value` with every float to 10 significant digits: two runs may add the same floats in another order."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _same(client, auth, cli, route: str, params: dict[str, object], *args: object) -> object:
    """The route's JSON for `params`, asserted equal to `engmetrics cost *args --json`; returned."""
    body = _get(client, auth, route, **params)
    assert _rounded(body) == _rounded(_cli(cli, *args))
    return body


def test_the_routes_need_a_token(client):
    for route in ROUTES:
        response = client.get(f"/api/v1/cost/{route}")
        assert response.status_code == 401 and response.headers["content-type"] == PROBLEM


def test_allocation_is_the_cli_json(client, auth, cli):
    window = {"from": "2026-03-01", "to": "2026-03-31"}
    body = _same(client, auth, cli, "allocation", {"by": "team", **window}, "allocate", "--by", "team",
                 "--from", "2026-03-01", "--to", "2026-03-31")
    assert (body["from"], body["to"]) == ("2026-03-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00")  # as the CLI
    # payments 140 + 2 x 14 shared, search 280 + 4 x 14, untagged 70, unallocated 3 (03-20); total 577
    assert [(i["group"], i["direct"], i["shared"], i["cost"]) for i in body["items"]] == [
        ("search", 280.0, 56.0, 336.0), ("payments", 140.0, 28.0, 168.0), ("(untagged)", 70.0, 0.0, 70.0),
        ("(unallocated)", 0.0, 3.0, 3.0)]
    assert body["total"]["cost"] == pytest.approx(577.0) and body["items"][1]["share"] == pytest.approx(168 / 577)
    assert body["coverage"][0]["coverage"] == pytest.approx(420 / 577)  # by tags: payments and search direct
    _same(client, auth, cli, "allocation", {"by": "service", "basis": "billed", **window}, "allocate", "--by",
          "service", "--basis", "billed", "--from", "2026-03-01", "--to", "2026-03-31")
    _same(client, auth, cli, "allocation", {"by": "tag:Team", **window}, "allocate", "--by", "tag:Team",
          "--from", "2026-03-01", "--to", "2026-03-31")


def test_idle_is_the_cli_json(client, auth, cli):
    body = _same(client, auth, cli, "idle", {"at": "2026-03-14"}, "idle", "--at", "2026-03-14")
    # 14 billed days in the window: i-pay 140 -> 300 a month, all saved; i-search 280 -> 600, half saved
    assert [(i["resource_id"], i["verdict"], i["monthly_cost"], i["estimated_monthly_savings"], i["team"])
            for i in body["items"]] == [("i-pay", "idle", 300.0, 300.0, "payments"),
                                        ("i-search", "rightsize", 600.0, 300.0, "search")]
    assert [u["resource_id"] for u in body["unknown"]] == ["i-orphan"]
    assert body["estimated_monthly_savings"] == {"USD": 600.0}
    _same(client, auth, cli, "idle", {"at": "2026-03-14", "lookback_days": 7}, "idle", "--at", "2026-03-14",
          "--lookback-days", "7")


def test_budgets_are_the_cli_json(client, auth, cli):
    body = _same(client, auth, cli, "budgets", {"at": "2026-03-14"}, "budgets", "--at", "2026-03-14")
    assert body["at"] == "2026-03-14" and body["notifications"] == []
    items = {i["name"]: i for i in body["items"]}
    assert set(items) == {"pay-monthly", "search-monthly", "aws-account"}
    assert items["pay-monthly"]["actual"] == pytest.approx(168.0)  # 14 x (10 + 2 shared)
    assert items["aws-account"]["actual"] == pytest.approx(574.0)  # 14 x (10 + 20 + 5 + 6), direct
    assert items["pay-monthly"]["forecast_low"] <= items["pay-monthly"]["forecast"] <= \
        items["pay-monthly"]["forecast_high"]


def test_budgets_never_notify(settings, api_store, auth, receiver):  # noqa: F811
    url, received = receiver
    notifying = settings.model_copy(update={"notify": NotifySettings(webhooks=[Webhook(name="finops", url=url)])})
    client = TestClient(create_app(notifying, store=api_store))
    body = _get(client, auth, "budgets", at="2026-03-14")
    assert any(i["alerts"] for i in body["items"]) and body["notifications"] == []
    assert received == []


def test_commitments_are_the_cli_json(client, auth, cli):
    body = _same(client, auth, cli, "commitments", {}, "commitments")
    # the window ends at the midnight after the last charge (03-20) and starts 30 days before
    assert (body["start"], body["end"]) == ("2026-02-19T00:00:00+00:00", "2026-03-21T00:00:00+00:00")
    [sp] = body["items"]
    assert (sp["commitment_id"], sp["used_cost"], sp["unused_cost"], sp["utilization"]) == ("sp-1", 6.0, 2.0, 0.75)
    assert [(r["provider"], r["status"]) for r in body["recommendations"]] == [("AWS", "ok")]
    _same(client, auth, cli, "commitments", {"lookback_days": 60, "discount": 0.2, "to": "2026-03-14"},
          "commitments", "--lookback-days", "60", "--discount", "0.2", "--to", "2026-03-14")


def test_unit_is_the_cli_json(client, auth, cli):
    body = _same(client, auth, cli, "unit", {"metric": "orders", "from": "2026-03-01", "to": "2026-03-31"},
                 "unit", "--metric", "orders", "--from", "2026-03-01", "--to", "2026-03-31")
    # checkout: 140 direct + all of the 84 shared on days with direct cost (search's rows carry no service tag)
    [march] = body["items"]
    assert (march["service"], march["cost"], march["volume"]) == ("checkout", 224.0, 1400.0)
    assert march["cost_per_unit"] == pytest.approx(0.16)
    _same(client, auth, cli, "unit", {"period": "week"}, "unit", "--period", "week")  # default window: data end


def test_reconcile_is_the_cli_json(client, auth, cli):
    body = _same(client, auth, cli, "reconcile", {}, "reconcile")
    assert body["currency"] == "USD"  # the workspace has rates
    items = {(i["provider"], i["billing_period_start"]): i for i in body["items"]}
    assert items[("Azure", "2026-02-01")]["line_item_total"] == pytest.approx(11.0)  # 10 EUR x 1.1
    assert items[("AWS", "2026-03-01")]["missing_days"] == [f"2026-03-{d}" for d in range(15, 20)]
    assert {p["provider"]: p["stops_early"] for p in body["providers"]} == {"AWS": False, "Azure": True}
    _same(client, auth, cli, "reconcile", {"currency": "eur", "tolerance": 0.5}, "reconcile", "--currency", "eur",
          "--tolerance", "0.5")
    assert RATES_FILES == CLI_RATES_FILES
    february = _same(client, auth, cli, "reconcile", {"from": "2026-02-01", "to": "2026-02-28"}, "reconcile",
                     "--from", "2026-02-01", "--to", "2026-02-28")  # billing periods starting in February
    assert (february["from"], february["to"]) == ("2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00")
    assert {i["billing_period_start"] for i in february["items"]} == {"2026-02-01"}


@pytest.mark.parametrize(("route", "params", "field"), [
    ("allocation", {"by": "account"}, "by"), ("allocation", {"basis": "list"}, "basis"),
    ("allocation", {"from": "2026-03-05", "to": "2026-03-01"}, "from"), ("allocation", {"from": "soon"}, "from"),
    ("idle", {"lookback_days": 0}, "lookback_days"), ("idle", {"at": "2026-02-30"}, "at"),
    ("budgets", {"at": "yesterday"}, "at"),
    ("commitments", {"discount": 1}, "discount"), ("commitments", {"to": "later"}, "to"),
    ("commitments", {"lookback_days": 400}, "lookback_days"),
    ("unit", {"period": "year"}, "period"), ("unit", {"from": "2026-04-01"}, "to"),
    ("reconcile", {"currency": "EURO"}, "currency"), ("reconcile", {"tolerance": -1}, "tolerance"),
    ("reconcile", {"from": "2026-03-05", "to": "2026-03-01"}, "from"),
])
def test_bad_parameters_are_422_problems(client, auth, route, params, field):
    response = client.get(f"/api/v1/cost/{route}", params=params, headers=auth("viewer"))
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.text


def test_reconcile_takes_no_file_from_the_request(client, auth, workspace):
    (workspace / "elsewhere.yaml").write_text("rates:\n  - {from: EUR, to: USD, rate: 2}\n")
    body = _get(client, auth, "reconcile", rates="elsewhere.yaml", invoices="elsewhere.yaml")
    items = {(i["provider"], i["billing_period_start"]): i for i in body["items"]}
    assert items[("Azure", "2026-02-01")]["line_item_total"] == pytest.approx(11.0)  # the workspace's 1.1
    assert all(i["invoice_total"] is None for i in body["items"])


def test_a_team_member_sees_its_own_teams(client, auth):
    window = {"from": "2026-03-01", "to": "2026-03-31"}
    mine = _get(client, auth, "allocation", "team-member", **window)
    assert [i["group"] for i in mine["items"]] == ["payments", "(untagged)", "(unallocated)"]
    assert mine["total"] == _get(client, auth, "allocation", **window)["total"]  # aggregates stay
    by_service = _get(client, auth, "allocation", "team-member", by="service", **window)
    assert by_service == _get(client, auth, "allocation", by="service", **window)  # not per team
    budgets = _get(client, auth, "budgets", "team-member", at="2026-03-14")
    assert [i["name"] for i in budgets["items"]] == ["aws-account", "pay-monthly"]  # no search team budget
    idle = _get(client, auth, "idle", "team-member", at="2026-03-14")
    assert [i["resource_id"] for i in idle["items"]] == ["i-pay"] and idle["unknown"] == []
    assert idle["estimated_monthly_savings"] == {"USD": 300.0}  # of the items shown
    for route in ("commitments", "unit", "reconcile"):  # not per team: as every reader sees them
        assert _get(client, auth, route, "team-member") == _get(client, auth, route, "viewer")


@pytest.fixture
def empty_client(settings):
    """A client of the app on an empty store, and a viewer's headers."""
    with Store.open("duckdb://") as store:
        token = create_token(store, "viewer", [], description="empty").token
        yield TestClient(create_app(settings, store=store)), {"Authorization": f"Bearer {token}"}


def test_an_empty_store_answers_empty_reports(empty_client, workspace):
    for name in BUDGETS:
        (workspace / "budgets" / name).unlink()
    client, headers = empty_client
    answers = {}
    for route in ROUTES:
        response = client.get(f"/api/v1/cost/{route}", headers=headers,
                              params={"at": "2026-03-14"} if route in ("idle", "budgets") else {})
        assert response.status_code == 200, response.text
        answers[route] = response.json()
    assert answers["allocation"]["items"] == [] and answers["allocation"]["totals"] == []
    assert answers["budgets"]["items"] == [] and answers["idle"]["items"] == []
    assert answers["commitments"]["recommendations"] == [] and answers["unit"]["items"] == []
    assert answers["reconcile"]["items"] == []


def test_budgets_on_a_store_without_cost(empty_client):
    client, headers = empty_client
    response = client.get("/api/v1/cost/budgets", headers=headers, params={"at": "2026-03-14"})
    assert response.status_code == 200
    assert {i["status"] for i in response.json()["items"]} == {"insufficient_data"}
