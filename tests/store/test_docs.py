from pathlib import Path

from engmetrics.store.docs import render_datasets

DOCS = Path(__file__).parents[2] / "docs" / "datasets.md"


def test_datasets_doc_is_current():
    assert DOCS.read_text() == render_datasets(), "docs/datasets.md is stale: run `make docs`"


def test_datasets_doc_names_every_dataset_and_key():
    text = render_datasets()
    assert "## deployments" in text and "Key: `deployment_id`." in text
    assert "| `author` | string | required; pseudonymised |" in text
    assert "- `good <= total`: otherwise \"good is greater than total\"" in text
