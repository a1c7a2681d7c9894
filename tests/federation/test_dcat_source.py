"""Harvesting DCAT catalogs: serialisations, Hydra paging, hostile input, mapping, round trip.

Every source is a real HTTP server on 127.0.0.1: the fixtures in ``fixtures/dcat/`` (invented
borough catalogs), pages made up on the fly, citydata's own DCAT exporter, and the
:class:`HostileServer` from ``fakes``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph

from citydata.catalog.dcat import build_catalog_graph, serialize
from citydata.federation.dcat_source import DcatSource, slugify
from citydata.federation.fetch import Fetcher, Limits
from citydata.federation.records import HarvestRecord, RecordError, SourceError
from tests.federation.fakes import FakeServer, HostileServer, Request

FIXTURES = Path(__file__).parent / "fixtures" / "dcat"
MEDIA_TYPES = {
    "jsonld": "application/ld+json",
    "ttl": "text/turtle",
    "rdf": "application/rdf+xml",
    "nt": "application/n-triples",
}
DS = "https://data.thameside.example/dataset/"
AIR = DS + "air-quality-monitoring-sites"
TREES = DS + "street-trees"
HOUSING = DS + "housing-register-summary"
CARE = DS + "adult-social-care-cases"
WARDS = DS + "7d0c5a1e-9b2f-4c3a-8e61-2f4b9c0d1e23"
pytestmark = pytest.mark.filterwarnings(
    # rdflib's own JSON-LD parser uses its deprecated ConjunctiveGraph internally.
    "ignore:ConjunctiveGraph is deprecated:DeprecationWarning"
)
PREFIXES = """\
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix hydra: <http://www.w3.org/ns/hydra/core#> .
"""

Route = Callable[[Request], tuple[int, str | bytes, str]]


class DcatServer(FakeServer):
    """Serves ``/dcat/<fixture>`` (``?page=N`` picks ``<stem>-pageN.<ext>`` when it exists,
    ``?as=<media type>`` overrides the content type) and whatever ``routes`` a test adds."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, Route] = {}

    def handle(self, req: Request, h: Any) -> None:
        route = self.routes.get(req.path)
        if route is not None:
            status, body, ctype = route(req)
            h.reply(status, body, ctype)
            return
        if req.path.startswith("/dcat/"):
            name = req.path[len("/dcat/"):]
            stem, _, ext = name.rpartition(".")
            paged = FIXTURES / f"{stem}-page{req.query.get('page') or 1}.{ext}"
            path = paged if paged.exists() else FIXTURES / name
            if path.is_file():
                body = path.read_text("utf-8").replace("{{BASE}}", self.url)
                h.reply(200, body, req.query.get("as") or MEDIA_TYPES.get(ext, "text/plain"))
                return
        h.reply(404, "Not found", "text/plain")


@pytest.fixture(scope="module")
def server() -> Iterator[DcatServer]:
    with DcatServer() as srv:
        yield srv


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(Limits(timeout=5.0, connect_timeout=2.0)) as f:
        yield f


def harvest(url: str, fetcher: Fetcher, since: str | None = None) -> list[Any]:
    return list(DcatSource(url, fetcher).records(since))


def good(results: list[Any]) -> dict[str, HarvestRecord]:
    return {r.remote_id: r for r in results if isinstance(r, HarvestRecord)}


def turtle_route(text: str, status: int = 200) -> Route:
    return lambda req: (status, PREFIXES + text, "text/turtle")


def labelled(body: str | bytes, media: str) -> Route:
    return lambda req: (200, body, media)


def one_dataset(iri: str, extra: str = "", title: str = "A dataset") -> str:
    return f'<{iri}> a dcat:Dataset ; dct:title "{title}" {extra} .\n'


