"""Harvesting a DCAT catalog: JSON-LD, Turtle, RDF/XML or N-Triples, paged with Hydra.

:class:`DcatSource` reads a remote DCAT(-AP) catalog — another citydata node's
``/catalog.jsonld``, a CKAN site's ``/catalog.ttl``, any portal speaking DCAT — and turns each
``dcat:Dataset`` into a :class:`~citydata.federation.records.HarvestRecord` in the catalog's own
shape. The mapping is the inverse of :mod:`citydata.catalog.dcat`, so a citydata node's export
round-trips.

The source is not trusted:

* every request goes through the bounded :class:`~citydata.federation.fetch.Fetcher`;
* Hydra paging (``hydra:next`` / ``hydra:nextPage``) is bounded by ``limits.max_pages``, a link
  back to a page already read is refused as endless pagination, and paging links may not lead
  to another host;
* XML that declares entities (the "billion laughs" expansion attack) is refused before it
  reaches a parser;
* rdflib never touches the network: a JSON-LD document naming a remote ``@context`` (or
  ``@import``) gets this module's inline DCAT context instead;
* parse errors become a :class:`SourceError` with one short line, never a stack trace.

The whole catalog is read (every page) on first use and cached for the harvest run, so a
source that fails half-way fails before any record is handed out.
"""

from __future__ import annotations

import calendar
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from citydata.access.vocabulary import REASONS
from citydata.catalog.dcat import ACCESS_RIGHTS, FILE_TYPES, FREQUENCY_CODES
from citydata.catalog.licenses import licenses
from citydata.catalog.names import EMAIL_RE, NAME_RE, TAG_RE
from citydata.catalog.themes import FREQUENCIES
from citydata.federation.fetch import Fetched, Fetcher
from citydata.federation.records import HarvestRecord, RecordError, SourceError, bbox_of

# Plain namespaces (rdflib's closed DefinedNamespaces warn on terms they do not list).
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
SCHEMA = Namespace("http://schema.org/")
SCHEMA_S = Namespace("https://schema.org/")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
GEO = Namespace("http://www.opengis.net/ont/geosparql#")
SPDX = Namespace("http://spdx.org/rdf/terms#")

EU = "http://publications.europa.eu/resource/authority/"
#: What we ask for, in order of preference.
ACCEPT = (
    "application/ld+json, text/turtle;q=0.9, application/rdf+xml;q=0.8, "
    "application/n-triples;q=0.7, application/xml;q=0.3, */*;q=0.1"
)
#: Response media type -> rdflib parser.
PARSERS = {
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "text/n3": "turtle",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/n-triples": "nt",
}
HTML_TYPES = ("text/html", "application/xhtml+xml")
RECORD_TEXT_LIMIT = 4000

#: Used for any JSON-LD ``@context`` that names a remote document: the prefixes of DCAT-AP and
#: the bare terms the common DCAT JSON-LD contexts define.
INLINE_CONTEXT: dict[str, Any] = {
    "dcat": str(DCAT),
    "dct": str(DCT),
    "dcterms": str(DCT),
    "foaf": str(FOAF),
    "vcard": str(VCARD),
    "hydra": str(HYDRA),
    "adms": str(ADMS),
    "locn": str(LOCN),
    "schema": str(SCHEMA),
    "owl": str(OWL),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "skos": str(SKOS),
    "xsd": str(XSD),
    "geo": str(GEO),
    "gsp": str(GEO),
    "spdx": str(SPDX),
    "Catalog": "dcat:Catalog",
    "Dataset": "dcat:Dataset",
    "Distribution": "dcat:Distribution",
    "title": "dct:title",
    "description": "dct:description",
    "identifier": "dct:identifier",
    "issued": "dct:issued",
    "modified": "dct:modified",
    "keyword": "dcat:keyword",
    "version": "dcat:version",
    "startDate": "dcat:startDate",
    "endDate": "dcat:endDate",
    "bbox": "dcat:bbox",
    "name": "foaf:name",
    "fn": "vcard:fn",
    **{
        term: {"@id": iri, "@type": "@id"}
        for term, iri in {
            "dataset": "dcat:dataset",
            "distribution": "dcat:distribution",
            "landingPage": "dcat:landingPage",
            "accessURL": "dcat:accessURL",
            "downloadURL": "dcat:downloadURL",
            "mediaType": "dcat:mediaType",
            "format": "dct:format",
            "license": "dct:license",
            "accessRights": "dct:accessRights",
            "accrualPeriodicity": "dct:accrualPeriodicity",
            "publisher": "dct:publisher",
            "contactPoint": "dcat:contactPoint",
            "spatial": "dct:spatial",
            "temporal": "dct:temporal",
            "theme": "dcat:theme",
            "hasEmail": "vcard:hasEmail",
            "member": "hydra:member",
            "view": "hydra:view",
            "next": "hydra:next",
            "nextPage": "hydra:nextPage",
        }.items()
    },
}

