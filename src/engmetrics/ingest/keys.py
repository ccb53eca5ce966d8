"""The pseudonymisation key an ingest uses, refusing to invent a new one for a store that needs the old.

>>> import tempfile, pathlib
>>> from engmetrics.store import Store
>>> key = ingest_key(Store.open("duckdb://"), pathlib.Path(tempfile.mkdtemp()) / "pseudonym.key")
>>> len(key)
32
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..store import REGISTRY, Store
from ..workspace import ensure_pseudonym_key

__all__ = ["ingest_key"]


def ingest_key(store: Store, key_file: Path) -> bytes:
    """The key in `key_file`, created when missing, unless the store already holds pseudonymised rows
    (a new key would give everyone new pseudonyms): then an InputError naming the file."""
    if not key_file.exists() and any(store.count(d.name) for d in REGISTRY.values() if d.person_columns):
        raise InputError("the pseudonymisation key is missing, but the store holds pseudonymised rows; "
                         "restore the key (a new one would give everyone new pseudonyms)", file=key_file)
    return ensure_pseudonym_key(key_file)