# -- serialisations and paging ---------------------------------------------------------------
def test_every_serialisation_gives_the_same_records(server: DcatServer, fetcher: Fetcher):
    nt = Graph().parse(FIXTURES / "catalog.ttl", format="turtle").serialize(format="nt")
    server.routes["/generated/catalog.nt"] = lambda req: (200, nt, "application/n-triples")
    harvested = {
        fmt: harvest(f"{server.url}{path}", fetcher)
        for fmt, path in {
            "jsonld": "/dcat/catalog.jsonld",
            "ttl": "/dcat/catalog.ttl",
            "rdf": "/dcat/catalog.rdf",
            "nt": "/generated/catalog.nt",
        }.items()
    }
    expected = {AIR, TREES, HOUSING, WARDS}  # the NON_PUBLIC dataset is not harvested
    for fmt, results in harvested.items():
        assert all(isinstance(r, HarvestRecord) for r in results), fmt
        assert set(good(results)) == expected, fmt
    reference = sorted(harvested["ttl"], key=lambda r: r.remote_id)
    for fmt in ("jsonld", "rdf", "nt"):
        assert sorted(harvested[fmt], key=lambda r: r.remote_id) == reference, fmt
        assert [r.content_hash for r in sorted(harvested[fmt], key=lambda r: r.remote_id)] == [
            r.content_hash for r in reference
        ]


def test_json_ld_catalog_is_followed_across_hydra_pages(server: DcatServer, fetcher: Fetcher):
    before = len(server.requests_to("/dcat/catalog.jsonld"))
    source = DcatSource(f"{server.url}/dcat/catalog.jsonld", fetcher)
    listing = dict(source.listing())
    requests = server.requests_to("/dcat/catalog.jsonld")[before:]
    assert [r.query.get("page") for r in requests] == [None, "2"]
    assert source.pages_read == 2
    # Datasets from page 1 and page 2; the non-public one is not listed.
    assert listing == {
        AIR: "2024-03-01T10:00:00+00:00",
        TREES: "2023-06-15",
        HOUSING: "2022-01-10T07:30:00+00:00",
        WARDS: "",
    }
    # Everything is parsed once and cached for the run: no more requests.
    assert len(list(source.records(None))) == 4
    assert isinstance(source.record(TREES), HarvestRecord)
    assert len(server.requests_to("/dcat/catalog.jsonld")) == before + 2
    assert "application/ld+json" in requests[0].headers["accept"]
    assert "text/turtle" in requests[0].headers["accept"]
    assert "application/rdf+xml" in requests[0].headers["accept"]


def test_old_hydra_vocabulary_paged_collection_next_page(server: DcatServer, fetcher: Fetcher):
    def page(req: Request) -> tuple[int, str, str]:
        n = int(req.query.get("page") or 1)
        nxt = f"hydra:nextPage <{server.url}/old/catalog.ttl?page={n + 1}> ;" if n < 3 else ""
        body = (PREFIXES + one_dataset(f"https://old.example/dataset/d{n}", title=f"Old {n}")
                + f"<{server.url}/old/catalog.ttl?page={n}> a hydra:PagedCollection ; {nxt}"
                + " hydra:itemsPerPage 1 .\n")
        return 200, body, "text/turtle"

    server.routes["/old/catalog.ttl"] = page
    records = good(harvest(f"{server.url}/old/catalog.ttl", fetcher))
    assert sorted(records) == [f"https://old.example/dataset/d{n}" for n in (1, 2, 3)]
    assert records["https://old.example/dataset/d2"].fields["title"] == "Old 2"


@pytest.mark.parametrize("loop", ["self", "pair"])
def test_looping_pagination_is_stopped(server: DcatServer, fetcher: Fetcher, loop: str):
    base = f"{server.url}/loop-{loop}"
    a_next = f"{base}/a.ttl" if loop == "self" else f"{base}/b.ttl"
    view = "a hydra:PartialCollectionView ; hydra:next"
    server.routes[f"/loop-{loop}/a.ttl"] = turtle_route(
        one_dataset("https://loop.example/dataset/a") + f"<{base}/a.ttl> {view} <{a_next}> .")
    server.routes[f"/loop-{loop}/b.ttl"] = turtle_route(
        one_dataset("https://loop.example/dataset/b") + f"<{base}/b.ttl> {view} <{base}/a.ttl> .")
    with pytest.raises(SourceError, match="endless pagination"):
        harvest(f"{base}/a.ttl", fetcher)
    assert len(server.requests_to(f"/loop-{loop}/a.ttl")) == 1
    assert len(server.requests_to(f"/loop-{loop}/b.ttl")) == (0 if loop == "self" else 1)


