"""Settings of the insights domain (`insights:` in engmetrics.yaml), kept beside the code that reads them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AnomalySettings", "InsightsSettings", "WatchSettings"]


class AnomalySettings(BaseModel):
    """How the anomaly scan scores and reports unusual movements."""

    model_config = ConfigDict(extra="forbid")


class WatchSettings(BaseModel):
    """What `engmetrics watch` runs and how often."""

    model_config = ConfigDict(extra="forbid")


class InsightsSettings(BaseModel):
    """Anomaly scan and the scheduled watch."""

    model_config = ConfigDict(extra="forbid")
    anomalies: AnomalySettings = Field(default_factory=AnomalySettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
