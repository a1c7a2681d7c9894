"""Answers by place: which borough, LSOA and point a postcode or a coordinate is in.

Framework-free; reads only the reference tables (``citydata demo`` / ``load_reference`` fill
them from the packages that ship the data), never the network.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

from pyproj import Transformer
from shapely.geometry import Point, shape
from shapely.prepared import PreparedGeometry, prep
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citydata.errors import NotFound, ValidationError, field_error
from citydata.geo.postcodes import normalise_postcode
from citydata.geo.reference import borough_for_point, geocode_postcode
from citydata.storage.models import Organization, RefLsoa, RefPostcode

ATTRIBUTION = ("Contains OS data © Crown copyright and database right; Royal Mail data © Royal "
               "Mail copyright and database right; National Statistics data © Crown copyright "
               "and database right. Open Government Licence v3.0.")


@lru_cache(maxsize=1)
def wgs84_to_bng() -> Transformer:
    return Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


@lru_cache(maxsize=2048)
def _lsoa_shape(geometry_json: str) -> PreparedGeometry:
    return prep(shape(json.loads(geometry_json)))


def lsoa_for_point(session: Session, borough_gss: str, lon: float, lat: float) -> RefLsoa | None:
    """The LSOA of the borough that covers the point. The LSOAs whose centres are nearest are
    tried first, so usually only one or two polygons are parsed."""
    point = Point(lon, lat)
    scale = math.cos(math.radians(lat))
    candidates = sorted(
        session.scalars(select(RefLsoa).where(RefLsoa.borough_gss == borough_gss)).all(),
        key=lambda x: ((x.lon - lon) * scale) ** 2 + (x.lat - lat) ** 2)
    for lsoa in candidates:
        if _lsoa_shape(lsoa.geometry).covers(point):
            return lsoa
    return None


def _number(value: object, field: str, lo: float, hi: float) -> float:
    try:
        number = float(str(value))
    except ValueError:
        raise field_error(field, "Must be a number in degrees") from None
    if not math.isfinite(number) or not lo <= number <= hi:
        raise field_error(field, f"Must be between {lo:g} and {hi:g}")
    return number


def lookup(session: Session, *, postcode: str | None = None, lat: object = None,
           lon: object = None) -> dict[str, Any]:
    """Borough (with its council's publisher), LSOA and point for a postcode or a WGS84 point."""
    given_point = lat not in (None, "") or lon not in (None, "")
    if bool(postcode) == given_point:
        raise ValidationError("Give either postcode, or lat and lon",
                              fields={"postcode": ["Give a postcode or a point, not both"]})
    found_postcode: str | None = None
    if postcode:
        normalised = normalise_postcode(postcode)
        if normalised is None:
            raise field_error("postcode", f"{postcode[:20]!r} is not a UK postcode")
        row = geocode_postcode(session, normalised)
        if row is None:
            loaded = session.scalar(select(func.count()).select_from(RefPostcode)) or 0
            why = "" if loaded else " (no postcodes are loaded: see CITYDATA_POSTCODES)"
            raise NotFound(f"Postcode {normalised} is not in the gazetteer{why}")
        found_postcode, y, x = row.postcode, row.lat, row.lon
        easting, northing = row.easting, row.northing
    else:
        if lat in (None, "") or lon in (None, ""):
            raise ValidationError("Give both lat and lon", fields={
                "lat" if lat in (None, "") else "lon": ["Missing value"]})
        y, x = _number(lat, "lat", -90, 90), _number(lon, "lon", -180, 180)
        e, n = wgs84_to_bng().transform(x, y)
        easting, northing = round(e), round(n)
    borough = borough_for_point(session, x, y)
    if borough is None:
        raise NotFound("That place is not in a London borough")
    lsoa = lsoa_for_point(session, borough.gss_code, x, y)
    council = session.scalar(select(Organization).where(
        Organization.gss_code == borough.gss_code, Organization.state == "active"))
    return {
        "postcode": found_postcode,
        "point": {"lat": y, "lon": x, "easting": easting, "northing": northing},
        "borough": {"gss_code": borough.gss_code, "name": borough.name,
                    "publisher": {"name": council.name, "title": council.title}
                    if council else None},
        "lsoa": {"code": lsoa.code, "name": lsoa.name} if lsoa else None,
        "attribution": ATTRIBUTION,
    }


SERVICE_STANDARD = "council-services"


def council_services(ctx: Any, borough_gss: str) -> list[dict[str, Any]]:
    """Every service page for a borough, from the catalog's datasets that follow the
    ``council-services`` standard (any publisher may keep one). Each table is read through the
    access policy like any other read, so only directories the reader may use count."""
    from citydata.access.policy import visible_datasets_clause
    from citydata.datastore.query import Filter, RowQuery, open_snapshot, run_page
    from citydata.errors import CitydataError
    from citydata.storage.models import Dataset

    datasets = ctx.session.scalars(
        select(Dataset).where(Dataset.conforms_to.like(f"{SERVICE_STANDARD}@%"),
                              visible_datasets_clause(ctx.actor, include_private=True))
        .order_by(Dataset.name)).all()
    found: dict[str, dict[str, Any]] = {}
    for ds in datasets:
        for r in ds.resources:
            try:
                snap = open_snapshot(ctx, r.id)
                page = run_page(snap, RowQuery(filters=[Filter("borough_gss", "exact",
                                                               borough_gss)], limit=200),
                                include_total=False)
            except CitydataError:
                continue  # not a table, or not for this reader
            names = [c.name for c in page.columns]
            for row in page.rows:
                item = dict(zip(names, row, strict=True))
                service = str(item.get("service") or "")
                if service and service not in found:  # the first directory that says wins
                    found[service] = {"service": service, "title": item.get("title") or service,
                                      "url": item.get("url") or "", "dataset": ds.name}
    return sorted(found.values(), key=lambda s: str(s["title"]))