def test_paging_stops_at_max_pages(server: DcatServer):
    def page(req: Request) -> tuple[int, str, str]:
        n = int(req.query.get("page") or 1)  # always another page, never the same one
        here = f"{server.url}/endless/catalog.ttl"
        return 200, PREFIXES + one_dataset(f"https://endless.example/dataset/{n}") + (
            f"<{here}?page={n}> a hydra:PartialCollectionView ; hydra:next <{here}?page={n + 1}> ."
        ), "text/turtle"

    server.routes["/endless/catalog.ttl"] = page
    with Fetcher(Limits(timeout=5.0, max_pages=3)) as fetcher, pytest.raises(
        SourceError, match="more than 3 pages"
    ):
        harvest(f"{server.url}/endless/catalog.ttl", fetcher)
    assert len(server.requests_to("/endless/catalog.ttl")) == 3


def test_paging_links_to_another_host_are_not_followed(server: DcatServer, fetcher: Fetcher):
    server.routes["/away/catalog.ttl"] = turtle_route(
        one_dataset("https://away.example/dataset/1")
        + "<?page=1> a hydra:PartialCollectionView ; hydra:next <http://169.254.169.254/latest> .")
    with pytest.raises(SourceError, match="another host"):
        harvest(f"{server.url}/away/catalog.ttl", fetcher)


def test_content_type_is_sniffed_when_the_server_does_not_say(
    server: DcatServer, fetcher: Fetcher
):
    reference = harvest(f"{server.url}/dcat/catalog.ttl", fetcher)
    for name, media in (("catalog.ttl", "application/octet-stream"),
                        ("catalog.rdf", "text/plain"),
                        ("catalog.rdf", "application/xml")):
        assert harvest(f"{server.url}/dcat/{name}?as={media}", fetcher) == reference, name
    jsonld = harvest(f"{server.url}/dcat/catalog.jsonld?as=text/plain", fetcher)
    assert set(good(jsonld)) == set(good(reference))


# -- hostile and broken sources --------------------------------------------------------------
def test_billion_laughs_is_refused_quickly(fetcher: Fetcher):
    with HostileServer() as hostile:
        started = time.monotonic()
        with pytest.raises(SourceError, match="entity declarations are refused") as err:
            harvest(f"{hostile.url}/entity.rdf", fetcher)
        assert time.monotonic() - started < 2
    assert "entity expansion attack" in err.value.message


def test_entity_declarations_are_refused_whatever_the_label(server: DcatServer, fetcher: Fetcher):
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n <!ENTITY a "aaaaaaaaaa">\n'
            ' <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
            ' xmlns:dct="http://purl.org/dc/terms/">'
            '<rdf:Description rdf:about="https://x.example/d"><dct:title>&b;</dct:title>'
            '</rdf:Description></rdf:RDF>')
    for n, media in enumerate(("text/turtle", "application/octet-stream")):
        server.routes[f"/bomb/{n}"] = labelled(bomb, media)
        with pytest.raises(SourceError, match="entity expansion attack"):
            harvest(f"{server.url}/bomb/{n}", fetcher)
    server.routes["/bomb/utf16"] = labelled(bomb.encode("utf-16"), "application/rdf+xml")
    with pytest.raises(SourceError, match="entity expansion attack"):
        harvest(f"{server.url}/bomb/utf16", fetcher)


def test_a_remote_json_ld_context_is_never_fetched(server: DcatServer, fetcher: Fetcher):
    started = time.monotonic()
    records = good(harvest(f"{server.url}/dcat/remote-context.jsonld", fetcher))
    assert time.monotonic() - started < 3  # no DNS look-up or connection attempt to wait for
    record = records[DS + "road-casualties"]
    assert record.fields["title"] == "Road casualties"
    assert record.fields["tags"] == ["road safety", "transport"]
    assert record.fields["license_id"] == "OGL-UK-3.0"
    assert record.modified == "2024-05-01T00:00:00+00:00"
    assert record.fields["resources"] == [{
        "name": "Casualties (CSV)", "url": "https://files.thameside.example/roads/casualties.csv",
        "format": "CSV", "description": "",
    }]


