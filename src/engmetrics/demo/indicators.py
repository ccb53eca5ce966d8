"""The demo's indicator catalog: `metrics/*.yaml` in the format of docs/catalog.md.

Velocity indicators are paired with guardrails, every indicator has an owner, thresholds and an
outcome, and leading indicators sit beside the lagging ones they predict.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

__all__ = ["CATALOG_FILES", "write_indicators"]

_HEADER = "# Demo indicators, written by `engmetrics demo`. Format: docs/catalog.md.\n"

OUTCOMES = """\
outcomes:
  - id: fast-safe-delivery
    name: Ship customer value quickly and safely
    description: Small, frequent, reviewed changes reach production without hurting reliability.
  - id: customer-trust
    name: Customers can rely on us
    description: Services are available and fast, and customers say so.
  - id: efficient-spend
    name: Cloud spend follows business value
    description: Every dollar is attributed to a team and buys capacity that is used.
"""

DELIVERY = """\
indicators:
  - id: deployment_frequency
    name: Deployment frequency
    description: Successful production deployments per day (rollbacks and hotfixes included).
    owner: {team: platform, role: engineering manager}
    kind: leading
    unit: deploys/day
    direction: higher_is_better
    cadence: weekly
    calculation:
      calculator: delivery.deployments_per_day
      params: {environment: production}
      min_sample: 5
    thresholds:
      red: {max: 5}
      amber: {min: 5, max: 12}
      green: {min: 12}
    outcome: fast-safe-delivery
    guardrail: change_fail_rate
    audience: org
    perception: ease_of_delivery
    review_by: REVIEW_BY
    tags: [dora, velocity]

  - id: change_lead_time_p50
    name: Change lead time (p50)
    description: Median hours from a change's first commit to its merge; bot changes excluded.
    owner: {team: platform, role: engineering manager}
    kind: leading
    unit: hours
    direction: lower_is_better
    cadence: weekly
    calculation:
      dataset: changes
      time_column: merged_at
      filters:
        - {column: is_bot, op: eq, value: false}
      measure: {type: percentile, start: first_commit_at, end: merged_at, percentile: 0.5, unit: hours}
      min_sample: 20
    thresholds:
      green: {max: 24}
      amber: {min: 24, max: 48}
      red: {min: 48}
    outcome: fast-safe-delivery
    guardrail: change_fail_rate
    audience: org
    review_by: REVIEW_BY
    tags: [dora, velocity]

  - id: review_latency_p90
    name: Review latency (p90)
    description: Hours from a change being ready for review to its first review, 90th percentile.
    owner: {team: checkout, role: tech lead}
    kind: leading
    unit: hours
    direction: lower_is_better
    cadence: weekly
    calculation:
      dataset: changes
      time_column: first_review_at
      filters:
        - {column: is_bot, op: eq, value: false}
      measure: {type: percentile, start: ready_at, end: first_review_at, percentile: 0.9, unit: hours}
      min_sample: 20
    thresholds:
      green: {max: 12}
      amber: {min: 12, max: 24}
      red: {min: 24}
    outcome: change_lead_time_p50
    audience: org
    review_by: REVIEW_BY
    tags: [review]

  - id: change_fail_rate
    name: Change fail rate
    description: >-
      Production rollbacks per successful production deployment that was neither a rollback nor a
      hotfix (every deploy-caused incident in this organisation is mitigated by a rollback).
    owner: {team: platform, role: engineering manager}
    kind: lagging
    unit: ratio
    direction: lower_is_better
    cadence: monthly
    calculation:
      dataset: deployments
      filters:
        - {column: environment, op: eq, value: production}
        - {column: status, op: eq, value: success}
      measure:
        type: ratio
        numerator:
          type: count
          filters: [{column: is_rollback, op: eq, value: true}]
        denominator:
          type: count
          filters:
            - {column: is_rollback, op: eq, value: false}
            - {column: is_hotfix, op: eq, value: false}
      min_sample: 20
    thresholds:
      green: {max: 0.05}
      amber: {min: 0.05, max: 0.15}
      red: {min: 0.15}
    outcome: fast-safe-delivery
    audience: org
    review_by: REVIEW_BY
    tags: [dora, guardrail]
