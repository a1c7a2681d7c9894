"""Demo feeds of London's 35 planning authorities, exported the way their back-office systems
export them, with the real-world messiness — and a replay of live changes.

The feed configurations in ``feeds/`` are data for the ingestion pipeline;
:mod:`~citydata.services.planning.mappings` reads them for both, and every feed is rendered
through its configuration, so a configuration and its demo feed cannot drift apart. Each feed
row is the full state of one application at the source. docs/planning-feeds.md describes the
authorities, the shapes, the configuration format and the messiness catalogue.

This module writes the feeds (:func:`generate`, :func:`write_feed`) and replays live changes
(:class:`Replay`); the rest of the demo lives in
:mod:`~citydata.services.planning.demo_simulation` (places, applications and their
timelines), :mod:`~citydata.services.planning.demo_vocabulary` (what the sources say) and
:mod:`~citydata.services.planning.demo_rendering` (source records and messiness). Their public
names, and the mappings', are importable from here too.

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
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from citydata.services.planning.demo_rendering import (
    FREE_TEXT_STATUSES,
    IMPOSSIBLE_YEARS,
    NON_LONDON_POSTCODES,
    QUIRK_RATES,
    UNMAPPED_STATUSES,
    FeedRenderer,
)
from citydata.services.planning.demo_simulation import (
    CORPORATION_SECTORS,
    LLDC,
    OPDC,
    Application,
    DemoRandom,
    Place,
    Simulator,
    Site,
    State,
    london_places,
    state_at,
    working_day,
)
from citydata.services.planning.demo_vocabulary import (
    APPEAL_EVENTS,
    AUTHORITY_DEMO,
    FOLLOW_UPS,
    REFUSALS,
    REPLAY_WEIGHTS,
    SITE_SIZES,
    SMALL_SITE_KINDS,
    TYPE_SUFFIX,
    TYPE_WEIGHTS,
    UPPER_CASE_SHAPES,
    UPRN_SHARE,
    URLS,
    VOCABULARY,
    agency,
    appeal_outcome,
    describe,
    development_type,
    filler,
    meaning,
    outcome,
    salesforce_id,
    site_name,
    street_for,
    vocabulary,
)
from citydata.services.planning.mappings import (
    FEEDS_DIR,
    Authority,
    deep_merge,
    feed_config,
    load_authorities,
    normalise_value,
    value_rules,
)

__all__ = [
    "APPEAL_EVENTS", "AUTHORITY_DEMO", "CORPORATION_SECTORS", "FEEDS_DIR", "FOLLOW_UPS",
    "FREE_TEXT_STATUSES", "IMPOSSIBLE_YEARS", "LLDC", "NON_LONDON_POSTCODES", "OPDC",
    "PAGE_SIZE", "QUIRK_RATES", "REFUSALS", "REPLAY_FIRST_NUMBER", "REPLAY_WEIGHTS",
    "SITE_SIZES", "SMALL_SITE_KINDS", "TYPE_SUFFIX", "TYPE_WEIGHTS", "UNMAPPED_STATUSES",
    "UPPER_CASE_SHAPES", "UPRN_SHARE", "URLS", "VOCABULARY", "Application", "Authority",
    "FeedRenderer", "Place", "Replay", "Simulator", "Site", "State", "agency", "appeal_outcome",
    "deep_merge", "describe", "development_type", "feed_config", "filler", "garbage",
    "generate", "load_authorities", "london_places", "meaning", "normalise_value", "outcome",
    "salesforce_id", "site_name", "state_at", "street_for", "value_rules", "vocabulary",
    "write_feed",
]

#: Records per page of a ``json-paged`` feed.
PAGE_SIZE = 250
#: The replay's new references start at this number in each year (see :class:`Replay`).
REPLAY_FIRST_NUMBER = 5000


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
    feed = FeedRenderer(authority)
    rng = DemoRandom(f"{seed}:{authority.slug}:messiness")
    schedule: dict[int, list[str]] = defaultdict(list)
    for quirk in authority.quirks:
        # in the first three quarters, so a problem waiting for a suitable row finds one
        eligible = range(max(1, n * 3 // 4))
        count = min(len(eligible), max(1, round(QUIRK_RATES[quirk] * n)))
        for i in rng.sample(eligible, count):
            schedule[i].append(quirk)
    counts = dict.fromkeys(authority.quirks, 0)
    cutoff = datetime.combine(today, time(23, 59))
    sim = Simulator(authority, places, seed)

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


def _conflicting(feed: FeedRenderer, app: Application, st: State, rng: DemoRandom
                 ) -> dict[str, Any]:
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
        self._rng = DemoRandom(f"{seed}:replay")
        self._authorities = load_authorities()
        self._feeds = {a.slug: FeedRenderer(a) for a in self._authorities}
        self._sims: dict[str, Simulator] = {}
        self._queue: list[tuple[datetime, int, str, Application]] = []
        self._seq = itertools.count()
        cutoff = datetime.combine(today, time(23, 59))
        for authority in self._authorities:
            sim = Simulator(authority, places[authority.lpa_code], seed)
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
                        working_day(self.clock.date() + timedelta(days=1)), time(7, 0))
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
