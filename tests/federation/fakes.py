"""The outside world for the federation tests: a fake CKAN portal and hostile web servers.

Both are real HTTP servers (``http.server.ThreadingHTTPServer`` on 127.0.0.1, a free port,
a daemon thread), used as context managers::

    with FakeCkan([ckan_package(i) for i in range(10)]) as ckan:
        CkanSource(ckan.url, fetcher).records(None)

:class:`FakeCkan` answers the CKAN 2.10 Action API calls a harvester makes
(``package_search``, ``package_show``, ``package_list``, ``status_show``) with responses in
CKAN 2.10's exact envelope and error shapes. Its ``packages`` list may be changed between
calls (append, remove, edit a dict in place): every request sees the current list. It is built
to serve 50,000 packages quickly: the sorted, filtered order is cached and re-used for as long
as no package's sort or visibility keys change.

:class:`HostileServer` misbehaves in the ways real sources do: huge or endless bodies,
slow-loris bodies, redirects elsewhere, HTML where JSON was asked for, broken JSON, endless
pagination, an XML entity-expansion bomb, and plain 404/500/503 errors.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# -- the HTTP server shared by the fakes ------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    app: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hang up on purpose (that is what the limits are for): stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(
            method=method,
            path=parts.path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        app = self.server.app
        with app.lock:
            app.requests.append(req)
        try:
            app.handle(req, self)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    # -- helpers used by the apps --

    def reply(
        self,
        status: int,
        body: bytes | str,
        content_type: str = "application/json;charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def reply_json(self, status: int, obj: Any) -> None:
        self.reply(status, json.dumps(obj, separators=(",", ":")))

    def redirect(self, location: str, status: int = 302) -> None:
        self.reply(status, b"", "text/plain", {"Location": location})

    def start_stream(
        self, content_type: str, headers: dict[str, str] | None = None, status: int = 200
    ) -> None:
        """Headers for a body of unknown length: it ends when the connection closes."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 with a free port; subclasses implement handle()."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start the server first (use it as a context manager)"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeServer:
        httpd = _HTTPServer((self.host, 0), _Handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"{type(self).__name__}-{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def handle(self, req: Request, h: _Handler) -> None:
        h.reply(404, "Not found", "text/plain")

    def requests_to(self, path_suffix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]


# -- realistic CKAN 2.10 package dicts ----------------------------------------------------------

_NS = uuid.UUID("6f1c3a52-8a0e-4c55-9a57-1d1b7a0c2e41")
_EPOCH = datetime(2023, 1, 2, 9, 0, 0)

_ORGS = [
    ("camden", "London Borough of Camden"),
    ("hackney", "London Borough of Hackney"),
    ("greater-london-authority", "Greater London Authority"),
    ("transport-for-london", "Transport for London"),
    ("southwark", "London Borough of Southwark"),
    ("royal-borough-of-greenwich", "Royal Borough of Greenwich"),
    ("westminster", "City of Westminster"),
]
_TOPICS = [
    ("Air quality monitoring sites", ["air-quality", "environment", "pollution"]),
    ("Street trees", ["trees", "environment", "greenspace"]),
    ("Cycle parking", ["cycling", "transport"]),
    ("Planning applications", ["planning", "development"]),
    ("Public toilets", ["public toilets", "amenities"]),
    ("Licensed premises", ["licensing", "alcohol"]),
    ("School locations", ["education", "schools"]),
    ("Electric vehicle charge points", ["ev", "transport", "energy"]),
    ("Road casualties", ["road safety", "transport"]),
    ("Parks and open spaces", ["parks", "greenspace"]),
]
_LICENCES = [
    ("uk-ogl", "UK Open Government Licence (OGL)",
     "http://reference.data.gov.uk/id/open-government-licence", True),
    ("OGL-UK-3.0", "Open Government Licence v3.0",
     "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/", True),
    ("cc-by", "Creative Commons Attribution", "http://www.opendefinition.org/licenses/cc-by",
     True),
    ("odc-odbl", "Open Data Commons Open Database License (ODbL)",
     "http://www.opendefinition.org/licenses/odc-odbl", True),
    ("cc-zero", "Creative Commons CCZero", "http://www.opendefinition.org/licenses/cc-zero",
     True),
]


def ckan_time(dt: datetime) -> str:
    """CKAN's own timestamp format: ISO 8601, microseconds, no time zone (it means UTC)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")


@functools.cache
def _uuid(kind: str, i: int) -> str:
    return str(uuid.uuid5(_NS, f"{kind}-{i}"))


def _derived_uuid(base: str, n: int) -> str:
    """Another stable uuid from one (cheaper than uuid5: 50,000 packages are built fast)."""
    return str(uuid.UUID(int=uuid.UUID(base).int ^ ((n + 1) << 80)))


_SPATIAL = json.dumps({
    "type": "Polygon",
    "coordinates": [[[-0.21, 51.51], [-0.10, 51.51], [-0.10, 51.57], [-0.21, 51.57],
                     [-0.21, 51.51]]],
})


def ckan_package(i: int, **overrides: Any) -> dict[str, Any]:
    """A realistic CKAN 2.10 ``package_show`` dict; ``overrides`` replace top-level keys.

    Packages are ordered by ``i``: package i was modified i minutes (and i microseconds)
    after 2023-01-02 09:00."""
    org_name, org_title = _ORGS[i % len(_ORGS)]
    topic, tags = _TOPICS[i % len(_TOPICS)]
    lic_id, lic_title, lic_url, isopen = _LICENCES[i % len(_LICENCES)]
    pkg_id = str(uuid.uuid5(_NS, f"pkg-{i}"))
    org_id = _uuid("org", i % len(_ORGS))
    name = f"{topic.lower().replace(' ', '-')}-{org_name}-{i}"
    created = _EPOCH + timedelta(minutes=i // 2)
    modified = _EPOCH + timedelta(minutes=i, microseconds=i % 1_000_000)
    created_s, modified_s = ckan_time(created), ckan_time(modified)
    resources = [
        {
            "cache_last_updated": None,
            "cache_url": None,
            "created": created_s,
            "datastore_active": False,
            "description": f"{topic} in {org_title}, one row per site.",
            "format": fmt,
            "hash": "",
            "id": _derived_uuid(pkg_id, n),
            "last_modified": modified_s,
            "metadata_modified": modified_s,
            "mimetype": mime,
            "mimetype_inner": None,
            "name": f"{topic} ({fmt})",
            "package_id": pkg_id,
            "position": n,
            "resource_type": None,
            "size": 1024 * (i % 97 + 1),
            "state": "active",
            "url": f"https://data.{org_name}.example.gov.uk/download/{name}.{ext}",
            "url_type": None,
        }
        for n, (fmt, mime, ext) in enumerate(
            [("CSV", "text/csv", "csv"), ("GeoJSON", "application/geo+json", "geojson")]
        )
    ]
    pkg: dict[str, Any] = {
        "author": f"{org_title} Open Data Team",
        "author_email": f"opendata@{org_name}.example.gov.uk",
        "creator_user_id": _uuid("user", i % 3),
        "id": pkg_id,
        "isopen": isopen,
        "license_id": lic_id,
        "license_title": lic_title,
        "license_url": lic_url,
        "maintainer": "Data Services",
        "maintainer_email": f"data.services@{org_name}.example.gov.uk",
        "metadata_created": created_s,
        "metadata_modified": modified_s,
        "name": name,
        "notes": (
            f"{topic} maintained by {org_title}. Updated when sites change; "
            "coordinates are WGS 84."
        ),
        "num_resources": len(resources),
        "num_tags": len(tags),
        "organization": {
            "id": org_id,
            "name": org_name,
            "title": org_title,
            "type": "organization",
            "description": f"Open data published by {org_title}.",
            "image_url": "",
            "created": "2019-03-04T12:00:00.000000",
            "is_organization": True,
            "approval_status": "approved",
            "state": "active",
        },
        "owner_org": org_id,
        "private": False,
        "state": "active",
        "title": f"{topic} – {org_title}",
        "type": "dataset",
        "url": f"https://www.{org_name}.example.gov.uk/open-data/{name}",
        "version": f"1.{i % 10}",
        "extras": [
            {"key": "update_frequency", "value": "monthly"},
            {"key": "spatial", "value": _SPATIAL},
        ],
        "groups": [],
        "resources": resources,
        "tags": [
            {"display_name": t, "id": _uuid(f"tag-{t}", 0), "name": t, "state": "active",
             "vocabulary_id": None}
            for t in tags
        ],
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }
    pkg.update(overrides)
    return pkg


# -- the fake CKAN portal ----------------------------------------------------------------------


def _solr_time(value: str) -> str:
    """How Solr returns a stored date (``fl=metadata_modified``): milliseconds and a Z."""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    ms = dt.microsecond // 1000
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms:03d}Z" if ms else "Z")


def _sortable_time(value: object) -> str:
    """A fixed-width string that sorts like the instant: 2024-01-01T00:00:00.000000."""
    if not isinstance(value, str) or not value:
        return ""
    text = value[:-1] if value.endswith("Z") else value
    if "." in text:
        head, frac = text.split(".", 1)
        return f"{head}.{frac[:6].ljust(6, '0')}"
    return f"{text}.000000" if "T" in text else f"{text}T00:00:00.000000"


_SOLR_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
_RANGE = re.compile(r"metadata_modified:([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])")
_SORT_FIELDS = {"metadata_modified", "metadata_created", "id", "name", "title_string", "score"}


class CkanError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.status = status
        self.error = error


def _validation(**fields: str) -> CkanError:
    return CkanError(409, {"__type": "Validation Error", **{k: [v] for k, v in fields.items()}})


def _int_param(params: dict[str, Any], name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise _validation(**{name: "Invalid integer"}) from None
    if value < 0:
        raise _validation(**{name: "Must be a natural number"})
    return value


@dataclass
class _Index:
    keys: list[tuple[Any, ...]]
    cache: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)


class FakeCkan(FakeServer):
    """A CKAN 2.10 portal's Action API over ``packages`` (CKAN package dicts).

    ``api_key`` is the sysadmin token: only requests whose ``Authorization`` (or
    ``X-CKAN-API-Key``) header carries it see private packages, and only with
    ``include_private=true``. ``errors`` injects a CKAN error for an action:
    ``fake.errors["package_search"] = (409, {"__type": "Search Query Error", "message": …})``.
    ``canned`` serves recorded response bytes for an action as they are.

    Entries of ``packages`` that are not dicts (malformed records) are served as they are."""

    def __init__(
        self,
        packages: list[dict[str, Any]] | None = None,
        *,
        api_key: str = "fake-sysadmin-token",
        rows_max: int = 1000,
        site_title: str = "London Datastore (fake)",
        ignore_params: tuple[str, ...] = (),
        leak_private: bool = False,
        sort_fields: frozenset[str] | set[str] = _SORT_FIELDS,
    ) -> None:
        super().__init__()
        self.packages: list[Any] = list(packages or [])
        self.api_key = api_key
        self.rows_max = rows_max
        #: Parameters this portal pretends not to know (e.g. ``("fl", "fq")``), as odd or
        #: older portals do.
        self.ignore_params = ignore_params
        #: A broken portal that shows private packages to anyone.
        self.leak_private = leak_private
        #: Fields package_search can sort on (citydata's own API cannot sort by id).
        self.sort_fields = frozenset(sort_fields)
        self.site_title = site_title
        self.errors: dict[str, tuple[int, dict[str, Any]]] = {}
        self.canned: dict[str, bytes] = {}
        self._index: _Index | None = None
        self._index_lock = threading.Lock()

    # -- helpers for tests --

    def find(self, id_or_name: str) -> dict[str, Any] | None:
        for p in self.packages:
            if isinstance(p, dict) and id_or_name in (p.get("id"), p.get("name")):
                return p
        return None

    def touch(self, id_or_name: str, when: datetime, **changes: Any) -> dict[str, Any]:
        """Change a package as an edit at the portal would: new metadata_modified."""
        pkg = self.find(id_or_name)
        assert pkg is not None, id_or_name
        pkg.update(changes)
        pkg["metadata_modified"] = ckan_time(when)
        return pkg

    def remove(self, id_or_name: str) -> None:
        self.packages = [
            p for p in self.packages
            if not (isinstance(p, dict) and id_or_name in (p.get("id"), p.get("name")))
        ]

    def action_calls(self, action: str) -> list[Request]:
        return self.requests_to(f"/action/{action}")

    # -- HTTP --

    def handle(self, req: Request, h: _Handler) -> None:
        prefix = next((p for p in ("/api/3/action/", "/api/action/") if req.path.startswith(p)),
                      None)
        if prefix is None:
            h.reply(404, "<html><body><h1>404 Not Found</h1></body></html>", "text/html")
            return
        action = req.path[len(prefix):]
        params: dict[str, Any] = dict(req.query)
        for ignored in self.ignore_params:
            params.pop(ignored, None)
        if req.method == "POST" and req.body:
            try:
                posted = json.loads(req.body)
            except ValueError:
                posted = None
            if not isinstance(posted, dict):
                self._error(h, action, 400, {"message": "Bad request - JSON Error: "
                                                        "Could not read request body"})
                return
            params.update({k: v for k, v in posted.items() if k not in self.ignore_params})
        if action in self.canned:
            h.reply(200, self.canned[action])
            return
        if action in self.errors:
            status, error = self.errors[action]
            self._error(h, action, status, error)
            return
        handlers: dict[str, Callable[[dict[str, Any], bool], Any]] = {
            "package_search": self._package_search,
            "package_show": self._package_show,
            "package_list": self._package_list,
            "status_show": self._status_show,
        }
        fn = handlers.get(action)
        if fn is None:
            self._error(h, action, 400,
                        {"message": f"Bad request - Action name not known: {action}"})
            return
        try:
            result = fn(params, self._authorised(req))
        except CkanError as exc:
            self._error(h, action, exc.status, exc.error)
            return
        body = json.dumps(
            {"help": self._help(action), "success": True, "result": result},
            separators=(", ", ": "),
        )
        h.reply(200, body)

    def _help(self, action: str) -> str:
        return f"{self.url}/api/3/action/help_show?name={action}"

    def _error(self, h: _Handler, action: str, status: int, error: dict[str, Any]) -> None:
        h.reply(status, json.dumps({"help": self._help(action), "success": False,
                                    "error": error}))

    def _authorised(self, req: Request) -> bool:
        token = req.headers.get("authorization") or req.headers.get("x-ckan-api-key") or ""
        return bool(self.api_key) and token.strip() == self.api_key

    # -- actions --

    def _visible(self, pkg: Any, include_private: bool) -> bool:
        if not isinstance(pkg, dict):
            return True  # a malformed record: served as it is, for the harvester to reject
        return pkg.get("state", "active") == "active" and (
            include_private or self.leak_private or not pkg.get("private")
        )

    def _order(self, packages: list[Any], sort: str, fq: str, q: str,
               include_private: bool) -> list[int]:
        keys = [
            (p.get("metadata_modified"), p.get("id"), p.get("private"), p.get("state"))
            if isinstance(p, dict) else (None, None, None, None)
            for p in packages
        ]
        cache_key = (sort, fq, q, include_private)
        with self._index_lock:
            if self._index is None or self._index.keys != keys:
                self._index = _Index(keys)
            hit = self._index.cache.get(cache_key)
            if hit is not None and not (q and q != "*:*"):
                return hit
        order = self._compute_order(packages, sort, fq, q, include_private)
        with self._index_lock:
            if self._index is not None and self._index.keys is keys:
                self._index.cache[cache_key] = order
        return order

    def _compute_order(self, packages: list[Any], sort: str, fq: str, q: str,
                       include_private: bool) -> list[int]:
        low = high = None
        low_incl = high_incl = True
        match = _RANGE.search(fq or "")
        if match:
            opening, start, end, closing = match.groups()
            for bound in (start, end):
                if bound != "*" and not _SOLR_DATE.match(bound):
                    raise CkanError(409, {
                        "__type": "Search Query Error",
                        "message": f"Search Query is invalid: \"Invalid Date String:'{bound}'\"",
                    })
            low = None if start == "*" else _sortable_time(start)
            high = None if end == "*" else _sortable_time(end)
            low_incl, high_incl = opening == "[", closing == "]"
        words = [] if q in ("", "*:*") else q.lower().split()
        selected = []
        for i, p in enumerate(packages):
            if not self._visible(p, include_private):
                continue
            if low is not None or high is not None:
                t = _sortable_time(p.get("metadata_modified") if isinstance(p, dict) else "")
                if low is not None and (t < low or (t == low and not low_incl)):
                    continue
                if high is not None and (t > high or (t == high and not high_incl)):
                    continue
            if words:
                text = " ".join(str(p.get(k) or "") for k in ("name", "title", "notes")
                                if isinstance(p, dict)).lower()
                if not all(w in text for w in words):
                    continue
            selected.append(i)
        for field_name, direction in reversed(self._parse_sort(sort)):
            if field_name == "score":
                continue
            selected.sort(key=self._sort_key(packages, field_name), reverse=direction == "desc")
        return selected

    def _parse_sort(self, sort: str) -> list[tuple[str, str]]:
        out = []
        for part in (sort or "score desc, metadata_modified desc").split(","):
            bits = part.split()
            if not bits:
                continue
            if len(bits) != 2 or bits[1] not in ("asc", "desc") or bits[0] not in self.sort_fields:
                raise CkanError(409, {
                    "__type": "Search Query Error",
                    "message": f"Search Query is invalid: \"Can't determine a Sort Order "
                               f"(asc or desc) in sort spec '{part.strip()}'\"",
                })
            out.append((bits[0], bits[1]))
        return out

    @staticmethod
    def _sort_key(packages: list[Any], field_name: str) -> Callable[[int], Any]:
        def value(i: int, key: str) -> Any:
            p = packages[i]
            return p.get(key) if isinstance(p, dict) else None

        if field_name in ("metadata_modified", "metadata_created"):
            return lambda i: _sortable_time(value(i, field_name))
        source = "title" if field_name == "title_string" else field_name
        return lambda i: str(value(i, source) or "").lower()

    def _package_search(self, params: dict[str, Any], authorised: bool) -> dict[str, Any]:
        rows = min(_int_param(params, "rows", 10), self.rows_max)
        start = _int_param(params, "start", 0)
        include_private = authorised and str(params.get("include_private", "")).lower() in (
            "true", "1", "yes", "on")
        sort = str(params.get("sort") or "score desc, metadata_modified desc")
        fq = str(params.get("fq") or "")
        q = str(params.get("q") or "*:*")
        packages = list(self.packages)
        order = self._order(packages, sort, fq, q, include_private)
        page = [packages[i] for i in order[start:start + rows]]
        fl = [f for f in re.split(r"[,\s]+", str(params.get("fl") or "")) if f]
        if fl:
            projected: list[Any] = []
            for p in page:
                if not isinstance(p, dict):
                    projected.append(p)
                    continue
                item = {}
                for f in fl:
                    if f == "capacity":  # CKAN indexes privacy as capacity
                        item[f] = "private" if p.get("private") else "public"
                    elif f in p:
                        v = p[f]
                        if f in ("metadata_modified", "metadata_created") and isinstance(v, str):
                            v = _solr_time(v)
                        item[f] = v
                projected.append(item)
            page = projected
        return {"count": len(order), "facets": {}, "results": page, "sort": sort,
                "search_facets": {}}

    def _package_show(self, params: dict[str, Any], authorised: bool) -> dict[str, Any]:
        key = params.get("id") or params.get("name_or_id")
        if not key:
            raise CkanError(409, {"__type": "Validation Error", "id": "Missing value"})
        pkg = self.find(str(key))
        if pkg is None or (pkg.get("state", "active") != "active" and not authorised):
            raise CkanError(404, {"__type": "Not Found Error", "message": "Not found"})
        if pkg.get("private") and not authorised and not self.leak_private:
            raise CkanError(403, {
                "__type": "Authorization Error",
                "message": f"Access denied: User  not authorized to read package {pkg['id']}",
            })
        return pkg

    def _package_list(self, params: dict[str, Any], authorised: bool) -> list[str]:
        limit = _int_param(params, "limit", 0)
        offset = _int_param(params, "offset", 0)
        names = sorted(
            str(p.get("name")) for p in list(self.packages)
            if isinstance(p, dict) and self._visible(p, False)
        )
        return names[offset:offset + limit] if limit else names[offset:]

    def _status_show(self, params: dict[str, Any], authorised: bool) -> dict[str, Any]:
        return {
            "site_title": self.site_title,
            "site_description": "Open data for London, from a fake CKAN for tests.",
            "site_url": self.url,
            "ckan_version": "2.10.4",
            "error_emails_to": None,
            "locale_default": "en_GB",
            "extensions": ["activity", "datastore", "datapusher", "scheming_datasets"],
        }


# -- hostile endpoints -------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:dcat="http://www.w3.org/ns/dcat#"
         xmlns:dct="http://purl.org/dc/terms/">
  <dcat:Dataset rdf:about="https://example.org/dataset/lol">
    <dct:title>&lol9;</dct:title>
  </dcat:Dataset>
</rdf:RDF>
"""

HTML_PAGE = (
    "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Open Data Portal</title></head>"
    "<body><h1>Welcome to the Open Data Portal</h1><p>Please sign in.</p></body></html>\n"
)


class HostileServer(FakeServer):
    """A source that misbehaves. Paths:

    ``/ok`` a small JSON object; ``/echo`` the request as JSON (method, path, query,
    headers, body); ``/huge`` 100 MB announced in Content-Length and streamed;
    ``/huge-stream`` an endless body without Content-Length; ``/gzip-bomb`` 10 kB of gzip
    that inflates to 50 MB; ``/slow`` slow-loris: headers at once, then one byte per
    ``slow_interval`` seconds; ``/slow-headers`` the same inside the headers;
    ``/redirect-away`` 302 to 127.0.0.2 (another host);
    ``/redirect-scheme`` 302 to https on the same host; ``/redirect-same`` 302 to ``/ok``;
    ``/redirect-chain/<n>`` n redirects then ``/ok``; ``/redirect-loop`` redirects to itself;
    ``/html`` an HTML page (200, text/html); ``/html-as-json`` HTML labelled
    application/json; ``/invalid-json``; ``/deep-json`` JSON nested 100,000 deep;
    ``/endless/api/3/action/package_search`` claims a billion results and always returns
    the same page; ``/growing/api/3/action/package_search`` new ids on every page, forever;
    ``/entity.rdf`` an XML billion-laughs document (application/rdf+xml); ``/notfound`` 404;
    ``/error`` 500; ``/unavailable`` 503."""

    def __init__(self, *, slow_interval: float = 1.0, huge_bytes: int = 100 * 1024 * 1024):
        super().__init__()
        self.slow_interval = slow_interval
        self.huge_bytes = huge_bytes
        self._bomb: bytes | None = None

    def gzip_bomb(self) -> bytes:
        if self._bomb is None:
            z = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
            block = b"\0" * (1024 * 1024)
            self._bomb = b"".join(z.compress(block) for _ in range(50)) + z.flush()
        return self._bomb

    def handle(self, req: Request, h: _Handler) -> None:
        path = req.path
        if path == "/ok":
            h.reply_json(200, {"ok": True})
        elif path == "/echo":
            h.reply_json(200, {"method": req.method, "path": path, "query": req.query,
                               "headers": req.headers, "body": req.body.decode("utf-8",
                                                                                "replace")})
        elif path == "/huge":
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(self.huge_bytes))
            h.end_headers()
            self._stream_zeros(h, self.huge_bytes)
        elif path == "/huge-stream":
            h.start_stream("application/json")
            self._stream_zeros(h, None)
        elif path == "/gzip-bomb":
            h.reply(200, self.gzip_bomb(), "application/json", {"Content-Encoding": "gzip"})
        elif path == "/slow":
            h.start_stream("application/json")
            h.wfile.write(b"[")
            h.wfile.flush()
            for _ in range(600):
                if self.stopping.wait(self.slow_interval):
                    return
                h.wfile.write(b" ")
                h.wfile.flush()
        elif path == "/slow-headers":
            # Slow-loris in the headers: a never-ending header line, a byte at a time.
            h.close_connection = True
            h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: ")
            h.wfile.flush()
            for _ in range(600):
                if self.stopping.wait(self.slow_interval):
                    return
                h.wfile.write(b"a")
                h.wfile.flush()
        elif path == "/redirect-away":
            h.redirect(f"http://127.0.0.2:{self.port}/ok")
        elif path == "/redirect-scheme":
            h.redirect(f"https://{self.host}:{self.port}/ok")
        elif path == "/redirect-same":
            h.redirect("/ok")
        elif path.startswith("/redirect-chain/"):
            n = int(path.rsplit("/", 1)[1] or 0)
            h.redirect(f"/redirect-chain/{n - 1}" if n > 1 else f"{self.url}/ok", 307)
        elif path == "/redirect-loop":
            h.redirect("/redirect-loop", 301)
        elif path == "/html":
            h.reply(200, HTML_PAGE, "text/html; charset=utf-8")
        elif path == "/html-as-json":
            h.reply(200, "\n  " + HTML_PAGE, "application/json")
        elif path == "/invalid-json":
            h.reply(200, '{"help": "x", "success": true, "result": {"count": 3, "results": [',
                    "application/json")
        elif path == "/deep-json":
            h.reply(200, "[" * 100_000 + "]" * 100_000, "application/json")
        elif path == "/endless/api/3/action/package_search":
            results = [ckan_package(i) for i in range(3)]
            h.reply_json(200, {"help": f"{self.url}/api/3/action/help_show?name=package_search",
                               "success": True,
                               "result": {"count": 1_000_000_000, "facets": {},
                                          "results": results, "sort": req.query.get("sort", ""),
                                          "search_facets": {}}})
        elif path == "/growing/api/3/action/package_search":
            start = int(req.query.get("start") or 0)
            rows = int(req.query.get("rows") or 10)
            results = [ckan_package(start + i) for i in range(min(rows, 5))]
            h.reply_json(200, {"help": f"{self.url}/api/3/action/help_show?name=package_search",
                               "success": True,
                               "result": {"count": 1_000_000_000, "facets": {},
                                          "results": results, "sort": "", "search_facets": {}}})
        elif path == "/entity.rdf":
            h.reply(200, BILLION_LAUGHS, "application/rdf+xml")
        elif path == "/error":
            h.reply(500, "<html><body>Internal Server Error</body></html>", "text/html")
        elif path == "/unavailable":
            h.reply(503, "Service Unavailable", "text/plain", {"Retry-After": "3600"})
        else:  # /notfound and everything else
            h.reply(404, "Not Found", "text/plain")

    def _stream_zeros(self, h: _Handler, limit: int | None) -> None:
        chunk = b"0" * 65536
        sent = 0
        cap = limit if limit is not None else self.huge_bytes * 10
        while sent < cap and not self.stopping.is_set():
            piece = chunk[: cap - sent]
            h.wfile.write(piece)
            sent += len(piece)
        h.close_connection = True
