"""`engmetrics slo integrity`: each rule on hand-made versions, events, maintenance windows and incidents.

Every SLO below is Occurrences over a 7-day rolling window on `sli_events` (1000 events an hour), so a
window holds 168 hours = 168 000 events and a target t allows (1 - t) x 168 000 bad events:
168 at 0.999, 1680 at 0.99, 84 at 0.9995. Numbers in the assertions are derived in the comments.
"""

from __future__ import annotations

import doctest
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engmetrics.cli.main import app
from engmetrics.slo import check_slos
from engmetrics.slo import integrity as integrity_module
from engmetrics.slo.integrity import Finding, integrity
from engmetrics.store import Store

AT = datetime(2026, 2, 8, tzinfo=UTC)
POLICY = """\
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: checkout-page}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {name: fast-burn}
            spec:
              severity: page
              condition: {kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h}
"""


def slo(name: str, target: float, *, since: str | None = None, service: str = "checkout", policy: bool = False,
        extra: str = "") -> str:
    """An OpenSLO SLO on `sli_events` of `service`/availability, 7d rolling, Occurrences."""
    annotations = f"\n  annotations: {{engmetrics.dev/effective-from: \"{since}\"}}" if since else ""
    return f"""\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: {name}{annotations}
spec:
  service: {service}
  indicator:
    metadata: {{name: {service}-availability}}
    spec:
      ratioMetric:
        good:
          metricSource:
            type: engmetrics
            spec: {{dataset: sli_events, service: {service}, indicator: availability, column: good}}
        total:
          metricSource:
            type: engmetrics
            spec: {{dataset: sli_events, service: {service}, indicator: availability, column: total}}
  timeWindow: [{{duration: 7d, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives:
    - target: {target}
{POLICY if policy else ""}{extra}"""


def workspace(root: Path, *documents: str) -> object:
    (root / "slos").mkdir(exist_ok=True)
    (root / "slos" / "slos.yaml").write_text("---\n".join(documents))
    report = check_slos(root)
    assert not report.errors, [str(i) for i in report.errors]
    return report.specs


def hours(store: Store, service: str, start: datetime, end: datetime, bad: float = 0.0,
          special: dict[datetime, float] | None = None) -> None:
    """1000 events an hour in [start, end), `bad` of them bad (`special`: other bad counts at some hours)."""
    rows, t = [], start
    while t < end:
        b = (special or {}).get(t, bad)
        rows.append((service, "availability", t, 1000.0 - b, 1000.0))
        t += timedelta(hours=1)
    store.sql.executemany("INSERT INTO sli_events VALUES (?, ?, ?, ?, ?)", rows)


def day(d: int, h: int = 0, m: int = 0) -> datetime:
    """2026-02-d hh:mm UTC (d may be <= 0: days of January)."""
    return datetime(2026, 2, 1, tzinfo=UTC) + timedelta(days=d - 1, hours=h, minutes=m)


def by_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


@pytest.fixture
def store():
    with Store.open("duckdb://") as s:
        yield s


def test_doctests():
    assert doctest.testmod(integrity_module).failed == 0


# --- scenario A: a breached SLO loosened, its page policy dropped -------------------------------------------
#
# 2 bad of 1000 events every hour from 2026-01-20 to 2026-02-08. v1 (always) 0.999 with a page policy;
# v2 from 2026-02-01 0.99 without it.
# - rule 1 at 02-01, window [01-25, 02-01): bad 2 x 168 = 336, SLI 0.998; old allows 168: 1 - 336/168 = -1;
#   new allows 1680: 1 - 336/1680 = 0.8. Old exhausted, new not: error.
# - rule 2: the old SLO as in force at 02-01 is the same -1 (days_before_change 0); target lowered: error.
# - rule 6: burn over [01-31, 02-01) = 0.002 / 0.001 = 2 > 1; now (02-08, all v2): 0.8 left.

def scenario_a(tmp_path, store, new_target=0.99, new_policy=False):
    specs = workspace(tmp_path, slo("checkout-availability", 0.999, policy=True),
                      slo("checkout-availability", new_target, since="2026-02-01", policy=new_policy))
    hours(store, "checkout", day(-11), AT, bad=2)
    return specs


