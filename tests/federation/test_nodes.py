"""The federated loop across three real nodes: registration, harvest, live search, an access
request forwarded to its owner, decided there, used there and audited there."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from citydata.access.keys import load_key
from citydata.federation import signing
from tests.federation.fakes import FakeServer

pytestmark = pytest.mark.xdist_group("federation")

CARE_REQUEST = {
    "dataset": "camden-care-packages",
    "purpose": "service-planning",
    "purpose_detail": "Planning adult social care capacity across north London boroughs",
    "lawful_basis": "art6-1-e",
    "dpia_reference": "GLA-DPIA-2026-14",
    "duration_days": 90,
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


def test_owners_registered_with_their_keys(nodes):
    found = httpx.get(f"{nodes.registry.url}/api/v1/federation/nodes").json()["results"]
    by_name = {n["name"]: n for n in found}
    assert set(by_name) == {"camden", "hackney"}
    for name in ("camden", "hackney"):
        own = httpx.get(f"{nodes.owner(name).url}/api/v1/federation/node").json()
        assert by_name[name]["key_id"] == own["key_id"]
        assert by_name[name]["role"] == "member"
        assert by_name[name]["url"] == nodes.owner(name).url
    # and each owner knows the registry's key
    camden_view = httpx.get(f"{nodes.owner('camden').url}/api/v1/federation/nodes").json()
    registry_key = httpx.get(f"{nodes.registry.url}/api/v1/federation/node").json()["key_id"]
    assert [(n["name"], n["role"], n["key_id"]) for n in camden_view["results"]] == [
        ("registry", "registry", registry_key)]


def test_harvest_brings_metadata_with_provenance_not_data(nodes):
    assert [(r["source"], r["status"], r["added"]) for r in nodes.reports] == [
        ("node-camden", "finished", 2), ("node-hackney", "finished", 2)]
    reg = nodes.registry.url
    ds = httpx.get(f"{reg}/api/3/action/package_show",
                   params={"id": "camden-care-packages"}).json()["result"]
    assert ds["access_level"] == "restricted"
    assert ds["organization"]["name"] == "camden"
    extras = {e["key"]: e["value"] for e in ds["extras"]}
    assert extras["harvest_source"] == "node-camden"
    assert extras["harvest_url"] == f"{nodes.owner('camden').url}/dataset/camden-care-packages"
    # the registry holds links to the owner's resources, never a stored copy of the rows
    assert ds["resources"] and all(r["url"].startswith(nodes.owner("camden").url)
                                   for r in ds["resources"])
    assert all(r.get("datastore_active") in (False, None) for r in ds["resources"])
    source = httpx.get(f"{reg}/api/v1/harvest/sources/node-camden").json()
    assert source["kind"] == "node" and source["datasets"] == 2 and source["stale"] is False
    assert source["jobs"][0]["status"] == "finished"


def test_reharvest_with_nothing_changed_changes_nothing(nodes):
    admin = nodes.registry.tokens["registry-admin"]
    r = httpx.post(f"{nodes.registry.url}/api/v1/harvest/sources/node-hackney/run",
                   headers=auth(admin), timeout=60)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["status"] == "finished" and report["incremental"] is True
    assert (report["added"], report["updated"], report["withdrawn"]) == (0, 0, 0)


def test_private_data_is_never_harvested(nodes):
    owner = nodes.owner("hackney")
    token = owner.tokens["hackney-owner"]
    r = httpx.post(f"{owner.url}/api/3/action/package_create", headers=auth(token), json={
        "name": "hackney-internal-budget", "title": "Hackney internal budget lines",
        "owner_org": "hackney", "private": True})
    assert r.status_code == 200, r.text
    admin = nodes.registry.tokens["registry-admin"]
    report = httpx.post(f"{nodes.registry.url}/api/v1/harvest/sources/node-hackney/run",
                        params={"full": "true"}, headers=auth(admin), timeout=60).json()
    assert report["status"] == "finished"
    assert report["added"] == 0
    gone = httpx.get(f"{nodes.registry.url}/api/3/action/package_show",
                     params={"id": "hackney-internal-budget"})
    assert gone.status_code == 404


def test_live_search_finds_what_the_last_harvest_missed(nodes):
    owner = nodes.owner("camden")
    r = httpx.post(f"{owner.url}/api/3/action/package_create",
                   headers=auth(owner.tokens["camden-owner"]), json={
                       "name": "camden-ev-chargepoints", "title": "Camden EV charge points",
                       "owner_org": "camden", "notes": "Kerbside chargers in Camden"})
    assert r.status_code == 200, r.text
    index_only = httpx.get(f"{nodes.registry.url}/api/3/action/package_search",
                           params={"q": "chargepoints"}).json()["result"]
    assert index_only["count"] == 0
    live = httpx.get(f"{nodes.registry.url}/api/v1/federation/search",
                     params={"q": "chargepoints"}, timeout=10).json()
    assert [(h["name"], h["found_in"]) for h in live["results"]] == [
        ("camden-ev-chargepoints", ["camden"])]
    assert {n["name"]: n["status"] for n in live["nodes"]} == {"camden": "ok", "hackney": "ok"}


def test_search_merges_one_dataset_found_two_ways(nodes):
    live = httpx.get(f"{nodes.registry.url}/api/v1/federation/search",
                     params={"q": "street trees"}, timeout=10).json()
    names = [h["name"] for h in live["results"]]
    assert sorted(names) == ["camden-street-trees", "hackney-street-trees"]
    for hit in live["results"]:
        assert sorted(hit["found_in"]) == sorted(["index", hit["name"].split("-")[0]])


def test_the_access_loop(nodes):
    """Found at the registry, requested there, decided at the owner, used at the owner."""
    reg, camden = nodes.registry, nodes.owner("camden")
    analyst = auth(reg.tokens["analyst"])
    # a local agreement for a dataset held elsewhere is refused with the way to do it
    local = httpx.post(f"{reg.url}/api/v1/agreements", headers=analyst,
                       json={**CARE_REQUEST, "datasets": ["camden-care-packages"]})
    assert local.status_code == 409
    assert "/api/v1/federation/access-requests" in local.json()["error"]["message"]

    r = httpx.post(f"{reg.url}/api/v1/federation/access-requests", headers=analyst,
                   json=CARE_REQUEST, timeout=30)
    assert r.status_code == 201, r.text
    forwarded = r.json()
    assert forwarded["node"] == "camden" and forwarded["status"] == "requested"
    ref = forwarded["reference"]

    # not decided yet: no assertion
    early = httpx.post(f"{reg.url}/api/v1/federation/access-requests/{forwarded['id']}/assertion",
                       headers=analyst, timeout=30)
    assert early.status_code == 409

    # the owner sees an ordinary request from the registry's analyst, and approves it
    listed = nodes.cli(camden, "agreements", "list", "--as", "camden-owner")
    assert listed.returncode == 0, listed.stderr
    assert ref in listed.stdout
    shown = nodes.cli(camden, "agreements", "show", ref)
    assert "analyst@registry" in shown.stdout
    approved = nodes.cli(camden, "agreements", "approve", ref, "--as", "camden-owner",
                         "--actions", "read,query", "--note", "Approved for capacity planning")
    assert approved.returncode == 0, approved.stderr

    status = httpx.get(f"{reg.url}/api/v1/federation/access-requests/{forwarded['id']}",
                       headers=analyst, timeout=30).json()
    assert status["status"] == "active" and status["end_at"]

    grant = httpx.post(f"{reg.url}/api/v1/federation/access-requests/{forwarded['id']}/assertion",
                       headers=analyst, timeout=30)
    assert grant.status_code == 200, grant.text
    assertion = grant.json()
    assert assertion["token_url"] == f"{camden.url}/api/v1/federation/token"
    exchanged = httpx.post(assertion["token_url"], json={"assertion": assertion["assertion"]})
    assert exchanged.status_code == 200, exchanged.text
    token = exchanged.json()["token"]
    assert exchanged.json()["agreement"] == ref
    # an assertion is single-use
    again = httpx.post(assertion["token_url"], json={"assertion": assertion["assertion"]})
    assert again.status_code == 401 and "already used" in again.json()["error"]["message"]
    # and only for the node it names
    hackney = nodes.owner("hackney")
    elsewhere = httpx.post(f"{hackney.url}/api/v1/federation/token",
                           json={"assertion": grant.json()["assertion"]})
    assert elsewhere.status_code == 401

    ds = httpx.get(f"{camden.url}/api/3/action/package_show",
                   params={"id": "camden-care-packages"}, headers=auth(token)).json()["result"]
    rid = ds["resources"][0]["id"]
    rows = httpx.get(f"{camden.url}/api/v1/resources/{rid}/rows", headers=auth(token),
                     params={"_size": 5})
    assert rows.status_code == 200, rows.text
    assert len(rows.json()["rows"]) == 5
    # without the token, no rows
    assert httpx.get(f"{camden.url}/api/v1/resources/{rid}/rows").status_code in (401, 403)

    # the owner's access log names the registry's analyst, the agreement and the purpose
    log = httpx.get(f"{camden.url}/api/v1/organizations/camden/access-log",
                    params={"kind": "data"}, headers=auth(camden.tokens["camden-owner"])).json()
    reads = [e for e in log["results"] if e["action"].startswith("data.")]
    assert reads and all(e["user"] == "analyst@registry" for e in reads)
    assert {e["agreement"] for e in reads} == {ref}

    # the registry saw the agreement, never the rows: no read of it is in its log, and its
    # copy of the dataset has nothing to query
    reg_ds = httpx.get(f"{reg.url}/api/3/action/package_show",
                       params={"id": "camden-care-packages"}).json()["result"]
    reg_rows = httpx.get(f"{reg.url}/api/v1/resources/{reg_ds['resources'][0]['id']}/rows",
                         headers=analyst)
    assert reg_rows.status_code >= 400
    assert _registry_data_reads(nodes) == []


def _registry_data_reads(nodes) -> list[str]:
    from sqlalchemy import select

    from citydata.platform import Platform
    from citydata.storage.models_access import AuditEntry

    platform = Platform(nodes.registry.settings())
    try:
        with platform.db.session() as session:
            return list(session.scalars(select(AuditEntry.action).where(
                AuditEntry.action.like("data.%"))))
    finally:
        platform.close()


def _signed_inbox(nodes, key, *, sender="registry", target="camden", body=b"{}",
                  created=None):
    url = f"{nodes.owner('camden').url}/api/v1/federation/inbox/requests"
    headers = signing.sign_headers(key, sender=sender, target=target, method="POST", url=url,
                                   body=body, now=created)
    return url, {**headers, "content-type": "application/json"}


def test_forged_and_replayed_requests_are_refused(nodes):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from citydata.access.keys import NodeKey

    registry_key = load_key(nodes.registry.settings())
    assert registry_key is not None
    forger = NodeKey(*(lambda k: (k, k.public_key()))(Ed25519PrivateKey.generate()))
    body = json.dumps({"dataset": "camden-care-packages"}).encode()

    url, headers = _signed_inbox(nodes, forger, body=body)
    forged = httpx.post(url, content=body, headers=headers)
    assert forged.status_code == 401
    assert "not the key registered" in forged.json()["error"]["message"]

    url, headers = _signed_inbox(nodes, registry_key, body=body)
    first = httpx.post(url, content=body, headers=headers)
    # authentic, so it gets as far as validation: which it fails (no requester named)
    assert first.status_code == 400 and "requester" in first.json()["error"]["message"]
    replay = httpx.post(url, content=body, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]["message"]

    url, headers = _signed_inbox(nodes, registry_key, body=body)
    tampered = httpx.post(url, content=body + b" ", headers=headers)
    assert tampered.status_code == 401 and "Content-Digest" in tampered.json()["error"]["message"]

    url, headers = _signed_inbox(nodes, registry_key, body=body, created=time.time() - 3600)
    stale = httpx.post(url, content=body, headers=headers)
    assert stale.status_code == 401 and "window" in stale.json()["error"]["message"]

    url, headers = _signed_inbox(nodes, registry_key, body=body, target="hackney")
    misaddressed = httpx.post(url, content=body, headers=headers)
    assert misaddressed.status_code == 401

    # an owner node is not the registry: it cannot forward requests to another owner
    hackney_key = load_key(nodes.owner("hackney").settings())
    url, headers = _signed_inbox(nodes, hackney_key, sender="hackney", body=body)
    assert httpx.post(url, content=body, headers=headers).status_code == 401

    unsigned = httpx.post(url, content=body, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401


def test_a_node_going_down_mid_search(nodes):
    """A dead node is reported, not fatal; the others and the index still answer."""
    hackney = nodes.owner("hackney")
    nodes.stop(hackney)
    try:
        live = httpx.get(f"{nodes.registry.url}/api/v1/federation/search",
                         params={"q": "trees", "deadline_ms": 1000}, timeout=10)
        assert live.status_code == 200
        body = live.json()
        statuses = {n["name"]: n["status"] for n in body["nodes"]}
        assert statuses == {"camden": "ok", "hackney": "error"}
        names = {h["name"] for h in body["results"]}
        assert "hackney-street-trees" in names  # still known from the harvested index
        # and a harvest of the dead node fails cleanly and schedules a retry
        admin = nodes.registry.tokens["registry-admin"]
        report = httpx.post(f"{nodes.registry.url}/api/v1/harvest/sources/node-hackney/run",
                            headers=auth(admin), timeout=60).json()
        assert report["status"] == "failed" and report["message"]
        source = httpx.get(f"{nodes.registry.url}/api/v1/harvest/sources/node-hackney").json()
        assert source["failures"] >= 1 and source["next_run_at"]
        # the datasets harvested before stay (not withdrawn because the node is down)
        kept = httpx.get(f"{nodes.registry.url}/api/3/action/package_show",
                         params={"id": "hackney-street-trees"})
        assert kept.status_code == 200
    finally:
        nodes.start(hackney)


class DyingNode(FakeServer):
    """A member node that starts answering and dies mid-answer (the connection drops)."""

    def handle(self, req, h):  # type: ignore[no-untyped-def]
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.write(b'{"help": "x", "success": true, "result": {"count": 1, "resul')
        h.wfile.flush()
        h.connection.shutdown(socket.SHUT_RDWR)
        h.close_connection = True


class SlowNode(FakeServer):
    """A member node that takes three seconds to answer anything."""

    def handle(self, req, h):  # type: ignore[no-untyped-def]
        time.sleep(3)
        h.reply_json(200, {"success": True, "result": {"count": 0, "results": []}})


def _register_fake_member(nodes, name: str, url: str) -> None:
    """Put a member node straight into the registry's database (a fake of the outside world:
    its answers are not signed, and need not be — only requests are)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from citydata.access.keys import NodeKey
    from citydata.platform import Platform
    from citydata.storage.models_federation import FederationNode

    private = Ed25519PrivateKey.generate()
    key = NodeKey(private, private.public_key())
    platform = Platform(nodes.registry.settings())
    try:
        with platform.db.session() as session:
            session.add(FederationNode(name=name, title=name, url=url, role="member",
                                       public_key=key.public_b64, key_id=key.key_id))
    finally:
        platform.close()


