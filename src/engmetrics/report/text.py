"""Words and numbers shared by the renderers: formatted values, statuses as symbol + text, dates.

Status symbols match the chart markers (circle green, triangle amber, square red, diamond no data), so
RAG is never carried by colour alone.

>>> with_unit(0.99891, "ratio"), with_unit(0.1453, "ratio"), with_unit(2.528, "hours"), with_unit(None, "h")
('99.89 %', '14.5 %', '2.53 hours', 'no data')
>>> status_label("red"), signed_percent(-0.51), long_date(date(2026, 3, 1))
('■ red', '−51 %', '1 Mar 2026')
"""

from __future__ import annotations

from datetime import date

from ..charts import format_value

__all__ = ["STATUS_SYMBOL", "STATUS_TEXT", "direction_word", "long_date", "move_text", "number",
           "signed_percent", "status_label", "trend_words", "with_unit"]

STATUS_SYMBOL = {"green": "●", "amber": "▲", "red": "■", "no_data": "◇"}
STATUS_TEXT = {"green": "green", "amber": "amber", "red": "red", "no_data": "no data"}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def number(value: float | None, unit: str) -> str:
    """The value alone, a `ratio` shown as a percentage (two decimals from 99 % up: availability)."""
    if value is None:
        return "no data"
    if unit == "ratio":
        pct = value * 100
        return f"{pct:.2f}" if 99 <= abs(pct) < 100 else format_value(pct)
    return format_value(value)


def with_unit(value: float | None, unit: str) -> str:
    """The value with its unit (`%` for a ratio)."""
    if value is None:
        return "no data"
    text = number(value, unit)
    return f"{text} %" if unit == "ratio" else f"{text} {unit}".rstrip()


def signed_percent(relative: float | None) -> str:
    """A relative move as `+24 %` / `−51 %` (true minus sign); empty when unknown."""
    if relative is None:
        return ""
    sign = "+" if relative > 0 else "−" if relative < 0 else "±"
    return f"{sign}{format_value(abs(relative) * 100)} %"


def move_text(from_value: float | None, to_value: float | None, relative: float | None, unit: str) -> str:
    """A move between two values: relative (`+42.4 %`), or for a ratio in percentage points with the
    relative move beside it (`−44 pp (−64.4 %)`), since a relative move of a percentage misleads.

    >>> move_text(0.683, 0.243, -0.644, "ratio"), move_text(1.77, 2.53, 0.424, "hours")
    ('−44 pp (−64.4 %)', '+42.4 %')
    """
    if unit != "ratio" or from_value is None or to_value is None:
        return signed_percent(relative)
    points = (to_value - from_value) * 100
    sign = "+" if points > 0 else "−" if points < 0 else "±"
    text = f"{sign}{format_value(abs(points))} pp"
    return f"{text} ({signed_percent(relative)})" if relative is not None else text


def status_label(status: str | None) -> str:
    """Symbol and word, e.g. `■ red`."""
    status = status or "no_data"
    return f"{STATUS_SYMBOL.get(status, '?')} {STATUS_TEXT.get(status, status)}"


def direction_word(improving: bool | None) -> str:
    """`better`, `worse` or an empty string when it cannot be judged."""
    return "" if improving is None else ("better" if improving else "worse")


def trend_words(trend: str | None, improving: bool | None) -> str:
    """A scorecard trend in words: `↑ better`, `↓ worse`, `→ flat`, or empty."""
    if trend is None:
        return ""
    arrow = {"up": "↑", "down": "↓", "flat": "→"}[trend]
    return f"{arrow} {direction_word(improving) or trend}"


def long_date(day: date) -> str:
    """`1 Mar 2026` (locale-independent)."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