def test_loosened_after_breach_with_alerts_dropped(tmp_path, store):
    findings = integrity(store, scenario_a(tmp_path, store), AT)
    versions = {"version_before": None, "version_after": "2026-02-01T00:00:00+00:00"}
    assert [(f.rule, f.slo, f.service, f.severity) for f in findings] == [
        ("definition-improves-past", "checkout-availability", "checkout", "error"),
        ("changed-after-breach", "checkout-availability", "checkout", "error"),
        ("alerts-disabled-while-burning", "checkout-availability", "checkout", "error"),
    ]
    improves, breach, alerts = findings
    assert improves.evidence == {
        **versions, "objective": "0", "objective_index": 0, "window_before": "7d", "window_after": "7d",
        "window_start_before": "2026-01-25T00:00:00+00:00", "window_start_after": "2026-01-25T00:00:00+00:00",
        "window_end": "2026-02-01T00:00:00+00:00", "target_before": 0.999, "target_after": 0.99,
        "sli_before": 0.998, "sli_after": 0.998, "remaining_before": -1.0, "remaining_after": 0.8}
    assert "budget left -100.00 % -> 80.00 %" in improves.message
    assert breach.evidence == {
        **versions, "changes": [{"what": "target", "objective_index": 0, "before": 0.999, "after": 0.99}],
        "exhausted_at": "2026-02-01T00:00:00+00:00", "days_before_change": 0, "objective": "0",
        "objective_index": 0, "window": "7d", "remaining_at_breach": -1.0, "state_at_breach": "exhausted",
        "lookback_days": 14}
    assert alerts.evidence == {
        **versions, "dropped_policies": ["checkout-page"], "dropped_severities": ["page"], "weakened_tiers": [],
        "burn_window": "1d", "burn_rate_at_change": 2.0, "burn_threshold": 1.0, "remaining_now": 0.8,
        "remaining_threshold": 0.5}


def test_tightened_after_breach_is_a_warning_only(tmp_path, store):
    # v2 0.9995 keeps the policy: allows 84, 1 - 336/84 = -3 < -1, not better (no rule 1); alerts kept (no
    # rule 6); a target changed 0 days after the breach, not lowered: rule 2 as a warning.
    findings = integrity(store, scenario_a(tmp_path, store, new_target=0.9995, new_policy=True), AT)
    assert [(f.rule, f.severity) for f in findings] == [("changed-after-breach", "warning")]
    assert findings[0].evidence["changes"] == [{"what": "target", "objective_index": 0, "before": 0.999,
                                                "after": 0.9995}]


def test_rules_parameter_and_burn_threshold(tmp_path, store):
    specs = scenario_a(tmp_path, store)
    assert [f.rule for f in integrity(store, specs, AT, rules=["target-lowered-repeatedly"])] == []
    # burn 2 is not above 2, but 0.8 left is below 0.9: still fires; with 0.5 it does not.
    kept = integrity(store, specs, AT, rules=["alerts-disabled-while-burning"], burn_threshold=2,
                     remaining_threshold=0.9)
    assert [f.evidence["remaining_now"] for f in kept] == [0.8]
    assert integrity(store, specs, AT, rules=["alerts-disabled-while-burning"], burn_threshold=2) == []
    with pytest.raises(ValueError, match="unknown integrity rule"):
        integrity(store, specs, AT, rules=["nope"])


def test_version_after_at_is_not_judged(tmp_path, store):
    # At 01-31 the 02-01 version is not in force yet: no change to judge.
    assert integrity(store, scenario_a(tmp_path, store), day(0)) == []


WINDOWS = """\
apiVersion: sloth.slok.dev/v1
kind: AlertWindows
spec:
  sloPeriod: 30d
  page:
    quick: {errorBudgetPercent: 50, shortWindow: 5m, longWindow: 1h}
    slow: {errorBudgetPercent: 5, shortWindow: 30m, longWindow: 6h}
  ticket:
    quick: {errorBudgetPercent: 10, shortWindow: 2h, longWindow: 1d}
    slow: {errorBudgetPercent: 10, shortWindow: 6h, longWindow: 3d}
"""