def test_no_kind_of_remote_context_reaches_the_network(server: DcatServer, fetcher: Fetcher):
    context = {"@context": {"title": "http://purl.org/dc/terms/title"}}
    server.routes["/ctx/context.jsonld"] = lambda req: (200, json.dumps(context),
                                                        "application/ld+json")
    server.routes["/ctx/imported.jsonld"] = server.routes["/ctx/context.jsonld"]
    server.routes["/ctx/scoped.jsonld"] = server.routes["/ctx/context.jsonld"]
    doc = {
        "@context": [f"{server.url}/ctx/context.jsonld",
                     {"@version": 1.1, "@import": f"{server.url}/ctx/imported.jsonld",
                      "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
                      "Scoped": {"@id": "dcat:Distribution",
                                 "@context": f"{server.url}/ctx/scoped.jsonld"}}],
        "@id": "https://ctx.example/dataset/1",
        "@type": "dcat:Dataset",
        "dct:title": "Context trap",
        "dcat:distribution": {"@context": "/ctx/scoped.jsonld", "@type": "dcat:Distribution",
                              "dcat:accessURL": {"@id": "https://ctx.example/file.csv"}},
    }
    text = json.dumps(doc)
    server.routes["/ctx/catalog.jsonld"] = lambda req: (200, text, "application/ld+json")
    record = good(harvest(f"{server.url}/ctx/catalog.jsonld", fetcher))["https://ctx.example/dataset/1"]
    assert record.fields["title"] == "Context trap"
    assert record.fields["resources"][0]["url"] == "https://ctx.example/file.csv"
    assert server.requests_to("/ctx/context.jsonld") == []
    assert server.requests_to("/ctx/imported.jsonld") == []
    assert server.requests_to("/ctx/scoped.jsonld") == []
    # The trap is real: plain rdflib, given the same document, does download the context.
    Graph().parse(data=text, format="json-ld", base=f"{server.url}/ctx/catalog.jsonld")
    assert len(server.requests_to("/ctx/context.jsonld")) == 1


@pytest.mark.parametrize(
    ("body", "media", "reason"),
    [
        ('@prefix dct: <http://purl.org/dc/terms/> .\n<https://x.example/d> dct:title "x" ;;; ]',
         "text/turtle", "invalid RDF from"),
        ('{"@context": {"dct": "http://purl.org/dc/terms/"}, "@graph": [',
         "application/ld+json", "invalid RDF from"),
        ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description>',
         "application/rdf+xml", "invalid RDF from"),
        ("<https://x.example/d> <http://purl.org/dc/terms/title> .", "application/n-triples",
         "invalid RDF from"),
        ('"just a string"', "application/ld+json", "not a JSON-LD document"),
        ('{"hello": "world"}', "application/ld+json", "not a DCAT catalog"),
        ("", "text/turtle", "empty response"),
    ],
)
def test_invalid_rdf_is_a_source_error(
    server: DcatServer, fetcher: Fetcher, body: str, media: str, reason: str
):
    path = f"/invalid/{abs(hash(body))}"
    server.routes[path] = lambda req: (200, body, media)
    with pytest.raises(SourceError) as err:
        harvest(f"{server.url}{path}", fetcher)
    message = err.value.message
    assert reason in message
    assert f"{server.url}{path}" in message
    assert "\n" not in message and "Traceback" not in message and len(message) < 400


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/html", "HTML page"), ("/html-as-json", "HTML page"), ("/notfound", "HTTP 404"),
     ("/error", "HTTP 500"), ("/deep-json", "nested too deeply"), ("/huge", "larger than"),
     ("/slow", "did not send its whole answer"), ("/redirect-away", "another host")],
)
def test_html_broken_and_hostile_sources_are_source_errors(path: str, expected: str):
    with HostileServer(slow_interval=0.2) as hostile, Fetcher(Limits(timeout=1.0)) as fetcher:
        started = time.monotonic()
        with pytest.raises(SourceError, match=expected) as err:
            harvest(f"{hostile.url}{path}", fetcher)
        assert time.monotonic() - started < 3
    assert hostile.url in err.value.message
    assert "Traceback" not in err.value.message


