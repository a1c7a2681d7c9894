"""Demo feeds of London's 35 planning authorities, exported the way their back-office systems
export them, with the real-world messiness — and a replay of live changes.

The feed configurations in ``feeds/`` are data for the ingestion pipeline; this module reads
them too (:func:`load_authorities`, :func:`feed_config`) and renders every feed through its
configuration, so a configuration and its demo feed cannot drift apart. Each feed row is the
full state of one application at the source. docs/planning-feeds.md describes the authorities,
the shapes, the configuration format and the messiness catalogue.

Simplifications (documented there): the development corporations' areas are postcode sectors;
street names are made up per postcode; a site is a small quadrilateral near its postcode's
point; which system each authority runs is illustrative.
"""

from __future__ import annotations

import copy
import csv
import heapq
import itertools
import json
import math
import string
import zlib
from bisect import bisect
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from random import Random
from typing import Any, NamedTuple
from urllib.parse import quote

from citydata.geo.reference import iter_postcodes
from citydata.settings import Settings

FEEDS_DIR = Path(__file__).with_name("feeds")
#: Records per page of a ``json-paged`` feed.
PAGE_SIZE = 250
#: The replay's new references start at this number in each year (see :class:`Replay`).
REPLAY_FIRST_NUMBER = 5000
LLDC, OPDC = "E60000329", "E60000330"
#: The development corporations' areas as postcode sectors — a simplification of their real
#: boundaries (LLDC: Queen Elizabeth Olympic Park, Stratford, Hackney Wick, Fish Island; OPDC:
#: Old Oak, Park Royal, North Acton). These sectors are taken out of their boroughs.
CORPORATION_SECTORS: dict[str, tuple[str, ...]] = {
    LLDC: ("E20 1", "E20 2", "E20 3", "E15 2", "E9 5", "E3 2"),
    OPDC: ("NW10 6", "NW10 7", "W3 6"),
}
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


# --- configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    """One local planning authority and how its feed is configured (authorities.json)."""

    slug: str
    lpa_code: str
    lpa_name: str
    id_prefix: str
    shape: str
    overrides: dict[str, Any] = field(default_factory=dict, hash=False)
    quirks: tuple[str, ...] = ()


def load_authorities() -> list[Authority]:
    """The 35 authorities of ``feeds/authorities.json``, in file order."""
    rows = json.loads((FEEDS_DIR / "authorities.json").read_text(encoding="utf-8"))
    return [Authority(slug=r["slug"], lpa_code=r["lpa_code"], lpa_name=r["lpa_name"],
                      id_prefix=r["id_prefix"], shape=r["shape"],
                      overrides=r.get("overrides", {}), quirks=tuple(r.get("quirks", [])))
            for r in rows]


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``: dicts merge, other values replace."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def feed_config(authority: Authority) -> dict[str, Any]:
    """The authority's feed configuration: its shape deep-merged with its overrides."""
    path = FEEDS_DIR / "shapes" / f"{authority.shape}.json"
    return deep_merge(json.loads(path.read_text(encoding="utf-8")), authority.overrides)


def normalise_value(value: Any) -> str:
    """A source value as value rules key it: lowercased, whitespace collapsed, stripped."""
    return " ".join(str(value).split()).lower()


def value_rules(authority: Authority) -> dict[str, dict[str, Any]]:
    """values.json with the authority's own ``values`` merged over it."""
    common = json.loads((FEEDS_DIR / "values.json").read_text(encoding="utf-8"))
    return deep_merge(common, feed_config(authority).get("values", {}))


def vocabulary(authority: Authority) -> dict[str, dict[str, tuple[str, ...]]]:
    """The words the authority's demo feed uses: ``{target: {key: words}}``. The key is a
    code, or for ``status_text`` a state such as ``decided:refused`` (see :func:`meaning`).
    The authority's own value rules replace its system's words for the codes they cover."""
    words = {t: dict(v) for t, v in VOCABULARY[authority.shape].items()}
    upper = authority.shape in UPPER_CASE_SHAPES
    for target, rules in authority.overrides.get("values", {}).items():
        taken: set[str] = set()
        for word, code in rules.items():
            for key in words.get(target, {}):
                if meaning(target, key) == code:
                    shown = word.upper() if upper else word.title()
                    old = () if key not in taken else words[target][key]
                    words[target][key] = (*old, shown)
                    taken.add(key)
    return words


def meaning(target: str, key: str) -> Any:
    """What a vocabulary key means in value rules: a code, or for ``status_text`` a dict."""
    if target != "status_text":
        return key
    parts = key.split(":")
    out = {"status": parts[0]}
    if parts[0] == "decided" and len(parts) > 1:
        out["decision"] = parts[1]
    elif parts[0] == "appealed" and len(parts) > 1:
        out["appeal_status"] = parts[1]
        if len(parts) > 2:
            out["appeal_decision"] = parts[2]
    return out


# --- places ------------------------------------------------------------------------------


class Place(NamedTuple):
    """A real London postcode with its point (WGS 84 and British National Grid)."""

    postcode: str
    lon: float
    lat: float
    easting: int
    northing: int
    ward_gss: str


def london_places(settings: Settings) -> dict[str, list[Place]]:
    """London's postcodes grouped by the planning authority deciding there (LPA code)."""
    by_sector = {s: code for code, sectors in CORPORATION_SECTORS.items() for s in sectors}
    places: dict[str, list[Place]] = defaultdict(list)
    for row in iter_postcodes(settings, london_only=True):
        code = by_sector.get(row["postcode"][:-2], row["district_gss"])
        places[code].append(Place(row["postcode"], row["lon"], row["lat"], row["easting"],
                                  row["northing"], row["ward_gss"]))
    return dict(places)


# --- applications (simulation; no rendering) ---------------------------------------------


@dataclass(slots=True)
class Site:
    place: Place
    name: str
    street: str
    uprn: int | None
    ring: list[tuple[float, float]]  # four corners, British National Grid metres
    area_ha: float
    drawn: dict[str, Any] | None = None  # its geometry as the feed writes it (sites recur)


@dataclass(slots=True)
class Application:
    number: int  # the source system's internal id
    ref: str
    kind: str  # application type code
    development_type: str
    description: str
    site: Site
    proposed_units: int | None
    existing_units: int | None
    decision: str | None = None
    agency: str | None = None
    appeal_decision: str | None = None
    events: list[tuple[datetime, str, date]] = field(default_factory=list)  # published, kind


@dataclass(slots=True)
class State:
    """An application as its authority's feed shows it at some moment."""

    status: str
    received: date
    last_updated: datetime
    valid: date | None = None
    decided: date | None = None
    decision: str | None = None
    agency: str | None = None
    appeal_status: str | None = None
    appeal_decision: str | None = None


