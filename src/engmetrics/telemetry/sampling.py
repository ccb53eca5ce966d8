"""Sampling of high-volume event data with honest, weighted estimates.

A policy keeps each row with a known inclusion probability pi: `head` keeps every row with the same
probability, `stratified` with a probability per value of one column (keep every error, 10 % of the
successes). Whether a row is kept is decided by a keyed 64-bit hash of its key columns, so a replay of the
same rows with the same key keeps the same rows. Kept rows carry `weight` = 1 / pi.

Estimates from a sampled table are Horvitz-Thompson totals under Poisson sampling (each row kept
independently with a known probability): total T = sum w y, Var(T) = sum (1 - pi) / pi^2 y^2
= sum (w^2 - w) y^2, so rows kept with certainty (w = 1) add no variance. A ratio R = T_y / T_x gets the
delta-method variance of the linearised variable z = (y - R x) / T_x. Intervals are normal
(estimate +- z_{1-alpha/2} SE); they are poor when few sampled rows carry the randomness, and each
`Estimate` says so (`reliable`, rule in `MIN_CONTRIBUTORS`).

>>> import pyarrow as pa
>>> events = pa.table({"id": list(range(10_000)), "error": [i % 100 == 0 for i in range(10_000)]})
>>> policy = StratifiedSampling(key=["id"], column="error", strata=[Stratum(value=True, probability=1.0)],
...                             default=0.1)
>>> kept = sample(events, policy, key=b"k")
>>> estimate_sum(kept, "error").value  # every error is kept with weight 1: exact
100.0
>>> round(estimate_count(kept).value, -3)
10000.0

The same terms are available as an Ibis aggregate (`ht_terms_expr`) so the engine does the sums and
`total_estimate` / `ratio_estimate` finish in Python.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy.stats import norm

from engmetrics.errors import InputError

__all__ = [
    "MIN_CONTRIBUTORS",
    "WEIGHT",
    "Estimate",
    "HTTerms",
    "HeadSampling",
    "SamplingPolicies",
    "SamplingPolicy",
    "StratifiedSampling",
    "Stratum",
    "estimate_count",
    "estimate_ratio",
    "estimate_sum",
    "ht_terms",
    "ht_terms_expr",
    "inclusion_probability",
    "key_uniforms",
    "ratio_estimate",
    "sample",
    "terms_from_row",
    "total_estimate",
]

WEIGHT = "weight"
# A normal interval needs enough randomness: at least this many sampled rows with weight > 1 that move the
# estimate (y != 0; for a ratio, also its denominator), unless the estimate has no random part at all.
MIN_CONTRIBUTORS = 30
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


def key_uniforms(table: pa.Table, columns: Sequence[str], key: bytes) -> np.ndarray:
    """A number in [0, 1) per row from a keyed hash of `columns`: the same rows and key give the same numbers.

    >>> t = pa.table({"id": [1, 2, 3]})
    >>> bool((key_uniforms(t, ["id"], b"k") == key_uniforms(t.slice(0), ["id"], b"k")).all())
    True
    """
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(f"sampling key column(s) {missing} not in the table (columns: {table.column_names})")
    base = np.frombuffer(hashlib.blake2b(key, digest_size=8, person=b"em-sample").digest(), np.uint64)
    seeds = _mix(base + np.arange(len(columns), dtype=np.uint64) * _GOLDEN)
    parts = []
    for batch in table.select(list(columns)).to_batches(max_chunksize=_BATCH):
        h = np.zeros(batch.num_rows, np.uint64)
        for i, name in enumerate(columns):
            h = _mix(h * _GOLDEN + _column_hash(batch.column(i), seeds[i], name))
        parts.append(h)
    h = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
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
    """The rows `policy` keeps, with a `weight` column = 1 / inclusion probability."""
    if WEIGHT in table.column_names:
        raise InputError(f"the table already has a {WEIGHT!r} column: it was sampled before; sample raw rows only")
    p = inclusion_probability(table, policy)
    keep = key_uniforms(table, policy.key, key) < p
    return table.filter(pa.array(keep)).append_column(WEIGHT, pa.array(1.0 / p[keep], pa.float64()))


# --- Horvitz-Thompson estimates ---------------------------------------------------------------------------

@dataclass(frozen=True)
class HTTerms:
    """The sums an estimate needs, for a numerator y and a denominator x (x = 1 per row by default).

    total_* = sum w v; var_* = sum (w^2 - w) v v'; *_random / *_certain = sampled rows with v != 0 and
    w > 1 / w = 1; n_random = sampled rows with w > 1.
    """

    n_sampled: int
    n_random: int
    total_y: float
    total_x: float
    var_yy: float
    var_xx: float
    var_xy: float
    y_random: int
    y_certain: int
    x_random: int
    x_certain: int


@dataclass(frozen=True)
class Estimate:
    """An estimate with its normal interval; `reliable` is False when the interval should not be trusted."""

    value: float
    std_error: float
    lower: float
    upper: float
    confidence: float
    n_sampled: int
    reliable: bool


def _numeric(table: pa.Table, column: str | None, what: str) -> np.ndarray:
    if column is None:
        return np.ones(table.num_rows)
    if column not in table.column_names:
        raise InputError(f"{what} column {column!r} not in the sampled table (columns: {table.column_names})")
    values = table.column(column)
    if values.null_count:
        raise InputError(f"{what} column {column!r} has {values.null_count} null value(s); expected numbers")
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
            or pa.types.is_boolean(values.type)):
        raise InputError(f"{what} column {column!r} has type {values.type}; expected numbers or booleans")
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)


def _check_weights(null: int, smallest: float | None) -> None:
    if null:
        raise InputError(f"the {WEIGHT!r} column has {null} null value(s)")
    if smallest is not None and not smallest >= 1.0:
        raise InputError(f"the {WEIGHT!r} column has {smallest} < 1; weights are 1 / inclusion probability >= 1")


def ht_terms(table: pa.Table, y: str | None = None, x: str | None = None) -> HTTerms:
    """The terms of a sampled pyarrow table (with `weight`); y / x None count rows."""
    if WEIGHT not in table.column_names:
        raise InputError(f"the sampled table has no {WEIGHT!r} column (columns: {table.column_names})")
    weights = table.column(WEIGHT)
    w = pc.cast(weights, pa.float64()).to_numpy(zero_copy_only=False)
    _check_weights(weights.null_count, float(w.min()) if w.size else None)
    yv, xv = _numeric(table, y, "numerator"), _numeric(table, x, "denominator")
    v, rnd = w * w - w, w > 1.0
    return HTTerms(
        n_sampled=int(w.size), n_random=int(rnd.sum()), total_y=float(w @ yv), total_x=float(w @ xv),
        var_yy=float(v @ (yv * yv)), var_xx=float(v @ (xv * xv)), var_xy=float(v @ (xv * yv)),
        y_random=int((rnd & (yv != 0)).sum()), y_certain=int((~rnd & (yv != 0)).sum()),
        x_random=int((rnd & (xv != 0)).sum()), x_certain=int((~rnd & (xv != 0)).sum()))


def _as_float(value: ir.Value, name: str | None) -> ir.FloatingValue:
    if name is None:
        return ibis.literal(1.0)
    return value.ifelse(1.0, 0.0) if value.type().is_boolean() else value.cast("float64")


def ht_terms_expr(table: ir.Table, y: str | None = None, x: str | None = None, by: Sequence[str] = ()) -> ir.Table:
    """The terms as one Ibis aggregate (a row per group of `by`); finish each row with `terms_from_row`.

    Portable: sums and counts of `ifelse` only. Null y / x / weight are counted, and refused by
    `terms_from_row`, as `ht_terms` refuses them.
    """
    w = table[WEIGHT].cast("float64")
    yv, xv = _as_float(table[y] if y else None, y), _as_float(table[x] if x else None, x)
    v, rnd = w * w - w, w > 1.0

    def count(cond: ir.BooleanValue) -> ir.IntegerScalar:
        return cond.ifelse(1, 0).sum().coalesce(0)

    nulls = [table[c].isnull() for c in (WEIGHT, y, x) if c]
    return table.aggregate(
        n_sampled=table.count(), n_random=count(rnd), total_y=(w * yv).sum(), total_x=(w * xv).sum(),
        var_yy=(v * yv * yv).sum(), var_xx=(v * xv * xv).sum(), var_xy=(v * xv * yv).sum(),
        y_random=count(rnd & (yv != 0)), y_certain=count(~rnd & (yv != 0)),
        x_random=count(rnd & (xv != 0)), x_certain=count(~rnd & (xv != 0)),
        nulls=count(ibis.or_(*nulls)), min_weight=w.min(), by=list(by))


def terms_from_row(row: Mapping[str, object]) -> HTTerms:
    """`HTTerms` from one row of `ht_terms_expr`'s result (a dict, e.g. from `to_pyarrow().to_pylist()`)."""
    _check_weights(int(row["nulls"] or 0), None if row["min_weight"] is None else float(row["min_weight"]))
    names = HTTerms.__dataclass_fields__
    return HTTerms(**{k: (int if names[k].type == "int" else float)(row[k] or 0) for k in names})