_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ENTITY_TEXT = re.compile(r"<!ENTITY", re.IGNORECASE)
_HTML_START = re.compile(rb"^(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.IGNORECASE | re.S)
# An XML declaration, comment, DOCTYPE or start tag (a Turtle IRI is ``<scheme:...>``).
_XML_START = re.compile(rb"^<(\?|!|[A-Za-z_][\w.-]*(:[A-Za-z_][\w.-]*)?[\s>/])")
_HTTP = re.compile(r"^https?://[^/\s]+", re.IGNORECASE)
_OPAQUE = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[0-9_-]+)$"
)
_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_COORD = re.compile(rf"({_FLOAT})\s+({_FLOAT})")
_TEXT_LIMITS = {"title": 500, "notes": 100_000, "version": 100, "contact_name": 200}

# -- vocabularies ----------------------------------------------------------------------------
# EU frequency codes (and the Dublin Core collection frequencies) -> our frequency codes.
_FREQUENCY = {code: ours for ours, code in FREQUENCY_CODES.items()}
_FREQUENCY.update({"CONT": "continuous", "ANNUAL": "annual", "IRREG": "irregular"})
_FREQUENCY.update({code.upper(): code for code in FREQUENCIES})
_FREQUENCY.update({"IRREGULAR": "irregular", "CONTINUOUS": "continuous"})
# EU access-right codes. RESTRICTED is what citydata says for "registered" and "shared" data;
# NON_PUBLIC for "restricted" and "private" data, which no outsider can use.
_OPEN_RIGHTS = {code for level, code in ACCESS_RIGHTS.items() if level == "open"} | {"NORMAL"}
_RESTRICTED_RIGHTS = {"RESTRICTED"}
_NON_PUBLIC_RIGHTS = {"NON_PUBLIC", "CONFIDENTIAL", "SENSITIVE"}
# EU file-type codes and media types -> the format names citydata uses.
_PRETTY_FORMATS = {"GEOJSON": "GeoJSON", "GEOPARQUET": "GeoParquet"}
_FILE_TYPE_FORMAT: dict[str, str] = {}
_MEDIA_FORMAT: dict[str, str] = {}
for _fmt, (_code, _media) in FILE_TYPES.items():
    _pretty = _PRETTY_FORMATS.get(_fmt, _fmt)
    if _code:
        _FILE_TYPE_FORMAT.setdefault(_code, _pretty)
    if _media:
        _MEDIA_FORMAT.setdefault(_media, _pretty)
_MEDIA_FORMAT.update({"application/vnd.geo+json": "GeoJSON", "text/json": "JSON"})
_IANA_PREFIXES = (
    "https://www.iana.org/assignments/media-types/",
    "http://www.iana.org/assignments/media-types/",
)
# EU licence authority codes -> licence register ids (the register holds the URLs).
_EU_LICENCES = {
    "CC_BY_4_0": "CC-BY-4.0",
    "CC_BYSA_4_0": "CC-BY-SA-4.0",
    "CC0": "CC0-1.0",
    "ODC_BY": "ODC-BY-1.0",
    "ODC_BL": "ODbL-1.0",
    "ODC_PDDL": "PDDL-1.0",
    "OGL_3_0": "OGL-UK-3.0",
    "OGL_UK_3_0": "OGL-UK-3.0",
}


def _norm_url(url: str) -> str:
    """A licence URL reduced to what identifies it: no scheme, ``www.``, slash or legal-code
    suffix, lower case (``https://creativecommons.org/licenses/by/4.0/legalcode.en`` and
    ``http://creativecommons.org/licenses/by/4.0`` are the same licence)."""
    text = url.strip().lower().split("#", 1)[0].split("?", 1)[0]
    text = re.sub(r"^https?://", "", text)
    text = re.sub(r"^www\.", "", text)
    text = re.sub(r"/(legalcode|deed)(\.[a-z-]+)?$", "", text.rstrip("/"))
    text = re.sub(r"\.html?$", "", text)
    return text.rstrip("/")