def state_at(app: Application, cutoff: datetime) -> State:
    """The application as published by ``cutoff`` (its received event is always published)."""
    at0, _, received = app.events[0]
    st = State("received", received, at0)
    for at, kind, day in app.events[1:]:
        if at > cutoff:
            break
        st.last_updated = at
        if kind == "validated":
            st.status, st.valid = "validated", day
        elif kind == "consultation":
            st.status = "under_consideration"
        elif kind == "withdrawn":
            st.status = "withdrawn"
        elif kind == "decided":
            st.status, st.decided, st.decision, st.agency = (
                "decided", day, app.decision, app.agency)
        else:  # appeal_lodged, appeal_started, appeal_decided, appeal_withdrawn
            st.status = "appealed"
            st.appeal_status = APPEAL_EVENTS[kind]
            if kind == "appeal_decided":
                st.appeal_decision = app.appeal_decision
    return st


def _weekday(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day


class _Rng(Random):
    """``random.Random`` with integer draws made from ``random()`` — several times cheaper
    than the exact ones, still deterministic for a seed; the demo needs no more."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is None:
            start, stop = 0, start
        return start + step * int(self.random() * ((stop - start + step - 1) // step))

    def choice(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]

    def pick(self, items: list[Any], cum: list[float]) -> Any:
        """``choices(items, cum_weights=cum)[0]``, without building lists."""
        return items[bisect(cum, self.random() * cum[-1])]


class _Simulator:
    """One authority's applications: what is applied for, where, and what becomes of it."""

    def __init__(self, authority: Authority, places: list[Place], seed: int) -> None:
        self.authority, self.places = authority, places
        self.rng = _Rng(f"{seed}:{authority.slug}:applications")
        demo = AUTHORITY_DEMO[authority.slug]
        self.reference, self.speed, self.publish_lag = demo.reference, demo.speed, demo.lag
        kinds = TYPE_WEIGHTS[demo.profile]
        self.kinds = list(kinds)
        self.cum = list(itertools.accumulate(kinds.values()))
        self.major_share = 0.1 if demo.profile in ("central", "corporation") else 0.04
        self.counters: dict[int, int] = defaultdict(int)
        self.floor = 0  # references in a year are numbered after this
        self.parents: deque[tuple[date, Application]] = deque(maxlen=300)  # granted
        self.numbers = itertools.count(100_000 + zlib.crc32(authority.slug.encode()) % 800_000)

    def history(self, n: int, today: date) -> Iterator[Application]:
        """``n`` applications received over the eight years up to ``today``, oldest first."""
        span = 8 * 365
        start = today - timedelta(days=span)
        for i in range(n):
            day = start + timedelta(days=int(span * (i + self.rng.random()) / n))
            shifted = _weekday(day)
            yield self.application(shifted if shifted <= today else day)

    def application(self, received: date, at: datetime | None = None) -> Application:
        rng = self.rng
        kind = rng.pick(self.kinds, self.cum)
        parent = None
        if kind in FOLLOW_UPS and self.parents:  # conditions, amendments of a permission
            granted, candidate = self.parents[rng.randrange(len(self.parents))]
            parent = candidate if granted < received else None
        earlier = parent.ref if parent else (
            self._old_ref(received) if kind in FOLLOW_UPS else "")
        text, proposed, existing, major = describe(rng, kind, earlier, self.major_share)
        site = parent.site if parent else self._site(kind, major, proposed)
        self.counters[received.year] = max(self.counters[received.year], self.floor) + 1
        app = Application(
            number=next(self.numbers), ref=self._ref(kind, received), kind=kind,
            development_type=development_type(kind, text, proposed, site.area_ha),
            description=text, site=site, proposed_units=proposed, existing_units=existing)
        self._timeline(app, received, major, at)
        if kind in ("full", "householder", "outline", "listed_building") and (
                app.decision not in (None, *REFUSALS)):
            granted = next(day for _, k, day in app.events if k == "decided")
            self.parents.append((granted, app))
        return app

    def _ref(self, kind: str, day: date, number: int | None = None) -> str:
        return self.reference.format(yyyy=day.year, yy=f"{day.year % 100:02d}",
                                     n=number or self.counters[day.year],
                                     t=TYPE_SUFFIX[kind])

    def _old_ref(self, day: date) -> str:
        old = day.replace(year=day.year - 9, day=1)
        return self._ref("full", old, self.rng.randint(1, 3000))

    def _site(self, kind: str, major: bool, units: int | None) -> Site:
        rng = self.rng
        place = self.places[rng.randrange(len(self.places))]
        size = "large" if major or kind in ("outline", "reserved_matters") else (
            "small" if kind in SMALL_SITE_KINDS or units else "house")
        (w0, w1), (d0, d1) = SITE_SIZES[size]
        r = rng.random
        w, d, angle = w0 + (w1 - w0) * r(), d0 + (d1 - d0) * r(), math.pi * r()
        cx, cy = place.easting + 40 * r() - 20, place.northing + 40 * r() - 20
        cos, sin = math.cos(angle), math.sin(angle)
        ring = []
        for sx, sy in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
            x, y = (sx + 0.12 * r() - 0.06) * w, (sy + 0.12 * r() - 0.06) * d  # a little skew
            ring.append((cx + x * cos - y * sin, cy + x * sin + y * cos))
        (ax, ay), (bx, by), (qx, qy), (dx, dy) = ring  # shoelace
        area = abs((ax - qx) * (by - dy) - (bx - dx) * (ay - qy)) / 2
        name = site_name(rng, size)
        street = street_for(place.postcode)
        key = zlib.crc32(f"{place.postcode}|{name}".encode())
        has_uprn = rng.random() < UPRN_SHARE[size]
        uprn = 100_000_000_000 + (key * 97) % 200_000_000_000 if has_uprn else None
        return Site(place, name, street, uprn, ring, round(area / 10_000, 4))

    def _timeline(self, app: Application, received: date, major: bool,
                  at: datetime | None) -> None:
        rng, events = self.rng, app.events

        def publish(kind: str, day: date, lag: int) -> None:  # in working hours
            when = datetime(day.year, day.month, day.day) + timedelta(
                days=lag, minutes=420 + int(720 * rng.random()))
            if events and when <= events[-1][0]:
                when = events[-1][0] + timedelta(minutes=rng.randint(5, 90))
            events.append((when, kind, day))

        publish("received", received, 0)
        if at is not None:
            events[0] = (at, "received", received)
        late = rng.random() < 0.03
        valid = received + timedelta(days=rng.randint(30, 70) if late else
                                     int(rng.randint(1, 10) * self.speed))
        publish("validated", valid, rng.randint(0, 2))
        publish("consultation", valid + timedelta(days=rng.randint(1, 7)), rng.randint(0, 2))
        target = 91 if major else (42 if app.kind == "trees" else 56)
        if rng.random() < 0.05:
            day = valid + timedelta(days=int(rng.uniform(14, 1.3 * target)))
            publish("withdrawn", _weekday(day), rng.randint(0, 3))
            return
        draw = rng.random()  # most within the statutory period, a long tail of late ones
        factor = rng.uniform(0.75, 1.0) if draw < 0.6 else (
            rng.uniform(1.0, 2.0) if draw < 0.92 else rng.uniform(2.0, 5.0))
        decided = _weekday(valid + timedelta(days=int(target * factor * self.speed)))
        app.decision = outcome(rng, app.kind)
        app.agency = agency(rng, app.kind, major)
        lag = rng.randint(0, 2) if self.publish_lag <= 1 else int(
            rng.uniform(0.5, 1.5) * self.publish_lag)
        publish("decided", decided, lag)
        if app.decision in REFUSALS and rng.random() < 0.18:
            lodged = decided + timedelta(days=rng.randint(20, 180))
            publish("appeal_lodged", lodged, rng.randint(1, 10))
            started = lodged + timedelta(days=rng.randint(14, 70))
            publish("appeal_started", started, rng.randint(1, 10))
            if rng.random() < 0.06:
                publish("appeal_withdrawn", started + timedelta(days=rng.randint(10, 120)), 2)
            else:
                app.appeal_decision = appeal_outcome(rng)
                publish("appeal_decided", _weekday(started + timedelta(
                    days=rng.randint(60, 260))), rng.randint(1, 10))


# --- what the sources say: vocabularies, phrases, per-authority habits -------------------

_TYPES = ("full", "outline", "reserved_matters", "householder", "listed_building",
          "advertisement", "prior_approval", "lawful_development", "conditions", "variation",
          "non_material_amendment", "trees", "demolition", "hazardous_substances", "other")
_DECISIONS = ("approved", "approved_with_conditions", "refused", "split_decision",
              "prior_approval_not_required", "prior_approval_refused", "lawful", "not_lawful",
              "no_objection", "not_determined")
_AGENCIES = ("delegated", "committee", "mayor", "secretary_of_state", "planning_inspectorate")
_STATUSES = ("received", "validated", "under_consideration", "decided", "withdrawn",
             "appealed")
_APPEALS = ("lodged", "in_progress", "decided", "withdrawn")
_APPEAL_DECISIONS = ("allowed", "dismissed", "split")


def _by(keys: tuple[str, ...], *words: str | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {k: w if isinstance(w, tuple) else (w,) for k, w in zip(keys, words, strict=True)}


_APPEAL_KEYS = tuple(f"appealed:{a}" for a in _APPEALS)
_OCELLA_DECIDED = _by(
    tuple(f"decided:{d}" for d in _DECISIONS), "Approved",
    ("Conditional Approval (P)", "Approved subject to conditions"), ("Refusal (P)", "Refused"),
    "Split Decision", "Prior Approval Not Required", "Prior Approval Refused",
    "Certificate Granted", "Certificate Refused", "No Objection", "Declined to Determine")
#: shape → target → code (or status state, see :func:`meaning`) → the words it writes.
VOCABULARY: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "idox-csv": {
        "application_type": _by(
            _TYPES, "Full Planning Permission", "Outline Planning Permission",
            "Reserved Matters", "Householder Application", "Listed Building Consent",
            "Advertisement Consent", "Prior Approval", "Lawful Development Certificate",
            "Approval of Details Reserved by Condition", "Variation of Condition",
            "Non-Material Amendment", ("Tree Preservation Order", "Trees in a Conservation Area"),
            "Relevant Demolition in a Conservation Area", "Hazardous Substances Consent",
            "Other"),
        "status_text": {**_by(("received", "validated", "under_consideration", "decided",
                               "withdrawn"), "Received", "Registered",
                              ("Pending Consideration", "Under Consultation"), "Decided",
                              "Withdrawn"),
                        **_by(_APPEAL_KEYS, "Appeal Lodged", "Appeal In Progress",
                              "Appeal Decided", "Appeal Withdrawn")},
        "decision_text": _by(
            _DECISIONS, "Grant Permission", "Grant Permission subject to Conditions",
            "Refuse Permission", "Split Decision", "Prior Approval Not Required",
            "Prior Approval Refused", "Certificate of Lawfulness Granted",
            "Certificate of Lawfulness Refused", "Raise No Objection", "Declined to Determine"),
        "decision_agency": _by(_AGENCIES, "Delegated", "Committee", "Mayor of London",
                               "Secretary of State", "Planning Inspectorate"),
        "appeal_status": _by(_APPEALS, "Lodged", "In Progress", "Decided", "Withdrawn"),
        "appeal_decision": _by(_APPEAL_DECISIONS, "Allowed", "Dismissed", "Split Decision"),
    },
    "northgate-csv": {
        "application_type": _by(_TYPES, "FUL", "OUT", "RES", "HSE", "LBC", "ADV", "PA",
                                ("CLP", "CLE"), "DET", "VAR", "NMA", ("TPO", "TCA"), "CAC",
                                "HAZ", "OTH"),
        "status": _by(_STATUSES, "NEW", "REGISTERED", ("IN PROGRESS", "CONSULTATION"),
                      "DECIDED", "WITHDRAWN", "APPEAL"),
        "decision": _by(_DECISIONS, "APPRV", "APCON", "REF", "SPLIT", "PANR", "PAREF", "CLG",
                        "CLR", "NOOBJ", "NODET"),
        "decision_agency": _by(_AGENCIES, "DEL", "COM", "GLA", "SOS", "PINS"),
        "appeal_status": _by(_APPEALS, "LODGED", "IN PROGRESS", "DECIDED", "WITHDRAWN"),
        "appeal_decision": _by(_APPEAL_DECISIONS, "ALLOWED", "DISMISSED", "SPLIT"),
    },
    "agile-json": {
        "application_type": _by(
            _TYPES, "Full", "Outline", "Reserved Matters", "Householder", "Listed Building",
            "Advertisement", "Prior Approval", "Lawful Development Certificate",
            "Discharge of Conditions", "Variation of Conditions (S73)",
            "Non-Material Amendment (S96A)", "Trees", "Demolition in a Conservation Area",
            "Hazardous Substances", "Other"),
        "status": _by(_STATUSES, "Received", "Valid", "Under Consideration", "Decided",
                      "Withdrawn", "Appealed"),
        "decision": _by(_DECISIONS, "Approved", "Approved with Conditions", "Refused",
                        "Split Decision", "Prior Approval Not Required",
                        "Prior Approval Refused", "Lawful", "Not Lawful", "No Objection",
                        "Not Determined"),
        "decision_agency": _by(_AGENCIES, "Delegated", "Committee", "Mayor",
                               "Secretary of State", "Planning Inspectorate"),
        "appeal_status": _by(_APPEALS, "Lodged", "In Progress", "Decided", "Withdrawn"),
        "appeal_decision": _by(_APPEAL_DECISIONS, "Allowed", "Dismissed", "Part Allowed"),
    },
    "arcus-json-paged": {
        "application_type": _by(
            _TYPES, "Full Planning", "Outline Planning", "Approval of Reserved Matters",
            "Householder Planning", "Listed Building Consent", "Advertisement Consent",
            "Prior Approval", "Certificate of Lawfulness", "Approval of Conditions",
            "Removal/Variation of Conditions", "Non Material Amendment", "Tree Works",
            "Relevant Demolition", "Hazardous Substances Consent", "Miscellaneous"),
        "status": _by(_STATUSES, "Submitted", "Validated", "Under Assessment", "Determined",
                      "Withdrawn", "Appealed"),
        "decision": _by(_DECISIONS, "Granted", "Granted subject to conditions", "Refused",
                        "Split decision", "Prior approval not required",
                        "Prior approval required and refused", "Certificate issued",
                        "Certificate refused", "No objections raised", "Declined to determine"),
        "decision_agency": _by(_AGENCIES, "Delegated Decision", "Planning Committee",
                               "Mayor of London", "Called In", "Planning Inspectorate"),
        "appeal_status": _by(_APPEALS, "Appeal Lodged", "Appeal Started", "Appeal Decided",
                             "Appeal Withdrawn"),
        "appeal_decision": _by(_APPEAL_DECISIONS, "Appeal Allowed", "Appeal Dismissed",
                               "Appeal Split Decision"),
    },
    "ocella-csv": {
        "application_type": _by(
            _TYPES, "Full Application", "Outline Application", "Reserved Matters Application",
            "Householder Application", "Listed Building Consent", "Advertisement Consent",
            "Prior Approval", "Certificate of Lawful Development",
            "Details Pursuant to Condition", "Section 73 Variation", "Non Material Amendment",
            "Tree Works", "Conservation Area Consent", "Hazardous Substances", "Miscellaneous"),
        "status_text": {
            **_by(("received", "validated", "under_consideration", "withdrawn"), "Received",
                  "Registered", "Pending Consideration", "Withdrawn"),
            **_OCELLA_DECIDED,
            **_by(("appealed:lodged", "appealed:in_progress", "appealed:decided:allowed",
                   "appealed:decided:dismissed", "appealed:decided:split",
                   "appealed:withdrawn"), "Appeal Lodged", "Appeal In Progress",
                  "Appeal Allowed", "Appeal Dismissed", "Appeal Split Decision",
                  "Appeal Withdrawn")},
        "decision_agency": _by(_AGENCIES, "DEL", "COM", "GLA", "SOS", "PINS"),
    },
}
UPPER_CASE_SHAPES = frozenset({"northgate-csv"})
#: Where each system's public register shows an application (made-up example domains).
URLS = {
    "idox-csv": "https://publicaccess.{slug}.example.gov.uk/{ref_q}",
    "northgate-csv": "https://planningregister.{slug}.example.gov.uk/Planning/Display/{ref}",
    "agile-json": "https://planning.agileapplications.example/{slug}/application-details/"
                  "{number}",
    "arcus-json-paged": "https://{slug}.example.gov.uk/planning/s/planning-application/{sfid}",
    "ocella-csv": "https://planning.{slug}.example.gov.uk/OcellaWeb/planningDetails"
                  "?reference={ref_q}",
}
TYPE_SUFFIX = dict(zip(_TYPES, ("FUL", "OUT", "RES", "HSE", "LBC", "ADV", "PA", "LDC", "DET",
                                "VAR", "NMA", "TCA", "CAC", "HAZ", "OTH"), strict=True))
APPEAL_EVENTS = {"appeal_lodged": "lodged", "appeal_started": "in_progress",
                 "appeal_decided": "decided", "appeal_withdrawn": "withdrawn"}


class _Habits(NamedTuple):
    reference: str  # str.format template: yyyy, yy, n (number in the year), t (type suffix)
    profile: str  # outer, inner, central, corporation: the mix of application types
    speed: float = 1.0  # decision time multiplier (slow authorities)
    lag: int = 1  # typical days between a decision and its publication


AUTHORITY_DEMO: dict[str, _Habits] = {
    "city-of-london": _Habits("{yy}/{n:05d}/{t}", "central"),
    "barking-and-dagenham": _Habits("{yy}/{n:05d}/{t}", "outer"),
    "barnet": _Habits("{yy}/{n:04d}/{t}", "outer"),
    "bexley": _Habits("{yy}/{n:05d}/{t}", "outer", 1.1, 10),
    "brent": _Habits("{yy}/{n:04d}", "outer", 1.0, 21),
    "bromley": _Habits("{yy}/{n:05d}/{t}", "outer"),
    "camden": _Habits("{yyyy}/{n:04d}/P", "inner"),
    "croydon": _Habits("{yy}/{n:05d}/{t}", "outer", 1.35),
    "ealing": _Habits("{yy}{n:04d}{t}", "outer"),
    "enfield": _Habits("{yy}/{n:05d}/{t}", "outer", 1.25),
    "greenwich": _Habits("{yy}/{n:04d}/{t}", "outer"),
    "hackney": _Habits("{yyyy}/{n:04d}", "inner"),
    "hammersmith-and-fulham": _Habits("{yyyy}/{n:05d}/{t}", "inner"),
    "haringey": _Habits("HGY/{yyyy}/{n:04d}", "inner", 1.45, 28),
    "harrow": _Habits("P/{n:04d}/{yy}", "outer"),
    "havering": _Habits("P{n:04d}.{yy}", "outer", 1.1, 35),
    "hillingdon": _Habits("{yyyy}/{n:04d}/{t}", "outer", 1.0, 7),
    "hounslow": _Habits("P/{yyyy}/{n:04d}", "outer"),
    "islington": _Habits("P{yyyy}/{n:04d}/{t}", "inner"),
    "kensington-and-chelsea": _Habits("PP/{yy}/{n:05d}", "inner"),
    "kingston-upon-thames": _Habits("{yy}/{n:05d}/{t}", "outer"),
    "lambeth": _Habits("{yy}/{n:05d}/{t}", "inner", 1.3),
    "lewisham": _Habits("DC/{yy}/{n:06d}", "inner", 1.0, 10),
    "merton": _Habits("{yy}/P{n:04d}", "outer"),
    "newham": _Habits("{yy}/{n:05d}/{t}", "inner", 1.3, 14),
    "redbridge": _Habits("{n:04d}/{yy}", "outer", 1.0, 14),
    "richmond-upon-thames": _Habits("{yy}/{n:04d}/{t}", "outer"),
    "southwark": _Habits("{yy}/AP/{n:04d}", "inner"),
    "sutton": _Habits("DM{yyyy}/{n:05d}", "outer"),
    "tower-hamlets": _Habits("PA/{yy}/{n:05d}", "inner", 1.4),
    "waltham-forest": _Habits("{yy}{n:04d}", "outer"),
    "wandsworth": _Habits("{yyyy}/{n:04d}", "inner"),
    "westminster": _Habits("{yy}/{n:05d}/{t}", "central"),
    "lldc": _Habits("{yy}/{n:05d}/{t}", "corporation", 1.2),
    "opdc": _Habits("{yy}/{n:04d}/{t}OPDC", "corporation"),
}
REPLAY_WEIGHTS = {"outer": 1.0, "inner": 1.0, "central": 0.6, "corporation": 0.1}
TYPE_WEIGHTS: dict[str, dict[str, float]] = {
    profile: dict(zip(_TYPES, weights, strict=True)) for profile, weights in {
        #        ful out res  hse  lbc adv pa  ldc det  var nma tre dem haz  oth
        "outer": (14, .3, .4, 40, 1, 3, 8, 8, 9, 3, 3, 8, .3, .05, .5),
        "inner": (20, .2, .4, 28, 6, 4, 6, 7, 12, 3, 3, 9, .6, .03, .6),
        "central": (25, .1, .5, 6, 18, 12, 3, 4, 16, 5, 4, 3, .5, .02, 1),
        "corporation": (20, 2, 6, 5, 1, 8, 3, 3, 30, 8, 10, 4, .5, .02, 1),
    }.items()}
FOLLOW_UPS = frozenset({"conditions", "variation", "non_material_amendment",
                        "reserved_matters"})
SMALL_SITE_KINDS = frozenset({"full", "advertisement", "other", "hazardous_substances"})
SITE_SIZES = {"house": ((5, 12), (15, 45)), "small": ((8, 35), (12, 50)),
              "large": ((40, 220), (40, 220))}
UPRN_SHARE = {"house": 0.97, "small": 0.85, "large": 0.3}
REFUSALS = frozenset({"refused", "prior_approval_refused", "not_lawful"})

# A phrase is (template, units): units says what the numbers mean — "new" homes, a
# "conversion" of one house, "existing" flats, "major" and "outline" schemes, or none.
_PHRASES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "householder": tuple((p, None) for p in (
        "Erection of a single storey rear extension",
        "Erection of a part single, part two storey rear extension",
        "Erection of a two storey side extension and a single storey rear extension",
        "Erection of a single storey side infill extension",
        "Loft conversion with a rear dormer roof extension and front rooflights",
        "Hip to gable roof extension and rear dormer",
        "Erection of a front porch",
        "Erection of an outbuilding in the rear garden ancillary to the dwellinghouse",
        "Replacement of the single glazed timber windows with double glazed timber windows",
        "Installation of solar panels on the rear roof slope",
        "Formation of a vehicle crossover and hardstanding in the front garden",
        "Excavation of a basement beneath the house and rear garden with a front lightwell",
        "Installation of an air source heat pump in the rear garden",
        "Conversion of the garage into a habitable room and replacement of the garage door")),
    "full": tuple((p, None) for p in (
        "Change of use of the ground floor from Class E to a hot food takeaway (Sui Generis) "
        "and installation of an extract duct",
        "Installation of a replacement shopfront",
        "Installation of rooftop telecommunications equipment and associated cabinets",
        "Erection of a single storey rear extension to the ground floor commercial unit",
        "Installation of plant on the roof with acoustic screening",
        "Change of use from office (Class E) to a place of worship (Class F1)",
        "Erection of a cycle store and bin store in the front forecourt")),
    "full_homes": (
        ("Change of use from Class E to residential (Class C3) to create {n} self-contained "
         "flats", "new"),
        ("Conversion of a single dwellinghouse into {n} self-contained flats", "conversion"),
        ("Erection of a mansard roof extension to create {n} additional self-contained flats",
         "new"),
        ("Demolition of the existing garages and erection of a {s} storey building comprising "
         "{n} residential units (Class C3) with cycle and refuse storage", "new"),
        ("Erection of {n} dwellinghouses on land to the rear with associated landscaping and "
         "parking", "new")),
    "full_major": (
        ("Demolition of the existing buildings and redevelopment of the site to provide {n} "
         "residential units (Class C3) and {m} sqm of commercial floorspace (Class E) in "
         "buildings of up to {s} storeys, with landscaping, cycle parking and public realm "
         "improvements", "major"),
        ("Redevelopment of the estate to provide {n} homes in {b} buildings of between 4 and "
         "{s} storeys, with a community centre and public open space", "major")),
    "prior_approval": (
        ("Prior approval for a single storey rear extension extending {x}m beyond the rear "
         "wall, with a maximum height of {h}m and an eaves height of 2.9m", None),
        ("Prior approval for the change of use from Class E (commercial) to Class C3 "
         "(residential) to create {n} self-contained flats", "new"),
        ("Prior approval for the construction of {k} additional storeys to create {n} "
         "self-contained flats", "new"),
        ("Prior approval for a {t}m telecommunications monopole and associated equipment "
         "cabinets", None),
        ("Prior approval for the demolition of the existing building", None)),
    "listed_building": tuple((p, None) for p in (
        "Internal alterations including removal of non-original partitions and refurbishment "
        "of the kitchen and bathrooms",
        "Replacement of the front sash windows like-for-like in timber",
        "Repair and redecoration of the front railings and steps",
        "Installation of secondary glazing to the front windows",
        "Replacement of the roof slates and repair of the chimney stacks")),
    "advertisement": tuple((p, None) for p in (
        "Display of an internally illuminated fascia sign and projecting sign",
        "Display of a non-illuminated fascia sign",
        "Display of a digital advertising screen on the flank wall",
        "Display of 2 externally illuminated hoarding signs")),
    "lawful_development": (
        ("Certificate of lawfulness (proposed) for a rear dormer roof extension and front "
         "rooflights", None),
        ("Certificate of lawfulness (proposed) for a single storey rear extension", None),
        ("Certificate of lawfulness (existing) for the use of the property as {n} "
         "self-contained flats", "existing"),
        ("Certificate of lawfulness (existing) for the use of the outbuilding as a home "
         "office", None)),
    "conditions": tuple((p, None) for p in (
        "Details pursuant to condition {c} (materials) of planning permission {ref}",
        "Details pursuant to conditions {c} (construction management plan) and {c2} "
        "(landscaping) of planning permission {ref}",
        "Approval of details required by condition {c} (cycle storage) of planning "
        "permission {ref}",
        "Details of a sustainable drainage strategy pursuant to condition {c} of planning "
        "permission {ref}")),
    "variation": tuple((p, None) for p in (
        "Variation of condition {c} (approved drawings) of planning permission {ref} to allow "
        "changes to the rear elevation",
        "Removal of condition {c} of planning permission {ref} to allow the premises to open "
        "outside the approved hours",
        "Variation of condition {c} of planning permission {ref} to amend the internal layout "
        "and unit mix")),
    "non_material_amendment": tuple((p, None) for p in (
        "Non-material amendment to planning permission {ref} to alter the position of the "
        "rear windows",
        "Non-material amendment to planning permission {ref} to change the external materials",
        "Non-material amendment to planning permission {ref} to amend the wording of "
        "condition {c}")),
    "trees": tuple((p, None) for p in (
        "T1 Sycamore - reduce the crown by 2m and crown lift to 5m (Tree Preservation Order)",
        "T1 London Plane - pollard to previous points (works to trees in a conservation area)",
        "T1 Ash - fell due to ash dieback (works to trees in a conservation area)",
        "T1-T3 Leyland Cypress - reduce height by 3m and T4 Oak - remove deadwood (Tree "
        "Preservation Order)",
        "G1 group of Hawthorn - clear to ground level (works to trees in a conservation "
        "area)")),
    "outline": (
        ("Outline application for the demolition of the existing buildings and erection of up "
         "to {n} homes (Class C3), with all matters reserved except access", "outline"),
        ("Outline application for a mixed-use development of up to {n} residential units and "
         "{m} sqm of commercial floorspace, with all matters reserved", "outline")),
    "reserved_matters": (
        ("Approval of reserved matters (appearance, landscaping, layout and scale) for Phase "
         "{p} comprising {n} residential units pursuant to outline planning permission {ref}",
         "reserved"),),
    "demolition": tuple((p, None) for p in (
        "Demolition of the existing garage in a conservation area",
        "Demolition of the front boundary wall in a conservation area")),
    "hazardous_substances": tuple((p, None) for p in (
        "Hazardous substances consent for the storage of liquefied petroleum gas",
        "Hazardous substances consent for the storage of chlorine at the water treatment "
        "works")),
    "other": tuple((p, None) for p in (
        "Consultation from a neighbouring authority on a proposed development",
        "Notification under Regulation 3 of works to a council-owned building",
        "Application for a certificate of appropriate alternative development")),
}


