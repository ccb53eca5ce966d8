"""Settings of telemetry collection (`telemetry:` in engmetrics.yaml), beside the code that reads them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClockPolicy", "ReceiverSettings", "ScrapeSettings", "TelemetrySettings"]


class ClockPolicy(BaseModel):
    """Thresholds of the clock checks (YAML-loadable; seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_skew_seconds: float = Field(3600.0, gt=0, description="beyond this |skew| a sample is quarantined")
    future_tolerance_seconds: float = Field(60.0, ge=0, description="ts may be this far after received_at")
    timezone_tolerance_seconds: float = Field(300.0, ge=0, lt=1800,
                                              description="how close to whole hours a timezone offset lies")
    skewed_share: float = Field(0.01, ge=0, lt=1, description="'skewed' when more samples than this share "
                                                              "are beyond max_skew_seconds")
    min_samples: int = Field(10, ge=1, description="fewer samples give the verdict 'insufficient_data'")


class ScrapeSettings(BaseModel):
    """`engmetrics telemetry scrape`: targets and interval."""

    model_config = ConfigDict(extra="forbid")


class ReceiverSettings(BaseModel):
    """Push receivers in `engmetrics serve` (remote-write, OTLP): queue, batching and source priority."""

    model_config = ConfigDict(extra="forbid")


class TelemetrySettings(BaseModel):
    """Pull, push and clock checks."""

    model_config = ConfigDict(extra="forbid")
    scrape: ScrapeSettings = Field(default_factory=ScrapeSettings)
    receivers: ReceiverSettings = Field(default_factory=ReceiverSettings)
    clocks: ClockPolicy = Field(default_factory=ClockPolicy)