"""

RELIABILITY = """\
indicators:
  - id: availability_ratio
    name: Availability (good / total requests)
    description: Share of requests that did not fail, over every service's availability SLI.
    owner: {team: platform, role: SRE lead}
    kind: lagging
    unit: ratio
    direction: higher_is_better
    cadence: weekly
    calculation:
      dataset: sli_events
      filters:
        - {column: indicator, op: eq, value: availability}
      measure:
        type: ratio
        numerator: {type: sum, column: good}
        denominator: {type: sum, column: total}
    thresholds:
      red: {max: 0.995}
      amber: {min: 0.995, max: 0.999}
      green: {min: 0.999}
    outcome: customer-trust
    audience: org
    review_by: REVIEW_BY
    tags: [slo]

  - id: request_error_ratio
    name: Failed requests (share, sampled events)
    description: Share of requests that failed, estimated from the sampled request events (every error kept,
      1 % of successes; a Horvitz-Thompson estimate with its 95 % interval).
    owner: {team: platform, role: SRE lead}
    kind: lagging
    unit: ratio
    direction: lower_is_better
    cadence: daily
    calculation:
      dataset: request_events
      measure:
        type: ratio
        numerator: {type: count, filters: [{column: outcome, op: eq, value: error}]}
        denominator: {type: count}
    thresholds:
      green: {max: 0.002}
      amber: {min: 0.002, max: 0.005}
      red: {min: 0.005}
    outcome: customer-trust
    audience: org
    review_by: REVIEW_BY
    tags: [slo, sampled]

  - id: time_to_restore_p50
    name: Time to restore service (p50)
    description: Median hours from the start of customer impact to mitigation, per declared incident.
    owner: {team: platform, role: SRE lead}
    kind: lagging
    unit: hours
    direction: lower_is_better
    cadence: monthly
    calculation:
      dataset: incidents
      measure: {type: percentile, start: impact_started_at, end: mitigated_at, percentile: 0.5, unit: hours}
      min_sample: 5
    thresholds:
      green: {max: 1}
      amber: {min: 1, max: 4}
      red: {min: 4}
    outcome: customer-trust
    audience: org
    review_by: REVIEW_BY
    tags: [dora, incidents]

  - id: incidents_per_week
    name: Incidents declared per week
    description: Incidents of any severity declared in the week.
    owner: {team: platform, role: SRE lead}
    kind: lagging
    unit: incidents
    direction: lower_is_better
    cadence: weekly
    calculation:
      dataset: incidents
      measure: {type: count}
    thresholds:
      green: {max: 5}
      amber: {min: 5, max: 10}
      red: {min: 10}
    outcome: customer-trust
    audience: org
    review_by: REVIEW_BY
    tags: [incidents]

  - id: major_incidents
    name: Severity 1-2 incidents per month
    description: Incidents of severity 1 or 2 declared in the month.
    owner: {team: platform, role: head of engineering}
    kind: lagging
    unit: incidents
    direction: lower_is_better
    cadence: monthly
    calculation:
      dataset: incidents
      measure:
        type: count
        filters: [{column: severity, op: le, value: 2}]
    thresholds:
      green: {max: 1}
      amber: {min: 1, max: 3}
      red: {min: 3}
    outcome: incidents_per_week
    audience: org
    review_by: REVIEW_BY
    tags: [incidents]

  - id: alert_actionable_ratio
    name: Actionable alerts
    description: Share of fired alerts that needed a human to act; noisy rules pull it down.
    owner: {team: platform, role: SRE lead}
    kind: leading
    unit: ratio
    direction: higher_is_better
    cadence: weekly
    calculation:
      dataset: alerts
      measure:
        type: ratio
        numerator:
          type: count
          filters: [{column: actionable, op: eq, value: true}]
        denominator: {type: count}
      min_sample: 10
    thresholds:
      red: {max: 0.3}
      amber: {min: 0.3, max: 0.6}
      green: {min: 0.6}
    outcome: time_to_restore_p50
    audience: org
    perception: oncall_sustainability
    review_by: REVIEW_BY
    tags: [oncall]

  - id: action_item_completion
    name: Postmortem action items done
    description: Share of postmortem action items created in the month that are done.
    owner: {team: platform, role: head of engineering}
    kind: leading
    unit: ratio
    direction: higher_is_better
    cadence: monthly
    calculation:
      dataset: action_items
      measure:
        type: ratio
        numerator:
          type: count
          filters: [{column: status, op: eq, value: done}]
        denominator: {type: count}
      min_sample: 5
    thresholds:
      red: {max: 0.3}
      amber: {min: 0.3, max: 0.6}
      green: {min: 0.6}
    outcome: major_incidents
    audience: org
    review_by: REVIEW_BY
    tags: [incidents]
