"""DCAT-AP 3 metadata: the catalog and its datasets as an RDF graph, and its serialisations.

Framework-free: callers hand in the dataset dicts the core already filtered for the actor
(CKAN ``package_show`` shape) and get back an :class:`rdflib.Graph`. The mapping is documented
in ``docs/dcat.md``; the output is tested against the official DCAT-AP 3.0.0 SHACL shapes.

Nodes that are the object of a property with a range class (licence, frequency, theme,
media type, ...) are typed explicitly, because the official shapes check ``sh:class`` and a
consumer may not have the vocabularies loaded.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from citydata.catalog.licenses import get_license
from citydata.catalog.themes import FREQUENCIES, THEMES

SPDX = Namespace("http://spdx.org/rdf/terms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
GEO = Namespace("http://www.opengis.net/ont/geosparql#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
EU = "http://publications.europa.eu/resource/authority/"
THEME_SCHEME = URIRef(EU + "data-theme")
ONS_GEOGRAPHY = "http://statistics.data.gov.uk/id/statistical-geography/"
IANA_MEDIA = "https://www.iana.org/assignments/media-types/"
CRS84 = "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"

#: URL suffix -> (rdflib serializer name, media type).
FORMATS: dict[str, tuple[str, str]] = {
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("xml", "application/rdf+xml"),
}
PREFIXES: dict[str, Namespace] = {
    "dcat": Namespace(str(DCAT)),
    "dct": Namespace(str(DCTERMS)),
    "foaf": Namespace(str(FOAF)),
    "vcard": Namespace(str(VCARD)),
    "skos": Namespace(str(SKOS)),
    "spdx": SPDX,
    "hydra": HYDRA,
    "geo": GEO,
    "xsd": Namespace(str(XSD)),
    "rdfs": Namespace(str(RDFS)),
}

# Our lower-case frequency codes are the EU frequency authority codes lower-cased, except
# "irregular" and "continuous", which have codes of their own.
FREQUENCY_CODES = {
    **{code: code.upper() for code in FREQUENCIES},
    "continuous": "UPDATE_CONT",
    "irregular": "IRREG",
}
# citydata access levels -> EU access-right codes. "registered" and "shared" data is
# available under a condition (an account, an agreement), so RESTRICTED; "restricted" and
# "private" data is not made available outside its owner's agreements, so NON_PUBLIC.
ACCESS_RIGHTS = {
    "open": "PUBLIC",
    "registered": "RESTRICTED",
    "shared": "RESTRICTED",
    "restricted": "NON_PUBLIC",
    "private": "NON_PUBLIC",
}
# Resource format (upper-cased) -> (EU file-type code, IANA media type).
FILE_TYPES: dict[str, tuple[str, str]] = {
    "CSV": ("CSV", "text/csv"),
    "TSV": ("TSV", "text/tab-separated-values"),
    "JSON": ("JSON", "application/json"),
    "GEOJSON": ("GEOJSON", "application/geo+json"),
    "PARQUET": ("PARQUET", "application/vnd.apache.parquet"),
    "GEOPARQUET": ("PARQUET", "application/vnd.apache.parquet"),
    "XLSX": ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "XLS": ("XLS", "application/vnd.ms-excel"),
    "ODS": ("ODS", "application/vnd.oasis.opendocument.spreadsheet"),
    "PDF": ("PDF", "application/pdf"),
    "ZIP": ("ZIP", "application/zip"),
    "XML": ("XML", "application/xml"),
    "HTML": ("HTML", "text/html"),
    "TXT": ("TXT", "text/plain"),
    "KML": ("KML", "application/vnd.google-earth.kml+xml"),
    "GPKG": ("GPKG", "application/geopackage+sqlite3"),
    "SHP": ("SHP", ""),
    "TTL": ("RDF_TURTLE", "text/turtle"),
    "JSONLD": ("JSON_LD", "application/ld+json"),
    "RDF": ("RDF_XML", "application/rdf+xml"),
    "API": ("", ""),
}
# ISO 639-1 -> EU language authority codes, for the catalog's dct:language.
LANGUAGES = {"en": "ENG", "cy": "CYM", "ga": "GLE", "gd": "GLA", "fr": "FRA", "de": "DEU"}
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


def catalog_uri(site_url: str) -> URIRef:
    """The catalog's URI: the site's ``/catalog`` (the paged DCAT endpoints describe it)."""
    return URIRef(f"{site_url.rstrip('/')}/catalog")


def dataset_uri(site_url: str, dataset: dict[str, Any]) -> URIRef:
    """A dataset's URI: ``{site}/dataset/{id}``, stable across renames (the name may change)."""
    return URIRef(f"{site_url.rstrip('/')}/dataset/{quote(str(dataset['id']), safe='')}")