def _reliable(random: int, certain: int, terms: HTTerms) -> bool:
    """No sampled row: nothing to trust. Otherwise a total's interval is trusted when no sampled row is
    random (a census), when at least
    MIN_CONTRIBUTORS random rows move it, or when no random row moves it but certain rows do (stratified
    sampling that keeps every row with y != 0). The last case assumes the design kept every such row: a head
    sample that happened to miss every rare row has no certain rows and is flagged."""
    if terms.n_sampled == 0:
        return False
    return terms.n_random == 0 or random >= MIN_CONTRIBUTORS or (random == 0 and certain > 0)


def _interval(value: float, variance: float, confidence: float, n: int, reliable: bool) -> Estimate:
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    se = float(np.sqrt(max(variance, 0.0)))
    half = float(norm.ppf(0.5 + confidence / 2.0)) * se
    return Estimate(value, se, value - half, value + half, confidence, n, reliable)


def total_estimate(terms: HTTerms, confidence: float = 0.95) -> Estimate:
    """The HT total of y: sum w y, Var = sum (w^2 - w) y^2."""
    return _interval(terms.total_y, terms.var_yy, confidence, terms.n_sampled,
                     _reliable(terms.y_random, terms.y_certain, terms))


def ratio_estimate(terms: HTTerms, confidence: float = 0.95) -> Estimate:
    """R = T_y / T_x with the linearised variance (var_yy - 2 R var_xy + R^2 var_xx) / T_x^2; reliable when
    both totals are. No denominator (T_x = 0) is an error: there is nothing to divide by."""
    if terms.total_x == 0:
        raise InputError("the ratio's denominator totals 0 in the sample: no ratio to estimate")
    r = terms.total_y / terms.total_x
    variance = (terms.var_yy - 2 * r * terms.var_xy + r * r * terms.var_xx) / terms.total_x**2
    reliable = (_reliable(terms.y_random, terms.y_certain, terms)
                and _reliable(terms.x_random, terms.x_certain, terms))
    return _interval(r, variance, confidence, terms.n_sampled, reliable)


def estimate_count(table: pa.Table, confidence: float = 0.95) -> Estimate:
    """The estimated number of rows before sampling."""
    return total_estimate(ht_terms(table), confidence)


def estimate_sum(table: pa.Table, column: str, confidence: float = 0.95) -> Estimate:
    """The estimated sum of `column` (numbers, or booleans as 0 / 1) before sampling."""
    return total_estimate(ht_terms(table, column), confidence)


def estimate_ratio(table: pa.Table, numerator: str, denominator: str | None = None,
                   confidence: float = 0.95) -> Estimate:
    """The estimated ratio sum(numerator) / sum(denominator) before sampling; no denominator = per row
    (e.g. the error ratio sum w error / sum w)."""
    return ratio_estimate(ht_terms(table, numerator, denominator), confidence)