def test_an_external_dtd_is_not_fetched(server: DcatServer, fetcher: Fetcher):
    server.routes["/dtd/evil.dtd"] = lambda req: (200, "<!ENTITY x 'boom'>", "application/xml-dtd")
    body = (f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF SYSTEM "{server.url}/dtd/evil.dtd">\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
            ' xmlns:dcat="http://www.w3.org/ns/dcat#" xmlns:dct="http://purl.org/dc/terms/">'
            '<dcat:Dataset rdf:about="https://dtd.example/d"><dct:title>With a DTD</dct:title>'
            '</dcat:Dataset></rdf:RDF>')
    server.routes["/dtd/catalog.rdf"] = lambda req: (200, body, "application/rdf+xml")
    records = good(harvest(f"{server.url}/dtd/catalog.rdf", fetcher))
    assert records["https://dtd.example/d"].fields["title"] == "With a DTD"
    assert server.requests_to("/dtd/evil.dtd") == []


# -- records ---------------------------------------------------------------------------------
def test_a_malformed_dataset_is_a_record_error_and_the_others_go_on(
    server: DcatServer, fetcher: Fetcher
):
    source = DcatSource(f"{server.url}/dcat/malformed.ttl", fetcher)
    results = list(source.records(None))
    errors = [r for r in results if isinstance(r, RecordError)]
    records = good(results)
    assert set(records) == {DS + "bus-shelters", "local-42"}
    assert records[DS + "bus-shelters"].fields["title"] == "Bus shelters"
    # A blank-node dataset is known by its dct:identifier; its identifier is made an IRI.
    parking = records["local-42"]
    assert parking.fields["title"] == "Parking bays"
    assert parking.identifier == f"{server.url}/dataset/local-42"
    assert parking.remote_name == "parking-bays"
    untitled = next(e for e in errors if e.remote_id == DS + "untitled")
    assert "no dct:title" in untitled.message
    assert "A dataset somebody forgot to name." in untitled.source_record
    assert untitled.source_record.startswith("@prefix")  # Turtle, for the job report
    anonymous = next(e for e in errors if e.remote_id == "")
    assert "Anonymous dataset" in anonymous.source_record
    assert len(errors) == 2
    # The untitled dataset is still listed (it exists at the source), the anonymous one cannot be.
    assert dict(source.listing()) == {
        DS + "bus-shelters": "2024-04-02T12:00:00+00:00", DS + "untitled": "", "local-42": ""
    }
    assert isinstance(source.record(DS + "untitled"), RecordError)
    assert source.record("local-42") == parking


def test_source_record_is_truncated(server: DcatServer, fetcher: Fetcher):
    long_text = "x" * 10_000
    server.routes["/long/catalog.ttl"] = turtle_route(
        f'<https://long.example/d> a dcat:Dataset ; dct:description "{long_text}" .')
    [error] = harvest(f"{server.url}/long/catalog.ttl", fetcher)
    assert isinstance(error, RecordError)
    assert len(error.source_record) == 4000


def test_since_keeps_newer_records_and_those_without_a_date(server: DcatServer, fetcher: Fetcher):
    url = f"{server.url}/dcat/catalog.ttl"
    assert set(good(harvest(url, fetcher, since="2023-06-15"))) == {AIR, TREES, WARDS}
    assert set(good(harvest(url, fetcher, since="2023-06-15T00:00:01Z"))) == {AIR, WARDS}
    assert set(good(harvest(url, fetcher, since="2024-03-01T11:00:00+01:00"))) == {AIR, WARDS}
    assert set(good(harvest(url, fetcher, since="2030-01-01"))) == {WARDS}
    assert set(good(harvest(url, fetcher, since=None))) == {AIR, TREES, HOUSING, WARDS}


