"""Read the Numenta Anomaly Benchmark corpus: data files, their labelled windows and the cost profiles.

The corpus directory holds `data/<folder>/<file>.csv` (`timestamp,value`), `labels/combined_windows.json`
(per file a list of `[start, end]` timestamps) and `config/profiles.json` (the cost matrices). Files are read
with pyarrow, windows are turned into inclusive row ranges with one `searchsorted`.

>>> corpus = load_corpus("../shared/data/nab", folders=["artificialWithAnomaly"])  # doctest: +SKIP
>>> corpus.files[0].name, corpus.files[0].windows  # doctest: +SKIP
('artificialWithAnomaly/art_daily_flatmiddle.csv', array([[2679, 3081]]))
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from engmetrics.errors import InputError

__all__ = ["PROBATION_FRACTION", "Corpus", "DataFile", "Profile", "load_corpus", "load_profiles", "probation"]

PROBATION_FRACTION = 0.15
"""Share of each file (at most 15 % of 5,000 rows) that a detector may use to learn, and that is not scored."""


def probation(length: int) -> int:
    """Rows at the start of a file that are not scored: 15 % of the file, at most 750.

    >>> probation(4032), probation(22695)
    (604, 750)
    """
    return int(min(math.floor(PROBATION_FRACTION * length), PROBATION_FRACTION * 5000))


@dataclass(frozen=True)
class Profile:
    """One NAB cost profile: the weights of a true positive, a false positive and a false negative."""

    name: str
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True)
class DataFile:
    """One series: `name` is `folder/file.csv`, `windows` an (n, 2) int array of inclusive row ranges."""

    name: str
    timestamps: np.ndarray  # datetime64[s]
    values: np.ndarray  # float64
    windows: np.ndarray

    @property
    def folder(self) -> str:
        """The data folder, e.g. `realKnownCause`."""
        return self.name.split("/", 1)[0]

    @property
    def probation(self) -> int:
        """Rows at the start that are not scored."""
        return probation(len(self.values))


@dataclass(frozen=True)
class Corpus:
    """The files read, in name order, and the cost profiles."""

    root: Path
    files: list[DataFile]
    profiles: dict[str, Profile]


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise InputError(f"missing NAB file (expected {path.name} under the corpus directory)", file=path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", file=path, line=error.lineno, column=error.colno) from None


def load_profiles(root: str | Path) -> dict[str, Profile]:
    """The cost profiles of `config/profiles.json` (standard, reward_low_FP_rate, reward_low_FN_rate)."""
    path = Path(root) / "config" / "profiles.json"
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise InputError("expected an object of profiles", file=path)
    profiles = {}
    for name, body in raw.items():
        try:
            matrix = body["CostMatrix"]
            profiles[name] = Profile(name, float(matrix["tpWeight"]), float(matrix["fpWeight"]),
                                     float(matrix["fnWeight"]))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"profile {name!r}: expected CostMatrix with numeric tpWeight, fpWeight, fnWeight",
                             file=path) from None
    return profiles


def _read_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={"timestamp": pa.timestamp("s"), "value": pa.float64()},
            include_columns=["timestamp", "value"]))
    except FileNotFoundError:
        raise InputError("missing data file named in labels/combined_windows.json", file=path) from None
    except KeyError as error:
        raise InputError(f"expected columns timestamp, value: {error}", file=path, line=1) from None
    except pa.ArrowInvalid as error:
        line, column = _bad_cell(path)
        raise InputError(f"expected a timestamp (YYYY-MM-DD HH:MM:SS) and a number: {error}", file=path,
                         line=line, column=column) from None
    if table["timestamp"].null_count or table["value"].null_count:
        column = "timestamp" if table["timestamp"].null_count else "value"
        row = int(np.flatnonzero(table[column].is_null().to_numpy(zero_copy_only=False))[0])
        raise InputError(f"empty {column}", file=path, line=row + 2, column=column)
    timestamps = table["timestamp"].to_numpy()
    return timestamps, table["value"].to_numpy()


def _bad_cell(path: Path) -> tuple[int | None, str | None]:
    """(line, column) of the first cell that is not a timestamp / number; only called once reading failed."""
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={"timestamp": pa.string(), "value": pa.string()}, include_columns=["timestamp", "value"]))
    parsers = {"timestamp": lambda text: np.datetime64(text.strip(), "s"), "value": float}
    for row, cells in enumerate(zip(*(table[name].to_pylist() for name in parsers), strict=True)):
        for name, cell in zip(parsers, cells, strict=True):
            try:
                parsers[name](cell)
            except (TypeError, ValueError):
                return row + 2, name
    return None, None


def _window_rows(name: str, timestamps: np.ndarray, windows: object, labels: Path) -> np.ndarray:
    """Inclusive row ranges of the windows: from the first row whose timestamp lies in [start, end] to the last.

    Rows keep their file order (a few corpus files repeat or step back an hour at clock changes)."""
    try:
        bounds = np.array(windows, dtype="datetime64[s]").reshape(-1, 2)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected a list of [start, end] timestamps", file=labels) from None
    inside = (timestamps[None, :] >= bounds[:, :1]) & (timestamps[None, :] <= bounds[:, 1:])
    if not inside.any(axis=1).all():
        raise InputError(f"{name}: a window holds no rows of the file", file=labels)
    first = inside.argmax(axis=1)
    last = len(timestamps) - 1 - inside[:, ::-1].argmax(axis=1)
    return np.stack([first, last], axis=1).astype(np.int64).reshape(-1, 2)


def load_corpus(root: str | Path, folders: Iterable[str] | None = None) -> Corpus:
    """Every labelled data file under `root` (or only those in `folders`), with windows and profiles."""
    root = Path(root)
    if not (root / "data").is_dir():
        raise InputError("not a NAB corpus: expected data/, labels/ and config/ directories", file=root)
    labels_path = root / "labels" / "combined_windows.json"
    labels = _read_json(labels_path)
    if not isinstance(labels, dict):
        raise InputError("expected an object mapping data files to windows", file=labels_path)
    wanted = None if folders is None else set(folders)
    if wanted is not None:
        unknown = wanted - {key.split("/", 1)[0] for key in labels}
        if unknown:
            raise InputError(f"unknown data folder(s): {', '.join(sorted(unknown))}", file=labels_path)
    files = []
    for name in sorted(labels):
        if wanted is not None and name.split("/", 1)[0] not in wanted:
            continue
        timestamps, values = _read_series(root / "data" / name)
        files.append(DataFile(name, timestamps, values, _window_rows(name, timestamps, labels[name], labels_path)))
    return Corpus(root, files, load_profiles(root))
