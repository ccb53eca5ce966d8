"""The demo organisation's SLOs (`slos/*.yaml`, OpenSLO read from `sli_events`).

Every service has an availability SLO over a rolling 28 days whose target follows its tier (tier 0:
99.9 %, tier 1: 99.5 %, tiers 2 and 3: 99 %). Customer-facing tier-0 services also have a latency SLO
judged by hourly time slices over the calendar month.
"""

from __future__ import annotations

from pathlib import Path

from .org import Service

__all__ = ["POLICY", "write_slos"]

_TARGETS = {0: 0.999, 1: 0.995, 2: 0.99, 3: 0.99}
_HEADER = "# Demo SLOs: OpenSLO v1 documents read from the engmetrics store (see docs/slo.md).\n"


def _source(service: str, indicator: str, column: str) -> str:
    return (f"{{metricSource: {{type: engmetrics, spec: {{dataset: sli_events, service: {service}, "
            f"indicator: {indicator}, column: {column}}}}}}}")


def _indicator(service: str, indicator: str) -> str:
    return f"""apiVersion: openslo/v1
kind: SLI
metadata:
  name: {service}-{indicator}
spec:
  ratioMetric:
    good: {_source(service, indicator, "good")}
    total: {_source(service, indicator, "total")}
"""


def _availability(service: Service) -> str:
    return f"""apiVersion: openslo/v1
kind: SLO
metadata:
  name: {service.id}-availability
  displayName: {service.id} availability
spec:
  service: {service.id}
  indicatorRef: {service.id}-availability
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: requests served
      target: {_TARGETS[service.tier]}
"""


def _latency(service: Service) -> str:
    return f"""apiVersion: openslo/v1
kind: SLO
metadata:
  name: {service.id}-latency
  displayName: {service.id} latency
spec:
  service: {service.id}
  indicatorRef: {service.id}-latency
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar: {{startTime: "2020-01-01 00:00:00", timeZone: UTC}}
  budgetingMethod: Timeslices
  objectives:
    - displayName: fast hours
      target: 0.95
      timeSliceTarget: 0.97
      timeSliceWindow: 1h
"""


# A Sloth spec for the edge proxy, whose metrics live in Prometheus only: `engmetrics slo rules` turns it
# into recording and alerting rules; `slo status` lists it as computed elsewhere.
EDGE = """# Sloth prometheus/v1 spec: the edge proxy's SLIs are Prometheus queries (see `engmetrics slo rules`).
version: prometheus/v1
service: edge-proxy
labels: {owner: platform}
slos:
  - name: requests-availability
    objective: 99.95
    description: Requests through the edge proxy that did not fail with a 5xx.
    sli:
      events:
        error_query: sum(rate(envoy_http_downstream_rq_xx{envoy_response_code_class="5"}[{{.window}}]))
        total_query: sum(rate(envoy_http_downstream_rq_xx[{{.window}}]))
    alerting:
      name: EdgeProxyHighErrorRate
      page_alert: {labels: {severity: page}}
      ticket_alert: {labels: {severity: ticket}}
"""

POLICY = """# Error-budget policies (see docs/slo.md): `engmetrics slo gate SERVICE` applies them.
kind: ErrorBudgetPolicy
name: default
description: What every team does as its error budget runs down.
services: ["*"]
stages:
  - {name: healthy, below: null, actions: [release freely]}
  - {name: warn, below: 0.5, actions: [notify the owning team, review risky changes in the weekly ops review]}
  - name: freeze
    below: 0.0
    block_releases: true
    actions: [freeze feature releases, reliability work only, postmortem for the budget overspend]
insufficient_data: allow
---
kind: ErrorBudgetPolicy
name: money-paths
description: "Payments moves money: slow down earlier."
services: ["payments-*", ledger, payouts]
stages:
  - {name: healthy, below: null, actions: [release freely]}
  - {name: careful, below: 0.75, actions: [two reviewers on every change, release in business hours only]}
  - name: freeze
    below: 0.25
    block_releases: true
    actions: [freeze feature releases, reliability work only]
insufficient_data: block
"""


def write_slos(directory: Path, services: tuple[Service, ...]) -> list[Path]:
    """One file per owning team: the team's services' indicators and SLOs; the error-budget policies go to
    `policies/` beside `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    by_team: dict[str, list[str]] = {}
    for service in services:
        docs = [_indicator(service.id, "availability"), _availability(service)]
        if service.tier == 0 and service.customer_facing:
            docs += [_indicator(service.id, "latency"), _latency(service)]
        by_team.setdefault(service.team, []).extend(docs)
    paths = []
    for team, docs in by_team.items():
        path = directory / f"{team}.yaml"
        path.write_text(_HEADER + "---\n".join(docs))
        paths.append(path)
    (directory / "edge-proxy.sloth.yaml").write_text(EDGE)
    policies = directory.parent / "policies"
    policies.mkdir(exist_ok=True)
    (policies / "error-budget.yaml").write_text(POLICY)
    return paths
