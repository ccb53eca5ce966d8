"""Token lifecycle (create, use, expire, revoke; only the hash stored), bearer and web-session auth."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from engmetrics.auth.tokens import AuthError, authenticate, create_token, list_tokens, revoke_token
from engmetrics.errors import InputError

ME = "/api/v1/me"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_lifecycle(client, api_store):
    new = create_token(api_store, "team-member", ["payments", "search"], expires_in_days=7, description="ci")
    answer = client.get(ME, headers=_bearer(new.token))
    assert answer.status_code == 200
    assert answer.json() == {"token_id": new.info.token_id, "role": "team-member", "teams": ["payments", "search"]}

    revoke_token(api_store, new.info.token_id)
    refused = client.get(ME, headers=_bearer(new.token))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert list_tokens(api_store)[-1].status() == "revoked"


def test_expired_token_is_refused(client, api_store):
    old = create_token(api_store, "viewer", expires_in_days=1, now=datetime.now(UTC) - timedelta(days=2))
    refused = client.get(ME, headers=_bearer(old.token))
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    assert list_tokens(api_store)[-1].status() == "expired"


def test_only_the_hash_of_the_secret_is_stored(api_store):
    new = create_token(api_store, "viewer")
    secret = new.token.split("_", 2)[2]
    rows = api_store.sql.execute("SELECT * FROM _api_tokens").fetchall()
    assert secret not in json.dumps(rows, default=str) and new.token not in json.dumps(rows, default=str)
    (stored,) = api_store.sql.execute("SELECT secret_sha256 FROM _api_tokens WHERE token_id = ?",
                                      [new.info.token_id]).fetchone()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    assert len(secret) >= 43  # 256 random bits


@pytest.mark.parametrize("token", ["", "nonsense", "emt_000000000000_" + "A" * 43])
def test_bad_tokens_get_401_with_a_challenge(client, token):
    answer = client.get(ME, headers=_bearer(token) if token else {})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Bearer realm="engmetrics"')
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_right_id_with_a_wrong_secret_is_refused(client, api_store):
    new = create_token(api_store, "viewer")
    forged = new.token[:-4] + ("AAAA" if not new.token.endswith("AAAA") else "BBBB")
    assert client.get(ME, headers=_bearer(forged)).json()["detail"] == "invalid token"


def test_token_rules(api_store):
    with pytest.raises(InputError, match="unknown role"):
        create_token(api_store, "root")
    with pytest.raises(InputError, match="needs at least one team"):
        create_token(api_store, "team-member")
    with pytest.raises(InputError, match="team-member tokens only"):
        create_token(api_store, "manager", ["payments"])
    with pytest.raises(InputError, match="expiry"):
        create_token(api_store, "viewer", expires_in_days=0)
    with pytest.raises(AuthError):
        authenticate(api_store, "emt_zz")


def test_web_login_sets_a_secure_session_cookie(app, api_store):
    new = create_token(api_store, "viewer")
    client = TestClient(app, base_url="https://testserver")
    answer = client.post("/login", data={"token": new.token, "next": "/api/v1/me"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/api/v1/me"
    cookie = answer.headers["set-cookie"].lower()
    assert "engmetrics_session=" in cookie
    assert all(flag in cookie for flag in ("httponly", "samesite=lax", "secure", "path=/", "max-age="))
    assert new.token not in answer.headers["set-cookie"]  # the cookie carries no secret
    assert client.get(ME).json()["token_id"] == new.info.token_id

    revoke_token(api_store, new.info.token_id)  # revoking ends the session too
    assert client.get(ME).status_code == 401


def test_cookie_is_not_secure_over_plain_http_and_logout_clears_it(client, api_store):
    new = create_token(api_store, "auditor")
    answer = client.post("/login", data={"token": new.token}, follow_redirects=False)
    assert "secure" not in answer.headers["set-cookie"].lower()
    assert client.get(ME).status_code == 200
    out = client.post("/logout", follow_redirects=False)
    assert out.status_code == 303 and 'engmetrics_session=""' in out.headers["set-cookie"]
    assert client.get(ME).status_code == 401


def test_login_refuses_bad_tokens_forged_cookies_and_open_redirects(client, api_store):
    assert client.post("/login", data={"token": "emt_nope"}).status_code == 401
    new = create_token(api_store, "viewer")
    answer = client.post("/login", data={"token": new.token, "next": "//evil.example/"}, follow_redirects=False)
    assert answer.headers["location"] == "/"
    client.cookies.set("engmetrics_session", f"{new.info.token_id}.9999999999.deadbeef")
    assert client.get(ME).status_code == 401


def test_tokens_over_the_api(client, auth):
    made = client.post("/api/v1/tokens", json={"role": "team-member", "teams": ["search"], "expires_in_days": 3},
                       headers=auth("metrics-admin"))
    assert made.status_code == 201
    token, token_id = made.json()["token"], made.json()["id"]
    assert client.get(ME, headers=_bearer(token)).json()["teams"] == ["search"]
    listed = client.get("/api/v1/tokens", headers=auth("auditor")).json()
    assert token_id in {t["id"] for t in listed}
    assert all("token" not in t and "secret_sha256" not in t for t in listed)
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=auth("metrics-admin")).json()["status"] == "revoked"
    assert client.get(ME, headers=_bearer(token)).status_code == 401
    assert client.delete("/api/v1/tokens/000000000000", headers=auth("metrics-admin")).status_code == 404
    bad = client.post("/api/v1/tokens", json={"role": "root"}, headers=auth("metrics-admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "role"


def test_token_cli_create_list_revoke(cli, workspace):
    made = cli("token", "create", "--role", "manager", "--description", "dash", "--expires-in", "5")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("emt_") and "not shown again" in made.stderr
    listed = cli("token", "list", "--json")
    (info,) = json.loads(listed.stdout)
    assert token not in listed.stdout and info["role"] == "manager" and info["status"] == "active"
    assert cli("token", "revoke", info["id"]).exit_code == 0
    assert json.loads(cli("token", "list", "--json").stdout)[0]["status"] == "revoked"
    refused = cli("token", "create", "--role", "team-member")
    assert refused.exit_code == 1 and "--team" in refused.stderr
    assert cli("token", "revoke", "nope").exit_code == 1
