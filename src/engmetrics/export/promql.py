"""PromQL for the `/metrics` indicator families, built from their declarations in `api.exposition`.

Every query filters by the dashboard's `$team` variable (whose "All" value is `.*`, which also matches
series without a team label), except the threshold query: thresholds belong to the indicator, not a team.

>>> print(value_query(["deploys", "lead.time"]))
max by (metric, team, service, group) (engmetrics_indicator_value{metric=~"deploys|lead\\\\.time", team=~"$team"})
>>> [part.split("status=")[-1][:7] for part in status_severity_query(["deploys"]).split(" + ")]
['"green"', '"amber"', '"red"})']
"""

from __future__ import annotations

from collections.abc import Sequence

from ..api.exposition import (
    INDICATOR_PREVIOUS_VALUE,
    INDICATOR_SAMPLE_SIZE,
    INDICATOR_STATUS,
    INDICATOR_THRESHOLD,
    INDICATOR_VALUE,
)

__all__ = ["SERIES_LABELS", "SEVERITY", "previous_query", "sample_size_query", "status_severity_query",
           "threshold_query", "value_query"]

SERIES_LABELS = ("metric", "team", "service", "group")
"""The labels that tell an indicator's series apart (see `api.exposition.series_labels`)."""

SEVERITY = {0: "green", 1: "amber", 2: "red", 3: "no data"}
"""Numbers `status_severity_query` gives each status; any status other than green/amber/red is 3."""

_BY = f"max by ({', '.join(SERIES_LABELS)})"


def _metric_matcher(metrics: Sequence[str]) -> str:
    """`metric="x"` for one indicator, a regex alternation for several (ids only need `.` escaped)."""
    if len(metrics) == 1:
        return f'metric="{metrics[0]}"'
    return 'metric=~"' + "|".join(m.replace(".", "\\\\.") for m in metrics) + '"'


def _selector(name: str, metrics: Sequence[str], *extra: str, team: bool = True) -> str:
    matchers = [_metric_matcher(metrics), *(['team=~"$team"'] if team else []), *extra]
    return f"{name}{{{', '.join(matchers)}}}"


def value_query(metrics: Sequence[str]) -> str:
    """Current values of the indicators, one series per metric and group."""
    return f"{_BY} ({_selector(INDICATOR_VALUE.name, metrics)})"


def previous_query(metrics: Sequence[str]) -> str:
    """Values of the period before the current one."""
    return f"{_BY} ({_selector(INDICATOR_PREVIOUS_VALUE.name, metrics)})"


def sample_size_query(metrics: Sequence[str]) -> str:
    """Rows behind the current values."""
    return f"{_BY} ({_selector(INDICATOR_SAMPLE_SIZE.name, metrics)})"


def status_severity_query(metrics: Sequence[str]) -> str:
    """The status state set as one number per series: 0 green, 1 amber, 2 red, 3 anything else."""
    def state(status: str) -> str:
        matcher = f'status="{status}"'
        return f"{_BY} ({_selector(INDICATOR_STATUS.name, metrics, matcher)})"

    return f"3 - (3 * {state('green')} + 2 * {state('amber')} + {state('red')})"


def threshold_query(metric: str) -> str:
    """Edges of the indicator's threshold bands (labels `band` and `bound`)."""
    return _selector(INDICATOR_THRESHOLD.name, [metric], team=False)
