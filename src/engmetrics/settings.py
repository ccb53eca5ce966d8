"""Workspace settings: command-line option > environment > `engmetrics.yaml` > defaults.

>>> s = load_settings(workspace=Path("/tmp/ws-example"))
>>> s.store_url
'duckdb:///tmp/ws-example/.engmetrics/store.duckdb'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import InputError
from .insights.config import InsightsSettings
from .telemetry.config import TelemetrySettings
from .yamlio import LineDict, load_all, locate

__all__ = ["SETTINGS_FILE", "CommitmentSettings", "CostSettings", "DeliverySettings", "DurationEvents",
           "GovernanceSettings", "IdleRule", "IdleSettings", "IncidentSettings", "NotifySettings", "PrivacySettings",
           "Settings", "SloSettings", "Webhook", "load_settings"]

SETTINGS_FILE = "engmetrics.yaml"
ENV_PREFIX = "ENGMETRICS_"


class PrivacySettings(BaseModel):
    """How individual-level data may be shown (see DESIGN.md, principle 4)."""

    model_config = ConfigDict(extra="forbid")
    min_group_size: int = Field(5, ge=2, description="smallest group an aggregate about people may cover")
    individual_delay_days: int = Field(7, ge=0, description="individual data is shown only when this old")


class GovernanceSettings(BaseModel):
    """Discrepancies between indicators and how teams perceive them (`engmetrics governance discrepancies`)."""

    model_config = ConfigDict(extra="forbid")
    discrepancy_threshold: float = Field(0.5, gt=0, le=1, description="a discrepancy: |indicator health - "
                                         "perception| at least this (both on a 0-1 scale)")
    discrepancy_min_coverage: float = Field(0.5, gt=0, le=1, description="share of an indicator's periods inside "
                                            "a survey period that need data before it is compared")
    perception_scale: tuple[float, float] = Field((1.0, 5.0), description="lowest and highest score of the "
                                                  "perception survey (a 1-5 Likert mean by default)")

    @field_validator("perception_scale")
    @classmethod
    def _scale_ordered(cls, scale: tuple[float, float]) -> tuple[float, float]:
        if scale[0] >= scale[1]:
            raise ValueError(f"the lowest score {scale[0]:g} must be below the highest {scale[1]:g}")
        return scale


class SloSettings(BaseModel):
    """Defaults for SLO status (see docs/slo.md)."""

    model_config = ConfigDict(extra="forbid")
    min_events: float = Field(100, ge=0, description="below this many events in a window: insufficient_data")
    warning_remaining: float = Field(0.25, ge=0, le=1, description="remaining budget share below which: warning")


_SEVERITIES = {
    "sev0": 1, "sev1": 1, "sev2": 2, "sev3": 3, "sev4": 4, "sev5": 5,
    "p1": 1, "p2": 2, "p3": 3, "p4": 4, "p5": 5,
    "critical": 1, "major": 2, "high": 2, "error": 3, "medium": 3, "moderate": 3, "warning": 4, "minor": 4,
    "low": 4, "info": 5, "informational": 5,
}
_LIFECYCLE = {  # each duration: first non-null column of `start`, to first non-null column of `end`
    "ttd": {"start": ["impact_started_at", "declared_at"], "end": ["detected_at", "declared_at"]},
    "tta": {"start": ["detected_at", "declared_at"], "end": ["acknowledged_at"]},
    "ttm": {"start": ["impact_started_at", "declared_at"], "end": ["mitigated_at", "resolved_at"]},
    "ttr": {"start": ["impact_started_at", "declared_at"], "end": ["resolved_at"]},
}


class DurationEvents(BaseModel):
    """Which `incidents` timestamps start and end one duration: the first non-null column of each list."""

    model_config = ConfigDict(extra="forbid")
    start: list[str] = Field(min_length=1)
    end: list[str] = Field(min_length=1)


class IncidentSettings(BaseModel):
    """How incidents, alerts and on-call are read and judged (see docs/incidents.md)."""

    model_config = ConfigDict(extra="forbid")
    severity_map: dict[str, int] = Field(default_factory=lambda: dict(_SEVERITIES),
                                         description="vendor severity or priority name (lower case) -> 1-5")
    durations: dict[str, DurationEvents] = Field(
        default_factory=lambda: {k: DurationEvents(**v) for k, v in _LIFECYCLE.items()},
        description="ttd, tta, ttm, ttr: start and end columns, first non-null wins")
    business_hours: tuple[int, int] = Field((8, 18), description="local hours [start, end) of the working day")
    sleep_hours: tuple[int, int] = Field((22, 8), description="local hours [start, end) counted as sleep")
    flapping_minutes: int = Field(30, ge=1, description="an alert re-fired within this many minutes flaps")
    deploy_window_hours: float = Field(2.0, gt=0, description="a deploy this long before impact may have caused it")


class DeliverySettings(BaseModel):
    """How changes, reviews and deployments are read and judged (see docs/delivery.md)."""

    model_config = ConfigDict(extra="forbid")
    bots: list[str] = Field(default_factory=lambda: ["*[bot]", "dependabot*", "renovate*", "github-actions*"],
                            description="author or reviewer names (glob, case-insensitive): flagged is_bot at "
                            "ingest, left out of every delivery metric")
    production_environments: list[str] = Field(default_factory=lambda: ["production"],
                                               description="deployment environments that count as production")
    hotfix_patterns: list[str] = Field(default_factory=lambda: ["hotfix/*", "*hotfix*"],
                                       description="deployment refs (glob, case-insensitive) marking a hotfix "
                                       "deployment (GitHub and GitLab connectors)")
    lead_time_start: Literal["first_commit_at", "created_at", "ready_at"] = Field(
        "first_commit_at", description="changes column starting the lead time (first_commit_at, created_at or "
        "ready_at); falls back to created_at")
    work_hours: tuple[int, int] = Field((9, 17), description="default local working hours [start, end)")
    work_days: str = Field("Mon-Fri", description="default working days")


class IdleRule(BaseModel):
    """Overrides for one resource type; a field left out keeps the default of `IdleSettings`."""

    model_config = ConfigDict(extra="forbid")
    idle_cpu_p95: float | None = Field(None, ge=0, le=1, description="idle when p95 CPU <= this")
    rightsize_cpu_p95: float | None = Field(None, ge=0, le=1, description="rightsize when p95 CPU < this ...")
    rightsize_mem_p95: float | None = Field(None, ge=0, le=1, description="... and p95 memory < this")
    rightsize_savings: float | None = Field(None, ge=0, le=1, description="share of the cost rightsizing saves")
    min_samples_per_day: float | None = Field(None, gt=0, description="fewer samples a day on average: no verdict")


class IdleSettings(BaseModel):
    """Sustained-utilisation rules (the `cost.idle` settings; see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    lookback_days: int = Field(14, ge=1, le=366, description="days of utilisation judged")
    idle_cpu_p95: float = Field(0.05, ge=0, le=1, description="idle when p95 CPU <= this (fraction)")
    rightsize_cpu_p95: float = Field(0.40, ge=0, le=1, description="rightsize when p95 CPU < this ...")
    rightsize_mem_p95: float = Field(0.50, ge=0, le=1, description="... and p95 memory < this")
    rightsize_savings: float = Field(0.5, ge=0, le=1, description="share of the monthly cost rightsizing saves")
    min_samples_per_day: float = Field(1.0, gt=0, description="fewer samples a day on average: no verdict")
    by_resource_type: dict[str, IdleRule] = Field(default_factory=dict,
                                                  description="overrides per utilization.resource_type")


class CommitmentSettings(BaseModel):
    """Defaults of `engmetrics cost commitments` (the `cost.commitments` settings section)."""

    model_config = ConfigDict(extra="forbid")

    lookback_days: int = Field(30, ge=1, le=366, description="days of spend judged")
    discount: float = Field(0.30, ge=0, lt=1,
                            description="commitment discount against on-demand (a typical 1-year no-upfront plan)")
    discounts: dict[str, Annotated[float, Field(ge=0, lt=1)]] = Field(
        default_factory=dict, description="a provider's own discount, by ProviderName")
    services: list[str] | None = Field(None, description="ServiceName values eligible for the recommendation")


class CostSettings(BaseModel):
    """Cloud cost settings (see docs/cost.md)."""

    model_config = ConfigDict(extra="forbid")
    idle: IdleSettings = Field(default_factory=IdleSettings)
    commitments: CommitmentSettings = Field(default_factory=CommitmentSettings)


class Webhook(BaseModel):
    """One receiver: a name, its URL (inline or from an environment variable) and the kinds it wants."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="shown in logs, results and the dedup state (never the URL)")
    url: SecretStr | None = Field(None, description="the webhook URL (a secret: prefer url_env)")
    url_env: str | None = Field(None, description="environment variable holding the webhook URL")
    kinds: list[str] = Field(default_factory=list, description="notification kinds to send; empty: all")

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _check_url(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Webhook:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        return self

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def resolve_url(self) -> str:
        """The URL; raises ValueError when `url_env` is unset or holds something other than http(s)."""
        if self.url is not None:
            return self.url.get_secret_value()
        value = os.environ.get(self.url_env or "", "")
        if not value:
            raise ValueError(f"environment variable {self.url_env} is not set")
        _check_url(value)
        return value


class NotifySettings(BaseModel):
    """Where alerts go and how hard delivery tries (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    webhooks: list[Webhook] = Field(default_factory=list, description="receivers of alerts")
    timeout_seconds: float = Field(5.0, gt=0, description="per attempt")
    max_attempts: int = Field(3, ge=1, le=10, description="attempts per delivery, the first included")
    backoff_seconds: float = Field(1.0, ge=0, description="wait before the second attempt; doubles after")

    @model_validator(mode="after")
    def _unique_names(self) -> NotifySettings:
        names = [w.name for w in self.webhooks]
        if len(names) != len(set(names)):
            raise ValueError("webhook names must be unique")
        return self


def _check_url(url: str) -> None:
    """Refuse (ValueError) anything but an http(s) URL with a host and, when it names one, a port from 1 to 65535.
    The messages never contain the URL (a secret)."""
    try:
        parsed = urlparse(url)
        port = parsed.port  # ValueError when not a number or out of range
    except ValueError:
        raise ValueError("a webhook URL must be http:// or https:// with a host and a port from 1 to 65535") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("a webhook URL must be http:// or https:// with a host")
    if port == 0:
        raise ValueError("a webhook URL's port must be from 1 to 65535")


class Settings(BaseSettings):
    """Resolved settings of one workspace."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    workspace: Path = Field(default_factory=Path.cwd, description="the workspace directory")
    name: str = Field("engmetrics", description="organisation or workspace name shown in reports")
    timezone: str = Field("UTC", description="default IANA time zone for calendars and reports")
    store_url: str | None = Field(None, description="Ibis URL of the store; default the embedded DuckDB")
    store_lock_timeout: float = Field(30.0, ge=0, description="seconds to wait for another writer")
    pseudonym_key_file: Path | None = Field(None, description="keyed-hash secret for person columns")
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    slo: SloSettings = Field(default_factory=SloSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    cost: CostSettings = Field(default_factory=CostSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    insights: InsightsSettings = Field(default_factory=InsightsSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _YamlSource(settings_cls)

    def model_post_init(self, __context: Any) -> None:
        self.workspace = self.workspace.resolve()
        if self.store_url is None:
            self.store_url = f"duckdb://{self.state_dir / 'store.duckdb'}"
        elif self.store_url.startswith("duckdb://"):
            path = self.store_url.removeprefix("duckdb://")
            if path not in ("", ":memory:") and not path.startswith("/"):
                self.store_url = f"duckdb://{self.workspace / path}"  # relative to the workspace
        if self.pseudonym_key_file is None:
            self.pseudonym_key_file = self.state_dir / "pseudonym.key"
        elif not self.pseudonym_key_file.is_absolute():
            self.pseudonym_key_file = self.workspace / self.pseudonym_key_file

    @property
    def state_dir(self) -> Path:
        """`.engmetrics/`: the embedded store and secrets (git-ignored)."""
        return self.workspace / ".engmetrics"


class _YamlSource(PydanticBaseSettingsSource):
    """Reads `engmetrics.yaml` in the workspace chosen by option or environment."""

    current_file: Path | None = None
    current_doc: LineDict | None = None

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        doc = _YamlSource.current_doc
        return dict(doc) if isinstance(doc, dict) else {}


def _workspace_from(option: Path | None) -> Path:
    if option is not None:
        return Path(option)
    return Path(os.environ.get(f"{ENV_PREFIX}WORKSPACE") or Path.cwd())


def load_settings(workspace: Path | None = None, **overrides: Any) -> Settings:
    """Settings for `workspace` (option, else `ENGMETRICS_WORKSPACE`, else the current directory).

    `overrides` are command-line options; `None` values are ignored. Errors name file and line.
    """
    root = _workspace_from(workspace)
    path = root / SETTINGS_FILE
    doc = None
    if path.is_file():
        docs = load_all(path)
        doc = docs[0] if docs else None
        if doc is not None and not isinstance(doc, dict):
            raise InputError("expected a mapping of settings", file=path, line=getattr(doc, "line", 1))
    _YamlSource.current_doc = doc
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(workspace=root, **given)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        name = ".".join(str(p) for p in loc)
        if loc and loc[0] in given:
            raise InputError(f"option {name}: {err['msg']}") from exc
        env = ENV_PREFIX + "__".join(str(p) for p in loc).upper()
        if env in os.environ or (loc and f"{ENV_PREFIX}{str(loc[0]).upper()}" in os.environ):
            raise InputError(f"environment {env}: {err['msg']}") from exc
        if isinstance(doc, dict):
            raise InputError(f"setting {name}: {err['msg']}", file=path, line=locate(doc, loc)) from exc
        raise InputError(f"setting {name}: {err['msg']}") from exc
    finally:
        _YamlSource.current_doc = None
