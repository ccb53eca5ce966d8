"""The SVG charts: well-formed, accessible, deterministic, and at hand-computed coordinates."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from engmetrics.catalog.history import HistoryPoint
from engmetrics.catalog.model import Thresholds
from engmetrics.charts import history_chart, nice_ticks, sparkline
from engmetrics.web.render import _environment

NS = {"s": "http://www.w3.org/2000/svg"}
THRESHOLDS = Thresholds.model_validate({"green": {"min": 5}, "amber": {"min": 2, "max": 5}, "red": {"max": 2}})


def _point(day: int, value: float | None, status: str) -> HistoryPoint:
    return HistoryPoint(date(2026, 1, day), date(2026, 1, day + 6), value, status, 3)


def test_sparkline_coordinates_and_gaps():
    svg = ET.fromstring(sparkline([1.0, None, 3.0, 2.0], title="Deploys & more"))
    assert svg.get("role") == "img" and svg.get("viewBox") == "0 0 120 24"
    assert svg.find("s:title", NS).text == "Deploys & more"
    assert "1 without data" in svg.find("s:desc", NS).text
    # x = 2 + i * 116 / 3; y = 2 + (3 - v) / 2 * 20: the first point stands alone (a gap follows it).
    assert [p.get("d") for p in svg.findall("s:path", NS)] == ["M79.33 2 L118 12"]
    circles = [(c.get("cx"), c.get("cy")) for c in svg.findall("s:circle", NS)]
    assert circles == [("2", "22"), ("118", "12")]


def test_sparkline_without_data_is_a_dashed_line():
    svg = ET.fromstring(sparkline([None, None], title="t"))
    assert svg.find("s:line", NS) is not None and "none with data" in svg.find("s:desc", NS).text


def test_history_chart_coordinates():
    svg = ET.fromstring(history_chart([_point(1, 1.0, "red"), _point(8, 6.0, "green")], THRESHOLDS,
                                      unit="deploys", title="Deploys"))
    assert svg.get("role") == "img" and svg.find("s:title", NS).text == "Deploys"
    # Plot x 56..624 (568 wide), y 16..200 (184 high); ticks 0..6; two slots of 284.
    bands = {g.get("class"): g.find("s:rect", NS) for g in svg.findall("s:g", NS) if "band" in g.get("class")}
    assert {k: (r.get("y"), r.get("height")) for k, r in bands.items()} == {
        "band band-green": ("16", "30.67"), "band band-amber": ("46.67", "92"), "band band-red": ("138.67", "61.33")}
    labels = [t.text for g in svg.findall("s:g", NS) if "band" in g.get("class") for t in g.findall("s:text", NS)]
    assert labels == ["green ≥ 5 deploys", "amber 2 to 5 deploys", "red < 2 deploys"]
    series = svg.find("s:g[@class='series']", NS)
    assert series.find("s:path", NS).get("d") == "M198 169.33 L482 16"
    red = series.find("s:rect", NS)
    assert (red.get("class"), red.get("x"), red.get("y")) == ("point point-red", "194", "165.33")
    assert series.find("s:circle", NS).get("cx") == "482"
    y_labels = [t.text for t in svg.find("s:g[@class='axis axis-y']", NS).findall("s:text", NS)]
    assert y_labels == ["0", "2", "4", "6", "deploys"]
    x_labels = [t.text for t in svg.find("s:g[@class='axis axis-x']", NS).findall("s:text", NS)]
    assert x_labels == ["7 Jan", "14 Jan", "period ending"]


def test_history_chart_whisker_over_an_estimate_interval():
    estimate = HistoryPoint(date(2026, 1, 8), date(2026, 1, 14), 4.0, "amber", 40, None, 3.0, 5.0)
    svg = ET.fromstring(history_chart([_point(1, 1.0, "red"), estimate], THRESHOLDS, unit="deploys", title="D"))
    # ticks 0..8 (the open green band adds a quarter of the range above 5); y = 16 + (8 - v) / 8 * 184;
    # the second slot's centre x = 56 + 1.5 * 284
    [whisker] = svg.findall(".//s:line[@class='interval']", NS)
    assert (whisker.get("x1"), whisker.get("y1"), whisker.get("x2"), whisker.get("y2")) == ("482", "85", "482", "131")
    assert "1 of 2 values estimated from sampled data" in svg.find("s:desc", NS).text
    tips = [t.text for t in svg.iter(f"{{{NS['s']}}}title")]
    assert tips[-1] == "2026-01-08 to 2026-01-14: 4 deploys, estimate (95 % interval 3 to 5 deploys), status amber, " \
                       "sample 40" and "estimate" not in tips[1]


def test_history_chart_axis_covers_intervals_stops_a_count_at_zero_and_dots_untrusted_ones():
    wide = HistoryPoint(date(2026, 1, 8), date(2026, 1, 14), 4.0, "amber", 40, None, -3.0, 12.0, False)
    svg = ET.fromstring(history_chart([_point(1, 1.0, "red"), wide], THRESHOLDS, unit="deploys", title="D"))
    # the interval reaches 12, past every value and band: ticks 0, 5, 10, 15; y = 16 + (15 - v) / 15 * 184, so
    # 12 is at 52.8. Every value is >= 0, so the whisker and the axis stop at 0 (y 200), not at -3; dotted.
    y_labels = [t.text for t in svg.find("s:g[@class='axis axis-y']", NS).findall("s:text", NS)]
    assert y_labels == ["0", "5", "10", "15", "deploys"]
    [whisker] = svg.findall(".//s:line[@class='interval interval-untrusted']", NS)
    assert (whisker.get("y1"), whisker.get("y2"), whisker.get("stroke-dasharray")) == ("52.8", "200", "1 3")
    assert "-3 to 12 deploys; too few sampled rows to trust it" in svg.find("s:desc", NS).text


def test_history_table_has_an_interval_column_only_for_estimates():
    table = _environment().from_string('{% from "macros.html" import history_table %}{{ history_table(info, "H") }}')
    estimate = HistoryPoint(date(2026, 1, 8), date(2026, 1, 14), 4.0, "amber", 40, None, 3.0, 5.0)
    with_estimate = table.render(info={"points": [_point(1, 1.0, "red"), estimate]})
    assert "95 % interval (estimate)" in with_estimate and '<td class="num">3 – 5</td>' in with_estimate
    assert "95 % interval" not in table.render(info={"points": [_point(1, 1.0, "red")]})
    untrusted = HistoryPoint(date(2026, 1, 8), date(2026, 1, 14), 0.0, "red", 0, None, 0.0, 0.0, False)
    assert "0 – 0 (too few sampled rows to trust)" in table.render(info={"points": [untrusted]})


def test_history_chart_gap_escaping_and_determinism():
    points = [_point(1, 1.0, "red"), _point(8, None, "no_data"), _point(15, 3.0, "amber")]
    text = history_chart(points, THRESHOLDS, unit="<u>", title='a "b" <c>')
    assert text == history_chart(points, THRESHOLDS, unit="<u>", title='a "b" <c>')
    svg = ET.fromstring(text)
    assert svg.find("s:title", NS).text == 'a "b" <c>'
    assert "no data for 2026-01-08" in svg.find("s:desc", NS).text
    series = svg.find("s:g[@class='series']", NS)
    assert series.findall("s:path", NS) == []  # each run has one point: no line across the gap
    assert len(series.findall("s:rect", NS)) == 1 and len(series.findall("s:polygon", NS)) == 1


def test_history_chart_without_thresholds_or_data():
    svg = ET.fromstring(history_chart([_point(1, None, "no_data")], None, unit="x", title="t"))
    assert svg.find("s:text[@class='empty']", NS).text == "no data in these periods"


def test_open_band_at_the_edge_stays_visible():
    thresholds = Thresholds.model_validate({"green": {"max": 1}, "amber": {"min": 1, "max": 3}, "red": {"min": 3}})
    svg = ET.fromstring(history_chart([_point(1, 0.0, "green")], thresholds, unit="x", title="t"))
    assert svg.find("s:g[@class='band band-red']", NS) is not None


def test_nice_ticks():
    assert nice_ticks(0, 6) == [0.0, 2.0, 4.0, 6.0]
    assert nice_ticks(0.1, 0.27) == [0.1, 0.15, 0.2, 0.25, 0.3]
