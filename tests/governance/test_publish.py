"""`engmetrics catalog publish`: the static site's files, its links (every relative link resolves inside the
site), the index listing every indicator, and the governance sections with and without a store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from catalog_helpers import BASE, GUARD, OUTCOMES, indicator, write_catalog

from engmetrics.catalog.loader import Catalog, Definition
from engmetrics.catalog.model import Indicator
from engmetrics.catalog.version import definition_version
from engmetrics.governance import archive, board
from engmetrics.governance.publish import GENERATOR, index_groups, publish_site

LEAD = indicator(BASE, id="lead_time", name="Lead time", outcome="deploys", guardrail=None, unit="hours",
                 direction="lower_is_better", calculation={
                     "dataset": "changes", "time_column": "merged_at",
                     "measure": {"type": "percentile", "start": "created_at", "end": "merged_at", "percentile": 0.9}},
                 thresholds={"green": {"max": 24}, "red": {"min": 24}})
PROMO = indicator(BASE, id="promo_reviews", name="Reviews for promotion", outcome="people", guardrail="missing_one",
                  status="proposed", affects=["promotion"], owner={"team": ["a", "b"]},
                  calculation={"dataset": "reviews", "measure": {"type": "count"}})
ORPHAN = indicator(BASE, id="cloud_cost", name="Cloud cost", outcome=None, guardrail=None, status="deprecated",
                   unit="USD", calculation={"calculator": "delivery.deployments_per_day"})
OUTS = [*OUTCOMES, {"id": "people", "name": "Healthy teams", "description": "People <grow> here."}]


class Links(HTMLParser):
    """Every href/src of a page, the ids it defines, and the text of tags we look for."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.scripts = 0
        self.rows: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.links += [v for k, v in attrs if k in ("href", "src") and v is not None]
        if a.get("id"):
            self.ids.add(a["id"])
        self.scripts += tag == "script"
        if tag == "tr" and a.get("data-metric"):
            self.rows.append(a["data-metric"])


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def site_files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


@pytest.fixture
def root(tmp_path) -> Path:
    write_catalog(tmp_path / "ws", [BASE, GUARD, LEAD, PROMO, ORPHAN], OUTS)
    return tmp_path / "ws"


def test_site_files_and_counts(root, tmp_path):
    result = publish_site(root, tmp_path / "site")
    assert result.to_dict() == {"out": str(tmp_path / "site"), "pages": 7, "indicators": 5}
    assert site_files(tmp_path / "site") == [
        "datasets.html", "index.html", "indicators/cloud_cost.html", "indicators/deploys.html",
        "indicators/failures.html", "indicators/lead_time.html", "indicators/promo_reviews.html", "style.css"]


def test_every_relative_link_resolves_inside_the_site_and_nothing_is_fetched(root, tmp_path):
    out = tmp_path / "site"
    publish_site(root, out)
    checked = 0
    for page in out.rglob("*.html"):
        parsed = parse(page)
        assert parsed.scripts == 0, page
        for link in parsed.links:
            parts = urlsplit(link)
            assert not parts.scheme and not parts.netloc and not link.startswith("/"), (page, link)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_file(), (page, link)
            assert out.resolve() in target.parents, (page, link)
            if parts.fragment:
                assert parts.fragment in parse(target).ids, (page, link)
            checked += 1
    assert checked > 50


def test_index_lists_every_indicator_grouped_by_outcome(root, tmp_path):
    publish_site(root, tmp_path / "site")
    index = tmp_path / "site" / "index.html"
    assert parse(index).rows == ["deploys", "lead_time", "failures", "promo_reviews", "cloud_cost"]
    html = index.read_text()
    assert "5 indicators: 3 active, 1 proposed, 1 deprecated." in html
    # Outcome headings in declared order, then the indicators without one; descriptions escaped.
    assert html.index("Fast, safe delivery") < html.index("Healthy teams") < html.index("(no outcome)")
    assert "People &lt;grow&gt; here." in html
    assert '<tr class="depth-1" data-metric="lead_time">' in html  # lead_time sits under deploys
    assert '<code>missing_one</code> <span class="small">(not in the catalog)</span>' in html
    assert f'<meta name="generator" content="{GENERATOR}">' in html


