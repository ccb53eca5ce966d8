"""Number formats shared by the `engmetrics cost` tables: a missing value (None) is shown as "-".

>>> money(1234.5), pct(0.4567), pct(0.4567, 0), number(-0.05, "{:+.1%}"), money(None)
('1,234.50', '45.7%', '46%', '-5.0%', '-')
"""

from __future__ import annotations

__all__ = ["money", "number", "pct"]


def number(value: float | None, fmt: str) -> str:
    """`value` formatted with `fmt` (a `str.format` template), "-" when None."""
    return "-" if value is None else fmt.format(value)


def money(value: float | None) -> str:
    """An amount with thousands separators and two decimals (the currency is shown beside it)."""
    return number(value, "{:,.2f}")


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage with `digits` decimals."""
    return number(value, f"{{:.{digits}%}}")