def test_alert_tier_loosened_while_burning(tmp_path, store):
    # Same target; v2 names a table whose fast page needs 50 % of the budget in 1h instead of the default's 2 %.
    # Scenario A's data burns at 2 (1d) at the change; 1 - 336/168 = -1 left now. Nothing else changed: no
    # rule 1 (-1 both ways) nor rule 2.
    v2 = slo("checkout-availability", 0.999, since="2026-02-01").replace(
        "effective-from: \"2026-02-01\"}", "effective-from: \"2026-02-01\", engmetrics.dev/alert-windows: "
        "alert-windows-30d}")
    specs = workspace(tmp_path, WINDOWS, slo("checkout-availability", 0.999), v2)
    hours(store, "checkout", day(-11), AT, bad=2)
    findings = integrity(store, specs, AT)
    assert [(f.rule, f.severity) for f in findings] == [("alerts-disabled-while-burning", "error")]
    evidence = findings[0].evidence
    assert (evidence["dropped_policies"], evidence["weakened_tiers"], evidence["burn_rate_at_change"],
            evidence["remaining_now"]) == (
        [], [{"severity": "page", "long_window": "1h", "removed": False, "budget_share_before": 0.02,
              "budget_share_after": 0.5}], 2.0, -1.0)
    assert "page tier 1h loosened" in findings[0].message


# --- scenario B: a breach 15 days before the change ----------------------------------------------------------
#
# Clean hours from 2026-01-01 to 02-08 but 01-10 12:00 with 500 bad. The old 0.999 (168 allowed) is
# exhausted while the 7-day window holds 01-10 12:00: at 01-11 00:00 .. 01-17 00:00 (window [01-10, 01-17));
# 1 - 500/168 = -1.976190476. At 01-18 (14 days before 02-01) the window is clean again.
# - rule 2: not within 14 days; within 15 days: exhausted_at 01-17, 15 days before; target lowered: error.
# - rule 1: over [01-25, 02-01) both definitions have 100 % left and SLI 1: not better.
# - rule 6: the page policy is dropped, but the 1d burn at 02-01 is 0 and 100 % is left at 02-08.

def scenario_b(tmp_path, store):
    specs = workspace(tmp_path, slo("checkout-availability", 0.999, policy=True),
                      slo("checkout-availability", 0.99, since="2026-02-01"))
    hours(store, "checkout", day(-30), AT, special={day(-21, 12): 500})
    return specs


def test_breach_outside_the_lookback_is_not_reported(tmp_path, store):
    assert integrity(store, scenario_b(tmp_path, store), AT) == []


def test_breach_within_a_longer_lookback(tmp_path, store):
    findings = integrity(store, scenario_b(tmp_path, store), AT, breach_days=15)
    assert [(f.rule, f.severity) for f in findings] == [("changed-after-breach", "error")]
    evidence = findings[0].evidence
    assert (evidence["exhausted_at"], evidence["days_before_change"], evidence["remaining_at_breach"]) == (
        "2026-01-17T00:00:00+00:00", 15, -1.976190476)


# --- scenario C: targets lowered step by step ---------------------------------------------------------------

def test_target_lowered_in_two_successive_versions(tmp_path, store):
    # 0.999 -> 0.995 (02-01) -> 0.99 (02-08): two successive lowerings. No events: rules 1, 2, 6 have
    # nothing to compare (no budget, no SLI) and stay silent.
    specs = workspace(tmp_path, slo("checkout-availability", 0.999),
                      slo("checkout-availability", 0.995, since="2026-02-01"),
                      slo("checkout-availability", 0.99, since="2026-02-08"))
    findings = integrity(store, specs, day(20))
    assert [f.to_dict() for f in findings] == [{
        "rule": "target-lowered-repeatedly", "slo": "checkout-availability", "service": "checkout",
        "severity": "warning",
        "message": "objective 0 lowered in 2 successive versions: 0.999 (always) -> 0.995 (2026-02-01) -> "
                   "0.99 (2026-02-08)",
        "evidence": {"objective_index": 0, "lowerings": 2, "versions": [
            {"since": None, "target": 0.999}, {"since": "2026-02-01T00:00:00+00:00", "target": 0.995},
            {"since": "2026-02-08T00:00:00+00:00", "target": 0.99}]}}]
    assert integrity(store, specs, day(20), min_lowerings=3) == []
    assert integrity(store, specs, day(5)) == []  # the 02-08 version is not in force yet


def test_target_lowered_twice_but_not_successively(tmp_path, store):
    # 0.999 -> 0.995 -> 0.998 -> 0.99: two lowerings, separated by a raise.
    specs = workspace(tmp_path, slo("checkout-availability", 0.999),
                      slo("checkout-availability", 0.995, since="2026-02-01"),
                      slo("checkout-availability", 0.998, since="2026-02-08"),
                      slo("checkout-availability", 0.99, since="2026-02-15"))
    assert integrity(store, specs, day(20)) == []


