"""The dataset registry: every canonical table with its schema, key and validation rules.

A dataset is declared once here (in `datasets.py`); the store, ingestion, the docs and the demo all
read the declaration.

>>> from engmetrics.store.datasets import REGISTRY
>>> REGISTRY["deployments"].key
('deployment_id',)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..errors import InputError

__all__ = ["NUMERIC", "SQL_TYPES", "TEMPORAL", "Column", "Dataset", "Registry", "Rule", "UnknownDatasetError",
           "value_fits"]

# Logical column types and their storage types (DuckDB spelling; Ibis maps them for other engines).
SQL_TYPES = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "time": "TIME",
    "json": "VARCHAR",
    "string[]": "VARCHAR[]",
}
NUMERIC = {"int", "float"}
TEMPORAL = {"timestamp", "date"}


def value_fits(value: Any, kind: str) -> bool:
    """Whether a value from YAML (a filter's, a sampling stratum's) can be compared with a column of logical
    type `kind`."""
    if kind in NUMERIC:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in TEMPORAL:
        try:
            (date if kind == "date" else datetime).fromisoformat(str(value))
        except ValueError:
            return False
        return isinstance(value, str)
    return isinstance(value, str) and kind != "string[]"


@dataclass(frozen=True)
class Column:
    """One column: logical type, whether it is required, allowed values and range."""

    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    person: bool = False  # pseudonymised with a keyed hash at ingest
    since: int = 2  # store schema version that added the column (see migrations.registry_changes)

    def __post_init__(self) -> None:
        if self.type not in SQL_TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type!r}")

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class Rule:
    """A cross-column rule: rows where `check` (SQL over typed columns) is false are quarantined.

    A rule whose inputs are null passes: requiredness is the column's business.
    """

    check: str
    message: str
    column: str


@dataclass(frozen=True)
class Dataset:
    """A canonical table. `key` is the primary key used for upserts."""

    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...] = ()
    time_column: str | None = None
    naive_timestamps_utc: bool = False  # the format's spec fixes UTC (FOCUS)
    hash_key: bool = False  # the key is a hash of every other column (no natural key)
    restricted: bool = False  # raw data readable only by named roles (policies/access.yaml)
    null_strings: tuple[str, ...] = ()  # text values read as null (exact spellings, e.g. "NULL", "null")
    ignore_header_case: bool = False  # a file's column `skupriceid` fills column `SkuPriceId`
    extensions_column: str | None = None  # a json column keeping the file's other columns by name
    bot_flag: tuple[str, str] | None = None  # (bool column, person column): set at ingest from delivery.bots
    # A batch is authoritative for the partitions (distinct values of these columns, null equal to null) its valid
    # rows contain: the store's other rows of those partitions are deleted (a restated export replaces the earlier).
    replace_partitions: tuple[str, ...] = ()
    since: int = 2  # store schema version that added the dataset (see migrations.registry_changes)
    column_index: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_index", {c.name: c for c in self.columns})
        missing = [k for k in self.key if k not in self.column_index]
        if missing:
            raise ValueError(f"dataset {self.name}: key columns {missing} are not columns")
        unknown = [c for c in self.replace_partitions if c not in self.column_index]
        if unknown:
            raise ValueError(f"dataset {self.name}: replace_partitions columns {unknown} are not columns")
        extensions = self.extensions_column
        if extensions and (extensions not in self.column_index or self.column_index[extensions].type != "json"):
            raise ValueError(f"dataset {self.name}: extensions column {extensions!r} is not a json column")

    def column(self, name: str) -> Column:
        return self.column_index[name]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def person_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.person]

    @property
    def value_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.name not in self.key]


class UnknownDatasetError(InputError, KeyError):
    """A dataset name that is not registered: a KeyError for callers, bad input (exit 1) for the CLI."""

    __str__ = InputError.__str__


class Registry(dict[str, Dataset]):
    """Datasets by name, in declaration order."""

    def __init__(self, datasets: list[Dataset]) -> None:
        super().__init__((d.name, d) for d in datasets)

    def get_dataset(self, name: str) -> Dataset:
        """The dataset called `name`, or an `UnknownDatasetError` (a KeyError) that lists the known names."""
        try:
            return self[name]
        except KeyError:
            raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(self)}") from None
