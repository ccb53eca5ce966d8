"""Budget attribution: hand-counted bad events and slices split between incidents, deployments, exclusions and
the unattributed rest, on a small in-memory store.

The scenario (`fill`), all on 28 Feb 2026, judged at 1 Mar 2026 00:00 UTC over 7-day rolling windows:

checkout-availability (Occurrences, target 99.7 %): one-minute buckets 10:00-13:59 of 100 events each
(240 x 100 = 24,000 events). Bad events (total - good) in these minutes:

    10:03  3  after D-2 (production, 09:58 -> 10:58), before INC-1 starts      -> D-2
    10:05-10:09  5 x 5 = 25  INC-1 [declared 10:05, mitigated 10:20) and D-2,
                 and INC-4 [10:07, 10:12) for 10:07-10:09                    -> INC-1 (incident > deploy;
                                                                                 first-started incident)
    10:20  2  INC-1 is over at 10:20 (mitigated_at; end exclusive), D-2 still  -> D-2
    11:10  8  maintenance window MW-1 [11:00, 11:30)                          -> excluded
    12:20, 12:40  5 + 5  after D-1 (production, 12:00 -> 13:00)               -> D-1
    13:30  5  D-3 is staging, D-5 cancelled, INC-9 is another service's       -> unattributed
    13:55  2  INC-3 declared 13:50, neither mitigated nor resolved: open       -> INC-3

    kept: 24,000 - 3,000 (MW-1) = 21,000 events; allowed = 0.3 % x 21,000 = 63 bad events
    consumed = 25 + 2 (incidents) + 5 + 10 (deployments) + 5 (unattributed) = 47; remaining 1 - 47/63
    MW-1 removed 3,000 events, 8 of them bad: 8 / 63 = 12.7 % of the budget.

search-latency (Timeslices, 1m slices, slice target 95 %, target 99 %): one-minute buckets 10:00-11:39 of
100 events (100 slices, allowed 1 % x 100 = 1 bad slice). Bad events: 10:05 10 (ratio 0.90: bad slice,
INC-2 [10:00, 10:30)), 10:20 2 (0.98: a good slice), 10:35 10 (bad, no window: unattributed), 10:50 10 (bad,
after D-4, production, a failed deploy, 10:45 -> 11:45). 3 bad slices: one each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engmetrics.slo import check_files
from engmetrics.slo.attribution import budget_attribution
from engmetrics.slo.loader import SloSet
from engmetrics.slo.status import slo_status
from engmetrics.store import Store

AT = datetime(2026, 3, 1, tzinfo=UTC)
PEOPLE = ("Alice Example", "Bob Builder", "Carol Person")  # names in person and free-text columns


def _sli(service: str, indicator: str) -> str:
    source = ("{{metricSource: {{type: engmetrics, spec: {{dataset: sli_events, service: {s}, indicator: {i}, "
              "column: {c}}}}}}}")
    return f"""
      ratioMetric:
        good: {source.format(s=service, i=indicator, c="good")}
        total: {source.format(s=service, i=indicator, c="total")}"""


def slo_doc(name: str, service: str, indicator: str, method: str, objective: str) -> str:
    return f"""
apiVersion: openslo/v1
kind: SLO
metadata: {{name: {name}}}
spec:
  service: {service}
  indicator:
    metadata: {{name: {name}-sli}}
    spec:{_sli(service, indicator)}
  timeWindow: [{{duration: 7d, isRolling: true}}]
  budgetingMethod: {method}
  objectives: [{objective}]