# --- scenario D: maintenance windows, corrections and incidents ----------------------------------------------
#
# checkout: `lenient` 0.99 and `strict` 0.999; search: `search-availability` 0.99 with a correction
# 02-04 04:00 for 2h. Clean hours 02-01..02-08 except checkout 02-03 10:00 (300 bad) and search 02-05 08:00
# (10 bad).
# Maintenance: mw-1 checkout 02-03 10:00-11:00 (alice); mw-s search 02-05 08:00-09:00; mw-d search daily
# 02:00-03:00 from 01-01; mw-p payments 02-05 00:00-01:00; mw-2 checkout 02-05 01:00-02:00.
# Incidents: INC-1 checkout impact 02-03 10:30 - resolved 12:00 (30 min under mw-1: warning, once per SLO);
# INC-2 search declared 05:00 - mitigated 05:30 on 02-04 (inside the correction: covered, error);
# INC-3 checkout 02-05 00:00-01:00 (mw-p is another service's; mw-2 only touches it at 01:00: nothing);
# INC-4 search impact 02-06 02:30 - resolved 03:30 (30 min under mw-d's 02-06 occurrence: warning).
#
# Rule 4 at 02-08, window [02-01, 02-08):
# - lenient: mw-1 and mw-2 remove one hour each: 166 000 counted, 1660 allowed, nothing bad left: 100 % left;
#   removed 300/1660 = 0.180722892 (mw-1) + 0/1660 (mw-2) > 0.1: warning (1 - 0.180722892 = 0.819277108 > 0);
# - strict: 166 allowed: removed 300/166 = 1.807228916, 1 - 1.807228916 = -0.807228916 <= 0: error;
# - search: the correction (2 h), mw-s (1 h) and mw-d (7 h) remove 10 hours: 158 000 counted, 1580 allowed;
#   removed 10/1580 = 0.006329114 < 0.1: nothing.

MAINTENANCE = [
    ("mw-1", "checkout", day(3, 10), day(3, 11), None, "db upgrade", "alice"),
    ("mw-s", "search", day(5, 8), day(5, 9), None, "reindex", None),
    ("mw-d", "search", datetime(2026, 1, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, 3, tzinfo=UTC), "FREQ=DAILY",
     "nightly backup", "bob"),
    ("mw-p", "payments", day(5, 0), day(5, 1), None, None, None),
    ("mw-2", "checkout", day(5, 1), day(5, 2), None, None, None),
]
CORRECTION = """\
  corrections:
    - {start: "2026-02-04T04:00:00", duration: 2h, reason: reindex}
"""


def scenario_d(tmp_path, store):
    specs = workspace(tmp_path, slo("lenient", 0.99), slo("strict", 0.999),
                      slo("search-availability", 0.99, service="search", extra=CORRECTION))
    hours(store, "checkout", day(1), AT, special={day(3, 10): 300})
    hours(store, "search", day(1), AT, special={day(5, 8): 10})
    store.sql.executemany("INSERT INTO maintenance_windows (window_id, service, start_at, end_at, rrule, reason, "
                          "approved_by) VALUES (?, ?, ?, ?, ?, ?, ?)", MAINTENANCE)
    store.sql.execute("""
        INSERT INTO incidents (incident_id, service, severity, impact_started_at, declared_at, mitigated_at,
                               resolved_at) VALUES
        ('INC-1', 'checkout', 2, '2026-02-03 10:30:00+00', '2026-02-03 10:40:00+00', NULL,
         '2026-02-03 12:00:00+00'),
        ('INC-2', 'search', 3, NULL, '2026-02-04 05:00:00+00', '2026-02-04 05:30:00+00', NULL),
        ('INC-3', 'checkout', 4, NULL, '2026-02-05 00:00:00+00', NULL, '2026-02-05 01:00:00+00'),
        ('INC-4', 'search', 2, '2026-02-06 02:30:00+00', '2026-02-06 03:00:00+00', NULL,
         '2026-02-06 03:30:00+00')""")
    return specs


