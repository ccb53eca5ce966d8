"""Budgets: hand-checked actuals, forecasts, thresholds and alerts; loading; notifications; the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.cost.budgets import Budget, budget_notifications, budget_status, load_budgets, period_bounds
from engmetrics.notify import NotifySettings, Webhook, deliver
from engmetrics.settings import load_settings
from engmetrics.store import Store

APRIL = date(2026, 4, 1)


def bill(store: Store, first: date, amounts: list[float], *, account: str = "acct-1", tags: str | None = None,
         currency: str = "USD", billed_factor: float = 1.0, provider: str = "AWS") -> None:
    """One usage row per day from `first`, EffectiveCost amounts[i] (BilledCost x billed_factor)."""
    rows = []
    for i, amount in enumerate(amounts):
        day = datetime.combine(first + timedelta(days=i), datetime.min.time(), tzinfo=UTC)
        rows.append([f"{account}-{tags}-{currency}-{day.date()}", day.replace(day=1), day + timedelta(days=1), day,
                     day + timedelta(days=1), amount * billed_factor, amount, account, currency, tags, provider])
    store.sql.executemany(
        """INSERT INTO cost (x_row_hash, BillingPeriodStart, BillingPeriodEnd, ChargePeriodStart, ChargePeriodEnd,
               ChargeCategory, BilledCost, EffectiveCost, SubAccountId, BillingCurrency, Tags, ProviderName)
           VALUES (?, ?, ?, ?, ?, 'Usage', ?, ?, ?, ?, ?, ?)""", rows)


def budget(**fields) -> Budget:
    return Budget.model_validate({"name": "b", "scope": {"account": "acct-1"}, "period": "monthly",
                                  "amount": 1000, "currency": "USD", **fields})


def status_of(store: Store, b: Budget, as_of: date) -> dict:
    [s] = budget_status(store, [b], as_of)
    return s.to_dict()


def crossed(item: dict) -> list[tuple[float, bool | None, bool | None]]:
    return [(t["percent"], t["actual_crossed"], t["forecast_crossed"]) for t in item["thresholds"]]


def test_the_forecast_alert_fires_before_the_actual(store):
    bill(store, APRIL, [40.0] * 30)  # 40 a day, 1,200 over April's 30 days, against a budget of 1,000
    day3 = status_of(store, budget(), date(2026, 4, 3))
    # actual 3 x 40 = 120 (12 %); level 40 for the 27 days left: 120 + 1,080 = 1,200 (120 %), no spread
    assert (day3["actual"], day3["actual_share"], day3["days_observed"]) == (120.0, 0.12, 3)
    assert (day3["forecast"], day3["forecast_low"], day3["forecast_high"]) == (1200.0, 1200.0, 1200.0)
    assert crossed(day3) == [(50, False, True), (80, False, True), (100, False, True)]
    assert [(a["type"], a["percent"]) for a in day3["alerts"]] == [("forecast", 50), ("forecast", 80),
                                                                   ("forecast", 100)]
    assert day3["status"] == "forecast_over_budget"
    day15 = status_of(store, budget(), date(2026, 4, 15))
    # actual 600 (60 %): the 50 % alert is the actual's now; 15 days fit trend + weekdays: still 40 a day
    assert (day15["actual"], day15["forecast"], day15["forecast_method"]) == (600.0, 1200.0, "trend+weekday")
    assert [(a["type"], a["percent"]) for a in day15["alerts"]] == [("actual", 50), ("forecast", 80),
                                                                    ("forecast", 100)]
    day25 = status_of(store, budget(), date(2026, 4, 25))
    assert (day25["actual"], day25["status"]) == (1000.0, "over_budget")  # 25 x 40
    assert [(a["type"], a["percent"]) for a in day25["alerts"]] == [("actual", 50), ("actual", 80), ("actual", 100)]


def test_no_forecast_before_the_third_day(store):
    bill(store, APRIL, [600.0, 40.0, 40.0])
    day2 = status_of(store, budget(), date(2026, 4, 2))
    assert (day2["actual"], day2["days_observed"], day2["forecast"], day2["status"]) == (
        640.0, 2, None, "insufficient_data")
    # the actual still alerts: 640 >= 500; forecast thresholds are unknown, not false
    assert crossed(day2) == [(50, True, None), (80, False, None), (100, False, None)]
    assert [(a["type"], a["percent"]) for a in day2["alerts"]] == [("actual", 50)]
    assert status_of(store, budget(), date(2026, 4, 3))["forecast"] == 680.0 + 27 * 680.0 / 3  # level: mean of 3


def test_lagging_cost_data_is_not_read_as_zero_days(store):
    bill(store, APRIL, [40.0] * 13)  # the export stops on 13 April
    item = status_of(store, budget(), date(2026, 4, 15))
    # 13 days counted; the 17 days from 14 April are forecast at 40: 520 + 680
    assert (item["actual_through"], item["days_observed"], item["actual"], item["forecast"]) == (
        "2026-04-13", 13, 520.0, 1200.0)


def test_a_lagging_provider_holds_back_the_scopes_with_cost_from_it(store):
    bill(store, APRIL, [40.0] * 14, account="azure-sub", provider="Microsoft", tags='{"team": "payments"}')
    bill(store, APRIL, [10.0] * 20, account="aws-1", tags='{"team": "payments"}')  # AWS, through 20 April
    bill(store, APRIL, [100.0] * 20, account="aws-1", tags='{"team": "search"}')
    azure, payments, search = budget_status(store, [budget(scope={"account": "azure-sub"}),
                                                    budget(scope={"team": "payments"}),
                                                    budget(scope={"team": "search"})], date(2026, 4, 20))
    # the Azure account: Microsoft data stops on 14 April, AWS's on the 20th: 14 days counted (560), and the 16
    # days from 15 April are forecast from those 14 (a flat 40): 560 + 16 x 40 = 1,200, not 15-20 April as zeros
    assert (azure.actual_through, azure.days_observed, azure.actual) == (date(2026, 4, 14), 14, 560.0)
    assert (azure.forecast["total"], azure.forecast["low"], azure.forecast["high"]) == (1200.0, 1200.0, 1200.0)
    # payments has cost from both providers: counted through 14 April, (40 + 10) x 14 = 700; + 16 x 50 = 1,500
    assert (payments.actual_through, payments.actual, payments.forecast["total"]) == (date(2026, 4, 14), 700.0,
                                                                                      1500.0)
    # search is AWS only: through 20 April, 2,000 + 10 x 100 = 3,000
    assert (search.actual_through, search.actual, search.forecast["total"]) == (date(2026, 4, 20), 2000.0, 3000.0)


def test_quarterly_period(store):
    bill(store, APRIL, [10.0] * 91)
    item = status_of(store, budget(period="quarterly"), date(2026, 5, 15))
    # Q2 = 1 April .. 30 June; 30 + 15 = 45 days counted (450), 16 + 30 = 46 left at 10: 910 of 1,000
    assert (item["period_start"], item["period_end"], item["actual"], item["forecast"]) == (
        "2026-04-01", "2026-06-30", 450.0, 910.0)
    assert [(a["type"], a["percent"]) for a in item["alerts"]] == [("forecast", 50), ("forecast", 80)]
    assert item["status"] == "warning"
    assert period_bounds("quarterly", date(2026, 12, 31)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert period_bounds("monthly", date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))


def test_team_budget_from_allocation_with_weekly_pattern(store):
    feb = date(2026, 2, 1)  # a Sunday; weekdays cost 100, weekends 20
    days = [feb + timedelta(days=i) for i in range(38)]  # 1 February .. 10 March
    bill(store, feb, [20.0 if d.weekday() >= 5 else 100.0 for d in days], tags='{"Team": "Platform"}')
    bill(store, feb, [1000.0] * 38, tags='{"team": "search"}')
    item = status_of(store, budget(scope={"team": "platform"}, amount=2500), date(2026, 3, 10))
    # actual 1-10 March: Sun 20 + Mon-Fri 500 + Sat, Sun 40 + Mon, Tue 200 = 760
    # left 11-31 March (Wed .. Tue): 3 whole weeks = 15 weekdays x 100 + 6 weekend days x 20 = 1,620
    assert (item["actual"], item["forecast"], item["forecast_method"]) == (760.0, 2380.0, "trend+weekday")
    assert crossed(item) == [(50, False, True), (80, False, True), (100, False, False)]  # 2,380 = 95.2 %
    assert item["scope"] == {"team": "platform"}


def test_basis_currency_and_default_thresholds(store):
    bill(store, APRIL, [40.0] * 5, billed_factor=0.5)
    bill(store, APRIL, [7.0] * 5, currency="eur")
    b = budget()
    assert (b.thresholds.actual, b.thresholds.forecast) == ([50, 80, 100], [50, 80, 100])
    effective, billed = status_of(store, b, date(2026, 4, 5)), status_of(store, budget(basis="billed"),
                                                                        date(2026, 4, 5))
    assert (effective["actual"], billed["actual"]) == (200.0, 100.0)  # 5 x 40, 5 x 20
    assert effective["other_currencies"] == {"EUR": 35.0}  # never added to a USD budget
    only = status_of(store, budget(thresholds={"actual": [10], "forecast": [90]}), date(2026, 4, 5))
    # actual 200 = 20 %; forecast 200 + 25 x 40 = 1,200
    assert crossed(only) == [(10, True, None), (90, None, True)]


def test_loading_budgets_names_file_and_line(tmp_path):
    folder = tmp_path / "budgets"
    folder.mkdir()
    (folder / "a.yaml").write_text(
        "kind: Budget\nname: platform\nscope: {team: platform}\nperiod: monthly\namount: 100\ncurrency: usd\n"
        "---\nkind: Budget\nname: platform\nscope: {account: 123456789012}\nperiod: quarterly\namount: 5\n"
        "currency: USD\n---\nkind: Budget\nname: bad\nscope: {team: a, service: b}\nperiod: weekly\namount: 0\n"
        "currency: USD\n")
    report = load_budgets(tmp_path)
    assert [(d.model.name, d.model.currency, d.line) for d in report.budgets] == [("platform", "USD", 1)]
    messages = [str(i) for i in report.issues]
    assert "budgets/a.yaml:9: ERROR [unique] budget 'platform' is already defined at budgets/a.yaml:1" in messages
    assert any(m.startswith("budgets/a.yaml:17:") and "exactly one of team, service, account" in m for m in messages)
    assert any(m.startswith("budgets/a.yaml:18:") and "period" in m for m in messages)
    assert any(m.startswith("budgets/a.yaml:19:") and "greater than 0" in m for m in messages)


def test_one_notification_per_alert_keyed_by_type_and_percent(store):
    bill(store, APRIL, [40.0] * 30)
    day3, day15 = (budget_status(store, [budget(name="acct")], date(2026, 4, d))[0] for d in (3, 15))
    n3, n15 = budget_notifications([day3]), budget_notifications([day15])
    assert [n.key for n in n3] == [f"budget:acct:2026-04-01:forecast:{p}" for p in (50, 80, 100)]
    assert [n.key for n in n15] == ["budget:acct:2026-04-01:actual:50", "budget:acct:2026-04-01:forecast:80",
                                    "budget:acct:2026-04-01:forecast:100"]
    assert (n15[0].title, n15[2].title) == ("Budget acct: actual reached 50 %", "Budget acct: forecast crosses 100 %")
    assert n3[0].fields["Forecast"] == "1,200.00 USD (120%), 80 % interval 1,200.00 to 1,200.00"
    assert budget_notifications(budget_status(store, [budget(amount=10**6)], date(2026, 4, 3))) == []


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_a_budget_alert_reaches_the_webhook_once(store, receiver):
    url, received = receiver
    bill(store, APRIL, [40.0] * 30)
    config = NotifySettings(webhooks=[Webhook(name="finops", url=url)], backoff_seconds=0)
    for _ in range(2):  # the same day evaluated twice: one message per alert
        deliver(store, config, budget_notifications(budget_status(store, [budget()], date(2026, 4, 3))))
    deliver(store, config, budget_notifications(budget_status(store, [budget()], date(2026, 4, 4))))  # same alerts
    assert [r["blocks"][0]["text"]["text"] for r in received] == [
        "Budget b: forecast crosses 50 %", "Budget b: forecast crosses 80 %", "Budget b: forecast crosses 100 %"]
    assert "crosses 100 % of the budget before the actual does" in received[2]["text"]


def sent_keys(received: list[dict]) -> list[str]:
    """The dedup keys of the messages a webhook received (the payload's context line ends with the key)."""
    return [r["blocks"][-1]["elements"][0]["text"].rsplit(" ", 1)[1] for r in received]


def test_a_falling_forecast_sends_nothing_new(store, receiver):
    url, received = receiver
    bill(store, APRIL, [40.0, 40.0, 40.0, 20.0, 20.0, 64.0] + [40.0] * 8)
    config = NotifySettings(webhooks=[Webhook(name="finops", url=url)], backoff_seconds=0)
    alerts, forecasts, sent = {}, {}, {}
    for day in (3, 5, 6, 14):
        [status] = budget_status(store, [budget()], date(2026, 4, day))
        alerts[day], forecasts[day] = [(a["type"], a["percent"]) for a in status.alerts], status.forecast["total"]
        sent[day] = sum(d.status == "sent" for d in deliver(store, config, budget_notifications([status])))
    # 3 April: level 40 -> 120 + 27 x 40 = 1,200: forecast 50, 80 and 100 % (sent)
    # 5 April: actual 160, level 160 / 5 = 32 -> 160 + 25 x 32 = 960: the forecast falls below 100 %; its 50 and
    # 80 % alerts were sent on the 3rd: nothing new
    # 6 April: actual 224, level 224 / 6 -> 224 + 24 x 224 / 6 = 1,120: 100 % again, sent already
    # 14 April: actual 224 + 8 x 40 = 544 reaches 50 %: the one new alert
    assert (forecasts[3], forecasts[5], forecasts[6]) == (1200.0, 960.0, 1120.0)
    assert alerts[5] == [("forecast", 50), ("forecast", 80)]
    assert alerts[6] == [("forecast", 50), ("forecast", 80), ("forecast", 100)]
    assert alerts[14][0] == ("actual", 50)
    assert sent == {3: 3, 5: 0, 6: 0, 14: 1}
    assert sent_keys(received) == [f"budget:b:2026-04-01:forecast:{p}" for p in (50, 80, 100)] + [
        "budget:b:2026-04-01:actual:50"]


def test_alerts_follow_the_thresholds(store):
    @settings(max_examples=10, deadline=None)
    @given(st.lists(st.floats(0, 200), min_size=1, max_size=30), st.floats(1, 5000))
    def check(amounts, amount):
        store.sql.execute("DELETE FROM cost")
        bill(store, APRIL, amounts)
        item = status_of(store, budget(amount=amount), APRIL + timedelta(days=len(amounts) - 1))
        assert item["actual"] == pytest.approx(sum(amounts), abs=1e-5)
        for t in item["thresholds"]:
            assert t["actual_crossed"] == (item["actual"] >= amount * t["percent"] / 100)
            fired = {(a["type"], a["percent"]) for a in item["alerts"]}
            assert (("actual", t["percent"]) in fired) == t["actual_crossed"]
            assert (("forecast", t["percent"]) in fired) == (bool(t["forecast_crossed"]) and not t["actual_crossed"])
        assert (item["forecast"] is None) == (len(amounts) < 3)

    check()


def test_cli_json(workspace, cli):
    with Store.open(load_settings(workspace).store_url) as store:
        bill(store, APRIL, [40.0] * 30)
    (workspace / "budgets").mkdir(exist_ok=True)
    (workspace / "budgets" / "acct.yaml").write_text(
        "kind: Budget\nname: acct\nscope: {account: acct-1}\nperiod: monthly\namount: 1000\ncurrency: USD\n")
    result = cli("cost", "budgets", "--at", "2026-04-03", "--json")
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)["items"]
    assert set(item) >= {"name", "scope", "period_start", "period_end", "amount", "currency", "actual",
                         "actual_share", "forecast", "forecast_low", "forecast_high", "thresholds", "alerts",
                         "status"}
    assert (item["name"], item["actual"], item["forecast"], item["status"]) == ("acct", 120.0, 1200.0,
                                                                                "forecast_over_budget")
    table = cli("cost", "budgets", "--at", "2026-04-03")
    assert table.exit_code == 0 and "acct" in table.stdout
    (workspace / "budgets" / "bad.yaml").write_text("kind: Budget\nname: x\n")
    bad = cli("cost", "budgets", "--json")
    assert bad.exit_code == 1 and "budgets/bad.yaml:1" in bad.output


def test_cli_notify_sends_once(workspace, cli, receiver):
    url, received = receiver
    with Store.open(load_settings(workspace).store_url) as store:
        bill(store, APRIL, [40.0] * 30)
    (workspace / "budgets").mkdir(exist_ok=True)
    (workspace / "budgets" / "acct.yaml").write_text(
        "kind: Budget\nname: acct\nscope: {account: acct-1}\nperiod: monthly\namount: 1000\ncurrency: USD\n")
    with (workspace / "engmetrics.yaml").open("a") as f:
        f.write(f"\nnotify:\n  webhooks:\n    - {{name: finops, url: '{url}'}}\n")
    for _ in range(2):
        result = cli("cost", "budgets", "--at", "2026-04-03", "--notify", "--json")
        assert result.exit_code == 0, result.output
    assert len(received) == 3  # forecast 50, 80 and 100 %, once
    assert [d["status"] for d in json.loads(result.stdout)["notifications"]] == ["duplicate"] * 3
