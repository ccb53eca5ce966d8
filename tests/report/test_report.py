"""Reports: hand-checked content on a small in-memory store, self-contained HTML, Markdown tables, the
CLI, and a real PDF rendered by Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "catalog"))
from catalog_helpers import BASE, GUARD, OUTCOMES, indicator, load, write_catalog

from engmetrics.catalog.loader import Catalog
from engmetrics.report import (
    ReportRenderError,
    build_report,
    find_chromium,
    render_html,
    render_markdown,
    render_pdf,
    report_period,
)
from engmetrics.report.text import with_unit

AS_OF = date(2026, 3, 31)  # month 2026-03-01..03-31, baseline 2026-02-28
NOW = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)

# Monthly indicators so the hand counts are easy: deployments per month (higher is better: red < 2,
# amber 2..5, green >= 5), failed deployments per month (lower is better: green < 1, amber 1..3, red >= 3),
# and a ratio (share of hotfixes, lower is better) to check percentage formatting.
DEPLOYS = indicator(BASE, cadence="monthly")
FAILURES = indicator(GUARD, cadence="monthly")
HOTFIX = indicator(BASE, id="hotfix_share", name="Hotfix share", unit="ratio", direction="lower_is_better",
                   cadence="monthly", guardrail=None, kind="lagging",
                   calculation={"dataset": "deployments", "measure": {
                       "type": "ratio", "numerator": {"type": "count", "filters": [
                           {"column": "is_hotfix", "value": True}]}, "denominator": {"type": "count"}}},
                   thresholds={"green": {"max": 0.2}, "amber": {"min": 0.2, "max": 0.5}, "red": {"min": 0.5}})
# A dataset that was never ingested: no data.
CSAT = indicator(BASE, id="csat", name="Customer satisfaction", unit="score", cadence="monthly", guardrail=None,
                 calculation={"dataset": "csat", "measure": {"type": "sum", "column": "score"}},
                 thresholds={"green": {"min": 4}, "red": {"max": 4}})


def _deploy(store, rows: list[tuple[str, str, str, bool]]) -> None:
    store.sql.executemany(
        "INSERT INTO deployments (deployment_id, service, environment, started_at, status, is_hotfix) "
        "VALUES (?, 'api', 'production', ?, ?, ?)", rows)


@pytest.fixture
def filled(store):
    # February: 6 deployments (green), 0 failures (green), 1 hotfix of 6 (16.7 %, green).
    feb = [(f"f{i}", f"2026-02-{i + 2:02d} 10:00:00+00", "success", i == 0) for i in range(6)]
    # March: 1 deployment succeeded and 3 failed = 4 (amber), failures 3 (red), hotfixes 2 of 4 (50 %, red).
    mar = [("m0", "2026-03-03 10:00:00+00", "success", True), ("m1", "2026-03-10 10:00:00+00", "failure", True),
           ("m2", "2026-03-17 10:00:00+00", "failure", False), ("m3", "2026-03-31 23:59:00+00", "failure", False)]
    _deploy(store, feb + mar)
    store.sql.execute("""INSERT INTO _quarantine VALUES
        ('b1', 'deployments', 'deploys.csv', 7, 'started_at', 'no time zone', '{}', '2026-03-05 12:00:00+00'),
        ('b1', 'deployments', 'deploys.csv', 9, 'started_at', 'no time zone', '{}', '2026-03-05 12:00:00+00'),
        ('b0', 'deployments', 'old.csv', 2, 'status', 'unknown status', '{}', '2026-02-05 12:00:00+00')""")
    return store


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    # `csat` has no review_by date: the lint rule `review-overdue` warns.
    return load(tmp_path, [DEPLOYS, FAILURES, HOTFIX, indicator(CSAT, review_by=None)])


@pytest.fixture
def report(filled, catalog):
    return build_report(filled, catalog, as_of=AS_OF, title="Acme report", generated_at=NOW)


def test_period_and_baseline():
    month = report_period("month", AS_OF)
    assert (month.start, month.end, month.baseline) == (date(2026, 3, 1), AS_OF, date(2026, 2, 28))
    quarter = report_period("quarter", date(2026, 6, 30))
    assert (quarter.start, quarter.baseline) == (date(2026, 4, 1), date(2026, 3, 31))


def test_scorecard_counts_and_values(report):
    rows = {r.metric: r for g in report.scorecard for r in g.rows}
    assert [g.outcome for g in report.scorecard] == ["delivery"]
    assert (rows["deploys"].value, rows["deploys"].previous, rows["deploys"].status) == (4.0, 6.0, "amber")
    assert (rows["failures"].value, rows["failures"].status) == (3.0, "red")
    assert rows["hotfix_share"].value == pytest.approx(0.5)
    assert (rows["csat"].value, rows["csat"].status) == (None, "no_data")
    assert report.status_counts == {"green": 0, "amber": 1, "red": 2, "no_data": 1}


def test_red_indicators_and_missing_data_are_open_risks(report):
    assert [(r.metric, r.value, r.owner) for r in report.risks.red] == [
        ("failures", 3.0, "platform"), ("hotfix_share", 0.5, "platform")]
    assert [r.metric for r in report.risks.no_data] == ["csat"]
    assert any(i.rule == "review-overdue" and i.metric == "csat" for i in report.risks.lint)
    assert all(i.level in ("ERROR", "WARNING") for i in report.risks.lint)
    # Only the two rows quarantined in March count; February's batch is before the period.
    assert [(q.dataset, q.reason, q.rows) for q in report.risks.quarantine] == [("deployments", "no time zone", 2)]
    assert report.risks.quarantined_rows == 2


def test_status_changes_are_notable_and_judged_by_direction(report):
    changes = {c.metric: c for c in report.changes}
    assert {c.kind for c in report.changes} == {"status"}
    deploys = changes["deploys"]
    assert (deploys.from_status, deploys.to_status, deploys.from_value, deploys.to_value) == (
        "green", "amber", 6.0, 4.0)
    assert deploys.relative == pytest.approx(-1 / 3) and deploys.improving is False
    assert (changes["failures"].from_status, changes["failures"].to_status) == ("green", "red")
    assert changes["failures"].relative is None  # from 0: no relative move
    assert changes["failures"].improving is False
    assert "csat" not in changes  # no data before and after: no change


def test_a_large_move_without_status_change_is_listed(filled, catalog):
    # April: 3 deployments (amber again, -25 % from March's 4): a move, worse for higher_is_better.
    _deploy(filled, [(f"a{i}", f"2026-04-{i + 2:02d} 10:00:00+00", "success", False) for i in range(3)])
    report = build_report(filled, catalog, as_of=date(2026, 4, 30), generated_at=NOW)
    move = next(c for c in report.changes if c.metric == "deploys")
    assert (move.kind, move.relative, move.improving) == ("move", pytest.approx(-0.25), False)


def test_numbers_are_formatted():
    assert with_unit(0.5, "ratio") == "50 %"
    assert with_unit(0.99891, "ratio") == "99.89 %"
    assert with_unit(1234.5, "deployments") == "1,234 deployments"
    assert with_unit(2.5283, "hours") == "2.53 hours"
    assert with_unit(None, "hours") == "no data"


def test_html_has_the_content_and_no_external_resources(report):
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>")
    text = re.sub(r"<[^>]+>", " ", page)
    text = re.sub(r"\s+", " ", text)
    # scorecard row, RAG as symbol + word, formatted values
    assert "Failed deploys 3 failures" not in text  # unit is `deployments` (from BASE)
    assert "3 deployments" in text and "■ red" in text and "▲ amber" in text and "◇ no data" in text
    assert "50 %" in text and "6 deployments" in text
    assert "● green → ▲ amber" in text and "● green → ■ red" in text
    assert "Red indicators (2)" in text and "Indicators without data (1)" in text
    assert "no time zone" in text and "Rows quarantined at ingest since 1 Mar 2026 (2)" in text
    # charts inline, no scripts, nothing loaded from elsewhere
    assert page.count('class="history-chart"') == 4 and page.count('class="sparkline"') == 4
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page, re.I)
    assert "@page" in page and "break-before: page" in page


def test_html_escapes_catalog_text(filled, tmp_path):
    catalog = load(tmp_path, [indicator(DEPLOYS, name="<b>Deploys</b> & co")])
    page = render_html(build_report(filled, catalog, as_of=AS_OF, generated_at=NOW))
    assert "<b>Deploys</b>" not in page and "&lt;b&gt;Deploys&lt;/b&gt; &amp; co" in page


def _tables(markdown: str) -> list[list[str]]:
    tables, current = [], []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def test_markdown_tables(report):
    md = render_markdown(report)
    assert md.startswith("# Acme report\n")
    for heading in ("## Scorecard", "## Notable changes since 28 Feb 2026", "## Open risks",
                    "### Red indicators (2)", "### Catalog findings"):
        assert heading in md
    tables = _tables(md)
    assert len(tables) >= 4
    for table in tables:
        width = len(re.findall(r"(?<!\\)\|", table[0]))
        assert re.fullmatch(r"\|(---\|)+", table[1])
        assert all(len(re.findall(r"(?<!\\)\|", row)) == width for row in table)
    scorecard = tables[0]
    assert scorecard[0] == "| Indicator | Value | Status | Previous | Trend | Recent periods | Guardrail |"
    deploys = next(row for row in scorecard if row.startswith("| Deploys |"))
    assert "| 4 deployments | ▲ amber | 6 deployments | ↓ worse |" in deploys
    assert "12 periods: 6 → 4 deployments" in deploys  # the chart, summarised in words
    assert "<svg" not in md


def test_markdown_escapes_pipes(filled, tmp_path):
    catalog = load(tmp_path, [indicator(DEPLOYS, name="Deploys | all")])
    md = render_markdown(build_report(filled, catalog, as_of=AS_OF, generated_at=NOW))
    assert "| Deploys \\| all |" in md


def test_unknown_period_is_a_clear_error(filled, catalog):
    with pytest.raises(Exception, match="unknown report period 'week'"):
        build_report(filled, catalog, as_of=AS_OF, period="week")


def test_missing_chromium_is_a_clear_error(report, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("ENGMETRICS_CHROMIUM", raising=False)
    with pytest.raises(ReportRenderError, match="install the Debian package `chromium`"):
        render_pdf(report, tmp_path / "r.pdf")


def test_cli_writes_markdown_html_and_json(workspace, cli, tmp_path):
    write_catalog(workspace, [DEPLOYS, FAILURES], OUTCOMES)
    out = tmp_path / "r.md"
    result = cli("report", "--as-of", "2026-03-31", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out) and out.read_text().startswith("# ")
    result = cli("report", "--as-of", "2026-03-31", "--period", "quarter", "--format", "html", "--out",
                 tmp_path / "r.x")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.x").read_text().startswith("<!DOCTYPE html>")
    result = cli("report", "--as-of", "2026-03-31", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["period"] == {"kind": "month", "start": "2026-03-01", "end": "2026-03-31",
                              "baseline": "2026-02-28"}
    assert {"scorecard", "histories", "changes", "risks", "status_counts"} <= data.keys()
    assert cli("report", "--period", "week").exit_code == 2


def _chromium() -> str | None:
    try:
        return find_chromium()
    except ReportRenderError:
        return None


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="PDF rendering needs Chromium (Debian package `chromium`; "
                    "`make system-packages` installs it)")
def test_pdf_renders_with_chromium(report, tmp_path):
    out = render_pdf(report, tmp_path / "report.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
        assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 2  # the charts start a new page
        assert "A4" in info
    if shutil.which("pdftoppm"):  # page 1 as an image, kept for a look (Debian package poppler-utils)
        subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-r", "60", "-png", str(out), str(tmp_path / "page")],
                       check=True, timeout=60)
        page = next(tmp_path.glob("page*.png"))
        assert page.stat().st_size > 5_000
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
        assert "Acme report" in text and "Red indicators (2)" in text


def test_ratio_charts_scale_an_estimate_interval_with_its_value():
    # a ratio is drawn in percent: 0.003 with 95 % interval 0.002..0.004 becomes 0.3 % with 0.2..0.4 %
    from engmetrics.catalog.history import HistoryPoint
    from engmetrics.report.html import _charts
    from engmetrics.report.model import IndicatorHistory

    points = [HistoryPoint(date(2026, 1, 1), date(2026, 1, 1), 0.003, "amber", 500, None, 0.002, 0.004, True)]
    history = IndicatorHistory("err", "Errors", "ratio", "lower_is_better", "daily", None, points)
    report = type("R", (), {"histories": [history]})()
    [(_, svg)] = _charts(report)
    assert "0.3 %, estimate (95 % interval 0.2 to 0.4 %)" in str(svg)