def _license_table() -> tuple[dict[str, str], dict[str, str]]:
    """(normalised URL -> id, lower-cased id or title -> id) from the licence register."""
    by_url: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for lic in licenses():
        by_name[lic["id"].lower()] = lic["id"]
        by_name[str(lic.get("title") or "").lower()] = lic["id"]
        if lic.get("url"):
            by_url[_norm_url(lic["url"])] = lic["id"]
    # Other addresses of the same licences in common use.
    ogl3 = by_url[_norm_url("http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/")]
    for alias in (
        "nationalarchives.gov.uk/doc/open-government-licence/version/3/open-government-licence",
        "nationalarchives.gov.uk/doc/open-government-licence",
        "nationalarchives.gov.uk/doc/open-government-licence/open-government-licence",
        "data.gov.uk/licenses/ogl",
    ):
        by_url.setdefault(alias, ogl3)
    for code, lic_id in _EU_LICENCES.items():
        by_url[_norm_url(f"{EU}licence/{code}")] = lic_id
    for lic_id in list(by_name.values()):
        by_url[_norm_url(f"http://spdx.org/licenses/{lic_id}")] = lic_id
    by_url[_norm_url("http://spdx.org/licenses/ODC-By-1.0")] = "ODC-BY-1.0"
    by_url[_norm_url("https://opendatacommons.org/licenses/odbl/1.0/")] = "ODbL-1.0"
    by_url[_norm_url("https://opendatacommons.org/licenses/by/1.0/")] = "ODC-BY-1.0"
    by_url[_norm_url("https://opendatacommons.org/licenses/pddl/1.0/")] = "PDDL-1.0"
    by_name.pop("", None)
    return by_url, by_name


# -- reading one response --------------------------------------------------------------------
def _short(exc: BaseException) -> str:
    """One line saying why a parser gave up."""
    why = getattr(exc, "_why", None)
    line = getattr(exc, "lines", None)
    if isinstance(why, str):
        return f"line {line + 1}: {why}" if isinstance(line, int) else why
    text = " ".join(str(exc).split())
    return (text or type(exc).__name__)[:200]


def _head(body: bytes) -> bytes:
    head = body[:1024]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip()


def _as_text(body: bytes) -> str:
    """The body as text for safety checks, whatever UTF encoding it is in."""
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    if body[:4].count(0) >= 2:  # UTF-16/32 without a byte order mark
        for codec in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
            text = body.decode(codec, errors="replace")
            if "<" in text[:64]:
                return text
    return body.decode("utf-8", errors="replace")


def _sniff(body: bytes) -> str:
    """What the body plainly is: ``json-ld``, ``xml`` or (anything else) ``turtle``."""
    head = _head(body)
    if head.startswith((b"{", b"[")):
        return "json-ld"
    if b"\x00" in head[:4] or _XML_START.match(head):
        return "xml"
    return "turtle"  # Turtle also reads N-Triples


def _check_xml(body: bytes, url: str) -> None:
    if _ENTITY.search(body) or _ENTITY_TEXT.search(_as_text(body)):
        raise SourceError(
            f"XML entity declarations are refused (entity expansion attack): {url}", url
        )


