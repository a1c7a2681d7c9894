"""Bad input to every federation endpoint gets a clear 4xx in the native error shape and
changes nothing (one in-process node, both backends)."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import func, select

from citydata.access.actors import Actor
from citydata.access.keys import create_key
from citydata.catalog import organizations, users
from citydata.federation import signing
from citydata.storage.models_federation import FederationNode, HarvestSource

PASSWORD = "a-long-password"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    settings.node_name = "registry"
    create_key(settings)
    return settings


@pytest.fixture
def people(make_ctx):  # type: ignore[no-untyped-def]
    tokens = {}
    with make_ctx() as ctx:
        system = Actor.system()
        organizations.create_organization(ctx.session, system, {
            "name": "camden", "title": "London Borough of Camden", "kind": "borough"})
        for name, admin in (("root", True), ("someone", False)):
            users.create_user(ctx.session, name, f"{name}@example.org", PASSWORD, sysadmin=admin)
            tokens[name] = users.create_token(ctx.session, system, name, name="t")
    return tokens


def error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return body["error"]["message"]


def count(platform, model) -> int:  # type: ignore[no-untyped-def]
    with platform.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)))


def test_this_node_says_who_it_is(client, settings):
    me = client.get("/api/v1/federation/node").json()
    assert me["federated"] is True and me["name"] == "registry"
    assert len(base64.b64decode(me["public_key"])) == 32 and len(me["key_id"]) == 16


def test_harvest_source_input_is_checked(client, people, platform):
    root = {"Authorization": people["root"]}
    assert "Sign in" in error(client.post("/api/v1/harvest/sources", json={}), 401)
    error(client.post("/api/v1/harvest/sources", headers=root, content=b"{not json"), 400)
    error(client.post("/api/v1/harvest/sources", headers=root, content=b"[1, 2]"), 400)
    bad = client.post("/api/v1/harvest/sources", headers=root, json={
        "name": "A B", "kind": "gopher", "url": "ftp://x", "schedule": "yearly"})
    message = error(bad, 400)
    assert {"name", "kind", "url", "schedule"} <= set(bad.json()["error"]["fields"]), message
    error(client.post("/api/v1/harvest/sources", headers=root, json={
        "name": "lds", "kind": "ckan", "url": "https://data.london.gov.uk",
        "organization": "nowhere"}), 404)
    error(client.post("/api/v1/harvest/sources", headers={"Authorization": people["someone"]},
                      json={"name": "lds", "kind": "ckan", "url": "https://x.example",
                            "organization": "camden"}), 403)
    assert count(platform, HarvestSource) == 0
    ok = client.post("/api/v1/harvest/sources", headers=root, json={
        "name": "lds", "kind": "ckan", "url": "https://data.london.gov.uk",
        "organization": "camden", "api_key": "s3cret"})
    assert ok.status_code == 201 and "s3cret" not in ok.text
    error(client.post("/api/v1/harvest/sources", headers=root, json={
        "name": "lds", "kind": "ckan", "url": "https://x.example", "organization": "camden"}),
        409)


def test_unknown_sources_and_jobs(client, people):
    error(client.get("/api/v1/harvest/sources/nope"), 404)
    error(client.get("/api/v1/harvest/jobs/nope"), 404)
    error(client.post("/api/v1/harvest/sources/nope/run"), 401)
    error(client.post("/api/v1/harvest/sources/nope/run",
                      headers={"Authorization": people["root"]}), 404)
    error(client.delete("/api/v1/harvest/sources/nope",
                        headers={"Authorization": people["root"]}), 404)


def test_search_parameters(client):
    error(client.get("/api/v1/federation/search", params={"q": "x", "rows": 0}), 400)
    error(client.get("/api/v1/federation/search", params={"q": "x", "rows": "many"}), 400)
    error(client.get("/api/v1/federation/search", params={"q": "x", "deadline_ms": 5}), 400)
    error(client.get("/api/v1/federation/search", params={"q": "x" * 600}), 400)
    empty = client.get("/api/v1/federation/search", params={"q": "trees"}).json()
    assert empty["nodes"] == [] and empty["count"] == 0


def test_invites_are_for_sysadmins(client, people, platform):
    error(client.post("/api/v1/federation/invites", json={"node": "camden"}), 401)
    error(client.post("/api/v1/federation/invites", headers={"Authorization": people["someone"]},
                      json={"node": "camden", "organization": "camden"}), 403)
    error(client.post("/api/v1/federation/invites", headers={"Authorization": people["root"]},
                      json={"node": "Not A Name", "organization": "camden"}), 400)
    made = client.post("/api/v1/federation/invites", headers={"Authorization": people["root"]},
                       json={"node": "camden", "organization": "camden"})
    assert made.status_code == 201 and made.json()["code"].startswith("cdi_")


def _registration(settings, key, payload: dict, path="/api/v1/federation/nodes"):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    headers = signing.sign_headers(key, sender=payload.get("name", "x"), target="registry",
                                   method="POST", url=f"http://testserver{path}", body=body)
    return body, {**headers, "content-type": "application/json"}


def test_registration_needs_a_valid_code_and_its_own_signature(client, people, platform,
                                                               settings, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from citydata.access.keys import NodeKey

    private = Ed25519PrivateKey.generate()
    key = NodeKey(private, private.public_key())
    code = client.post("/api/v1/federation/invites", headers={"Authorization": people["root"]},
                       json={"node": "camden", "organization": "camden"}).json()["code"]
    payload = {"name": "camden", "url": "http://127.0.0.1:9", "public_key": key.public_b64,
               "code": "cdi_wrong"}
    body, headers = _registration(settings, key, payload)
    assert "code" in error(client.post("/api/v1/federation/nodes", content=body,
                                       headers=headers), 401)
    # signed by another key than the one it registers
    other = Ed25519PrivateKey.generate()
    body, headers = _registration(settings, NodeKey(other, other.public_key()),
                                  {**payload, "code": code})
    error(client.post("/api/v1/federation/nodes", content=body, headers=headers), 401)
    body, headers = _registration(settings, key, {**payload, "public_key": "not-base64!"})
    error(client.post("/api/v1/federation/nodes", content=body, headers=headers), 400)
    body, headers = _registration(settings, key, {**payload, "code": code, "name": "hackney"})
    error(client.post("/api/v1/federation/nodes", content=body, headers=headers), 401)
    assert count(platform, FederationNode) == 0
    body, headers = _registration(settings, key, {**payload, "code": code})
    done = client.post("/api/v1/federation/nodes", content=body, headers=headers)
    assert done.status_code == 201, done.text
    assert done.json()["registry"]["name"] == "registry"
    # the code is used up, and the node's catalog is now a harvest source
    body, headers = _registration(settings, key, {**payload, "code": code})
    error(client.post("/api/v1/federation/nodes", content=body, headers=headers), 401)
    with platform.db.session() as session:
        source = session.scalar(select(HarvestSource))
        assert source.kind == "node" and source.schedule == "hourly"
    listed = client.get("/api/v1/federation/nodes").json()["results"]
    assert [(n["name"], n["role"], n["key_id"]) for n in listed] == [
        ("camden", "member", key.key_id)]


def test_tokens_need_a_real_assertion(client):
    assert "assertion" in error(client.post("/api/v1/federation/token", json={}), 401)
    error(client.post("/api/v1/federation/token", json={"assertion": "a.b"}), 401)
    error(client.post("/api/v1/federation/token", json={"assertion": 42}), 401)
    forged = base64.urlsafe_b64encode(json.dumps({"iss": "registry"}).encode()).decode()
    error(client.post("/api/v1/federation/token", json={"assertion": f"{forged}.AAAA"}), 401)


def test_node_to_node_routes_refuse_unsigned_requests(client):
    error(client.post("/api/v1/federation/inbox/requests", json={"dataset": "x"}), 401)
    error(client.get("/api/v1/federation/inbox/requests/DSA-2026-0001"), 401)


def test_forwarding_needs_a_dataset_held_elsewhere(client, people, make_ctx):
    who = {"Authorization": people["someone"]}
    error(client.post("/api/v1/federation/access-requests", json={"dataset": "x"}), 401)
    error(client.post("/api/v1/federation/access-requests", headers=who,
                      json={"dataset": "nope"}), 404)
    with make_ctx() as ctx:
        from citydata.catalog.datasets import create_dataset

        create_dataset(ctx, {"name": "local-data", "title": "Local", "owner_org": "camden",
                             "access_level": "restricted", "restriction_reason": "security"})
    message = error(client.post("/api/v1/federation/access-requests", headers=who,
                                json={"dataset": "local-data"}), 409)
    assert "/api/v1/agreements" in message
    error(client.get("/api/v1/federation/access-requests/nope", headers=who), 404)
    assert client.get("/api/v1/federation/access-requests", headers=who).json()["count"] == 0


def test_changing_a_source(client, people, platform):
    root = {"Authorization": people["root"]}
    client.post("/api/v1/harvest/sources", headers=root, json={
        "name": "lds", "kind": "ckan", "url": "https://data.london.gov.uk",
        "organization": "camden"})
    changed = client.patch("/api/v1/harvest/sources/lds", headers=root,
                           json={"schedule": "weekly", "title": "London Datastore"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["schedule"] == "weekly" and changed.json()["next_run_at"]
    bad = client.patch("/api/v1/harvest/sources/lds", headers=root,
                       json={"schedule": "yearly", "kind": "dcat", "include_private": True})
    assert set(error(bad, 400) and bad.json()["error"]["fields"]) >= {
        "schedule", "form", "include_private"}
    error(client.patch("/api/v1/harvest/sources/lds", json={"title": "x"}), 401)
    error(client.patch("/api/v1/harvest/sources/lds",
                       headers={"Authorization": people["someone"]}, json={"title": "x"}), 403)
    shown = client.get("/api/v1/harvest/sources/lds").json()
    assert (shown["title"], shown["schedule"]) == ("London Datastore", "weekly")


def test_a_suspended_node_is_refused(client, people, platform, settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from citydata.access.keys import NodeKey

    private = Ed25519PrivateKey.generate()
    key = NodeKey(private, private.public_key())
    root = {"Authorization": people["root"]}
    code = client.post("/api/v1/federation/invites", headers=root,
                       json={"node": "camden", "organization": "camden"}).json()["code"]
    body, headers = _registration(settings, key, {
        "name": "camden", "url": "http://127.0.0.1:9", "public_key": key.public_b64,
        "code": code})
    assert client.post("/api/v1/federation/nodes", content=body, headers=headers
                       ).status_code == 201
    error(client.post("/api/v1/federation/nodes/camden/suspend",
                      headers={"Authorization": people["someone"]}), 403)
    suspended = client.post("/api/v1/federation/nodes/camden/suspend", headers=root)
    assert suspended.json()["status"] == "suspended"
    # its signed requests are refused now, and its harvest is not scheduled
    signed = signing.sign_headers(key, sender="camden", target="registry", method="GET",
                                  url="http://testserver/api/v1/federation/inbox/requests/R-1",
                                  body=b"")
    assert "not registered" in error(client.get(
        "/api/v1/federation/inbox/requests/R-1", headers=signed), 401)
    with platform.db.session() as session:
        assert session.scalar(select(HarvestSource.next_run_at)) is None
    report = client.post("/api/v1/harvest/sources/node-camden/run", headers=root).json()
    assert report["status"] == "failed" and "suspended" in report["message"]
    resumed = client.post("/api/v1/federation/nodes/camden/resume", headers=root)
    assert resumed.json()["status"] == "active"
    error(client.post("/api/v1/federation/nodes/nowhere/suspend", headers=root), 404)
