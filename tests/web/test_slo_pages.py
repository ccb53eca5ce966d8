"""The SLO pages on the data set of tests/api/test_slos.py (judged at 2026-03-31T00:00Z), and the chart's
daily budget series checked against `slo_status` at every point."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from api.test_slos import ingest_sli_events, write_slos
from engmetrics.slo import check_slos
from engmetrics.slo.status import slo_status
from engmetrics.web.slos import budget_chart, budget_series

AT = {"at": "2026-03-31T00:00:00Z"}
JOURNEY = """apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-journey}
spec:
  service: checkout
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives:
    - {displayName: Answers, target: 0.99, indicatorRef: checkout-availability, compositeWeight: 2}
    - {displayName: Fast, target: 0.9, indicatorRef: checkout-latency}
"""


@pytest.fixture
def settings(settings):
    write_slos(settings.workspace)
    return settings


@pytest.fixture
def api_store(api_store, tmp_path):
    ingest_sli_events(api_store, tmp_path)
    return api_store


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class _Tables(HTMLParser):
    """Counts tables and header cells, and svgs with their title."""

    def __init__(self) -> None:
        super().__init__()
        self.tables = self.headers = self.svgs = self.titled_svgs = 0
        self._svg = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables += 1
        elif tag == "th":
            self.headers += 1
        elif tag == "svg":
            self.svgs += 1
            self._svg = True
            assert dict(attrs).get("role") == "img"
        elif tag == "title" and self._svg:
            self.titled_svgs += 1
            self._svg = False


def test_list_page_shows_every_objective_with_its_state_in_words(client, auth):
    page = client.get("/slos", params=AT, headers=auth("viewer"))
    assert page.status_code == 200
    text = _text(page.text)
    assert "<h1>SLOs</h1>" in page.text and 'href="/slos" aria-current="page"' in page.text
    rows = re.findall(r'<tr class="slo-(\w+)">(.*?)</tr>', page.text, re.S)
    assert [state for state, _ in rows] == ["ok", "exhausted", "warning"]
    ok, exhausted, warning = (_text(row) for _, row in rows)
    assert "checkout-availability" in ok and "Available" in ok and "99 %" in ok and "99.25 %" in ok
    assert "25 %" in ok and "0.5×" in ok and "0.75×" in ok and "● OK" in ok
    assert "-50 %" in exhausted and "■ Exhausted" in exhausted
    assert "checkout-latency" in warning and "▲ Warning" in warning
    assert 'href="/slos/checkout-availability"' in page.text
    assert "checkout-future" in text and "no version is in force yet" in text
    parsed = _Tables()
    parsed.feed(page.text)
    assert parsed.tables == 1 and parsed.headers >= 12
    assert '<label for="service">Service</label>' in page.text


def test_list_page_filters_by_service(client, auth):
    page = client.get("/slos", params={**AT, "service": "search"}, headers=auth("viewer"))
    assert page.status_code == 200 and "No SLO is computed here for the service search" in _text(page.text)


def test_detail_page_has_chart_status_spec_and_exclusions(client, auth):
    page = client.get("/slos/checkout-availability", params=AT, headers=auth("manager"))
    assert page.status_code == 200
    text = _text(page.text)
    assert "<h1>Checkout availability</h1>" in page.text
    assert "Available, 7d: ● OK 25 % budget left" in text and "Strict, 7d: ■ Exhausted -50 % budget left" in text
    assert page.text.count('class="history-chart"') == 2
    parsed = _Tables()
    parsed.feed(page.text)
    assert parsed.svgs == parsed.titled_svgs == 2
    assert "load test" in text and "slo:checkout-availability:corrections[0]" in text and "500 %" in text
    assert "Checkout answers its requests." in text and "slos/availability.yaml" in text
    # daily points: until the 27th the window holds the 0/1000 of the 20th (budget 10, 1000 spent); the
    # windows ending on the 28th and 29th have no events; the 30th's saw 10 bad of 1000 (budget 10: 0 % left)
    assert "2026-03-27 00:00 -9,900 % 2026-03-28 00:00 no data 2026-03-29 00:00 no data" in text
    assert "2026-03-30 00:00 0 % 2026-03-31 00:00 25 %" in text
    assert "in 84 hours at the 1-day burn rate" in text


def test_detail_page_of_a_versioned_and_a_skipped_slo(client, auth):
    latency = _text(client.get("/slos/checkout-latency", params=AT, headers=auth("viewer")).text)
    assert "▲ Warning" in latency and "2026-03-30T00:00:00+00:00" in latency and "Versions" in latency
    future = client.get("/slos/checkout-future", params=AT, headers=auth("viewer"))
    assert future.status_code == 200 and "Not computed: no version is in force yet." in _text(future.text)


def test_detail_page_of_a_composite(client, auth, settings):
    (settings.workspace / "slos" / "journey.yaml").write_text(JOURNEY)
    page = client.get("/slos/checkout-journey", params=AT, headers=auth("viewer"))
    assert page.status_code == 200 and page.text.count('class="history-chart"') == 3
    assert "composite, 7d:" in _text(page.text)


def test_unknown_slo_page_is_a_404_and_pages_need_a_session(client, auth):
    page = client.get("/slos/nope", headers=auth("viewer"))
    assert page.status_code == 404 and "no SLO &#39;nope&#39;" in page.text
    for path in ("/slos", "/slos/checkout-availability"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=/slos")


def test_broken_specs_are_an_error_page(client, auth, settings):
    (settings.workspace / "slos" / "broken.yaml").write_text("apiVersion: openslo/v1\nkind: Slo\nmetadata: {name: a}\n")
    for path in ("/slos", "/slos/checkout-availability"):
        page = client.get(path, headers=auth("viewer"))
        assert page.status_code == 500 and "slos/broken.yaml:2" in page.text and 'role="alert"' in page.text


@pytest.mark.parametrize("at", [datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 3, 30, 21, 30, tzinfo=UTC),
                                datetime(2026, 4, 3, 12, tzinfo=UTC)])
def test_budget_series_equals_slo_status_at_every_point(api_store, settings, at):
    (settings.workspace / "slos" / "journey.yaml").write_text(JOURNEY)
    report = check_slos(settings.workspace)
    assert not report.errors
    specs = report.specs
    expected: dict[datetime, dict[tuple, float | None]] = {}
    for name in ("checkout-availability", "checkout-latency", "checkout-journey"):
        series = budget_series(api_store, specs, name, at)
        assert series and all(points[-1][0] == at for points in series.values())
        for (objective, window), points in series.items():
            assert len(points) == (7 if at.hour == 0 else 8)  # midnights after the window start, and `at`
            for t, value in points:
                if t not in expected:
                    expected[t] = {(i["slo"], i["objective_index"], i["window"]): i["error_budget"]["remaining"]
                                   for i in slo_status(api_store, specs, t).items}
                assert value == expected[t][name, objective, window], (name, objective, t)
    assert (None, "7d") in budget_series(api_store, specs, "checkout-journey", at)  # the composite
    assert budget_series(api_store, specs, "checkout-future", at) == {}


def test_budget_chart_says_what_it_shows():
    points = [(datetime(2026, 3, d, tzinfo=UTC), v) for d, v in ((29, 1.0), (30, None), (31, -0.5))]
    svg = budget_chart(points, title="Available <7d>", warning=0.25)
    assert svg.startswith("<svg") and "<title>Available &lt;7d&gt;</title>" in svg
    assert "3 periods from 2026-03-29 00:00 UTC to 2026-03-31 00:00 UTC" in svg
    assert "latest -50 %, status red" in svg and "2026-03-31 00:00 UTC: -50 %, status red</title>" in svg
    assert "green ≥ 25 %" in svg and "amber 0 to 25 %" in svg and "red &lt; 0 %" in svg
    # 29 March: a green circle; 30 March: a gap; 31 March: a red square; no line joins them
    assert svg.count('class="point point-green"') == 1 and svg.count('class="point point-red"') == 1
    assert "<path" not in svg and "no data for 2026-03-30 00:00 UTC" in svg