"""

COST = """\
indicators:
  - id: untagged_cost_share
    name: Untagged cloud spend
    description: Share of effective cost on usage rows without any tags (cannot be allocated to a team).
    owner: {team: platform, role: FinOps lead}
    kind: leading
    unit: ratio
    direction: lower_is_better
    cadence: monthly
    calculation:
      dataset: cost
      filters:
        - {column: ChargeCategory, op: eq, value: Usage}
      measure:
        type: ratio
        numerator:
          type: sum
          column: EffectiveCost
          filters: [{column: Tags, op: is_null}]
        denominator: {type: sum, column: EffectiveCost}
    thresholds:
      green: {max: 0.02}
      amber: {min: 0.02, max: 0.05}
      red: {min: 0.05}
    outcome: efficient-spend
    audience: org
    review_by: REVIEW_BY
    tags: [finops]

  - id: idle_compute_share
    name: Idle compute samples
    description: Share of virtual-machine utilisation samples with CPU below 5%.
    owner: {team: platform, role: FinOps lead}
    kind: leading
    unit: ratio
    direction: lower_is_better
    cadence: weekly
    calculation:
      dataset: utilization
      filters:
        - {column: resource_type, op: eq, value: Virtual Machine}
      measure:
        type: ratio
        numerator:
          type: count
          filters: [{column: cpu_util, op: lt, value: 0.05}]
        denominator: {type: count}
    thresholds:
      green: {max: 0.03}
      amber: {min: 0.03, max: 0.08}
      red: {min: 0.08}
    outcome: efficient-spend
    guardrail: availability_ratio
    audience: org
    review_by: REVIEW_BY
    tags: [finops]
"""

CUSTOMERS = """\
indicators:
  - id: csat_mean
    name: Customer satisfaction (mean, 1-5)
    description: Mean survey score on the 1-5 scale over all responses in the week.
    owner: {team: checkout, role: product manager}
    kind: lagging
    unit: score (1-5)
    direction: higher_is_better
    cadence: weekly
    calculation:
      dataset: csat
      filters:
        - {column: scale, op: eq, value: 5}
      measure:
        type: ratio
        numerator: {type: sum, column: score}
        denominator: {type: count}
      min_sample: 30
    thresholds:
      red: {max: 3.8}
      amber: {min: 3.8, max: 4.1}
      green: {min: 4.1}
    outcome: customer-trust
    audience: org
    review_by: REVIEW_BY
    tags: [customers]

  - id: support_resolution_p50
    name: Internal support resolution time (p50)
    description: Median hours from a request to the platform, data or identity team to its resolution.
    owner: {team: platform, role: engineering manager}
    kind: lagging
    unit: hours
    direction: lower_is_better
    cadence: monthly
    calculation:
      dataset: support_requests
      measure: {type: percentile, start: created_at, end: resolved_at, percentile: 0.5, unit: hours}
      min_sample: 10
    thresholds:
      green: {max: 24}
      amber: {min: 24, max: 72}
      red: {min: 72}
    outcome: fast-safe-delivery
    audience: org
    review_by: REVIEW_BY
    tags: [platform]

  - id: doc_updates_per_week
    name: Documentation updates per week
    description: >-
      Documentation pages updated per week, all teams. Nobody views it or cites it in a decision, and its
      review is due on the demo's last day: `engmetrics catalog review` proposes deprecating it.
    owner: {team: platform, role: engineering manager}
    kind: leading
    unit: updates/week
    direction: higher_is_better
    cadence: weekly
    calculation:
      dataset: doc_updates
      time_column: updated_at
      measure: {type: count}
    thresholds:
      red: {max: 5}
      amber: {min: 5, max: 15}
      green: {min: 15}
    outcome: support_resolution_p50
    audience: org
    review_by: REVIEW_DUE
    tags: [platform, docs]
"""

CATALOG_FILES = {"outcomes.yaml": OUTCOMES, "delivery.yaml": DELIVERY, "reliability.yaml": RELIABILITY,
                 "cost.yaml": COST, "customers.yaml": CUSTOMERS}


def write_indicators(directory: Path, *, review_by: date | None = None) -> list[Path]:
    """Write the catalog files; `review_by` (default a year from today) is every indicator's review date but
    that of the unused `doc_updates_per_week`, due 365 days earlier (the demo passes its last day + 365 days, so
    that review is due on the last day and overdue the day after)."""
    review = review_by or date.today() + timedelta(days=365)
    due = review - timedelta(days=365)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in CATALOG_FILES.items():
        path = directory / name
        text = text.replace("REVIEW_BY", review.isoformat()).replace("REVIEW_DUE", due.isoformat())
        path.write_text(_HEADER + text)
        paths.append(path)
    return paths
