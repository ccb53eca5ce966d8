"""Settings of the insights domain (`insights:` in engmetrics.yaml), kept beside the code that reads them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..durations import duration_seconds

__all__ = ["AnomalySettings", "InsightsSettings", "WatchSettings", "interval_seconds"]


def interval_seconds(text: str) -> int:
    """Seconds of a watch interval: a duration such as `15m` or `1h30m` (as SLO windows are written), or zero
    written with one unit (`0s`, `0m`, ...). Raises ValueError for anything else (`0h0m`, `soon`).

    >>> interval_seconds("0s"), interval_seconds("1h30m")
    (0, 5400)
    """
    if text.strip("0") in ("s", "m", "h", "d", "w") and text[0] == "0":
        return 0
    return duration_seconds(text)


class AnomalySettings(BaseModel):
    """How the anomaly scan scores and reports unusual movements (docs/anomalies.md)."""

    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(4.0, gt=0, description="Robust z (median / 1.4826 MAD) at which a point is flagged.")
    max_anomaly_share: float = Field(0.05, gt=0, le=0.49, description="S-H-ESD: at most this share of points.")
    alpha: float = Field(0.01, gt=0, lt=1, description="S-H-ESD significance level.")
    count_alpha: float = Field(0.001, gt=0, lt=0.5, description="Count model: flag tail probabilities below.")
    sparse_median: float = Field(10.0, ge=0, description="Count series with a median below use the count model.")
    shift_penalty: float = Field(3.0, gt=0, description="PELT penalty per change, in sigma^2 * ln(n).")
    shift_threshold: float = Field(3.0, gt=0, description="Smallest level shift reported, in sigmas.")
    shift_min_size: int = Field(3, ge=2, description="Fewest points at a level (PELT minimum segment).")
    min_relative_change: float = Field(0.1, ge=0, description=(
        "Practical significance, every series but SLIs: smallest |value - expected| reported, relative to "
        "|expected| (0.1: 10 %)."))
    sli_min_change: float = Field(0.001, ge=0, le=1, description=(
        "Practical significance, SLI ratios: smallest |value - expected| reported (0.001: 0.1 point)."))
    sli_min_bad_change: float = Field(2.0, ge=0, description=(
        "Practical significance, SLI ratios: smallest change of the bad fraction (1 - ratio) reported, "
        "relative to the smaller of the two (2.0: tripled, or down to a third)."))
    min_points: int = Field(14, ge=5, description="Series with fewer known points are not scanned.")
    lookback_days: int = Field(120, ge=7, description="Days of data scanned before today.")
    indicator_periods: int = Field(26, ge=5, description="Periods of each indicator's cadence scanned.")
    sli_step: Literal["hour", "day"] = Field("day", description="Bucket of SLI ratios.")
    datasets: list[str] | None = Field(None, description="Datasets whose row counts are scanned (null: all).")

    @field_validator("datasets")
    @classmethod
    def _known_datasets(cls, names: list[str] | None) -> list[str] | None:
        from ..store import REGISTRY  # here: the store package is heavier than the settings

        unknown = [n for n in names or [] if n not in REGISTRY or REGISTRY[n].time_column is None]
        if unknown:
            raise ValueError(f"no dataset with a time column called {', '.join(unknown)}; known: "
                             f"{', '.join(d.name for d in REGISTRY.values() if d.time_column)}")
        return names


class WatchSettings(BaseModel):
    """What `engmetrics watch` runs and how often (docs/watch.md)."""

    model_config = ConfigDict(extra="forbid")
    interval: str = Field("1h", description="From the start of one cycle to the next, e.g. 15m, 1h, 1d; 0s: no wait.")
    evaluate: bool = Field(True, description="Evaluate the catalog's indicators and store the results.")
    anomalies: bool = Field(True, description="Scan for anomalies, store the findings and alert new ones.")
    slo_alerts: bool = Field(True, description="Alert SLO burn-rate tiers that are firing.")
    budgets: bool = Field(True, description="Alert cost budget thresholds that are crossed.")
    anomaly_days: int = Field(7, ge=1, description="Alert only findings that end within this many days of now.")

    @field_validator("interval")
    @classmethod
    def _an_interval(cls, text: str) -> str:
        interval_seconds(text)  # its ValueError names the value and the expected form
        return text


class InsightsSettings(BaseModel):
    """Anomaly scan and the scheduled watch."""

    model_config = ConfigDict(extra="forbid")
    anomalies: AnomalySettings = Field(default_factory=AnomalySettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
