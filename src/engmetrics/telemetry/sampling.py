"""Sampling of high-volume event data: policies and the keyed-hash decision of which rows to keep.

A policy keeps each row with a known inclusion probability pi: `head` keeps every row with the same
probability, `stratified` with a probability per value of one column (keep every error, 10 % of the
successes). Whether a row is kept is decided by a keyed 64-bit hash of its key columns, so a replay of the
same rows with the same key keeps the same rows. Kept rows carry `weight` = 1 / pi; the estimates from them
are in `engmetrics.telemetry.sampling_estimate`, the workspace's policy file in `sampling_policy`.

A row sampled before (weight w > 1) is decided by a hash of its key columns *and* w, so sampling a sample
again with the same key is a new, independent stage (see `sample`).

>>> from engmetrics.telemetry.sampling_estimate import estimate_count, estimate_sum
>>> events = pa.table({"id": list(range(10_000)), "error": [i % 100 == 0 for i in range(10_000)]})
>>> policy = StratifiedSampling(key=["id"], column="error", strata=[Stratum(value=True, probability=1.0)],
...                             default=0.1)
>>> kept = sample(events, policy, key=b"k")
>>> estimate_sum(kept, "error").value  # every error is kept with weight 1: exact
100.0
>>> round(estimate_count(kept).value, -3)
10000.0
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engmetrics.errors import InputError

from .sampling_estimate import WEIGHT, weights

__all__ = [
    "HeadSampling",
    "SamplingPolicies",
    "SamplingPolicy",
    "StratifiedSampling",
    "Stratum",
    "inclusion_probability",
    "key_uniforms",
    "sample",
]

_BATCH = 1 << 18  # rows hashed at a time (bounds the per-byte arrays of string keys)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
Probability = Annotated[float, Field(gt=0.0, le=1.0)]


# --- policies ---------------------------------------------------------------------------------------------

class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key: list[str] = Field(min_length=1, description="columns whose keyed hash decides whether a row is kept")

    @field_validator("key", mode="before")
    @classmethod
    def _one_key(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class HeadSampling(_Policy):
    """Keep each row with the same probability."""

    type: Literal["head"] = "head"
    probability: Probability


class Stratum(BaseModel):
    """Rows whose stratum column equals `value` are kept with `probability`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: bool | int | str
    probability: Probability


class StratifiedSampling(_Policy):
    """Keep rows with a probability per value of `column`; rows matching no stratum (or null) use `default`."""

    type: Literal["stratified"] = "stratified"
    column: str
    strata: list[Stratum] = Field(min_length=1)
    default: Probability

    @model_validator(mode="after")
    def _distinct(self) -> StratifiedSampling:
        values = [(type(s.value), s.value) for s in self.strata]
        if len(set(values)) != len(values):
            raise ValueError(f"stratum values must be distinct, got {[s.value for s in self.strata]}")
        return self


SamplingPolicy = Annotated[HeadSampling | StratifiedSampling, Field(discriminator="type")]


class SamplingPolicies(BaseModel):
    """The content of `policies/sampling.yaml`: a policy per dataset name; unlisted datasets are kept whole."""

    model_config = ConfigDict(extra="forbid")
    datasets: dict[str, SamplingPolicy] = Field(default_factory=dict)

    def for_dataset(self, name: str) -> HeadSampling | StratifiedSampling | None:
        return self.datasets.get(name)


# --- keyed hash -------------------------------------------------------------------------------------------

def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _column_hash(arr: pa.Array, seed: np.uint64, name: str) -> np.ndarray:
    if arr.null_count:
        raise InputError(f"sampling key column {name!r} has {arr.null_count} null value(s); keys must be present")
    kind = arr.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) \
            or pa.types.is_large_binary(kind):
        arr = pc.cast(arr, pa.large_binary())
        offsets = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset:arr.offset + len(arr) + 1]
        data = arr.buffers()[2]
        raw = np.frombuffer(data, np.uint8)[offsets[0]:offsets[-1]] if data is not None else np.empty(0, np.uint8)
        lengths = np.diff(offsets)
        local = np.arange(raw.size, dtype=np.int64) - np.repeat(offsets[:-1] - offsets[0], lengths)
        per_byte = _mix(((local.astype(np.uint64) << np.uint64(8)) | raw.astype(np.uint64)) ^ seed)
        sums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(per_byte, dtype=np.uint64)])
        rel = offsets - offsets[0]
        return _mix((sums[rel[1:]] - sums[rel[:-1]]) ^ _mix(lengths.astype(np.uint64) + seed))
    if pa.types.is_boolean(kind):
        arr = pc.cast(arr, pa.int64())
    elif pa.types.is_temporal(kind):
        arr = arr.view(pa.int64() if kind.bit_width == 64 else pa.int32())
    if not pa.types.is_integer(arr.type):
        raise InputError(f"sampling key column {name!r} has type {kind}; expected integers, strings, booleans "
                         "or timestamps")
    values = arr.to_numpy(zero_copy_only=False).astype(np.int64).view(np.uint64)
    return _mix(values ^ seed)


