"""Server-side SVG charts: a trend sparkline and an indicator history chart with threshold bands.

Both functions return a self-contained ``<svg>`` string: no JavaScript, no CDN, no external CSS
needed (colours are inline attributes, so the same markup works in the dashboard, in HTML reports and
in a PDF). Output is deterministic: the same input gives byte-identical markup. Every chart has
``role="img"``, a ``<title>`` and a ``<desc>`` that says in words what the picture shows, and every piece
of text is XML-escaped.

Red / amber / green is never carried by colour alone: bands carry a text label, and history points use a
different marker shape per status (circle green, triangle amber, square red) plus a ``<title>`` tooltip.

>>> svg = sparkline([1.0, None, 3.0, 2.0], title="Deploys")
>>> svg.startswith('<svg') and '<title>Deploys</title>' in svg
True
>>> format_value(1234.5), format_value(0.125), format_value(12.34)
('1,234', '0.125', '12.3')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engmetrics.catalog.history import HistoryPoint
    from engmetrics.catalog.model import Thresholds

__all__ = ["BAND_FILL", "STATUS_COLOUR", "format_value", "history_chart", "nice_ticks", "sparkline"]

#: Fill of a threshold band behind the history line (light, so the line stays readable).
BAND_FILL = {"green": "#dcefe2", "amber": "#fbeccb", "red": "#f6d5d5"}
#: Stroke / marker colour of a status (dark enough for 3:1 contrast on white).
STATUS_COLOUR = {"green": "#1b7a3d", "amber": "#9a6400", "red": "#b3261e", "no_data": "#5f6368"}
LINE_COLOUR = "#1f3b73"
AXIS_COLOUR = "#5f6368"
_DASHES = ("", "6 3", "2 3", "8 3 2 3")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _n(x: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros (deterministic, compact)."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _e(text: object) -> str:
    """XML-escape text for element content and attribute values."""
    return escape(str(text), quote=True)


def format_value(value: float | None) -> str:
    """A human-readable number: thousands separators for big values, three significant-ish digits.

    >>> format_value(None), format_value(5), format_value(99.95), format_value(-0.5)
    ('no data', '5', '100', '-0.5')
    """
    if value is None:
        return "no data"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    text = f"{value:.1f}" if size >= 10 else f"{value:.3f}" if size < 1 else f"{value:.2f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high] with about `count` steps of 1, 2 or 5 times a power of 10.

    >>> nice_ticks(0, 9)
    [0.0, 5.0, 10.0]
    >>> nice_ticks(0, 0.3)
    [0.0, 0.1, 0.2, 0.3]
    >>> nice_ticks(3, 3)
    [3.0, 3.5, 4.0]
    """
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw - 1e-12)
    start = math.floor(low / step + 1e-9) * step
    stop = math.ceil(high / step - 1e-9) * step
    steps = round((stop - start) / step)
    return [float(round(start + i * step, 10)) for i in range(steps + 1)]