def test_mapping_of_a_full_dataset(server: DcatServer, fetcher: Fetcher):
    source = DcatSource(f"{server.url}/dcat/catalog.rdf", fetcher)
    air = source.record(AIR)
    assert isinstance(air, HarvestRecord)
    assert air.identifier == AIR  # dct:identifier is not an IRI, so the dataset IRI
    assert air.source_url == "https://data.thameside.example/datasets/air-quality-monitoring-sites"
    assert air.remote_name == "air-quality-monitoring-sites"
    assert air.modified == "2024-03-01T10:00:00+00:00"
    assert air.publisher == "London Borough of Thameside"
    assert air.private is False
    assert air.fields == {
        "title": "Air quality monitoring sites",
        "notes": "Locations of the borough's automatic and diffusion-tube air quality monitors, "
                 "with the pollutants each one measures.",
        "tags": ["NO2", "air quality", "pollution"],  # English ones; "monitoring/sites" invalid
        "license_id": "OGL-UK-3.0",  # https, no trailing slash: still the register's OGL v3
        "url": "https://data.thameside.example/datasets/air-quality-monitoring-sites",
        "version": "2.1",
        "contact_name": "Thameside Environmental Health",
        "contact_email": "air.quality@thameside.example",
        "frequency": "daily",
        "temporal_start": "2019-01-01",
        "temporal_end": "2024-12-31",
        "bbox": [-0.105, 51.455, 0.012, 51.532],
        "access_level": "open",
        "restriction_reason": "",
        "discovery": "",
        "extras": [
            {"key": "dcat_identifier", "value": "thameside-aq-001"},
            {"key": "dcat_page", "value": "https://www.thameside.example/environment/air-quality"},
        ],
        "resources": [
            {"name": "Monitoring sites (CSV)", "url": "https://files.thameside.example/air/sites.csv",
             "format": "CSV", "description": "One row per monitor."},
            {"name": "Monitoring sites (GeoJSON)",
             "url": "https://files.thameside.example/air/sites.geojson", "format": "GeoJSON",
             "description": ""},
        ],
    }


def test_mapping_variants(server: DcatServer, fetcher: Fetcher):
    records = good(harvest(f"{server.url}/dcat/catalog.jsonld", fetcher))
    trees = records[TREES].fields
    assert records[TREES].identifier == "https://id.thameside.example/dataset/street-trees"
    assert trees["license_id"] == "CC-BY-4.0"  # from the distribution's legalcode URL
    assert trees["bbox"] == [-0.09, 51.46, 0.01, 51.52]  # GeoJSON in locn:geometry
    assert (trees["temporal_start"], trees["temporal_end"]) == ("2010-01-01", "")
    assert (trees["contact_name"], trees["contact_email"]) == ("Parks and Open Spaces",
                                                               "trees@thameside.example")
    assert (trees["version"], trees["frequency"]) == ("2023.06", "monthly")
    assert trees["resources"][0]["format"] == "CSV"  # an IANA media-type IRI as dct:format
    assert trees["access_level"] == "open"  # no dct:accessRights

    housing = records[HOUSING]
    assert housing.fields["title"] == "Housing register summary"  # @en-GB counts as English
    assert housing.fields["access_level"] == "restricted"
    assert housing.fields["restriction_reason"] == "licence"
    assert housing.fields["discovery"] == "schema"  # the source lists its files publicly
    assert housing.fields["license_id"] == "other-open"
    assert {"key": "dcat_license",
            "value": "https://licences.thameside.example/data-sharing-licence/1.0"} in (
        housing.fields["extras"])
    assert housing.fields["bbox"] == [-0.11, 51.45, 0.02, 51.53]  # EPSG:4326 is lat/lon
    assert housing.fields["frequency"] == ""  # ANNUAL_2 has no citydata equivalent
    assert (housing.fields["temporal_start"], housing.fields["temporal_end"]) == (
        "2021-01-01", "2021-12-31")
    assert housing.modified == "2022-01-10T07:30:00+00:00"
    assert housing.publisher == "Thameside Housing Services"
    assert housing.fields["resources"][0]["format"] == "XLSX"
    assert housing.remote_name == "housing-register-summary"

    wards = records[WARDS]
    assert wards.fields["license_id"] == "notspecified"
    assert wards.remote_name == "ward-boundaries-2022"  # the IRI ends in a UUID
    assert wards.source_url == WARDS
    assert wards.modified == ""
    assert wards.fields["resources"] == [{
        "name": "wards-2022.zip", "url": "https://files.thameside.example/boundaries/wards-2022.zip",
        "format": "", "description": ""}]

    assert CARE not in records  # NON_PUBLIC
    skipped = DcatSource(f"{server.url}/dcat/catalog.jsonld", fetcher).record(CARE)
    assert isinstance(skipped, RecordError) and "not public" in skipped.message