def test_maintenance_and_corrections_overlapping_incidents(tmp_path, store):
    findings = by_rule(integrity(store, scenario_d(tmp_path, store), AT), "maintenance-overlaps-incident")
    assert [(f.slo, f.service, f.severity, f.evidence["source"], f.evidence["incident_id"],
             f.evidence["overlap_minutes"], f.evidence["covers_incident"]) for f in findings] == [
        ("lenient", "checkout", "warning", "maintenance_windows:mw-1", "INC-1", 30, False),
        ("search-availability", "search", "warning", "maintenance_windows:mw-d", "INC-4", 30, False),
        ("search-availability", "search", "error", "slo:search-availability:corrections[0]", "INC-2", 30, True),
        ("strict", "checkout", "warning", "maintenance_windows:mw-1", "INC-1", 30, False),
    ]
    assert findings[0].evidence == {
        "source": "maintenance_windows:mw-1", "window_id": "mw-1", "exclusion_start": "2026-02-03T10:00:00+00:00",
        "exclusion_end": "2026-02-03T11:00:00+00:00", "reason": "db upgrade", "approved_by": "alice",
        "incident_id": "INC-1", "incident_severity": 2, "incident_start": "2026-02-03T10:30:00+00:00",
        "incident_end": "2026-02-03T12:00:00+00:00", "overlap_minutes": 30, "covers_incident": False}
    assert findings[0].message == ("maintenance window mw-1 (2026-02-03 10:00-2026-02-03 11:00) overlaps incident "
                                   "INC-1 (2026-02-03 10:30-2026-02-03 12:00) by 30 min")
    # mw-d repeats daily: its occurrence on 02-06; INC-2 lasts from its declaration to its mitigation.
    assert (findings[1].evidence["exclusion_start"], findings[1].evidence["exclusion_end"]) == (
        "2026-02-06T02:00:00+00:00", "2026-02-06T03:00:00+00:00")
    assert (findings[2].evidence["incident_start"], findings[2].evidence["incident_end"],
            findings[2].evidence["version"]) == ("2026-02-04T05:00:00+00:00", "2026-02-04T05:30:00+00:00", None)


@pytest.mark.parametrize(("since", "expected"), [
    # v2 (no correction) from 05:10: the correction was in force [04:00, 05:10), 10 minutes of INC-2's
    # [05:00, 05:30): a warning (over all time, [04:00, 06:00), it covered the incident: an error).
    ("2026-02-04T05:10:00", [("warning", 10, False, "2026-02-04T04:00:00+00:00", "2026-02-04T05:10:00+00:00")]),
    # v2 from 03:00, before the correction starts: it was never in force, nothing to report.
    ("2026-02-04T03:00:00", []),
    # v2 from 06:30, after the correction: in force all along, it covers INC-2.
    ("2026-02-04T06:30:00", [("error", 30, True, "2026-02-04T04:00:00+00:00", "2026-02-04T06:00:00+00:00")]),
])
def test_a_correction_counts_only_while_its_version_is_in_force(tmp_path, store, since, expected):
    specs = workspace(tmp_path, slo("search-availability", 0.99, service="search", extra=CORRECTION),
                      slo("search-availability", 0.99, service="search", since=since))
    store.sql.execute("""INSERT INTO incidents (incident_id, service, severity, declared_at, mitigated_at) VALUES
        ('INC-2', 'search', 3, '2026-02-04 05:00:00+00', '2026-02-04 05:30:00+00')""")
    findings = integrity(store, specs, AT, rules=["maintenance-overlaps-incident"])
    assert [(f.severity, f.evidence["overlap_minutes"], f.evidence["covers_incident"], f.evidence["exclusion_start"],
             f.evidence["exclusion_end"]) for f in findings] == expected
    assert all(f.evidence["source"] == "slo:search-availability:corrections[0]" for f in findings)


def test_a_correction_repeated_by_the_next_version_is_one_period(tmp_path, store):
    # v1 and v2 (from 05:10) both declare [04:00, 06:00): one period, one finding, named by v1.
    specs = workspace(tmp_path, slo("search-availability", 0.99, service="search", extra=CORRECTION),
                      slo("search-availability", 0.995, service="search", since="2026-02-04T05:10:00",
                          extra=CORRECTION))
    store.sql.execute("""INSERT INTO incidents (incident_id, service, severity, declared_at, mitigated_at) VALUES
        ('INC-2', 'search', 3, '2026-02-04 05:00:00+00', '2026-02-04 05:30:00+00')""")
    [finding] = integrity(store, specs, AT, rules=["maintenance-overlaps-incident"])
    assert (finding.severity, finding.evidence["exclusion_start"], finding.evidence["exclusion_end"],
            finding.evidence["version"]) == ("error", "2026-02-04T04:00:00+00:00", "2026-02-04T06:00:00+00:00", None)


