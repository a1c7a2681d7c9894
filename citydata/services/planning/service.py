"""The Planning Datahub as a whole: register the authorities' feeds, ingest them, publish the
result as a catalog dataset, load the demo, and replay live changes.

The catalog dataset ``london-planning-applications`` (Greater London Authority) carries a
snapshot of every application (a rows resource, and an OGC API collection through its
longitude/latitude columns), refreshed after ingests; the live, filterable view is
``/api/v1/planning``.
"""

from __future__ import annotations

import csv
import json
import logging
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from citydata.services.planning import sources
from citydata.services.planning.harmonise import Authority
from citydata.services.planning.ingest import STANDARD_FIELDS, authority_of, run_feed
from citydata.services.planning.standard import PLANNING_APPLICATIONS
from citydata.storage.models import RefMeta
from citydata.storage.models_planning import PlanningApplication, PlanningFeed

log = logging.getLogger("citydata.planning")

DATASET = "london-planning-applications"
PUBLISHER = "greater-london-authority"
#: Bump when the demo generator or its feed mappings change, so `make run` regenerates.
DEMO_VERSION = "1"
DEMO_SEED = 7
DEMO_PER_AUTHORITY = 250
REPLAY_META = "planning_replay_batches"
PUBLISHED_META = "planning_published_count"
#: While replaying, the catalog dataset's snapshot is refreshed at most this often.
PUBLISH_EVERY_SECONDS = 600.0


def feeds_dir(settings: Any) -> Path:
    return Path(settings.home) / "planning" / "feeds"


def register_demo_feeds(platform: Any, out_dir: Path, manifest: dict[str, Any]) -> int:
    from citydata.services.planning.mappings import feed_config, load_authorities

    changed = 0
    for authority in load_authorities():
        entry = manifest.get(authority.slug)
        if entry is None:
            continue
        changed += sources.register(platform.db, authority, feed_config(authority),
                                  str(out_dir / entry["path"]))
    return changed


