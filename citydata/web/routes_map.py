"""The map explorer: several layers from the catalog on one map, with popups, a legend and a
filter — over the borough boundaries, with no internet needed."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from citydata.api.deps import request_ctx
from citydata.catalog import search
from citydata.catalog.context import Ctx
from citydata.catalog.datasets import dataset_dicts
from citydata.catalog.resources import current, get_resource, resource_dict
from citydata.errors import CitydataError
from citydata.web.render import actor_context, render_page
from citydata.web.routes_dataset import download_path, map_source

router = APIRouter(include_in_schema=False)

MAX_LAYERS = 6
#: Layer colours, distinguishable and readable on the light basemap.
COLOURS = ["#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#b58840"]


def layer(ctx: Ctx, resource_id: str) -> dict[str, Any] | None:
    """What the map draws for one resource, if the reader may have it and it can be mapped."""
    try:
        ds, r = get_resource(ctx, resource_id)
    except CitydataError:
        return None
    rd = resource_dict(ctx, ds, r)
    version = current(r)
    if version is None:
        return None
    view = {"downloadable": ctx.access.allows(ds, "download", r.id),
            "download_path": download_path(ds.name, rd, filename=version.filename,
                                           agreement=ctx.actor.agreement or "")}
    columns = json.loads(version.columns or "[]")
    url = map_source(rd, {"columns": columns}, view, ctx.actor.agreement or "")
    if not url:
        return None
    return {"id": r.id, "url": url, "name": f"{ds.title}: {r.name}", "dataset": ds.name}


@router.get("/map", response_class=HTMLResponse)
def map_explorer(request: Request, layer_ids: list[str] = Query([], alias="layer"),
                 q: str = "") -> HTMLResponse:
    """Pick up to six layers (GeoJSON files, or tables with coordinates) to see together."""
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        layers = [x for x in (layer(ctx, i) for i in dict.fromkeys(layer_ids[:MAX_LAYERS])) if x]
        for item, colour in zip(layers, COLOURS, strict=False):
            item["colour"] = colour
        found = search.search_datasets(ctx.session, ctx.actor, q=q[:200],
                                       fq="res_format:GeoJSON", rows=30)
        choices = [{"id": r["id"], "name": f"{d['title']}: {r['name']}",
                    "chosen": r["id"] in {x["id"] for x in layers}}
                   for d in dataset_dicts(ctx, found["ids"]) for r in d["resources"]
                   if r["format"] == "GeoJSON" and r["url_type"] == "upload"]
        return render_page(request, "map.html", {
            **actor_context(ctx), "layers": layers, "choices": choices, "q": q,
            "layers_json": json.dumps([{k: x[k] for k in ("url", "name", "colour")}
                                       for x in layers]),
        })