_UNIT_RANGES = {"new": (2, 9), "conversion": (2, 6), "existing": (2, 4), "outline": (50, 1500),
                "reserved": (40, 400)}
_NUMBERS: dict[str, Any] = {
    "s": lambda r: r.randint(3, 12), "m": lambda r: r.randrange(200, 5000, 50),
    "b": lambda r: r.randint(2, 6), "x": lambda r: r.choice(("4.0", "5.5", "6.0", "8.0")),
    "h": lambda r: r.choice(("3.0", "3.5", "4.0")), "t": lambda r: r.choice((15, 17.5, 20)),
    "k": lambda r: r.choice((1, 2)), "c": lambda r: r.randint(3, 24),
    "c2": lambda r: r.randint(1, 6), "p": lambda r: r.randint(1, 6)}
_FIELDS = {template: [name for _, name, _, _ in string.Formatter().parse(template) if name]
           for group in _PHRASES.values() for template, _ in group}


def describe(rng: _Rng, kind: str, ref: str, major_share: float
             ) -> tuple[str, int | None, int | None, bool]:
    """A description for an application of ``kind``: ``(text, proposed units, existing
    units, major)``; ``ref`` is the earlier permission a follow-up application refers to."""
    group = kind
    if kind == "full":
        draw = rng.random()
        group = "full_major" if draw < major_share else (
            "full_homes" if draw < major_share + 0.25 else "full")
    template, units = rng.choice(_PHRASES[group])
    lo, hi = _UNIT_RANGES.get(units or "", (0, 0))
    if kind == "prior_approval" and units:
        lo, hi = 2, 25
    n = int(10 * math.exp(rng.random() * 3.8)) if units == "major" else rng.randint(lo, hi)
    text = template
    if "{" in template:  # draw only the numbers the phrase uses
        values: dict[str, Any] = {"n": n, "ref": ref}
        for name in _FIELDS[template]:
            if name not in values:
                values[name] = _NUMBERS[name](rng)
        if "c2" in values:
            values["c2"] = values.setdefault("c", 3) + values["c2"]
        if units == "major":
            values["s"] = values.get("s", 0) + 6
        text = template.format(**values)
    proposed = None if units in (None, "existing") else n
    existing = {"existing": n, "conversion": 1, "new": 0}.get(units or "")
    major = units in ("major", "outline") or (units == "reserved" and n >= 10)
    return text, proposed, existing, major


