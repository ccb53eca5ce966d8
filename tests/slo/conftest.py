"""Fixtures of the SLO spec tests: the shared reference data and a spec writer."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """`../shared/data` relative to the repository root (skipped when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def spec(tmp_path: Path):
    """spec(text, name="slos.yaml") -> path of a spec file under tmp_path/slos/."""

    def _spec(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / "slos" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        return path

    return _spec
