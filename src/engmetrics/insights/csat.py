"""CSAT against backend performance: correlations by lag, a regression controlling for segment, and hidden
reliability issues (satisfaction drops while the service's SLOs stay green). Semantics in docs/csat.md.

The engine aggregates (`csat_data`); the statistics run here on per segment x service x day tables
(`csat_stats`). `csat_report(store, specs, start=..., end=...)` returns a `CsatReport`; `to_dict()` is the
`engmetrics insights csat --json` contract. `not_readable` leaves datasets out (`sli_events`, `incidents`: the
API passes those its caller may not read).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..slo.status import status_series
from .csat_data import daily_experience, daily_sli, window_stats
from .csat_stats import Fit, correlation, holm, ols

if TYPE_CHECKING:
    from ..slo import SloSet
    from ..store import Store

__all__ = ["OPTIONAL_DATASETS", "SLI_TERM", "CsatOptions", "CsatReport", "correlations", "csat_report",
           "hidden_issues", "regression"]

EXPOSURE = "incident_exposure"
SLI_TERM = "sli_bad:"  # regression terms `sli_bad:NAME`: the SLI's badness (1 - good / total), not the SLI
OPTIONAL_DATASETS = ("incidents", "sli_events")  # the datasets besides csat; the analysis runs without them


@dataclass(frozen=True)
class CsatOptions:
    """Tuning of the analysis (defaults documented in docs/csat.md)."""

    max_lag: int = 3  # days between the SLI day and the response day
    min_days: int = 10  # paired days a correlation needs
    incident_window: timedelta = timedelta(days=1)  # how far back an incident still counts for a response
    recent_days: int = 28  # the recent window of the hidden-issue test, ending at `end`
    min_responses: int = 5  # per window, for the hidden-issue test
    min_drop: float = 0.05  # in satisfaction (0..1): 0.25 points on a 1-5 scale
    alpha: float = 0.05  # after Holm's adjustment over every tested segment x service
    slo_min_events: float = 100
    slo_warning_remaining: float = 0.25


@dataclass
class CsatReport:
    start: date
    end: date  # last day included
    correlations: list[dict[str, Any]] = field(default_factory=list)
    regression: Fit | None = None
    hidden_issues: list[dict[str, Any]] = field(default_factory=list)
    not_readable: list[str] = field(default_factory=list)  # datasets left out (OPTIONAL_DATASETS)

    def to_dict(self) -> dict[str, Any]:
        fit = self.regression
        return {
            "from": self.start, "to": self.end, "correlations": self.correlations,
            "regression": None if fit is None else {
                "coefficients": [{"term": c.term, "estimate": c.estimate, "interval": list(c.interval),
                                  "p_value": c.p_value} for c in fit.coefficients],
                "r_squared": fit.r_squared, "n": fit.n},
            "hidden_issues": self.hidden_issues, "not_readable": self.not_readable,
        }


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _lagged(sli: pd.DataFrame, lag: int) -> pd.DataFrame:
    """`sli` with `day` moved `lag` days later, so it pairs with responses `lag` days after the SLI day."""
    return sli.assign(day=[d + timedelta(days=lag) for d in sli["day"]])


def correlations(daily: pd.DataFrame, sli: pd.DataFrame, options: CsatOptions) -> list[dict[str, Any]]:
    """Per segment x service x indicator x lag: daily mean satisfaction against the SLI badness `lag` days
    earlier (pairs with at least `min_days` days and some variation in both)."""
    out = []
    for lag in range(options.max_lag + 1):
        paired = daily.merge(_lagged(sli, lag), on=["service", "day"])
        for (segment, service, indicator), g in paired.groupby(["segment", "service", "indicator"], sort=True):
            if len(g) < options.min_days:
                continue
            c = correlation(g["badness"].to_numpy(), g["satisfaction"].to_numpy())
            if c is not None:
                out.append({"segment": segment, "service": service, "sli": indicator, "lag_days": lag,
                            "pearson": c.pearson, "pearson_interval": list(c.pearson_interval),
                            "spearman": c.spearman, "n": c.n})
    return sorted(out, key=lambda r: (r["segment"], r["service"], r["sli"], r["lag_days"]))


def regression(daily: pd.DataFrame, sli: pd.DataFrame) -> Fit | None:
    """OLS of daily mean satisfaction (one row per segment x service x day) on the same day's badness of
    each indicator (`sli_bad:NAME`, 1 - good / total: a negative estimate means worse SLI, lower satisfaction),
    the share of responses exposed to an incident (`incident_exposure`, when `daily` has an `exposure` column)
    and segment fixed effects (`segment:NAME`, against the first segment alphabetically). Rows missing an
    indicator are left out; a term that does not vary is dropped."""
    wide = sli.pivot_table(index=["service", "day"], columns="indicator", values="badness").add_prefix(SLI_TERM)
    rows = daily.merge(wide.reset_index(), on=["service", "day"]).dropna()
    if rows.empty:
        return None
    segments = sorted(rows["segment"].unique())
    columns = {c: rows[c].to_numpy(float) for c in sorted(c for c in wide.columns if isinstance(c, str))}
    if "exposure" in rows:
        columns[EXPOSURE] = rows["exposure"].to_numpy(float)
    for s in segments[1:]:
        columns[f"segment:{s}"] = (rows["segment"] == s).to_numpy(float)
    kept = {name: v for name, v in columns.items() if np.ptp(v) > 0}
    terms = ["intercept", *kept]
    x = np.column_stack([np.ones(len(rows)), *kept.values()])
    return ols(rows["satisfaction"].to_numpy(float), x, terms)


def _welch(stats_frame: pd.DataFrame, options: CsatOptions) -> pd.DataFrame:
    """Per segment x service with enough responses in both windows: baseline, recent, drop, one-sided Welch
    p-value (recent below baseline) and its Holm adjustment."""
    wide = stats_frame.pivot_table(index=["segment", "service"], columns="window", values=["n", "mean", "var"])
    if "recent" not in wide["n"] or "baseline" not in wide["n"]:
        return pd.DataFrame()
    w = pd.DataFrame({
        "nb": wide["n"]["baseline"], "mb": wide["mean"]["baseline"], "vb": wide["var"]["baseline"],
        "nr": wide["n"]["recent"], "mr": wide["mean"]["recent"], "vr": wide["var"]["recent"],
    }).dropna()
    w = w[(w.nb >= options.min_responses) & (w.nr >= options.min_responses)].reset_index()
    if w.empty:
        return w
    a = {c: w[c].to_numpy(float) for c in ("nb", "mb", "vb", "nr", "mr", "vr")}
    p = stats.ttest_ind_from_stats(a["mr"], np.sqrt(a["vr"]), a["nr"], a["mb"], np.sqrt(a["vb"]), a["nb"],
                                   equal_var=False, alternative="less").pvalue
    p = np.nan_to_num(np.atleast_1d(np.asarray(p, float)), nan=1.0)  # two constant windows: no evidence
    return w.assign(drop=w.mb - w.mr, p=p, p_adjusted=holm(p))


def _slo_summary(reports: list[Any], service: str) -> list[dict[str, Any]]:
    """The service's SLO objectives over the recent window: worst SLI, least budget left, whether green."""
    by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for report in reports:
        for item in report.items:
            if item["service"] == service:
                by_key.setdefault((item["slo"], item["objective"], item["window"]), []).append(item)
    out = []
    for (slo, objective, window), items in sorted(by_key.items()):
        slis = [i["sli"] for i in items if i["sli"] is not None]
        left = [i["error_budget"]["remaining"] for i in items if i["error_budget"]["remaining"] is not None]
        worst = min(slis) if slis else None
        target = items[-1]["target"]
        green = (worst is None or worst >= target) and (not left or min(left) > 0)
        out.append({"slo": slo, "objective": objective, "window": window, "target": target, "worst_sli": worst,
                    "min_budget_remaining": min(left) if left else None, "green": green})
    return out