def development_type(kind: str, text: str, units: int | None, area_ha: float) -> str:
    """The authority's own classification of the development (free text, as given)."""
    fixed = {"householder": "Householder", "trees": "Trees", "advertisement": "Advertisements",
             "listed_building": "Listed Building Consent", "prior_approval": "Prior Approval",
             "lawful_development": "Certificate of Lawfulness"}
    if kind in fixed:
        return fixed[kind]
    if units:
        return "Major Dwellings" if units >= 10 else "Minor Dwellings"
    if kind in ("full", "outline"):
        return "Major Other" if area_ha >= 1 else (
            "Change of Use" if text.startswith("Change of use") else "Minor Other")
    return "Other"


_OUTCOMES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "householder": (("approved_with_conditions", "approved", "refused"), (.86, .02, .12)),
    "full": (("approved_with_conditions", "approved", "refused", "split_decision"),
             (.78, .02, .18, .02)),
    "prior_approval": (("prior_approval_not_required", "approved", "prior_approval_refused"),
                       (.65, .1, .25)),
    "lawful_development": (("lawful", "not_lawful"), (.8, .2)),
    "conditions": (("approved", "refused", "split_decision"), (.93, .05, .02)),
    "non_material_amendment": (("approved", "refused"), (.9, .1)),
    "trees": (("no_objection", "approved", "refused"), (.7, .2, .1)),
    "advertisement": (("approved_with_conditions", "approved", "refused"), (.8, .1, .1)),
    "other": (("no_objection", "approved", "not_determined"), (.6, .3, .1)),
}
_OTHER_OUTCOMES = (("approved_with_conditions", "refused"), (.86, .14))
_OUTCOME_DRAWS = {kind: (list(codes), list(itertools.accumulate(weights)))
                  for kind, (codes, weights) in {**_OUTCOMES, "": _OTHER_OUTCOMES}.items()}