def ingest_all(platform: Any, *, kind: str = "full", today: date | None = None,
               only: list[str] | None = None, force: bool = False, workers: int = 1,
               progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run every registered feed (or ``only`` these) once; returns the run reports.

    ``workers`` > 1 ingests feeds in that many processes at once (harmonising is CPU-bound;
    each feed is still its own transaction)."""
    with platform.db.session() as session:
        slugs = [f.slug for f in sources.list_feeds(session) if only is None or f.slug in only]
    if workers > 1 and len(slugs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        reports_by_slug: dict[str, dict[str, Any]] = {}
        chunks = [slugs[i::workers] for i in range(workers)]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            jobs = [pool.submit(_ingest_in_worker, platform.settings.model_dump(), chunk, kind,
                                today, force) for chunk in chunks if chunk]
            for job in jobs:
                for report in job.result():
                    reports_by_slug[report["feed"]] = report
                    _say(progress, report)
        return [reports_by_slug[s] for s in slugs]
    return _ingest(platform, slugs, kind=kind, today=today, force=force, progress=progress)


def _say(progress: Callable[[str], None] | None, report: dict[str, Any]) -> None:
    if progress:
        progress(f"planning {report['feed']}: {report['status']} ({report['created']} new, "
                 f"{report['updated']} changed, {report['quarantined']} quarantined)")


def _ingest(platform: Any, slugs: list[str], *, kind: str, today: date | None, force: bool,
            progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    with platform.db.session() as session:
        postcodes = sources.london_postcodes(session)
        gazetteers = {}
        for slug in slugs:
            feed = session.get(PlanningFeed, slug)
            assert feed is not None
            gazetteers[slug] = sources.gazetteer_for(session, authority_of(feed), postcodes)
    rules = sources.load_value_rules()
    reports = []
    for slug in slugs:
        report = run_feed(platform.db, slug, kind=kind, gazetteer=gazetteers[slug],
                          value_rules=rules, today=today, force=force,
                          max_bytes=platform.settings.max_upload_bytes)
        _say(progress, report)
        reports.append(report)
    return reports


def _ingest_in_worker(settings: dict[str, Any], slugs: list[str], kind: str,
                      today: date | None, force: bool) -> list[dict[str, Any]]:
    from citydata.platform import Platform
    from citydata.settings import Settings

    platform = Platform(Settings(**settings))
    try:
        return _ingest(platform, slugs, kind=kind, today=today, force=force)
    finally:
        platform.close()


def publish_dataset(platform: Any, progress: Callable[[str], None] | None = None) -> dict:
    """Publish the applications as the catalog dataset's CSV (a new version each time).

    The dataset declares the standard, and the catalog holds it to it: an application that
    lacks a value the standard requires (its feed sent none, or one the pipeline flagged) is
    left out of the file — it is in the live API, and its issue is on the scorecard."""
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx
    from citydata.catalog.publish import publish_file

    columns = [*STANDARD_FIELDS, "longitude", "latitude"]
    with tempfile.TemporaryDirectory(prefix="citydata-planning-") as tmp:
        path = Path(tmp) / "planning-applications.csv"
        with platform.db.session() as session, path.open("w", newline="",
                                                         encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            table = PlanningApplication.__table__
            cols = [table.c[c] for c in (*STANDARD_FIELDS, "lon", "lat")]
            complete = [table.c[f["name"]].is_not(None) for f in PLANNING_APPLICATIONS["fields"]
                        if f.get("constraints", {}).get("required")]
            stmt = select(*cols).where(*complete).order_by(table.c.id).execution_options(
                yield_per=5000)
            for row in session.execute(stmt):
                writer.writerow(["" if v is None else v for v in row])
        with platform.db.session() as session:
            ctx = Ctx(session, Actor.system(), platform.settings, platform.files)
            ds, _res = publish_file(
                ctx, path, org=PUBLISHER, title="London planning applications",
                dataset_name=DATASET, resource_name="planning-applications.csv",
                metadata={
                    "notes": "Every planning application to London's 35 local planning "
                    "authorities, normalised to the London planning application standard by "
                    "the Planning Datahub. Live and filterable at /planning and "
                    "/api/v1/planning; this file is a snapshot refreshed after ingests, of "
                    "the applications that meet the standard (those lacking a required value "
                    "are in the live API and on the data quality scorecard).",
                    "license_id": "OGL-UK-3.0",
                    "conforms_to": "london-planning-applications",
                },
            )
    if progress:
        progress(f"planning: published {DATASET}")
    return ds


def load_demo(platform: Any, progress: Callable[[str], None] | None = None,
              per_authority: int = DEMO_PER_AUTHORITY, today: date | None = None
              ) -> dict[str, Any]:
    """Generate the 35 authorities' demo feeds (once), register and ingest them, publish the
    dataset. Idempotent: a second run finds every export unchanged."""
    from citydata.services.planning import demo_feeds

    today = today or date.today()
    out = feeds_dir(platform.settings)
    manifest_path = out / "manifest.json"
    stamp_path = out / "version.txt"
    current = _demo_stamp(platform.settings)
    if not manifest_path.exists() or current is None or \
            current[:3] != (DEMO_VERSION, DEMO_SEED, per_authority):
        if progress:
            progress("planning: generating the 35 authorities' demo feeds")
        places = demo_feeds.london_places(platform.settings)
        out.mkdir(parents=True, exist_ok=True)
        demo_feeds.generate(out, places, per_authority=per_authority, seed=DEMO_SEED,
                            today=today)
        stamp_path.write_text(f"{DEMO_VERSION}:{DEMO_SEED}:{per_authority}:{today}")
    manifest = json.loads(manifest_path.read_text())
    register_demo_feeds(platform, out, manifest)
    reports = ingest_all(platform, today=today)
    changed = sum(r["created"] + r["updated"] for r in reports)
    with platform.db.session() as session:
        total = session.scalar(select(func.count()).select_from(PlanningApplication)) or 0
        never = session.get(RefMeta, PUBLISHED_META) is None
    # Published after an ingest that changed something (the live replay refreshes its own).
    if total and (never or changed > 0):
        publish_dataset(platform, progress)
        with platform.db.session() as session:
            meta = session.get(RefMeta, PUBLISHED_META)
            if meta is None:
                session.add(RefMeta(key=PUBLISHED_META, value=str(total)))
            else:
                meta.value = str(total)
    return {"planning_feeds": len(reports), "planning_applications_changed": changed,
            "planning_quarantined": sum(r["quarantined"] for r in reports)}


def _demo_stamp(settings: Any) -> tuple[str, int, int, date] | None:
    """How the demo feeds on disk were generated: version, seed, size and day."""
    path = feeds_dir(settings) / "version.txt"
    try:
        version, seed, size, day = path.read_text().strip().split(":")
        return version, int(seed), int(size), date.fromisoformat(day)
    except (OSError, ValueError):
        return None


class Replayer:
    """Live changes at a chosen rate: each tick writes a small delta export per authority (in
    its own shape) and ingests it like any feed — so the events are the pipeline's own."""

    def __init__(self, platform: Any) -> None:
        from citydata.services.planning import demo_feeds

        self.platform = platform
        stamp = _demo_stamp(platform.settings)
        _version, seed, size, day = stamp or (DEMO_VERSION, DEMO_SEED, DEMO_PER_AUTHORITY,
                                              date.today())
        # The replay continues the demo's history (its undecided applications get decided).
        self.today = day
        self.places = demo_feeds.london_places(platform.settings)
        self.replay = demo_feeds.Replay(self.places, seed=seed, today=day, per_authority=size)
        self.dir = feeds_dir(platform.settings) / "replay"
        self.dir.mkdir(parents=True, exist_ok=True)
        with platform.db.session() as session:
            meta = session.get(RefMeta, REPLAY_META)
            done = int(meta.value) if meta is not None else 0
            self.postcodes = sources.london_postcodes(session)
            self.gazetteers = {f.slug: sources.gazetteer_for(session, authority_of(f),
                                                           self.postcodes)
                               for f in sources.list_feeds(session)}
        for _ in range(done):  # pick up where the last process stopped
            self.replay.next_batch(1)
        self.done = done

    def tick(self) -> list[dict[str, Any]]:
        """One change somewhere in London, through the pipeline."""
        batch = self.replay.next_batch(1)
        paths = self.replay.write(self.dir, batch)
        reports = []
        for slug, path in paths.items():
            if slug not in self.gazetteers:
                continue
            reports.append(run_feed(self.platform.db, slug, location=str(path), kind="delta",
                                    gazetteer=self.gazetteers[slug], today=self.today))
            Path(path).unlink(missing_ok=True)
        self.done += 1
        with self.platform.db.session() as session:
            meta = session.get(RefMeta, REPLAY_META)
            if meta is None:
                session.add(RefMeta(key=REPLAY_META, value=str(self.done)))
            else:
                meta.value = str(self.done)
        return reports


def authorities(session: Any) -> list[Authority]:
    return [authority_of(f) for f in session.scalars(select(PlanningFeed))]


async def replay_forever(platform: Any, per_minute: float) -> None:
    """The server's replay: one change every 60/per_minute seconds, ingested in a worker
    thread; a failure is logged and the replay goes on."""
    import asyncio
    import time

    from starlette.concurrency import run_in_threadpool

    replayer: Replayer | None = None
    published = time.monotonic()
    changed = False
    while True:
        await asyncio.sleep(60.0 / per_minute)
        try:
            if replayer is None:
                replayer = await run_in_threadpool(Replayer, platform)
            reports = await run_in_threadpool(replayer.tick)
            changed = changed or any(r["created"] or r["updated"] for r in reports)
            if changed and time.monotonic() - published > PUBLISH_EVERY_SECONDS:
                await run_in_threadpool(publish_dataset, platform)
                published, changed = time.monotonic(), False
        except Exception:  # the replay is demo data: it must never take the server down
            log.exception("planning replay failed")
