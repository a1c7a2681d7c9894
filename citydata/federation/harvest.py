"""Harvest sources and jobs: gather → fetch → import, on a schedule, with a report.

- **gather** lists every dataset at the source (id and modification time): what is new,
  what changed, what vanished;
- **fetch** asks for the records changed since the source's high-water mark (all of them on
  the first run or with ``full``), plus any listed record that is new to us but was not in
  that answer;
- **import** turns records into datasets (:mod:`citydata.federation.importer`) page by
  page, each page in its own transaction — so a job that dies loses at most the page it was
  on, and the next run resumes: everything already imported is unchanged and skipped.

Datasets that vanished from the source are withdrawn. A failing source is retried with
exponential back-off (1, 2, 4 … minutes, at most 12 hours); a scheduled source runs again
when its interval is up. Nothing a source sends can crash the worker: a broken source fails
its job with a message, a broken record is reported with the source record and skipped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from queue import Empty, Full, Queue
from typing import Any

import httpx
from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from citydata.access.actors import Actor
from citydata.access.policy import require_org_admin
from citydata.catalog.context import Ctx
from citydata.catalog.names import Errors, check_name, check_text
from citydata.catalog.organizations import get_organization
from citydata.errors import Conflict, NotFound, ValidationError
from citydata.faults import pause_point
from citydata.federation import importer
from citydata.federation.fetch import Fetcher, Limits
from citydata.federation.records import HarvestRecord, RecordError, SourceError
from citydata.net import AddressRefused, public_addresses
from citydata.platform import Platform
from citydata.settings import Settings
from citydata.storage.models import Dataset, Organization, utcnow
from citydata.storage.models_federation import (
    FederationNode,
    HarvestError,
    HarvestJob,
    HarvestRecordRow,
    HarvestSource,
)

log = logging.getLogger("citydata.harvest")

KINDS = {"ckan": "CKAN portal (Action API)", "dcat": "DCAT catalog (JSON-LD, Turtle, RDF/XML)",
         "node": "citydata node (signed)"}
SCHEDULES = {"manual": None, "hourly": timedelta(hours=1), "daily": timedelta(days=1),
             "weekly": timedelta(weeks=1)}
PAGE = 500
MAX_ERRORS_KEPT = 1000
MAX_STRAGGLERS = 2000
#: A running job whose heartbeat is older than this died with its process.
STALE_JOB = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=12)


# ---------------------------------------------------------------- sources


def source_dict(source: HarvestSource, *, last_job: HarvestJob | None = None,
                with_config: bool = False) -> dict[str, Any]:
    config = json.loads(source.config or "{}")
    out: dict[str, Any] = {
        "name": source.name,
        "title": source.title,
        "kind": source.kind,
        "url": source.url,
        "schedule": source.schedule,
        "state": source.state,
        "next_run_at": source.next_run_at.isoformat() if source.next_run_at else None,
        "failures": source.failures,
        "last_success_at": source.last_success_at.isoformat() if source.last_success_at
        else None,
        "include_private": bool(config.get("include_private")),
        **staleness(source, source.last_success_at),
    }
    if with_config:
        out["config"] = {k: ("***" if k == "api_key" and v else v) for k, v in config.items()}
    if last_job is not None:
        out["last_job"] = job_dict(last_job)
    return out


def staleness(source: HarvestSource, when: datetime | None) -> dict[str, Any]:
    """How old the harvested copy is, and whether that is older than its schedule promises
    (twice the interval; a manual source is never called stale)."""
    if when is None:
        return {"age_seconds": None, "stale": source.schedule != "manual"}
    age = utcnow() - when
    interval = SCHEDULES.get(source.schedule)
    return {"age_seconds": int(age.total_seconds()),
            "stale": bool(interval is not None and age > 2 * interval)}


def get_source(session: Session, name: str) -> HarvestSource:
    source = session.scalar(select(HarvestSource).where(HarvestSource.name == name,
                                                        HarvestSource.state == "active"))
    if source is None:
        raise NotFound(f"No harvest source named {name!r}")
    return source


def list_sources(session: Session) -> list[tuple[HarvestSource, HarvestJob | None]]:
    sources = list(session.scalars(select(HarvestSource).where(
        HarvestSource.state == "active").order_by(HarvestSource.name)))
    return [(s, last_job(session, s)) for s in sources]


def last_job(session: Session, source: HarvestSource) -> HarvestJob | None:
    return session.scalar(select(HarvestJob).where(HarvestJob.source_id == source.id)
                          .order_by(HarvestJob.started.desc()).limit(1))


def guards_private(settings: Settings) -> bool:
    """Whether ckan/dcat sources on non-public addresses are refused (production, unless
    ``harvest_allow_private``); node sources never are."""
    return settings.env == "production" and not settings.harvest_allow_private


def _check_url(errors: Errors, value: object, settings: Settings) -> str:
    url = value.strip() if isinstance(value, str) else ""
    if not url.startswith(("http://", "https://")) or len(url) > 1000 or " " in url:
        errors.add("url", "An http(s) URL of the source")
    elif guards_private(settings):
        # Checked again, after resolving, at every connection (fetch.py): this is so that
        # the person adding the source hears of it now rather than at the first harvest.
        try:
            parsed = httpx.URL(url)
            host, port = parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)
        except (httpx.InvalidURL, ValueError):
            errors.add("url", "Not a valid URL (check the host and port)")
        else:
            try:
                public_addresses(host, port)
            except AddressRefused as exc:
                errors.add("url", f"Refused: {exc} (harvest sources must be at public "
                                  "addresses)")
    return url.rstrip("/") if url.endswith("/") and "?" not in url else url


def add_source(ctx: Ctx, data: dict[str, Any]) -> HarvestSource:
    """A new source; its organisation's administrators (or a sysadmin) may add it."""
    if not isinstance(data, dict):
        raise ValidationError("Expected a JSON object")
    errors = Errors()
    name = check_name(errors, "name", data.get("name"))
    kind = data.get("kind") or ""
    if kind not in ("ckan", "dcat"):
        errors.add("kind", "Must be ckan or dcat (node sources are made by registration)")
    url = _check_url(errors, data.get("url"), ctx.settings)
    schedule = data.get("schedule") or "manual"
    if schedule not in SCHEDULES:
        errors.add("schedule", f"Must be one of: {', '.join(SCHEDULES)}")
    title = check_text(errors, "title", data.get("title") or name, 300)
    api_key = data.get("api_key") or ""
    if not isinstance(api_key, str) or len(api_key) > 500:
        errors.add("api_key", "A string of at most 500 characters")
    include_private = str(data.get("include_private", "")).lower() in ("true", "1", "yes", "on")
    if include_private and not api_key:
        errors.add("include_private", "Private records need an API key that authorises "
                                      "this harvester at the source")
    org = None
    if not data.get("organization"):
        errors.add("organization", "Name the organisation harvested datasets belong to")
    errors.raise_if_any("Cannot add the harvest source")
    org = get_organization(ctx.session, str(data["organization"]))
    require_org_admin(ctx.actor, org.id)
    if ctx.session.scalar(select(HarvestSource.id).where(HarvestSource.name == name)):
        raise Conflict(f"A harvest source named {name!r} already exists",
                       fields={"name": ["Already in use"]})
    source = HarvestSource(
        name=name, title=title, kind=kind, url=url, organization_id=org.id, schedule=schedule,
        config=json.dumps({"api_key": api_key, "include_private": include_private}),
        next_run_at=utcnow() if schedule != "manual" else None,
    )
    ctx.session.add(source)
    ctx.session.flush()
    return source


