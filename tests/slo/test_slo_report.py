"""The SLO leadership report on the hand-counted scenario of test_attribution: summary lines, attribution
tables, policy stages, self-contained HTML, no people named, deterministic output, and the CLI command."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_attribution import AT, PEOPLE, SEARCH, fill, specs
from typer.testing import CliRunner

from engmetrics.cli.main import app
from engmetrics.slo.policy import check_policies
from engmetrics.slo.report import build_slo_report, render_html, render_markdown
from engmetrics.store import Store

# checkout: 47 of 63 allowed bad events used (74.6 %), INC-1 25 of 47 (53.2 %); search: 3 bad slices of 1
# allowed (300 %, overspent), 1 of 3 each (33.3 %).
CHECKOUT_LINE = "checkout has used 74.6 % of its 7-day availability budget; 53.2 % of that during INC-1."
SEARCH_LINE = "search has used 300 % of its 7-day fast responses budget (overspent); 33.3 % of that during INC-2."
POLICY = """\
kind: ErrorBudgetPolicy
name: reliability-first
services: [checkout]
stages:
  - {name: green, below: null, actions: [ship]}
  - {name: careful, below: 0.9, actions: [extra review for risky changes]}
  - {name: slow-down, below: 0.2, actions: [one release a day]}
  - {name: stop, below: 0.0, block_releases: true, actions: [reliability work only]}
