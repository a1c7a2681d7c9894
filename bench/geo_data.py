"""Synthetic London layers for the geospatial benchmark, and the requests made of them.

Points: a CSV with latitude/longitude columns (the commonest shape of open point data), spread
over Greater London's box with denser clusters in the centre. Polygons: a GeoJSON file of small
building-sized squares. Query boxes are borough-sized (about 6 x 6 km), tiles are z14 tiles over
London, and nearest queries start from random London points — all from a fixed seed.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

#: Greater London's bounding box (lon/lat), a little generous.
WEST, SOUTH, EAST, NORTH = -0.51, 51.28, 0.33, 51.69
CATEGORIES = ("charger", "bench", "tree", "bin", "lamp", "sign", "bike-rack")


def _positions(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two thirds uniform over London, one third clustered around central London."""
    uniform = n * 2 // 3
    lon = np.concatenate([rng.uniform(WEST, EAST, uniform),
                          np.clip(rng.normal(-0.11, 0.06, n - uniform), WEST, EAST)])
    lat = np.concatenate([rng.uniform(SOUTH, NORTH, uniform),
                          np.clip(rng.normal(51.51, 0.035, n - uniform), SOUTH, NORTH)])
    return lon, lat


def write_points(path: Path, n: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    lon, lat = _positions(n, rng)
    cats = rng.integers(0, len(CATEGORIES), n)
    values = rng.integers(0, 1000, n)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["asset_id", "category", "value", "latitude", "longitude"])
        for i in range(n):
            w.writerow([f"A{i:07d}", CATEGORIES[cats[i]], int(values[i]),
                        f"{lat[i]:.6f}", f"{lon[i]:.6f}"])
    return path.stat().st_size


def write_polygons(path: Path, n: int, seed: int) -> int:
    rng = np.random.default_rng(seed + 1)
    lon, lat = _positions(n, rng)
    half = rng.uniform(0.0002, 0.0008, n)  # 15-60 m squares
    with path.open("w") as fh:
        fh.write('{"type":"FeatureCollection","features":[')
        for i in range(n):
            x, y, h = float(lon[i]), float(lat[i]), float(half[i])
            ring = [[x - h, y - h], [x + h, y - h], [x + h, y + h], [x - h, y + h], [x - h, y - h]]
            feature = {"type": "Feature", "properties": {"building_id": f"B{i:06d}",
                                                         "storeys": int(1 + i % 12)},
                       "geometry": {"type": "Polygon", "coordinates": [ring]}}
            fh.write(("," if i else "") + json.dumps(feature, separators=(",", ":")))
        fh.write("]}")
    return path.stat().st_size


def borough_boxes(count: int, seed: int) -> list[tuple[float, float, float, float]]:
    """Boxes of about 6 x 6 km (a small borough) inside London."""
    rng = np.random.default_rng(seed + 2)
    w, h = 0.087, 0.054
    out = []
    for _ in range(count):
        x = float(rng.uniform(WEST, EAST - w))
        y = float(rng.uniform(SOUTH, NORTH - h))
        out.append((round(x, 5), round(y, 5), round(x + w, 5), round(y + h, 5)))
    return out


def near_points(count: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed + 3)
    return [(round(float(rng.uniform(WEST, EAST)), 5), round(float(rng.uniform(SOUTH, NORTH)), 5))
            for _ in range(count)]


def z14_tiles(count: int, seed: int) -> list[tuple[int, int, int]]:
    """(z, x, y) of z14 tiles over central and inner London (where the data is dense)."""
    rng = np.random.default_rng(seed + 4)
    out = []
    for _ in range(count):
        lon = float(rng.uniform(-0.25, 0.05))
        lat = float(rng.uniform(51.45, 51.57))
        n = 2 ** 14
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        out.append((14, x, y))
    return out
