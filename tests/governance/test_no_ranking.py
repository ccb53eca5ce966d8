"""No endpoint ranks people: every GET route under /api/v1 of an app over the demo organisation answers
without a list of per-person items: a list of objects keyed by a person column, one object per person, or a
list of objects where another key (say `group`) holds a person's pseudonym.

The scan is shown to bite: a route added in the test that returns per-person rows is flagged, and so is
`/api/v1/metrics` when the privacy guardrails are switched off (per-author groups).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from engmetrics.api import app as app_module
from engmetrics.api import create_app
from engmetrics.api.auth import READERS, mounted_routes, requires
from engmetrics.api.routes import me
from engmetrics.auth.tokens import create_token
from engmetrics.demo import build_demo
from engmetrics.governance.archive import record_definitions
from engmetrics.governance.board import ReviewBoard, approve, propose
from engmetrics.ingest.pseudonym import PREFIX, pseudonym
from engmetrics.settings import load_settings
from engmetrics.store import REGISTRY, Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from privacy_data import BOARD, INDIVIDUAL

END = date(2026, 1, 4)
PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")  # a path parameter, e.g. {metric} or {definition_id:path}
PERSON_COLUMNS = frozenset(c for d in REGISTRY.values() for c in d.person_columns)
PSEUDONYM = re.compile(re.escape(PREFIX) + f"[0-9a-f]{{{len(pseudonym('x', b'k')) - len(PREFIX)}}}")
"""What ingest writes into a person column (`engmetrics.ingest.pseudonym`)."""


def per_person_lists(payload: Any, where: str = "$") -> Iterator[str]:
    """Where `payload` (parsed JSON) holds per-person values: a list of objects keyed by a person column
    with one object per person (every object names a person, non-null, and no person appears twice), or a
    list of objects where any other key holds a person's pseudonym in some object (a `group` that is one
    person: the shape of a regression of the privacy guardrails)."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            yield from per_person_lists(value, f"{where}.{key}")
    elif isinstance(payload, list):
        items = [i for i in payload if isinstance(i, dict)]
        keys = {k for i in items for k in i}
        for column in sorted(PERSON_COLUMNS & keys):
            names = [i.get(column) for i in items]
            if items and None not in names and len(set(map(str, names))) == len(names):
                yield f"{where}[*].{column}"
        for key in sorted(keys - PERSON_COLUMNS):
            if any(isinstance(i.get(key), str) and PSEUDONYM.fullmatch(i[key]) for i in items):
                yield f"{where}[*].{key}"
        for index, item in enumerate(payload):
            yield from per_person_lists(item, f"{where}[{index}]")


