"""Horvitz-Thompson estimates from sampled rows (each carrying `weight` = 1 / inclusion probability).

Estimates are HT totals under Poisson sampling (each row kept independently with a known probability):
total T = sum w y, Var(T) = sum (1 - pi) / pi^2 y^2 = sum (w^2 - w) y^2, so rows kept with certainty (w = 1)
add no variance. A ratio R = T_y / T_x gets the delta-method variance of the linearised variable
z = (y - R x) / T_x. Intervals are normal (estimate +- z_{1-alpha/2} SE); they are poor when few sampled rows
carry the randomness, and each `Estimate` says so (`reliable`, rule in `MIN_CONTRIBUTORS`).

>>> import pyarrow as pa
>>> kept = pa.table({"weight": [1.0, 2.0, 4.0, 4.0], "error": [True, False, False, True]})
>>> estimate_count(kept).value, estimate_sum(kept, "error").value, estimate_ratio(kept, "error").value
(11.0, 5.0, 0.45454545454545453)

The same terms are available as Ibis aggregates (`ht_aggregates`, `ht_terms_expr`) so the engine does the
sums and `total_estimate` / `ratio_estimate` finish in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engmetrics.errors import InputError
from engmetrics.store.datasets import REGISTRY

__all__ = [
    "MIN_CONTRIBUTORS",
    "WEIGHT",
    "Estimate",
    "HTTerms",
    "WeightError",
    "estimate_count",
    "estimate_ratio",
    "estimate_sum",
    "ht_aggregates",
    "ht_terms",
    "ht_terms_expr",
    "ratio_estimate",
    "sampled_dataset",
    "terms_from_row",
    "total_estimate",
    "weights",
]

WEIGHT = "weight"
# A normal interval needs enough randomness: at least this many sampled rows with weight > 1 that move the
# estimate (y != 0; for a ratio, also its denominator), unless the estimate has no random part at all.
MIN_CONTRIBUTORS = 30
_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"  # a weight written as text (CSV)


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


def sampled_dataset(name: str) -> bool:
    """Whether the registered dataset `name` holds sampled rows (it has a `weight` column): its counts, sums
    and ratios are Horvitz-Thompson estimates."""
    dataset = REGISTRY.get(name)
    return dataset is not None and WEIGHT in dataset.column_index


class WeightError(InputError):
    """A bad `weight`; `row` is the 0-based row of the first bad value (None when not known, e.g. from an
    aggregate), so a caller reading a file can name its line."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


def _below_one(value: float, row: int | None = None) -> WeightError:
    what = "is below 1" if value < 1.0 else "is not a number"  # NaN
    return WeightError(f"{WEIGHT} {value} {what} (weights are 1 / inclusion probability >= 1)", row)


def weights(column: pa.ChunkedArray | pa.Array, *, empty_is_one: bool) -> np.ndarray:
    """The float64 weights of `column`: numbers, or numbers as text (a CSV file's), each >= 1; an empty
    (null) weight reads as 1 when `empty_is_one` (rows not sampled upstream), else is refused. The one
    check of weights: a `WeightError` names the first bad row.

    >>> weights(pa.array(["2", None, "1.5"]), empty_is_one=True).tolist()
    [2.0, 1.0, 1.5]
    >>> try:
    ...     weights(pa.array([1.0, 0.5]), empty_is_one=True)
    ... except WeightError as exc:
    ...     print(exc.row, exc)
    1 weight 0.5 is below 1 (weights are 1 / inclusion probability >= 1)
    """
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        bad = pc.invert(pc.fill_null(pc.match_substring_regex(column, _NUMBER), True))
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise WeightError(f"{WEIGHT} {column[row].as_py()!r} is not a number (1 / inclusion probability, "
                              ">= 1)", row)
    try:
        values = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise WeightError(f"the {WEIGHT!r} column has type {column.type}; expected numbers >= 1") from None
    if values.null_count and not empty_is_one:
        raise WeightError(f"the {WEIGHT!r} column has {values.null_count} null value(s)",
                          pc.index(pc.is_null(values), True).as_py())
    w = pc.fill_null(values, 1.0).to_numpy(zero_copy_only=False)
    bad = ~(w >= 1.0)  # NaN too
    if bad.any():
        row = int(bad.argmax())
        raise _below_one(float(w[row]), row)
    return w