EDITABLE = ("title", "url", "schedule", "api_key", "include_private")


def update_source(ctx: Ctx, name: str, data: dict[str, Any]) -> HarvestSource:
    """Change a source's title, URL, schedule or credentials (its administrators). A new
    URL starts afresh: the next run is a full one."""
    if not isinstance(data, dict):
        raise ValidationError("Expected a JSON object")
    source = get_source(ctx.session, name)
    require_org_admin(ctx.actor, source.organization_id)
    unknown = sorted(set(data) - set(EDITABLE))
    errors = Errors()
    if unknown:
        errors.add("form", f"Cannot change {', '.join(unknown)}; only {', '.join(EDITABLE)}")
    config = json.loads(source.config or "{}")
    if "title" in data:
        source.title = check_text(errors, "title", data["title"] or source.name, 300)
    if "url" in data:
        if source.kind == "node":
            errors.add("url", "A node's address comes from its registration")
        url = _check_url(errors, data["url"], ctx.settings)
        if url != source.url:
            source.url, source.high_water, source.last_success_at = url, "", None
    if "schedule" in data:
        if data["schedule"] not in SCHEDULES:
            errors.add("schedule", f"Must be one of: {', '.join(SCHEDULES)}")
        else:
            source.schedule = data["schedule"]
            interval = SCHEDULES[source.schedule]
            source.next_run_at = (utcnow() if interval and source.last_success_at is None
                                  else source.last_success_at + interval
                                  if interval and source.last_success_at else None)
    if "api_key" in data:
        if not isinstance(data["api_key"], str) or len(data["api_key"]) > 500:
            errors.add("api_key", "A string of at most 500 characters")
        else:
            config["api_key"] = data["api_key"]
    if "include_private" in data:
        config["include_private"] = str(data["include_private"]).lower() in (
            "true", "1", "yes", "on")
    if config.get("include_private") and not config.get("api_key"):
        errors.add("include_private", "Private records need an API key that authorises "
                                      "this harvester at the source")
    errors.raise_if_any("Cannot change the harvest source")
    source.config = json.dumps(config)
    source.modified = utcnow()
    return source