def _segments(xs: Sequence[float], ys: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """Split a series into runs of consecutive points with data; a None starts a new run (a gap)."""
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for x, y in zip(xs, ys, strict=True):
        if y is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((x, y))
    if current:
        runs.append(current)
    return runs


def _path(run: list[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{_n(x)} {_n(y)}" for i, (x, y) in enumerate(run))


def _open(width: int, height: int, title: str, desc: str, css_class: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f"<desc>{_e(desc)}</desc>",
    ]


def sparkline(values: list[float | None], *, title: str, width: int = 120, height: int = 24) -> str:
    """A small trend line of `values` (oldest first); None is a gap, the latest value gets a dot.

    Points are spread evenly over ``[2, width - 2]`` and scaled so the smallest value sits at
    ``height - 2`` and the largest at ``2`` (a flat series sits in the middle).

    >>> '<path' in sparkline([1.0, 2.0], title="t")
    True
    """
    pad = 2.0
    known = [v for v in values if v is not None]
    if known:
        desc = (f"{len(values)} periods, {len(values) - len(known)} without data; lowest {format_value(min(known))}, "
                f"highest {format_value(max(known))}, latest {format_value(values[-1])}.")
    else:
        desc = f"{len(values)} periods, none with data."
    out = _open(width, height, title, desc, "sparkline")
    if known:
        low, high = min(known), max(known)
        n = len(values)
        xs = [width / 2 if n == 1 else pad + i * (width - 2 * pad) / (n - 1) for i in range(n)]

        def scale(v: float) -> float:
            return height / 2 if high == low else pad + (high - v) / (high - low) * (height - 2 * pad)

        ys = [None if v is None else scale(v) for v in values]
        for run in _segments(xs, ys):
            if len(run) == 1:
                x, y = run[0]
                out.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="1.5" fill="{LINE_COLOUR}"/>')
            else:
                out.append(f'<path d="{_path(run)}" fill="none" stroke="{LINE_COLOUR}" stroke-width="1.5" '
                           'stroke-linejoin="round" stroke-linecap="round"/>')
        last = ys[-1]
        if last is not None:
            out.append(f'<circle class="latest" cx="{_n(xs[-1])}" cy="{_n(last)}" r="2" fill="{LINE_COLOUR}"/>')
    else:
        out.append(f'<line x1="{_n(pad)}" y1="{_n(height / 2)}" x2="{_n(width - pad)}" y2="{_n(height / 2)}" '
                   f'stroke="{AXIS_COLOUR}" stroke-dasharray="2 3"/>')
    out.append("</svg>")
    return "".join(out)


def _short_date(d: object) -> str:
    """'3 Mar' for a date (locale-independent, so output is deterministic)."""
    month = getattr(d, "month", None)
    day = getattr(d, "day", None)
    return str(d) if month is None or day is None else f"{day} {_MONTHS[month - 1]}"


def _when(d: object) -> str:
    """A date as ISO text; an instant (a datetime, e.g. an SLO chart's) to the minute, in UTC."""
    return f"{d:%Y-%m-%d %H:%M} UTC" if isinstance(d, datetime) else str(d)


def _span(start: object, end: object) -> str:
    return _when(start) if start == end else f"{_when(start)} to {_when(end)}"


def _band_label(name: str, low: float | None, high: float | None, unit: str) -> str:
    if low is not None and high is not None:
        span = f"{format_value(low)} to {format_value(high)}"
    elif low is not None:
        span = f"≥ {format_value(low)}"
    elif high is not None:
        span = f"< {format_value(high)}"
    else:
        span = "any value"
    return f"{name} {span} {unit}".strip()


def _marker(status: str | None, x: float, y: float, tip: str) -> str:
    """A data point whose shape says its status: circle green, triangle amber, square red, diamond none."""
    colour = STATUS_COLOUR.get(status or "", LINE_COLOUR)
    cls = f'class="point point-{_e(status or "none")}"'
    inner = f"<title>{_e(tip)}</title>"
    if status == "green":
        return f'<circle {cls} cx="{_n(x)}" cy="{_n(y)}" r="4" fill="{colour}">{inner}</circle>'
    if status == "amber":
        pts = f"{_n(x)},{_n(y - 5)} {_n(x + 5)},{_n(y + 4)} {_n(x - 5)},{_n(y + 4)}"
        return f'<polygon {cls} points="{pts}" fill="{colour}">{inner}</polygon>'
    if status == "red":
        return (f'<rect {cls} x="{_n(x - 4)}" y="{_n(y - 4)}" width="8" height="8" '
                f'fill="{colour}">{inner}</rect>')
    pts = f"{_n(x)},{_n(y - 4)} {_n(x + 4)},{_n(y)} {_n(x)},{_n(y + 4)} {_n(x - 4)},{_n(y)}"
    return f'<polygon {cls} points="{pts}" fill="{colour}">{inner}</polygon>'


def _interval_text(p: HistoryPoint, unit: str) -> str:
    """`, estimate (95 % interval LOW to HIGH UNIT)` for an estimated point, flagged when it is not to be
    trusted; empty for an exact one."""
    if not p.estimated:
        return ""
    bounds = f"{format_value(p.low)} to {format_value(p.high)}" + (f" {unit}" if unit else "")
    doubt = "; too few sampled rows to trust it" if p.reliable is False else ""
    return f", estimate (95 % interval {bounds}{doubt})"


def history_chart(points: list[HistoryPoint], thresholds: Thresholds | None, *, unit: str, title: str,
                  width: int = 640, height: int = 240) -> str:
    """An indicator's history as a line over its shaded threshold bands.

    Layout: the plot area spans ``x`` from 56 to ``width - 16`` and ``y`` from 16 to ``height - 40``.
    Periods are evenly spaced categories: period ``i`` of ``n`` sits at the centre of its slot,
    ``56 + (i + 0.5) * plot_width / n``. The value axis runs over round ticks (see `nice_ticks`) that
    cover the values, the finite band bounds and zero (when every value is non-negative). A period
    without data breaks the line (a gap) and is listed in the description. A value estimated from sampled
    data gets a whisker over its 95 % interval (the axis covers it; below zero only when a value is; dotted
    when the interval is not to be trusted). A group-by indicator gets one line per group (different dash
    patterns, whiskers included, with a legend).
    """
    left, right, top, bottom = 56.0, 16.0, 16.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom
    periods = sorted({(p.period_start, p.period_end) for p in points})
    groups = sorted({p.group for p in points}, key=lambda g: (g is not None, g or ""))
    index = {period: i for i, period in enumerate(periods)}
    known = [p.value for p in points if p.value is not None]
    bounds = [b for _, band in (thresholds.bands() if thresholds else []) for b in (band.min, band.max)
              if b is not None]
    intervals = [p for p in points if p.value is not None and p.estimated]
    floor = 0.0 if all(v >= 0 for v in known) else -math.inf  # a normal interval may reach below a count's 0

    def whisker(p: HistoryPoint) -> tuple[float, float]:
        return max(p.low, floor), p.high  # type: ignore[arg-type,return-value]

    domain = known + bounds + [v for p in intervals for v in whisker(p)]
    low, high = (min(domain), max(domain)) if domain else (0.0, 1.0)
    if low >= 0 and (known or not bounds):
        low = 0.0
    # An open-ended band starting at the edge of the range gets room to show.
    span = (high - low) or 1.0
    for _, band in thresholds.bands() if thresholds else []:
        if band.max is None and band.min is not None and band.min >= high:
            high = band.min + 0.25 * span
        if band.min is None and band.max is not None and band.max <= low:
            low = band.max - 0.25 * span
    ticks = nice_ticks(low, high)
    y_low, y_high = ticks[0], ticks[-1]

    def sx(i: int) -> float:
        return left + (i + 0.5) * plot_w / max(len(periods), 1)

    def sy(v: float) -> float:
        return top + (y_high - v) / (y_high - y_low) * plot_h

    missing = [p for p in points if p.value is None]
    latest = [p for p in points if periods and (p.period_start, p.period_end) == periods[-1]]
    desc_parts = [f"{len(periods)} periods"]
    if periods:
        desc_parts[0] += f" from {_when(periods[0][0])} to {_when(periods[-1][1])}"
    for p in latest:
        who = f" ({p.group})" if p.group is not None else ""
        desc_parts.append(f"latest{who} {format_value(p.value)} {unit}{_interval_text(p, unit)}, "
                          f"status {p.status or 'none'}".rstrip())
    if intervals:
        desc_parts.append(f"{len(intervals)} of {len(known)} values estimated from sampled data, shown with their "
                          "95 % intervals")
    if missing:
        desc_parts.append("no data for " + ", ".join(
            _when(p.period_start) + (f" ({p.group})" if p.group is not None else "") for p in missing))
    if thresholds:
        desc_parts.append("bands: " + "; ".join(_band_label(n, b.min, b.max, unit) for n, b in thresholds.bands()))
    out = _open(width, height, title, ". ".join(desc_parts) + ".", "history-chart")

    # Threshold bands, clipped to the visible value range, each with a text label.
    for name, band in thresholds.bands() if thresholds else []:
        b_low = y_low if band.min is None else max(band.min, y_low)
        b_high = y_high if band.max is None else min(band.max, y_high)
        if b_high <= b_low:
            continue
        y0, y1 = sy(b_high), sy(b_low)
        out.append(f'<g class="band band-{name}"><rect x="{_n(left)}" y="{_n(y0)}" width="{_n(plot_w)}" '
                   f'height="{_n(y1 - y0)}" fill="{BAND_FILL[name]}"/>'
                   f'<text x="{_n(left + plot_w - 4)}" y="{_n(y0 + 11)}" text-anchor="end" font-size="10" '
                   f'fill="{STATUS_COLOUR[name]}">{_e(_band_label(name, band.min, band.max, unit))}</text></g>')

    # Axes: value ticks with grid lines, the unit, and period end dates (at most about 7 labels).
    out.append(f'<g class="axis axis-y" font-size="10" fill="{AXIS_COLOUR}">')
    for tick in ticks:
        y = sy(tick)
        out.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}" '
                   f'stroke="{AXIS_COLOUR}" stroke-opacity="0.25"/>'
                   f'<text x="{_n(left - 6)}" y="{_n(y + 3)}" text-anchor="end">{_e(format_value(tick))}</text>')
    out.append(f'<text x="12" y="{_n(top + plot_h / 2)}" text-anchor="middle" '
               f'transform="rotate(-90 12 {_n(top + plot_h / 2)})">{_e(unit)}</text></g>')
    out.append(f'<g class="axis axis-x" font-size="10" fill="{AXIS_COLOUR}">'
               f'<line x1="{_n(left)}" y1="{_n(top + plot_h)}" x2="{_n(left + plot_w)}" y2="{_n(top + plot_h)}" '
               f'stroke="{AXIS_COLOUR}"/>')
    step = max(1, math.ceil(len(periods) / 7))
    for i, (_, end) in enumerate(periods):
        if (len(periods) - 1 - i) % step == 0:
            out.append(f'<text x="{_n(sx(i))}" y="{_n(top + plot_h + 16)}" text-anchor="middle">'
                       f'{_e(_short_date(end))}</text>')
    out.append(f'<text x="{_n(left + plot_w / 2)}" y="{_n(height - 6)}" text-anchor="middle">period ending</text>'
               "</g>")

    # One line per group; gaps where a period has no data; a status-shaped marker per point.
    for g_index, group in enumerate(groups):
        series = sorted((p for p in points if p.group == group), key=lambda p: p.period_start)
        xs = [sx(index[(p.period_start, p.period_end)]) for p in series]
        ys = [None if p.value is None else sy(p.value) for p in series]
        dash = _DASHES[g_index % len(_DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        label = f' data-group="{_e(group)}"' if group is not None else ""
        out.append(f'<g class="series"{label}>')
        for run in _segments(xs, ys):
            if len(run) > 1:
                out.append(f'<path d="{_path(run)}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2"'
                           f'{dash_attr} stroke-linejoin="round"/>')
        for p, x, y in zip(series, xs, ys, strict=True):
            if y is not None:
                who = f"{p.group}: " if p.group is not None else ""
                sample = f", sample {p.sample_size}" if p.sample_size else ""
                if p.estimated:  # a whisker over the 95 % interval
                    bottom_value, top_value = whisker(p)
                    trusted = p.reliable is not False  # dotted when not to be trusted, else the series' dash
                    kind, pattern = ("", dash_attr) if trusted else (" interval-untrusted", ' stroke-dasharray="1 3"')
                    out.append(f'<line class="interval{kind}" x1="{_n(x)}" y1="{_n(sy(top_value))}" x2="{_n(x)}" '
                               f'y2="{_n(sy(bottom_value))}" stroke="{LINE_COLOUR}" stroke-width="1.5"{pattern}/>')
                tip = f"{who}{_span(p.period_start, p.period_end)}: {format_value(p.value)} {unit}" \
                      f"{_interval_text(p, unit)}, status {p.status or 'none'}{sample}"
                out.append(_marker(p.status, x, y, tip))
        out.append("</g>")
    if len(groups) > 1:
        out.append(f'<g class="legend" font-size="10" fill="{AXIS_COLOUR}">')
        for g_index, group in enumerate(groups):
            x = left + 4 + g_index * 110
            dash = _DASHES[g_index % len(_DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<line x1="{_n(x)}" y1="8" x2="{_n(x + 18)}" y2="8" stroke="{LINE_COLOUR}" '
                       f'stroke-width="2"{dash_attr}/><text x="{_n(x + 22)}" y="11">{_e(group or "all")}</text>')
        out.append("</g>")
    if not known:
        out.append(f'<text class="empty" x="{_n(left + plot_w / 2)}" y="{_n(top + plot_h / 2)}" '
                   f'text-anchor="middle" font-size="12" fill="{AXIS_COLOUR}">no data in these periods</text>')
    out.append("</svg>")
    return "".join(out)
