"""Normalise, map and harmonise one feed row into the London planning application standard.

The steps of planning.data.gov.uk's pipeline that work on a row, compiled once per feed from
its configuration (``feeds/``: columns, date formats, value rules — data, not code):

* **normalise** — strip and collapse whitespace, decode HTML entities, read the feed's
  "no value" tokens (``n/a``, ``-``) as empty;
* **map** — source column → standard field (or a pseudo-field such as ``status_text`` or
  ``address`` that explicit rules turn into fields);
* **harmonise** — parse dates with the feed's own formats only, map free-text values through
  the value rules, check postcodes against the gazetteer, parse and reproject geometries,
  check they fall in the authority.

Harmonise never guesses. A value no rule covers is left out and flagged in the issue log with
the source value (a *warning*: the row is stored, the stored value of that field stays as it
was). A row that cannot be identified is quarantined (an *error*: nothing of it is stored).
Each value that was rewritten keeps its source value in :attr:`Harmonised.original`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from pyproj import Transformer
from shapely import wkt as shapely_wkt
from shapely.errors import ShapelyError
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry

from citydata.geo.postcodes import normalise_postcode
from citydata.services.planning.standard import (
    APPEAL_DECISIONS,
    APPEAL_STATUSES,
    APPLICATION_TYPES,
    DECISION_AGENCIES,
    DECISIONS,
    STATUSES,
)

#: Fields with a controlled list, and the list.
CODES: dict[str, dict[str, str]] = {
    "application_type": APPLICATION_TYPES,
    "status": STATUSES,
    "decision": DECISIONS,
    "decision_agency": DECISION_AGENCIES,
    "appeal_status": APPEAL_STATUSES,
    "appeal_decision": APPEAL_DECISIONS,
}
DATE_FIELDS = ("received_date", "valid_date", "decision_date")
COUNT_FIELDS = ("proposed_residential_units", "existing_residential_units")
TEXT_LIMITS = {
    "lpa_app_no": 120, "ward": 120, "site_name": 300, "street_name": 300,
    "development_type": 120, "description": 20_000, "url": 1000,
}  # fmt: skip
#: Targets a feed's columns may map to besides the standard's own fields.
PSEUDO_TARGETS = (
    "status_text", "decision_text", "address", "easting", "northing", "longitude", "latitude",
    "geometry_wkt", "geometry_geojson", "ignore",
)  # fmt: skip
MAPPABLE = (
    *TEXT_LIMITS, "uprn", "postcode", *CODES, *DATE_FIELDS, *COUNT_FIELDS, "site_area_ha",
    "last_updated",
)  # fmt: skip
#: Every issue the pipeline logs, by code, in plain words (pages and the API show them).
ISSUE_CODES: dict[str, str] = {
    "impossible_date": "Impossible date", "bad_date": "Not a date in the feed's format",
    "date_before_received": "Date before the application was received",
    "unmapped_value": "Value no rule maps to a code",
    "unmapped_status": "Status no rule maps to a code", "bad_rule": "Value rule gives no code",
    "conflicting_values": "Conflicting values", "bad_number": "Not a number in range",
    "bad_uprn": "Not a UPRN", "uprn_mangled": "UPRN mangled by a spreadsheet",
    "bad_postcode": "Not a postcode", "unknown_postcode": "Postcode not in London",
    "bad_url": "Not a web address", "too_long": "Too long",
    "bad_geometry": "Unreadable site", "invalid_geometry": "Self-crossing site boundary",
    "outside_authority": "Site outside the authority", "missing_reference": "No reference",
    "bad_reference": "Bad reference", "malformed_row": "Unreadable row",
    "conflicting_duplicate": "Duplicate rows that disagree", "duplicate_row": "Repeated row",
}  # fmt: skip
DEFAULT_NULLS = ("", "n/a", "na", "null", "none", "-", "--", "nil", "not applicable")
#: Dates before the planning system existed, or far in the future, are impossible.
EARLIEST = date(1948, 1, 1)

_WS = re.compile(r"\s+")
_DIGITS = re.compile(r"[0-9]{1,12}")
_FLOAT_SUFFIX = re.compile(r"([0-9]{1,12})\.0+")
_SCIENTIFIC = re.compile(r"[0-9.]+[eE][+-]?[0-9]+")
_INTEGER = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
_TRAILING_POSTCODE = re.compile(r"[,\s]+([A-Za-z]{1,2}[0-9][A-Za-z0-9]?\s*[0-9][A-Za-z]{2})\s*$")
#: An address ending in a postcode's outward code, with or without part of the inward code.
_TRAILING_PARTIAL = re.compile(r",\s*([A-Za-z]{1,2}[0-9][A-Za-z0-9]?(\s+[0-9][A-Za-z]?)?)\s*$")
_REF_SEPARATORS = re.compile(r"[/\\\s]+")


@dataclass(frozen=True)
class Issue:
    field: str
    value: str
    code: str
    message: str
    severity: str = "warning"  # "error": the row is quarantined


@dataclass
class Harmonised:
    #: Standard field → value for what the row says. A field not in here was not given (or
    #: was flagged): the stored value, if any, stays.
    values: dict[str, Any] = field(default_factory=dict)
    #: Field → the source value, for every value that is not the source's text as it came.
    original: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    @property
    def quarantined(self) -> bool:
        return any(i.severity == "error" for i in self.issues)

    def flag(self, field_name: str, value: Any, code: str, message: str) -> None:
        self.issues.append(Issue(field_name, _show(value), code, message))

    def reject(self, field_name: str, value: Any, code: str, message: str) -> None:
        self.issues.append(Issue(field_name, _show(value), code, message, "error"))


@dataclass(frozen=True)
class Authority:
    slug: str
    lpa_code: str
    lpa_name: str
    id_prefix: str


@dataclass
class Gazetteer:
    """What harmonise checks places against: postcodes (→ lon, lat, district) and the
    authority's area. Empty when the reference data is not loaded (shape checks only)."""

    postcodes: Mapping[str, tuple[float, float, str]] = field(default_factory=dict)
    area: PreparedGeometry | None = None