def hidden_issues(store: Store, specs: SloSet, start: date, end: date, options: CsatOptions) -> list[dict[str, Any]]:
    """Segment x service pairs whose satisfaction dropped significantly in the last `recent_days` (to `end`,
    inclusive) against the days before, while every SLO of the service stayed green (met its target with
    budget left at every midnight of the recent window and at its end)."""
    split = max(start + timedelta(days=1), end + timedelta(days=1 - options.recent_days))
    tested = _welch(window_stats(store, _midnight(start), _midnight(split), _midnight(end + timedelta(days=1))),
                    options)
    if tested.empty:
        return []
    found = tested[(tested.p_adjusted < options.alpha) & (tested["drop"] >= options.min_drop)]
    if found.empty:
        return []
    instants = [_midnight(split + timedelta(days=k)) for k in range(1, (end - split).days + 2)]
    reports = status_series(store, specs, instants, min_events=options.slo_min_events,
                            warning_remaining=options.slo_warning_remaining)
    out = []
    for r in found.itertuples():
        slos = _slo_summary(reports, str(r.service))
        if all(s["green"] for s in slos):
            out.append({"segment": r.segment, "service": r.service, "baseline": float(r.mb), "recent": float(r.mr),
                        "drop": float(r.drop), "baseline_n": int(r.nb), "recent_n": int(r.nr),
                        "recent_from": split, "p_value": float(r.p), "p_adjusted": float(r.p_adjusted),
                        "slos": slos})
    return sorted(out, key=lambda i: i["p_value"])


def csat_report(store: Store, specs: SloSet, *, start: date, end: date, options: CsatOptions | None = None,
                not_readable: Collection[str] = ()) -> CsatReport:
    """The whole analysis over the responses of days `start`..`end` (inclusive). Datasets in `not_readable`
    are not read: without `incidents` the regression has no `incident_exposure` term; without `sli_events`
    there are no correlations, no regression and no hidden issues (the SLO status behind "green" is computed
    from SLI events)."""
    options = options or CsatOptions()
    if end < start:
        raise ValueError(f"--to ({end}) is before --from ({start})")
    left_out = sorted(d for d in set(not_readable) if d in OPTIONAL_DATASETS)
    daily = daily_experience(store, _midnight(start), _midnight(end + timedelta(days=1)),
                             incident_window=None if "incidents" in left_out else options.incident_window)
    report = CsatReport(start, end, not_readable=left_out)
    if daily.empty or "sli_events" in left_out:
        return report
    sli = daily_sli(store, start - timedelta(days=options.max_lag), end + timedelta(days=1),
                    sorted(daily["service"].unique()))
    if not sli.empty:
        report.correlations = correlations(daily, sli, options)
        report.regression = regression(daily, sli)
    report.hidden_issues = hidden_issues(store, specs, start, end, options)
    return report