def key_uniforms(table: pa.Table, columns: Sequence[str], key: bytes, prior: np.ndarray | None = None) -> np.ndarray:
    """A number in [0, 1) per row from a keyed hash of `columns`: the same rows and key give the same numbers.
    With `prior` (a weight per row), a row whose prior weight is above 1 also hashes that weight's bits, so
    its number is unrelated to the one it had before that weight was given (rows at 1 keep theirs).

    >>> t = pa.table({"id": [1, 2, 3]})
    >>> bool((key_uniforms(t, ["id"], b"k") == key_uniforms(t.slice(0), ["id"], b"k")).all())
    True
    >>> key_uniforms(t, ["id"], b"k", np.array([1.0, 1.0, 1.0])).tolist() == key_uniforms(t, ["id"], b"k").tolist()
    True
    """
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(f"sampling key column(s) {missing} not in the table (columns: {table.column_names})")
    base = np.frombuffer(hashlib.blake2b(key, digest_size=8, person=b"em-sample").digest(), np.uint64)
    seeds = _mix(base + np.arange(len(columns) + 1, dtype=np.uint64) * _GOLDEN)  # the last one: the weight's
    parts = []
    for batch in table.select(list(columns)).to_batches(max_chunksize=_BATCH):
        h = np.zeros(batch.num_rows, np.uint64)
        for i, name in enumerate(columns):
            h = _mix(h * _GOLDEN + _column_hash(batch.column(i), seeds[i], name))
        parts.append(h)
    h = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    if prior is not None:
        prior = np.ascontiguousarray(prior, np.float64)
        h = np.where(prior > 1.0, _mix(h ^ _mix(prior.view(np.uint64) ^ seeds[-1])), h)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def inclusion_probability(table: pa.Table, policy: HeadSampling | StratifiedSampling) -> np.ndarray:
    """Each row's probability of being kept under `policy`."""
    if isinstance(policy, HeadSampling):
        return np.full(table.num_rows, policy.probability)
    if policy.column not in table.column_names:
        raise InputError(f"stratum column {policy.column!r} not in the table (columns: {table.column_names})")
    column = table.column(policy.column)
    p = np.full(table.num_rows, policy.default)
    for stratum in policy.strata:
        try:
            value = pa.scalar(stratum.value).cast(column.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"stratum value {stratum.value!r} does not fit column {policy.column!r} of type "
                             f"{column.type}") from exc
        match = pc.fill_null(pc.equal(column, value), False).to_numpy(zero_copy_only=False)
        p[match] = stratum.probability
    return p


def sample(table: pa.Table, policy: HeadSampling | StratifiedSampling, key: bytes) -> pa.Table:
    """The rows `policy` keeps, with a `weight` column = 1 / inclusion probability.

    Rows sampled before (upstream, or by an earlier run of this function) carry their own `weight` (empty =
    1: not sampled); a kept row's new weight is the product, 1 / (pi_upstream pi). Two independent Poisson
    stages are one Poisson sample with the product probability, so the estimates stay unbiased. Independent:
    a row with weight w > 1 is decided by the hash of its key *and* w (`key_uniforms`), never by the plain
    key hash that may have chosen it before; along a row's history each choosing stage (pi < 1) raises w,
    so no two stages see the same hash input. Rows at weight 1 keep the plain hash: a raw file sampled
    again keeps the same rows.
    """
    p = inclusion_probability(table, policy)
    prior = weights(table.column(WEIGHT), empty_is_one=True) if WEIGHT in table.column_names else None
    keep = key_uniforms(table, policy.key, key, prior) < p
    weight = 1.0 / p
    if prior is not None:
        weight = prior * weight
        table = table.drop_columns([WEIGHT])
    return table.filter(pa.array(keep)).append_column(WEIGHT, pa.array(weight[keep], pa.float64()))
