"""Live federated search: the registry's own index plus every member node, asked at once.

Each active member node is asked (signed) through its CKAN ``package_search``, all in
parallel, under one deadline. Whatever has answered by then is merged with the registry's
harvested index: the same dataset reached through two paths (same identifier) is one result,
ranked by reciprocal rank fusion (each list contributes ``1 / (60 + rank)``), so a dataset
both the index and its node rank highly comes first. The answer says, per node, whether it
answered, failed or timed out and how long it took — a node that is down or slow costs the
search at most the deadline, never an error.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from citydata.catalog import datasets as catalog
from citydata.catalog import search as catalog_search
from citydata.catalog.context import Ctx
from citydata.errors import ValidationError
from citydata.federation import nodes, signing
from citydata.platform import Platform
from citydata.storage.models_federation import FederationNode, HarvestRecordRow

RRF_K = 60
MAX_ROWS = 50
MAX_ANSWER_BYTES = 4 * 1024 * 1024


def _hit(d: dict[str, Any], identifier: str, where: str, url: str) -> dict[str, Any]:
    org = d.get("organization") or {}
    return {
        "identifier": identifier,
        "name": d.get("name"),
        "title": d.get("title") or d.get("name"),
        "notes": (d.get("notes") or "")[:500],
        "publisher": org.get("title") or org.get("name") if isinstance(org, dict) else None,
        "access_level": d.get("access_level") or ("private" if d.get("private") else "open"),
        "metadata_modified": d.get("metadata_modified"),
        "url": url,
        "found_in": [where],
    }


def _local(ctx: Ctx, q: str, rows: int) -> list[dict[str, Any]]:
    found = catalog_search.search_datasets(ctx.session, ctx.actor, q=q, rows=rows)
    dicts = catalog.dataset_dicts(ctx, found["ids"])
    ids = [d["id"] for d in dicts]
    identifiers = dict(ctx.session.execute(
        select(HarvestRecordRow.dataset_id, HarvestRecordRow.identifier)
        .where(HarvestRecordRow.dataset_id.in_(ids), HarvestRecordRow.state == "active")
    ).all()) if ids else {}
    out = []
    for d in dicts:
        own = f"{ctx.site_url}/dataset/{d['id']}"
        out.append(_hit(d, identifiers.get(d["id"], own), "index",
                        f"{ctx.site_url}/dataset/{d['name']}"))
    return out


async def _ask(client: httpx.AsyncClient, platform: Platform, node: FederationNode, q: str,
               rows: int, timeout: httpx.Timeout) -> list[dict[str, Any]]:
    me = nodes.identity(platform.settings)
    query = urlencode({"q": q, "rows": rows})
    url = f"{node.url}/api/3/action/package_search?{query}"
    headers = signing.sign_headers(me.key, sender=me.name, target=node.name, method="GET",
                                   url=url)
    body = bytearray()
    async with client.stream("GET", url, headers=headers, timeout=timeout) as response:
        if response.status_code >= 400:
            raise RuntimeError(f"HTTP {response.status_code}")
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                raise RuntimeError("answer too large")
    try:
        data = json.loads(bytes(body))
        results = data["result"]["results"]
        assert isinstance(results, list)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise RuntimeError("not a CKAN package_search answer") from None
    out = []
    for d in results[:rows]:
        if not isinstance(d, dict) or not d.get("id") or d.get("private"):
            continue
        out.append(_hit(d, f"{node.url}/dataset/{d['id']}", node.name,
                        f"{node.url}/dataset/{d.get('name') or d['id']}"))
    return out


_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary())


def _client() -> httpx.AsyncClient:
    """The pooled client of the running event loop, so connections to the nodes are kept
    between searches (a client belongs to one loop; it goes when its loop goes)."""
    loop = asyncio.get_running_loop()
    client = _CLIENTS.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(follow_redirects=False, trust_env=False,
                                   limits=httpx.Limits(max_keepalive_connections=50))
        _CLIENTS[loop] = client
    return client


async def _timed(client: httpx.AsyncClient, platform: Platform, node: FederationNode, q: str,
                 rows: int, timeout: httpx.Timeout) -> tuple[list[dict[str, Any]], int]:
    t0 = time.monotonic()
    hits = await _ask(client, platform, node, q, rows, timeout)
    return hits, int((time.monotonic() - t0) * 1000)


def _merge(lists: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            score = 1.0 / (RRF_K + rank)
            seen = merged.get(hit["identifier"])
            if seen is None:
                merged[hit["identifier"]] = {**hit, "score": score}
            else:
                seen["score"] += score
                seen["found_in"] = [*seen["found_in"], *hit["found_in"]]
                if hit["found_in"] != ["index"]:  # the owner's own, live answer wins
                    for key in ("title", "notes", "metadata_modified", "url", "name"):
                        seen[key] = hit[key]
    ranked = sorted(merged.values(), key=lambda h: (-h["score"], h["title"] or ""))
    for hit in ranked:
        hit["score"] = round(hit["score"], 6)
    return ranked


async def federated_search(platform: Platform, ctx_factory: Any, q: str, *, rows: int = 20,
                           deadline: float | None = None) -> dict[str, Any]:
    """Search the index and every member node; answer within ``deadline`` seconds."""
    if not isinstance(q, str) or len(q) > 500:
        raise ValidationError("q: at most 500 characters", fields={"q": ["Too long"]})
    if not 1 <= rows <= MAX_ROWS:
        raise ValidationError(f"rows must be between 1 and {MAX_ROWS}",
                              fields={"rows": ["Out of range"]})
    budget = deadline if deadline is not None else (
        platform.settings.federation_search_deadline_seconds)
    started = time.monotonic()

    def local() -> tuple[list[dict[str, Any]], list[FederationNode]]:
        with ctx_factory() as ctx:
            members = [n for n in nodes.list_nodes(ctx.session, "member")
                       if n.status == "active" and n.url]
            for n in members:
                ctx.session.expunge(n)
            return _local(ctx, q, rows), members

    index_hits, members = await run_in_threadpool(local)
    statuses: list[dict[str, Any]] = []
    lists = [index_hits]
    if members:
        nodes.identity(platform.settings)  # a clear error when this node cannot sign
        remaining = max(0.05, budget - (time.monotonic() - started))
        timeout = httpx.Timeout(remaining, connect=min(remaining, 5.0))
        client = _client()
        tasks = {asyncio.create_task(_timed(client, platform, n, q, rows, timeout)): n
                 for n in members}
        asked = time.monotonic()
        done, pending = await asyncio.wait(tasks, timeout=remaining)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        took = int((time.monotonic() - asked) * 1000)
        for task, node in tasks.items():
            entry: dict[str, Any] = {"name": node.name, "url": node.url}
            if task in pending:
                entry.update(status="timeout", ms=int(remaining * 1000), count=0,
                             error=f"no answer within {int(remaining * 1000)} ms")
            elif task.exception() is not None:
                exc = task.exception()
                reason = str(exc) if isinstance(exc, RuntimeError) else type(exc).__name__
                entry.update(status="error", ms=took, count=0, error=reason)
            else:
                hits, ms = task.result()
                lists.append(hits)
                entry.update(status="ok", ms=ms, count=len(hits), error=None)
            statuses.append(entry)
    merged = _merge(lists)[:rows]
    return {
        "q": q,
        "count": len(merged),
        "results": merged,
        "index": {"count": len(index_hits)},
        "nodes": sorted(statuses, key=lambda s: s["name"]),
        "deadline_ms": int(budget * 1000),
        "took_ms": int((time.monotonic() - started) * 1000),
    }