def license_uri(license_id: str | None, license_url: str | None = None) -> URIRef | None:
    """The licence document URI from the licence register, else the dataset's own URL."""
    lic = get_license(license_id) if license_id else None
    return _iri((lic or {}).get("url") or license_url)


def new_graph() -> Graph:
    """An empty graph with the prefixes our output uses bound (for readable Turtle)."""
    g = Graph(bind_namespaces="none")
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    return g


def build_dataset_graph(dataset: dict[str, Any], *, site_url: str) -> Graph:
    """The DCAT-AP description of one dataset (with its distributions, publisher, contact)."""
    g = new_graph()
    add_dataset(g, dataset, site_url=site_url.rstrip("/"))
    return g


def build_catalog_graph(
    catalog_info: dict[str, Any],
    datasets: list[dict[str, Any]],
    *,
    site_url: str,
    page: int | None,
    page_size: int,
    total: int,
    modified_since: str | None,
    fmt: str = "ttl",
) -> Graph:
    """One page of the catalog: the dcat:Catalog, its datasets on this page, Hydra paging.

    ``catalog_info`` keys (all optional): ``title``, ``description``, ``publisher``
    (``{name, url}``), ``homepage``, ``license_id`` / ``license_url``, ``language``
    (ISO 639-1 code or list), ``issued``, ``modified``. ``datasets`` are already filtered for
    the caller. ``fmt`` is the serialisation the paging links point at.
    """
    site = site_url.rstrip("/")
    g = new_graph()
    cat = catalog_uri(site)
    title = str(catalog_info.get("title") or "citydata")
    g.add((cat, RDF.type, DCAT.Catalog))
    g.add((cat, DCTERMS.title, Literal(title)))
    description = catalog_info.get("description") or f"The open data catalogue of {title}."
    g.add((cat, DCTERMS.description, Literal(description)))
    pub = catalog_info.get("publisher") or {}
    # The catalog publisher is mandatory: without one configured, the site itself publishes.
    _add_agent(
        g,
        cat,
        DCTERMS.publisher,
        _iri(pub.get("url")) or URIRef(f"{site}/#publisher"),
        str(pub.get("name") or title),
    )
    homepage = _iri(catalog_info.get("homepage") or f"{site}/")
    if homepage:
        _add_typed(g, cat, FOAF.homepage, homepage, FOAF.Document)
    lic = license_uri(catalog_info.get("license_id"), catalog_info.get("license_url"))
    if lic:
        _add_typed(g, cat, DCTERMS.license, lic, DCTERMS.LicenseDocument)
    languages = catalog_info.get("language") or ["en"]
    for code in [languages] if isinstance(languages, str) else languages:
        eu = LANGUAGES.get(code.lower(), code.upper())
        _add_typed(g, cat, DCTERMS.language, URIRef(f"{EU}language/{eu}"), DCTERMS.LinguisticSystem)
    _add_date(g, cat, DCTERMS.issued, catalog_info.get("issued"))
    modified = catalog_info.get("modified") or max(
        (d.get("metadata_modified") or "" for d in datasets), default=None
    )
    _add_date(g, cat, DCTERMS.modified, modified)
    g.add((cat, DCAT.themeTaxonomy, THEME_SCHEME))
    g.add((THEME_SCHEME, RDF.type, SKOS.ConceptScheme))
    g.add((THEME_SCHEME, DCTERMS.title, Literal("Data theme", lang="en")))
    for ds in datasets:
        g.add((cat, DCAT.dataset, add_dataset(g, ds, site_url=site)))
    _add_paging(g, site, fmt, page or 1, page_size, total, modified_since)
    return g


