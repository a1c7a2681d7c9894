"""Agreements as ODRL 2.2 policies (read with the W3C ODRL JSON-LD context), and the public
transparency register (JSON API and pages)."""

from __future__ import annotations

import json
from pathlib import Path

from rdflib import RDF, Graph, Literal, Namespace, URIRef

ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
DCT = Namespace("http://purl.org/dc/terms/")
CONTEXT = (Path(__file__).resolve().parents[2] / "node_modules" / "@digitalbazaar"
           / "odrl-context" / "contexts" / "odrl.jsonld")


def as_graph(policy: dict) -> Graph:
    """Parse the policy as JSON-LD, with the W3C context read from its npm package (there is
    no network here; the document still names the context by its official URL)."""
    doc = dict(policy)
    assert doc["@context"][0] == "http://www.w3.org/ns/odrl.jsonld"
    doc["@context"] = [json.loads(CONTEXT.read_text())["@context"], *doc["@context"][1:]]
    return Graph().parse(data=json.dumps(doc), format="json-ld")


def test_agreement_as_odrl_policy(client, governed):
    ref = governed.grant(conditions={"actions": "read,download", "columns": ["ward"],
                                     "retention_days": 30})
    r = client.get(f"/api/v1/agreements/{ref}/odrl",
                   headers={"Authorization": governed.tokens["hackney-analyst"]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    g = as_graph(r.json())
    policy = URIRef(f"http://testserver/agreements/{ref}")
    assert (policy, RDF.type, ODRL.Agreement) in g
    assert g.value(policy, ODRL.profile) == URIRef("http://testserver/ns/odrl")
    assert g.value(policy, DCT.identifier) == Literal(ref)
    assert g.value(policy, ODRL.assigner) == URIRef("http://testserver/organization/camden")
    assignee = g.value(policy, ODRL.assignee)
    assert g.value(assignee, ODRL.partOf) == URIRef("http://testserver/organization/hackney")
    assert "hackney-analyst" not in r.text  # people are parties, but never named
    permissions = list(g.objects(policy, ODRL.permission))
    actions = {g.value(p, ODRL.action) for p in permissions}
    assert actions == {ODRL.read, ODRL.reproduce}
    dataset = URIRef(f"http://testserver/dataset/{governed.datasets['restricted']['id']}")
    for p in permissions:
        assert g.value(p, ODRL.target) == dataset
        operands = {g.value(c, ODRL.leftOperand): g.value(c, ODRL.rightOperand)
                    for c in g.objects(p, ODRL.constraint)}
        assert operands[ODRL.purpose] == URIRef("http://testserver/ns/odrl#purpose-service-"
                                                "planning")
        assert ODRL.dateTime in operands
        duty = g.value(p, ODRL.duty)
        assert g.value(duty, ODRL.action) == ODRL.delete
    (prohibition,) = g.objects(policy, ODRL.prohibition)
    assert g.value(prohibition, ODRL.action) == ODRL.distribute
    basis = g.value(policy, URIRef("http://testserver/ns/odrl#lawfulBasis"))
    assert str(basis) == "https://www.legislation.gov.uk/eur/2016/679/article/6#1-e"


def test_aggregate_only_policy_refines_the_action(client, governed):
    ref = governed.grant(actions=["aggregate"], conditions={"min_cell_count": 8})
    policy = client.get(f"/api/v1/agreements/{ref}/odrl").json()  # public: in the register
    g = as_graph(policy)
    (permission,) = g.objects(URIRef(f"http://testserver/agreements/{ref}"), ODRL.permission)
    action = g.value(permission, ODRL.action)
    assert g.value(action, RDF.value) == ODRL.aggregate
    refinement = g.value(action, ODRL.refinement)
    assert g.value(refinement, ODRL.rightOperand).toPython() == 8


def test_requests_are_not_public_as_odrl(client, governed):
    ref = governed.request()
    assert client.get(f"/api/v1/agreements/{ref}/odrl").status_code == 404
    r = client.get(f"/api/v1/agreements/{ref}/odrl",
                   headers={"Authorization": governed.tokens["camden-owner"]})
    assert r.status_code == 200


def test_register_lists_agreements_without_people(client, governed):
    active = governed.grant()
    revoked = governed.grant(level="shared")
    governed.request(user="hackney-colleague")  # a pending request: not in the register
    client.post(f"/api/v1/agreements/{revoked}/revoke", json={"note": "ended early"},
                headers={"Authorization": governed.tokens["camden-owner"]})
    body = client.get("/api/v1/register").json()
    assert body["count"] == 2
    by_ref = {a["reference"]: a for a in body["results"]}
    assert set(by_ref) == {active, revoked}
    entry = by_ref[active]
    assert entry["status"] == "active" and entry["provider"]["name"] == "camden"
    assert entry["recipients"] == [{"organization": {"id": entry["recipients"][0][
        "organization"]["id"], "name": "hackney", "title": "London Borough of Hackney"},
        "named_individual": True}]
    assert entry["purpose"] == "service-planning" and entry["lawful_basis"] == "art6-1-e"
    assert entry["dpia_reference"] == "HAC-DPIA-042"
    assert [d["name"] for d in entry["datasets"]] == ["care-restricted"]
    text = json.dumps(body)
    for secret in ("hackney-analyst", "history", "requested_by"):
        assert secret not in text
    assert by_ref[revoked]["status"] == "revoked" and by_ref[revoked]["ended_reason"]
    only = client.get("/api/v1/register", params={"status": "revoked"}).json()
    assert [a["reference"] for a in only["results"]] == [revoked]
    assert client.get("/api/v1/register", params={"status": "draft"}).status_code == 400
    assert client.get("/api/v1/register", params={"provider": "nowhere"}).status_code == 404
    assert client.get(f"/api/v1/register/{active}").json()["reference"] == active


def test_register_pages(client, governed):
    ref = governed.grant()
    page = client.get("/register")
    assert page.status_code == 200 and ref in page.text and "London Borough of Hackney" in page.text
    assert "hackney-analyst" not in page.text
    entry = client.get(f"/register/{ref}")
    assert entry.status_code == 200 and "Planning adult social care" in entry.text
    assert "A named individual" in entry.text
    assert client.get("/register/DSA-1999-0001").status_code == 404


def test_a_dataset_made_private_later_is_not_named(client, governed, make_ctx):
    from citydata.catalog import datasets

    ref = governed.grant()
    with make_ctx() as ctx:
        datasets.update_dataset(ctx, "care-restricted", {"access_level": "private"},
                                partial=True)
    entry = client.get(f"/api/v1/register/{ref}").json()
    assert entry["datasets"] == [{"title": "A dataset that is not listed publicly", "name": None,
                                  "id": None, "access_level": "private", "resource_id": None}]
    assert "care-restricted" not in client.get("/register").text
