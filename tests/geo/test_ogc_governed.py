"""Governed data through the OGC API: the same policy path, conditions and audit as the rows
API — a restricted spatial table is unlisted and refused without an agreement, and under one
its hidden columns are absent from features, queryables, filters and tiles."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mapbox_vector_tile
from sqlalchemy import select

from citydata.access.actors import Actor
from citydata.storage.models_access import AuditEntry
from tests.access.conftest import Governed, governed  # noqa: F401

HOMES = "care-homes"
PURPOSE = {"X-Citydata-Purpose": "service-planning"}


def publish_homes(g: Governed, tmp_path: Path) -> None:
    from citydata.catalog.publish import publish_file

    path = tmp_path / "care-homes.csv"
    path.write_text("home,latitude,longitude,residents,manager_phone\n"
                    "Rosewood,51.5450,-0.1420,40,020 7946 0001\n"
                    "Elm Court,51.5480,-0.1500,25,020 7946 0002\n"
                    "Highgate Lodge,51.5700,-0.1460,60,020 7946 0003\n")
    with g.make_ctx() as ctx:
        ds, _ = publish_file(ctx.with_actor(Actor.system()), path, org="camden",
                             title="Care homes", dataset_name=HOMES,
                             metadata={"access_level": "restricted",
                                       "restriction_reason": "personal-data",
                                       "discovery": "schema"})
    g.datasets["homes"] = ds


def auth(g: Governed, who: str, **headers: str) -> dict[str, str]:
    return {"Authorization": g.tokens[who], **headers}


def test_restricted_collection_needs_an_agreement(client, governed, tmp_path):  # noqa: F811
    publish_homes(governed, tmp_path)
    listed = client.get("/ogc/collections").json()["collections"]
    assert HOMES not in {c["id"] for c in listed}
    r = client.get(f"/ogc/collections/{HOMES}/items")  # anonymous: sign in first
    assert r.status_code == 401 and set(r.json()) == {"code", "type", "description", "status"}
    assert r.json()["code"] == "NotAuthenticated"
    r = client.get(f"/ogc/collections/{HOMES}/items", headers=auth(governed, "hackney-analyst"))
    assert r.status_code == 403 and "agreement" in r.json()["description"].lower()
    tile = client.get(f"/ogc/collections/{HOMES}/tiles/WebMercatorQuad/10/340/511",
                      headers=auth(governed, "hackney-analyst"))
    assert tile.status_code == 403
    # The publisher's own members read it (and are audited).
    own = client.get(f"/ogc/collections/{HOMES}/items", headers=auth(governed, "camden-editor"))
    assert own.status_code == 200 and own.json()["numberMatched"] == 3


def test_agreement_columns_apply_to_features_filters_and_tiles(client, governed,  # noqa: F811
                                                              tmp_path):
    publish_homes(governed, tmp_path)
    governed.grant(level="homes", conditions={"columns": ["home", "residents", "latitude",
                                                          "longitude"]})
    who = auth(governed, "hackney-analyst", **PURPOSE)
    ids = {c["id"] for c in client.get("/ogc/collections", headers=who).json()["collections"]}
    assert HOMES in ids
    doc = client.get(f"/ogc/collections/{HOMES}/items", params={"bbox": "-0.16,51.54,-0.14,51.55"},
                     headers=who).json()
    assert [f["properties"] for f in doc["features"]] == [
        {"home": "Rosewood", "latitude": 51.545, "longitude": -0.142, "residents": 40},
        {"home": "Elm Court", "latitude": 51.548, "longitude": -0.15, "residents": 25}]
    queryables = client.get(f"/ogc/collections/{HOMES}/queryables", headers=who).json()
    assert "manager_phone" not in queryables["properties"]
    for params in ({"manager_phone": "020 7946 0001"},
                   {"filter": "manager_phone LIKE '020%'"}, {"sortby": "manager_phone"},
                   {"properties": "manager_phone"}):
        bad = client.get(f"/ogc/collections/{HOMES}/items", params=params, headers=who)
        assert bad.status_code == 400, params
    near = client.get(f"/ogc/collections/{HOMES}/items", params={"near": "-0.146,51.57",
                                                                "limit": 1}, headers=who)
    assert near.json()["features"][0]["properties"]["home"] == "Highgate Lodge"
    one = client.get(f"/ogc/collections/{HOMES}/items/0", headers=who).json()
    assert "manager_phone" not in one["properties"]
    n = 2 ** 10
    x = int((-0.142 + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(51.545))) / math.pi) / 2 * n)
    tile = client.get(f"/ogc/collections/{HOMES}/tiles/WebMercatorQuad/10/{y}/{x}", headers=who)
    assert tile.headers["cache-control"] == "private, no-store"
    features = mapbox_vector_tile.decode(tile.content)[HOMES]["features"]
    assert len(features) == 3
    assert all("manager_phone" not in f["properties"] for f in features)
    # Every page read was audited with what was returned.
    with governed.make_ctx() as ctx:
        entries = ctx.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "data.read", AuditEntry.actor_name == "hackney-analyst")
            .order_by(AuditEntry.seq)).all()
    details = [json.loads(e.detail) for e in entries]
    assert [d.get("rows") for d in details[:2]] == [2, 1]
    assert any(d.get("tile") == f"10/{y}/{x}" for d in details)
    assert all(e.purpose == "service-planning" for e in entries)