def test_the_scanner_tells_people_from_aggregates():
    assert {"person", "author", "reviewer", "responder", "rater", "ratee"} <= PERSON_COLUMNS
    ranking = {"items": [{"author": "p_1", "changes": 9}, {"author": "p_2", "changes": 3}]}
    assert list(per_person_lists(ranking)) == ["$.items[*].author"]
    per_team = [{"team": "a", "people": 6, "value": 7.0}, {"team": "b", "people": 5, "value": 2.0}]
    raw_rows = [{"change_id": "c1", "author": "p_1"}, {"change_id": "c2", "author": "p_1"}]  # not one per person
    assert list(per_person_lists(per_team)) == list(per_person_lists(raw_rows)) == []
    one = pseudonym("p1", bytes(range(32)))
    per_author = [{"metric": "m", "group": None, "value": 9.0}, {"metric": "m", "group": one, "value": 2.0}]
    assert list(per_person_lists({"items": per_author})) == ["$.items[*].group"]
    assert list(per_person_lists([{"group": "p_payments"}, {"group": one[:-1]}])) == []  # not pseudonyms


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo organisation (3 weeks), plus an approved individual-level indicator, served by an app with
    every router (the `me` router too, until engmetrics.api.routes registers it)."""
    root = tmp_path_factory.mktemp("demo") / "ws"
    build_demo(root, days=21, end=END, evaluate=False)
    (root / "metrics" / "people.yaml").write_text(yaml.safe_dump({"indicators": [INDIVIDUAL]}))
    (root / "policies").mkdir(exist_ok=True)
    (root / "policies" / "review_board.yaml").write_text(yaml.safe_dump(BOARD))
    settings = load_settings(root)
    with Store.open(settings.store_url or "") as store, pytest.MonkeyPatch.context() as patch:
        if me.router not in app_module.API_ROUTERS:
            patch.setattr(app_module, "API_ROUTERS", [*app_module.API_ROUTERS, me.router])
        board, from_yaml = ReviewBoard.model_validate(BOARD), _indicator()
        propose(store, board, from_yaml, "dee")
        approve(store, board, from_yaml, "ana", "per team, weekly")
        record_definitions(store, root)  # the archive, for the definition routes
        admin = create_token(store, "metrics-admin", user="demo-admin")
        app = create_app(settings, store=store)
        yield app, store, admin


def _indicator():
    from engmetrics.catalog.model import Indicator

    return Indicator.model_validate(INDIVIDUAL)


def _path_values(client: TestClient, store: Store, token_id: str) -> dict[str, str]:
    incident = store.sql.execute("SELECT min(incident_id) FROM incidents").fetchone()[0]
    slos = client.get("/api/v1/slos").json()["items"]
    return {"metric": INDIVIDUAL["id"], "dataset": "changes", "token_id": token_id, "incident_id": incident,
            "slo": slos[0]["slo"] if slos else "none", "kind": "indicator", "definition_id": INDIVIDUAL["id"]}


def walk(app: Any, store: Store, token: Any, keep: Callable[[str], bool] = lambda path: True
         ) -> tuple[list[str], list[str]]:
    """GET every API route `keep` accepts with `token`: (findings, routes called with a 200 answer)."""
    client = TestClient(app, headers={"Authorization": f"Bearer {token.token}"})
    values = _path_values(client, store, token.info.token_id)
    findings, answered = [], []
    for route in mounted_routes(app):
        if not isinstance(route.route, APIRoute) or "GET" not in route.methods:
            continue
        if not route.path.startswith("/api/v1/") or not keep(route.path):
            continue
        names = PARAMETER.findall(route.path)
        if any(n not in values for n in names):
            continue  # a parameter this test cannot fill from the store
        url = PARAMETER.sub(lambda m: values[m.group(1)], route.path)
        response = client.get(url, params={"as_of": END.isoformat(), "q": "database"})
        assert response.status_code < 500, f"{url}: {response.status_code} {response.text[:300]}"
        if response.status_code == 200 and response.headers["content-type"].startswith("application/json"):
            answered.append(route.path)
            findings += [f"{route.path} {where}" for where in per_person_lists(response.json())]
    return findings, answered


def test_no_api_route_lists_people(demo):
    app, store, admin = demo
    findings, answered = walk(app, store, admin)
    assert findings == []
    assert {"/api/v1/metrics", "/api/v1/delivery/reviews", "/api/v1/incidents/oncall",
            "/api/v1/me/indicators/{metric}"} <= set(answered)
    assert len(answered) >= 25


def test_a_route_listing_people_is_caught(demo):
    app, store, admin = demo

    async def ranking() -> list[dict[str, Any]]:
        return [{"author": "p_1", "changes": 9}, {"author": "p_2", "changes": 3}]

    app.router.add_api_route("/api/v1/_probe/ranking", ranking, methods=["GET"], dependencies=[requires(*READERS)])
    try:
        findings, _ = walk(app, store, admin, keep=lambda path: path.startswith("/api/v1/_probe"))
    finally:
        app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") != "/api/v1/_probe/ranking"]
    assert findings == ["/api/v1/_probe/ranking $[*].author"]


def test_a_guardrail_regression_is_caught(demo, monkeypatch):
    """Switched off, the guardrails publish changes_per_author per author (`group` = a pseudonym): the scan
    of /api/v1/metrics must flag it (it did not when it looked at person-column keys only)."""
    import importlib

    evaluation = importlib.import_module("engmetrics.catalog.evaluate")  # the module, not the function
    app, store, admin = demo
    on_metrics = lambda path: path == "/api/v1/metrics"  # noqa: E731
    app.state.evaluations.invalidate()
    assert walk(app, store, admin, keep=on_metrics)[0] == []
    monkeypatch.setattr(evaluation, "needs_approval", lambda indicator: False)
    app.state.evaluations.invalidate()
    try:
        findings, answered = walk(app, store, admin, keep=on_metrics)
    finally:
        app.state.evaluations.invalidate()
    assert answered == ["/api/v1/metrics"]
    assert findings == ["/api/v1/metrics $[*].group"]
