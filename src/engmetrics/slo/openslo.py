"""Pydantic models of OpenSLO documents (`openslo/v1`, plus the older `openslo/v1alpha` SLO).

Models check the shape of one document; rules that need several fields or documents (budgeting method
versus objective fields, `indicatorRef` resolution, duplicate names) live in `engmetrics.slo.loader`.

>>> obj = Objective.model_validate({"targetPercent": 99.5})
>>> obj.target
0.995

A metric source of type `engmetrics` names a dataset of the store; any other type keeps its spec as is:

>>> good = MetricSpec.model_validate({"metricSource": {"type": "engmetrics", "spec": {
...     "dataset": "sli_events", "service": "checkout", "indicator": "availability", "column": "good"}}})
>>> good.metricSource.spec.column
'good'
>>> MetricSpec.model_validate({"metricSource": {"type": "Prometheus", "spec": {"query": "up"}}}).metricSource
OtherMetricSource(metricSourceRef=None, type='Prometheus', spec={'query': 'up'})
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from .rrules import parse_rule

__all__ = [
    "API_VERSION",
    "KINDS",
    "SLI",
    "SLO",
    "AlertCondition",
    "AlertConditionSpec",
    "AlertNotificationTarget",
    "AlertPolicy",
    "AlertPolicySpec",
    "BudgetingMethod",
    "Calendar",
    "Correction",
    "DataSource",
    "DataSourceSpec",
    "EngmetricsMetricSource",
    "InlineAlertPolicy",
    "Metadata",
    "MetricSource",
    "MetricSpec",
    "Objective",
    "OtherMetricSource",
    "RatioMetric",
    "SLISpec",
    "SLOSpec",
    "Service",
    "ServiceSpec",
    "SliEventsSpec",
    "TelemetrySamplesSpec",
    "ThresholdMetric",
    "TimeWindow",
    "V1AlphaSLO",
]

API_VERSION = "openslo/v1"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"  # DNS-1123 subdomain, as OpenSLO asks
Duration = Annotated[str, Field(pattern=r"^[1-9][0-9]*[smhdwMQY]$",
                                description="A count (1 or more) and a unit: s, m, h, d, w, M (month), Q, Y.")]
SliceDuration = Annotated[str, Field(pattern=r"^[1-9][0-9]*[smhdw]$",
                                     description="A time slice: a count and s, m, h, d or w (fixed lengths only).")]
BudgetingMethod = Literal["Occurrences", "Timeslices", "RatioTimeslices"]
Operator = Literal["lt", "lte", "gt", "gte"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Metadata(_Model):
    name: str = Field(pattern=NAME_PATTERN, max_length=253)
    displayName: str | None = None
    labels: dict[str, Any] = Field(default_factory=dict)
    annotations: dict[str, Any] = Field(default_factory=dict)


class _Document(_Model):
    apiVersion: Literal["openslo/v1"]
    metadata: Metadata

    @property
    def name(self) -> str:
        return self.metadata.name


# --- metric sources -------------------------------------------------------------------------------------

class SliEventsSpec(_Model):
    """`sli_events` counts: one column (`good` or `total`) of one service's indicator."""

    dataset: Literal["sli_events"]
    service: str
    indicator: str
    column: Literal["good", "total"]


class TelemetrySamplesSpec(_Model):
    """A raw counter series of `telemetry_samples`: metric name and label selector (values are regexes)."""

    dataset: Literal["telemetry_samples"]
    metric: str
    selector: dict[str, str] = Field(default_factory=dict)
    le: float | None = Field(None, description="histogram bucket bound, compared as a number (1 = 1.0)")


EngmetricsSpec = Annotated[SliEventsSpec | TelemetrySamplesSpec, Field(discriminator="dataset")]


class EngmetricsMetricSource(_Model):
    """A metric source read from the engmetrics store."""

    metricSourceRef: str | None = None
    type: Literal["engmetrics"]
    spec: EngmetricsSpec


class OtherMetricSource(_Model):
    """Any other source (Prometheus, Datadog, ...): the spec is kept as written, for rules and import."""

    metricSourceRef: str | None = None
    type: str | None = None
    spec: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _named(self) -> OtherMetricSource:
        if self.type is None and self.metricSourceRef is None:
            raise ValueError("a metric source needs `type` or `metricSourceRef`")
        return self


def _source_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "engmetrics" if kind == "engmetrics" else "other"


MetricSource = Annotated[
    Annotated[EngmetricsMetricSource, Tag("engmetrics")] | Annotated[OtherMetricSource, Tag("other")],
    Discriminator(_source_tag),
]


class MetricSpec(_Model):
    metricSource: MetricSource