def _sanitise_contexts(doc: Any) -> Any:
    """Replace every remote ``@context`` (a URL string, or URLs in a list) by the inline
    context, and drop ``@import``: rdflib would otherwise download them."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if "@context" in node:
            node["@context"] = _local_context(node["@context"])
        node.pop("@import", None)
        stack.extend(node.values())
    return doc


def _local_context(ctx: Any) -> Any:
    if isinstance(ctx, str):
        return dict(INLINE_CONTEXT)
    if isinstance(ctx, list):
        out: list[Any] = []
        replaced = False
        for item in ctx:
            if not isinstance(item, str):
                out.append(item)
            elif not replaced:
                out.append(dict(INLINE_CONTEXT))
                replaced = True
        return out
    return ctx


def parse_rdf(fetched: Fetched) -> Graph:
    """The response as an RDF graph, or a SourceError saying (in one line) why not."""
    url, body = fetched.url, fetched.body
    head = _head(body)
    if fetched.content_type in HTML_TYPES or _HTML_START.match(head):
        raise SourceError(
            f"expected DCAT RDF but got an HTML page from {url} (is this the right address?)",
            url,
        )
    if not head:
        raise SourceError(f"empty response from {url}: expected a DCAT catalog", url)
    # The content type decides, unless the body is plainly something else (JSON or XML
    # served as text/plain, application/octet-stream or the wrong RDF type).
    declared, sniffed = PARSERS.get(fetched.content_type), _sniff(body)
    fmt = sniffed if declared is None or sniffed != "turtle" else declared
    if fmt == "xml":
        _check_xml(body, url)
    graph = Graph(bind_namespaces="none")
    try:
        if fmt == "json-ld":
            try:
                doc = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise SourceError(f"invalid RDF from {url}: not JSON ({_short(exc)})", url) from exc
            if not isinstance(doc, dict | list):
                raise SourceError(f"invalid RDF from {url}: not a JSON-LD document", url)
            graph.parse(data=_sanitise_contexts(doc), format="json-ld", base=url)
        else:
            graph.parse(data=body, format=fmt, publicID=url)
    except SourceError:
        raise
    except RecursionError as exc:
        raise SourceError(f"invalid RDF from {url}: nested too deeply", url) from exc
    except Exception as exc:  # rdflib raises anything from SAX errors to KeyError
        raise SourceError(f"invalid RDF from {url}: {_short(exc)}", url) from exc
    return graph


# -- small readers over the graph ------------------------------------------------------------
def _lang_rank(lit: Literal) -> int:
    lang = (lit.language or "").lower()
    if lang == "en" or lang.startswith("en-"):
        return 0
    return 1 if not lang else 2


def _literals(g: Graph, s: Node, *props: URIRef) -> list[Literal]:
    found = {o for p in props for o in g.objects(s, p) if isinstance(o, Literal)}
    return sorted(found, key=lambda lit: (_lang_rank(lit), str(lit)))


def _text(g: Graph, s: Node, *props: URIRef) -> str:
    for lit in _literals(g, s, *props):
        text = str(lit).strip()
        if text:
            return text
    return ""


def _objects(g: Graph, s: Node, *props: URIRef) -> list[Node]:
    found = {o for p in props for o in g.objects(s, p)}
    return sorted(found, key=lambda o: (isinstance(o, BNode), str(o)))


def _http(value: Node | str | None) -> str:
    text = str(value).strip() if value is not None else ""
    return text if _HTTP.match(text) and not isinstance(value, BNode) else ""


def _first_url(g: Graph, s: Node, *props: URIRef) -> str:
    for o in _objects(g, s, *props):
        if url := _http(o):
            return url
        if isinstance(o, BNode):  # e.g. a foaf:Document described by a blank node
            for inner in _objects(g, o, FOAF.page, SCHEMA.url, RDFS.seeAlso):
                if url := _http(inner):
                    return url
    return ""


def _limit(text: str, field_name: str) -> str:
    limit = _TEXT_LIMITS.get(field_name)
    return text[:limit] if limit else text


def _iso(value: str) -> str:
    """An xsd:date or xsd:dateTime as ISO 8601 (date-times with a zone in UTC), else ""."""
    text = value.strip()
    if not text:
        return ""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text).isoformat()
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return dt.astimezone(UTC).isoformat() if dt.tzinfo else dt.isoformat()


def _moment(value: str) -> datetime | None:
    """An ISO date or date-time as an aware datetime (no zone means UTC), for comparing."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _day(value: str, *, end: bool) -> str:
    """A start or end date (xsd:date, dateTime, gYear or gYearMonth) as YYYY-MM-DD, else ""."""
    text = value.strip()
    try:
        if m := re.fullmatch(r"(\d{4})", text):
            return f"{m[1]}-12-31" if end else f"{m[1]}-01-01"
        if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
            year, month = int(m[1]), int(m[2])
            last = calendar.monthrange(year, month)[1]
            return date(year, month, last if end else 1).isoformat()
        if m := re.match(r"(\d{4}-\d{2}-\d{2})", text):
            return date.fromisoformat(m[1]).isoformat()
    except ValueError:
        return ""
    return ""


