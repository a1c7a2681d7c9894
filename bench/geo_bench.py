"""Geospatial benchmark: OGC API – Features over 1 M points and 100 k polygons, both backends.

    python -m bench.geo_bench                 # 1,000,000 points, 100,000 polygons
    python -m bench.geo_bench --quick         # 100,000 points, 10,000 polygons, short phases
    python -m bench.geo_bench --backends sqlite --points 200000

Publishes a CSV of points (latitude/longitude) and a GeoJSON file of polygons through the real
publish path (ingest, then the feature store: an R*Tree file on SQLite, a PostGIS table on
PostgreSQL), serves them with the real app under uvicorn on loopback, and times
``items?bbox`` (borough-sized box, limit 100), ``items?near`` (k = 10) and a z14 vector tile,
one request at a time (tiles both the first time each is asked for and again, from the
server's tile cache), then ``items?bbox`` under 16 concurrent clients. The peer, in the same
run on the same points: pygeoapi 0.21 (its PostgreSQL provider over a PostGIS table with a
GiST index; its GeoJSON provider in the SQLite run), same query, same server (uvicorn, one
worker). Prints a table and writes JSON + Markdown to ``bench/results/``. Nothing asserts a
timing; targets are reported as met or MISSED.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import geo_data, geo_peer
from bench.console import parse_backends, pg_base_url, print_table
from bench.load import pg_create_schema, pg_drop_schema, pg_schema_name, pg_schema_url
from bench.machine import machine_info
from bench.measure import http_latency, http_throughput
from bench.servers import citydata_server

RESULTS = Path(__file__).parent / "results"
TARGETS = {"bbox_p95_ms": 50.0, "near_p95_ms": 30.0, "tile_p95_ms": 50.0, "peer_ratio": 5.0}
POINTS, POLYGONS = "bench-points", "bench-polygons"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.geo_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--polygons", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=300, help="timed requests per query kind")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of the throughput run")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--quick", action="store_true", help="100 k points, short phases")
    p.add_argument("--no-peer", action="store_true", help="skip pygeoapi")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.backends = parse_backends(p, args.backends)
    if args.quick:
        args.points, args.polygons = min(args.points, 100_000), min(args.polygons, 10_000)
        args.requests, args.duration = min(args.requests, 100), min(args.duration, 5.0)
    return args


def log(msg: str) -> None:
    print(f"[geo-bench {datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def publish(url: str, home: Path, points: Path, polygons: Path) -> dict[str, float]:
    """Publish both layers through the real path; seconds each (ingest + spatial index)."""
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx
    from citydata.catalog.organizations import create_organization
    from citydata.catalog.publish import publish_file
    from citydata.platform import Platform
    from citydata.settings import Settings
    from citydata.storage.migrate import upgrade

    platform = Platform(Settings(env="dev", home=home, database_url=url, postcodes="none"))
    try:
        upgrade(platform.db)
        took = {}
        with platform.db.session() as s:
            create_organization(s, Actor.system(), {"name": "bench", "title": "Bench"})
        for path, name in ((points, POINTS), (polygons, POLYGONS)):
            t0 = time.perf_counter()
            with platform.db.session() as s:
                ctx = Ctx(s, Actor.system(), platform.settings, platform.files)
                publish_file(ctx, path, org="bench", title=name, dataset_name=name)
            took[name] = round(time.perf_counter() - t0, 2)
        return took
    finally:
        platform.close()


def paths(args: argparse.Namespace) -> dict[str, list[str]]:
    boxes = geo_data.borough_boxes(50, args.seed)
    return {
        "bbox": [f"/ogc/collections/{POINTS}/items?bbox={','.join(map(str, b))}&limit=100"
                 for b in boxes],
        "bbox_polygons": [f"/ogc/collections/{POLYGONS}/items?bbox={','.join(map(str, b))}"
                          "&limit=100" for b in boxes],
        "near": [f"/ogc/collections/{POINTS}/items?near={x},{y}&limit=10"
                 for x, y in geo_data.near_points(50, args.seed)],
        "tile": [f"/ogc/collections/{POINTS}/tiles/WebMercatorQuad/{z}/{y}/{x}"
                 for z, x, y in geo_data.z14_tiles(50, args.seed)],
        "tile_polygons": [f"/ogc/collections/{POLYGONS}/tiles/WebMercatorQuad/{z}/{y}/{x}"
                          for z, x, y in geo_data.z14_tiles(50, args.seed)],
    }


def _returned(resp: Any) -> bool:
    body = resp.json()
    return body.get("numberReturned", 0) > 0


def measure_ours(base: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # Tiles first, each asked for once: what a tile costs the first time (the server keeps
    # encoded tiles of a snapshot in memory; the repeated runs below measure those).
    for kind in ("tile", "tile_polygons"):
        layer = POINTS if kind == "tile" else POLYGONS
        cold = [f"/ogc/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}"
                for z, x, y in geo_data.z14_tiles(args.requests + 50, args.seed + 100)]
        cold = list(dict.fromkeys(cold))  # distinct tiles only
        lat = http_latency(base, cold, n=len(cold), warmup=0, budget_s=120)
        out[f"{kind}_cold"] = lat.as_dict()
        log(f"  {kind} (first request of {lat.n} distinct tiles): p50 {lat.p50_ms:.1f} ms, "
            f"p95 {lat.p95_ms:.1f} ms")
    for kind, ps in paths(args).items():
        check = _returned if kind in ("bbox", "near") else None
        lat = http_latency(base, ps, n=args.requests, warmup=10, budget_s=120, check=check)
        out[kind] = lat.as_dict()
        log(f"  {kind}: p50 {lat.p50_ms:.1f} ms, p95 {lat.p95_ms:.1f} ms ({lat.n} requests)")
    out["bbox_throughput"] = http_throughput(base, paths(args)["bbox"],
                                             concurrency=args.concurrency,
                                             duration_s=args.duration)
    log(f"  bbox under {args.concurrency} clients: {out['bbox_throughput']['rps']} req/s")
    return out


def measure_peer(provider: dict, work: Path, args: argparse.Namespace,
                 budget_s: float) -> dict[str, Any]:
    boxes = geo_data.borough_boxes(50, args.seed)
    ps = [f"/collections/{geo_peer.COLLECTION}/items?bbox={','.join(map(str, b))}&limit=100"
          "&f=json" for b in boxes]
    with geo_peer.pygeoapi_server(provider, work) as base:
        lat = http_latency(base, ps, n=args.requests, warmup=3, budget_s=budget_s,
                           check=_returned)
        log(f"  pygeoapi bbox: p50 {lat.p50_ms:.1f} ms, p95 {lat.p95_ms:.1f} ms ({lat.n})")
        rps = http_throughput(base, ps, concurrency=args.concurrency,
                              duration_s=max(args.duration, budget_s / 4))
        log(f"  pygeoapi bbox under {args.concurrency} clients: {rps['rps']} req/s")
    return {"bbox": lat.as_dict(), "bbox_throughput": rps,
            "provider": provider["name"]}


def run_backend(backend: str, url: str, work: Path, files: dict[str, Path],
                args: argparse.Namespace, pg: tuple[str, str] | None) -> dict[str, Any]:
    home = work / f"home-{backend}"
    log(f"{backend}: publishing {args.points:,} points and {args.polygons:,} polygons")
    out: dict[str, Any] = {"publish_seconds": publish(url, home, files["points"],
                                                      files["polygons"])}
    log(f"{backend}: published in {out['publish_seconds']}")
    with citydata_server(url, home) as base:
        out["ours"] = measure_ours(base, args)
    if not args.no_peer and geo_peer.available():
        if backend == "postgresql" and pg is not None:
            log("postgresql: pygeoapi's PostgreSQL provider over the same points in PostGIS")
            geo_peer.load_postgis(url, pg[1], files["points"])
            provider = geo_peer.postgis_provider(pg[0], pg[1])
            out["peer"] = measure_peer(provider, work / "peer-pg", args, budget_s=120)
        elif backend == "sqlite":
            log("sqlite: pygeoapi's GeoJSON provider over the same points")
            geojson = work / "points.geojson"
            if not geojson.exists():
                geo_peer.write_geojson(files["points"], geojson)
            out["peer"] = measure_peer(geo_peer.geojson_provider(geojson), work / "peer-json",
                                       args, budget_s=60)
    return out


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for backend, b in result["backends"].items():
        o = b["ours"]
        peer = b.get("peer")
        for kind, target in (("bbox", "bbox_p95_ms"), ("near", "near_p95_ms"),
                             ("tile_cold", "tile_p95_ms"), ("tile", None),
                             ("bbox_polygons", None), ("tile_polygons_cold", None),
                             ("tile_polygons", None)):
            if kind not in o:
                continue
            lat = o[kind]
            limit = TARGETS.get(target or "")
            verdict = "" if limit is None else ("met" if lat["p95_ms"] < limit else "MISSED")
            peer_cell = ""
            if kind == "bbox" and peer:
                peer_cell = f"{peer['bbox']['p95_ms']:.1f}"
            out.append([backend, LABELS.get(kind, kind), f"{lat['p50_ms']:.1f}",
                        f"{lat['p95_ms']:.1f}",
                        f"< {limit:g}" if limit else "", verdict, peer_cell, str(lat["errors"])])
        tp = o["bbox_throughput"]
        ratio = ""
        verdict = ""
        peer_rps = ""
        if peer:
            peer_rps = f"{peer['bbox_throughput']['rps']:.1f}"
            if peer["bbox_throughput"]["rps"]:
                r = tp["rps"] / peer["bbox_throughput"]["rps"]
                ratio = f"{r:.1f}x"
                verdict = "met" if r >= TARGETS["peer_ratio"] else "MISSED"
            else:  # not one peer request finished inside the window
                ratio, verdict = "pygeoapi finished 0 requests in the window:", "met"
        out.append([backend, f"bbox rps, {tp['concurrency']} clients", f"{tp['rps']:.1f} rps",
                    f"p95 {tp['p95_ms']:.1f}", f">= {TARGETS['peer_ratio']:g}x pygeoapi",
                    f"{ratio} {verdict}".strip(), f"{peer_rps} rps" if peer_rps else "",
                    str(tp["errors"])])
    return out


LABELS = {"bbox": "items?bbox, points", "near": "items?near (k=10), points",
          "tile_cold": "z14 tile, points, first request", "tile": "z14 tile, points, cached",
          "bbox_polygons": "items?bbox, polygons",
          "tile_polygons_cold": "z14 tile, polygons, first request",
          "tile_polygons": "z14 tile, polygons, cached"}
HEADERS = ["backend", "query", "p50 ms", "p95 ms", "target", "verdict", "pygeoapi p95 ms",
           "errors"]


def markdown(result: dict[str, Any]) -> str:
    c = result["config"]
    lines = [f"# Geospatial benchmark — {result['started'][:10]}", "",
             f"{c['points']:,} points (CSV, latitude/longitude) and {c['polygons']:,} polygons "
             f"(GeoJSON) over London; {c['requests']} timed requests per query, "
             f"{c['concurrency']} clients for {c['duration']:g} s in the throughput run. "
             f"Machine: {result['machine'].get('nproc')} CPUs. Peer: pygeoapi "
             f"{result.get('peer_version', '?')} (PostgreSQL provider on PostGIS in the "
             "PostgreSQL run, GeoJSON provider in the SQLite run), same points, same query, "
             "uvicorn with one worker like ours.", "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(result)]
    lines += ["", "Publish (ingest + spatial index) seconds: " + "; ".join(
        f"{b}: {v['publish_seconds']}" for b, v in result["backends"].items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    pg_base = pg_base_url()
    work = Path(tempfile.mkdtemp(prefix="citydata-geobench-"))
    result: dict[str, Any] = {
        "benchmark": "geo", "started": started.isoformat(timespec="seconds"),
        "config": {k: getattr(args, k) for k in ("points", "polygons", "requests", "duration",
                                                 "concurrency", "seed", "quick", "backends")},
        "targets": TARGETS, "backends": {},
    }
    schema = None
    try:
        result["machine"] = machine_info(pg_base if "postgresql" in args.backends else None)
        if geo_peer.available():
            import subprocess
            result["peer_version"] = subprocess.run(
                [str(geo_peer.PYTHON), "-c", "import pygeoapi; print(pygeoapi.__version__)"],
                capture_output=True, text=True).stdout.strip()
        log(f"writing {args.points:,} points and {args.polygons:,} polygons")
        files = {"points": work / "points.csv", "polygons": work / "polygons.geojson"}
        geo_data.write_points(files["points"], args.points, args.seed)
        geo_data.write_polygons(files["polygons"], args.polygons, args.seed)
        if "sqlite" in args.backends:
            result["backends"]["sqlite"] = run_backend(
                "sqlite", f"sqlite:///{work / 'home-sqlite' / 'citydata.db'}", work, files,
                args, None)
        if "postgresql" in args.backends:
            schema = pg_schema_name()
            pg_create_schema(pg_base, schema)
            url = pg_schema_url(pg_base, schema)
            result["backends"]["postgresql"] = run_backend("postgresql", url, work, files,
                                                           args, (pg_base, schema))
    finally:
        if schema:
            pg_drop_schema(pg_base, schema)
        shutil.rmtree(work, ignore_errors=True)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.output.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y-%m-%d")
    (args.output / f"geo-{stamp}.json").write_text(json.dumps(result, indent=2))
    (args.output / "latest-geo.md").write_text(markdown(result))
    print_table(f"citydata geospatial benchmark — {args.points:,} points, "
                f"{args.polygons:,} polygons", HEADERS, rows(result))
    log(f"wrote {args.output / f'geo-{stamp}.json'} and {args.output / 'latest-geo.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
