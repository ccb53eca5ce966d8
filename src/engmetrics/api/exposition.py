"""Prometheus text exposition (format 0.0.4) of evaluated indicators, served at `GET /metrics`.

Every metric family is declared once, as a `Family` (name, help text, type), so other code (the Grafana
export, the docs) can name the series without evaluating anything. A `Collector` is the one-method
extension point: `collect()` yields `(Family, samples)` pairs. `render_metrics` renders the indicator
collector plus any extra collectors, e.g. the SLO module's budget and burn-rate families later:
`render_metrics(results, catalog, collectors=[slo_collector])`.

Rules the output keeps: one `# HELP` / `# TYPE` block per family name, no two series with the same label
set, label values escaped, unknown labels left out (never `team=""`), and no value series for an
indicator without data (its status series still says `no_data`). The RAG status is a state set, written
as a gauge (format 0.0.4 has no state-set type): one series per status, 1 for the current one, else 0.

>>> from datetime import date
>>> from engmetrics.catalog.evaluate import MetricResult
>>> from engmetrics.catalog.loader import Catalog
>>> result = MetricResult("deploys", date(2026, 3, 1), date(2026, 3, 31), 12.0, None, "green", "v1",
...                       sample_size=12)
>>> text = render_metrics([result], Catalog())
>>> [line for line in text.splitlines() if line.startswith("engmetrics_indicator_value")]
['engmetrics_indicator_value{metric="deploys"} 12.0']
>>> 'engmetrics_indicator_status{metric="deploys",status="green"} 1' in text
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..catalog.compute import NULL_GROUP
from ..catalog.evaluate import MetricResult
from ..catalog.loader import Catalog, Definition
from ..catalog.model import Calculation
from ..catalog.rag import STATUSES
from ..catalog.views import NO_OUTCOME, root_outcome

__all__ = [
    "CONTENT_TYPE", "INDICATOR_FAMILIES", "INDICATOR_INFO", "INDICATOR_PREVIOUS_VALUE", "INDICATOR_SAMPLE_SIZE",
    "INDICATOR_STATUS", "INDICATOR_THRESHOLD", "INDICATOR_VALUE", "METRIC_NAMES", "Collector", "Family",
    "IndicatorCollector", "Sample", "group_label", "render", "render_metrics", "series_labels",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class Family:
    """A metric family declaration: its name, help text and Prometheus type.

    >>> Family("engmetrics_x", "An example.").type
    'gauge'
    >>> Family("bad-name", "x")
    Traceback (most recent call last):
    ...
    ValueError: invalid metric name 'bad-name'
    """

    name: str
    help: str
    type: Literal["gauge", "counter", "untyped"] = "gauge"

    def __post_init__(self) -> None:
        if not _METRIC_NAME.match(self.name):
            raise ValueError(f"invalid metric name {self.name!r}")


@dataclass(frozen=True)
class Sample:
    """One series: its labels (name, value pairs in output order) and its value.

    >>> Sample.of(3, {"metric": "x", "team": None}).labels
    (('metric', 'x'),)
    """

    labels: tuple[tuple[str, str], ...]
    value: float

    @classmethod
    def of(cls, value: float, labels: Mapping[str, str | None]) -> Sample:
        """A sample with the labels whose value is known (`None` and `""` are left out)."""
        kept = tuple((k, v) for k, v in labels.items() if v is not None and v != "")
        for name, _ in kept:
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(f"invalid label name {name!r}")
        return cls(kept, value)


class Collector(Protocol):
    """Anything that yields metric families with their samples (the extension point)."""

    def collect(self) -> Iterable[tuple[Family, Sequence[Sample]]]:
        """Each family once, with its samples."""
        ...


INDICATOR_VALUE = Family(
    "engmetrics_indicator_value",
    "Indicator value for its current period, in the indicator's unit (absent when there is no data).")
INDICATOR_PREVIOUS_VALUE = Family(
    "engmetrics_indicator_previous_value",
    "Indicator value for the period before the current one (absent when there is no data).")
INDICATOR_STATUS = Family(
    "engmetrics_indicator_status",
    "RAG status of the indicator's current value as a state set: 1 for the current status, else 0.")
INDICATOR_SAMPLE_SIZE = Family(
    "engmetrics_indicator_sample_size", "Number of rows behind the indicator's current value.")
INDICATOR_THRESHOLD = Family(
    "engmetrics_indicator_threshold",
    "Edge of a threshold band of the indicator (band holds min <= value < max; unbounded edges are absent).")
INDICATOR_INFO = Family(
    "engmetrics_indicator_info", "Indicator metadata from the catalog; the value is always 1.")

INDICATOR_FAMILIES: tuple[Family, ...] = (
    INDICATOR_VALUE, INDICATOR_PREVIOUS_VALUE, INDICATOR_STATUS, INDICATOR_SAMPLE_SIZE, INDICATOR_THRESHOLD,
    INDICATOR_INFO)
METRIC_NAMES: tuple[str, ...] = tuple(f.name for f in INDICATOR_FAMILIES)
"""Names of every family `render_metrics` emits (without extra collectors)."""


def group_label(column: str | None) -> str:
    """The label a group-by column's values go in: `team`, `service`, or the generic `group`.

    >>> [group_label(c) for c in ("team", "to_team", "service", "repo", None)]
    ['team', 'team', 'service', 'group', 'group']
    """
    if column in ("team", "service"):
        return column
    if column and column.endswith(("_team", "_service")):
        return column.rsplit("_", 1)[1]
    return "group"


def _owner_team(definition: Definition | None) -> str | None:
    owner = definition.indicator.owner if definition else None
    team = owner.team if owner else None
    return ",".join(team) if isinstance(team, list) else team


def series_labels(result: MetricResult, definition: Definition | None) -> dict[str, str | None]:
    """Labels of a result's series: `metric`, `team`, `service`, `group` (unknown ones are `None`).

    The team is the indicator owner's, unless the indicator is grouped by a team column; a group value
    goes in `team` or `service` when the group-by column is one, else in `group`. The placeholder group
    for rows without a value, `(null)`, always goes in `group` (and a `(null)` team gets no team label).
    """
    labels: dict[str, str | None] = {"metric": result.metric, "team": _owner_team(definition),
                                     "service": None, "group": None}
    if result.group is not None:
        calc = definition.indicator.calculation if definition else None
        label = group_label(calc.group_by if isinstance(calc, Calculation) else None)
        if label == "team":
            labels["team"] = None  # each series is about its group's team, not the owner's
        labels["group" if result.group == NULL_GROUP else label] = result.group
    return labels


def _info_labels(catalog: Catalog, definition: Definition) -> dict[str, str | None]:
    ind = definition.indicator
    outcome = root_outcome(catalog, ind.id)
    return {"metric": ind.id, "name": ind.name, "unit": ind.unit, "direction": ind.direction,
            "kind": ind.kind, "cadence": ind.cadence, "team": _owner_team(definition),
            "outcome": None if outcome == NO_OUTCOME else outcome}


@dataclass(frozen=True)
class IndicatorCollector:
    """Value, previous value, status, sample size, thresholds and metadata of evaluated indicators.

    A second result for a metric and group already seen is skipped (the first one wins); a result whose
    metric is not in the catalog gets only its `metric` and `group` labels, and no thresholds or info.
    """

    results: Sequence[MetricResult]
    catalog: Catalog = field(default_factory=Catalog)

    def collect(self) -> Iterable[tuple[Family, Sequence[Sample]]]:
        definitions = {d.id: d for d in self.catalog.definitions}
        out: dict[Family, list[Sample]] = {f: [] for f in INDICATOR_FAMILIES}
        seen: set[tuple[tuple[str, str], ...]] = set()
        described: set[str] = set()
        for r in self.results:
            definition = definitions.get(r.metric)
            labels = series_labels(r, definition)
            key = Sample.of(0, labels).labels
            if key in seen:
                continue
            seen.add(key)
            if r.value is not None and not math.isnan(r.value):
                out[INDICATOR_VALUE].append(Sample.of(r.value, labels))
            if r.previous is not None and not math.isnan(r.previous):
                out[INDICATOR_PREVIOUS_VALUE].append(Sample.of(r.previous, labels))
            states = STATUSES if r.status in STATUSES else (*STATUSES, r.status)
            out[INDICATOR_STATUS].extend(
                Sample.of(1 if r.status == s else 0, {**labels, "status": s}) for s in states)
            out[INDICATOR_SAMPLE_SIZE].append(Sample.of(r.sample_size, labels))
            if definition is not None and r.metric not in described:
                described.add(r.metric)
                out[INDICATOR_INFO].append(Sample.of(1, _info_labels(self.catalog, definition)))
                out[INDICATOR_THRESHOLD].extend(_threshold_samples(definition))
        return list(out.items())


def _threshold_samples(definition: Definition) -> list[Sample]:
    thresholds = definition.indicator.thresholds
    if thresholds is None:
        return []
    return [Sample.of(edge, {"metric": definition.id, "band": band, "bound": bound})
            for band, b in thresholds.bands()
            for bound, edge in (("min", b.min), ("max", b.max)) if edge is not None]


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if isinstance(value, bool | int):
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _sample_line(name: str, sample: Sample) -> str:
    if not sample.labels:
        return f"{name} {_format_value(sample.value)}"
    labels = ",".join(f'{k}="{_escape_label_value(v)}"' for k, v in sample.labels)
    return f"{name}{{{labels}}} {_format_value(sample.value)}"


def render(collectors: Iterable[Collector]) -> str:
    """The exposition text of every collector's families, in the order first collected.

    A family collected twice (by name) must be the same declaration; its samples are merged. Raises
    `ValueError` on a conflicting declaration or on two series of a family with the same labels.

    >>> class One:
    ...     def collect(self):
    ...         return [(Family("demo_up", "Whether the demo is up."), [Sample.of(1, {"job": 'say "hi"'})])]
    >>> print(render([One()]), end="")
    # HELP demo_up Whether the demo is up.
    # TYPE demo_up gauge
    demo_up{job="say \\"hi\\""} 1
    """
    families: dict[str, tuple[Family, list[Sample]]] = {}
    for collector in collectors:
        for family, samples in collector.collect():
            known, merged = families.setdefault(family.name, (family, []))
            if known != family:
                raise ValueError(f"family {family.name!r} declared twice with different help or type")
            merged.extend(samples)
    lines: list[str] = []
    for family, samples in families.values():
        seen: set[tuple[tuple[str, str], ...]] = set()
        lines += [f"# HELP {family.name} {_escape_help(family.help)}", f"# TYPE {family.name} {family.type}"]
        for sample in samples:
            if sample.labels in seen:
                raise ValueError(f"duplicate series {family.name}{dict(sample.labels)}")
            seen.add(sample.labels)
            lines.append(_sample_line(family.name, sample))
    return "".join(line + "\n" for line in lines)


def render_metrics(results: list[MetricResult], catalog: Catalog, *,
                   collectors: Iterable[Collector] = ()) -> str:
    """The `/metrics` text for evaluated indicators, followed by the families of any extra collectors.

    Serve it with the media type `CONTENT_TYPE`. See the module docstring for an example.
    """
    return render([IndicatorCollector(results, catalog), *collectors])