def test_indicator_page_without_a_store(root, tmp_path):
    publish_site(root, tmp_path / "site")
    html = (tmp_path / "site" / "indicators" / "lead_time.html").read_text()
    assert ("p90 (exact, interpolated) of merged_at - created_at in hours over rows of <code>changes</code>, using "
            "only rows where both are set, by week of merged_at.") in html
    assert "No value when no row has both times set." in html
    assert "<dt>Owner</dt><dd>platform (engineering manager)</dd>" in html
    assert '<a href="../datasets.html#ds-changes"><code>changes</code></a>' in html
    assert "<th scope=\"row\"><code>created_at</code></th><td>timestamp</td>" in html
    assert "below 24 hours" in html and "Lower is better." in html
    assert "No approvals recorded." in html and "No history recorded." in html
    assert "No impact assessment recorded (assessments/lead_time.yaml)." in html
    assert "percentile: 0.9" in html  # the definition as YAML
    promo = (tmp_path / "site" / "indicators" / "promo_reviews.html").read_text()
    assert "Needs review-board approval before it computes." in promo
    assert "No review board is configured (policies/review_board.yaml)." in promo
    assert "<dt>Owner</dt><dd>a, b</dd>" in promo
    orphan = (tmp_path / "site" / "indicators" / "cloud_cost.html").read_text()
    assert "A built-in calculator reads the store directly; it declares no datasets." in orphan
    assert "The calculator: Successful deployments to <code>environment</code> started in the period" in orphan


def test_datasets_page_lists_each_dataset_the_catalog_reads(root, tmp_path):
    publish_site(root, tmp_path / "site")
    parsed = parse(tmp_path / "site" / "datasets.html")
    assert {i for i in parsed.ids if i.startswith("ds-") and not i.endswith("-h")} == {
        "ds-deployments", "ds-changes", "ds-reviews"}


def test_governance_sections_from_the_store(root, tmp_path, store):
    (root / "policies").mkdir()
    (root / "policies" / "review_board.yaml").write_text("name: People board\nmembers: [ana, ben]\nquorum: 1\n")
    (root / "assessments").mkdir()
    (root / "assessments" / "promo_reviews.yaml").write_text(yaml.safe_dump({
        "intended_behaviour_change": "More careful reviews", "gaming_risks": ["rubber-stamping"],
        "groups_harmed": ["part-time staff"], "guardrails": ["deploys"], "review_date": "2026-09-01"}))
    archive.record_definitions(store, root, at=datetime(2026, 3, 1, tzinfo=UTC), actor="ci")
    promo = Indicator.model_validate(PROMO)
    the_board = board.load_review_board(root)
    board.propose(store, the_board, promo, "dee", at=datetime(2026, 3, 2, tzinfo=UTC))
    board.approve(store, the_board, promo, "ana", "weekly, groups of 5", at=datetime(2026, 3, 3, tzinfo=UTC))
    write_catalog(root, [BASE, GUARD, LEAD, indicator(PROMO, thresholds={"green": {"min": 6}, "red": {"max": 6}}),
                         ORPHAN], OUTS)
    archive.record_definitions(store, root, at=datetime(2026, 3, 10, tzinfo=UTC), actor="ci")

    publish_site(root, tmp_path / "site", store=store)
    html = (tmp_path / "site" / "indicators" / "promo_reviews.html").read_text()
    assert "Board: People board (quorum 1 of 2)." in html
    assert '<strong class="approval-state">lapsed</strong>' in html
    assert "<th scope=\"row\">approve</th><td>ana</td>" in html and "weekly, groups of 5" in html
    assert "In effect from 2026-03-10T00:00:00+00:00" in html and "· changed" in html
    assert ('<tr><th scope="row"><code>thresholds.green.min</code></th><td class="kind-changed">changed</td>'
            '<td><code>5.0</code></td><td><code>6.0</code></td></tr>') in html
    assert "In effect from 2026-03-01T00:00:00+00:00" in html and "first recorded" in html
    assert "<dt>Intended behaviour change</dt><dd>More careful reviews</dd>" in html
    assert '<li><a href="../indicators/deploys.html">Deploys</a> <code>deploys</code></li>' in html
    lead = (tmp_path / "site" / "indicators" / "lead_time.html").read_text()
    assert "No approvals recorded." in lead and "first recorded" in lead
    assert "not yet recorded in the archive" not in html + lead  # both current versions are archived