def outcome(rng: _Rng, kind: str) -> str:
    """What the authority decides on an application of ``kind`` (about 87 % approvals)."""
    return str(rng.pick(*_OUTCOME_DRAWS.get(kind, _OUTCOME_DRAWS[""])))


def agency(rng: _Rng, kind: str, major: bool) -> str:
    draw = rng.random()
    if major:
        return "committee" if draw < 0.65 else "mayor" if draw < 0.67 else (
            "secretary_of_state" if draw < 0.675 else "delegated")
    return "committee" if draw < (0.01 if kind == "householder" else 0.03) else "delegated"


def appeal_outcome(rng: _Rng) -> str:
    return rng.pick(list(_APPEAL_DECISIONS), [0.3, 0.97, 1.0])


_STREET_STEMS = (
    "Albert", "Victoria", "Church", "Station", "Park", "Queens", "Kings", "Mill", "Manor",
    "Elm", "Grove", "Chestnut", "Windsor", "Cambridge", "Stanley", "Richmond", "Princes",
    "Highfield", "Springfield", "Beech", "Oak", "Cedar", "Clarence", "Warwick", "York",
    "Denmark", "Salisbury", "Chatsworth", "Lansdowne", "Cromwell", "Nelson", "Wellington",
    "Hampton", "Sydney", "Milton", "Belmont", "Harrow", "Ashburnham", "Leyton", "Tottenham",
    "Balfour", "Brunswick", "Eversley", "Fernhill", "Glenthorne", "Holloway", "Ivydale",
    "St John's", "St Mary's", "Lordship", "Mount Pleasant", "Northcote", "Osborne", "Ravenscourt")
