"""The map explorer: several layers from the catalog on one map, with popups, a legend and a
filter — over the borough boundaries, with no internet needed.

Its layers are the OGC API collections (``citydata.geo.collections``): every spatial file or
table the reader may read — GeoJSON, GeoPackage, Shapefile, GeoParquet, or a table with
coordinates — each drawn from its ``/ogc/.../items`` page through the same policy path."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from citydata.api.deps import request_ctx
from citydata.catalog.context import Ctx
from citydata.errors import CitydataError
from citydata.geo.collections import Entry, find_collection, list_collections
from citydata.web.render import actor_context, render_page

router = APIRouter(include_in_schema=False)

MAX_LAYERS = 6
#: The most features of one layer the explorer draws (the API pages through the rest).
MAX_FEATURES = 5000
MAX_CHOICES = 40
#: Layer colours, distinguishable and readable on the light basemap.
COLOURS = ["#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#b58840"]


def _items_url(ctx: Ctx, entry: Entry) -> str:
    params = {"f": "json", "limit": str(MAX_FEATURES)}
    if ctx.actor.agreement:
        params["_agreement"] = ctx.actor.agreement
    if ctx.actor.purpose:
        params["_purpose"] = ctx.actor.purpose
    return f"/ogc/collections/{entry.id}/items?{urlencode(params)}"


def layer(ctx: Ctx, collection_id: str) -> dict[str, Any] | None:
    """What the map draws for one collection, if the reader may read it."""
    try:
        entry = find_collection(ctx, collection_id)
    except CitydataError:
        return None
    if not ctx.access.allows(entry.dataset, "read", entry.resource.id):
        return None
    return {"id": entry.id, "url": _items_url(ctx, entry), "name": entry.title,
            "dataset": entry.dataset.name, "rows": entry.version.row_count or 0}


@router.get("/map", response_class=HTMLResponse)
def map_explorer(request: Request, layer_ids: list[str] = Query([], alias="layer"),
                 q: str = "") -> HTMLResponse:
    """Pick up to six layers (anything with places in it) to see together."""
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        layers = [x for x in (layer(ctx, i[:200]) for i in dict.fromkeys(layer_ids[:MAX_LAYERS]))
                  if x]
        for item, colour in zip(layers, COLOURS, strict=False):
            item["colour"] = colour
        words = q[:200].lower().split()
        chosen = {x["id"] for x in layers}
        entries = [e for e in list_collections(ctx)
                   if all(w in f"{e.title} {e.id}".lower() for w in words)]
        choices = [{"id": e.id, "name": e.title, "chosen": e.id in chosen}
                   for e in entries[:MAX_CHOICES]]
        return render_page(request, "map.html", {
            **actor_context(ctx), "layers": layers, "choices": choices, "q": q,
            "more": max(0, len(entries) - MAX_CHOICES), "max_features": MAX_FEATURES,
            "layers_json": json.dumps([{k: x[k] for k in ("url", "name", "colour")}
                                       for x in layers]),
        })
