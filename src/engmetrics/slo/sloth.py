"""Pydantic models of Sloth specs: `version: prometheus/v1` service specs and `AlertWindows` files.

>>> spec = SlothSpec.model_validate({"version": "prometheus/v1", "service": "api", "slos": [
...     {"name": "availability", "objective": 99.9,
...      "sli": {"events": {"error_query": "e[{{.window}}]", "total_query": "t[{{.window}}]"}}}]})
>>> spec.slos[0].target
0.999
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["VERSION", "AlertWindows", "SlothAlert", "SlothAlerting", "SlothSLI", "SlothSLO", "SlothSpec"]

VERSION = "prometheus/v1"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Window = str  # Prometheus duration, e.g. 5m, 1h30m
WINDOW_PATTERN = r"^([0-9]+(ms|s|m|h|d|w|y))+$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlothEvents(_Model):
    error_query: str = Field(min_length=1)
    total_query: str = Field(min_length=1)


class SlothRaw(_Model):
    error_ratio_query: str = Field(min_length=1)


class SlothPlugin(_Model):
    id: str
    options: dict[str, Any] = Field(default_factory=dict)


class SlothSLI(_Model):
    events: SlothEvents | None = None
    raw: SlothRaw | None = None
    plugin: SlothPlugin | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SlothSLI:
        if sum(x is not None for x in (self.events, self.raw, self.plugin)) != 1:
            raise ValueError("an SLI needs exactly one of `events`, `raw` and `plugin`")
        return self


class SlothAlert(_Model):
    disable: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class SlothAlerting(_Model):
    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page_alert: SlothAlert = Field(default_factory=SlothAlert)
    ticket_alert: SlothAlert = Field(default_factory=SlothAlert)

    @model_validator(mode="after")
    def _named_when_enabled(self) -> SlothAlerting:
        if self.name is None and not (self.page_alert.disable and self.ticket_alert.disable):
            raise ValueError("`name` is required unless both page_alert and ticket_alert are disabled")
        return self


class SlothSLO(_Model):
    """One SLO; `objective` is a percentage (0-100], `target` the same as a fraction."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    objective: float = Field(gt=0, le=100)
    labels: dict[str, str] = Field(default_factory=dict)
    sli: SlothSLI
    alerting: SlothAlerting = Field(default_factory=lambda: SlothAlerting(
        page_alert=SlothAlert(disable=True), ticket_alert=SlothAlert(disable=True)))

    @property
    def target(self) -> float:
        return round(self.objective / 100, 12)


class SlothSpec(_Model):
    """A Sloth service spec: one service, several SLOs."""

    version: Literal["prometheus/v1"]
    service: str = Field(pattern=NAME_PATTERN)
    labels: dict[str, str] = Field(default_factory=dict)
    slos: list[SlothSLO] = Field(min_length=1)

    @property
    def name(self) -> str:
        return self.service


class WindowPair(_Model):
    errorBudgetPercent: float = Field(gt=0, le=100)
    shortWindow: str = Field(pattern=WINDOW_PATTERN)
    longWindow: str = Field(pattern=WINDOW_PATTERN)


class WindowTier(_Model):
    quick: WindowPair
    slow: WindowPair


class AlertWindowsSpec(_Model):
    sloPeriod: str = Field(pattern=WINDOW_PATTERN)
    page: WindowTier
    ticket: WindowTier


class AlertWindows(_Model):
    """Sloth's custom multi-window multi-burn-rate table (`apiVersion: sloth.slok.dev/v1`)."""

    apiVersion: Literal["sloth.slok.dev/v1"]
    kind: Literal["AlertWindows"]
    spec: AlertWindowsSpec

    @property
    def name(self) -> str:
        return f"alert-windows-{self.spec.sloPeriod}"