class RatioMetric(_Model):
    """good/total or bad/total (or `raw` with `rawType`), as OpenSLO defines it."""

    counter: bool = False
    good: MetricSpec | None = None
    bad: MetricSpec | None = None
    total: MetricSpec | None = None
    rawType: Literal["success", "failure"] | None = None
    raw: MetricSpec | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RatioMetric:
        if self.raw is not None:
            if self.good or self.bad or self.total:
                raise ValueError("`raw` excludes good, bad and total")
            if self.rawType is None:
                raise ValueError("`raw` needs `rawType` (success or failure)")
        elif self.total is None or (self.good is None) == (self.bad is None):
            raise ValueError("a ratio metric needs `total` and exactly one of `good` and `bad`")
        return self


class ThresholdMetric(MetricSpec):
    pass


class SLISpec(_Model):
    description: str | None = None
    thresholdMetric: ThresholdMetric | None = None
    ratioMetric: RatioMetric | None = None

    @model_validator(mode="after")
    def _one_metric(self) -> SLISpec:
        if (self.thresholdMetric is None) == (self.ratioMetric is None):
            raise ValueError("an indicator needs exactly one of `thresholdMetric` and `ratioMetric`")
        return self


class SLI(_Document):
    kind: Literal["SLI"] = "SLI"
    spec: SLISpec


class InlineSLI(_Model):
    """An indicator written inside an SLO (no apiVersion or kind needed)."""

    apiVersion: Literal["openslo/v1"] | None = None
    kind: Literal["SLI"] | None = None
    metadata: Metadata
    spec: SLISpec


# --- SLO --------------------------------------------------------------------------------------------------

def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


TimeZone = Annotated[str, AfterValidator(_known_zone)]


class Calendar(_Model):
    startTime: datetime | date | str
    timeZone: TimeZone



class TimeWindow(_Model):
    duration: Duration
    isRolling: bool = False
    calendar: Calendar | None = None


class Objective(_Model):
    """One objective; `targetPercent` (0-100) is turned into `target` (0-1), so read `target`."""

    displayName: str | None = None
    op: Operator | None = None
    value: float | None = None
    target: float | None = Field(default=None, gt=0, lt=1)
    targetPercent: float | None = Field(default=None, gt=0, lt=100)
    timeSliceTarget: float | None = Field(default=None, gt=0, le=1)
    timeSliceWindow: SliceDuration | None = None
    indicator: InlineSLI | None = None
    indicatorRef: str | None = None
    compositeWeight: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _target(self) -> Objective:
        if self.target is not None and self.targetPercent is not None:
            raise ValueError("give `target` or `targetPercent`, not both")
        if self.target is None:
            if self.targetPercent is None:
                raise ValueError("an objective needs `target` (0-1) or `targetPercent` (0-100)")
            self.target = self.targetPercent / 100
        return self


def _ref_or_inline(ref_key: str) -> Discriminator:
    """Tell a `{xxxRef: name}` item from an inline document, so errors speak of the right one."""
    return Discriminator(lambda v: "ref" if (ref_key in v if isinstance(v, dict) else hasattr(v, ref_key))
                         else "inline")


class Correction(_Model):
    """An engmetrics extension: a period excluded from the budget (one-off, or recurring by `rrule`).

    `start` is local time in `timeZone` (default UTC) unless it has an offset; give `end` or `duration`.
    `rrule` is an RFC 5545 rule (`FREQ=WEEKLY;BYDAY=SU`) repeating the period from `start`.
    """

    start: datetime
    end: datetime | None = None
    duration: Duration | None = None
    rrule: str | None = None
    timeZone: TimeZone = "UTC"
    reason: str = Field(min_length=1)


    @model_validator(mode="after")
    def _one_end(self) -> Correction:
        if (self.end is None) == (self.duration is None):
            raise ValueError("a correction needs exactly one of `end` and `duration`")
        return self

    @field_validator("rrule")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rule(value, datetime(2000, 1, 1))
        return value


class AlertPolicyRef(_Model):
    alertPolicyRef: str


