"""pygeoapi, the reference Python OGC API – Features server, as the geospatial peer.

Installed at bench time into its own venv (``make bench`` does it: its pins differ from ours)
and served like citydata: its Starlette app under uvicorn, one worker, on loopback. It serves
the *same* points: from a PostGIS table with a GiST index (its PostgreSQL provider) in the
PostgreSQL run, and from a GeoJSON file (its GeoJSON provider) in the SQLite run — the
providers the issue names; pygeoapi's SQLite provider needs SpatiaLite, which this Python's
sqlite3 cannot load.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import create_engine, text

from bench.servers import HOST, free_port, run_server

VENV = Path(os.environ.get("CITYDATA_PYGEOAPI_VENV", Path(__file__).resolve().parents[1]
                           / ".venv-pygeoapi"))
PYTHON = VENV / "bin" / "python"
COLLECTION = "points"


def available() -> bool:
    return PYTHON.exists()


def load_postgis(pg_url: str, schema: str, points_csv: Path) -> None:
    """The benchmark's points as a plain PostGIS table, the way pygeoapi expects them."""
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE TABLE "{schema}".peer_points (id integer PRIMARY KEY, '
                          "asset_id text, category text, value integer, "
                          "geom geometry(Point, 4326))"))
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(
                f'COPY "{schema}".peer_points (id, asset_id, category, value, geom) '
                "FROM STDIN") as copy, points_csv.open() as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                copy.write_row((i, row["asset_id"], row["category"], int(row["value"]),
                                f"SRID=4326;POINT({row['longitude']} {row['latitude']})"))
        conn.execute(text(f'CREATE INDEX ON "{schema}".peer_points USING gist (geom)'))
        conn.execute(text(f'ANALYZE "{schema}".peer_points'))
    engine.dispose()


def write_geojson(points_csv: Path, out: Path) -> None:
    with points_csv.open() as fh, out.open("w") as dst:
        dst.write('{"type":"FeatureCollection","features":[')
        for i, row in enumerate(csv.DictReader(fh)):
            dst.write(("," if i else "") + json.dumps({
                "type": "Feature", "id": i,
                "properties": {"asset_id": row["asset_id"], "category": row["category"],
                               "value": int(row["value"])},
                "geometry": {"type": "Point", "coordinates": [float(row["longitude"]),
                                                              float(row["latitude"])]}},
                separators=(",", ":")))
        dst.write("]}")


def _config(port: int, provider: dict) -> str:
    import yaml  # pyyaml comes with our dev tools (datasette)

    return yaml.safe_dump({
        "server": {"bind": {"host": HOST, "port": port}, "url": f"http://{HOST}:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8",
                   "language": "en-US", "limits": {"default_items": 10, "max_items": 10000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                           "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "peer", "description": "peer",
                                        "keywords": ["bench"], "keywords_type": "theme",
                                        "terms_of_service": "", "url": "http://example.org"},
                     "license": {"name": "OGL", "url": "http://example.org"},
                     "provider": {"name": "bench", "url": "http://example.org"},
                     "contact": {"name": "bench"}},
        "resources": {COLLECTION: {
            "type": "collection", "title": "Points", "description": "Benchmark points",
            "keywords": ["points"], "links": [],
            "extents": {"spatial": {"bbox": [-0.51, 51.28, 0.33, 51.69],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [provider]}},
    })


def postgis_provider(pg_url: str, schema: str) -> dict:
    u = urlparse(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    return {"type": "feature", "name": "PostgreSQL", "id_field": "id", "table": "peer_points",
            "geom_field": "geom",
            "data": {"host": u.hostname or HOST, "port": u.port or 5432,
                     "dbname": (u.path or "/test").lstrip("/"), "user": u.username or "postgres",
                     "password": u.password or "", "search_path": [schema, "public"]}}


def geojson_provider(path: Path) -> dict:
    return {"type": "feature", "name": "GeoJSON", "data": str(path), "id_field": "id"}


@contextmanager
def pygeoapi_server(provider: dict, work: Path) -> Iterator[str]:
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    config = work / "pygeoapi-config.yml"
    config.write_text(_config(port, provider))
    openapi = work / "pygeoapi-openapi.yml"
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run([str(VENV / "bin" / "pygeoapi"), "openapi", "generate", str(config),
                    "--output-file", str(openapi)], env=env, check=True, capture_output=True)
    log = work / "pygeoapi.log"
    cmd = [str(PYTHON), "-m", "uvicorn", "pygeoapi.starlette_app:APP", "--host", HOST,
           "--port", str(port), "--log-level", "warning", "--no-access-log"]
    base = f"http://{HOST}:{port}"
    with run_server(cmd, f"{base}/collections/{COLLECTION}?f=json", log, timeout=120, env=env):
        yield base


if __name__ == "__main__":  # pragma: no cover - a manual check
    print("pygeoapi venv:", VENV, "present" if available() else "missing", file=sys.stderr)