_STREET_SUFFIXES = ("Road", "Street", "Avenue", "Gardens", "Close", "Lane", "Terrace", "Grove",
                    "Crescent", "Place", "Way", "Rise", "Hill", "Walk", "Square", "Mews")
_BUILDINGS = {"small": ("Unit 3", "The Old Dairy", "Phoenix House", "Land rear of 24",
                        "Former Garage Site", "Rose Court", "Albion Works", "Victoria House",
                        "Ground Floor Shop"),
              "large": ("Former Gasworks Site", "Land at the rear of the station",
                        "Former Bus Depot", "Estate Regeneration Site", "Former Retail Park",
                        "Industrial Estate Site")}


def street_for(postcode: str) -> str:
    """A made-up but stable street name for a postcode (Code-Point Open has no streets)."""
    key = zlib.crc32(postcode.encode())
    stem = _STREET_STEMS[key % len(_STREET_STEMS)]
    return f"{stem} {_STREET_SUFFIXES[(key >> 8) % len(_STREET_SUFFIXES)]}"


def site_name(rng: _Rng, size: str) -> str:
    if size == "house" or (size == "small" and rng.random() < 0.6):
        return f"{rng.randint(1, 220)}{'A' if rng.random() < 0.04 else ''}"
    return rng.choice(_BUILDINGS[size])


