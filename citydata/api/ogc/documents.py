"""The fixed OGC API documents: landing page, conformance classes and the OpenAPI 3.0
definition of the ``/ogc`` endpoints (OGC clients and test suites read 3.0, not 3.1)."""

from __future__ import annotations

from typing import Any

from citydata.api.openapi import OgcException
from citydata.geo import items

F1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
F2 = "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/"
F3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"
CONFORMANCE = [
    F1 + "core", F1 + "oas30", F1 + "geojson", F1 + "html",
    F2 + "crs",
    F3 + "queryables", F3 + "queryables-query-parameters", F3 + "filter", F3 + "features-filter",
    CQL2 + "cql2-text", CQL2 + "cql2-json", CQL2 + "basic-cql2",
    CQL2 + "advanced-comparison-operators",
    TILES + "core", TILES + "mvt", TILES + "tileset",
]  # fmt: skip


def landing_doc(site_url: str, site_title: str) -> dict[str, Any]:
    base = f"{site_url}/ogc"
    return {
        "title": f"{site_title}: OGC API – Features",
        "description": "Every spatial table in the catalog as a feature collection: query by "
                       "box, place, attribute and CQL2 filter; British National Grid or WGS84; "
                       "vector tiles. Open data needs no key; governed data follows its "
                       "agreements.",
        "links": [
            {"href": f"{base}/?f=json", "rel": "self", "type": "application/json",
             "title": "This document"},
            {"href": f"{base}/?f=html", "rel": "alternate", "type": "text/html",
             "title": "This document as HTML"},
            {"href": f"{base}/api", "rel": "service-desc",
             "type": "application/vnd.oai.openapi+json;version=3.0",
             "title": "The API definition (OpenAPI 3.0)"},
            {"href": f"{base}/api?f=html", "rel": "service-doc", "type": "text/html",
             "title": "The API documentation"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json",
             "title": "Conformance classes"},
            {"href": f"{base}/collections", "rel": "data", "type": "application/json",
             "title": "Feature collections"},
        ],
    }


def _param(name: str, description: str, schema: dict[str, Any], *, where: str = "query",
           required: bool = False, explode: bool | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": where, "description": description,
                         "required": required, "schema": schema}
    if where == "query":
        p["style"] = "form"
        p["explode"] = False if explode is None else explode
    return p


_EXCEPTION = {"description": "An error in the OGC exception shape", "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/exception"}}}}
#: 401: a bad API token; 429: after many bad tokens from one client (throttled).
_ERRORS = {str(status): _EXCEPTION for status in (400, 401, 403, 404, 429, 500)}


def _get(summary: str, op: str, params: list[dict[str, Any]], media: str,
         schema: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": op, "tags": ["OGC API – Features"],
                    "parameters": params,
                    "responses": {"200": {"description": summary,
                                          "content": {media: {"schema": schema}}}, **_ERRORS}}}


def openapi_doc(site_url: str, site_title: str) -> dict[str, Any]:
    f = _param("f", "Output format", {"type": "string", "enum": ["json", "html"]})
    cid = _param("collectionId", "A collection's id", {"type": "string"}, where="path",
                 required=True)
    fid = _param("featureId", "A feature's id", {"type": "string"}, where="path", required=True)
    crs_p = _param("crs", "Output CRS (URI)", {"type": "string", "format": "uri"})
    item_params = [
        cid, f,
        _param("limit", "Features per page", {"type": "integer", "minimum": 1,
                                              "maximum": items.MAX_LIMIT, "default": 10}),
        _param("offset", "Features to skip", {"type": "integer", "minimum": 0, "default": 0}),
        _param("bbox", "minx,miny,maxx,maxy (in bbox-crs, default CRS84)",
               {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}),
        _param("bbox-crs", "CRS of bbox (URI)", {"type": "string", "format": "uri"}),
        crs_p,
        _param("datetime", "An RFC 3339 instant or interval (a/b, ../b, a/..)",
               {"type": "string"}),
        _param("filter", "A CQL2 filter", {"type": "string"}),
        _param("filter-lang", "cql2-text (default) or cql2-json",
               {"type": "string", "enum": ["cql2-text", "cql2-json"]}),
        _param("filter-crs", "CRS of geometries in filter", {"type": "string"}),
        _param("sortby", "Properties to sort by, +name or -name, comma-separated",
               {"type": "string"}),
        _param("properties", "Properties to return, comma-separated", {"type": "string"}),
        _param("skipGeometry", "Leave geometries out", {"type": "boolean"}),
        _param("near", "lon,lat: the nearest features first, with distance_m",
               {"type": "string"}),
    ]
    json_obj = {"type": "object"}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"{site_title}: OGC API – Features", "version": "1.0.0",
                 "description": "OGC API – Features Parts 1–3 and vector tiles over the "
                                "catalog's spatial tables."},
        "servers": [{"url": f"{site_url}/ogc"}],
        "paths": {
            "/": _get("Landing page", "getLandingPage", [f], "application/json", json_obj),
            "/conformance": _get("Conformance classes", "getConformance", [f],
                                 "application/json", json_obj),
            "/api": _get("This API definition", "getApi", [], "application/vnd.oai.openapi+json;"
                         "version=3.0", json_obj),
            "/collections": _get("Feature collections", "getCollections", [f],
                                 "application/json", json_obj),
            "/collections/{collectionId}": _get("A collection", "describeCollection",
                                                [cid, f], "application/json", json_obj),
            "/collections/{collectionId}/queryables": _get(
                "Queryable properties", "getQueryables", [cid, f], "application/schema+json",
                json_obj),
            "/collections/{collectionId}/items": _get(
                "Features", "getFeatures", item_params, "application/geo+json",
                {"$ref": "#/components/schemas/featureCollectionGeoJSON"}),
            "/collections/{collectionId}/items/{featureId}": _get(
                "One feature", "getFeature", [cid, fid, f, crs_p], "application/geo+json",
                {"$ref": "#/components/schemas/featureGeoJSON"}),
            "/collections/{collectionId}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/"
            "{tileCol}": _get("A vector tile", "getTile", [
                cid,
                _param("tileMatrix", "Zoom level", {"type": "integer"}, where="path",
                       required=True),
                _param("tileRow", "Row (y)", {"type": "integer"}, where="path", required=True),
                _param("tileCol", "Column (x)", {"type": "integer"}, where="path",
                       required=True),
            ], "application/vnd.mapbox-vector-tile", {"type": "string", "format": "binary"}),
        },
        "components": {"schemas": {
            "exception": OgcException.model_json_schema(),
            "featureGeoJSON": {"type": "object", "required": ["type", "geometry", "properties"],
                               "properties": {"type": {"type": "string", "enum": ["Feature"]},
                                              "geometry": {"nullable": True},
                                              "properties": {"type": "object",
                                                             "nullable": True},
                                              "id": {"oneOf": [{"type": "string"},
                                                               {"type": "integer"}]}}},
            "featureCollectionGeoJSON": {
                "type": "object", "required": ["type", "features"],
                "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                               "features": {"type": "array", "items": {
                                   "$ref": "#/components/schemas/featureGeoJSON"}},
                               "links": {"type": "array"},
                               "timeStamp": {"type": "string", "format": "date-time"},
                               "numberMatched": {"type": "integer", "minimum": 0},
                               "numberReturned": {"type": "integer", "minimum": 0}}},
        }},
    }
