"""The JSON Schema of `metrics/*.yaml`, generated from the models and committed at
`src/engmetrics/schemas/indicator.schema.json` for editors (a test fails when it is stale).

Regenerate with: `python -m engmetrics.catalog.schema`
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from .model import CatalogFile, Indicator

__all__ = ["SCHEMA_PATH", "indicator_schema", "render_schema"]

SCHEMA_PATH = Path(str(resources.files("engmetrics") / "schemas" / "indicator.schema.json"))


def indicator_schema() -> dict[str, Any]:
    """A file holds one indicator, or `indicators:` and `outcomes:` lists."""
    schema = TypeAdapter(Indicator | CatalogFile).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://engmetrics.dev/schemas/indicator.schema.json",
        "title": "engmetrics indicator definitions (metrics/*.yaml)",
        **schema,
    }


def render_schema() -> str:
    return json.dumps(indicator_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # pragma: no cover
    SCHEMA_PATH.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
