"""Finding applications: one filter language for the API, the pages and the exports.

Filters (all optional, combined with AND; lists are comma-separated and combined with OR):
``lpa`` (feed slug or GSS code), ``ward``, ``status``, ``decision``, ``type``
(application type), ``postcode`` (a full postcode or its outward code), ``received_from`` /
``received_to`` / ``decided_from`` / ``decided_to`` (YYYY-MM-DD, inclusive), ``min_units`` /
``max_units`` (proposed residential units), ``bbox`` (lon,lat,lon,lat in WGS 84),
``intersects`` (a WKT polygon in WGS 84: the application's centre must be inside), ``q``
(words that must all appear in the description, the address or the reference).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shapely import wkt as shapely_wkt
from shapely.errors import ShapelyError
from shapely.geometry import Point
from shapely.prepared import prep
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from citydata.errors import ValidationError, field_error
from citydata.geo import crs
from citydata.services.planning.harmonise import CODES
from citydata.services.planning.ingest import STORED
from citydata.storage.models_planning import PlanningApplication as A

FILTERS = (
    "lpa", "ward", "status", "decision", "type", "postcode", "received_from", "received_to",
    "decided_from", "decided_to", "min_units", "max_units", "bbox", "intersects", "q",
)  # fmt: skip
#: Applications without the date come last either way, on both backends.
SORTS = {
    "received_date": (A.received_date.asc().nulls_last(), A.id.asc()),
    "-received_date": (A.received_date.desc().nulls_last(), A.id.desc()),
    "decision_date": (A.decision_date.asc().nulls_last(), A.id.asc()),
    "-decision_date": (A.decision_date.desc().nulls_last(), A.id.desc()),
    "id": (A.id.asc(),),
}
MAX_LIMIT = 1000
#: A polygon filter tests centres in Python after the bounding box: at most this many.
POLYGON_SCAN = 200_000
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass
class Filter:
    where: list[ColumnElement[bool]] = field(default_factory=list)
    polygon: Any = None
    echo: dict[str, str] = field(default_factory=dict)


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _codes(name: str, field_name: str, value: str) -> list[str]:
    values = _list(value)
    allowed = CODES[field_name]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise field_error(name, f"unknown value {bad[0]!r}; one of: {', '.join(allowed)}")
    return values


def _date(name: str, value: str) -> str:
    if not _DATE.fullmatch(value):
        raise field_error(name, "a date as YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise field_error(name, f"{value} is not a calendar date") from None
    return value


def _int(name: str, value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,6}", value):
        raise field_error(name, "a whole number from 0 to 999999")
    return int(value)


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """A ``bbox`` in WGS 84 longitude/latitude, checked like the OGC API's."""
    return crs.parse_bbox(value, crs.SUPPORTED[crs.CRS84])


def parse_filters(params: Mapping[str, str]) -> Filter:
    f = Filter()
    for name in FILTERS:
        raw = params.get(name)
        if raw is None or str(raw).strip() == "":
            continue
        value = str(raw).strip()
        if len(value) > 20_000:
            raise field_error(name, "too long")
        f.echo[name] = value
        if name == "lpa":
            wanted = [v.lower() for v in _list(value)]
            f.where.append(or_(func.lower(A.feed).in_(wanted), func.lower(A.lpa_code).in_(wanted)))
        elif name == "ward":
            f.where.append(A.ward.in_(_list(value)))
        elif name in ("status", "decision"):
            f.where.append(getattr(A, name).in_(_codes(name, name, value)))
        elif name == "type":
            f.where.append(A.application_type.in_(_codes(name, "application_type", value)))
        elif name == "postcode":
            pc = re.sub(r"\s+", " ", value.upper())
            f.where.append(A.postcode == pc if " " in pc else A.postcode.like(f"{pc} %"))
        elif name in ("received_from", "received_to", "decided_from", "decided_to"):
            column = A.received_date if name.startswith("received") else A.decision_date
            day = _date(name, value)
            f.where.append(column >= day if name.endswith("from") else column <= day)
        elif name in ("min_units", "max_units"):
            count = _int(name, value)
            units = A.proposed_residential_units
            f.where.append(units >= count if name == "min_units" else units <= count)
        elif name == "bbox":
            w, s, e, n = parse_bbox(value)
            f.where.append(and_(A.lon >= w, A.lon <= e, A.lat >= s, A.lat <= n))
        elif name == "intersects":
            try:
                polygon = shapely_wkt.loads(value)
            except (ShapelyError, ValueError):
                raise field_error(name, "a WKT POLYGON or MULTIPOLYGON in WGS 84") from None
            if polygon.geom_type not in ("Polygon", "MultiPolygon") or not polygon.is_valid:
                raise field_error(name, "a valid WKT POLYGON or MULTIPOLYGON in WGS 84")
            w, s, e, n = polygon.bounds
            f.where.append(and_(A.lon >= w, A.lon <= e, A.lat >= s, A.lat <= n))
            f.polygon = prep(polygon)
        elif name == "q":
            for word in value.split()[:10]:
                like = f"%{_escape(word)}%"
                f.where.append(or_(A.description.ilike(like, escape="\\"),
                                   A.street_name.ilike(like, escape="\\"),
                                   A.lpa_app_no.ilike(like, escape="\\")))
    return f


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def record(row: Any) -> dict[str, Any]:
    """An application as the API gives it: the standard's fields, then ours."""
    out = {name: getattr(row, name) for name in STORED}
    out["decision_published"] = row.decision_published
    return out


def search(session: Session, f: Filter, *, sort: str = "-received_date", limit: int = 50,
           offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    if sort not in SORTS:
        raise field_error("sort", f"one of {', '.join(SORTS)}")
    if not 0 <= limit <= MAX_LIMIT:
        raise field_error("limit", f"from 0 to {MAX_LIMIT}")
    if offset < 0:
        raise field_error("offset", "0 or more")
    stmt = select(A).where(*f.where)
    if f.polygon is None:
        total = session.scalar(select(func.count()).select_from(A).where(*f.where)) or 0
        rows = session.scalars(stmt.order_by(*SORTS[sort]).offset(offset).limit(limit))
        return total, [record(r) for r in rows]
    matched = [r for r in session.scalars(stmt.order_by(*SORTS[sort]).limit(POLYGON_SCAN))
               if r.lon is not None and f.polygon.contains(Point(r.lon, r.lat))]
    return len(matched), [record(r) for r in matched[offset:offset + limit]]


def iterate(session: Session, f: Filter, *, sort: str = "-received_date",
            cap: int = 1_000_000) -> Iterator[dict[str, Any]]:
    """Every matching application, in batches (exports)."""
    if sort not in SORTS:
        raise field_error("sort", f"one of {', '.join(SORTS)}")
    stmt = select(A).where(*f.where).order_by(*SORTS[sort]).limit(cap)
    for r in session.execute(stmt.execution_options(yield_per=2000)).scalars():
        if f.polygon is not None and (r.lon is None or not f.polygon.contains(
                Point(r.lon, r.lat))):
            continue
        yield record(r)


def get(session: Session, app_id: str) -> dict[str, Any]:
    row = session.get(A, app_id)
    if row is None:
        from citydata.errors import NotFound

        raise NotFound(f"No planning application {app_id!r}")
    return record(row)


def check_params(params: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValidationError(f"Unknown parameter {unknown[0]!r}",
                              fields={unknown[0]: ["not a parameter of this endpoint"]})
