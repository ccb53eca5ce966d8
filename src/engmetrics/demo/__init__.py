"""A deterministic synthetic organisation for demos, tutorials and tests.

`build_demo(directory)` writes a complete workspace (data files in CSV, JSON Lines and Parquet,
`org/*.yaml`, example indicators in `metrics/`), ingests every file and evaluates the indicators.
`generate()` builds the same datasets in memory only.

>>> from datetime import date
>>> data = generate(days=7, seed=7, end=date(2026, 1, 4))
>>> data.tables["services"].num_rows
30
"""

from .build import DemoResult, build_demo, write_demo_files
from .files import FILES, DataFile
from .generate import DemoData, generate

__all__ = ["FILES", "DataFile", "DemoData", "DemoResult", "build_demo", "generate",
           "write_demo_files"]