---"""


CHECKOUT = slo_doc("checkout-availability", "checkout", "availability", "Occurrences",
                   "{displayName: availability, target: 0.997}")
SEARCH = slo_doc("search-latency", "search", "latency", "Timeslices",
                 "{displayName: fast responses, target: 0.99, timeSliceTarget: 0.95, timeSliceWindow: 1m}")
SEARCH_RATIO = slo_doc("search-latency", "search", "latency", "RatioTimeslices",
                       "{displayName: fast responses, target: 0.99, timeSliceWindow: 1m}")


def specs(tmp_path: Path, *docs: str) -> SloSet:
    path = tmp_path / "slos" / "spec.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(docs or (CHECKOUT, SEARCH)))
    report = check_files([path])
    assert report.errors == []
    return report.specs


def _minutes(store: Store, service: str, indicator: str, first: str, count: int) -> None:
    store.sql.execute(f"""INSERT INTO sli_events SELECT '{service}', '{indicator}',
        TIMESTAMPTZ '2026-02-28 {first}:00+00' + to_minutes(i::BIGINT), 100, 100 FROM range(0, {count}) t(i)""")


def _bad(store: Store, service: str, indicator: str, minutes: dict[str, float]) -> None:
    for hhmm, bad in minutes.items():
        store.sql.execute("UPDATE sli_events SET good = total - ? WHERE service = ? AND indicator = ? AND ts = ?",
                          [bad, service, indicator, f"2026-02-28 {hhmm}:00+00"])


def fill(store: Store) -> None:
    """The scenario of the module docstring."""
    _minutes(store, "checkout", "availability", "10:00", 240)
    _bad(store, "checkout", "availability", {"10:03": 3, "10:05": 5, "10:06": 5, "10:07": 5, "10:08": 5,
                                             "10:09": 5, "10:20": 2, "11:10": 8, "12:20": 5, "12:40": 5,
                                             "13:30": 5, "13:55": 2})
    _minutes(store, "search", "latency", "10:00", 100)
    _bad(store, "search", "latency", {"10:05": 10, "10:20": 2, "10:35": 10, "10:50": 10})
    store.sql.execute("""
        INSERT INTO incidents (incident_id, service, team, severity, title, summary, impact_started_at, declared_at,
                               mitigated_at, resolved_at, contributing_factors) VALUES
        ('INC-1', 'checkout', 'payments-team', 2, 'Checkout database failover',
         'Alice Example restarted the primary', NULL, '2026-02-28 10:05:00+00', '2026-02-28 10:20:00+00', NULL,
         ['Alice Example missed the alert']),
        ('INC-4', 'checkout', NULL, 4, 'Cache node restart', NULL, '2026-02-28 10:07:00+00',
         '2026-02-28 10:08:00+00', NULL, '2026-02-28 10:12:00+00', NULL),
        ('INC-3', 'checkout', NULL, 3, 'Payment provider timeouts', NULL, NULL, '2026-02-28 13:50:00+00', NULL,
         NULL, NULL),
        ('INC-2', 'search', NULL, 2, 'Search index rebuild slow', NULL, '2026-02-28 10:00:00+00',
         '2026-02-28 10:02:00+00', '2026-02-28 10:10:00+00', '2026-02-28 10:30:00+00', NULL),
        ('INC-9', 'payments', NULL, 1, 'Payments outage', NULL, '2026-02-28 13:00:00+00',
         '2026-02-28 13:00:00+00', NULL, '2026-02-28 14:00:00+00', NULL)""")
    store.sql.execute("""
        INSERT INTO deployments (deployment_id, service, environment, started_at, status, commit_sha) VALUES
        ('D-2', 'checkout', 'production', '2026-02-28 09:58:00+00', 'success', 'abc'),
        ('D-1', 'checkout', 'production', '2026-02-28 12:00:00+00', 'success', 'def'),
        ('D-3', 'checkout', 'staging', '2026-02-28 13:20:00+00', 'success', NULL),
        ('D-5', 'checkout', 'production', '2026-02-28 13:25:00+00', 'cancelled', NULL),
        ('D-4', 'search', 'production', '2026-02-28 10:45:00+00', 'failure', NULL)""")
    store.sql.execute("""
        INSERT INTO maintenance_windows (window_id, service, start_at, end_at, reason, approved_by) VALUES
        ('MW-1', 'checkout', '2026-02-28 11:00:00+00', '2026-02-28 11:30:00+00', 'database upgrade',
         'Bob Builder')""")


@pytest.fixture
def store():
    with Store.open("duckdb://") as s:
        fill(s)
        yield s


def attribute(store: Store, slos: SloSet, **options) -> dict[str, tuple[dict, object]]:
    items = slo_status(store, slos, AT).items
    return {i["slo"]: (i, a) for i, a in zip(items, budget_attribution(store, slos, items, **options), strict=True)}


def test_occurrences_hand_counted(store, tmp_path):
    item, a = attribute(store, specs(tmp_path))["checkout-availability"]
    assert (a.unit, a.allowed, a.consumed) == ("events", 63.0, 47.0)
    assert a.consumed == item["error_budget"]["consumed"]  # the status and the attribution agree
    assert [(i["incident_id"], i["consumed"]) for i in a.incidents] == [("INC-1", 25.0), ("INC-3", 2.0)]
    assert [(d["deployment_id"], d["consumed"]) for d in a.deployments] == [("D-1", 10.0), ("D-2", 5.0)]
    assert a.unattributed == 5.0
    assert a.incident_consumed + a.deployment_consumed + a.unattributed == a.consumed  # each event once
    inc1 = a.incidents[0]
    assert inc1["share"] == pytest.approx(25 / 47) and inc1["title"] == "Checkout database failover"
    assert (inc1["start"], inc1["end"], inc1["open"]) == ("2026-02-28T10:05:00+00:00",  # declared_at
                                                          "2026-02-28T10:20:00+00:00", False)  # mitigated_at
    assert a.incidents[1]["open"] is True and a.incidents[1]["end"] is None
    assert a.to_dict()["deployment_share"] == pytest.approx(15 / 47)
    [mw] = a.exclusions
    assert (mw["source"], mw["reason"], mw["total"], mw["bad"]) == ("maintenance_windows:MW-1", "database upgrade",
                                                                   3000.0, 8.0)
    assert mw["budget_removed"] == pytest.approx(8 / 63) == item["exclusions"][0]["budget_removed"]
    assert "approved_by" not in mw  # a person: not carried into the attribution


def test_timeslices_count_bad_slices(store, tmp_path):
    item, a = attribute(store, specs(tmp_path))["search-latency"]
    assert (a.unit, a.allowed, a.consumed, item["error_budget"]["consumed"]) == ("slices", 1.0, 3.0, 3.0)
    assert [(i["incident_id"], i["consumed"]) for i in a.incidents] == [("INC-2", 1.0)]  # 10:20 is a good slice
    assert [(d["deployment_id"], d["status"], d["consumed"]) for d in a.deployments] == [("D-4", "failure", 1.0)]
    assert a.unattributed == 1.0 and a.exclusions == []


def test_ratio_timeslices_attribute_slice_error_ratios(store, tmp_path):
    # Per-slice error ratios: 10:05 0.10 and 10:20 0.02 (INC-2), 10:35 0.10 (none), 10:50 0.10 (D-4).
    item, a = attribute(store, specs(tmp_path, SEARCH_RATIO))["search-latency"]
    assert a.unit == "slice error"
    assert a.consumed == pytest.approx(0.32) == pytest.approx(item["error_budget"]["consumed"])
    assert a.incidents[0]["consumed"] == pytest.approx(0.12)
    assert a.deployments[0]["consumed"] == pytest.approx(0.10)
    assert a.unattributed == pytest.approx(0.10)


def test_deploy_window_and_environments_are_options(store, tmp_path):
    slos = specs(tmp_path)
    # 30 minutes: D-1 covers 12:00-12:30 (12:20: 5; 12:40 is now unattributed); D-2 09:58-10:28 (10:03, 10:20).
    _, a = attribute(store, slos, deploy_window="30m")["checkout-availability"]
    assert [(d["deployment_id"], d["consumed"]) for d in a.deployments] == [("D-1", 5.0), ("D-2", 5.0)]
    assert (a.unattributed, a.deploy_window) == (10.0, "30m")
    # Staging too: D-3 (13:20-14:20) takes 13:30; 13:55 stays with the open incident INC-3.
    _, a = attribute(store, slos, environments=("production", "staging"))["checkout-availability"]
    assert ("D-3", 5.0) in [(d["deployment_id"], d["consumed"]) for d in a.deployments]
    assert a.unattributed == 0.0 and a.incident_consumed == 27.0


def test_later_deploy_wins_and_resolved_beats_mitigated(tmp_path):
    with Store.open("duckdb://") as store:
        _minutes(store, "checkout", "availability", "10:00", 100)
        _bad(store, "checkout", "availability", {"10:40": 4, "10:50": 6})
        store.sql.execute("""
            INSERT INTO deployments (deployment_id, service, environment, started_at, status) VALUES
            ('A', 'checkout', 'production', '2026-02-28 10:00:00+00', 'success'),
            ('B', 'checkout', 'production', '2026-02-28 10:30:00+00', 'failure')""")
        store.sql.execute("""
            INSERT INTO incidents (incident_id, service, severity, impact_started_at, declared_at, mitigated_at,
                                   resolved_at) VALUES
            ('I', 'checkout', 3, '2026-02-28 10:45:00+00', '2026-02-28 10:46:00+00', '2026-02-28 10:46:00+00',
             '2026-02-28 11:00:00+00')""")
        _, a = attribute(store, specs(tmp_path, CHECKOUT))["checkout-availability"]
    # 10:40 is after A and B: the later one, B; 10:50 is after mitigation but before resolution: the incident.
    assert [(d["deployment_id"], d["consumed"]) for d in a.deployments] == [("B", 4.0)]
    assert [(i["incident_id"], i["consumed"]) for i in a.incidents] == [("I", 6.0)]


def test_versions_read_each_part_with_its_own_indicator(store, tmp_path):
    # From 28 Feb 12:00 the SLO reads search's latency events instead: 10:05-11:59 checkout (3 + 25 + 2 + 8,
    # the 8 excluded), then search's rows after 12:00 (none). Consumed: 30 = INC-1 25 + D-2 5.
    v2 = CHECKOUT.replace("metadata: {name: checkout-availability}", "metadata: {name: checkout-availability, "
                          "annotations: {engmetrics.dev/effective-from: '2026-02-28T12:00:00'}}")
    v2 = v2.replace("indicator: availability,", "indicator: latency,").replace("service: checkout,", "service: search,")
    item, a = attribute(store, specs(tmp_path, CHECKOUT, v2))["checkout-availability"]
    assert a.consumed == item["error_budget"]["consumed"] == 30.0
    assert (a.incident_consumed, a.deployment_consumed, a.unattributed) == (25.0, 5.0, 0.0)


def test_nothing_spent(tmp_path):
    with Store.open("duckdb://") as store:
        _minutes(store, "checkout", "availability", "10:00", 10)
        _, a = attribute(store, specs(tmp_path, CHECKOUT))["checkout-availability"]
    assert (a.consumed, a.incidents, a.deployments, a.unattributed, a.share(0.0)) == (0.0, [], [], 0.0, None)


def journey_doc() -> str:
    """A composite SLO of service checkout: cart (weight 2, target 99.9 %) and pay (99.5 %), each its own SLI."""
    indent = chr(10) + "  ", chr(10) + "      "
    return f"""