def page_count(total: int, page_size: int) -> int:
    """How many pages ``total`` items fill (at least one, so page 1 always exists)."""
    return max(1, math.ceil(total / page_size))


def _add_paging(
    g: Graph, site: str, fmt: str, page: int, page_size: int, total: int, modified_since: str | None
) -> None:
    """Hydra paging: the collection (all matching datasets) and this page's view of it.

    The view is typed both ``hydra:PartialCollectionView`` (current Hydra) and
    ``hydra:PagedCollection`` (what CKAN's DCAT harvester and older clients look for).
    """
    base = f"{site}/catalog.{fmt}"
    extra = {"modified_since": modified_since} if modified_since else {}

    def link(n: int) -> URIRef:
        return URIRef(f"{base}?{urlencode({'page': n, **extra})}")

    collection = URIRef(f"{base}?{urlencode(extra)}" if extra else base)
    view = link(page)
    last = page_count(total, page_size)
    g.add((collection, RDF.type, HYDRA.Collection))
    g.add((collection, HYDRA.totalItems, Literal(total)))
    g.add((collection, HYDRA.view, view))
    g.add((view, RDF.type, HYDRA.PartialCollectionView))
    g.add((view, RDF.type, HYDRA.PagedCollection))
    g.add((view, HYDRA.totalItems, Literal(total)))
    g.add((view, HYDRA.itemsPerPage, Literal(page_size)))
    g.add((view, HYDRA.first, link(1)))
    g.add((view, HYDRA.last, link(last)))
    if page > 1:
        g.add((view, HYDRA.previous, link(min(page - 1, last))))
    if page < last:
        g.add((view, HYDRA.next, link(page + 1)))


def add_dataset(g: Graph, ds: dict[str, Any], *, site_url: str) -> URIRef:
    """Add one dataset (and its distributions) to ``g``; return its URI."""
    site = site_url.rstrip("/")
    uri = dataset_uri(site, ds)
    g.add((uri, RDF.type, DCAT.Dataset))
    g.add((uri, DCTERMS.identifier, Literal(str(ds["id"]))))
    title = ds.get("title") or ds.get("name") or str(ds["id"])
    g.add((uri, DCTERMS.title, Literal(title)))
    # dct:description is mandatory; a dataset without notes is described by its title.
    g.add((uri, DCTERMS.description, Literal(ds.get("notes") or title)))
    org = ds.get("organization") or {}
    publisher: URIRef | None = None
    if org.get("name"):
        publisher = URIRef(f"{site}/organization/{quote(org['name'], safe='')}")
        _add_agent(g, uri, DCTERMS.publisher, publisher, org.get("title") or org["name"])
        if org_home := _iri(org.get("url")):
            g.add((publisher, FOAF.homepage, org_home))
    _add_contact(g, uri, ds, org, publisher)
    lic = license_uri(ds.get("license_id"), ds.get("license_url"))
    if lic:
        _add_typed(g, uri, DCTERMS.license, lic, DCTERMS.LicenseDocument)
    for tag in ds.get("tags") or []:
        name = tag.get("name") if isinstance(tag, dict) else tag
        if name:
            g.add((uri, DCAT.keyword, Literal(name)))
    for code in ds.get("themes") or []:
        if code in THEMES:
            theme = URIRef(f"{EU}data-theme/{code}")
            _add_typed(g, uri, DCAT.theme, theme, SKOS.Concept)
            g.add((theme, SKOS.prefLabel, Literal(THEMES[code], lang="en")))
            g.add((theme, SKOS.inScheme, THEME_SCHEME))
    _add_spatial(g, uri, ds.get("bbox"), ds.get("boroughs") or [])
    _add_temporal(g, uri, ds.get("temporal_start"), ds.get("temporal_end"))
    freq = FREQUENCY_CODES.get((ds.get("frequency") or "").lower())
    if freq:
        _add_typed(
            g, uri, DCTERMS.accrualPeriodicity, URIRef(f"{EU}frequency/{freq}"), DCTERMS.Frequency
        )
    rights = ACCESS_RIGHTS.get(ds.get("access_level") or "")
    if rights:
        _add_typed(
            g,
            uri,
            DCTERMS.accessRights,
            URIRef(f"{EU}access-right/{rights}"),
            DCTERMS.RightsStatement,
        )
    _add_date(g, uri, DCTERMS.issued, ds.get("metadata_created"))
    _add_date(g, uri, DCTERMS.modified, ds.get("metadata_modified"))
    page = URIRef(f"{site}/dataset/{quote(str(ds.get('name') or ds['id']), safe='')}")
    _add_typed(g, uri, DCAT.landingPage, page, FOAF.Document)
    source = _iri(ds.get("url"))
    if source and source != page:
        _add_typed(g, uri, FOAF.page, source, FOAF.Document)
    for res in ds.get("resources") or []:
        g.add((uri, DCAT.distribution, _add_distribution(g, uri, res, lic, page)))
    return uri