class SLOSpec(_Model):
    description: str | None = None
    service: str
    indicator: InlineSLI | None = None
    indicatorRef: str | None = None
    timeWindow: list[TimeWindow] = Field(min_length=1)
    budgetingMethod: BudgetingMethod
    objectives: list[Objective] = Field(min_length=1)
    corrections: list[Correction] = Field(default_factory=list)
    alertPolicies: list[Annotated[Annotated[AlertPolicyRef, Tag("ref")] | Annotated[InlineAlertPolicy, Tag("inline")],
                                  _ref_or_inline("alertPolicyRef")]] = Field(default_factory=list)

    @field_validator("alertPolicies", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value  # `alertPolicies:` left empty, as OpenSLO's examples do


class SLO(_Document):
    kind: Literal["SLO"] = "SLO"
    spec: SLOSpec


# --- Service, DataSource, alerting ------------------------------------------------------------------------

class ServiceSpec(_Model):
    description: str | None = None


class Service(_Document):
    kind: Literal["Service"] = "Service"
    spec: ServiceSpec = Field(default_factory=ServiceSpec)


class DataSourceSpec(_Model):
    description: str | None = None
    type: str
    connectionDetails: dict[str, Any] | list[Any] = Field(default_factory=dict)


class DataSource(_Document):
    kind: Literal["DataSource"] = "DataSource"
    spec: DataSourceSpec


class BurnRateCondition(_Model):
    kind: Literal["burnrate"]
    op: Operator
    threshold: float = Field(ge=0)
    lookbackWindow: Duration
    alertAfter: Duration | None = None


class AlertConditionSpec(_Model):
    description: str | None = None
    severity: str
    condition: BurnRateCondition


class AlertCondition(_Document):
    kind: Literal["AlertCondition"] = "AlertCondition"
    spec: AlertConditionSpec


class InlineAlertCondition(_Model):
    apiVersion: Literal["openslo/v1"] | None = None
    kind: Literal["AlertCondition"]
    metadata: Metadata
    spec: AlertConditionSpec


class ConditionRef(_Model):
    conditionRef: str


class AlertNotificationTargetSpec(_Model):
    description: str | None = None
    target: str


class AlertNotificationTarget(_Document):
    kind: Literal["AlertNotificationTarget"] = "AlertNotificationTarget"
    spec: AlertNotificationTargetSpec


class InlineNotificationTarget(_Model):
    apiVersion: Literal["openslo/v1"] | None = None
    kind: Literal["AlertNotificationTarget"]
    metadata: Metadata
    spec: AlertNotificationTargetSpec


class TargetRef(_Model):
    targetRef: str


class AlertPolicySpec(_Model):
    description: str | None = None
    alertWhenNoData: bool = False
    alertWhenResolved: bool = False
    alertWhenBreaching: bool = True
    conditions: list[Annotated[Annotated[ConditionRef, Tag("ref")] | Annotated[InlineAlertCondition, Tag("inline")],
                               _ref_or_inline("conditionRef")]] = Field(min_length=1, max_length=1)
    notificationTargets: list[Annotated[
        Annotated[TargetRef, Tag("ref")] | Annotated[InlineNotificationTarget, Tag("inline")],
        _ref_or_inline("targetRef")]] = Field(default_factory=list)


class AlertPolicy(_Document):
    kind: Literal["AlertPolicy"] = "AlertPolicy"
    spec: AlertPolicySpec


class InlineAlertPolicy(_Model):
    """An alert policy written inside an SLO (apiVersion optional)."""

    apiVersion: Literal["openslo/v1"] | None = None
    kind: Literal["AlertPolicy"]
    metadata: Metadata
    spec: AlertPolicySpec


SLOSpec.model_rebuild()
SLO.model_rebuild()

KINDS: dict[str, type[_Document]] = {
    "SLO": SLO, "SLI": SLI, "Service": Service, "DataSource": DataSource, "AlertPolicy": AlertPolicy,
    "AlertCondition": AlertCondition, "AlertNotificationTarget": AlertNotificationTarget,
}


# --- openslo/v1alpha (as Sloth reads it) ----------------------------------------------------------------

class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class V1AlphaQuery(_Loose):
    source: str
    queryType: str
    query: str


class V1AlphaRatio(_Loose):
    good: V1AlphaQuery
    total: V1AlphaQuery
    incremental: bool | None = None


class V1AlphaObjective(_Loose):
    displayName: str | None = None
    op: Operator | None = None
    value: float | None = None
    target: float = Field(gt=0, lt=1)
    ratioMetrics: V1AlphaRatio | None = None


class V1AlphaWindow(_Loose):
    count: int = Field(gt=0)
    unit: Literal["Second", "Minute", "Hour", "Day", "Week", "Month", "Quarter", "Year"]
    isRolling: bool = True


class V1AlphaSLOSpec(_Loose):
    service: str
    description: str | None = None
    budgetingMethod: BudgetingMethod
    objectives: list[V1AlphaObjective] = Field(min_length=1)
    timeWindows: list[V1AlphaWindow] = Field(min_length=1)


class V1AlphaSLO(_Model):
    """An `openslo/v1alpha` SLO, the older form Sloth accepts; read-only support."""

    apiVersion: Literal["openslo/v1alpha"]
    kind: Literal["SLO"]
    metadata: Metadata
    spec: V1AlphaSLOSpec

    @property
    def name(self) -> str:
        return self.metadata.name
