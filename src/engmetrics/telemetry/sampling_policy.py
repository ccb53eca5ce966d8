"""`policies/sampling.yaml`: the sampling policy of each high-volume dataset.

```yaml
datasets:
  request_events:
    type: stratified          # or `head`: every row kept with the same `probability`
    key: event_id             # columns whose keyed hash decides (a replay keeps the same rows)
    column: outcome           # the stratum column
    strata:
      - {value: error, probability: 1.0}   # keep every error
    default: 0.1              # and 10 % of the rest
```

Rules (each broken one is an error naming file and line): the dataset is registered and carries a `weight`
column (where the kept rows' weights are stored: today `request_events`); the key and stratum columns are
columns of the dataset; each stratum value fits its column's type (the catalog's rule for filter
values, `store.registry.value_fits`). A dataset not listed is not sampled.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp()); (root / "policies").mkdir()
>>> _ = (root / SAMPLING_FILE).write_text("datasets:\\n  teams: {type: head, key: team, probability: 0.5}\\n")
>>> try:
...     load_sampling_policies(root)
... except ValidationFailed as exc:
...     print(exc)
policies/sampling.yaml:2: ERROR [sampling] dataset 'teams' has no 'weight' column: its rows cannot carry weights
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import Issue, ValidationFailed
from ..store.datasets import REGISTRY
from ..store.registry import Dataset, value_fits
from ..validation import read_policy
from ..yamlio import locate
from .sampling import HeadSampling, SamplingPolicies, StratifiedSampling
from .sampling_estimate import WEIGHT

__all__ = ["SAMPLING_FILE", "load_sampling_policies"]

SAMPLING_FILE = "policies/sampling.yaml"


def _problems(dataset: Dataset, policy: HeadSampling | StratifiedSampling) -> Iterator[tuple[tuple, str]]:
    """(location under the dataset's entry, message) for each rule `policy` breaks."""
    if WEIGHT not in dataset.column_index:
        yield (), f"dataset {dataset.name!r} has no {WEIGHT!r} column: its rows cannot carry weights"
        return
    for i, column in enumerate(policy.key):
        if column not in dataset.column_index:
            yield ("key", i), f"dataset {dataset.name} has no column {column!r} (key)"
    if isinstance(policy, StratifiedSampling):
        if policy.column not in dataset.column_index:
            yield ("column",), f"dataset {dataset.name} has no column {policy.column!r} (stratum column)"
            return
        kind = dataset.column(policy.column).type
        for i, stratum in enumerate(policy.strata):
            if not value_fits(stratum.value, kind):
                yield ("strata", i, "value"), (f"stratum value {stratum.value!r} does not fit column "
                                               f"{dataset.name}.{policy.column} ({kind})")


def load_sampling_policies(root: Path) -> SamplingPolicies:
    """Read `policies/sampling.yaml` under the workspace `root` (absent: no dataset is sampled); raises
    `ValidationFailed` naming file and line for every problem."""
    path = root / SAMPLING_FILE
    if not path.is_file():
        return SamplingPolicies()
    model, doc, file = read_policy(path, root, SamplingPolicies, "sampling")
    issues: list[Issue] = []
    for name, policy in model.datasets.items():
        dataset = REGISTRY.get(name)
        if dataset is None:
            issues.append(Issue("ERROR", "sampling", f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}",
                                file=file, line=locate(doc, ("datasets", name))))
            continue
        issues += [Issue("ERROR", "sampling", msg, file=file, line=locate(doc, ("datasets", name, *loc)))
                   for loc, msg in _problems(dataset, policy)]
    if issues:
        raise ValidationFailed(issues)
    return model