def _add_distribution(
    g: Graph, ds_uri: URIRef, res: dict[str, Any], lic: URIRef | None, ds_page: URIRef
) -> URIRef:
    uri = URIRef(f"{ds_uri}/resource/{quote(str(res['id']), safe='')}")
    g.add((uri, RDF.type, DCAT.Distribution))
    if res.get("name"):
        g.add((uri, DCTERMS.title, Literal(res["name"])))
    if res.get("description"):
        g.add((uri, DCTERMS.description, Literal(res["description"])))
    url = _iri(res.get("url"))
    # dcat:accessURL is mandatory: a distribution without a URL is reached via the dataset page.
    _add_typed(g, uri, DCAT.accessURL, url or ds_page, RDFS.Resource)
    if url and res.get("url_type") == "upload":
        _add_typed(g, uri, DCAT.downloadURL, url, RDFS.Resource)
    fmt = (res.get("format") or "").strip()
    code, media = FILE_TYPES.get(fmt.upper().lstrip("."), ("", ""))
    if code:
        _add_typed(
            g, uri, DCTERMS.format, URIRef(f"{EU}file-type/{code}"), DCTERMS.MediaTypeOrExtent
        )
    elif fmt:
        # A format outside the EU table still tells the reader something; say it as a label.
        node = BNode()
        g.add((uri, DCTERMS.format, node))
        g.add((node, RDF.type, DCTERMS.MediaTypeOrExtent))
        g.add((node, RDFS.label, Literal(fmt)))
    media = res.get("mimetype") or media
    if media and re.fullmatch(r"[\w.+-]+/[\w.+-]+", media):
        _add_typed(g, uri, DCAT.mediaType, URIRef(IANA_MEDIA + media.lower()), DCTERMS.MediaType)
    size = res.get("size")
    if isinstance(size, int) and size >= 0:
        g.add((uri, DCAT.byteSize, Literal(size, datatype=XSD.nonNegativeInteger)))
    digest = res.get("hash") or ""
    if _HEX64.match(digest):
        checksum = BNode()
        g.add((uri, SPDX.checksum, checksum))
        g.add((checksum, RDF.type, SPDX.Checksum))
        _add_typed(
            g, checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256, SPDX.ChecksumAlgorithm
        )
        g.add((checksum, SPDX.checksumValue, Literal(digest.lower(), datatype=XSD.hexBinary)))
    if lic:
        _add_typed(g, uri, DCTERMS.license, lic, DCTERMS.LicenseDocument)
    _add_date(g, uri, DCTERMS.issued, res.get("created"))
    _add_date(g, uri, DCTERMS.modified, res.get("last_modified") or res.get("created"))
    return uri


def _add_contact(
    g: Graph, ds_uri: URIRef, ds: dict[str, Any], org: dict[str, Any], publisher: URIRef | None
) -> None:
    """dcat:contactPoint: the dataset's contact, else its maintainer, else its publisher.

    The fallback keeps every dataset answerable: the publishing organisation's name and email,
    and failing an email, a link to the organisation's page on this site.
    """
    name = ds.get("contact_name") or ds.get("maintainer") or org.get("title") or org.get("name")
    emails = (
        ds.get("contact_email"),
        ds.get("maintainer_email"),
        org.get("email"),
        ds.get("author_email"),
    )
    email = next((e.strip() for e in emails if e and _EMAIL.match(e.strip())), None)
    if not (name or email or publisher):
        return
    kind = BNode()
    g.add((ds_uri, DCAT.contactPoint, kind))
    g.add((kind, RDF.type, VCARD.Kind))
    g.add((kind, VCARD.fn, Literal(name or email or "Publisher")))
    if email:
        g.add((kind, VCARD.hasEmail, URIRef("mailto:" + quote(email, safe="@.+-_"))))
    elif publisher:
        g.add((kind, VCARD.hasURL, publisher))


