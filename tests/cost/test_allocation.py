"""Cost allocation: tag aliases and casing, owner rules, each shared-cost split, explicit untagged and
unallocated rows, billed vs effective, currencies and tag coverage, with hand-checked numbers."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest

from engmetrics.cost.allocation import allocated_daily, allocation_report, tag_coverage
from engmetrics.cost.allocation_rules import AllocationRules, load_allocation_rules
from engmetrics.errors import InputError

START, END = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
SAMPLE = Path("/work/shared/data/focus/focus_sample.csv")
_ids = count()


def bill(store, *rows: dict) -> None:
    """Insert cost rows: `cost` (EffectiveCost), `billed` (BilledCost, default cost), `day` (2026-03-02),
    `at` (time of day, 10:00), `tags` (a dict or JSON text), `currency`, `provider`, `account` (SubAccountId),
    `billing_account`, `resource`, `name` (ResourceName), `service` (ServiceName)."""
    values = []
    for r in rows:
        start = f"{r.get('day', '2026-03-02')} {r.get('at', '10:00:00')}+00"
        tags = r.get("tags")
        values.append((f"row-{next(_ids)}", "2026-03-01 00:00:00+00", "2026-04-01 00:00:00+00", start, start,
                       "Usage", r.get("billed", r["cost"]), r["cost"], r.get("currency", "USD"),
                       r.get("provider", "AWS"), r.get("billing_account", "B1"), r.get("account"),
                       r.get("resource"), r.get("name"), r.get("service"),
                       json.dumps(tags) if isinstance(tags, dict) else tags))
    if values:
        store.sql.executemany(
            "INSERT INTO cost (x_row_hash, BillingPeriodStart, BillingPeriodEnd, ChargePeriodStart, ChargePeriodEnd, "
            "ChargeCategory, BilledCost, EffectiveCost, BillingCurrency, ProviderName, BillingAccountId, SubAccountId, "
            "ResourceId, ResourceName, ServiceName, Tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values)


def org(store) -> None:
    """Teams Payments and search; services checkout (Payments) and search-api (search)."""
    store.sql.execute("INSERT INTO teams (team) VALUES ('Payments'), ('search')")
    store.sql.execute("INSERT INTO services (service, team) VALUES ('checkout', 'Payments'), "
                      "('search-api', 'search')")


def rules_of(tmp_path: Path, text: str) -> AllocationRules:
    """The rules of one budgets/rules.yaml document (through the workspace loader)."""
    (tmp_path / "budgets").mkdir(exist_ok=True)
    (tmp_path / "budgets" / "rules.yaml").write_text("kind: AllocationRules\n" + textwrap.dedent(text))
    return load_allocation_rules(tmp_path)


def by_group(store, rules: AllocationRules, by: str = "team", basis: str = "effective",
             field: str = "cost", period: tuple[datetime, datetime] = (START, END)) -> dict:
    """{group: sum of `field` over the period} (one currency), rounded to 1e-9."""
    t = allocated_daily(store, rules, by, *period, basis)
    out: dict[str, float] = {}
    for r in t.to_pyarrow().to_pylist():
        out[r["group"]] = out.get(r["group"], 0.0) + r[field]
    return {k: round(v, 9) for k, v in out.items()}


SHARED = {"cost": 30, "service": "AWS Support"}


def direct_rows(store) -> None:
    """Payments 18 (10 + 5 + 3 through checkout's team), search 20, untagged 7, all on 2 March."""
    bill(store, {"cost": 10, "billed": 12, "tags": {"Team": "Payments"}},
         {"cost": 20, "tags": {"owner-team": "SEARCH"}},
         {"cost": 5, "tags": {"user:team": "payments"}},
         {"cost": 3, "tags": {"service": "Checkout"}},
         {"cost": 7})


# ---------------------------------------------------------------- tags

def test_tag_aliases_casing_prefixes_and_service_fallback(store):
    org(store)
    direct_rows(store)
    # Team / owner-team / user:team all mean team; values any case -> the canonical teams.team; the row
    # tagged only service=Checkout falls back to checkout's team in `services`
    assert by_group(store, AllocationRules()) == {"Payments": 18.0, "search": 20.0, "(untagged)": 7.0}


def test_values_match_without_case_and_blank_values_are_missing(store):
    bill(store, {"cost": 1, "tags": {"TEAM": "Ops"}}, {"cost": 2, "tags": {"team": "OPS"}},
         {"cost": 4, "tags": {"team": "  "}}, {"cost": 8, "tags": '{"team": ""}'}, {"cost": 16, "tags": "not json"})
    # Ops and OPS are one group; one row each: the tie goes to the first in sort order ("O" "P" < "O" "p")
    assert by_group(store, AllocationRules()) == {"OPS": 3.0, "(untagged)": 28.0}


def test_group_names_are_canonical_or_the_most_common_spelling(store):
    org(store)  # teams Payments and search
    bill(store, {"cost": 1, "tags": {"team": "PAYMENTS", "env": "prod"}},
         {"cost": 2, "tags": {"team": "payments", "env": "prod"}},
         {"cost": 64, "tags": {"team": "DATA", "env": "Prod"}},
         {"cost": 4, "tags": {"Team": "Data", "env": "PROD"}},
         {"cost": 8, "tags": {"team": "Data", "CostCenter": "Cc-7"}},
         {"cost": 16, "tags": {"costcenter": "CC-7"}})
    # team: Payments is the teams dataset's name whatever the tags say; data is spelled Data on 2 rows, DATA on 1
    # (its 64 do not count: rows do): Payments 1 + 2, Data 64 + 4 + 8, untagged 16
    assert by_group(store, AllocationRules()) == {"Payments": 3.0, "Data": 76.0, "(untagged)": 16.0}
    # environment: prod on 2 rows, Prod and PROD on 1 each: 1 + 2 + 64 + 4; untagged 8 + 16
    assert by_group(store, AllocationRules(), "environment") == {"prod": 71.0, "(untagged)": 24.0}
    # tag:costcenter: Cc-7 and CC-7 once each, the tie to the first in sort order: 8 + 16
    assert by_group(store, AllocationRules(), "tag:costcenter") == {"CC-7": 24.0, "(untagged)": 71.0}


def test_configured_keys_replace_the_defaults_and_fallback_keys_come_after_them(store, tmp_path):
    bill(store, {"cost": 1, "tags": {"Squad": "a", "team": "x"}}, {"cost": 2, "tags": {"CostCenter": "b"}},
         {"cost": 4, "tags": {"squad": "c", "costcenter": "d"}}, {"cost": 8, "tags": {"team": "x"}})
    rules = rules_of(tmp_path, """
        dimensions:
          team: {keys: [Squad], fallbacks: ["tag:CostCenter"]}
    """)
    # `team` is no longer a key: the last row is untagged; squad wins over the cost-center fallback
    assert by_group(store, rules) == {"a": 1.0, "b": 2.0, "c": 4.0, "(untagged)": 8.0}


def test_the_first_alias_in_order_wins_and_numbers_are_values(store, tmp_path):
    bill(store, {"cost": 1, "tags": {"owner-team": "second", "team": "first"}},
         {"cost": 2, "tags": '{"team": 42, "env": "prod"}'})
    assert by_group(store, AllocationRules()) == {"first": 1.0, "42": 2.0}


def test_blanks_around_keys_are_ignored(store):
    bill(store, {"cost": 1, "tags": '{" Team ": "a", "x": "team"}'}, {"cost": 2, "tags": '{"x": "team", "y": 1}'})
    # the second row has "team" only as a value
    assert by_group(store, AllocationRules()) == {"a": 1.0, "(untagged)": 2.0}


def test_environment_and_tag_views(store):
    bill(store, {"cost": 1, "tags": {"Env": "Prod", "CostCenter": "CC-1"}},
         {"cost": 2, "tags": {"environment": "prod", "costcenter": "cc-1"}},
         {"cost": 4, "tags": {"stage": "dev"}}, {"cost": 8})
    # Prod and prod once each: shown as Prod, the first in sort order
    assert by_group(store, AllocationRules(), "environment") == {"Prod": 3.0, "dev": 4.0, "(untagged)": 8.0}
    # tag:KEY is that key alone (any case), no aliases
    assert by_group(store, AllocationRules(), "tag:COSTCENTER") == {"CC-1": 3.0, "(untagged)": 12.0}
    assert by_group(store, AllocationRules(), "tag:stage") == {"dev": 4.0, "(untagged)": 11.0}


# ---------------------------------------------------------------- owner rules

def test_account_and_resource_rules_beat_tags(store, tmp_path):
    org(store)
    bill(store, {"cost": 1, "account": "111", "tags": {"team": "search"}},
         {"cost": 2, "resource": "arn:aws:s3:::LOGS-eu", "tags": {"team": "search"}},
         {"cost": 4, "name": "db-prod-7"}, {"cost": 8, "name": "db-staging-1"},
         {"cost": 16, "billing_account": "999"}, {"cost": 32, "service": "Amazon Route 53"})
    rules = rules_of(tmp_path, """
        owners:
          - {match: {SubAccountId: 111}, team: platform}
          - {match: {ResourceId: "arn:aws:s3:::logs-*"}, team: observability}
          - {match: {ResourceName: {regex: "^db-(prod|stg)-"}}, team: data}
          - {match: {BillingAccountId: ["998", "999"]}, team: Payments}
          - {match: {ServiceName: "*route 53"}, service: checkout}
    """)
    # 111 -> platform (beats its search tag); the glob ignores case; the regex takes db-prod only; a list of
    # accounts; the Route 53 row gets service checkout from its rule, then team Payments through `services`
    assert by_group(store, rules) == {"platform": 1.0, "observability": 2.0, "data": 4.0, "Payments": 48.0,
                                      "(untagged)": 8.0}
    assert by_group(store, rules, "service") == {"checkout": 32.0, "(untagged)": 31.0}


def test_the_first_rule_naming_a_dimension_wins_and_tag_conditions_match(store, tmp_path):
    bill(store, {"cost": 1, "account": "1", "tags": {"env": "prod", "Shared-By": "Everyone"}},
         {"cost": 2, "account": "1", "tags": {"env": "dev"}})
    rules = rules_of(tmp_path, """
        owners:
          - {match: {SubAccountId: "1"}, environment: production}
          - {match: {SubAccountId: "1"}, team: a, environment: ignored}
          - {match: {tags: {shared-by: "every*"}}, team: b}
    """)
    assert by_group(store, rules, "environment") == {"production": 3.0}
    assert by_group(store, rules) == {"a": 3.0}  # rule 2 before rule 3
    rules = rules_of(tmp_path, """
        owners:
          - {match: {tags: {SHARED-BY: "*"}}, team: b}
    """)
    assert by_group(store, rules) == {"b": 1.0, "(untagged)": 2.0}


# ---------------------------------------------------------------- shared cost

@pytest.fixture
def shared_day(store):
    """Direct: Payments 18, search 20, untagged 7 on 2 March, plus 30 of AWS Support (shared)."""
    org(store)
    direct_rows(store)
    bill(store, SHARED)
    return store


def test_even_split_among_groups_with_direct_cost(shared_day, tmp_path):
    rules = rules_of(tmp_path, """
        shared:
          - {name: support, match: {ServiceName: AWS Support}, split: even}
    """)
    # 30 / 2 owners (the untagged row gets none)
    assert by_group(shared_day, rules) == {"Payments": 33.0, "search": 35.0, "(untagged)": 7.0}
    assert by_group(shared_day, rules, field="shared") == {"Payments": 15.0, "search": 15.0, "(untagged)": 0.0}


def test_even_split_among_named_groups(shared_day, tmp_path):
    rules = rules_of(tmp_path, """
        shared:
          - {name: support, match: {ServiceName: AWS Support}, split: even, among: [payments, SEARCH, platform]}
    """)
    # 30 / 3 named groups, canonical names; platform has no direct cost and still takes its third
    assert by_group(shared_day, rules) == {"Payments": 28.0, "search": 30.0, "platform": 10.0, "(untagged)": 7.0}


def test_proportional_split(shared_day, tmp_path):
    rules = rules_of(tmp_path, """
        shared:
          - {name: support, match: {ServiceName: AWS Support}, split: proportional}
    """)
    # 30 x 18/38 = 14.210526315..., 30 x 20/38 = 15.789473684...
    assert by_group(shared_day, rules, field="shared") == {
        "Payments": round(30 * 18 / 38, 9), "search": round(30 * 20 / 38, 9), "(untagged)": 0.0}


def test_fixed_percentages(shared_day, tmp_path):
    rules = rules_of(tmp_path, """
        shared:
          - name: support
            match: {ServiceName: AWS Support}
            split: fixed
            percentages: {Payments: 60, search: 40}
    """)
    assert by_group(shared_day, rules) == {"Payments": 18 + 18.0, "search": 20 + 12.0, "(untagged)": 7.0}


def test_usage_split_by_business_volume(shared_day, tmp_path):
    shared_day.sql.execute("""INSERT INTO business_volume VALUES
        ('checkout', 'transactions', '2026-03-02 01:00:00+00', 200),
        ('checkout', 'transactions', '2026-03-02 13:00:00+00', 100),
        ('search-api', 'transactions', '2026-03-02 05:00:00+00', 100),
        ('search-api', 'queries', '2026-03-02 05:00:00+00', 1e6),
        ('search-api', 'transactions', '2026-03-03 05:00:00+00', 1e6)""")
    rules = rules_of(tmp_path, """
        shared:
          - name: support
            match: {ServiceName: AWS Support}
            split: usage
            usage: {dataset: business_volume, metric: transactions}
    """)
    # 2 March: checkout (Payments) 300, search-api (search) 100 transactions -> 30 x 3/4, 30 x 1/4
    assert by_group(shared_day, rules, field="shared") == {"Payments": 22.5, "search": 7.5, "(untagged)": 0.0}
    # by service the same volumes name the services themselves
    assert by_group(shared_day, rules, "service", field="shared") == {
        "checkout": 22.5, "search-api": 7.5, "(untagged)": 0.0}
    # by environment there is no basis: the 30 are unallocated
    assert by_group(shared_day, rules, "environment")["(unallocated)"] == 30.0


def test_usage_split_by_utilization(store, tmp_path):
    bill(store, {"cost": 10, "resource": "r1", "tags": {"team": "a"}},
         {"cost": 1, "resource": "r1", "tags": {"team": "b"}},
         {"cost": 10, "resource": "r2", "tags": {"team": "b"}}, {"cost": 40, "service": "shared-k8s"})
    store.sql.execute("""INSERT INTO utilization (resource_id, ts, cpu_util) VALUES
        ('R1', '2026-03-02 00:00:00+00', 0.4), ('r1', '2026-03-02 01:00:00+00', 0.2),
        ('r2', '2026-03-02 00:00:00+00', 0.2), ('r3', '2026-03-02 00:00:00+00', 0.9)""")
    rules = rules_of(tmp_path, """
        shared:
          - {name: cluster, match: {ServiceName: shared-k8s}, split: usage, usage: {dataset: utilization}}
    """)
    # r1 (R1 too: ids compare without case) counts for a (10 of its 11), cpu 0.6; r2 for b, 0.2; r3 has no
    # cost: 40 x 3/4 and 40 x 1/4
    assert by_group(store, rules, field="shared") == {"a": 30.0, "b": 10.0}


def test_shared_cost_with_no_basis_is_unallocated(store, tmp_path):
    bill(store, {"cost": 10, "tags": {"team": "a"}}, {"cost": 5, "day": "2026-03-03", "tags": {"team": "a"}},
         {"cost": -5, "day": "2026-03-03", "tags": {"team": "b"}},
         {"cost": 30, "service": "AWS Support"}, {"cost": 6, "service": "AWS Support", "day": "2026-03-04"},
         {"cost": 4, "service": "AWS Support", "day": "2026-03-03"})
    rules = rules_of(tmp_path, """
        shared:
          - {name: support, match: {ServiceName: AWS Support}, split: proportional}
    """)
    daily = {(str(r["day"]), r["group"]): r["cost"]
             for r in allocated_daily(store, rules, "team", START, END).to_pyarrow().to_pylist()}
    # 2 March: a takes the 30; 3 March: only a has positive direct cost (b's credit is no weight): a 5 + 4;
    # 4 March: nobody has direct cost -> unallocated
    assert daily == {("2026-03-02", "a"): 40.0, ("2026-03-03", "a"): 9.0, ("2026-03-03", "b"): -5.0,
                     ("2026-03-04", "(unallocated)"): 6.0}


def test_rules_naming_groups_apply_in_their_dimension_only(shared_day, tmp_path):
    rules = rules_of(tmp_path, """
        shared:
          - {name: support, match: {ServiceName: AWS Support}, split: fixed, percentages: {Payments: 100}}
    """)
    assert by_group(shared_day, rules)["Payments"] == 18.0 + 30.0
    # by service the rule (about teams) is skipped: support's 30 are direct cost, with no service tag
    # untagged: 10 + 20 + 5 + 7 + 30 = 72
    assert by_group(shared_day, rules, "service") == {"checkout": 3.0, "(untagged)": 72.0}


def test_an_untagged_rule_applies_in_its_own_view_only(store, tmp_path):
    bill(store, {"cost": 50, "tags": {"service": "checkout"}}, {"cost": 10, "tags": {"team": "a", "service": "web"}},
         {"cost": 20, "tags": {"team": "b", "service": "api"}}, {"cost": 30, "service": "AWS Support"})
    rules = rules_of(tmp_path, """
        shared:
          - {name: leftovers, match: {untagged: true}, split: even}
          - {name: support, match: {ServiceName: AWS Support}, split: proportional}
    """)
    # by team: checkout's 50 and support's 30 have no team; leftovers (first) takes both: 80 evenly to a and b
    assert by_group(store, rules) == {"a": 10.0 + 40.0, "b": 20.0 + 40.0}
    # by service leftovers (about teams) is skipped: checkout keeps its 50, and support's 30 fall to the next
    # rule, proportional to direct cost 50 : 10 : 20 -> 18.75, 3.75, 7.5
    assert by_group(store, rules, "service") == {"checkout": 68.75, "web": 13.75, "api": 27.5}
    # by tag:team likewise: support's 30 proportional to a 10 : b 20; checkout's 50 untagged
    assert by_group(store, rules, "tag:team") == {"a": 20.0, "b": 40.0, "(untagged)": 50.0}


def test_by_provider_keeps_the_provider_of_shared_cost(store, tmp_path):
    bill(store, {"cost": 10, "tags": {"team": "a"}}, {"cost": 30, "provider": "Microsoft", "tags": {"team": "b"}},
         {"cost": 8, "provider": "Microsoft", "service": "AWS Support"})
    rules = rules_of(tmp_path, """
        shared:
          - {name: support, match: {ServiceName: AWS Support}, split: proportional}
    """)
    rows = {(r["group"], r["provider"]): (r["direct"], r["shared"]) for r in allocated_daily(
        store, rules, "team", START, END, by_provider=True).to_pyarrow().to_pylist()}
    # the Microsoft support row (8) splits 10 : 30 over a and b (whatever their providers): 2 and 6, as Microsoft
    assert rows == {("a", "AWS"): (10.0, 0.0), ("a", "Microsoft"): (0.0, 2.0), ("b", "Microsoft"): (30.0, 6.0)}


def test_untagged_cost_as_shared_and_tag_matched_shared_cost(shared_day, tmp_path):
    bill(shared_day, {"cost": 12, "tags": {"team": "Shared"}})
    rules = rules_of(tmp_path, """
        shared:
          - {name: platform, match: {tags: {team: shared}}, split: even}
          - {name: leftovers, match: {untagged: true}, split: fixed, percentages: {payments: 50, search: 50}}
    """)
    # `platform` 12 -> 6 + 6; `leftovers` takes every row with no team: the 7 untagged and the 30 of support
    # -> 18.5 each
    assert by_group(shared_day, rules, field="shared") == {"Payments": 24.5, "search": 24.5}
    assert by_group(shared_day, rules) == {"Payments": 42.5, "search": 44.5}


def test_the_first_matching_shared_rule_takes_the_row(shared_day, tmp_path):
    rules = rules_of(tmp_path, """
        shared:
          - {name: a, match: {ServiceName: "AWS *"}, split: fixed, percentages: {search: 100}}
          - {name: b, match: {ServiceName: AWS Support}, split: fixed, percentages: {Payments: 100}}
    """)
    assert by_group(shared_day, rules, field="shared")["search"] == 30.0


# ---------------------------------------------------------------- bases, currencies, period

def test_billed_and_effective_bases(store):
    bill(store, {"cost": 8, "billed": 10, "tags": {"team": "a"}}, {"cost": 3, "billed": 0, "tags": {"team": "b"}})
    assert by_group(store, AllocationRules()) == {"a": 8.0, "b": 3.0}
    assert by_group(store, AllocationRules(), basis="billed") == {"a": 10.0, "b": 0.0}
    with pytest.raises(InputError, match="basis"):
        allocated_daily(store, AllocationRules(), "team", START, END, "list")


def test_currencies_are_never_added(store, tmp_path):
    bill(store, {"cost": 10, "tags": {"team": "a"}}, {"cost": 30, "tags": {"team": "b"}, "currency": "eur "},
         {"cost": 4, "service": "AWS Support"}, {"cost": 9, "service": "AWS Support", "currency": "EUR"})
    rules = rules_of(tmp_path, """
        shared:
          - {name: support, match: {ServiceName: AWS Support}, split: proportional}
    """)
    rows = {(r["group"], r["currency"]): (r["direct"], r["shared"])
            for r in allocated_daily(store, rules, "team", START, END).to_pyarrow().to_pylist()}
    # each currency's support goes to the one team with direct cost in that currency
    assert rows == {("a", "USD"): (10.0, 4.0), ("b", "EUR"): (30.0, 9.0)}


def test_period_and_utc_day(store):
    bill(store, {"cost": 1, "day": "2026-02-28", "at": "23:59:59", "tags": {"team": "a"}},
         {"cost": 2, "day": "2026-03-01", "at": "00:00:00", "tags": {"team": "a"}},
         {"cost": 4, "day": "2026-03-31", "at": "23:30:00", "tags": {"team": "a"}},
         {"cost": 8, "day": "2026-04-01", "at": "00:00:00", "tags": {"team": "a"}})
    rows = allocated_daily(store, AllocationRules(), "team", START, END).order_by("day").to_pyarrow().to_pylist()
    assert [(str(r["day"]), r["cost"]) for r in rows] == [("2026-03-01", 2.0), ("2026-03-31", 4.0)]
    april = allocated_daily(store, AllocationRules(), "team", END, datetime(2026, 5, 1, tzinfo=UTC))
    assert april.count().execute() == 1


def test_no_data_is_an_empty_table(store):
    t = allocated_daily(store, AllocationRules(), "team", START, END)
    assert t.columns == ("day", "group", "direct", "shared", "cost", "currency")
    assert t.count().execute() == 0


def test_bad_by(store):
    with pytest.raises(InputError, match="tag:KEY"):
        allocated_daily(store, AllocationRules(), "account", START, END)


# ---------------------------------------------------------------- coverage and the report

def test_tag_coverage_per_provider_and_account(store, tmp_path):
    org(store)
    direct_rows(store)  # all AWS, account B1 (no SubAccountId)
    bill(store, {"cost": 6, "provider": "Microsoft", "account": "sub-1", "tags": {"team": "a"}},
         {"cost": 2, "provider": "Microsoft", "account": "sub-1", "resource": "vm-1"},
         {"cost": 2, "provider": "Microsoft", "account": "sub-1", "service": "AWS Support"})
    rules = rules_of(tmp_path, """
        owners:
          - {match: {ResourceId: vm-*}, team: a}
        shared:
          - {name: support, match: {ServiceName: AWS Support}, split: even}
    """)
    rows = {(r["provider"], r["account"]): r for r in tag_coverage(store, rules, "team", START, END)
            .to_pyarrow().to_pylist()}
    aws, azure = rows[("AWS", "B1")], rows[("Microsoft", "sub-1")]
    # AWS: tags 10 + 20 + 5, fallback (checkout -> Payments) 3, untagged 7 -> coverage 35 / 45
    assert (aws["cost"], aws["tagged"], aws["fallback"], aws["untagged"], aws["rule"]) == (45, 35, 3, 7, 0)
    assert aws["coverage"] == pytest.approx(35 / 45)
    # Microsoft: tag 6, rule 2, shared 2 -> 6 / 10
    assert (azure["tagged"], azure["rule"], azure["shared"], azure["coverage"]) == (6, 2, 2, 0.6)


def test_report_items_total_and_shares(store, tmp_path):
    org(store)
    direct_rows(store)
    bill(store, SHARED)
    rules = rules_of(tmp_path, """
        shared:
          - {name: support, match: {ServiceName: AWS Support}, split: fixed, percentages: {Payments: 60, search: 40}}
    """)
    report = allocation_report(store, rules, "team", START, END)
    # Payments 18 + 18, search 20 + 12, untagged 7: total 75
    assert [(i["group"], i["cost"], i["direct"], i["shared"]) for i in report["items"]] == [
        ("Payments", 36.0, 18.0, 18.0), ("search", 32.0, 20.0, 12.0), ("(untagged)", 7.0, 7.0, 0.0)]
    assert [round(i["share"], 6) for i in report["items"]] == [0.48, round(32 / 75, 6), round(7 / 75, 6)]
    assert report["total"] == {"cost": 75.0, "direct": 45.0, "shared": 30.0, "currency": "USD", "share": 1.0}
    assert report["coverage"][0]["tagged"] == 35.0


def test_report_with_two_currencies_has_no_single_total(store):
    bill(store, {"cost": 1, "tags": {"team": "a"}}, {"cost": 2, "currency": "EUR", "tags": {"team": "a"}})
    report = allocation_report(store, AllocationRules(), "team", START, END)
    assert report["total"] is None
    assert [(t["currency"], t["cost"]) for t in report["totals"]] == [("EUR", 2.0), ("USD", 1.0)]
    assert [i["share"] for i in report["items"]] == [1.0, 1.0]


def test_the_real_focus_sample(store, ingest):
    if not SAMPLE.is_file():
        pytest.skip(f"reference data not present at {SAMPLE}")
    assert ingest("cost", SAMPLE).quarantined == 0
    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    billed = allocation_report(store, AllocationRules(), "environment", start, end, "billed")
    # BilledCost per provider (AWS 18.00663861840, Microsoft 1.97651418586, Oracle 0.53707392473): all allocated
    assert billed["total"]["cost"] == pytest.approx(20.52022672899, abs=1e-9)
    # an independent reading of the same tags with DuckDB's JSON parser (environment, env or stage, any case)
    expected = dict(store.sql.execute("""
        WITH t AS (SELECT lower(Tags) AS l, EffectiveCost FROM cost)
        SELECT coalesce(nullif(trim(coalesce(json_extract_string(l, '$.environment'), json_extract_string(l, '$.env'),
                                              json_extract_string(l, '$.stage'))), ''), '(untagged)'),
               sum(EffectiveCost)
        FROM t GROUP BY 1""").fetchall())
    assert by_group(store, AllocationRules(), "environment", period=(start, end)) == {
        k: round(v, 9) for k, v in expected.items()}
    assert set(expected) == {"dev", "prod", "(untagged)"}
