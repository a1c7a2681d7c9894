"""Throttles on the places a secret is checked or handed out: invalid API tokens, API token
creation (web form and CKAN action), and federation assertion exchange. Each refusal is a 429
with Retry-After, in the family's own error shape. (Sign-in throttling: tests/access.)"""

from __future__ import annotations

import re

from citydata.access import keys, throttle
from tests.web.conftest import csrf_from, login

BAD = {"Authorization": "cdt_not-a-real-token"}
NATIVE = "/api/v1/agreements"  # reads the actor


def test_invalid_api_tokens_are_throttled_per_client(client, seeded, platform):
    platform.settings.login_max_failures_per_client = 3
    good = {"Authorization": seeded["editor_token"]}
    assert client.get(NATIVE, headers=good).status_code == 200
    for _ in range(3):
        r = client.get(NATIVE, headers=BAD)
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    # Now even a valid token from this client is refused unchecked, in each family's shape.
    r = client.get(NATIVE, headers=good)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert r.json()["error"]["code"] == "too_many_requests"
    assert "invalid API token" in r.json()["error"]["message"]
    r = client.get("/api/3/action/package_list", headers=good)
    assert r.status_code == 429 and r.json()["success"] is False
    assert r.json()["error"]["__type"] and int(r.headers["retry-after"]) > 0
    r = client.get("/ogc/collections", params={"f": "json"}, headers=BAD)
    assert r.status_code == 429 and r.json()["code"] and int(r.headers["retry-after"]) > 0
    # Requests without a token (and the pages) are not affected.
    assert client.get("/api/3/action/package_list").status_code == 200
    assert client.get("/").status_code == 200


def test_invalid_token_counter_is_per_window(client, seeded, platform):
    platform.settings.login_max_failures_per_client = 2
    for _ in range(2):
        client.get(NATIVE, headers=BAD)
    assert client.get(NATIVE, headers=BAD).status_code == 429
    with platform.db.session() as session:  # the window passes
        for row in session.query(throttle.LoginAttempt).all():
            row.window_start = row.window_start.replace(year=2000)
    assert client.get(NATIVE, headers=BAD).status_code == 401


def test_token_creation_is_throttled_per_user(client, seeded, monkeypatch):
    monkeypatch.setattr(throttle, "TOKENS_PER_USER", 2)
    auth = {"Authorization": seeded["editor_token"]}
    for n in range(2):
        r = client.post("/api/3/action/api_token_create", headers=auth,
                        json={"user": "editor", "name": f"t{n}"})
        assert r.status_code == 200, r.text
    r = client.post("/api/3/action/api_token_create", headers=auth,
                    json={"user": "editor", "name": "one-too-many"})
    assert r.status_code == 429 and r.json()["success"] is False
    assert "Too many API tokens created" in r.json()["error"]["message"]
    assert int(r.headers["retry-after"]) > 0
    # The web form counts against the same user: a 429 page, no token shown.
    login(client, "editor", "editor-pass-1")
    page = client.get("/user/editor/api-tokens")
    r = client.post("/user/editor/api-tokens", data={
        "csrf_token": csrf_from(page.text), "name": "web", "scope": "read",
        "expires_days": "30"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "Too many API tokens created" in r.text and 'id="new-token"' not in r.text
    # Other users create tokens as before.
    r = client.post("/api/3/action/api_token_create",
                    headers={"Authorization": seeded["admin_token"]}, json={"user": "admin"})
    assert r.status_code == 200


def test_token_creation_is_throttled_per_client(client, seeded, monkeypatch):
    monkeypatch.setattr(throttle, "TOKENS_PER_CLIENT", 2)
    for who in ("editor", "admin"):
        r = client.post("/api/3/action/api_token_create",
                        headers={"Authorization": seeded[f"{who}_token"]}, json={"user": who})
        assert r.status_code == 200
    r = client.post("/api/3/action/api_token_create",
                    headers={"Authorization": seeded["outsider_token"]},
                    json={"user": "outsider"})
    assert r.status_code == 429


def test_web_token_creation_still_works_below_the_limit(client, seeded):
    login(client, "editor", "editor-pass-1")
    page = client.get("/user/editor/api-tokens")
    r = client.post("/user/editor/api-tokens", data={
        "csrf_token": csrf_from(page.text), "name": "web", "scope": "read",
        "expires_days": "30"})
    assert r.status_code == 200
    token = re.search(r'id="new-token" type="text" readonly value="([^"]+)"', r.text).group(1)
    assert client.get(NATIVE, headers={"Authorization": token}).status_code == 200


def test_failed_federation_token_exchanges_are_throttled(client, seeded, platform):
    platform.settings.login_max_failures_per_client = 3
    platform.settings.node_name = "camden"
    keys.create_key(platform.settings)  # a federated node: it has a name and a key
    for bad in ("nonsense", "e30.AAAA", "x" * 10):
        r = client.post("/api/v1/federation/token", json={"assertion": bad})
        assert r.status_code == 401, r.text
    r = client.post("/api/v1/federation/token", json={"assertion": "e30.AAAA"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests"
    assert int(r.headers["retry-after"]) > 0
    assert "Too many failed token exchanges" in r.json()["error"]["message"]