def _show(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:500]


def application_id(prefix: str, reference: str) -> str:
    """``Hackney`` + ``2021/2491`` → ``Hackney-2021_2491``."""
    return f"{prefix}-{_REF_SEPARATORS.sub('_', reference.strip())}"


def value_key(text: str) -> str:
    """How value rules are keyed: lower case, whitespace collapsed."""
    return _WS.sub(" ", text).strip().lower()


_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DIRECTIVES = {"d": r"(?P<d>[0-9]{1,2})", "m": r"(?P<m>[0-9]{1,2})", "Y": r"(?P<Y>[0-9]{4})",
               "H": r"(?P<H>[0-9]{1,2})", "M": r"(?P<M>[0-9]{1,2})", "S": r"(?P<S>[0-9]{1,2})",
               "b": r"(?P<b>[A-Za-z]{3})", "f": r"(?P<f>[0-9]{1,6})"}


@lru_cache(maxsize=64)
def _format_pattern(fmt: str) -> re.Pattern[str] | None:
    """A regular expression for a strptime format made only of the common directives (they
    are read the same way, much faster); None for any other format (strptime reads it)."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            directive = _DIRECTIVES.get(fmt[i + 1])
            if directive is None or directive in out:
                return None
            out.append(directive)
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return re.compile("".join(out))


def _read(text: str, fmt: str) -> datetime | None:
    pattern = _format_pattern(fmt)
    if pattern is None:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            return None
    m = pattern.fullmatch(text)
    if m is None:
        return None
    g = m.groupdict()
    try:
        month = int(g["m"]) if "m" in g else _MONTHS.get(g.get("b", "").lower(), 0)
        return datetime(int(g["Y"]), month, int(g.get("d") or 1), int(g.get("H") or 0),
                        int(g.get("M") or 0), int(g.get("S") or 0),
                        int((g.get("f") or "0").ljust(6, "0")))
    except ValueError:  # 31/02, month 13
        return None


@lru_cache(maxsize=65536)
def _parse_date(text: str, formats: tuple[str, ...]) -> date | None:
    """The first of the feed's formats that reads ``text`` (feeds repeat dates: cached)."""
    for fmt in formats:
        parsed = _read(text, fmt)
        if parsed is not None:
            return parsed.date()
    return None


def _parse_datetime(text: str, formats: tuple[str, ...]) -> datetime | None:
    for fmt in formats:
        parsed = _read(text, fmt)
        if parsed is not None:
            return parsed
    return None


