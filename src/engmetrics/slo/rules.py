"""Prometheus recording and alerting rules for SLOs, named exactly as Sloth names them.

Every SLO whose indicator is a Prometheus query gets three rule groups, as `sloth generate` writes them, so
Sloth's Grafana dashboards and any rule that reads Sloth's series keep working:

- `sloth-slo-sli-recordings-<id>`: `slo:sli_error:ratio_rate<w>` for every window `w` of the alert table
  (the error ratio query with `{{.window}}` replaced by `w`), then `slo:sli_error:ratio_rate<period>`, the
  mean of the shortest window's ratio over the period (`sum_over_time / count_over_time`);
- `sloth-slo-meta-recordings-<id>`: `slo:objective:ratio`, `slo:error_budget:ratio`,
  `slo:time_period:days`, `slo:current_burn_rate:ratio` (shortest window), `slo:period_burn_rate:ratio`,
  `slo:period_error_budget_remaining:ratio` and `sloth_slo_info`;
- `sloth-slo-alerts-<id>`: one page and one ticket alert (Sloth specs only; a disabled one is left out,
  and the group too when both are), each `(short > f * budget and long > f * budget) or ...` over the
  table's tiers of that severity, where `f` is the tier's burn-rate factor for the SLO's period.

`<id>` is `<service>-<slo>`; every series carries `sloth_id`, `sloth_service`, `sloth_slo` (and
`sloth_window` on the SLI ratios) plus the spec's labels. Numbers are printed as Go prints a float64
(`go_float`), with Sloth's arithmetic: objective ratio `objective / 100`, error budget `(100 - objective) /
100`, so a 99.9 % SLO shows `vector(0.9990000000000001)` and `(14.4 * 0.0009999999999999432)`.

Which specs give rules, and their ids:

- Sloth `prometheus/v1`: `events` becomes `(error)\\n/\\n(total)`, `raw` its `error_ratio_query`; `plugin`
  SLIs are skipped with a warning. The period is `default_period` (30d, as Sloth's default).
- OpenSLO `openslo/v1alpha` (as Sloth reads it): SLO `<metadata.name>-<objective index>`, objective
  `target x 100`, period from `timeWindows[0]`; good/total becomes `1 - good/total` (Sloth's layout).
- OpenSLO `openslo/v1` ratio indicators whose metric sources are of type Prometheus (any case, directly or
  through a `metricSourceRef` DataSource) with a `spec.query`: SLO `<metadata.name>` when the SLO has one
  objective, `<metadata.name>-<objective index>` when it has several; service `spec.service`; objective
  `targetPercent` (or `target x 100`); period the rolling `timeWindow[0].duration`; good/total as for
  v1alpha, bad/total as Sloth events, `raw` as is (`rawType: failure`) or `1 - raw` (`success`); string
  `metadata.labels` with valid label names become labels. Sources of type `engmetrics` are computed by
  engmetrics itself and skipped silently; other sources, threshold indicators, calendar windows and
  Timeslices or RatioTimeslices budgets (time slices are not event ratios) are skipped with a warning.

A query with `{{.window}}` is used as written; a plain selector such as `http_requests_total{code="500"}`
(as OpenSLO's examples write counters) is wrapped as `sum(rate(<selector>[{{.window}}]))`.

The alert table is the `AlertWindows` document an OpenSLO v1 SLO names in its annotation
`engmetrics.dev/alert-windows` (as `slo status` reads it; an unknown name skips the SLO with a warning),
else the `AlertWindows` document of the specs whose `sloPeriod` equals the SLO's period, else
`alerting.DEFAULT_TABLE` with its budget shares scaled to the period (`alerting.choose_table`).

An OpenSLO v1 SLO with versions (several documents of one name, `engmetrics.dev/effective-from`, see
`engmetrics.slo.versions`) gets rules from the version in force `now` only (Prometheus evaluates the rules
from now on, and one name must give one set of groups); a version due later is ignored, and an SLO with no
version in force yet is skipped with a warning.

Deliberate deviations from Sloth (the rest, checked against Sloth's generated examples, is identical
down to the expressions' whitespace):

- `sloth_version` on `sloth_slo_info` is `engmetrics-<version>`; `sloth_mode` keeps Sloth's values;
- everything is one rules document (Sloth writes one per input document);
- the `cmd: examplesgen.sh` label of Sloth's examples is not added;
- any period works without a custom table (Sloth knows 30d and 28d); a factor is `share x period / long
  window` in float64, which for periods other than 30d may differ from Sloth's in the last digits;
- OpenSLO v1 is read (Sloth reads v1alpha only) and, like Sloth's OpenSLO input, gets no alerts;
- a v1alpha query without `{{.window}}` must be a plain selector (wrapped as above), else it is skipped.

>>> from engmetrics.slo.alerting import DEFAULT_TABLE
>>> slo = RuleSlo("api", "availability", 99.9, "(e[{{.window}}])", 30 * 86400, "prometheus/v1")
>>> groups = slo_groups(slo, DEFAULT_TABLE)
>>> [g["name"] for g in groups]
['sloth-slo-sli-recordings-api-availability', 'sloth-slo-meta-recordings-api-availability']
>>> [(r["record"], r["expr"]) for r in groups[0]["rules"]][:2]
[('slo:sli_error:ratio_rate5m', '(e[5m])'), ('slo:sli_error:ratio_rate30m', '(e[30m])')]
>>> groups[1]["rules"][1]["expr"]
'vector(1-0.9990000000000001)'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

import yaml

from .. import __version__
from ..durations import duration_label, duration_seconds
from ..errors import Issue
from ..timeutil import as_utc
from . import openslo, sloth
from .alerting import AlertTable, AlertTier, choose_table
from .loader import SloSet, SpecDocument
from .status import ALERT_WINDOWS
from .versions import SloVersion, in_force, slo_versions

__all__ = ["DEFAULT_PERIOD", "RuleSlo", "RulesResult", "go_float", "prometheus_rules",
           "rules_yaml", "slo_groups"]

DEFAULT_PERIOD = "30d"
WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
_SELECTOR = re.compile(r"\s*([A-Za-z_:][A-Za-z0-9_:]*(\{[^{}]*\})?|\{[^{}]*\})\s*")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_V1ALPHA_UNITS = {"Second": "s", "Minute": "m", "Hour": "h", "Day": "d", "Week": "w"}
_SUMMARY = "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected."
_TITLE = "({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn rate is too fast."


def go_float(value: float) -> str:
    """A float64 as Go's `fmt` prints it (`%v`): shortest round-trip digits, an exponent only below 1e-4
    or from 1e21 on.

    >>> go_float(99.9 / 100), go_float((100 - 99.9) / 100), go_float(6.0), go_float(1e-05), go_float(1e17)
    ('0.9990000000000001', '0.0009999999999999432', '6', '1e-05', '100000000000000000')
    """
    text = repr(float(value))
    number = Decimal(text)
    if -4 <= number.adjusted() < 21:
        return format(number.normalize(), "f")
    return text


@dataclass(frozen=True)
class RuleSlo:
    """One SLO as the rules need it; `objective` is a percentage, `period` in seconds."""

    service: str
    name: str
    objective: float
    error_query: str  # PromQL of the error ratio, `{{.window}}` where the range goes
    period: int
    spec: str  # the spec version it came from, for `sloth_spec`
    labels: Mapping[str, str] = field(default_factory=dict)
    alerting: sloth.SlothAlerting | None = None

    @property
    def id(self) -> str:
        return f"{self.service}-{self.name}"


@dataclass
class RulesResult:
    """The rule groups, and a WARNING for every SLO that got none."""

    groups: list[dict[str, Any]]
    issues: list[Issue]


class _Skip(Exception):
    """Why an SLO gets no rules; `loc` is the field of its document the reason is about."""

    def __init__(self, message: str, *loc: Any) -> None:
        super().__init__(message)
        self.loc = loc


# --- rules of one SLO ---------------------------------------------------------------------------------

def _ids(slo: RuleSlo) -> dict[str, str]:
    return {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _series(slo: RuleSlo, metric: str) -> str:
    """`metric{sloth_id="...", sloth_service="...", sloth_slo="..."}`."""
    return metric + "{" + ", ".join(f"{k}={_quoted(v)}" for k, v in _ids(slo).items()) + "}"


def _record(name: str, expr: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": dict(sorted(labels.items()))}


def _sli_rules(slo: RuleSlo, table: AlertTable) -> list[dict[str, Any]]:
    base = {**slo.labels, **_ids(slo)}
    rules = [_record(f"slo:sli_error:ratio_rate{w}", WINDOW.sub(w, slo.error_query), {**base, "sloth_window": w})
             for w in table.windows]
    period = duration_label(slo.period)
    shortest = _series(slo, f"slo:sli_error:ratio_rate{table.windows[0]}")
    mean = f"sum_over_time({shortest}[{period}])\n/ ignoring (sloth_window)\ncount_over_time({shortest}[{period}])\n"
    rules.append(_record(f"slo:sli_error:ratio_rate{period}", mean, {**base, "sloth_window": period}))
    return rules


def _burn_rate(slo: RuleSlo, window: str) -> str:
    return (f"{_series(slo, f'slo:sli_error:ratio_rate{window}')}\n/ on(sloth_id, sloth_slo, sloth_service) "
            f"group_left\n{_series(slo, 'slo:error_budget:ratio')}\n")


def _meta_rules(slo: RuleSlo, table: AlertTable) -> list[dict[str, Any]]:
    base = {**slo.labels, **_ids(slo)}
    objective = go_float(slo.objective / 100)
    info = {**base, "sloth_mode": "cli-gen-prom" if slo.spec == sloth.VERSION else "cli-gen-openslo",
            "sloth_objective": go_float(slo.objective), "sloth_spec": slo.spec,
            "sloth_version": f"engmetrics-{__version__}"}
    return [
        _record("slo:objective:ratio", f"vector({objective})", base),
        _record("slo:error_budget:ratio", f"vector(1-{objective})", base),
        _record("slo:time_period:days", f"vector({go_float(slo.period / 86400)})", base),
        _record("slo:current_burn_rate:ratio", _burn_rate(slo, table.windows[0]), base),
        _record("slo:period_burn_rate:ratio", _burn_rate(slo, duration_label(slo.period)), base),
        _record("slo:period_error_budget_remaining:ratio",
                f"1 - {_series(slo, 'slo:period_burn_rate:ratio')}", base),
        _record("sloth_slo_info", "vector(1)", info),
    ]


def _alert_expr(slo: RuleSlo, tiers: list[AlertTier]) -> str:
    budget = go_float((100 - slo.objective) / 100)

    def above(window: str, tier: AlertTier) -> str:
        ratio = _series(slo, f"slo:sli_error:ratio_rate{window}")
        return f"max({ratio} > ({go_float(tier.factor(slo.period))} * {budget})) without (sloth_window)"

    pairs = [f"(\n    {above(t.short_window, t)}\n    and\n    {above(t.long_window, t)}\n)" for t in tiers]
    return "\nor\n".join(pairs) + "\n"


def _alert_rules(slo: RuleSlo, table: AlertTable) -> list[dict[str, Any]]:
    alerting = slo.alerting
    if alerting is None:
        return []
    rules = []
    for severity, alert in (("page", alerting.page_alert), ("ticket", alerting.ticket_alert)):
        tiers = [t for t in table.tiers if t.severity == severity]
        if alert.disable or not tiers:
            continue
        labels = {**alerting.labels, **alert.labels, "sloth_severity": severity}
        annotations = {"summary": _SUMMARY, "title": _TITLE.format(severity=severity),
                       **alerting.annotations, **alert.annotations}
        rules.append({"alert": alerting.name, "expr": _alert_expr(slo, tiers),
                      "labels": dict(sorted(labels.items())), "annotations": dict(sorted(annotations.items()))})
    return rules


def slo_groups(slo: RuleSlo, table: AlertTable) -> list[dict[str, Any]]:
    """The SLI recording, meta recording and (when any alert is enabled) alert groups of one SLO."""
    groups = [{"name": f"sloth-slo-sli-recordings-{slo.id}", "rules": _sli_rules(slo, table)},
              {"name": f"sloth-slo-meta-recordings-{slo.id}", "rules": _meta_rules(slo, table)}]
    alerts = _alert_rules(slo, table)
    if alerts:
        groups.append({"name": f"sloth-slo-alerts-{slo.id}", "rules": alerts})
    return groups


# --- error ratio queries ------------------------------------------------------------------------------

def _windowed(query: str) -> str:
    """A query with `{{.window}}` as is; a plain selector as `sum(rate(<selector>[{{.window}}]))`."""
    if WINDOW.search(query):
        return query
    if _SELECTOR.fullmatch(query):
        return f"sum(rate({query.strip()}[{{{{.window}}}}]))"
    raise _Skip(f"query {query.strip()!r} has no {{{{.window}}}} and is not a plain counter selector")


def _events(bad: str, total: str) -> str:
    return f"({bad})\n/\n({total})\n"


def _one_minus_ratio(good: str, total: str) -> str:
    return f"(\n  1 - (\n    (\n      {good}\n    )\n    /\n    (\n      {total}\n    )\n  )\n)"


def _sloth_slo(spec: sloth.SlothSpec, index: int, period: int) -> RuleSlo:
    slo = spec.slos[index]
    sli = slo.sli
    if sli.events is not None:
        query = _events(sli.events.error_query, sli.events.total_query)
    elif sli.raw is not None:
        query = f"({sli.raw.error_ratio_query})"
    else:
        raise _Skip(f"plugin SLI {getattr(sli.plugin, 'id', None)!r}: plugins are not expanded",
                    "slos", index, "sli", "plugin")
    return RuleSlo(spec.service, slo.name, slo.objective, query, period, sloth.VERSION,
                   {**spec.labels, **slo.labels}, slo.alerting)


def _v1alpha_slo(model: openslo.V1AlphaSLO, index: int) -> RuleSlo:
    window = model.spec.timeWindows[0]
    if window.unit not in _V1ALPHA_UNITS:
        raise _Skip(f"a {window.unit} time window has no fixed length", "spec", "timeWindows", 0)
    objective = model.spec.objectives[index]
    ratio = objective.ratioMetrics
    if ratio is None:
        raise _Skip("only ratioMetrics objectives have rules", "spec", "objectives", index)
    for query in (ratio.good, ratio.total):
        if query.source.lower() != "prometheus":
            raise _Skip(f"source {query.source!r} is not prometheus", "spec", "objectives", index)
    return RuleSlo(model.spec.service, f"{model.name}-{index}", objective.target * 100,
                   _one_minus_ratio(_windowed(ratio.good.query), _windowed(ratio.total.query)),
                   duration_seconds(f"{window.count}{_V1ALPHA_UNITS[window.unit]}"), "openslo/v1alpha")


def _reads_engmetrics(sli: openslo.SLISpec) -> bool:
    metrics = [sli.thresholdMetric]
    if sli.ratioMetric is not None:
        ratio = sli.ratioMetric
        metrics += [ratio.good, ratio.bad, ratio.total, ratio.raw]
    return any(isinstance(m.metricSource, openslo.EngmetricsMetricSource) for m in metrics if m is not None)


def _prometheus_query(source: openslo.OtherMetricSource, specs: SloSet) -> str:
    kind = source.type
    if kind is None and source.metricSourceRef is not None:
        found = specs.find(openslo.DataSource, source.metricSourceRef)
        kind = found.model.spec.type if found else None
    if (kind or "").lower() != "prometheus":
        raise _Skip(f"metric source type {kind!r} is not Prometheus", "spec")
    query = source.spec.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _Skip("a Prometheus metric source needs `spec.query`", "spec")
    return _windowed(query)


def _v1_error_query(ratio: openslo.RatioMetric, specs: SloSet) -> str:
    queries = {part: _prometheus_query(metric.metricSource, specs)
               for part in ("good", "bad", "total", "raw") if (metric := getattr(ratio, part)) is not None}
    if "raw" in queries:
        return f"({queries['raw']})" if ratio.rawType == "failure" else f"(1 - ({queries['raw']}))"
    if "bad" in queries:
        return _events(queries["bad"], queries["total"])
    return _one_minus_ratio(queries["good"], queries["total"])


def _v1_name(model: openslo.SLO, index: int) -> str:
    return model.name if len(model.spec.objectives) == 1 else f"{model.name}-{index}"


def _v1_period(model: openslo.SLO) -> int:
    window = model.spec.timeWindow[0]
    if not window.isRolling:
        raise _Skip("a calendar-aligned time window has no Prometheus range; use a rolling one",
                    "spec", "timeWindow", 0)
    try:
        return duration_seconds(window.duration)
    except ValueError as exc:
        raise _Skip(str(exc), "spec", "timeWindow", 0) from None


def _v1_slo(model: openslo.SLO, index: int, specs: SloSet) -> RuleSlo | None:
    sli = specs.indicator(model, index)
    if sli is None or _reads_engmetrics(sli):
        return None  # no indicator is a loader error; engmetrics sources are computed by engmetrics
    if sli.ratioMetric is None:
        raise _Skip("a threshold indicator has no error ratio; use a ratioMetric", "spec")
    method = model.spec.budgetingMethod
    if method != "Occurrences":
        raise _Skip(f"{method} budgets count time slices, not events; use Occurrences", "spec", "budgetingMethod")
    objective = model.spec.objectives[index]
    percent = objective.targetPercent if objective.targetPercent is not None else 100 * (objective.target or 0)
    labels = {k: v for k, v in model.metadata.labels.items() if isinstance(v, str) and _LABEL_NAME.fullmatch(k)}
    return RuleSlo(model.spec.service, _v1_name(model, index), percent, _v1_error_query(sli.ratioMetric, specs),
                   _v1_period(model), openslo.API_VERSION, labels)


# --- every SLO of the specs ---------------------------------------------------------------------------

Convert = Callable[[], RuleSlo | None]


def _converters(doc: SpecDocument, specs: SloSet, period: int) -> list[tuple[str, Convert]]:
    """(SLO name, its conversion) for every SLO of a document."""
    model = doc.model
    if isinstance(model, sloth.SlothSpec):
        return [(s.name, partial(_sloth_slo, model, i, period)) for i, s in enumerate(model.slos)]
    if isinstance(model, openslo.V1AlphaSLO):
        return [(f"{model.name}-{i}", partial(_v1alpha_slo, model, i)) for i in range(len(model.spec.objectives))]
    if isinstance(model, openslo.SLO):
        return [(_v1_name(model, i), partial(_v1_slo, model, i, specs)) for i in range(len(model.spec.objectives))]
    return []


def _version_in_force(doc: SpecDocument, versions: dict[str, list[SloVersion]], now: datetime) -> bool:
    """Whether an OpenSLO v1 document is the version of its SLO in force at `now` (True for other documents);
    raises _Skip for the first version of an SLO none of whose versions is in force yet."""
    if not isinstance(doc.model, openslo.SLO):
        return True
    mine = versions[doc.name]
    current = in_force(mine, now)
    if current is None:
        if doc is mine[0].document:  # one warning per SLO
            assert mine[0].since is not None
            raise _Skip(f"no version is in force yet (the first takes effect {mine[0].since.isoformat()})",
                        "metadata", "annotations")
        return False
    return current.document is doc


def _table(doc: SpecDocument, windows: list[sloth.AlertWindows], period: int) -> AlertTable:
    """The SLO's alert table: the AlertWindows its annotation names, else the one for its period, else the
    default."""
    annotations = doc.model.metadata.annotations if isinstance(doc.model, openslo.SLO) else {}
    wanted = annotations.get(ALERT_WINDOWS)
    try:
        return choose_table(windows, period, None if wanted is None else str(wanted))
    except ValueError as exc:
        raise _Skip(f"{ALERT_WINDOWS}: {exc}", "metadata", "annotations", ALERT_WINDOWS) from None


def prometheus_rules(specs: SloSet, default_period: str = DEFAULT_PERIOD, now: datetime | None = None) -> RulesResult:
    """Rule groups for every SLO with a Prometheus indicator; Sloth specs get `default_period`. Of an SLO with
    versions, the one in force at `now` (default: the current time) gives the rules.

    >>> prometheus_rules(SloSet())
    RulesResult(groups=[], issues=[])
    """
    period = duration_seconds(default_period)
    now = as_utc(now) if now is not None else datetime.now(UTC)
    windows = [d.model for d in specs.of(sloth.AlertWindows)]
    versions = slo_versions(specs)
    groups: list[dict[str, Any]] = []
    issues: list[Issue] = []

    def skipped(doc: SpecDocument, name: str, skip: _Skip) -> None:
        issues.append(Issue("WARNING", "rules", f"{name}: no Prometheus rules: {skip}", file=doc.file,
                            line=doc.line_of(*skip.loc), metric=name))

    for doc in specs.documents:
        try:
            if not _version_in_force(doc, versions, now):
                continue
        except _Skip as skip:
            skipped(doc, doc.name, skip)
            continue
        for name, convert in _converters(doc, specs, period):
            try:
                slo = convert()
                if slo is not None:
                    groups.extend(slo_groups(slo, _table(doc, windows, slo.period)))
            except _Skip as skip:
                skipped(doc, name, skip)
    return RulesResult(groups, issues)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (expressions) as `|` blocks; everything else as PyYAML writes it."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def rules_yaml(groups: list[dict[str, Any]]) -> str:
    """One Prometheus rules document.

    >>> print(rules_yaml([]), end="")
    # Generated by engmetrics slo rules (Sloth's rule names). DO NOT EDIT.
    groups: []
    """
    body = yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False, width=1 << 16, allow_unicode=True)
    return "# Generated by engmetrics slo rules (Sloth's rule names). DO NOT EDIT.\n" + body
