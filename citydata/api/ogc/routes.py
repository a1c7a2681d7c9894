"""OGC API – Features endpoints. Each one resolves the request into library calls and turns
their data into JSON (GeoJSON for features) or an HTML page; errors take the OGC shape
(``citydata.api.ogc.errors``) through the application's one error handler."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from citydata.api.deps import request_ctx
from citydata.api.ogc.documents import CONFORMANCE, landing_doc, openapi_doc
from citydata.catalog.context import Ctx
from citydata.datastore.query import describe_snapshot
from citydata.errors import Forbidden, QueryError
from citydata.geo import crs, items, mvt
from citydata.geo.collections import (
    Entry,
    collection_doc,
    find_collection,
    list_collections,
    open_collection,
    queryables_doc,
)
from citydata.geo.featurestore import TILES
from citydata.web.render import actor_context, render_page

router = APIRouter(prefix="/ogc", include_in_schema=False)
GEOJSON = "application/geo+json"
OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"
MVT_TYPE = "application/vnd.mapbox-vector-tile"
SIMPLE_PARAMS = frozenset({"f", "_purpose", "_agreement"})
#: The most features one vector tile carries; denser tiles are thinned evenly.
TILE_MAX_FEATURES = 20_000


def _format(request: Request) -> str:
    """json or html: the ``f`` parameter first, else the Accept header (browsers get HTML)."""
    f = request.query_params.get("f")
    if f is not None:
        if f in ("json", "geojson", "application/json", GEOJSON):
            return "json"
        if f in ("html", "text/html"):
            return "html"
        raise QueryError("f: use json or html", fields={"f": ["json or html"]})
    accept = request.headers.get("accept", "")
    if "text/html" in accept and "json" not in accept:
        return "html"
    return "json"


def _base(ctx: Ctx) -> str:
    return f"{ctx.site_url}/ogc"


def _page(request: Request, ctx: Ctx, kind: str, title: str, doc: dict[str, Any],
          **extra: Any) -> Response:
    return render_page(request, "ogc.html", {**actor_context(ctx), "kind": kind, "title": title,
                                             "doc": doc, **extra})


def link_header(links: list[dict[str, Any]]) -> str:
    """RFC 8288 Link header of a document's links, for clients that read headers (HEAD)."""
    return ", ".join(f'<{link["href"]}>; rel="{link["rel"]}"; type="{link["type"]}"'
                     for link in links if not link.get("templated"))


def _json(doc: dict[str, Any], media_type: str = "application/json") -> Response:
    return Response(json.dumps(doc), media_type=media_type,
                    headers={"Link": link_header(doc.get("links", []))})


def _simple(request: Request) -> None:
    items.check_params(list(request.query_params.multi_items()), SIMPLE_PARAMS, {})


@router.api_route("", methods=["GET", "HEAD"])
@router.api_route("/", methods=["GET", "HEAD"])
async def landing(request: Request) -> Response:
    _simple(request)
    fmt = _format(request)

    def run() -> Response:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            doc = landing_doc(ctx.site_url, ctx.settings.site_title)
            if fmt == "html":
                return _page(request, ctx, "landing", doc["title"], doc)
            return _json(doc)

    return await run_in_threadpool(run)


@router.api_route("/conformance", methods=["GET", "HEAD"])
async def conformance(request: Request) -> Response:
    _simple(request)
    fmt = _format(request)
    doc = {"conformsTo": CONFORMANCE}
    if fmt == "html":
        def run() -> Response:
            with request_ctx(request, anonymous_on_bad_token=True) as ctx:
                return _page(request, ctx, "conformance", "Conformance", doc)
        return await run_in_threadpool(run)
    return JSONResponse(doc)


@router.api_route("/api", methods=["GET", "HEAD"])
async def api_definition(request: Request) -> Response:
    _simple(request)
    fmt = _format(request)

    def run() -> Response:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            doc = openapi_doc(ctx.site_url, ctx.settings.site_title)
            if fmt == "html":
                return _page(request, ctx, "api", doc["info"]["title"], doc)
            return Response(json.dumps(doc), media_type=OPENAPI_TYPE)

    return await run_in_threadpool(run)


