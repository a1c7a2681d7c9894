"""What the load test's users ask for, found over HTTP on the running server and checked.

Everything comes from the demo catalog as an anonymous client sees it (plus the governed
resource): search words, every visible dataset's page, the rows of open tabular resources
(a page, a sorted page, a filtered page), OGC API Features items of every collection (a page,
and a page inside a bounding box of central London), the files of open datasets, and the rows
of the governed dataset under the agreement. Each path is requested once here and must answer
200, so the load phase measures working requests only; a path that fails stops the run before
it starts, with the path and the answer.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from bench.loadtest.database import Governed

#: What an anonymous visitor types; a mix of common and rare topics, places and a blank query.
SEARCH_WORDS = ("parking", "planning", "air quality", "schools", "camden", "trees", "bus",
                "crime", "housing", "electric vehicle charging", "population", "waste",
                "hackney", "cycle", "flood", "")
FACETS = '["organization","tags","res_format","license_id"]'
#: How often each kind of request is made, relative to the others.
WEIGHTS = {"search": 25, "dataset_page": 20, "rows": 20, "ogc_items": 15, "download": 10,
           "governed": 10}
PAGE = 50
CENTRAL_LONDON_BBOX = "-0.20,51.48,-0.05,51.54"
PURPOSE_HEADER = "X-Citydata-Purpose"


def _search_paths() -> list[str]:
    out = []
    for word in SEARCH_WORDS:
        out.append("/api/3/action/package_search?" + urlencode(
            {"q": word, "rows": 10, "facet.field": FACETS}))
        out.append("/dataset?" + urlencode({"q": word}))
    return out


def _row_paths(resource_id: str, columns: list[str], first: dict[str, Any]) -> list[str]:
    base = f"/api/v1/resources/{resource_id}/rows"
    out = [f"{base}?_size={PAGE}"]
    if columns:
        out.append(f"{base}?" + urlencode({"_sort": columns[0], "_size": PAGE}))
    text = [c for c in columns if isinstance(first.get(c), str) and first[c]]
    if text:
        col = text[min(1, len(text) - 1)]
        out.append(f"{base}?" + urlencode({col: first[col], "_size": PAGE}))
    return out


def _resource_rows(client: httpx.Client, resource_id: str,
                   headers: dict[str, str] | None = None) -> tuple[list[str], dict[str, Any]]:
    resp = client.get(f"/api/v1/resources/{resource_id}/rows?_size=1", headers=headers)
    resp.raise_for_status()
    body = resp.json()
    return [c["name"] for c in body["columns"]], (body["rows"] or [{}])[0]


def discover(base: str, governed: Governed, *, max_row_resources: int = 60,
             seed: int = 20261202) -> dict[str, Any]:
    """The paths of every kind, the governed headers and the weights (locustfile's input)."""
    rng = random.Random(seed)
    headers = {"Authorization": governed.token, PURPOSE_HEADER: governed.purpose}
    with httpx.Client(base_url=base, timeout=60) as client:
        found = client.get("/api/3/action/package_search", params={"rows": 1000})
        found.raise_for_status()
        packages = found.json()["result"]["results"]
        datasets = sorted(p["name"] for p in packages)
        open_resources = [(p["name"], r) for p in packages if p.get("access_level") == "open"
                          for r in p.get("resources", []) if r.get("datastore_active")]
        tabular = rng.sample(open_resources, min(max_row_resources, len(open_resources)))
        rows: list[str] = []
        for _, r in tabular:
            rows += _row_paths(r["id"], *_resource_rows(client, r["id"]))
        downloads = sorted(urlsplit(r["url"]).path for _, r in open_resources
                           if "/download" in (r.get("url") or ""))
        collections = client.get("/ogc/collections", params={"f": "json"})
        collections.raise_for_status()
        ogc = []
        for c in collections.json()["collections"]:
            items = f"/ogc/collections/{c['id']}/items"
            ogc += [f"{items}?f=json&limit=20",
                    f"{items}?" + urlencode({"f": "json", "limit": 20,
                                             "bbox": CENTRAL_LONDON_BBOX})]
        gov = client.get("/api/3/action/package_show", params={"id": governed.dataset},
                         headers=headers)
        gov.raise_for_status()
        gov_resources = [r["id"] for r in gov.json()["result"]["resources"]
                         if r.get("datastore_active")]
        if not gov_resources:
            raise RuntimeError(f"{governed.dataset} has no tabular resource to query")
        governed_paths: list[str] = []
        for rid in gov_resources:
            governed_paths += _row_paths(rid, *_resource_rows(client, rid, headers))
            governed_paths.append("/api/3/action/datastore_search?" + urlencode(
                {"resource_id": rid, "limit": PAGE}))
        paths = {"search": _search_paths(), "dataset_page": [f"/dataset/{n}" for n in datasets],
                 "rows": rows, "ogc_items": ogc, "download": downloads,
                 "governed": governed_paths}
        check(client, paths, headers)
    return {"paths": paths, "governed_headers": headers, "weights": WEIGHTS,
            "counts": {k: len(v) for k, v in paths.items()},
            "download_bytes": sorted(int(r.get("size") or 0) for _, r in open_resources)}


def check(client: httpx.Client, paths: dict[str, list[str]], headers: dict[str, str],
          threads: int = 4) -> None:
    """Every path once (a few at a time): a failure here would be measured as load, so it
    stops the run."""
    from concurrent.futures import ThreadPoolExecutor

    def get(item: tuple[str, str]) -> str:
        kind, path = item
        resp = client.get(path, headers=headers if kind == "governed" else None)
        if resp.status_code != 200:
            return f"{kind}: GET {path} answered {resp.status_code}: {resp.text[:300]}"
        return ""

    for kind, items in paths.items():
        if not items:
            raise RuntimeError(f"no {kind} requests found in the catalog")
    todo = [(kind, path) for kind, items in paths.items() for path in items]
    with ThreadPoolExecutor(threads) as pool:
        problems = [p for p in pool.map(get, todo) if p]
    if problems:
        raise RuntimeError(f"{len(problems)} of {len(todo)} requests failed before the load; "
                           "first ones:\n" + "\n".join(problems[:5]))