def test_exclusions_share_of_the_budget(tmp_path, store):
    findings = by_rule(integrity(store, scenario_d(tmp_path, store), AT), "exclusions-share")
    assert [(f.slo, f.severity, f.evidence["budget_removed"], f.evidence["remaining"],
             f.evidence["remaining_minus_removed"]) for f in findings] == [
        ("lenient", "warning", 0.180722892, 1.0, 0.819277108),
        ("strict", "error", 1.807228916, 1.0, -0.807228916),
    ]
    assert findings[0].evidence["exclusions"] == [{
        "source": "maintenance_windows:mw-1", "reason": "db upgrade", "approved_by": "alice",
        "start": "2026-02-03T10:00:00+00:00", "end": "2026-02-03T11:00:00+00:00", "bad": 300.0, "total": 1000.0,
        "budget_removed": 0.180722892}, {
        "source": "maintenance_windows:mw-2", "reason": None, "approved_by": None,
        "start": "2026-02-05T01:00:00+00:00", "end": "2026-02-05T02:00:00+00:00", "bad": 0.0, "total": 1000.0,
        "budget_removed": 0.0}]
    assert (findings[0].evidence["window_start"], findings[0].evidence["threshold"]) == (
        "2026-02-01T00:00:00+00:00", 0.1)
    # a 20 % threshold keeps strict only: 0.1807 < 0.2.
    assert [f.slo for f in integrity(store, scenario_d(tmp_path, store), AT, rules=["exclusions-share"],
                                     exclusion_share=0.2)] == ["strict"]


def test_scenario_d_has_no_version_findings(tmp_path, store):
    rules = {f.rule for f in integrity(store, scenario_d(tmp_path, store), AT)}
    assert rules == {"maintenance-overlaps-incident", "exclusions-share"}


# --- Sloth: page alerts disabled ---------------------------------------------------------------------------

SLOTH = """\
version: prometheus/v1
service: myservice
slos:
  - name: quiet
    objective: 99.9
    sli: {events: {error_query: 'e[{{.window}}]', total_query: 't[{{.window}}]'}}
    alerting: {name: Quiet, page_alert: {disable: true}}
  - name: loud
    objective: 99.9
    sli: {events: {error_query: 'e[{{.window}}]', total_query: 't[{{.window}}]'}}
    alerting: {name: Loud}
"""


def test_sloth_page_alert_disabled(tmp_path, store):
    specs = workspace(tmp_path, SLOTH)
    assert [f.to_dict() for f in integrity(store, specs, AT)] == [{
        "rule": "alerts-disabled-while-burning", "slo": "myservice-quiet", "service": "myservice",
        "severity": "warning",
        "message": "Sloth SLO 'quiet' has its page alert disabled (its burn is not computed here: Sloth SLOs read "
                   "Prometheus)",
        "evidence": {"file": "slos/slos.yaml", "page_alert_disabled": True, "ticket_alert_disabled": False}}]


# --- the command ------------------------------------------------------------------------------------------

def invoke(root: Path, *args: str):
    return CliRunner().invoke(app, ["-w", str(root), "--store-url", f"duckdb:///{root}/s.duckdb", "slo", "integrity",
                                    *args])


def test_command_json_and_exit_codes(tmp_path):
    with Store.open(f"duckdb:///{tmp_path}/s.duckdb") as s:
        scenario_a(tmp_path, s, new_target=0.9995, new_policy=True)
    result = invoke(tmp_path, "--at", "2026-02-08T00:00:00", "--json")
    assert result.exit_code == 0, result.output  # a warning only
    assert [(f["rule"], f["severity"]) for f in json.loads(result.stdout)] == [("changed-after-breach", "warning")]
    result = invoke(tmp_path, "--at", "2026-02-08T00:00:00")
    assert result.exit_code == 0 and "changed-after-breach" in result.stdout and "warning" in result.stdout


def test_command_exits_1_on_error_findings(tmp_path):
    with Store.open(f"duckdb:///{tmp_path}/s.duckdb") as s:
        scenario_a(tmp_path, s)
    result = invoke(tmp_path, "--at", "2026-02-08T00:00:00", "--json")
    assert result.exit_code == 1
    assert [f["severity"] for f in json.loads(result.stdout)] == ["error", "error", "error"]
    result = invoke(tmp_path, "--at", "2026-01-01T00:00:00")
    assert result.exit_code == 0 and "No integrity findings." in result.stdout
