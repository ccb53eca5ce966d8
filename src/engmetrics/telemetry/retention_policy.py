"""`policies/retention.yaml`: how long each dataset keeps raw rows, and the rollups that outlive them.

```yaml
storage_cost_per_gb_month: 0.023     # currency per GB (10^9 bytes) per month, for `retention plan`
datasets:
  telemetry_samples:
    raw: 14d                          # raw rows younger than this are kept as they are
    rollups:                          # finest first; each built from the one before (or raw)
      - {resolution: 5m, keep: 90d}
      - {resolution: 1h, keep: 2y}
  sli_events: {raw: 30d, rollups: [{resolution: 1h, keep: 400d}]}
  alerts: {raw: 400d}                 # any dataset with a time column: delete rows older than `raw`
```

Rules (each broken one is an error naming file and line): the dataset is registered and has a time column;
rollups only for `telemetry_samples` and `sli_events`; resolutions grow, each a whole multiple of the one
before and dividing a day (`1d` at most): legal holds keep whole days, so every epoch-aligned bucket must lie
within one day, or a held day inside a bucket would be counted beside the bucket holding its neighbours;
`keep` grows and exceeds `raw`. Durations use `s m h d w y` (`y` = 365 days). `tier_problems` checks the
tier rules of a policy built in code too (`run_retention` refuses a policy that breaks them).

>>> import tempfile
>>> root = Path(tempfile.mkdtemp()); (root / "policies").mkdir()
>>> _ = (root / RETENTION_FILE).write_text("datasets:\\n  teams: {raw: 30d}\\n")
>>> try:
...     load_retention_policy(root)
... except ValidationFailed as exc:
...     print(exc)
policies/retention.yaml:2: ERROR [retention] dataset 'teams' has no time column: retention cannot date its rows
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..durations import duration_seconds
from ..errors import Issue, ValidationFailed
from ..store.datasets import REGISTRY
from ..validation import read_policy
from ..yamlio import locate

__all__ = ["RETENTION_FILE", "ROLLUP_DATASETS", "DatasetRetention", "RetentionPolicy", "Rollup",
           "load_retention_policy", "tier_problems"]

RETENTION_FILE = "policies/retention.yaml"
ROLLUP_DATASETS = ("telemetry_samples", "sli_events")
_DAY = 86400


def _seconds(value: str) -> str:
    duration_seconds(value)  # raises ValueError with the expected form
    return value


class Rollup(BaseModel):
    """One rollup tier: buckets of `resolution`, kept until they are `keep` old."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    resolution: str
    keep: str

    _check = field_validator("resolution", "keep")(_seconds)

    @property
    def width(self) -> int:
        return duration_seconds(self.resolution)

    @property
    def keep_seconds(self) -> int:
        return duration_seconds(self.keep)


class DatasetRetention(BaseModel):
    """Raw retention of one dataset and its rollup tiers, finest first."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    raw: str
    rollups: list[Rollup] = Field(default_factory=list)

    _check = field_validator("raw")(_seconds)

    @property
    def raw_seconds(self) -> int:
        return duration_seconds(self.raw)


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    storage_cost_per_gb_month: float = Field(0.0, ge=0)
    datasets: dict[str, DatasetRetention] = Field(default_factory=dict)


@dataclass(frozen=True)
class RetentionPolicy:
    """The workspace's retention policy; `datasets` in the file's order (empty: keep everything)."""

    datasets: dict[str, DatasetRetention]
    storage_cost_per_gb_month: float = 0.0
    source: str = "built-in"


def tier_problems(name: str, spec: DatasetRetention) -> list[tuple[tuple, str]]:
    """(location in the document, message) for each broken tier rule of one dataset."""
    out: list[tuple[tuple, str]] = []
    if spec.rollups and name not in ROLLUP_DATASETS:
        out.append((("datasets", name, "rollups"), f"rollups are supported for {', '.join(ROLLUP_DATASETS)} "
                                                   f"only, not {name!r}"))
    previous_width, previous_keep = None, spec.raw_seconds
    for i, tier in enumerate(spec.rollups):
        where = ("datasets", name, "rollups", i)
        w = tier.width
        if _DAY % w:
            out.append((where, f"resolution {tier.resolution} must divide a day (1d at most): legal holds keep "
                               "whole days, so a bucket must lie within one day"))
        if previous_width is not None and (w <= previous_width or w % previous_width):
            out.append((where, f"resolution {tier.resolution} must be a larger whole multiple of the previous "
                               f"tier's {spec.rollups[i - 1].resolution}"))
        if tier.keep_seconds <= previous_keep:
            before = spec.rollups[i - 1].keep if i else f"raw {spec.raw}"
            out.append((where, f"keep {tier.keep} must be longer than {before}"))
        previous_width, previous_keep = w, tier.keep_seconds
    return out


def load_retention_policy(root: Path) -> RetentionPolicy:
    """Read `policies/retention.yaml` under the workspace `root` (absent: an empty policy, nothing deleted);
    raises `ValidationFailed` naming file and line for every problem."""
    path = root / RETENTION_FILE
    if not path.is_file():
        return RetentionPolicy({})
    model, doc, file = read_policy(path, root, _Document, "retention")
    issues: list[Issue] = []
    for name, spec in model.datasets.items():
        at = ("datasets", name)
        dataset = REGISTRY.get(name)
        if dataset is None:
            issues.append(Issue("ERROR", "retention", f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}",
                                file=file, line=locate(doc, at)))
        elif dataset.time_column is None:
            issues.append(Issue("ERROR", "retention", f"dataset {name!r} has no time column: retention cannot "
                                "date its rows", file=file, line=locate(doc, at)))
        else:
            issues += [Issue("ERROR", "retention", msg, file=file, line=locate(doc, loc))
                       for loc, msg in tier_problems(name, spec)]
    if issues:
        raise ValidationFailed(issues)
    return RetentionPolicy(dict(model.datasets), model.storage_cost_per_gb_month, file)
