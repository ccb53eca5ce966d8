"""The app evaluates the catalog once per as-of date, data and definitions, for every route that shows
values; an upload or an edited definition file makes the next request evaluate again. Values as in
conftest: 6 deploys in the week 2026-03-25..31 (2 the week before).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from catalog_helpers import BASE, GUARD, OUTCOMES
from fastapi.testclient import TestClient

import engmetrics.catalog.cache as cache_module

from .conftest import INCIDENTS

AS_OF = {"as_of": "2026-03-31"}


class Calls:
    """The as-of dates of the evaluations the app started; each takes at least `delay` seconds."""

    def __init__(self) -> None:
        self.dates: list[str] = []
        self.delay = 0.0


@pytest.fixture
def calls(monkeypatch) -> Calls:
    recorded, real = Calls(), cache_module.evaluate

    def counting(store, catalog, as_of, **options):
        recorded.dates.append(as_of.isoformat())
        time.sleep(recorded.delay)
        return real(store, catalog, as_of, **options)

    monkeypatch.setattr(cache_module, "evaluate", counting)
    return recorded


def _deploys(client: TestClient, headers: dict[str, str]) -> float:
    rows = client.get("/api/v1/metrics", params=AS_OF, headers=headers).json()
    return next(r["value"] for r in rows if r["metric"] == "deploys")


def test_values_scorecard_and_repeats_share_one_evaluation(client, auth, calls):
    assert _deploys(client, auth("viewer")) == 6.0
    assert _deploys(client, auth("manager")) == 6.0
    groups = client.get("/api/v1/scorecard", params=AS_OF, headers=auth("viewer")).json()
    assert {r["metric"] for r in groups[0]["rows"]} == {"deploys", "failures", "incidents"}
    assert calls.dates == ["2026-03-31"]
    client.get("/api/v1/scorecard", params={"as_of": "2026-03-24"}, headers=auth("viewer"))
    assert calls.dates == ["2026-03-31", "2026-03-24"]  # another as-of date is another evaluation


def test_team_scope_is_applied_after_the_cache(client, auth, calls):
    viewer = client.get("/api/v1/metrics", params=AS_OF, headers=auth("viewer")).json()
    member = client.get("/api/v1/metrics", params=AS_OF, headers=auth("team-member")).json()
    assert len(viewer) == 4 and len(member) == 3  # search's incidents row is not the member's
    assert len(calls.dates) == 1


def test_prometheus_metrics_evaluate_once(client, auth, calls):
    first = client.get("/metrics", headers=auth("viewer"))
    second = client.get("/metrics", headers=auth("viewer"))
    assert first.status_code == 200 and first.text == second.text
    assert len(calls.dates) == 1


def test_an_upload_invalidates(app, client, auth, calls):
    assert _deploys(client, auth("viewer")) == 6.0
    body = b"deployment_id,service,environment,started_at,status\nd10,pay,production,2026-03-29T12:00:00Z,success\n"
    answer = client.post("/api/v1/datasets/deployments/ingest", files=[("files", ("d.csv", body))],
                         headers=auth("metrics-admin"))
    assert answer.json()["inserted"] == 1
    assert len(app.state.evaluations) == 0  # emptied by the write request
    assert _deploys(client, auth("viewer")) == 7.0
    assert calls.dates == ["2026-03-31", "2026-03-31"]


def test_an_edited_definition_file_invalidates(client, auth, settings, calls):
    rows = client.get("/api/v1/metrics", params={**AS_OF, "metric": "deploys"}, headers=auth("viewer")).json()
    assert rows[0]["status"] == "green"  # 6 >= 5
    edited = {**BASE, "thresholds": {"green": {"min": 10}, "amber": {"min": 7, "max": 10}, "red": {"max": 7}}}
    doc = {"outcomes": OUTCOMES, "indicators": [edited, GUARD, INCIDENTS]}
    (settings.workspace / "metrics" / "delivery.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    rows = client.get("/api/v1/metrics", params={**AS_OF, "metric": "deploys"}, headers=auth("viewer")).json()
    assert rows[0]["status"] == "red"  # 6 < 7
    assert len(calls.dates) == 2


def test_fifty_concurrent_clients_evaluate_once(app, auth, calls):
    calls.delay = 0.5  # long enough that every client arrives while the first is still evaluating
    started = threading.Barrier(50)

    def one(_: int) -> tuple[int, float]:
        client = TestClient(app)
        started.wait(10)
        answer = client.get("/api/v1/metrics", params=AS_OF, headers=auth("viewer"))
        return answer.status_code, next(r["value"] for r in answer.json() if r["metric"] == "deploys")

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(one, range(50)))
    assert set(answers) == {(200, 6.0)}
    assert calls.dates == ["2026-03-31"]


def test_an_exclusive_provider_versions_request_stores_by_its_own_writes():
    from engmetrics.api.state import StoreProvider
    from engmetrics.store import Store

    with Store.open("duckdb://") as shared:
        provider = StoreProvider(shared, exclusive=True)
        with provider.reader() as store:
            assert store.known_version == (0,)
            assert "sql" not in store.__dict__  # no cursor until the request touches the store
        with provider.writer() as store:
            store.sql.execute("INSERT INTO holidays VALUES ('uk', DATE '2026-12-25', 'Christmas')")
        with provider.reader() as store:
            assert store.known_version == (1,)
            assert store.count("holidays") == 1
        with StoreProvider(shared).reader() as store:  # not exclusive: caches probe the store instead
            assert store.known_version is None


def test_ready_returns_only_finished_evaluations():
    from datetime import date

    from engmetrics.catalog.cache import EvaluationCache
    from engmetrics.catalog.loader import Catalog
    from engmetrics.store import Store

    cache = EvaluationCache()
    with Store.open("duckdb://") as store:
        assert cache.ready(store, Catalog(), date(2026, 3, 31)) is None
        assert cache.evaluate(store, Catalog(), date(2026, 3, 31)) == []
        assert cache.ready(store, Catalog(), date(2026, 3, 31)) == []
        assert cache.ready(store, Catalog(), date(2026, 3, 30)) is None
