from pathlib import Path

from engmetrics.api.docs import render_api_docs

DOCS = Path(__file__).parents[2] / "docs" / "api.md"


def test_api_doc_is_current():
    assert DOCS.read_text() == render_api_docs(), "docs/api.md is stale: run `make docs`"


def test_api_doc_lists_routes_with_their_roles():
    text = render_api_docs()
    assert "| GET | `/healthz` | `healthz` | anyone |" in text
    assert "| POST | `/api/v1/datasets/{dataset}/ingest` | `ingest_dataset` | metrics-admin |" in text