"""


@pytest.fixture
def store():
    with Store.open("duckdb://") as s:
        fill(s)
        yield s


def test_markdown_lines(store, tmp_path):
    report = build_slo_report(store, specs(tmp_path), AT, title="Acme: SLO report")
    text = render_markdown(report)
    lines = text.splitlines()
    assert lines[0] == "# Acme: SLO report"
    assert "Error budgets as of 1 Mar 2026 00:00 UTC." in lines
    # Least budget left first: search (overspent) before checkout.
    assert [s.service for s in report.services] == ["search", "checkout"]
    assert f"| search | {SEARCH_LINE} | freeze | frozen |" in lines
    assert f"| checkout | {CHECKOUT_LINE} | warn | allowed |" in lines
    assert f"**{CHECKOUT_LINE}**" in lines
    # Budget status: target, SLI 20,953 / 21,000, 16/63 left, 1-day burn (47/21,000)/0.3 %, 25.4 % x 168 h / 0.746.
    assert ("| checkout-availability | availability | 7d | 99.7 % | 99.776 % | 25.4 % | ● ok | 0.746× | 2.38 days |"
            in lines)
    assert "| search-latency | fast responses | 7d | 99 % | 97 % | −200 % | ■ exhausted | 3× | – |" in lines
    # What consumed it: shares of the 47 consumed and of the 63 allowed.
    assert "#### checkout-availability · availability · 7d: 47 bad events of 63 allowed (Occurrences)" in lines
    assert ("| Incident INC-1: Checkout database failover | 28 Feb 2026 10:05–10:20 UTC | 25 bad events | 53.2 % "
            "| 39.7 % |") in lines
    assert ("| Incident INC-3: Payment provider timeouts | 28 Feb 2026 13:50 UTC – still open | 2 bad events "
            "| 4.26 % | 3.17 % |") in lines
    assert ("| Within 1h after deployment D-1 (success) | 28 Feb 2026 12:00 UTC | 10 bad events | 21.3 % | 15.9 % |"
            in lines)
    assert "| Unattributed (no incident or deployment window) |  | 5 bad events | 10.6 % | 7.94 % |" in lines
    assert ("| maintenance window MW-1 | database upgrade | 28 Feb 2026 11:00–11:30 UTC | 3,000 | 8 | 12.7 % |"
            in lines)
    assert "#### search-latency · fast responses · 7d: 3 bad slices of 1 allowed (Timeslices)" in lines
    assert ("| Within 1h after deployment D-4 (failure) | 28 Feb 2026 10:45 UTC | 1 bad slice | 33.3 % | 100 % |"
            in lines)
    # The default policy: checkout 25.4 % left is below 50 %: warn; next, freeze once overspent, in
    # 2.38 days x (0.254 - 0) / 0.254 at the current 1-day burn rate.
    assert "- Stage warn (releases allowed) under policy built-in default (built-in)." in lines
    assert ("- Next: stage freeze (releases frozen) once the budget is overspent (at the current 1-day burn rate "
            "in about 2.38 days); its actions: freeze feature releases; reliability work only.") in lines
    assert "- Stage freeze (releases frozen) under policy built-in default (built-in)." in lines
    assert "- Next: no harsher stage in this policy." in lines
    assert "INC-4" not in text and "INC-9" not in text and "D-3" not in text and "D-5" not in text


def test_no_people_named(store, tmp_path):
    # A release-gate override (made by a person) opens search's frozen gate: mentioned, its author not.
    store.sql.execute("""
        INSERT INTO release_gate_overrides VALUES ('o1', 'search', 'search-latency', 'freeze',
        'Carol Person approved the hotfix', 'Carol Person', '2026-02-28 20:00:00+00', '2026-03-01 06:00:00+00')""")
    report = build_slo_report(store, specs(tmp_path), AT)
    text, page = render_markdown(report), render_html(report)
    assert ("- Stage freeze (releases allowed by an override in force until 1 Mar 2026 06:00 UTC) under policy "
            "built-in default (built-in).") in text.splitlines()
    for name in PEOPLE:
        for part in name.split():
            if part not in ("Example",):
                assert part not in text and part not in page, part
    assert "payments-team" not in text  # teams are not named either: systems and events only


class _Page(HTMLParser):
    """Collects start/end tags, URLs in attributes and text."""

    VOID = frozenset({"meta", "br", "img", "link", "input", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.urls += [v for k, v in attrs if k in ("href", "src") and v]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_and_reuses_the_report_css(store, tmp_path):
    page = render_html(build_slo_report(store, specs(tmp_path), AT, title="Acme <SLOs>"))
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.stack == []  # every element closed, in order
    assert parser.urls == [] and not re.search(r"https?://|//cdn|@import|url\(", page)
    assert "script" not in parser.tags and "link" not in parser.tags
    assert "Acme &lt;SLOs&gt;" in page  # escaped
    assert "--amber: #9a6400" in page  # the metrics report's stylesheet
    text = " ".join(" ".join(parser.text).split())
    assert CHECKOUT_LINE in text and SEARCH_LINE in text
    assert "Incident INC-1: Checkout database failover" in text
    assert '<span class="status status-red">■ exhausted</span>' in page


def test_deterministic_for_a_given_at(store, tmp_path):
    slos = specs(tmp_path)
    first = build_slo_report(store, slos, AT)
    again = build_slo_report(store, slos, datetime(2026, 3, 1))  # naive: UTC, the same instant
    assert render_markdown(first) == render_markdown(again) and render_html(first) == render_html(again)
    assert first.to_dict()["services"][1]["objectives"][0]["attribution"]["consumed"] == 47.0


def test_workspace_policy_and_insufficient_data(store, tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "budget.yaml").write_text(POLICY)
    policies = check_policies(tmp_path)
    assert policies.errors == []
    report = build_slo_report(store, specs(tmp_path), AT, policies=policies.policies, min_events=15_000)
    text = render_markdown(report)
    # checkout: 25.4 % left is under 90 % but not under 20 %: careful; next slow-down below 20 %:
    # 2.38 days x (0.254 - 0.2) / 0.254 = 12.2 h.
    assert "- Stage careful (releases allowed) under policy reliability-first (policies/budget.yaml:1)." in text
    assert ("- Next: stage slow-down when less than 20 % of the budget is left (at the current 1-day burn rate in "
            "about 12.2 h); its actions: one release a day.") in text
    # search has 10,000 events, fewer than 15,000: not judged; the default policy allows releases then.
    assert ("search does not have enough events to judge its budgets yet (10,000 events in the 7-day window of "
            "fast responses).") in text
    assert "| search-latency | fast responses | 7d | 99 % | 97 % | −200 % | ◇ insufficient data |" in text


def test_skipped_and_empty(tmp_path):
    prometheus = SEARCH.replace("type: engmetrics, spec: {dataset: sli_events, service: search, indicator: latency, "
                                "column: good}", "type: prometheus, spec: {query: 'sum(rate(x[5m]))'}")
    with Store.open("duckdb://") as store:
        text = render_markdown(build_slo_report(store, specs(tmp_path, prometheus), AT))
    assert "No SLO could be computed from the store." in text
    assert "## Not computed here" in text and "- search-latency: its indicator reads prometheus" in text


def _cli(workspace: Path, *args: str):
    return CliRunner().invoke(app, ["-w", str(workspace), "slo", "report", *(str(a) for a in args)])


def test_cli_writes_markdown_and_html(workspace, tmp_path):
    specs(workspace)  # writes workspace/slos/spec.yaml
    with Store.open(f"duckdb://{workspace / '.engmetrics' / 'store.duckdb'}") as store:
        fill(store)
    result = _cli(workspace, "--at", "2026-03-01T00:00:00")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# my-organisation: SLO report\n")
    assert CHECKOUT_LINE in result.stdout
    out = tmp_path / "out" / "slo.html"
    result = _cli(workspace, "--format", "html", "--at", "2026-03-01T00:00:00", "--out", str(out),
                  "--deploy-window", "30m")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "within 30m after a production deployment" in page
    assert _cli(workspace, "--deploy-window", "soon").exit_code != 0


def test_composite_slo_shows_in_the_budget_table_only(tmp_path):
    from test_attribution import fill_journey, journey_doc

    with Store.open("duckdb://") as store:
        fill_journey(store)
        report = build_slo_report(store, specs(tmp_path, journey_doc()), AT)
    text = render_markdown(report)
    lines = text.splitlines()
    [service] = report.services
    assert [o.status["objective"] for o in service.objectives] == ["cart", "pay", "composite"]
    assert service.objectives[2].attribution is None
    # Composite: target (2 x 99.9 + 99.5) / 3 = 99.767 %, SLI (2 x 99.9 + 99) / 3 = 99.6 %; budget left
    # 1 - 0.4 / 0.2333 = -71.4 %; 1-day burn: error ratio (2 x 0.001 + 0.01) / 3 = 0.004 / 0.002333 = 1.71.
    assert "| checkout-journey | composite | 7d | 99.767 % | 99.6 % | −71.4 % | ■ exhausted | 1.71× | – |" in lines
    assert "| checkout-journey | pay | 7d | 99.5 % | 99 % | −100 % | ■ exhausted | 2× | – |" in lines
    headings = [line for line in lines if line.startswith("#### ")]
    assert headings == ["#### checkout-journey · cart · 7d: 10 bad events of 10 allowed (Occurrences)",
                        "#### checkout-journey · pay · 7d: 100 bad events of 50 allowed (Occurrences)"]
    # pay has the least budget left (-100 %): it drives the summary and the gate.
    assert service.summary == ("checkout has used 200 % of its 7-day pay budget (overspent); 100 % of that "
                               "during INC-7.")
    assert report.to_dict()["services"][0]["objectives"][2]["attribution"] is None
    assert "composite" in render_html(report)


def test_a_composite_driving_the_summary_has_no_cause():
    from engmetrics.slo.report import ObjectiveBudget, _summary

    status = {"slo": "j", "objective": "composite", "objective_index": None, "window": "7d", "state": "exhausted",
              "error_budget": {"remaining": -0.5}}
    assert _summary("checkout", [ObjectiveBudget(status, None)]) == ("checkout has used 150 % of its 7-day "
                                                                     "composite budget (overspent).")