@pytest.mark.parametrize(
    ("licence", "expected"),
    [
        ("<http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/>",
         "OGL-UK-3.0"),
        ("<https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3>",
         "OGL-UK-3.0"),
        ("<http://nationalarchives.gov.uk/doc/open-government-licence/version/2/>", "OGL-UK-2.0"),
        ("<http://creativecommons.org/licenses/by/4.0>", "CC-BY-4.0"),
        ("<https://creativecommons.org/licenses/by-sa/4.0/legalcode.en>", "CC-BY-SA-4.0"),
        ("<https://creativecommons.org/publicdomain/zero/1.0/deed.en>", "CC0-1.0"),
        ("<http://spdx.org/licenses/ODbL-1.0>", "ODbL-1.0"),
        ("<http://publications.europa.eu/resource/authority/licence/CC_BY_4_0>", "CC-BY-4.0"),
        ('[ a dct:LicenseDocument ; dct:identifier "OGL-UK-3.0" ]', "OGL-UK-3.0"),
        ("<https://example.org/our-own-licence>", "other-open"),
    ],
)
def test_licences_are_matched_against_the_register(
    server: DcatServer, fetcher: Fetcher, licence: str, expected: str
):
    path = f"/licence/{abs(hash(licence))}.ttl"
    server.routes[path] = turtle_route(one_dataset("https://lic.example/d",
                                                   f"; dct:license {licence}"))
    [record] = harvest(f"{server.url}{path}", fetcher)
    assert isinstance(record, HarvestRecord)
    assert record.fields["license_id"] == expected


def test_slugify() -> None:
    assert slugify("Café Openings 2024!") == "cafe-openings-2024"
    assert slugify("x") == ""
    assert slugify("a" * 150) == "a" * 100
    assert slugify("--Bus_Stops--") == "bus_stops"


# -- round trip with citydata's own exporter -------------------------------------------------
def citydata_dataset(n: int, **overrides: Any) -> dict[str, Any]:
    """A dataset dict in the core's ``package_show`` shape (as ``tests/catalog`` builds it)."""
    ds: dict[str, Any] = {
        "id": f"6f1c2d3e-0000-4000-8000-{n:012d}",
        "name": f"bus-stops-{n}",
        "title": f"Bus stops {n}",
        "notes": "Every bus stop in the borough, with its shelter and accessibility.",
        "owner_org": "org-1",
        "organization": {"id": "org-1", "name": "thameside", "title": "London Borough of Thameside",
                         "url": "https://www.thameside.example", "email": "data@thameside.example"},
        "license_id": "OGL-UK-3.0",
        "license_url": "",
        "tags": [{"name": "buses"}, {"name": "transport"}],
        "themes": ["TRAN"],
        "access_level": "open",
        "private": False,
        "url": "https://www.thameside.example/buses",
        "version": "1.0",
        "contact_name": "Transport Team",
        "contact_email": "transport@thameside.example",
        "maintainer": "", "maintainer_email": "", "author": "", "author_email": "",
        "frequency": "weekly",
        "temporal_start": "2020-01-01",
        "temporal_end": "2024-12-31",
        "bbox": [-0.51, 51.28, 0.33, 51.69],
        "boroughs": ["E09000007"],
        "metadata_created": "2024-01-02T03:04:05.123456",
        "metadata_modified": f"2024-02-0{n}T04:05:06.654321",
        "resources": [
            {"id": f"res-{n}-1", "name": "Stops (CSV)", "description": "One row per stop.",
             "format": "CSV", "mimetype": "text/csv", "url_type": "upload",
             "url": f"https://data.thameside.example/dataset/bus-stops-{n}/stops.csv",
             "size": 1234, "hash": "", "created": "2024-01-02T03:04:05",
             "last_modified": None},
            {"id": f"res-{n}-2", "name": "Live arrivals API", "description": "", "format": "API",
             "mimetype": "", "url": "https://api.thameside.example/stops", "url_type": ""},
            {"id": f"res-{n}-3", "name": "Stops map", "description": "", "format": "GeoJSON",
             "mimetype": "", "url": "https://data.thameside.example/stops.geojson",
             "url_type": ""},
        ],
    }
    ds.update(overrides)
    return ds