def salesforce_id(number: int) -> str:
    return f"a0P8d0000{number:09d}"


_TEAMS = ("Planning Team North", "Planning Team South", "Major Projects", "Householder Team",
          "Trees and Landscape", "Conservation and Design")


def filler(column: str, app: Application) -> Any:
    """Values for the columns a configuration ignores (stable per application)."""
    if column in ("CASE_OFFICER", "Case Officer"):
        return _TEAMS[app.number % len(_TEAMS)]
    if column == "Alternative Reference":
        return f"PP-{app.number * 37 % 10**8:08d}" if app.number % 3 else None
    if column == "id":
        return app.number
    if column == "Id":
        return salesforce_id(app.number)
    if column == "attributes.type":
        return "arcusbuiltenv__Planning_Application__c"
    if column == "attributes.url":
        return ("/services/data/v58.0/sobjects/arcusbuiltenv__Planning_Application__c/"
                + salesforce_id(app.number))
    return None


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


class _Feed:
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


# --- writing -----------------------------------------------------------------------------


def _set_path(node: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value


def _pop_path(node: Any, path: str) -> Any:
    *parents, last = path.split(".")
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    return node.pop(last, None) if isinstance(node, dict) else None


def _feed_path(authority: Authority, config: dict[str, Any], out_dir: Path) -> Path:
    fmt = config["format"]
    if fmt == "json-paged":
        return out_dir / authority.slug / "page-1.json"
    return out_dir / f"{authority.slug}.{'csv' if fmt == 'csv' else 'json'}"


def _write(authority: Authority, config: dict[str, Any], records: Iterable[Any],
           out_dir: Path, header: list[str] | None = None) -> tuple[Path, int]:
    path = _feed_path(authority, config, out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if config["format"] == "csv":
        columns = header or list(config["columns"])
        count = 0
        with path.open("w", encoding=config["csv"].get("encoding", "utf-8"), newline="") as f:
            writer = csv.writer(f, delimiter=config["csv"].get("delimiter", ","))
            writer.writerow(columns)
            for rec in records:  # a dict by column, or already a list of cells
                writer.writerow(rec if isinstance(rec, list) else [rec.get(c, "") for c in columns])
                count += 1
        return path, count
    items = list(records)
    pages = [items[i:i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)] or [[]]
    if config["format"] == "json":
        pages = [items]
    for number, page in enumerate(pages, start=1):
        envelope: dict[str, Any] = {}
        _set_path(envelope, config["json"]["records"], page)
        if config["format"] == "json":
            envelope["total"] = len(items)
        else:
            nxt = f"page-{number + 1}.json" if number < len(pages) else None
            _set_path(envelope, config["json"]["next"], nxt)
        target = path if number == 1 else path.with_name(f"page-{number}.json")
        target.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    return path, len(items)


def write_feed(authority: Authority, rows: list[dict[str, Any]], out_dir: Path, *,
               rename: dict[str, str] | None = None, drop: list[str] | None = None) -> Path:
    """Write source-shaped rows in the authority's feed format; ``rename`` (old → new column
    or dotted key) and ``drop`` simulate a feed whose columns changed. Returns the feed's path
    (the first page of a paged feed)."""
    config = feed_config(authority)
    rename, drop = rename or {}, drop or []
    if config["format"] == "csv":  # column names, never paths
        changed = [{rename.get(k, k): v for k, v in row.items() if k not in drop}
                   for row in rows]
        header = [rename.get(c, c) for c in config["columns"] if c not in drop]
        header += [k for k in dict.fromkeys(k for row in changed for k in row)
                   if k not in header]
        return _write(authority, config, changed, out_dir, header)[0]
    changed = []
    for row in rows:
        row = copy.deepcopy(row)
        for old, new in rename.items():
            _set_path(row, new, _pop_path(row, old))
        for gone in drop:
            _pop_path(row, gone)
        changed.append(row)
    return _write(authority, config, changed, out_dir)[0]


def garbage(path: Path) -> Path:
    """Write an unparseable file for the format ``path``'s suffix names (a truncated,
    mis-encoded download)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_bytes(b'{"results": [{"reference": "21/0')
    else:  # bytes valid in neither UTF-8 nor cp1252, a NUL and an unterminated quote
        path.write_bytes(b'Reference,Proposal\r\n"21/01234,\x81\xff\x00\x9d Erection of')
    return path


# --- the historical feeds ----------------------------------------------------------------


def generate(out_dir: Path, places: dict[str, list[Place]], *, per_authority: int = 200,
             seed: int = 7, today: date) -> dict[str, Any]:
    """Write every authority's feed of ``per_authority`` applications (eight years up to
    ``today``) in its own shape, with its quirks injected; returns the manifest
    ``{slug: {path, format, rows, injected}}``, also written as ``manifest.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    for authority in load_authorities():
        manifest[authority.slug] = _generate_feed(
            authority, places[authority.lpa_code], out_dir, per_authority, seed, today)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def _generate_feed(authority: Authority, places: list[Place], out_dir: Path, n: int,
                   seed: int, today: date) -> dict[str, Any]:
    feed = _Feed(authority)
    rng = _Rng(f"{seed}:{authority.slug}:messiness")
    schedule: dict[int, list[str]] = defaultdict(list)
    for quirk in authority.quirks:
        # in the first three quarters, so a problem waiting for a suitable row finds one
        eligible = range(max(1, n * 3 // 4))
        count = min(len(eligible), max(1, round(QUIRK_RATES[quirk] * n)))
        for i in rng.sample(eligible, count):
            schedule[i].append(quirk)
    counts = dict.fromkeys(authority.quirks, 0)
    cutoff = datetime.combine(today, time(23, 59))
    sim = _Simulator(authority, places, seed)

    def records() -> Iterator[Any]:
        waiting: list[str] = []
        later: list[tuple[int, int, Any]] = []  # duplicates, emitted a bit later
        for i, app in enumerate(sim.history(n, today)):
            st = state_at(app, cutoff)
            vals = feed.values(app, st)
            waiting.extend(schedule.get(i, ()))
            done = next((q for q in waiting if q.endswith("_duplicates")
                         or feed.inject(q, app, st, vals, rng)), None)
            rec = feed.record(vals, app, rng) if feed.is_json else feed.row(vals, app, rng)
            yield rec
            if done:
                waiting.remove(done)
                counts[done] += 1
                copy_of = rec if done == "exact_duplicates" else _conflicting(feed, app, st, rng)
                if done.endswith("_duplicates"):
                    heapq.heappush(later, (i + rng.randint(1, 30), i, copy_of))
            while later and later[0][0] <= i:
                yield heapq.heappop(later)[2]
        while later:
            yield heapq.heappop(later)[2]

    path, rows = _write(authority, feed.config, records(), out_dir)
    return {"path": path.relative_to(out_dir).as_posix(), "format": feed.config["format"],
            "rows": rows, "injected": counts}


def _conflicting(feed: _Feed, app: Application, st: State, rng: _Rng) -> dict[str, Any]:
    """The same reference again, as an older export had it, with another description."""
    other = describe(rng, app.kind, app.ref, 0.0)[0]
    if other == app.description:
        other = f"{other} (revised plans)"
    older = state_at(app, st.last_updated - timedelta(days=rng.randint(1, 60)))
    vals = feed.values(app, older)
    vals["description"] = other
    return feed.record(vals, app, rng)


# --- live changes ------------------------------------------------------------------------


class Replay:
    """Live changes after ``today``: mostly new applications, then their validations,
    decisions and appeals — and the pending events of the historical applications that
    :func:`generate` wrote for the same ``seed`` and ``per_authority`` (``0``: only its own).
    Each record is the application's full row as its authority exports it, ``last_updated``
    advanced. New references are numbered from :data:`REPLAY_FIRST_NUMBER` in the year, so
    they never collide with a historical feed of up to 40,000 applications an authority,
    whatever its seed."""

    NEW_SHARE = 0.55
    #: Publication falls behind by at most this much before changes catch up first.
    MAX_BACKLOG = timedelta(days=21)

    def __init__(self, places: dict[str, list[Place]], *, seed: int = 7, today: date,
                 per_authority: int = 0) -> None:
        self._rng = _Rng(f"{seed}:replay")
        self._authorities = load_authorities()
        self._feeds = {a.slug: _Feed(a) for a in self._authorities}
        self._sims: dict[str, _Simulator] = {}
        self._queue: list[tuple[datetime, int, str, Application]] = []
        self._seq = itertools.count()
        cutoff = datetime.combine(today, time(23, 59))
        for authority in self._authorities:
            sim = _Simulator(authority, places[authority.lpa_code], seed)
            for app in sim.history(per_authority, today):
                self._push(authority.slug, app, cutoff)
            sim.floor = REPLAY_FIRST_NUMBER - 1
            sim.numbers = itertools.count(next(sim.numbers) + 5_000_000)
            self._sims[authority.slug] = sim
        weights = [REPLAY_WEIGHTS[AUTHORITY_DEMO[a.slug].profile]
                   for a in self._authorities]
        self._cum = list(itertools.accumulate(weights))
        self._indexes = list(range(len(weights)))
        self.clock = datetime.combine(today + timedelta(days=1), time(7, 0))

    def _push(self, slug: str, app: Application, after: datetime) -> None:
        nxt = next((at for at, _, _ in app.events if at > after), None)
        if nxt is not None:
            heapq.heappush(self._queue, (nxt, next(self._seq), slug, app))

    def next_batch(self, n: int) -> dict[str, list[dict[str, Any]]]:
        """The next ``n`` changes, grouped by authority slug, as source records."""
        batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
        rng = self._rng
        for _ in range(n):
            queue = self._queue
            overdue = bool(queue) and queue[0][0] < self.clock - self.MAX_BACKLOG
            if queue and (overdue or rng.random() >= self.NEW_SHARE):
                at, _, slug, app = heapq.heappop(queue)
                self.clock = max(self.clock, at)
                st = state_at(app, self.clock)
                st.last_updated = self.clock
                self._push(slug, app, self.clock)
            else:
                self.clock += timedelta(minutes=rng.randint(1, 12))
                if self.clock.hour >= 19 or self.clock.weekday() >= 5:
                    self.clock = datetime.combine(
                        _weekday(self.clock.date() + timedelta(days=1)), time(7, 0))
                slug = self._authorities[
                    rng.pick(self._indexes, self._cum)].slug
                app = self._sims[slug].application(self.clock.date(), self.clock)
                st = state_at(app, self.clock)
                self._push(slug, app, self.clock)
            feed = self._feeds[slug]
            batch[slug].append(feed.record(feed.values(app, st), app, rng))
        return dict(batch)

    def write(self, out_dir: Path, batch: dict[str, list[dict[str, Any]]]) -> dict[str, Path]:
        """Write each authority's delta in its own feed format; ``{slug: path}``."""
        by_slug = {a.slug: a for a in self._authorities}
        return {slug: write_feed(by_slug[slug], rows, out_dir) for slug, rows in batch.items()}
