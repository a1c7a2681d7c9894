"""The demo feeds' applications, simulated without any rendering: where in London each
authority decides (:func:`london_places`), what is applied for on which site, and what becomes
of it — validation, consultation, decision or withdrawal, and appeals — as a timeline of
published events (:class:`Simulator`, :func:`state_at`).

The words and numbers drawn come from :mod:`~citydata.services.planning.demo_vocabulary`.
Simplifications (documented in docs/planning-feeds.md): the development corporations' areas
are postcode sectors; street names are made up per postcode; a site is a small quadrilateral
near its postcode's point.
"""

from __future__ import annotations

import itertools
import math
import zlib
from bisect import bisect
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from typing import Any, NamedTuple

from citydata.geo.reference import iter_postcodes
from citydata.services.planning.demo_vocabulary import (
    APPEAL_EVENTS,
    AUTHORITY_DEMO,
    FOLLOW_UPS,
    REFUSALS,
    SITE_SIZES,
    SMALL_SITE_KINDS,
    TYPE_SUFFIX,
    TYPE_WEIGHTS,
    UPRN_SHARE,
    agency,
    appeal_outcome,
    describe,
    development_type,
    outcome,
    site_name,
    street_for,
)
from citydata.services.planning.mappings import Authority
from citydata.settings import Settings

LLDC, OPDC = "E60000329", "E60000330"
#: The development corporations' areas as postcode sectors — a simplification of their real
#: boundaries (LLDC: Queen Elizabeth Olympic Park, Stratford, Hackney Wick, Fish Island; OPDC:
#: Old Oak, Park Royal, North Acton). These sectors are taken out of their boroughs.
CORPORATION_SECTORS: dict[str, tuple[str, ...]] = {
    LLDC: ("E20 1", "E20 2", "E20 3", "E15 2", "E9 5", "E3 2"),
    OPDC: ("NW10 6", "NW10 7", "W3 6"),
}


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


def working_day(day: date) -> date:
    """``day``, or the Monday after it when it falls on a weekend."""
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day


class DemoRandom(Random):
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


class Simulator:
    """One authority's applications: what is applied for, where, and what becomes of it."""

    def __init__(self, authority: Authority, places: list[Place], seed: int) -> None:
        self.authority, self.places = authority, places
        self.rng = DemoRandom(f"{seed}:{authority.slug}:applications")
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
            shifted = working_day(day)
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
            publish("withdrawn", working_day(day), rng.randint(0, 3))
            return
        draw = rng.random()  # most within the statutory period, a long tail of late ones
        factor = rng.uniform(0.75, 1.0) if draw < 0.6 else (
            rng.uniform(1.0, 2.0) if draw < 0.92 else rng.uniform(2.0, 5.0))
        decided = working_day(valid + timedelta(days=int(target * factor * self.speed)))
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
                publish("appeal_decided", working_day(started + timedelta(
                    days=rng.randint(60, 260))), rng.randint(1, 10))
