"""Shared fixtures: one small generated organisation per test session."""

from __future__ import annotations

from datetime import date

import pytest

from engmetrics.demo import DemoData, generate

END = date(2026, 1, 4)


@pytest.fixture(scope="session")
def data() -> DemoData:
    return generate(days=14, seed=7, end=END)