def remove_source(ctx: Ctx, name: str, *, withdraw_datasets: bool = True) -> int:
    source = get_source(ctx.session, name)
    require_org_admin(ctx.actor, source.organization_id)
    gone = 0
    if withdraw_datasets:
        ids = list(ctx.session.scalars(select(HarvestRecordRow.remote_id).where(
            HarvestRecordRow.source_id == source.id, HarvestRecordRow.state == "active")))
        gone = importer.withdraw(ctx.with_actor(Actor.system()), source, ids)
    source.state = "deleted"
    source.name = f"{source.name}~deleted~{source.id[:8]}"[:100]
    source.next_run_at = None
    return gone


# ---------------------------------------------------------------- jobs


def job_dict(job: HarvestJob, errors: list[HarvestError] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job.id,
        "status": job.status,
        "stage": job.stage,
        "incremental": bool(job.incremental),
        "started": job.started.isoformat(),
        "finished": job.finished.isoformat() if job.finished else None,
        "added": job.added,
        "updated": job.updated,
        "withdrawn": job.withdrawn,
        "unchanged": job.unchanged,
        "skipped": job.skipped,
        "errors": job.errors,
        "message": job.message,
    }
    if errors is not None:
        out["error_records"] = [
            {"stage": e.stage, "remote_id": e.remote_id, "message": e.message,
             "source_record": e.source_record} for e in errors
        ]
    return out


def job_report(session: Session, job_id: str) -> dict[str, Any]:
    job = session.get(HarvestJob, job_id)
    if job is None:
        raise NotFound(f"No harvest job {job_id!r}")
    errors = list(session.scalars(select(HarvestError).where(HarvestError.job_id == job.id)
                                  .order_by(HarvestError.at).limit(MAX_ERRORS_KEPT)))
    source = session.get(HarvestSource, job.source_id)
    return {"source": source.name if source else None, **job_dict(job, errors)}


def jobs_of(session: Session, source: HarvestSource, limit: int = 20) -> list[HarvestJob]:
    return list(session.scalars(select(HarvestJob).where(HarvestJob.source_id == source.id)
                                .order_by(HarvestJob.started.desc()).limit(limit)))


def _limits(platform: Platform) -> Limits:
    s = platform.settings
    return Limits(max_bytes=s.harvest_max_bytes, timeout=s.harvest_timeout_seconds,
                  max_pages=s.harvest_max_pages)


def adapter_for(platform: Platform, source: HarvestSource, node: FederationNode | None) -> Any:
    from citydata.federation.ckan_source import CkanSource
    from citydata.federation.dcat_source import DcatSource

    config = json.loads(source.config or "{}")
    limits = _limits(platform)
    if source.kind == "node":
        if node is None or node.status != "active":
            raise SourceError("The node this source harvests is no longer registered, or is "
                              "suspended")
        from citydata.federation.nodes import fetcher_for

        return CkanSource(node.url, fetcher_for(platform.settings, node, limits),
                          page_size=int(config.get("page_size") or 1000))
    headers = {"Authorization": config["api_key"]} if config.get("api_key") else None
    fetcher = Fetcher(limits, headers=headers,
                      guard_private=guards_private(platform.settings))
    if source.kind == "ckan":
        return CkanSource(source.url, fetcher, api_key=config.get("api_key") or "",
                          include_private=bool(config.get("include_private")),
                          page_size=int(config.get("page_size") or 1000))
    return DcatSource(source.url, fetcher)