@router.api_route("/collections", methods=["GET", "HEAD"])
async def collections(request: Request) -> Response:
    _simple(request)
    fmt = _format(request)

    def run() -> Response:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            base = _base(ctx)
            docs = [collection_doc(ctx, e, base) for e in list_collections(ctx)]
            doc = {
                "links": [
                    {"href": f"{base}/collections?f=json", "rel": "self",
                     "type": "application/json", "title": "Collections"},
                    {"href": f"{base}/collections?f=html", "rel": "alternate",
                     "type": "text/html", "title": "Collections as HTML"},
                ],
                "collections": docs,
                "crs": list(crs.SUPPORTED)[:3],
            }
            if fmt == "html":
                return _page(request, ctx, "collections", "Collections", doc)
            return _json(doc)

    return await run_in_threadpool(run)


def _readable(ctx: Ctx, collection_id: str) -> Entry:
    """The collection, if the reader may read its rows (its metadata alone is the catalog's
    business): refused with the policy's own reason otherwise."""
    entry = find_collection(ctx, collection_id)
    reason = ctx.access.refusal(entry.dataset, "read", entry.resource.id)
    if reason:
        raise Forbidden(reason)
    return entry


@router.api_route("/collections/{collection_id}", methods=["GET", "HEAD"])
async def collection(request: Request, collection_id: str) -> Response:
    _simple(request)
    fmt = _format(request)

    def run() -> Response:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            entry = _readable(ctx, collection_id)
            doc = collection_doc(ctx, entry, _base(ctx))
            if fmt == "html":
                return _page(request, ctx, "collection", doc["title"], doc)
            return _json(doc)

    return await run_in_threadpool(run)


@router.api_route("/collections/{collection_id}/queryables", methods=["GET", "HEAD"])
async def queryables(request: Request, collection_id: str) -> Response:
    _simple(request)
    fmt = _format(request)

    def run() -> Response:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            entry = _readable(ctx, collection_id)
            snap = describe_snapshot(ctx, entry.resource.id)
            doc = queryables_doc(entry, _base(ctx), snap)
            if fmt == "html":
                return _page(request, ctx, "queryables", f"Queryables: {entry.title}", doc)
            return Response(json.dumps(doc), media_type="application/schema+json")

    return await run_in_threadpool(run)


def _link(url: str, params: list[tuple[str, str]], **changes: str) -> str:
    kept = [(k, v) for k, v in params if k not in changes]
    return f"{url}?{urlencode(kept + list(changes.items()))}"


