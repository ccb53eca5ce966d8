"""The evaluation cache: computed once per key, new keys after an ingest or a definition change, separate
as-of dates, bounded, and one evaluation for many concurrent callers. Values are hand-counted.

As of 2026-03-31, weekly: current week 2026-03-25..31, previous 2026-03-18..24.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import ibis
import pytest
from catalog_helpers import BASE, OUTCOMES, indicator

import engmetrics.catalog.cache as cache_module
from engmetrics.catalog.cache import EvaluationCache, catalog_version, data_version
from engmetrics.catalog.loader import Catalog, Definition, OutcomeDefinition
from engmetrics.catalog.model import Indicator, Outcome
from engmetrics.store import Store

AS_OF = date(2026, 3, 31)
ROWS = """deployment_id,service,environment,started_at,status
d1,pay,production,2026-03-25T10:00:00Z,success
d2,pay,production,2026-03-26T10:00:00Z,success
d3,pay,production,2026-03-20T10:00:00Z,success
"""


def _catalog(**changes) -> Catalog:
    definition = Definition(Indicator.model_validate(indicator(BASE, **changes)), "metrics/m.yaml", 1)
    return Catalog([definition], [OutcomeDefinition(Outcome.model_validate(o), "metrics/m.yaml", 1)
                                  for o in OUTCOMES])


@pytest.fixture
def calls(monkeypatch):
    """The evaluations the cache starts, as (as_of, metrics) pairs."""
    seen: list[tuple[date, object]] = []
    real = cache_module.evaluate

    def counting(store, catalog, as_of, **options):
        seen.append((as_of, options.get("metrics")))
        return real(store, catalog, as_of, **options)

    monkeypatch.setattr(cache_module, "evaluate", counting)
    return seen


@pytest.fixture
def loaded(store, ingest, write):
    ingest("deployments", write("d.csv", ROWS))
    return store


def _value(results) -> tuple[float | None, float | None]:
    (result,) = results
    return result.value, result.previous


def test_second_call_does_not_evaluate_again(loaded, calls):
    cache, catalog = EvaluationCache(), _catalog()
    first = cache.evaluate(loaded, catalog, AS_OF)
    second = cache.evaluate(loaded, catalog, AS_OF)
    assert _value(first) == _value(second) == (2.0, 1.0)  # d1, d2 this week; d3 the week before
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    second.clear()  # the caller's own list: the cached one is untouched
    assert _value(cache.evaluate(loaded, catalog, AS_OF)) == (2.0, 1.0)


def test_an_ingest_gives_a_new_key(loaded, ingest, write, calls):
    cache, catalog = EvaluationCache(), _catalog()
    before = data_version(loaded)
    assert _value(cache.evaluate(loaded, catalog, AS_OF)) == (2.0, 1.0)
    header = ROWS.splitlines()[0]
    ingest("deployments", write("more.csv", f"{header}\nd4,pay,production,2026-03-31T23:00:00Z,success\n"))
    assert data_version(loaded)[0] == before[0] + 1
    assert _value(cache.evaluate(loaded, catalog, AS_OF)) == (3.0, 1.0)
    assert len(calls) == 2


def test_an_ingest_that_changes_nothing_still_counts_as_new_data(loaded, ingest, write, calls):
    cache, catalog = EvaluationCache(), _catalog()
    cache.evaluate(loaded, catalog, AS_OF)
    ingest("deployments", write("again.csv", ROWS))  # 3 unchanged rows, but a new batch
    cache.evaluate(loaded, catalog, AS_OF)
    assert len(calls) == 2


def test_a_definition_change_gives_a_new_key(loaded, calls):
    cache = EvaluationCache()
    assert cache.evaluate(loaded, _catalog(), AS_OF)[0].status == "amber"  # 2 is in [2, 5)
    edited = _catalog(thresholds={"green": {"min": 2}, "amber": {"min": 1, "max": 2}, "red": {"max": 1}})
    assert catalog_version(edited) != catalog_version(_catalog())
    assert cache.evaluate(loaded, edited, AS_OF)[0].status == "green"
    assert len(calls) == 2
    cache.evaluate(loaded, _catalog(), AS_OF)  # an equal catalog (a fresh load) hits the first entry
    assert len(calls) == 2


def test_as_of_dates_and_selections_are_separate_keys(loaded, calls):
    cache, catalog = EvaluationCache(), _catalog()
    assert _value(cache.evaluate(loaded, catalog, AS_OF)) == (2.0, 1.0)
    assert _value(cache.evaluate(loaded, catalog, date(2026, 3, 24))) == (1.0, None)  # d3; 03-11..17 no data
    assert [r.metric for r in cache.evaluate(loaded, catalog, AS_OF, metrics=["deploys"])] == ["deploys"]
    cache.evaluate(loaded, catalog, AS_OF)
    cache.evaluate(loaded, catalog, date(2026, 3, 24))
    assert calls == [(AS_OF, None), (date(2026, 3, 24), None), (AS_OF, ["deploys"])]


def test_bounded_least_recently_used_first(loaded, calls):
    cache, catalog = EvaluationCache(max_entries=2), _catalog()
    days = [date(2026, 3, d) for d in (29, 30, 31)]
    cache.evaluate(loaded, catalog, days[0])
    cache.evaluate(loaded, catalog, days[1])
    cache.evaluate(loaded, catalog, days[0])  # 29 is now the most recently used
    cache.evaluate(loaded, catalog, days[2])  # evicts 30
    assert len(cache) == 2
    cache.evaluate(loaded, catalog, days[0])
    cache.evaluate(loaded, catalog, days[1])
    assert [d for d, _ in calls] == [days[0], days[1], days[2], days[1]]


def test_invalidate_forgets_everything(loaded, calls):
    cache, catalog = EvaluationCache(), _catalog()
    cache.evaluate(loaded, catalog, AS_OF)
    cache.invalidate()
    assert len(cache) == 0
    cache.evaluate(loaded, catalog, AS_OF)
    assert len(calls) == 2


def test_concurrent_callers_compute_once():
    cache, started, release = EvaluationCache(), threading.Event(), threading.Event()
    computed: list[int] = []

    def slow() -> list[int]:
        computed.append(1)
        started.set()
        release.wait(10)
        return [42]

    with ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(cache.get_or_compute, "key", slow) for _ in range(50)]
        assert started.wait(10)
        time.sleep(0.2)  # let the other 49 reach the cache and wait on the first
        release.set()
        answers = [f.result(timeout=10) for f in futures]
    assert computed == [1] and answers == [[42]] * 50
    assert (cache.hits, cache.misses) == (49, 1)


def test_a_failure_is_shared_by_waiters_and_not_cached():
    cache, started, release = EvaluationCache(), threading.Event(), threading.Event()
    attempts: list[int] = []

    def failing() -> int:
        attempts.append(1)
        started.set()
        release.wait(10)
        raise RuntimeError("engine down")

    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = [pool.submit(cache.get_or_compute, "key", failing) for _ in range(5)]
        assert started.wait(10)
        time.sleep(0.2)
        release.set()
        errors = [f.exception(timeout=10) for f in futures]
    assert attempts == [1] and all(isinstance(e, RuntimeError) for e in errors)
    assert cache.get_or_compute("key", lambda: 7) == 7  # tried again, and now kept
    assert cache.get_or_compute("key", lambda: 8) == 7


def test_concurrent_evaluations_on_a_real_store_compute_once(loaded, calls):
    cache, catalog = EvaluationCache(), _catalog()

    def one(_: int) -> tuple[float | None, float | None]:
        """On the thread's own cursor, as the server's requests are."""
        cursor = loaded.sql.cursor()
        try:
            return _value(cache.evaluate(Store(ibis.duckdb.from_connection(cursor)), catalog, AS_OF))
        finally:
            cursor.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(one, range(32)))
    assert set(answers) == {(2.0, 1.0)} and len(calls) == 1
