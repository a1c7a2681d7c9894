"""Rendering the demo feeds' applications as source records, through each authority's feed
configuration (:func:`~citydata.services.planning.mappings.feed_config`) and its system's
vocabulary, and injecting the real-world messiness its ``quirks`` list (:data:`QUIRK_RATES`).

docs/planning-feeds.md has the messiness catalogue.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any
from urllib.parse import quote

from citydata.services.planning.demo_simulation import Application, Site, State
from citydata.services.planning.demo_vocabulary import (
    UPPER_CASE_SHAPES,
    URLS,
    filler,
    salesforce_id,
    vocabulary,
)
from citydata.services.planning.mappings import Authority, feed_config

#: Every problem the generator can inject (the ``quirks`` of authorities.json), with its rate
#: per row; an authority that lists a problem gets at least one of it.
QUIRK_RATES: dict[str, float] = {
    "impossible_dates": 0.003, "other_date_format": 0.01, "decision_before_received": 0.003,
    "free_text_status": 0.01, "unmapped_status": 0.003, "truncated_postcodes": 0.004,
    "unformatted_postcodes": 0.01, "non_london_postcodes": 0.002, "unparseable_geometry": 0.003,
    "bow_tie_polygons": 0.003, "swapped_coordinates": 0.003, "far_outside": 0.002,
    "mangled_uprns": 0.02, "units_as_text": 0.01, "negative_units": 0.004,
    "html_entities": 0.01, "stray_whitespace": 0.02, "exact_duplicates": 0.005,
    "conflicting_duplicates": 0.002, "missing_reference": 0.002,
}
#: Mapped free-text statuses (by whether the application is decided) and deliberately
#: unmapped ones, which the pipeline's issue log should show.
FREE_TEXT_STATUSES = {"decided": ("ALL DECISIONS ISSUED", "Decision Issued"),
                      "undecided": ("Awaiting Decision",)}
UNMAPPED_STATUSES = {"decided": ("Decision Issued - see file",),
                     "undecided": ("PENDING CONSIDERATION - SEE NOTES",)}
#: Real, well-formed postcodes outside London (applicants' and agents' addresses end up here).
NON_LONDON_POSTCODES = ("AL1 3JE", "GU1 3AA", "SL4 1NJ", "ME14 1XQ", "RG1 1AF", "CB2 1TN",
                        "OX1 1DP", "BN1 1GE", "M1 1AE", "B1 1BB")
IMPOSSIBLE_YEARS = (9187, 2109, 3021, 2201, 1019)
_DATE_TARGETS = ("received_date", "valid_date", "decision_date")
_GEOMETRY_TARGETS = ("geometry_wkt", "geometry_geojson", "easting", "latitude")
_QUIRK_NEEDS: dict[str, tuple[str, ...]] = {
    "decision_before_received": ("decision_date",), "mangled_uprns": ("uprn",),
    "unparseable_geometry": ("geometry_wkt", "geometry_geojson"),
    "bow_tie_polygons": ("geometry_wkt", "geometry_geojson"),
    "swapped_coordinates": _GEOMETRY_TARGETS, "far_outside": _GEOMETRY_TARGETS,
    "units_as_text": ("proposed_residential_units",),
    "negative_units": ("proposed_residential_units",),
    "truncated_postcodes": ("postcode", "address"),
    "unformatted_postcodes": ("postcode", "address"),
    "non_london_postcodes": ("postcode", "address"),
}


# --- rendering ---------------------------------------------------------------------------

_A, _E2 = 6378137.0, 0.00669438


def _lonlat_ring(site: Site) -> list[tuple[float, float]]:
    """The site's corners in WGS 84, by the ellipsoid's local scale at its postcode (grid
    convergence is ignored: under a metre within a site's few tens of metres)."""
    place = site.place
    phi = math.radians(place.lat)
    w = 1 - _E2 * math.sin(phi) ** 2
    per_lon = math.radians(1) * _A * math.cos(phi) / math.sqrt(w)
    per_lat = math.radians(1) * _A * (1 - _E2) / (w * math.sqrt(w))
    lon, lat, e, n = place.lon, place.lat, place.easting, place.northing
    return [(lon + (x - e) / per_lon, lat + (y - n) / per_lat) for x, y in site.ring]


class FeedRenderer:
    """Renders applications as source records through one authority's feed configuration."""

    def __init__(self, authority: Authority) -> None:
        cfg = feed_config(authority)
        self.authority, self.config = authority, cfg
        self.columns = [(col, target, col.split(".")) for col, target in cfg["columns"].items()]
        self.targets = {t for _, t, _ in self.columns}
        self.is_json = cfg["format"] != "csv"
        self.date_formats: list[str] = cfg["dates"]
        self.datetime_format: str = cfg["datetimes"][0]
        self.bng = cfg.get("crs", "EPSG:4326") == "EPSG:27700"
        self.words = vocabulary(authority)
        self.status_target = "status_text" if "status_text" in self.targets else "status"
        self.decision_column = bool({"decision", "decision_text"} & self.targets)
        self.appeal_columns = "appeal_status" in self.targets
        self.null_tokens = [t for t in cfg.get("nulls", []) if t]
        self.upper = authority.shape in UPPER_CASE_SHAPES
        self.groups = {path[0] for _, _, path in self.columns if len(path) > 1}
        self.polygon_targets = bool({"geometry_wkt", "geometry_geojson"} & self.targets)
        self.point_targets = bool({"easting", "latitude"} & self.targets)
        self._dates: dict[date, str] = {}
        self.zoned = "%z" in self.datetime_format
        impossible = [q for q in authority.quirks if not self.can_show(q)]
        if impossible:
            raise ValueError(f"{authority.slug}: quirks its feed cannot show: {impossible}")

    def can_show(self, quirk: str) -> bool:
        """Whether this feed has the columns (or date formats) to show ``quirk``."""
        if quirk not in QUIRK_RATES:
            return False
        if quirk == "other_date_format":
            return len(self.date_formats) > 1
        needs = _QUIRK_NEEDS.get(quirk)
        return not needs or bool(set(needs) & self.targets)

    def word(self, target: str, key: str | None, app: Application) -> str | None:
        if key is None:
            return None
        options = self.words[target][key]
        return options[app.number % len(options)]  # stable per application

    def status_key(self, st: State) -> str:
        if st.status == "decided" and not self.decision_column:
            return f"decided:{st.decision}"
        if st.status == "appealed":
            tail = "" if self.appeal_columns or st.appeal_decision is None else (
                f":{st.appeal_decision}")
            return f"appealed:{st.appeal_status}{tail}"
        return st.status

    def date(self, day: date | None, fmt: str | None = None) -> str | None:
        if day is None:
            return None
        if fmt:
            return day.strftime(fmt)
        text = self._dates.get(day)
        if text is None:
            text = self._dates[day] = day.strftime(self.date_formats[0])
        return text

    def values(self, app: Application, st: State) -> dict[str, Any]:
        """The application's values by target, as the source writes them."""
        site, t = app.site, self.targets
        shown = app.development_type.upper() if self.upper else app.development_type
        vals: dict[str, Any] = {
            "lpa_app_no": app.ref, "ward": site.place.ward_gss, "description": app.description,
            "uprn": None if site.uprn is None else str(site.uprn), "site_name": site.name,
            "street_name": site.street, "postcode": site.place.postcode,
            "development_type": shown,
            "application_type": self.word("application_type", app.kind, app),
            "received_date": self.date(st.received), "valid_date": self.date(st.valid),
            "decision_date": self.date(st.decided),
            "proposed_residential_units": app.proposed_units,
            "existing_residential_units": app.existing_units, "site_area_ha": site.area_ha,
            "last_updated": self.timestamp(st.last_updated),
        }
        key = self.status_key(st) if self.status_target == "status_text" else st.status
        vals[self.status_target] = self.word(self.status_target, key, app)
        for target in ("decision", "decision_text"):
            if target in t:
                vals[target] = self.word(target, st.decision, app)
        vals["decision_agency"] = self.word("decision_agency", st.agency, app)
        if "appeal_status" in t:
            vals["appeal_status"] = self.word("appeal_status", st.appeal_status, app)
            vals["appeal_decision"] = self.word("appeal_decision", st.appeal_decision, app)
        if "address" in t:
            vals["address"] = self.address(app, site.place.postcode)
        if "url" in t:
            vals["url"] = URLS[self.authority.shape].format(
                slug=self.authority.slug, ref=app.ref, ref_q=quote(app.ref, safe=""),
                number=app.number, sfid=salesforce_id(app.number))
        if site.drawn is None:
            site.drawn = self.geometry(site)
        vals.update(site.drawn)
        return vals

    def timestamp(self, at: datetime) -> str:
        if self.zoned:
            at = at.replace(tzinfo=UTC)
        return at.strftime(self.datetime_format)

    def address(self, app: Application, postcode: str) -> str:
        name = app.site.name
        sep = " " if name[:1].isdigit() else ", "
        return f"{name}{sep}{app.site.street}, London, {postcode}"

    def geometry(self, site: Site, quirk: str | None = None, rng: Random | None = None
                 ) -> dict[str, Any]:
        ring = site.ring if self.bng else _lonlat_ring(site)
        if quirk == "bow_tie_polygons":
            ring = [ring[0], ring[2], ring[1], ring[3]]
        elif quirk == "swapped_coordinates":
            ring = [(y, x) for x, y in ring]
        elif quirk == "far_outside" and rng is not None:
            cx, cy = sum(x for x, _ in ring) / 4, sum(y for _, y in ring) / 4
            dx, dy = (-cx, -cy) if rng.random() < 0.5 else (
                (0, 300_000) if self.bng else (0, 2.6))  # "null island" or far north
            ring = [(x + dx, y + dy) for x, y in ring]
        out: dict[str, Any] = {}
        if self.polygon_targets:
            digits = 2 if self.bng else 7
            closed = [(round(x, digits), round(y, digits)) for x, y in ring]
            closed.append(closed[0])
            if "geometry_wkt" in self.targets:
                wkt = "POLYGON ((" + ", ".join([f"{x} {y}" for x, y in closed]) + "))"
                cut = quirk == "unparseable_geometry"
                out["geometry_wkt"] = wkt[: len(wkt) * 2 // 3] if cut else wkt
            if "geometry_geojson" in self.targets:
                coords = [[x, y] for x, y in closed]
                if quirk == "unparseable_geometry":
                    coords = coords[:2]  # a ring needs four positions
                out["geometry_geojson"] = {"type": "Polygon", "coordinates": [coords]}
        if self.point_targets:
            cx, cy = sum(x for x, _ in ring) / 4, sum(y for _, y in ring) / 4
            out["easting"], out["northing"] = round(cx), round(cy)
            out["longitude"], out["latitude"] = round(cx, 6), round(cy, 6)
        return out

    def inject(self, quirk: str, app: Application, st: State, vals: dict[str, Any],
               rng: Random) -> bool:
        """Make one row show ``quirk``; False if this row cannot (it waits for the next)."""
        t, decided = self.targets, st.status == "decided"
        if quirk in ("impossible_dates", "other_date_format"):
            target = rng.choice([d for d in _DATE_TARGETS if d in t and vals.get(d)])
            day = {"received_date": st.received, "valid_date": st.valid,
                   "decision_date": st.decided}[target]
            assert day is not None
            if quirk == "impossible_dates":
                bad = day.replace(year=rng.choice(IMPOSSIBLE_YEARS), day=min(day.day, 28))
                vals[target] = self.date(bad)
            else:
                vals[target] = self.date(day, self.date_formats[1])
        elif quirk == "decision_before_received":
            if not st.decided:
                return False
            vals["decision_date"] = self.date(st.received - timedelta(days=rng.randint(3, 400)))
        elif quirk in ("free_text_status", "unmapped_status"):
            if st.status not in ("validated", "under_consideration", "decided"):
                return False
            table = FREE_TEXT_STATUSES if quirk == "free_text_status" else UNMAPPED_STATUSES
            vals[self.status_target] = rng.choice(table["decided" if decided else "undecided"])
        elif quirk.endswith("_postcodes"):
            pc = app.site.place.postcode
            wrong = {"truncated_postcodes": pc[:-2], "unformatted_postcodes":
                     pc.lower().replace(" ", ""), "non_london_postcodes":
                     rng.choice(NON_LONDON_POSTCODES)}[quirk]
            vals["postcode"] = wrong
            if "address" in t:
                vals["address"] = self.address(app, wrong)
        elif quirk in ("unparseable_geometry", "bow_tie_polygons", "swapped_coordinates",
                       "far_outside"):
            vals.update(self.geometry(app.site, quirk, rng))
        elif quirk == "mangled_uprns":
            if app.site.uprn is None:
                return False
            u = app.site.uprn
            vals["uprn"] = f"{u:.5E}" if rng.random() < 0.6 else (
                float(u) if self.is_json else f"{u}.0")
        elif quirk in ("units_as_text", "negative_units"):
            units = app.proposed_units
            if not units:
                return False
            vals["proposed_residential_units"] = -units if quirk == "negative_units" else (
                f"{units} {rng.choice(('units', 'flats', 'dwellings'))}")
        elif quirk == "html_entities":
            if " and " not in app.description:
                return False
            vals["description"] = app.description.replace(" and ", " &amp; ", 1)
        elif quirk == "stray_whitespace":
            d = app.description
            vals["description"] = rng.choice(
                (f"  {d}", f"{d}   ", d.replace(" ", "  ", 1), f"{d}\n", f"\t{d} "))
        elif quirk == "missing_reference":
            vals["lpa_app_no"] = None
        return True

    def record(self, vals: dict[str, Any], app: Application, rng: Random) -> dict[str, Any]:
        """One source record: nested dicts for JSON feeds, column → text for CSV."""
        if self.is_json:
            out: dict[str, Any] = {}
            for col, target, path in self.columns:
                value = filler(col, app) if target == "ignore" else vals.get(target)
                node = out
                for part in path[:-1]:
                    node = node.setdefault(part, {})
                node[path[-1]] = value
            for group in self.groups:
                if all(v is None for v in out[group].values()):
                    out[group] = None
            return out
        return dict(zip(self.config["columns"], self.row(vals, app, rng), strict=True))

    def row(self, vals: dict[str, Any], app: Application, rng: Random) -> list[Any]:
        """A CSV record as the list of its cells, in column order."""
        null = rng.choice(self.null_tokens) if self.null_tokens and rng.random() < 0.3 else ""
        cells = []
        get = vals.get
        for col, target, _ in self.columns:
            value = filler(col, app) if target == "ignore" else get(target)
            cells.append(null if value is None else value if type(value) is str else str(value))
        return cells