def slugify(text: str) -> str:
    """``text`` as a catalog name (lower-case a-z, 0-9, - and _, 2 to 100 characters), or ""."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_-]+", "-", ascii_text.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-_")[:100].rstrip("-_")
    return slug if NAME_RE.match(slug) else ""


def _last_segment(url: str) -> str:
    path = urlsplit(url).path if _HTTP.match(url) else re.split(r"[:/#]", url)[-1]
    segment = unquote(path.rstrip("/").rsplit("/", 1)[-1])
    return re.sub(r"\.(jsonld|ttl|rdf|xml|json|nt|html?)$", "", segment, flags=re.I)


# -- geometry --------------------------------------------------------------------------------
def _wkt_bbox(text: str) -> list[float] | None:
    """The bounding box of a WKT geometry in WGS84 (CRS84 or EPSG:4326, which is lat/lon)."""
    m = re.match(r"\s*(?:<([^>]*)>\s*)?(?:SRID=(\d+);)?\s*([A-Za-z]+)\s*(?:Z|M|ZM)?\s*\(", text)
    if not m:
        return None
    crs, srid, kind = (m[1] or "").strip(), m[2], m[3].upper()
    if kind not in ("POLYGON", "MULTIPOLYGON", "POINT", "MULTIPOINT", "LINESTRING",
                    "MULTILINESTRING"):
        return None
    swap = False
    if crs:
        if re.search(r"/EPSG/\d+/4326$", crs):
            swap = True  # GeoSPARQL: EPSG:4326 axis order is latitude, longitude
        elif not re.search(r"OGC/1\.3/CRS84$", crs, re.I):
            return None  # a projected CRS: we would need a transformation
    if srid and srid != "4326":
        return None
    points = [(float(a), float(b)) for a, b in _COORD.findall(text[m.end() - 1:])]
    if swap:
        points = [(b, a) for a, b in points]
    return bbox_of(points)


def _geojson_bbox(text: str) -> list[float] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    points: list[tuple[float, float]] = []
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(v for k, v in node.items() if k in ("geometry", "geometries",
                                                              "features", "coordinates"))
        elif isinstance(node, list):
            if len(node) >= 2 and all(isinstance(v, int | float) for v in node[:2]):
                points.append((float(node[0]), float(node[1])))
            else:
                stack.extend(node)
    return bbox_of(points)


def _geometry_bbox(text: str) -> list[float] | None:
    text = text.strip()
    return _geojson_bbox(text) if text.startswith("{") else _wkt_bbox(text)


# -- the mapping -----------------------------------------------------------------------------
@dataclass
class _Skip:
    """A dataset the source does not make public: neither imported nor reported."""

    remote_id: str
    why: str


@dataclass
class _Entry:
    remote_id: str
    modified: str
    result: HarvestRecord | RecordError | _Skip


class DcatSource:
    """One harvest run over a DCAT catalog at ``url`` (a paged catalog or a single document)."""

    def __init__(self, url: str, fetcher: Fetcher) -> None:
        self.url = url
        self.fetcher = fetcher
        self._entries: list[_Entry] | None = None
        self._by_id: dict[str, _Entry] = {}
        self._licences_by_url, self._licences_by_name = _license_table()
        #: How many pages the last harvest read.
        self.pages_read = 0

    # -- public API ------------------------------------------------------------------------
    def listing(self) -> Iterator[tuple[str, str]]:
        """(dataset IRI, dct:modified or "") for every dataset the source publishes, including
        those whose description could not be used, but not non-public ones."""
        for entry in self._load():
            if entry.remote_id and not isinstance(entry.result, _Skip):
                yield entry.remote_id, entry.modified

    def records(self, since: str | None) -> Iterator[HarvestRecord | RecordError]:
        """Every public dataset as a record (or the error that stopped it); with ``since``,
        only records modified at or after it (records that do not say are always included)."""
        after = _moment(since) if since else None
        for entry in self._load():
            result = entry.result
            if isinstance(result, _Skip):
                continue
            if isinstance(result, HarvestRecord) and after is not None and result.modified:
                moment = _moment(result.modified)
                if moment is not None and moment < after:
                    continue
            yield result

    def record(self, remote_id: str) -> HarvestRecord | RecordError:
        """One dataset by its IRI (or, for a blank-node dataset, its dct:identifier)."""
        self._load()
        entry = self._by_id.get(remote_id)
        if entry is None:
            return RecordError(remote_id, f"{remote_id} is not in the catalog at {self.url}")
        if isinstance(entry.result, _Skip):
            return RecordError(remote_id, entry.result.why)
        return entry.result

    # -- paging ------------------------------------------------------------------------------
    def _load(self) -> list[_Entry]:
        if self._entries is not None:
            return self._entries
        entries: list[_Entry] = []
        max_pages = self.fetcher.limits.max_pages
        visited: set[str] = set()
        url: str | None = self.url
        pages = 0
        while url:
            if pages >= max_pages:
                raise SourceError(
                    f"{self.url} has more than {max_pages} pages: stopped there (the limit "
                    "of pages per harvest)",
                    self.url,
                )
            visited.add(_page_key(url))
            fetched = self.fetcher.get(url, accept=ACCEPT)
            visited.add(_page_key(fetched.url))
            graph = parse_rdf(fetched)
            pages += 1
            found = self._page_entries(graph, fetched.url)
            if pages == 1 and not found and not _is_catalog(graph):
                raise SourceError(
                    f"{fetched.url} is RDF but not a DCAT catalog: no dcat:Catalog or "
                    "dcat:Dataset in it",
                    self.url,
                )
            entries.extend(found)
            nxt = _next_page(graph)
            if nxt is None:
                break
            if _page_key(nxt) in visited:
                raise SourceError(
                    f"endless pagination at {self.url}: page {fetched.url} links (hydra:next) "
                    f"to {nxt}, which was already read",
                    self.url,
                )
            if _origin(nxt) != _origin(fetched.url):
                raise SourceError(
                    f"the next page of {fetched.url} is on another host ({nxt[:200]}): "
                    "paging links are only followed on the same host",
                    self.url,
                )
            url = nxt
        self.pages_read = pages
        for entry in entries:
            if entry.remote_id:
                self._by_id.setdefault(entry.remote_id, entry)
        # The same dataset on two pages (the catalog changed while we read it): keep the first.
        seen: set[str] = set()
        unique = []
        for entry in entries:
            if entry.remote_id and entry.remote_id in seen:
                continue
            seen.add(entry.remote_id)
            unique.append(entry)
        self._entries = unique
        return unique

    def _page_entries(self, g: Graph, page_url: str) -> list[_Entry]:
        nodes: set[Node] = set(g.subjects(RDF.type, DCAT.Dataset))
        nodes |= set(g.subjects(RDF.type, DCAT.DatasetSeries))
        nodes |= {o for o in g.objects(None, DCAT.dataset) if not isinstance(o, Literal)}
        entries = []
        for node in sorted(nodes, key=lambda n: (isinstance(n, BNode), str(n))):
            entries.append(self._entry(g, node, page_url))
        return entries

    def _entry(self, g: Graph, node: Node, page_url: str) -> _Entry:
        ident = _text(g, node, DCT.identifier) or _http(g.value(node, DCT.identifier))
        remote_id = str(node) if isinstance(node, URIRef) else ident
        modified = _iso(_text(g, node, DCT.modified) or _text(g, node, DCT.issued))
        if not remote_id:
            return _Entry("", modified, RecordError(
                "", "a dcat:Dataset without an IRI or dct:identifier cannot be tracked",
                _source_record(g, node)))
        if not _text(g, node, DCT.title):
            return _Entry(remote_id, modified, RecordError(
                remote_id, f"dataset {remote_id} has no dct:title", _source_record(g, node)))
        result: HarvestRecord | RecordError | _Skip
        try:
            result = self._map(g, node, remote_id, ident, modified, page_url)
        except Exception as exc:  # one odd dataset must not stop the harvest
            result = RecordError(
                remote_id, f"dataset {remote_id} could not be read: {_short(exc)}",
                _source_record(g, node))
        return _Entry(remote_id, modified, result)

    # -- one dataset -----------------------------------------------------------------------
    def _map(
        self, g: Graph, d: Node, remote_id: str, ident: str, modified: str, page_url: str
    ) -> HarvestRecord | _Skip:
        access = self._access(g, d)
        if isinstance(access, _Skip):
            access.remote_id = remote_id
            return access
        access_level, access_extra = access
        title = _text(g, d, DCT.title)
        landing = _first_url(g, d, DCAT.landingPage)
        iri = _http(d) if isinstance(d, URIRef) else ""
        identifier = _http(ident) or iri
        if not identifier:
            origin = "{}://{}".format(*urlsplit(self.url)[:2])
            identifier = f"{origin}/dataset/{remote_id}"
        resources = self._resources(g, d)
        license_id, license_extra = self._license(g, d)
        contact_name, contact_email = _contact(g, d)
        start, end = _temporal(g, d)
        extras: list[dict[str, str]] = []
        if ident:
            extras.append({"key": "dcat_identifier", "value": ident})
        if license_extra:
            extras.append({"key": "dcat_license", "value": license_extra})
        if access_extra:
            extras.append({"key": "dcat_access_rights", "value": access_extra})
        if page := _first_url(g, d, FOAF.page):
            extras.append({"key": "dcat_page", "value": page})
        fields: dict[str, Any] = {
            "title": _limit(title, "title"),
            "notes": _limit(_text(g, d, DCT.description), "notes"),
            "tags": _tags(g, d),
            "license_id": license_id,
            "url": landing or _first_url(g, d, FOAF.page),
            "version": _limit(_text(g, d, DCAT.version, OWL.versionInfo, ADMS.version),
                              "version"),
            "contact_name": _limit(contact_name, "contact_name"),
            "contact_email": contact_email,
            "frequency": _frequency(g, d),
            "temporal_start": start,
            "temporal_end": end,
            "bbox": _spatial(g, d),
            "access_level": access_level,
            "restriction_reason": (_reason(g, d) or "licence")
            if access_level == "restricted" else "",
            # What the source shows everyone, outsiders here see too: its files if it lists
            # them, else only that the dataset exists.
            "discovery": ("schema" if resources else "existence")
            if access_level != "open" else "",
            "extras": extras,
            "resources": resources,
        }
        return HarvestRecord(
            remote_id=remote_id,
            identifier=identifier,
            modified=modified,
            source_url=landing or iri or page_url,
            remote_name=_remote_name(remote_id if iri else "", landing, title),
            fields=fields,
            publisher=_publisher(g, d),
        )

    def _access(self, g: Graph, d: Node) -> tuple[str, str] | _Skip:
        """(access level, the access rights as given when we do not know them) or a skip."""
        rights = _objects(g, d, DCT.accessRights)
        if not rights:
            return "open", ""
        codes = []
        for right in rights:
            text = str(right)
            if isinstance(right, URIRef) and text.startswith(EU + "access-right/"):
                codes.append(text.rsplit("/", 1)[-1].upper())
            elif isinstance(right, Literal):
                codes.append(re.sub(r"[\s-]+", "_", text.strip().upper()))
            elif isinstance(right, BNode):
                label = _text(g, right, RDFS.label, DCT.title, SKOS.prefLabel)
                codes.append(re.sub(r"[\s-]+", "_", label.strip().upper()))
        if any(code in _NON_PUBLIC_RIGHTS for code in codes):
            return _Skip("", "the source marks this dataset as not public (dct:accessRights)")
        if any(code in _RESTRICTED_RIGHTS for code in codes):
            return "restricted", ""
        if any(code in _OPEN_RIGHTS for code in codes):
            return "open", ""
        # Free text or a vocabulary we do not know: kept for people to read.
        given = "; ".join(
            str(r) if not isinstance(r, BNode) else _text(g, r, RDFS.label, DCT.title)
            for r in rights
        )
        return "open", given[:500]

    def _license(self, g: Graph, d: Node) -> tuple[str, str]:
        """(licence id, the licence as given when the register does not know it)."""
        candidates = _objects(g, d, DCT.license)
        for dist in _objects(g, d, DCAT.distribution):
            candidates += [c for c in _objects(g, dist, DCT.license) if c not in candidates]
        if not candidates:
            return "notspecified", ""
        for cand in candidates:
            if lic_id := self._licence_id(g, cand):
                return lic_id, ""
        first = candidates[0]
        given = str(first) if not isinstance(first, BNode) else (
            _text(g, first, DCT.title, RDFS.label, DCT.identifier) or _http(
                g.value(first, FOAF.page)))
        return "other-open", given[:500]

    def _licence_id(self, g: Graph, cand: Node) -> str:
        texts = []
        if isinstance(cand, BNode):
            texts += [str(o) for o in _objects(g, cand, DCT.identifier, RDFS.label, DCT.title,
                                               FOAF.page, RDFS.seeAlso)]
        else:
            texts.append(str(cand))
            texts += [str(o) for o in _objects(g, cand, OWL.sameAs)]
        for text in texts:
            if _HTTP.match(text.strip()):
                if lic_id := self._licences_by_url.get(_norm_url(text)):
                    return lic_id
            elif lic_id := self._licences_by_name.get(text.strip().lower()):
                return lic_id
        return ""

    def _resources(self, g: Graph, d: Node) -> list[dict[str, str]]:
        out = []
        for dist in _objects(g, d, DCAT.distribution):
            url = _first_url(g, dist, DCAT.downloadURL) or _first_url(g, dist, DCAT.accessURL)
            if not url:
                continue
            fmt = _format(g, dist)
            name = _text(g, dist, DCT.title) or _last_segment(url) or fmt or "Data"
            out.append({
                "name": name[:500],
                "url": url,
                "format": fmt,
                "description": _text(g, dist, DCT.description),
            })
        return sorted(out, key=lambda r: (r["name"], r["url"], r["format"]))


def _page_key(url: str) -> str:
    """A page URL for loop detection: case-insensitive scheme and host, no fragment."""
    parts = urlsplit(url.strip())
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path or '/'}?{query}"


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port


def _is_catalog(g: Graph) -> bool:
    return any(True for _ in g.subjects(RDF.type, DCAT.Catalog)) or any(
        True for _ in g.subject_objects(DCAT.dataset)
    )


def _next_page(g: Graph) -> str | None:
    """The next page from the Hydra view (current and old vocabulary), if there is one."""
    views: set[Node] = set()
    for cls in (HYDRA.PartialCollectionView, HYDRA.PagedCollection):
        views |= set(g.subjects(RDF.type, cls))
    links: list[str] = []
    for view in sorted(views, key=str):
        links += [str(o) for o in _objects(g, view, HYDRA.next, HYDRA.nextPage) if _http(o)]
    if not links:  # an untyped view still says where to go next
        links = sorted(
            str(o) for p in (HYDRA.next, HYDRA.nextPage) for o in g.objects(None, p) if _http(o)
        )
    return links[0] if links else None


def _source_record(g: Graph, node: Node) -> str:
    """The dataset's own triples (and its blank nodes') as Turtle, for the job report."""
    try:
        cbd = g.cbd(node) if isinstance(node, URIRef | BNode) else Graph()
        for prefix, ns in (("dcat", DCAT), ("dct", DCT), ("foaf", FOAF), ("vcard", VCARD)):
            cbd.bind(prefix, ns)
        text = cbd.serialize(format="turtle")
    except Exception as exc:  # pragma: no cover - serialising what we parsed should work
        text = f"(could not serialise the record: {_short(exc)})"
    return text[:RECORD_TEXT_LIMIT]


def _tags(g: Graph, d: Node) -> list[str]:
    keywords = _literals(g, d, DCAT.keyword)
    preferred = [k for k in keywords if _lang_rank(k) < 2] or keywords
    tags = {str(k).strip() for k in preferred}
    return sorted(t for t in tags if t and TAG_RE.match(t))


def _contact(g: Graph, d: Node) -> tuple[str, str]:
    """(name, email) of the contact point; of several, the first by name (blank nodes have
    no stable order, and the record's content hash must not change between runs)."""
    found = []
    for point in _objects(g, d, DCAT.contactPoint):
        if isinstance(point, Literal):
            continue
        name = _text(g, point, VCARD.fn, VCARD["organization-name"], FOAF.name)
        email = ""
        for value in _objects(g, point, VCARD.hasEmail, VCARD.email, FOAF.mbox):
            raw = str(g.value(value, VCARD.value) or "") if isinstance(value, BNode) else str(value)
            text = unquote(re.sub(r"^mailto:", "", raw.strip(), flags=re.I))
            text = text.split("?", 1)[0]
            if EMAIL_RE.match(text):
                email = text
                break
        if name or email:
            found.append((not (name and email), name, email))
    if not found:
        return "", ""
    _, name, email = min(found)
    return name, email


def _publisher(g: Graph, d: Node) -> str:
    names = []
    for agent in _objects(g, d, DCT.publisher):
        if isinstance(agent, Literal):
            names.append(str(agent).strip())
        else:
            names.append(_text(g, agent, FOAF.name, VCARD.fn, SKOS.prefLabel, RDFS.label))
    return min((n for n in names if n), default="")


def _frequency(g: Graph, d: Node) -> str:
    for value in _objects(g, d, DCT.accrualPeriodicity):
        text = str(value).strip()
        code = text.rstrip("/").rsplit("/", 1)[-1].upper() if "/" in text else text.upper()
        if ours := _FREQUENCY.get(code):
            return ours
    return ""


def _temporal(g: Graph, d: Node) -> tuple[str, str]:
    starts, ends = [], []
    for period in _objects(g, d, DCT.temporal):
        for lit in _literals(g, period, DCAT.startDate, SCHEMA.startDate, SCHEMA_S.startDate):
            if day := _day(str(lit), end=False):
                starts.append(day)
        for lit in _literals(g, period, DCAT.endDate, SCHEMA.endDate, SCHEMA_S.endDate):
            if day := _day(str(lit), end=True):
                ends.append(day)
    start, end = min(starts, default=""), max(ends, default="")
    if start and end and start > end:
        return "", ""
    return start, end


def _spatial(g: Graph, d: Node) -> list[float] | None:
    boxes = []
    for location in _objects(g, d, DCT.spatial):
        values = [location] if isinstance(location, Literal) else _literals(
            g, location, DCAT.bbox, LOCN.geometry)
        for lit in values:
            if box := _geometry_bbox(str(lit)):
                boxes.append(box)
                break
    if not boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes)]


