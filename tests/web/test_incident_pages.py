"""The incident pages on the data of tests/api/test_incidents_api.py: list, search, detail, redaction."""

from __future__ import annotations

import re

import pytest

from incidents.test_confidentiality import ROWS
from incidents.test_search import add_incidents


@pytest.fixture
def api_store(api_store):
    add_incidents(api_store, ROWS)
    api_store.sql.execute("INSERT INTO action_items (incident_id, item_id, type, created_at, status) VALUES "
                          "('sec', 'rotate', 'mitigate', '2026-03-06 00:00:00+00', 'done')")
    return api_store


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_without_a_session_the_pages_redirect_to_login(client):
    response = client.get("/incidents", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/incidents"


def test_list_page_has_labelled_filters_and_a_table_with_headers(client, auth):
    page = client.get("/incidents", params={"service": "pay", "to": "2026-03-05"}, headers=auth("viewer"))
    assert page.status_code == 200
    assert 'href="/incidents" aria-current="page"' in page.text
    for field in ("q", "service", "severity", "from", "to", "factor"):
        assert f'<label for="{field}">' in page.text and f'id="{field}"' in page.text
    assert '<th scope="col">Title</th>' in page.text and "<caption" in page.text
    rows = re.findall(r'<tr>\s*<th scope="row"><a href="/incidents/(\w+)">.*?</tr>', page.text, re.S)
    assert rows == ["sec", "conf", "int", "pub"]  # service pay, newest first
    text = _text(page.text)
    assert "Card declines" in text and "Slow checkout" in text
    assert "Key exposure" not in text and "Fraud rule bypass" not in text
    assert text.count("[redacted]") == 3  # the intro, sec, conf
    assert "http://" not in page.text and "https://" not in page.text  # no external assets


def test_search_shows_highlighted_snippets_and_never_hidden_text(client, auth):
    viewer = client.get("/incidents", params={"q": "zebra pay"}, headers=auth("viewer"))
    assert viewer.status_code == 200 and "zebra" not in viewer.text.replace('value="zebra pay"', "").replace(
        "for “zebra pay”", "")
    admin = client.get("/incidents", params={"q": "zebra key"}, headers=auth("metrics-admin"))
    assert "the <mark>zebra</mark> <mark>key</mark> was exposed" in admin.text
    assert "2 results for “zebra key”" in _text(admin.text)


def test_bad_filters_say_what_is_wrong(client, auth):
    page = client.get("/incidents", params={"from": "soon"}, headers=auth("viewer"))
    assert page.status_code == 422 and "not an ISO date or datetime: &#39;soon&#39;" in page.text
    page = client.get("/incidents", params={"severity": "9"}, headers=auth("viewer"))
    assert page.status_code == 422 and "severity must be 1 to 5" in page.text


def test_detail_page_redacts_for_a_viewer_and_shows_everything_to_an_auditor(client, auth):
    viewer = client.get("/incidents/sec", headers=auth("viewer"))
    assert viewer.status_code == 200
    text = _text(viewer.text)
    assert "sec: [redacted]" in text and "This incident is restricted" in text
    assert "Key exposure" not in text and "zebra" not in text and "secrets" not in text
    assert "2026-03-05 10:00 UTC : declared" in text and "rotate" in text and "No postmortem imported." in text
    auditor = _text(client.get("/incidents/sec", headers=auth("auditor")).text)
    assert "sec: Key exposure" in auditor and "the zebra key was exposed" in auditor
    assert "yes, 10 users affected" in auditor


def test_detail_of_an_unknown_incident_is_a_404_page(client, auth):
    page = client.get("/incidents/nope", headers=auth("viewer"))
    assert page.status_code == 404 and "There is no incident &#39;nope&#39;" in page.text
