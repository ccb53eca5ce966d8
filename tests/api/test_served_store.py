"""The app holding its workspace's store (as `engmetrics serve` does): pushed samples do not make it reload the
token rows (a token created or revoked over the API applies at once), and the push receivers set the store's
checkpoint threshold from `checkpoint_mb`."""

from __future__ import annotations

import time

import yaml
from fastapi.testclient import TestClient

import engmetrics.auth.tokens as tokens_module
from engmetrics.api import create_app
from engmetrics.auth.tokens import create_token
from engmetrics.settings import load_settings
from engmetrics.store import Store
from engmetrics.telemetry.remote_write import encode_write_request

RW_HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_pushes_keep_the_token_rows_and_token_changes_apply_at_once(workspace, monkeypatch):
    settings = load_settings(workspace)
    with Store.open(settings.store_url) as store:
        admin, pusher = (create_token(store, role).token for role in ("metrics-admin", "telemetry-pusher"))
    loads, real = [], tokens_module._rows
    monkeypatch.setattr(tokens_module, "_rows", lambda *args, **kw: (loads.append(1), real(*args, **kw))[1])
    now_ms = int(time.time() * 1000)
    with TestClient(create_app(settings)) as client:
        for i in range(3):
            body = encode_write_request([({"__name__": "up", "job": "a"}, [(1.0, now_ms + i)])])
            assert client.post("/api/v1/write", content=body, headers={**RW_HEADERS, **_bearer(pusher)}
                               ).status_code == 204
        assert len(loads) == 1  # read once, kept across the three committed pushes
        new = client.post("/api/v1/tokens", json={"role": "viewer"}, headers=_bearer(admin)).json()
        assert client.get("/api/v1/me", headers=_bearer(new["token"])).json()["role"] == "viewer"
        assert len(loads) == 2  # the token write made the cache read the rows again
        assert client.delete(f"/api/v1/tokens/{new['id']}", headers=_bearer(admin)).status_code == 200
        assert client.get("/api/v1/me", headers=_bearer(new["token"])).status_code == 401


def test_the_receivers_set_the_checkpoint_threshold(workspace):
    config = workspace / "engmetrics.yaml"
    settings = yaml.safe_load(config.read_text())
    settings["telemetry"]["receivers"]["checkpoint_mb"] = 64
    config.write_text(yaml.safe_dump(settings))
    with TestClient(create_app(load_settings(workspace))) as client:
        store = client.app.state.stores.store
        assert store.sql.execute("SELECT current_setting('checkpoint_threshold')").fetchone() == ("64.0 MiB",)