apiVersion: openslo/v1
kind: SLO
metadata: {{name: checkout-journey}}
spec:
  service: checkout
  timeWindow: [{{duration: 7d, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives:
    - displayName: cart
      target: 0.999
      compositeWeight: 2
      indicator:
        metadata: {{name: cart-sli}}
        spec:{_sli("cart", "availability").replace(*indent)}
    - displayName: pay
      target: 0.995
      indicator:
        metadata: {{name: pay-sli}}
        spec:{_sli("pay", "availability").replace(*indent)}
---"""


def fill_journey(store: Store) -> None:
    """cart and pay: 100 minutes of 100 events from 10:00 (10,000 each); cart 10 bad at 10:05, pay 100 bad at
    10:10; incident INC-7 of checkout [10:00, 10:30) covers both."""
    _minutes(store, "cart", "availability", "10:00", 100)
    _minutes(store, "pay", "availability", "10:00", 100)
    _bad(store, "cart", "availability", {"10:05": 10})
    _bad(store, "pay", "availability", {"10:10": 100})
    store.sql.execute("""
        INSERT INTO incidents (incident_id, service, severity, title, declared_at, resolved_at) VALUES
        ('INC-7', 'checkout', 2, 'Checkout journey errors', '2026-02-28 10:00:00+00', '2026-02-28 10:30:00+00')""")


def test_composite_items_are_skipped_their_objectives_attributed(tmp_path):
    with Store.open("duckdb://") as store:
        fill_journey(store)
        slos = specs(tmp_path, journey_doc())
        items = slo_status(store, slos, AT).items
        attributions = budget_attribution(store, slos, items)
    assert [(i["objective"], i["objective_index"]) for i in items] == [("cart", 0), ("pay", 1), ("composite", None)]
    # cart: 10 bad of 0.1 % x 10,000 = 10 allowed; pay: 100 bad of 0.5 % x 10,000 = 50 allowed; all in INC-7
    assert [(a.objective, a.objective_index, a.allowed, a.consumed) for a in attributions] == [
        ("cart", 0, 10.0, 10.0), ("pay", 1, 50.0, 100.0)]
    assert [[(i["incident_id"], i["consumed"]) for i in a.incidents] for a in attributions] == [
        [("INC-7", 10.0)], [("INC-7", 100.0)]]