def close_interrupted(session: Session, source_id: str | None = None) -> int:
    """Report running jobs whose process died (no heartbeat for :data:`STALE_JOB`) as failed;
    returns how many. A live job beats at every stage and page, so this is safe to run from
    any number of processes: the one conditional UPDATE closes each dead job once, and never
    a job whose process is still at work. Every page a dead job committed stays; the next job
    of its source skips what is unchanged and resumes from there."""
    now = utcnow()
    dead = [HarvestJob.status == "running", HarvestJob.heartbeat < now - STALE_JOB]
    if source_id is not None:
        dead.append(HarvestJob.source_id == source_id)
    if session.scalar(select(HarvestJob.id).where(*dead).limit(1)) is None:
        return 0  # the usual case: no write (and no SQLite write lock) every tick
    message = (literal("Interrupted in the ") + HarvestJob.stage
               + literal(" stage (the process stopped); the next job resumes it"))
    result = session.execute(update(HarvestJob).where(*dead)
                             .values(status="failed", finished=now, message=message)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _start(platform: Platform, name: str) -> tuple[str, str]:
    """Open a job for the source; a dead earlier job is reported interrupted first."""
    with platform.db.session() as session:
        source = get_source(session, name)
        close_interrupted(session, source.id)
        running = session.scalar(select(HarvestJob).where(
            HarvestJob.source_id == source.id, HarvestJob.status == "running"))
        if running is not None:
            raise Conflict(f"A harvest of {name!r} is already running (job {running.id})")
        job = HarvestJob(source_id=source.id, status="running", stage="gather")
        session.add(job)
        session.flush()
        return source.id, job.id


class _Run:
    """One harvest job's state while it runs (counts, errors, heartbeat)."""

    def __init__(self, platform: Platform, source_id: str, job_id: str) -> None:
        self.platform = platform
        self.source_id = source_id
        self.job_id = job_id
        self.out = importer.Outcome()
        self.withdrawn = 0
        self.errors_kept = 0
        #: What this source's records were when the run began: remote id -> (state,
        #: dataset active, content hash), and their row ids.
        self.known: dict[str, tuple[str, bool, str]] = {}
        self.row_ids: dict[str, str] = {}

    def stage(self, stage: str) -> None:
        with self.platform.db.session() as session:
            session.execute(update(HarvestJob).where(HarvestJob.id == self.job_id)
                            .values(stage=stage, heartbeat=utcnow()))

    def keep_errors(self, session: Session, stage: str, errors: list[RecordError]) -> None:
        for err in errors:
            if self.errors_kept < MAX_ERRORS_KEPT:
                session.add(HarvestError(job_id=self.job_id, stage=stage,
                                         remote_id=err.remote_id[:1000], message=err.message,
                                         source_record=err.source_record[:8000]))
            self.errors_kept += 1

    def counts(self) -> dict[str, int]:
        return {"added": self.out.added, "updated": self.out.updated,
                "unchanged": self.out.unchanged, "skipped": self.out.skipped,
                "withdrawn": self.withdrawn, "errors": self.errors_kept}


def _pages(items: Iterator[HarvestRecord | RecordError], size: int
           ) -> Iterator[list[HarvestRecord | RecordError]]:
    page: list[HarvestRecord | RecordError] = []
    for item in items:
        page.append(item)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


def _prefetched(pages: Iterator[list[HarvestRecord | RecordError]], depth: int = 2
                ) -> Iterator[list[HarvestRecord | RecordError]]:
    """Fetch the next pages from the source in a thread while this one imports the current
    page: waiting on the network overlaps with writing to the database. Errors of the source
    (SourceError and anything else) come out of the iterator where they happened."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        queue.put(("page", page), timeout=0.5)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(("done", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            queue.put(("error", exc))

    worker = threading.Thread(target=produce, name="harvest-fetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = queue.get()
            if kind == "page":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(Empty):
                queue.get(timeout=0.1)
        worker.join()


def _import_page(run: _Run, page: list[HarvestRecord | RecordError], seen: set[str]) -> str:
    """Import one page in one transaction; returns the newest modification time in it."""
    platform = run.platform
    newest = ""
    with platform.db.session() as session:
        # The heartbeat is the page's first statement, and a write: on SQLite the driver
        # opens the transaction only at a write, and a savepoint (the importer keeps one per
        # record) opened outside a transaction commits when it is released — the page would
        # no longer be all or nothing.
        session.execute(update(HarvestJob).where(HarvestJob.id == run.job_id)
                        .values(heartbeat=utcnow()))
        source = session.get(HarvestSource, run.source_id)
        assert source is not None
        org = session.get(Organization, source.organization_id)
        assert org is not None
        config = json.loads(source.config or "{}")
        ctx = Ctx(session, Actor.system(), platform.settings, platform.files)
        records = [r for r in page if isinstance(r, HarvestRecord)]
        errors = [r for r in page if isinstance(r, RecordError)]
        seen.update(e.remote_id for e in errors)  # reported once, not fetched again
        before = len(run.out.errors)
        unique: list[HarvestRecord] = []
        for rec in records:
            if rec.remote_id in seen:
                continue  # a source that lists a record twice
            seen.add(rec.remote_id)
            newest = max(newest, rec.modified)
            if run.known.get(rec.remote_id) == ("active", True, rec.content_hash):
                run.out.unchanged += 1  # decided from the run's map: no query per record
            else:
                unique.append(rec)
        known_ids = [run.row_ids[r.remote_id] for r in unique if r.remote_id in run.row_ids]
        existing: dict[str, tuple[HarvestRecordRow, bool]] = {}
        if known_ids:
            for known_row, state in session.execute(
                select(HarvestRecordRow, Dataset.state)
                .outerjoin(Dataset, Dataset.id == HarvestRecordRow.dataset_id)
                .where(HarvestRecordRow.id.in_(known_ids))
            ):
                existing[known_row.remote_id] = (known_row, state == "active")
        importer.import_page(ctx, source, org.name, unique, run.out, existing,
                             allow_private=bool(config.get("include_private")))
        run.keep_errors(session, "fetch", errors)
        run.keep_errors(session, "import", run.out.errors[before:])
        pause_point("harvest-page")  # the page's rows are written, not yet committed
        session.execute(update(HarvestJob).where(HarvestJob.id == run.job_id)
                        .values(heartbeat=utcnow(), **run.counts()))
    return newest


def run_harvest(platform: Platform, name: str, *, full: bool = False) -> dict[str, Any]:
    """Run one harvest of source ``name`` now; returns the job report. A failing source
    fails the job (and schedules a retry with back-off) — it never raises out of here,
    except when the source does not exist or is already being harvested."""
    source_id, job_id = _start(platform, name)
    run = _Run(platform, source_id, job_id)
    adapter = None
    try:
        with platform.db.session() as session:
            source = session.get(HarvestSource, source_id)
            assert source is not None
            node = session.get(FederationNode, source.node_id) if source.node_id else None
            since = None if full or source.last_success_at is None else (source.high_water
                                                                         or None)
            for rid, row_id, state, digest, ds_state in session.execute(
                select(HarvestRecordRow.remote_id, HarvestRecordRow.id, HarvestRecordRow.state,
                       HarvestRecordRow.content_hash, Dataset.state)
                .outerjoin(Dataset, Dataset.id == HarvestRecordRow.dataset_id)
                .where(HarvestRecordRow.source_id == source_id)):
                run.known[rid] = (state, ds_state == "active", digest)
                run.row_ids[rid] = row_id
            known = {rid: state for rid, (state, _, _) in run.known.items()}
            session.expunge_all()
        adapter = adapter_for(platform, source, node)
        listing = dict(adapter.listing())
        run.stage("fetch")
        seen: set[str] = set()
        newest = ""
        for page in _prefetched(_pages(adapter.records(since), PAGE)):
            newest = max(newest, _import_page(run, page, seen))
        stragglers = [rid for rid in listing if rid not in seen and known.get(rid) != "active"]
        run.stage("import")
        for page_ids in (stragglers[i:i + PAGE] for i in range(0, MAX_STRAGGLERS, PAGE)):
            if not page_ids:
                break
            got = [adapter.record(rid) for rid in page_ids]
            newest = max(newest, _import_page(run, got, seen))
        vanished = [rid for rid, state in known.items() if state == "active"
                    and rid not in listing]
        if vanished and not listing and len(vanished) > 10:
            raise SourceError(f"The source listed no datasets at all; the {len(vanished)} "
                              "harvested from it are kept (a broken source looks like this)")
        with platform.db.session() as session:
            source = session.get(HarvestSource, source_id)
            assert source is not None
            ctx = Ctx(session, Actor.system(), platform.settings, platform.files)
            run.withdrawn = importer.withdraw(ctx, source, vanished)
            if newest > (source.high_water or ""):
                source.high_water = newest
            source.last_success_at = utcnow()
            source.failures = 0
            interval = SCHEDULES.get(source.schedule)
            source.next_run_at = utcnow() + interval if interval else None
            job = session.get(HarvestJob, job_id)
            assert job is not None
            more = len(stragglers) - MAX_STRAGGLERS
            job.status, job.stage, job.finished = "finished", "done", utcnow()
            job.incremental = int(since is not None)
            job.message = (f"{more} more new records will be fetched by the next run"
                           if more > 0 else "")
            for key, value in run.counts().items():
                setattr(job, key, value)
            node_id = source.node_id
        if node_id:
            from citydata.federation.nodes import note_node_seen

            note_node_seen(platform.db, node_id)
    except SourceError as exc:
        _fail(run, exc.message)
    except Exception as exc:  # a bug must not leave a job "running" forever nor kill the loop
        log.exception("harvest of %s failed", name)
        _fail(run, f"Internal error while harvesting ({type(exc).__name__}); see the logs")
    finally:
        if adapter is not None and hasattr(getattr(adapter, "fetcher", None), "close"):
            adapter.fetcher.close()
    with platform.db.session() as session:
        return job_report(session, job_id)


def backoff(failures: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(failures - 1, 0)), MAX_BACKOFF)


def _fail(run: _Run, message: str) -> None:
    with run.platform.db.session() as session:
        job = session.get(HarvestJob, run.job_id)
        source = session.get(HarvestSource, run.source_id)
        assert job is not None and source is not None
        job.status, job.finished, job.message = "failed", utcnow(), message[:4000]
        for key, value in run.counts().items():
            setattr(job, key, value)
        source.failures += 1
        if source.schedule != "manual" or source.kind == "node":
            source.next_run_at = utcnow() + backoff(source.failures)
        node_id = source.node_id
    if node_id:
        from citydata.federation.nodes import note_node_error

        note_node_error(run.platform.db, node_id, message)


def run_due(platform: Platform, *, limit: int = 1) -> list[dict[str, Any]]:
    """Run the sources whose time has come (claimed first, so two processes never run the
    same one), after reporting jobs cut off by a dead process: what the jobs loop calls."""
    with platform.db.session() as session:
        close_interrupted(session)  # also those of manual sources, which nothing re-runs
    reports = []
    for _ in range(limit):
        now = utcnow()
        with platform.db.session() as session:
            due = session.execute(
                select(HarvestSource.id, HarvestSource.name, HarvestSource.next_run_at)
                .where(HarvestSource.state == "active", HarvestSource.next_run_at <= now)
                .order_by(HarvestSource.next_run_at).limit(1)).first()
            if due is None:
                break
            claimed = session.execute(  # type: ignore[attr-defined]
                update(HarvestSource)
                .where(HarvestSource.id == due.id, HarvestSource.next_run_at == due.next_run_at)
                .values(next_run_at=now + STALE_JOB)).rowcount
        if not claimed:
            continue
        try:
            reports.append(run_harvest(platform, due.name))
        except Conflict:
            continue
    return reports


def harvested_count(session: Session, source: HarvestSource) -> int:
    return int(session.scalar(select(func.count()).select_from(HarvestRecordRow).where(
        HarvestRecordRow.source_id == source.id, HarvestRecordRow.state == "active")) or 0)