def test_a_current_version_not_yet_archived_is_flagged(root, tmp_path, store):
    archive.record_definitions(store, root, at=datetime(2026, 3, 1, tzinfo=UTC), actor="ci")
    changed = indicator(LEAD, thresholds={"green": {"max": 12}, "red": {"min": 12}})
    write_catalog(root, [BASE, GUARD, changed, PROMO, ORPHAN], OUTS)  # edited, not recorded (publish records nothing)
    publish_site(root, tmp_path / "site", store=store)
    html = (tmp_path / "site" / "indicators" / "lead_time.html").read_text()
    current = definition_version(Indicator.model_validate(changed))
    assert (f'<p class="unrecorded">The current version, <code>{current}</code>, is not yet recorded in the archive: '
            "the history below ends before it.") in html
    assert "(current)" not in html  # the newest archived version is the old one
    deploys = (tmp_path / "site" / "indicators" / "deploys.html").read_text()
    assert "not yet recorded" not in deploys and "(current)" in deploys
    store.sql.execute("DELETE FROM _definitions WHERE id = 'deploys'")
    publish_site(root, tmp_path / "site", store=store)
    deploys = (tmp_path / "site" / "indicators" / "deploys.html").read_text()
    assert "is not yet recorded in the archive. <code>engmetrics" in deploys and "No history recorded." in deploys


def test_republishing_removes_pages_of_removed_indicators_only(root, tmp_path):
    out = tmp_path / "site"
    publish_site(root, out)
    (out / "indicators" / "notes.html").write_text("<p>mine</p>")
    write_catalog(root, [BASE, GUARD], OUTS)
    assert publish_site(root, out).indicators == 2
    assert site_files(out) == ["datasets.html", "index.html", "indicators/deploys.html", "indicators/failures.html",
                               "indicators/notes.html", "style.css"]


def test_indicators_in_an_outcome_cycle_are_still_listed():
    a = Indicator.model_validate(indicator(BASE, id="a", outcome="b", guardrail=None))
    b = Indicator.model_validate(indicator(BASE, id="b", outcome="a", guardrail=None))
    groups = index_groups(Catalog([Definition(a, "m.yaml", 1), Definition(b, "m.yaml", 2)]))
    assert [(g.name, [(d.id, depth) for d, depth in g.rows]) for g in groups] == [
        ("(outcome cycle)", [("a", 0), ("b", 0)])]


def test_cli_publish_json_and_default_directory(cli, workspace):
    result = cli("catalog", "publish", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"out": str(workspace / "site"), "pages": 4, "indicators": 2}
    assert (workspace / "site" / "indicators" / "change_failure_rate.html").is_file()
    other = workspace.parent / "elsewhere"
    result = cli("catalog", "publish", "--out", other)
    assert result.exit_code == 0, result.output
    assert "Wrote 4 pages (2 indicators)" in result.stdout
    assert (other / "index.html").is_file()


def test_cli_publish_bad_catalog_exits_1(cli, workspace):
    (workspace / "metrics" / "bad.yaml").write_text("id: x\nname: X\n")
    result = cli("catalog", "publish")
    assert result.exit_code == 1
    assert "metrics/bad.yaml:1" in result.output