def _forget_member(nodes, name: str) -> None:
    from sqlalchemy import delete

    from citydata.platform import Platform
    from citydata.storage.models_federation import FederationNode

    platform = Platform(nodes.registry.settings())
    try:
        with platform.db.session() as session:
            session.execute(delete(FederationNode).where(FederationNode.name == name))
    finally:
        platform.close()


def test_a_node_dying_mid_answer_and_a_slow_node(nodes):
    with DyingNode() as dying, SlowNode() as slow:
        _register_fake_member(nodes, "dying", dying.url)
        _register_fake_member(nodes, "sluggish", slow.url)
        try:
            answer = httpx.get(f"{nodes.registry.url}/api/v1/federation/search",
                               params={"q": "street trees", "deadline_ms": 800}, timeout=10)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            statuses = {n["name"]: n["status"] for n in body["nodes"]}
            assert statuses == {"camden": "ok", "hackney": "ok", "dying": "error",
                                "sluggish": "timeout"}
            assert {h["name"] for h in body["results"]} == {"camden-street-trees",
                                                            "hackney-street-trees"}
            # (that it is "timeout", not "ok", shows the answer did not wait its 3 s; how
            # close to the deadline the answer comes is measured in make bench)
            assert dying.requests_to("/api/3/action/package_search")
        finally:
            _forget_member(nodes, "dying")
            _forget_member(nodes, "sluggish")


def test_the_owners_objections_reach_the_requester(nodes):
    analyst = auth(nodes.registry.tokens["analyst"])
    mine = f"{nodes.registry.url}/api/v1/federation/access-requests"
    before = httpx.get(mine, headers=analyst).json()["count"]
    r = httpx.post(mine, headers=analyst, timeout=30, json={
        **CARE_REQUEST, "dataset": "hackney-care-packages", "purpose_detail": "too short",
        "dpia_reference": ""})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["message"].startswith("hackney refused the request")
    assert {"purpose_detail", "dpia_reference"} <= set(error["fields"])
    # an open dataset needs no agreement: the owner says so
    r = httpx.post(mine, headers=analyst, timeout=30,
                   json={**CARE_REQUEST, "dataset": "hackney-street-trees"})
    assert r.status_code == 400 and "needs no agreement" in r.json()["error"]["message"]
    # refused requests leave nothing behind at the registry
    assert httpx.get(mine, headers=analyst).json()["count"] == before