def _add_spatial(g: Graph, ds_uri: URIRef, bbox: Any, boroughs: list[str]) -> None:
    wkt = _bbox_wkt(bbox)
    if wkt:
        location = BNode()
        g.add((ds_uri, DCTERMS.spatial, location))
        g.add((location, RDF.type, DCTERMS.Location))
        g.add((location, DCAT.bbox, Literal(wkt, datatype=GEO.wktLiteral)))
    for code in boroughs:
        if re.fullmatch(r"[EWSN]\d{8}", code or ""):
            _add_typed(g, ds_uri, DCTERMS.spatial, URIRef(ONS_GEOGRAPHY + code), DCTERMS.Location)


def _bbox_wkt(bbox: Any) -> str | None:
    """``[w, s, e, n]`` in WGS84 degrees as a CRS84 WKT polygon, or None if it is not one."""
    if not isinstance(bbox, list | tuple) or len(bbox) != 4:
        return None
    try:
        w, s, e, n = (float(v) for v in bbox)
    except (TypeError, ValueError):
        return None
    if not (all(math.isfinite(v) for v in (w, s, e, n)) and w <= e and s <= n):
        return None
    return f"{CRS84} POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"


def _add_temporal(g: Graph, ds_uri: URIRef, start: str | None, end: str | None) -> None:
    start_d, end_d = _date(start), _date(end)
    if not (start_d or end_d):
        return
    period = BNode()
    g.add((ds_uri, DCTERMS.temporal, period))
    g.add((period, RDF.type, DCTERMS.PeriodOfTime))
    if start_d:
        g.add((period, DCAT.startDate, Literal(start_d, datatype=XSD.date)))
    if end_d:
        g.add((period, DCAT.endDate, Literal(end_d, datatype=XSD.date)))


def _add_agent(g: Graph, subject: URIRef, prop: URIRef, agent: URIRef, name: str) -> None:
    # foaf:Organization is what a publisher is; foaf:Agent is stated too because the shapes
    # check the range class and a consumer without the FOAF ontology cannot infer it.
    g.add((subject, prop, agent))
    g.add((agent, RDF.type, FOAF.Agent))
    g.add((agent, RDF.type, FOAF.Organization))
    g.add((agent, FOAF.name, Literal(name)))


def _add_typed(g: Graph, subject: URIRef | BNode, prop: URIRef, obj: URIRef, cls: URIRef) -> None:
    g.add((subject, prop, obj))
    g.add((obj, RDF.type, cls))


def _add_date(g: Graph, subject: URIRef, prop: URIRef, value: str | None) -> None:
    """A CKAN timestamp (UTC, no zone suffix) as an xsd:dateTime that says it is UTC."""
    if not value:
        return
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    g.add((subject, prop, Literal(dt.isoformat(), datatype=XSD.dateTime)))


def _date(value: str | None) -> str | None:
    try:
        return date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None


def _iri(value: Any) -> URIRef | None:
    """An absolute http(s) URL as an IRI, with characters IRIs forbid percent-encoded."""
    if not isinstance(value, str) or not re.match(r"^https?://[^/\s]+", value.strip()):
        return None
    return URIRef(quote(value.strip(), safe=":/?#[]@!$&'()*+,;=%~-._"))


def serialize(graph: Graph, fmt: str) -> tuple[bytes, str]:
    """Serialise ``graph`` as ``ttl``, ``jsonld`` or ``rdf``; return (body, media type).

    Raises ``KeyError`` for an unknown format (adapters check :data:`FORMATS` first).
    """
    rdflib_format, media_type = FORMATS[fmt]
    if fmt == "jsonld":
        context = {prefix: str(ns) for prefix, ns in PREFIXES.items()}
        body = graph.serialize(format=rdflib_format, context=context, auto_compact=True)
    else:
        body = graph.serialize(format=rdflib_format)
    return body.encode("utf-8"), media_type
