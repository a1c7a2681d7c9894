"""Reader tests need only settings; storage tests use the shared ``platform`` fixture
(SQLite and PostgreSQL) from ``tests/conftest.py``. The spatial fixtures publish small London
layers through the real publish path, on both backends (the feature store is PostGIS on
PostgreSQL and an R*Tree file on SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Camden libraries (real places, rounded), with a date and a number to filter on.
LIBRARIES = [
    ("Kentish Town", -0.1413, 51.5506, "2019-03-01", 12),
    ("Camden Town", -0.1426, 51.5390, "2020-07-15", 30),
    ("Swiss Cottage", -0.1749, 51.5434, "2021-01-10", 45),
    ("Holborn", -0.1200, 51.5177, "2018-11-20", 8),
    ("Queen's Crescent", -0.1540, 51.5500, "2022-05-05", 5),
]
#: A self-intersecting "bow tie" and a normal park polygon.
PARKS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": "Primrose Hill", "hectares": 25.0},
     "geometry": {"type": "Polygon", "coordinates": [[[-0.165, 51.537], [-0.155, 51.537],
                                                      [-0.155, 51.542], [-0.165, 51.542],
                                                      [-0.165, 51.537]]]}},
    {"type": "Feature", "properties": {"name": "Bow tie", "hectares": 1.0},
     "geometry": {"type": "Polygon", "coordinates": [[[-0.13, 51.53], [-0.12, 51.54],
                                                      [-0.12, 51.53], [-0.13, 51.54],
                                                      [-0.13, 51.53]]]}},
    {"type": "Feature", "properties": {"name": "No geometry", "hectares": None},
     "geometry": None},
]}


def libraries_geojson() -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature",
         "properties": {"name": n, "opened": d, "desks": k, "kind": "library"},
         "geometry": {"type": "Point", "coordinates": [lon, lat]}}
        for n, lon, lat, d, k in LIBRARIES]}


@pytest.fixture
def spatial(make_ctx, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Publishes libraries (GeoJSON points), parks (polygons, one invalid, one empty) and a
    CSV of chargers with easting/northing; returns their collection ids."""
    from citydata.access.actors import Actor
    from citydata.catalog.organizations import create_organization
    from citydata.catalog.publish import publish_file

    libs = tmp_path / "libraries.geojson"
    libs.write_text(json.dumps(libraries_geojson()))
    parks = tmp_path / "parks.geojson"
    parks.write_text(json.dumps(PARKS))
    chargers = tmp_path / "chargers.csv"
    # British National Grid: Trafalgar Square and King's Cross.
    chargers.write_text("site,easting,northing,kw\nTrafalgar Square,530034,180381,50\n"
                        "King's Cross,530268,183136,150\n")
    with make_ctx() as ctx:
        create_organization(ctx.session, Actor.system(), {"name": "camden", "title": "Camden"})
        publish_file(ctx, libs, org="camden", title="Camden libraries",
                     dataset_name="camden-libraries")
        publish_file(ctx, parks, org="camden", title="Camden parks", dataset_name="camden-parks")
        publish_file(ctx, chargers, org="camden", title="Chargers", dataset_name="chargers")
    return {"libraries": "camden-libraries", "parks": "camden-parks", "chargers": "chargers"}