def _reason(g: Graph, d: Node) -> str:
    """A restriction reason the source states in our vocabulary (a citydata node may)."""
    for right in _objects(g, d, DCT.accessRights):
        for lit in _literals(g, right, RDFS.comment, SKOS.notation, DCT.description):
            if str(lit).strip() in REASONS:
                return str(lit).strip()
    return ""


def _format(g: Graph, dist: Node) -> str:
    for value in _objects(g, dist, DCT["format"]):
        if fmt := _format_name(g, value):
            return fmt
    for value in _objects(g, dist, DCAT.mediaType):
        if fmt := _format_name(g, value):
            return fmt
    return ""


def _format_name(g: Graph, value: Node) -> str:
    if isinstance(value, BNode):
        label = _text(g, value, RDFS.label, DCT.title, SKOS.prefLabel)
        return label[:100]
    text = str(value).strip()
    if isinstance(value, URIRef):
        if text.startswith(EU + "file-type/"):
            code = text.rsplit("/", 1)[-1].upper()
            return _FILE_TYPE_FORMAT.get(code, code)
        for prefix in _IANA_PREFIXES:
            if text.startswith(prefix):
                media = text[len(prefix):].lower()
                return _MEDIA_FORMAT.get(media, media)
        label = _text(g, value, RDFS.label, SKOS.prefLabel, DCT.title)
        return label[:100] or _last_segment(text)[:100]
    if "/" in text and re.fullmatch(r"[\w.+-]+/[\w.+-]+", text):
        return _MEDIA_FORMAT.get(text.lower(), text.lower())
    return text[:100]


def _remote_name(iri: str, landing: str, title: str) -> str:
    """A readable slug: the IRI's last segment, else the landing page's, else the title's;
    opaque ids (UUIDs, numbers) are used only when nothing readable is there."""
    candidates = [slugify(_last_segment(u)) for u in (iri, landing) if u]
    candidates.append(slugify(title))
    valid = [c for c in candidates if c]
    readable = [c for c in valid if not _OPAQUE.match(c)]
    return (readable or valid or ["dataset"])[0]
