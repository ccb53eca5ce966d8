"""Grafana dashboard JSON (classic model) for the `/metrics` indicator gauges.

One collapsible row per outcome of the workspace catalog (declared order, then `(no outcome)`), holding a
stat panel of every indicator's RAG status, a table of values, previous values, sample sizes and status,
and one time series panel per indicator with its threshold edges drawn as dashed lines. Queries go to the
data source chosen in the `datasource` variable and filter by the `team` variable. Only active
indicators appear (the others are not evaluated). Statuses are shown as text, never by colour alone.

>>> from engmetrics.catalog.loader import Catalog
>>> board = grafana_dashboard(Catalog(), title="Acme engineering")
>>> board["title"], board["schemaVersion"], [v["name"] for v in board["templating"]["list"]]
('Acme engineering', 41, ['datasource', 'team'])
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

from ..api.exposition import INDICATOR_INFO
from ..catalog.loader import Catalog, Definition
from ..catalog.views import NO_OUTCOME, root_outcome
from .promql import (
    SERIES_LABELS,
    SEVERITY,
    previous_query,
    sample_size_query,
    status_severity_query,
    threshold_query,
    value_query,
)

__all__ = ["DATASOURCE", "SCHEMA_VERSION", "grafana_dashboard", "outcome_groups"]

SCHEMA_VERSION = 41  # the classic dashboard model of Grafana 12; older Grafana versions may refuse it
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
"""How every panel, query and variable names its data source: the `datasource` variable."""

_COLOURS = {"green": "green", "amber": "orange", "red": "red", "no data": "text"}
_UNITS = {"ratio": "percentunit", "percent": "percent", "seconds": "s", "minutes": "m", "hours": "h",
          "days": "d"}
_LEGEND = " ".join(f"{{{{{label}}}}}" for label in SERIES_LABELS)


def outcome_groups(catalog: Catalog) -> list[tuple[str, str, list[Definition]]]:
    """(outcome id, outcome name, active indicators) in declared order, then `(no outcome)`; empty ones
    left out. An indicator belongs to the root outcome of its outcome chain.

    >>> outcome_groups(Catalog())
    []
    """
    names = {o.outcome.id: o.outcome.name for o in catalog.outcomes}
    groups: dict[str, list[Definition]] = {key: [] for key in names}
    for d in catalog.active:
        groups.setdefault(root_outcome(catalog, d.id), []).append(d)
    return [(key, names.get(key, NO_OUTCOME), ds) for key, ds in groups.items() if ds]


def _target(expr: str, ref: str, legend: str = _LEGEND, *, instant: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {"datasource": DATASOURCE, "refId": ref, "expr": expr, "legendFormat": legend}
    if instant:
        target.update(instant=True, range=False, format="table")
    return target


def _status_mappings() -> list[dict[str, Any]]:
    return [{"type": "value", "options": {str(number): {"text": text, "color": _COLOURS[text], "index": number}
                                          for number, text in SEVERITY.items()}}]


def _panel(panel_id: int, kind: str, title: str, grid: tuple[int, int, int, int], targets: list[dict[str, Any]],
           **fields: Any) -> dict[str, Any]:
    x, y, w, h = grid
    return {"id": panel_id, "type": kind, "title": title, "datasource": DATASOURCE,
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": targets, **fields}


def _status_panel(panel_id: int, metrics: list[str], y: int) -> dict[str, Any]:
    return _panel(panel_id, "stat", "Status", (0, y, 12, 6), [_target(status_severity_query(metrics), "A")],
                  description="RAG status of each indicator's current value (text and colour).",
                  fieldConfig={"defaults": {"mappings": _status_mappings(), "color": {"mode": "fixed"},
                                            "unit": "none"}, "overrides": []},
                  options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                           "textMode": "value_and_name", "colorMode": "background", "graphMode": "none",
                           "justifyMode": "auto", "orientation": "auto"})


def _table_panel(panel_id: int, metrics: list[str], y: int) -> dict[str, Any]:
    queries = {"A": ("value", value_query(metrics)), "B": ("previous", previous_query(metrics)),
               "C": ("sample size", sample_size_query(metrics)), "D": ("status", status_severity_query(metrics))}
    renames = {f"Value #{ref}": name for ref, (name, _) in queries.items()}
    order = {name: i for i, name in enumerate([*SERIES_LABELS, "status", "value", "previous", "sample size"])}
    return _panel(
        panel_id, "table", "Current values", (12, y, 12, 6),
        [_target(expr, ref, instant=True) for ref, (_, expr) in queries.items()],
        description="Current and previous value, rows behind the value, and status of each indicator.",
        fieldConfig={"defaults": {}, "overrides": [{"matcher": {"id": "byName", "options": "status"},
                                                    "properties": [{"id": "mappings", "value": _status_mappings()},
                                                                   {"id": "custom.cellOptions",
                                                                    "value": {"type": "color-text"}}]}]},
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": renames,
                                                        "indexByName": order}}],
        options={"showHeader": True, "cellHeight": "sm"})


def _series_panel(panel_id: int, d: Definition, grid: tuple[int, int, int, int]) -> dict[str, Any]:
    ind = d.indicator
    unit = _UNITS.get(ind.unit.lower())
    title = ind.name if unit else f"{ind.name} ({ind.unit})"
    return _panel(
        panel_id, "timeseries", title, grid,
        [_target(value_query([d.id]), "A"), _target(threshold_query(d.id), "B", "{{band}} {{bound}}")],
        description=(ind.description or ind.name) + f" [{d.id}, {ind.direction.replace('_', ' ')}]",
        fieldConfig={"defaults": {"unit": unit or "none", "custom": {"drawStyle": "line", "lineWidth": 2,
                                                                     "showPoints": "auto", "spanNulls": False}},
                     "overrides": [{"matcher": {"id": "byFrameRefID", "options": "B"},
                                    "properties": [{"id": "custom.lineStyle",
                                                    "value": {"fill": "dash", "dash": [10, 10]}},
                                                   {"id": "custom.lineWidth", "value": 1},
                                                   {"id": "color", "value": {"mode": "fixed",
                                                                             "fixedColor": "text"}}]}]},
        options={"legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
                 "tooltip": {"mode": "multi", "sort": "none"}})


def _outcome_panels(ids: Iterator[int], name: str, definitions: list[Definition], y: int) -> list[dict[str, Any]]:
    metrics = [d.id for d in definitions]
    panels = [{"id": next(ids), "type": "row", "title": name, "collapsed": False, "panels": [],
               "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}},
              _status_panel(next(ids), metrics, y + 1), _table_panel(next(ids), metrics, y + 1)]
    for i, d in enumerate(definitions):
        panels.append(_series_panel(next(ids), d, ((i % 3) * 8, y + 7 + (i // 3) * 8, 8, 8)))
    return panels


def _variables() -> list[dict[str, Any]]:
    teams = f"label_values({INDICATOR_INFO.name}, team)"
    return [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []},
        {"name": "team", "label": "Team", "type": "query", "datasource": DATASOURCE, "definition": teams,
         "query": {"query": teams, "refId": "team"}, "includeAll": True, "multi": True, "allValue": ".*",
         "current": {"text": ["All"], "value": ["$__all"]}, "hide": 0, "refresh": 2, "sort": 1, "regex": "",
         "options": []},
    ]


def grafana_dashboard(catalog: Catalog, *, title: str = "engmetrics overview",
                      uid: str = "engmetrics-overview") -> dict[str, Any]:
    """The dashboard as a JSON-ready dict (import it in Grafana or provision it from a file)."""
    ids, panels, y = count(1), [], 0
    for _, name, definitions in outcome_groups(catalog):
        outcome_panels = _outcome_panels(ids, name, definitions, y)
        panels += outcome_panels
        y = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in outcome_panels)
    return {
        "uid": uid, "title": title, "description": "Indicator values and RAG status from engmetrics /metrics.",
        "tags": ["engmetrics"], "timezone": "utc", "editable": True, "graphTooltip": 1,
        "time": {"from": "now-90d", "to": "now"}, "refresh": "", "schemaVersion": SCHEMA_VERSION,
        "version": 1, "links": [], "annotations": {"list": []},
        "templating": {"list": _variables()}, "panels": panels,
    }
