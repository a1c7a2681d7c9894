"""Real resource files for the demo, built from the reference data (no network).

``ReferenceData`` reads each source once, lazily: a demo run that only needs boundaries
never opens the postcode zip.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from citydata.demo.spec import GeneratedFile
from citydata.geo.london import BOROUGHS
from citydata.geo.reference import iter_lsoas, iter_postcodes, read_boroughs
from citydata.settings import Settings


class ReferenceData:
    """The reference sources, read on first use and kept for the rest of the run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def boroughs(self) -> dict[str, dict[str, Any]]:
        return {b["gss_code"]: b for b in read_boroughs(self.settings)}

    @cached_property
    def lsoas(self) -> dict[str, list[dict[str, Any]]]:
        """Borough GSS → its LSOAs, in code order."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for lsoa in iter_lsoas(self.settings):
            grouped[lsoa["borough_gss"]].append(lsoa)
        return {g: sorted(v, key=lambda x: x["code"]) for g, v in grouped.items()}

    @cached_property
    def wards(self) -> dict[str, dict[str, list[float]]]:
        """Borough GSS → ward GSS → [postcode count, sum of lat, sum of lon]."""
        stats: dict[str, dict[str, list[float]]] = defaultdict(dict)
        for pc in iter_postcodes(self.settings, london_only=True):
            ward = stats[pc["district_gss"]].setdefault(pc["ward_gss"], [0, 0.0, 0.0])
            ward[0] += 1
            ward[1] += pc["lat"]
            ward[2] += pc["lon"]
        return stats

    @cached_property
    def postcode_counts(self) -> Counter[str]:
        return Counter(
            {g: int(sum(w[0] for w in wards.values())) for g, wards in self.wards.items()}
        )


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _geojson(features: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {"type": "FeatureCollection", "features": features}, separators=(",", ":")
    ).encode("utf-8")


def _borough_feature(b: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": b["gss_code"],
        "properties": {"gss_code": b["gss_code"], "name": b["name"]},
        "geometry": b["geometry"],
    }


def _lsoa_feature(x: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": x["code"],
        "properties": {"code": x["code"], "name": x["name"], "borough_gss": x["borough_gss"]},
        "geometry": x["geometry"],
    }


def _borough(gss: str | None) -> str:
    if gss is None:
        raise ValueError("this generator makes a file for one borough; give its GSS code")
    return gss


LSOA_HEADER = ["lsoa_code", "lsoa_name", "borough_gss", "borough_name", "lat", "lon"]


def _lsoa_row(x: dict[str, Any]) -> list[Any]:
    return [x["code"], x["name"], x["borough_gss"], BOROUGHS[x["borough_gss"]], x["lat"], x["lon"]]


def borough_boundary(ref: ReferenceData, gss: str | None) -> bytes:
    gss = _borough(gss)
    return _geojson([_borough_feature(ref.boroughs[gss])])


def borough_lsoas_csv(ref: ReferenceData, gss: str | None) -> bytes:
    gss = _borough(gss)
    return _csv(LSOA_HEADER, [_lsoa_row(x) for x in ref.lsoas[gss]])


def borough_lsoas_geojson(ref: ReferenceData, gss: str | None) -> bytes:
    gss = _borough(gss)
    return _geojson([_lsoa_feature(x) for x in ref.lsoas[gss]])


def borough_postcodes_by_ward(ref: ReferenceData, gss: str | None) -> bytes:
    gss = _borough(gss)
    rows = [
        [gss, ward, int(n), round(lat / n, 6), round(lon / n, 6)]
        for ward, (n, lat, lon) in sorted(ref.wards.get(gss, {}).items())
    ]
    return _csv(["borough_gss", "ward_gss", "postcodes", "mean_lat", "mean_lon"], rows)


def london_boroughs_geojson(ref: ReferenceData, gss: str | None) -> bytes:
    return _geojson([_borough_feature(b) for b in ref.boroughs.values()])


def london_boroughs_summary(ref: ReferenceData, gss: str | None) -> bytes:
    header = ["gss_code", "name", "west", "south", "east", "north", "lsoas", "postcodes"]
    rows = [
        [
            g,
            b["name"],
            *(round(b[k], 6) for k in ("west", "south", "east", "north")),
            len(ref.lsoas.get(g, [])),
            ref.postcode_counts.get(g, 0),
        ]
        for g, b in ref.boroughs.items()
    ]
    return _csv(header, rows)


def lsoa_borough_lookup(ref: ReferenceData, gss: str | None) -> bytes:
    rows = [_lsoa_row(x) for g in BOROUGHS for x in ref.lsoas.get(g, [])]
    return _csv(LSOA_HEADER, rows)


def london_lsoas_geojson(ref: ReferenceData, gss: str | None) -> bytes:
    return _geojson([_lsoa_feature(x) for g in BOROUGHS for x in ref.lsoas.get(g, [])])


def postcodes_per_borough(ref: ReferenceData, gss: str | None) -> bytes:
    rows = [[g, name, ref.postcode_counts.get(g, 0)] for g, name in BOROUGHS.items()]
    return _csv(["gss_code", "name", "postcodes"], rows)


CARE_SUPPORT = (("Home care", 4, 28, 22.5), ("Day opportunities", 6, 30, 14.0),
                ("Supported living", 20, 60, 19.0), ("Direct payment", 2, 20, 18.0),
                ("Residential care", 168, 168, 6.8), ("Nursing care", 168, 168, 8.4))
AGE_BANDS = ("18-64", "65-74", "75-84", "85+")


def care_packages(ref: ReferenceData, gss: str | None) -> bytes:
    """Made-up adult social care packages across the borough's real wards, for the governed
    sharing demo (restricted, special category data). Deterministic for a borough."""
    import random

    gss = _borough(gss)
    rng = random.Random(f"care-packages:{gss}")
    wards = sorted(ref.wards.get(gss, {})) or [gss]
    rows = []
    for n in range(1, 721):
        support, lo, hi, rate = CARE_SUPPORT[min(int(rng.expovariate(0.6)), 5)]
        hours = rng.randint(lo, hi)
        age = AGE_BANDS[min(int(rng.triangular(0, 4, 2.6)), 3)]
        start = f"{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        rows.append([f"ASC-{n:06d}", rng.choice(wards), age, support, hours,
                     round(hours * rate * rng.uniform(0.9, 1.1), 2), start,
                     rng.choice(("in-house", "framework provider", "spot purchase"))])
    header = ["package_ref", "ward_gss", "age_band", "support_type", "weekly_hours",
              "weekly_cost_gbp", "start_date", "provision"]
    return _csv(header, rows)


SERVICE_PAGES = {
    "report-fly-tipping": ("Report fly-tipping", "report-fly-tipping"),
    "missed-bin-collection": ("Report a missed bin collection", "bins/missed-collection"),
    "report-pothole": ("Report a pothole", "roads/report-a-pothole"),
    "pay-council-tax": ("Pay your council tax", "council-tax/pay"),
    "parking-permit": ("Apply for a parking permit", "parking/permits"),
    "planning-applications": ("Search and comment on planning applications", "planning"),
    "noise-complaint": ("Report a noise problem", "environment/noise"),
    "report-street-light": ("Report a broken street light", "roads/street-lighting"),
    "bulky-waste-collection": ("Book a bulky waste collection", "bins/bulky-waste"),
}


def council_services(ref: ReferenceData, gss: str | None) -> bytes:
    """The council service directory: each council's page for each everyday service, on the
    council's real domain (the paths are plausible, never fetched)."""
    from citydata.demo.publishers import COUNCILS

    rows = [[code, service, title, f"https://www.{domain}/{path}"]
            for code, (_, domain) in COUNCILS.items()
            for service, (title, path) in SERVICE_PAGES.items()]
    return _csv(["borough_gss", "service", "title", "url"], rows)


GENERATORS: dict[str, Callable[[ReferenceData, str | None], bytes]] = {
    "council_services": council_services,
    "care_packages": care_packages,
    "borough_boundary": borough_boundary,
    "borough_lsoas_csv": borough_lsoas_csv,
    "borough_lsoas_geojson": borough_lsoas_geojson,
    "borough_postcodes_by_ward": borough_postcodes_by_ward,
    "london_boroughs_geojson": london_boroughs_geojson,
    "london_boroughs_summary": london_boroughs_summary,
    "lsoa_borough_lookup": lsoa_borough_lookup,
    "london_lsoas_geojson": london_lsoas_geojson,
    "postcodes_per_borough": postcodes_per_borough,
}


def render(ref: ReferenceData, item: GeneratedFile) -> bytes:
    """The content of one generated file."""
    return GENERATORS[item.generator](ref, item.gss_code)


def write(ref: ReferenceData, item: GeneratedFile, directory: Path) -> Path:
    """Write one generated file into ``directory`` and return its path."""
    path = directory / item.filename
    path.write_bytes(render(ref, item))
    return path
