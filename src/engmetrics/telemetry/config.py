"""Settings of telemetry collection (`telemetry:` in engmetrics.yaml), beside the code that reads them."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..durations import duration_seconds

__all__ = ["OVERLAP_WINDOW_SECONDS", "ClockPolicy", "ReceiverSettings", "ScrapeSettings", "ScrapeTarget",
           "TelemetrySettings"]

OVERLAP_WINDOW_SECONDS = 60.0  # default of ReceiverSettings.overlap_window_seconds (telemetry.dedup)


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


def _duration(text: str) -> str:
    duration_seconds(text)  # its ValueError names the value and the expected form
    return text


_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
_URL = re.compile(r"^https?://[^/\s]+")


class ScrapeTarget(BaseModel):
    """One endpoint serving Prometheus text or OpenMetrics (docs/telemetry-pull.md).

    Its samples get the target's labels: `job` (default: the name), `instance` (default: the URL's host:port)
    and `labels`, as Prometheus gives the samples it scrapes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="the target's name; its samples' source is scrape:<name>")
    url: str = Field(description="the metrics endpoint, e.g. http://host:9100/metrics")
    labels: dict[str, str] = Field(default_factory=dict, description="labels added to every sample")
    interval: str | None = Field(None, description="time between scrapes (default: scrape.interval)")
    timeout: str | None = Field(None, description="give up a scrape after this long (default: scrape.timeout)")

    @field_validator("name")
    @classmethod
    def _a_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"invalid target name {name!r}: expected letters, digits, _ . : or -")
        return name

    @field_validator("url")
    @classmethod
    def _a_url(cls, url: str) -> str:
        if not _URL.match(url):
            raise ValueError(f"invalid url {url!r}: expected http:// or https:// and a host, "
                             "e.g. http://127.0.0.1:9100/metrics")
        return url

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        bad = [n for n in labels if not _LABEL.match(n) or n.startswith("__")]
        if bad:
            raise ValueError(f"invalid label name(s) {bad}: expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with __")
        return labels

    @field_validator("interval", "timeout")
    @classmethod
    def _a_duration(cls, text: str | None) -> str | None:
        return None if text is None else _duration(text)


class ScrapeSettings(BaseModel):
    """`engmetrics telemetry scrape`: targets, and the interval and timeout of targets that set none."""

    model_config = ConfigDict(extra="forbid")
    interval: str = Field("1m", description="time from one scrape of a target to the next, e.g. 15s, 1m")
    timeout: str = Field("10s", description="give up a scrape after this long; at most the interval")
    targets: list[ScrapeTarget] = Field(default_factory=list)
    max_pending_samples: int = Field(1_000_000, ge=1, description="scraped samples kept for the next run while "
                                     "the store cannot be written (e.g. `engmetrics serve` holds it); beyond "
                                     "this the oldest runs' samples are dropped and counted")

    @field_validator("interval", "timeout")
    @classmethod
    def _a_duration(cls, text: str) -> str:
        return _duration(text)

    @model_validator(mode="after")
    def _consistent(self) -> ScrapeSettings:
        names = [t.name for t in self.targets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"target name(s) {twice} appear more than once; each target needs its own name")
        for t in self.targets:
            interval, timeout = t.interval or self.interval, t.timeout or self.timeout
            if duration_seconds(timeout) > duration_seconds(interval):
                raise ValueError(f"target {t.name}: timeout {timeout} is longer than its interval {interval}")
        return self


class ReceiverSettings(BaseModel):
    """Push receivers in `engmetrics serve` (remote-write, OTLP): queue, batching and source priority."""

    model_config = ConfigDict(extra="forbid")
    max_queued_samples: int = Field(1_000_000, ge=1, description="accepted but not yet stored samples; beyond "
                                    "this a push gets 429 with Retry-After (one request of any size fits an "
                                    "empty queue)")
    max_batch_samples: int = Field(250_000, ge=1, description="the writer stores at most this many samples "
                                   "per transaction (whole requests; one larger request is one batch)")
    batch_linger_ms: float = Field(20.0, ge=0, le=1000, description="once free and holding a request, the "
                                   "writer waits up to this long for more while fewer than max_batch_samples "
                                   "are queued, so concurrent pushes share one commit (0: write at once)")
    retry_after_seconds: int = Field(1, ge=1, description="the Retry-After of a 429 or 503")
    write_tries: int = Field(3, ge=1, description="tries of a batch's transaction (one second apart) before "
                             "its requests are answered 503 and its samples counted as lost")
    max_request_bytes: int = Field(16 * 1024 * 1024, ge=1, description="largest push body as sent (compressed); "
                                   "a longer one is answered 413 before (Content-Length) or while it is read")
    source_priority: list[str] = Field(default_factory=list, description="source prefixes, earlier wins a "
                                       "series both send; unlisted sources rank last")
    overlap_window_seconds: float = Field(OVERLAP_WINDOW_SECONDS, ge=0, description="samples of one series "
                                          "from two sources at most this far apart overlap: only the better "
                                          "source's are kept (0: the same ts only); used by the receivers, "
                                          "scrape and import-prometheus")
    resource_labels: list[str] = Field(default_factory=list, description="OTLP resource attributes kept as "
                                       "labels besides service.name (job) and service.instance.id (instance)")
    checkpoint_mb: int = Field(256, ge=1, description="the served (DuckDB) store moves its write-ahead log into "
                               "the database file once the log holds this many MiB (DuckDB's checkpoint_threshold, "
                               "16 by default): under a push load fewer, larger checkpoints cost less; the log "
                               "is held in memory and replayed after a crash")


class TelemetrySettings(BaseModel):
    """Pull, push and clock checks."""

    model_config = ConfigDict(extra="forbid")
    scrape: ScrapeSettings = Field(default_factory=ScrapeSettings)
    receivers: ReceiverSettings = Field(default_factory=ReceiverSettings)
    clocks: ClockPolicy = Field(default_factory=ClockPolicy)