ROUND_TRIP = [
    citydata_dataset(1),
    citydata_dataset(2, access_level="shared", restriction_reason="personal-data",
                     discovery="schema", license_id="CC-BY-4.0", tags=[{"name": "accessibility"}]),
    citydata_dataset(3, access_level="restricted", restriction_reason="security"),
    citydata_dataset(4, notes="", license_id="", tags=[], resources=[], frequency="",
                     temporal_start="", temporal_end="", bbox=None, organization=None,
                     contact_name="", contact_email=""),
]


@pytest.mark.parametrize("fmt", ["jsonld", "ttl", "rdf"])
def test_round_trip_from_a_citydata_node(server: DcatServer, fetcher: Fetcher, fmt: str):
    page_size = 2

    def catalog(req: Request) -> tuple[int, bytes, str]:
        page = int(req.query.get("page") or 1)
        graph = build_catalog_graph(
            {"title": "Thameside City Data"},
            ROUND_TRIP[(page - 1) * page_size: page * page_size],
            site_url=server.url, page=page, page_size=page_size, total=len(ROUND_TRIP),
            modified_since=None, fmt=fmt,
        )
        body, media = serialize(graph, fmt)
        return 200, body, media

    server.routes[f"/catalog.{fmt}"] = catalog
    before = len(server.requests_to(f"/catalog.{fmt}"))
    source = DcatSource(f"{server.url}/catalog.{fmt}", fetcher)
    records = good(list(source.records(None)))
    assert len(server.requests_to(f"/catalog.{fmt}")) - before == 2  # Hydra paging followed
    iri = {n: f"{server.url}/dataset/6f1c2d3e-0000-4000-8000-{n:012d}" for n in (1, 2, 3, 4)}
    # "restricted" data is exported as NON_PUBLIC: not harvested.
    assert set(records) == {iri[1], iri[2], iri[4]}

    full = records[iri[1]]
    assert full.identifier == iri[1]  # dct:identifier is the bare id: the IRI is the identifier
    assert {"key": "dcat_identifier", "value": "6f1c2d3e-0000-4000-8000-000000000001"} in (
        full.fields["extras"])
    assert full.remote_name == "bus-stops-1"  # from the landing page, not the UUID
    assert full.source_url == f"{server.url}/dataset/bus-stops-1"
    assert full.modified == "2024-02-01T04:05:06.654321+00:00"
    assert full.publisher == "London Borough of Thameside"
    fields = full.fields
    assert fields["title"] == "Bus stops 1"
    assert fields["notes"] == "Every bus stop in the borough, with its shelter and accessibility."
    assert fields["tags"] == ["buses", "transport"]
    assert fields["license_id"] == "OGL-UK-3.0"
    assert fields["access_level"] == "open"
    assert (fields["contact_name"], fields["contact_email"]) == ("Transport Team",
                                                                 "transport@thameside.example")
    assert fields["frequency"] == "weekly"
    assert (fields["temporal_start"], fields["temporal_end"]) == ("2020-01-01", "2024-12-31")
    assert fields["bbox"] == [-0.51, 51.28, 0.33, 51.69]
    assert fields["resources"] == [
        {"name": "Live arrivals API", "url": "https://api.thameside.example/stops", "format": "API",
         "description": ""},
        {"name": "Stops (CSV)",
         "url": "https://data.thameside.example/dataset/bus-stops-1/stops.csv", "format": "CSV",
         "description": "One row per stop."},
        {"name": "Stops map", "url": "https://data.thameside.example/stops.geojson",
         "format": "GeoJSON", "description": ""},
    ]

    shared = records[iri[2]].fields
    assert shared["access_level"] == "restricted"  # RESTRICTED: only under a condition
    assert shared["restriction_reason"] == "licence"  # the export does not say why
    assert shared["discovery"] == "schema"
    assert shared["license_id"] == "CC-BY-4.0"
    assert shared["tags"] == ["accessibility"]
    assert len(shared["resources"]) == 3

    minimal = records[iri[4]]
    assert minimal.fields["notes"] == "Bus stops 4"  # the exporter's fallback description
    assert minimal.fields["license_id"] == "notspecified"
    assert minimal.fields["tags"] == []
    assert minimal.fields["resources"] == []
    assert minimal.fields["bbox"] is None
    assert minimal.publisher == ""
