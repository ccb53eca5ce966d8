"""The dashboard pages rendered by the app on an in-memory store (as of 2026-03-31, weekly periods)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

AS_OF = {"as_of": "2026-03-31"}


class _Outline(HTMLParser):
    """Collects what the accessibility checks need: lang, title, h1s, svgs with/without title, img alts."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.title = ""
        self.h1 = 0
        self.svg_depth = 0
        self.svgs: list[bool] = []
        self.imgs_without_alt = 0
        self.first_link: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "title":
            self._in_title = self.svg_depth == 0
            if self.svg_depth == 1:
                self.svgs[-1] = True
        elif tag == "h1":
            self.h1 += 1
        elif tag == "svg":
            self.svg_depth += 1
            self.svgs.append(False)
            assert a.get("role") == "img"
        elif tag == "img" and not a.get("alt"):
            self.imgs_without_alt += 1
        elif tag == "a" and self.first_link is None:
            self.first_link = a.get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg_depth -= 1
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_login_page_is_public_and_posts_the_token(client):
    page = client.get("/login", params={"next": "/catalog"})
    assert page.status_code == 200
    assert '<form class="login-form" method="post" action="/login">' in page.text
    assert 'name="token"' in page.text and 'value="/catalog"' in page.text
    assert 'value="https://evil.example"' not in client.get("/login", params={"next": "https://evil.example"}).text


@pytest.mark.parametrize("path", ["/", "/catalog?q=x", "/datasets", "/quarantine", "/indicators/deploys"])
def test_pages_redirect_to_login_without_a_session(client, path):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/")


def test_login_sets_a_session_the_pages_accept(client, tokens):
    response = client.post("/login", data={"token": tokens["viewer"], "next": "/catalog"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/catalog"
    page = client.get("/catalog")  # the TestClient keeps the cookie
    assert page.status_code == 200 and "<h1>Catalog</h1>" in page.text
    client.post("/logout")
    assert client.get("/catalog", follow_redirects=False).status_code == 303


def test_overview_shows_the_red_indicator_and_what_changed(client, auth):
    page = client.get("/", params=AS_OF, headers=auth("viewer"))
    assert page.status_code == 200
    text = _text(page.text)
    assert "All incidents" in text
    row = re.search(r'<tr class="row-red">.*?</tr>', page.text, re.S)
    assert row is not None and "All incidents" in row.group(0) and "Red" in _text(row.group(0))
    assert "■" in row.group(0)  # the shape, not just the colour
    # All incidents went from amber (1) to red (3); deploys from amber (2) to green (6).
    assert re.search(r"All incidents.{0,40}Amber → to ■ Red \(worse\)", text)
    assert re.search(r"Deploys.{0,40}Amber → to ● Green \(better\)", text)
    assert "2 → to 6 deployments (+200%) better" in text
    assert "Fast, safe delivery" in text  # grouped by outcome
    assert page.text.count('class="sparkline"') >= 4


def test_overview_respects_team_scope(client, auth):
    member = _text(client.get("/", params=AS_OF, headers=auth("team-member")).text)
    viewer = _text(client.get("/", params=AS_OF, headers=auth("viewer")).text)
    assert "Incidents per team (payments)" in member and "(search)" not in member
    assert "Incidents per team (payments)" in viewer and "Incidents per team (search)" in viewer


def test_indicator_page(client, auth):
    page = client.get("/indicators/deploys", params=AS_OF, headers=auth("viewer"))
    assert page.status_code == 200
    text = _text(page.text)
    assert "<h1>Deploys</h1>" in page.text
    assert "platform, engineering manager" in text
    assert ("<dd>Count of rows of <code>deployments</code>, by week of started_at. A period without rows is 0 when "
            "<code>deployments</code> has data on both sides of it; otherwise there is no value.</dd>") in page.text
    assert page.text.count('class="history-chart"') == 2  # its own chart and the guardrail's
    assert page.text.count('<g class="band band-') == 6
    assert 'href="/indicators/failures?as_of=2026-03-31">Failed deploys</a>' in page.text
    assert "5 deployments or more" in text


def test_indicator_page_scopes_per_team_history(client, auth):
    member = client.get("/indicators/incidents", params=AS_OF, headers=auth("team-member")).text
    manager = client.get("/indicators/incidents", params=AS_OF, headers=auth("manager")).text
    assert "payments" in member and "search" not in member
    assert "search" in manager


def test_unknown_indicator_is_a_404_page(client, auth):
    page = client.get("/indicators/nope", headers=auth("viewer"))
    assert page.status_code == 404 and "no indicator &#39;nope&#39;" in page.text


def test_catalog_search_filters_server_side(client, auth):
    everything = _text(client.get("/catalog", headers=auth("viewer")).text)
    assert "4 of 4 indicators" in everything
    found = _text(client.get("/catalog", params={"q": "FAILED deploys"}, headers=auth("viewer")).text)
    assert "1 of 4 indicators match “FAILED deploys”" in found
    assert "Failed deploys" in found and "Incidents per team" not in found
    assert "0 of 4" in _text(client.get("/catalog", params={"q": "<script>"}, headers=auth("viewer")).text)
    assert "<script>" not in client.get("/catalog", params={"q": "<script>"}, headers=auth("viewer")).text


def test_datasets_and_quarantine(client, auth):
    datasets = client.get("/datasets", headers=auth("viewer"))
    assert re.search(r"<code>deployments</code>.*?<td class=\"num\">9</td>", datasets.text, re.S)
    assert client.get("/quarantine", headers=auth("viewer")).status_code == 403
    quarantine = client.get("/quarantine", headers=auth("auditor"))
    assert quarantine.status_code == 200 and "<h1>Quarantine</h1>" in quarantine.text
    bad = client.get("/quarantine", params={"dataset": "nope"}, headers=auth("auditor"))
    assert bad.status_code == 200 and "Unknown dataset" in bad.text
    assert 'href="/quarantine"' not in datasets.text  # a viewer is not offered the link


@pytest.mark.parametrize("path", ["/login", "/", "/indicators/deploys", "/indicators/all_incidents", "/catalog",
                                  "/datasets", "/quarantine", "/indicators/nope"])
def test_accessibility_basics(client, auth, path):
    response = client.get(path, params=AS_OF, headers=auth("metrics-admin"))
    outline = _Outline()
    outline.feed(response.text)
    assert outline.lang == "en"
    assert outline.title.strip().endswith("· engmetrics")
    assert outline.h1 == 1
    assert all(outline.svgs), "every svg needs a <title>"
    assert outline.imgs_without_alt == 0
    assert outline.first_link == "#main" and 'id="main"' in response.text


def test_stylesheet_is_served(client):
    css = client.get("/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in css.text and "@media" in css.text


def test_a_browser_with_a_bad_token_gets_the_form_again(client):
    response = client.post("/login", data={"token": "emt_bad", "next": "/catalog"}, follow_redirects=False,
                           headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?error=")
    page = client.get(response.headers["location"])
    assert "not accepted" in page.text and 'value="/catalog"' in page.text
    assert client.post("/login", data={"token": "emt_bad"}, follow_redirects=False).status_code == 401