@lru_cache(maxsize=8)
def _to_wgs84(crs: str) -> Transformer | None:
    if crs.upper() in ("EPSG:4326", "WGS84", "CRS84"):
        return None
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def lookup(record: Mapping[str, Any], key: str) -> Any:
    """A record's value at ``key``: the key itself, else a dotted path into nested objects."""
    if key in record:
        return record[key]
    node: Any = record
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


class Harmoniser:
    """One feed's rules, compiled: :meth:`row` turns a source record into a
    :class:`Harmonised`."""

    def __init__(self, authority: Authority, config: Mapping[str, Any],
                 value_rules: Mapping[str, Mapping[str, Any]], gazetteer: Gazetteer | None = None,
                 *, today: date | None = None) -> None:
        self.authority = authority
        self.config = config
        self.columns: dict[str, str] = dict(config.get("columns") or {})
        self.dates = list(config.get("dates") or ["%Y-%m-%d"])
        self.datetimes = list(config.get("datetimes") or ["%Y-%m-%dT%H:%M:%SZ"])
        self.transformer = _to_wgs84(str(config.get("crs") or "EPSG:4326"))
        self.nulls = frozenset(value_key(n) for n in (config.get("nulls") or DEFAULT_NULLS))
        self.longest_null = max(len(n) for n in self.nulls)
        self.date_formats = tuple(self.dates)
        self.datetime_formats = tuple(self.datetimes)
        self.url_template = str(config.get("url_template") or "")
        rules: dict[str, dict[str, Any]] = {}
        for target, mapping in value_rules.items():
            rules[target] = {value_key(k): v for k, v in mapping.items()}
        for target, mapping in (config.get("values") or {}).items():
            rules.setdefault(target, {}).update({value_key(k): v for k, v in mapping.items()})
        self.rules = rules
        self.gazetteer = gazetteer or Gazetteer()
        self.today = today or date.today()
        self.latest = self.today + timedelta(days=366)
        bad = [t for t in self.columns.values() if t not in MAPPABLE and t not in PSEUDO_TARGETS]
        if bad:
            raise ValueError(f"feed {authority.slug}: unknown targets {sorted(set(bad))}")
        self.reference_columns = [c for c, t in self.columns.items() if t == "lpa_app_no"]
        #: (column, target, is a dotted path) for every column read, and each target's reader.
        self.reads = [(c, t, c not in ("",) and "." in c) for c, t in self.columns.items()
                      if t != "ignore"]
        self.handlers = {t: self._handler(t) for _c, t, _d in self.reads}
        if not self.reference_columns:
            raise ValueError(f"feed {authority.slug}: no column maps to lpa_app_no")

    # --- one row ------------------------------------------------------------------------

    def row(self, record: Mapping[str, Any]) -> tuple[str | None, Harmonised]:
        """The application id (None when the row cannot be identified) and what it says."""
        out = Harmonised()
        given: dict[str, Any] = {}
        normalise = self._normalise
        for column, target, dotted in self.reads:
            raw = lookup(record, column) if dotted else record.get(column, _MISSING)
            if raw is _MISSING:
                continue  # a column the feed did not send this time: nothing said
            given[target] = normalise(raw)
        reference = given.get("lpa_app_no")
        if not isinstance(reference, str) or not reference:
            out.reject("lpa_app_no", reference, "missing_reference",
                       "The row has no application reference, so it cannot be identified.")
            return None, out
        if len(reference) > TEXT_LIMITS["lpa_app_no"]:
            out.reject("lpa_app_no", reference, "bad_reference", "The reference is too long.")
            return None, out
        handlers = self.handlers
        for target, value in given.items():
            handler = handlers[target]
            if handler is None:
                continue  # places are read together in _place
            if value is None:
                if target not in ("status_text", "decision_text"):
                    out.values[target] = None
                continue
            handler(out, target, value)
        self._place(out, given)
        self._cross_checks(out)
        if "url" not in out.values and self.url_template and "url" not in given:
            out.values["url"] = self.url_template.format(lpa_app_no=reference)
        return application_id(self.authority.id_prefix, reference), out

    def _normalise(self, raw: Any) -> Any:
        if raw is None:
            return None
        if isinstance(raw, bool):
            return str(raw).lower()
        if isinstance(raw, (int, float, dict, list)):
            return raw
        text = str(raw)
        if "&" in text:
            text = html.unescape(text)
        if "  " in text or "\t" in text or "\n" in text or "\r" in text:
            text = _WS.sub(" ", text)
        text = text.strip()
        if len(text) <= self.longest_null and text.lower() in self.nulls:
            return None
        return text

    # --- fields -------------------------------------------------------------------------

    def _handler(self, target: str) -> Any:
        """What reads a (non-empty) value of ``target``; None for the place pseudo-fields."""
        if target in ("easting", "northing", "longitude", "latitude", "geometry_wkt",
                      "geometry_geojson", "address"):
            return None
        if target in CODES:
            return self._code
        if target in ("status_text", "decision_text"):
            return self._free_text
        if target in DATE_FIELDS:
            return self._date_field
        fixed = {"last_updated": self._datetime, "site_area_ha": self._area,
                 "uprn": self._uprn, "postcode": self._postcode, "url": self._url}
        if target in COUNT_FIELDS:
            return self._count
        return fixed.get(target, self._text)

    def _date_field(self, out: Harmonised, target: str, value: Any) -> None:
        parsed = self._date(out, target, value)
        if parsed is not None:
            out.values[target] = parsed

    def _url(self, out: Harmonised, target: str, value: Any) -> None:
        text = str(value)
        if text.startswith(("http://", "https://")) and len(text) <= 1000:
            out.values["url"] = text
        else:
            out.flag("url", value, "bad_url", "Not an http(s) address.")

    def _text(self, out: Harmonised, target: str, value: Any) -> None:
        text = value if isinstance(value, str) else str(value)
        if len(text) > TEXT_LIMITS.get(target, 1000):
            out.flag(target, value, "too_long", f"Longer than {TEXT_LIMITS[target]} "
                     "characters.")
            return
        out.values[target] = text

    def _rule(self, target: str, value: Any) -> Any:
        return self.rules.get(target, {}).get(value_key(str(value)))

    def _code(self, out: Harmonised, target: str, value: Any) -> None:
        codes = CODES[target]
        text = str(value)
        if text in codes:
            out.values[target] = text
            return
        rule = self._rule(target, text)
        if rule is None:
            out.flag(target, value, "unmapped_value",
                     f"No rule maps this {target.replace('_', ' ')} to a code.")
            return
        self._apply(out, target, value, rule)

    def _free_text(self, out: Harmonised, target: str, value: Any) -> None:
        rule = self._rule(target, value)
        if rule is None:
            out.flag(target.removesuffix("_text"), value, "unmapped_status" if target ==
                     "status_text" else "unmapped_value",
                     "No rule maps this free-text value to the standard's codes.")
            return
        self._apply(out, target, value, rule)

    def _apply(self, out: Harmonised, target: str, value: Any, rule: Any) -> None:
        # A string is shorthand for the target's own field (``decision_text`` → decision).
        assignments = rule if isinstance(rule, dict) else {target.removesuffix("_text"): rule}
        for name, code in assignments.items():
            if name not in CODES or (code is not None and code not in CODES[name]):
                out.flag(name, value, "bad_rule", f"The value rule gives {code!r}, which is "
                         f"not a {name} code.")
                continue
            if name in out.values and out.values[name] not in (None, code):
                out.flag(name, value, "conflicting_values",
                         f"The row says both {out.values[name]!r} and {code!r}.")
                del out.values[name]
                continue
            out.values[name] = code
            out.original[name] = str(value)

    def _date(self, out: Harmonised, target: str, value: Any) -> str | None:
        text = str(value)
        parsed = _parse_date(text, self.date_formats)
        if parsed is not None:
            if parsed < EARLIEST or parsed > self.latest:
                out.flag(target, value, "impossible_date",
                         f"{parsed.isoformat()} cannot be a {target.replace('_', ' ')}.")
                return None
            iso = parsed.isoformat()
            if iso != text:
                out.original[target] = text
            return iso
        out.flag(target, value, "bad_date",
                 f"Not a date in the feed's format ({', '.join(self.dates)}).")
        return None

    def _datetime(self, out: Harmonised, target: str, value: Any) -> None:
        text = str(value)
        parsed = _parse_datetime(text, self.datetime_formats)
        if parsed is not None and parsed.tzinfo is not None:  # stored as UTC
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        if parsed is not None and EARLIEST <= parsed.date() <= self.latest:
            iso = parsed.strftime("%Y-%m-%dT%H:%M:%SZ")
            if iso != text:
                out.original["last_updated"] = text
            out.values["last_updated"] = iso
            return
        out.flag("last_updated", value, "bad_date",
                 f"Not a date and time in the feed's format ({', '.join(self.datetimes)}).")

    def _count(self, out: Harmonised, target: str, value: Any) -> None:
        if isinstance(value, int) or (isinstance(value, str) and _INTEGER.fullmatch(value)):
            number = int(value)
            if 0 <= number <= 100_000:
                out.values[target] = number
                return
        elif isinstance(value, float) and value.is_integer() and 0 <= value <= 100_000:
            out.values[target] = int(value)
            return
        out.flag(target, value, "bad_number", "Not a whole number of units from 0 to 100,000.")

    def _area(self, out: Harmonised, target: str, value: Any) -> None:
        if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
            number = float(value)
            if 0 <= number <= 10_000:
                out.values["site_area_ha"] = number
                return
        out.flag("site_area_ha", value, "bad_number", "Not an area in hectares (0–10,000).")

    def _uprn(self, out: Harmonised, target: str, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            if _DIGITS.fullmatch(value):
                out.values["uprn"] = value
                return
            suffix = _FLOAT_SUFFIX.fullmatch(value)
            if suffix:  # "100021234567.0": a whole number a spreadsheet wrote as decimal
                out.values["uprn"] = suffix.group(1)
                out.original["uprn"] = value
                return
            if _SCIENTIFIC.fullmatch(value):
                out.flag("uprn", value, "uprn_mangled", "Written in scientific notation by a "
                         "spreadsheet: its last digits are lost.")
                return
        out.flag("uprn", value, "bad_uprn", "A UPRN is 1 to 12 digits.")

    def _postcode(self, out: Harmonised, target: str, value: Any) -> None:
        text = str(value)
        postcode = normalise_postcode(text)
        if postcode is None:
            out.flag("postcode", value, "bad_postcode", "Not shaped like a UK postcode.")
            return
        known = self.gazetteer.postcodes
        if known and postcode not in known:
            out.flag("postcode", value, "unknown_postcode",
                     "Not a London postcode in the gazetteer (OS Code-Point Open).")
            return
        if postcode != text:
            out.original["postcode"] = text
        out.values["postcode"] = postcode

    # --- places -------------------------------------------------------------------------

    def _place(self, out: Harmonised, given: Mapping[str, Any]) -> None:
        address = given.get("address")
        if isinstance(address, str):
            self._address(out, address)
        geom: BaseGeometry | None = None
        source = ""
        if given.get("geometry_wkt") is not None:
            source = "geometry_wkt"
            geom = self._geometry(out, given["geometry_wkt"], wkt=True)
        elif given.get("geometry_geojson") is not None:
            source = "geometry_geojson"
            geom = self._geometry(out, given["geometry_geojson"], wkt=False)
        elif given.get("easting") is not None or given.get("longitude") is not None:
            source = "easting" if given.get("easting") is not None else "longitude"
            geom = self._point(out, given)
        if geom is not None and not self._in_area(geom):
            out.flag("site_geometry", _show(given.get(source)) if source.startswith("geometry")
                     else f"{given.get('easting', given.get('longitude'))} "
                          f"{given.get('northing', given.get('latitude'))}",
                     "outside_authority", f"Not in {self.authority.lpa_name}'s area.")
            geom = None
        if geom is not None:
            centre = geom if geom.geom_type == "Point" else geom.centroid
            if geom.geom_type in ("Polygon", "MultiPolygon"):
                out.values["site_geometry"] = shapely_wkt.dumps(geom, rounding_precision=6)
            out.values["centroid"] = f"POINT({centre.x:.6f} {centre.y:.6f})"
            out.values["lon"], out.values["lat"] = round(centre.x, 6), round(centre.y, 6)
            raw = given.get(source)
            out.original["site_geometry" if "site_geometry" in out.values else "centroid"] = (
                _show(raw) if source.startswith("geometry")
                else f"{given.get('easting', given.get('longitude'))} "
                     f"{given.get('northing', given.get('latitude'))}"
            )
        elif source == "" and out.values.get("postcode") in self.gazetteer.postcodes:
            # An explicit rule: without a site, the application sits at its postcode.
            lon, lat, _ = self.gazetteer.postcodes[out.values["postcode"]]
            out.values["centroid"] = f"POINT({lon:.6f} {lat:.6f})"
            out.values["lon"], out.values["lat"] = lon, lat
            out.original["centroid"] = f"from postcode {out.values['postcode']}"

    def _address(self, out: Harmonised, address: str) -> None:
        rest = address
        match = _TRAILING_POSTCODE.search(address)
        partial = None if match else _TRAILING_PARTIAL.search(address)
        if match and "postcode" not in out.values:
            self._postcode(out, "postcode", match.group(1))
            rest = address[: match.start()]
        elif partial:
            out.flag("postcode", partial.group(1), "bad_postcode",
                     "The address ends in an incomplete postcode.")
            rest = address[: partial.start()]
        parts = [p.strip() for p in rest.split(",") if p.strip()]
        if parts and parts[-1].lower() == "london":
            parts.pop()
        if not parts:
            return
        site, street = (parts[0], ", ".join(parts[1:])) if len(parts) > 1 else ("", parts[0])
        first, _, remainder = street.partition(" ")
        if not site and first[:1].isdigit() and remainder:
            site, street = first, remainder  # "12 Kingsland High Street"
        if site:
            out.values["site_name"] = site[:300]
        out.values["street_name"] = street[:300]
        out.original["street_name"] = address

    def _geometry(self, out: Harmonised, raw: Any, *, wkt: bool) -> BaseGeometry | None:
        try:
            if wkt:
                geom = shapely_wkt.loads(str(raw))
            else:
                data = json.loads(raw) if isinstance(raw, str) else raw
                geom = shape(data)
        except (ShapelyError, ValueError, TypeError, KeyError, AttributeError,
                json.JSONDecodeError):
            out.flag("site_geometry", raw, "bad_geometry", "Not a readable geometry.")
            return None
        if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon", "Point"):
            out.flag("site_geometry", raw, "bad_geometry",
                     "A site is a polygon, a multipolygon or a point.")
            return None
        if self.transformer is not None:
            geom = _reproject(geom, self.transformer)
        if not geom.is_valid:
            out.flag("site_geometry", raw, "invalid_geometry",
                     "The polygon crosses itself (it is not repaired: that would be a guess).")
            return None
        return geom

    def _point(self, out: Harmonised, given: Mapping[str, Any]) -> BaseGeometry | None:
        keys = ("easting", "northing") if given.get("easting") is not None else (
            "longitude", "latitude")
        try:
            x, y = float(given[keys[0]]), float(given[keys[1]])
        except (TypeError, ValueError, KeyError):
            out.flag("centroid", f"{given.get(keys[0])} {given.get(keys[1])}", "bad_geometry",
                     f"{keys[0]}/{keys[1]} are not numbers.")
            return None
        if keys[0] == "easting" and self.transformer is not None:
            x, y = self.transformer.transform(x, y)
        return Point(x, y)

    def _in_area(self, geom: BaseGeometry) -> bool:
        area = self.gazetteer.area
        if area is None:
            c = geom if geom.geom_type == "Point" else geom.centroid
            return -0.6 <= c.x <= 0.4 and 51.2 <= c.y <= 51.75  # Greater London, roughly
        return area.intersects(geom)

    # --- across fields ------------------------------------------------------------------

    def _cross_checks(self, out: Harmonised) -> None:
        v = out.values
        received = v.get("received_date")
        for later in ("valid_date", "decision_date"):
            when = v.get(later)
            if received and when and when < received:
                out.flag(later, when, "date_before_received",
                         f"{later.replace('_', ' ')} {when} is before the application was "
                         f"received ({received}).")
                del v[later]
        # An explicit rule: a decision means the application has been decided.
        if v.get("decision") and v.get("status") in (None, "received", "validated",
                                                     "under_consideration"):
            if v.get("status") is not None:
                out.original.setdefault("status", v["status"])
            v["status"] = "decided"


def _reproject(geom: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    import numpy as np
    import shapely

    def move(coords: Any) -> Any:
        xs, ys = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([xs, ys])

    return shapely.transform(geom, move)


def compile_area(geometry: dict | None, buffer_degrees: float = 0.005) -> PreparedGeometry | None:
    """The authority's area (GeoJSON), a little wider so sites on the boundary count."""
    if not geometry:
        return None
    from shapely.prepared import prep

    return prep(shape(geometry).buffer(buffer_degrees))