@router.api_route("/collections/{collection_id}/items", methods=["GET", "HEAD"])
async def get_items(request: Request, collection_id: str) -> Response:
    fmt = _format(request)
    params = list(request.query_params.multi_items())
    timeout = float(request.app.state.platform.settings.query_timeout_seconds)

    def run() -> Response:
        with request_ctx(request) as ctx:
            opened = open_collection(ctx, collection_id)
            q = items.parse_items_query(params, opened)
            result = items.run_items(opened, q, timeout=timeout)
            if opened.snap.decision is not None:
                opened.snap.decision.note(rows=result.returned,
                                          query=str(request.url.query)[:1000])
            url = f"{_base(ctx)}/collections/{opened.entry.id}/items"
            plain = [(k, v) for k, v in params if k != "f"]
            links = [
                {"href": _link(url, plain, f="json"), "rel": "self", "type": GEOJSON,
                 "title": "This page"},
                {"href": _link(url, plain, f="html"), "rel": "alternate", "type": "text/html",
                 "title": "This page as HTML"},
                {"href": f"{_base(ctx)}/collections/{opened.entry.id}", "rel": "collection",
                 "type": "application/json", "title": "The collection"},
            ]
            if q.offset + result.returned < result.matched and result.returned:
                links.append({"href": _link(url, plain, f="json",
                                            offset=str(q.offset + q.limit)),
                              "rel": "next", "type": GEOJSON, "title": "Next page"})
            if q.offset > 0:
                links.append({"href": _link(url, plain, f="json",
                                            offset=str(max(0, q.offset - q.limit))),
                              "rel": "prev", "type": GEOJSON, "title": "Previous page"})
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if fmt == "html":
                return _page(request, ctx, "items", opened.entry.title, {"links": links},
                             features=[json.loads(f) for f in result.features],
                             matched=result.matched, collection_id=opened.entry.id,
                             offset=q.offset)
            body = (
                '{"type":"FeatureCollection","features":[' + ",".join(result.features)
                + f'],"numberMatched":{result.matched},"numberReturned":{result.returned},'
                + f'"timeStamp":"{stamp}","links":{json.dumps(links)}}}'
            )
            links.append({"href": f"{_base(ctx)}/collections/{opened.entry.id}/queryables",
                          "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                          "type": "application/schema+json"})
            return Response(body, media_type=GEOJSON,
                            headers={"Content-Crs": crs.content_crs_header(q.crs),
                                     "Link": link_header(links)})

    return await run_in_threadpool(run)


@router.api_route("/collections/{collection_id}/items/{feature_id}", methods=["GET", "HEAD"])
async def get_item(request: Request, collection_id: str, feature_id: str) -> Response:
    fmt = _format(request)
    params = list(request.query_params.multi_items())

    def run() -> Response:
        with request_ctx(request) as ctx:
            opened = open_collection(ctx, collection_id)
            p = items.check_params(params, items.FEATURE_PARAMS, {})
            q = items.ItemsQuery(crs=crs.parse_crs(p.get("crs"), "crs"))
            if "properties" in p:
                q.properties = items.parse_properties(
                    p["properties"], items.queryable_columns(opened.entry, opened.snap))
            if "skipGeometry" in p:
                q.skip_geometry = items._bool_param(p["skipGeometry"], "skipGeometry")
            text = items.get_feature(opened, feature_id, q)
            if opened.snap.decision is not None:
                opened.snap.decision.note(rows=1, feature=feature_id)
            coll_url = f"{_base(ctx)}/collections/{opened.entry.id}"
            url = f"{coll_url}/items/{feature_id}"
            links = [
                {"href": f"{url}?f=json", "rel": "self", "type": GEOJSON, "title": "This feature"},
                {"href": f"{url}?f=html", "rel": "alternate", "type": "text/html",
                 "title": "This feature as HTML"},
                {"href": coll_url, "rel": "collection", "type": "application/json",
                 "title": "The collection"},
            ]
            if fmt == "html":
                feature = json.loads(text)
                return _page(request, ctx, "item", f"{opened.entry.title}: feature {feature_id}",
                             {"links": links}, features=[feature], collection_id=opened.entry.id)
            body = text[:-1] + f',"links":{json.dumps(links)}}}'
            return Response(body, media_type=GEOJSON,
                            headers={"Content-Crs": crs.content_crs_header(q.crs),
                                     "Link": link_header(links)})

    return await run_in_threadpool(run)


@router.api_route("/collections/{collection_id}/tiles", methods=["GET", "HEAD"])
async def tilesets(request: Request, collection_id: str) -> Response:
    _simple(request)

    def run() -> Response:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            entry = _readable(ctx, collection_id)
            url = f"{_base(ctx)}/collections/{entry.id}/tiles/WebMercatorQuad"
            return JSONResponse({"tilesets": [{
                "title": entry.title, "dataType": "vector", "crs": crs.WEB_MERCATOR,
                "tileMatrixSetURI":
                    "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
                "links": [{"href": url + "/{tileMatrix}/{tileRow}/{tileCol}", "rel": "item",
                           "type": MVT_TYPE, "templated": True,
                           "title": "Mapbox Vector Tiles, z/y/x"}],
            }]})

    return await run_in_threadpool(run)


@router.api_route("/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{y}/{x}",
                  methods=["GET", "HEAD"])
async def tile(request: Request, collection_id: str, z: str, y: str, x: str) -> Response:
    """One Mapbox Vector Tile: tileMatrix (zoom) / tileRow (y) / tileCol (x), as OGC API –
    Tiles orders them."""
    _simple(request)
    try:
        zi, yi, xi = int(z), int(y), int(x)
    except ValueError:
        raise QueryError("The tile address is tileMatrix/tileRow/tileCol: three whole "
                         "numbers (zoom/y/x)") from None
    mvt.check_tile(zi, xi, yi)

    def run() -> tuple[bytes, str]:
        with request_ctx(request) as ctx:
            opened = open_collection(ctx, collection_id)
            shown = {c.name for c in opened.snap.columns}
            hidden = frozenset(c.name for c in opened.snap.all_columns if c.name not in shown)
            data = TILES.get(opened.store, zi, xi, yi, opened.entry.id, TILE_MAX_FEATURES,
                             hidden)
            if opened.snap.decision is not None:
                opened.snap.decision.note(tile=f"{zi}/{yi}/{xi}")
            # A version's tiles never change; only open data may sit in shared caches.
            public = opened.snap.access_level == "open"
            return data, "public, max-age=3600" if public else "private, no-store"

    data, cache = await run_in_threadpool(run)
    return Response(data, media_type=MVT_TYPE, headers={"Cache-Control": cache})