def ht_terms(table: pa.Table, y: str | None = None, x: str | None = None) -> HTTerms:
    """The terms of a sampled pyarrow table (with `weight`); y / x None count rows."""
    if WEIGHT not in table.column_names:
        raise InputError(f"the sampled table has no {WEIGHT!r} column (columns: {table.column_names})")
    w = weights(table.column(WEIGHT), empty_is_one=False)
    yv, xv = _numeric(table, y, "numerator"), _numeric(table, x, "denominator")
    v, rnd = w * w - w, w > 1.0
    return HTTerms(
        n_sampled=int(w.size), n_random=int(rnd.sum()), total_y=float(w @ yv), total_x=float(w @ xv),
        var_yy=float(v @ (yv * yv)), var_xx=float(v @ (xv * xv)), var_xy=float(v @ (xv * yv)),
        y_random=int((rnd & (yv != 0)).sum()), y_certain=int((~rnd & (yv != 0)).sum()),
        x_random=int((rnd & (xv != 0)).sum()), x_certain=int((~rnd & (xv != 0)).sum()))


def _as_float(value: ir.Value | None) -> ir.FloatingValue:
    if value is None:
        return ibis.literal(1.0)
    return value.ifelse(1.0, 0.0) if value.type().is_boolean() else value.cast("float64")


def ht_aggregates(table: ir.Table, w: ir.FloatingValue, y: ir.FloatingValue, x: ir.FloatingValue,
                  nulls: ir.BooleanValue | None = None, prefix: str = "") -> dict[str, ir.Scalar]:
    """The HT terms as named Ibis aggregates over `table` (weights `w`, numerator `y`, denominator `x`: float
    expressions over its rows, never null), each name prefixed with `prefix`; `nulls` marks rows to count as
    refused (by `terms_from_row`).
    Merge them into a larger `aggregate` and finish a result row with `terms_from_row(row, prefix)`.
    Portable: sums and counts of `ifelse` only."""
    v, rnd = w * w - w, w > 1.0

    def count(cond: ir.BooleanValue) -> ir.IntegerScalar:
        return cond.ifelse(1, 0).sum().coalesce(0)

    aggs = dict(
        n_sampled=table.count(), n_random=count(rnd), total_y=(w * y).sum(), total_x=(w * x).sum(),
        var_yy=(v * y * y).sum(), var_xx=(v * x * x).sum(), var_xy=(v * x * y).sum(),
        y_random=count(rnd & (y != 0)), y_certain=count(~rnd & (y != 0)),
        x_random=count(rnd & (x != 0)), x_certain=count(~rnd & (x != 0)), min_weight=w.min())
    if nulls is not None:
        aggs["nulls"] = count(nulls)
    return {prefix + name: agg for name, agg in aggs.items()}


def ht_terms_expr(table: ir.Table, y: str | None = None, x: str | None = None, by: Sequence[str] = ()) -> ir.Table:
    """The terms as one Ibis aggregate (a row per group of `by`); finish each row with `terms_from_row`.

    Null y / x / weight are counted, and refused by `terms_from_row`, as `ht_terms` refuses them.
    """
    nulls = [table[c].isnull() for c in (WEIGHT, y, x) if c]
    aggs = ht_aggregates(table, table[WEIGHT].cast("float64"), _as_float(table[y] if y else None),
                         _as_float(table[x] if x else None), ibis.or_(*nulls))
    return table.aggregate(by=list(by), **aggs)


def terms_from_row(row: Mapping[str, object], prefix: str = "") -> HTTerms:
    """`HTTerms` from one row of `ht_terms_expr`'s result (a dict, e.g. from `to_pyarrow().to_pylist()`), or of
    an aggregate holding `ht_aggregates(..., prefix=prefix)`."""
    nulls, min_weight = int(row.get(prefix + "nulls") or 0), row[prefix + "min_weight"]
    if nulls:
        raise InputError(f"{nulls} sampled row(s) have a null {WEIGHT}, numerator or denominator")
    if min_weight is not None and not float(min_weight) >= 1.0:
        raise _below_one(float(min_weight))
    names = HTTerms.__dataclass_fields__
    return HTTerms(**{k: (int if names[k].type == "int" else float)(row[prefix + k] or 0) for k in names})


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
    half = NormalDist().inv_cdf(0.5 + confidence / 2.0) * se
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
