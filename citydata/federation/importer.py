"""The import stage of a harvest: a :class:`HarvestRecord` becomes (or updates) a dataset.

Rules:

- a record whose content hash is unchanged since the last harvest is skipped;
- the same dataset reaching the registry through two sources (same ``identifier``) is one
  dataset: the record from the other path is linked to it, and the most recently modified
  record's metadata wins;
- a record that fails validation is reported with its source record and nothing of it is
  written (a savepoint per record);
- a dataset disappears only when *every* record feeding it has been withdrawn at its source.

The provenance (source, original URL, last harvested) lives in ``harvest_records`` and is
shown with the dataset; only the source's name and the original URL are also put in the
dataset's extras, so CKAN and DCAT clients of the registry see where it came from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citydata.catalog import datasets as catalog
from citydata.catalog.context import Ctx
from citydata.errors import CitydataError
from citydata.federation.records import HarvestRecord, RecordError
from citydata.storage.models import Dataset, new_id, utcnow
from citydata.storage.models_federation import HarvestRecordRow, HarvestSource

PROVENANCE_KEYS = ("harvest_source", "harvest_url", "harvest_identifier")
_SLUG = re.compile(r"[^a-z0-9_-]+")


@dataclass
class Outcome:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RecordError] = field(default_factory=list)


def _slug(text: str) -> str:
    s = _SLUG.sub("-", text.lower()).strip("-_")[:90]
    return s if len(s) >= 2 else f"dataset-{s}".strip("-")


def unique_name(session: Session, wanted: str, source: HarvestSource, *,
                also_taken: set[str] | None = None) -> str:
    base = _slug(wanted)
    taken = set(session.scalars(select(Dataset.name).where(Dataset.name.like(f"{base}%"))))
    taken |= also_taken or set()
    if base not in taken:
        return base
    for candidate in (f"{base}-{_slug(source.name)}"[:100],
                      *(f"{base}-{i}"[:100] for i in range(2, 1000))):
        if candidate not in taken:
            return candidate
    raise CitydataError(f"No free name for {wanted!r}")


def _payload(rec: HarvestRecord, source: HarvestSource, org_name: str) -> dict[str, Any]:
    data = dict(rec.fields)
    extras = [e for e in data.get("extras") or [] if e.get("key") not in PROVENANCE_KEYS]
    extras += [
        {"key": "harvest_source", "value": source.name},
        {"key": "harvest_url", "value": rec.source_url},
        {"key": "harvest_identifier", "value": rec.identifier},
    ]
    data["extras"] = extras
    data["owner_org"] = org_name
    data.pop("name", None)
    if rec.private:  # private at the source stays private here: the organisation's only
        data["access_level"] = "private"
    return data


def _newest_elsewhere(session: Session, dataset_id: str, row_id: str | None) -> str:
    q = select(HarvestRecordRow.remote_modified).where(
        HarvestRecordRow.dataset_id == dataset_id, HarvestRecordRow.state == "active"
    )
    if row_id:
        q = q.where(HarvestRecordRow.id != row_id)
    return max(session.scalars(q), default="")


def import_record(
    ctx: Ctx, source: HarvestSource, org_name: str, rec: HarvestRecord, out: Outcome,
    existing: HarvestRecordRow | None, *, allow_private: bool, dataset_active: bool,
) -> None:
    """Import one record (inside the caller's transaction; a savepoint guards it)."""
    session = ctx.session
    if rec.private and not allow_private:
        out.skipped += 1
        return
    now = utcnow()
    digest = rec.content_hash
    if (existing is not None and existing.state == "active" and dataset_active
            and existing.content_hash == digest):
        out.unchanged += 1
        return
    savepoint = session.begin_nested()
    try:
        row = existing or HarvestRecordRow(source_id=source.id, remote_id=rec.remote_id,
                                           first_harvested=now)
        target: Dataset | None = None
        if row.dataset_id:
            target = session.get(Dataset, row.dataset_id)
        if target is None or target.state != "active":
            other = session.scalar(
                select(HarvestRecordRow.dataset_id).where(
                    HarvestRecordRow.identifier == rec.identifier,
                    HarvestRecordRow.state == "active",
                    HarvestRecordRow.dataset_id.is_not(None),
                    HarvestRecordRow.source_id != source.id,
                ).limit(1)
            )
            candidate = session.get(Dataset, other) if other else None
            target = candidate if candidate is not None and candidate.state == "active" else None
        data = _payload(rec, source, org_name)
        if target is None:
            data["name"] = unique_name(session, rec.remote_name or rec.fields.get("title", ""),
                                       source)
            created = catalog.create_dataset(ctx, data)
            row.dataset_id = created["id"]
            out.added += 1
        else:
            newer_elsewhere = _newest_elsewhere(session, target.id, row.id)
            if rec.modified and newer_elsewhere and newer_elsewhere > rec.modified:
                out.unchanged += 1  # linked, but the other path has the newer metadata
            else:
                data["owner_org"] = target.owner_org
                catalog.update_dataset(ctx, target.id, data, partial=False)
                out.updated += 1
            row.dataset_id = target.id
        row.identifier = rec.identifier
        row.remote_modified = rec.modified
        row.content_hash = digest
        row.source_url = rec.source_url
        row.state = "active"
        row.last_harvested = now
        session.add(row)
        session.flush()
        savepoint.commit()
    except CitydataError as exc:
        savepoint.rollback()
        out.errors.append(RecordError(rec.remote_id, f"Not imported: {exc}",
                                      json.dumps({"fields": rec.fields}, default=str)[:4000]))


def import_page(
    ctx: Ctx, source: HarvestSource, org_name: str, records: list[HarvestRecord],
    out: Outcome, existing: dict[str, tuple[HarvestRecordRow, bool]], *, allow_private: bool,
) -> None:
    """Import one page of records. Records new to the catalog (the common case of a first
    harvest) are created together in one flush; everything else — updates, records merging
    with a dataset from another path — goes one by one through :func:`import_record`. If the
    bulk write fails, the page falls back to one by one, so one bad record never costs the
    others."""
    session = ctx.session
    todo: list[tuple[HarvestRecord, HarvestRecordRow | None, bool]] = []
    for rec in records:
        row, live = existing.get(rec.remote_id) or (None, False)
        if rec.private and not allow_private:
            out.skipped += 1
        elif row is not None and row.state == "active" and live and (
                row.content_hash == rec.content_hash):
            out.unchanged += 1
        else:
            todo.append((rec, row, live))
    maybe_new = [rec.identifier for rec, _, live in todo if not live]
    elsewhere = set(session.scalars(select(HarvestRecordRow.identifier).where(
        HarvestRecordRow.identifier.in_(maybe_new), HarvestRecordRow.state == "active",
        HarvestRecordRow.dataset_id.is_not(None),
        HarvestRecordRow.source_id != source.id))) if maybe_new else set()
    fresh = [(rec, row) for rec, row, live in todo if not live
             and rec.identifier not in elsewhere]
    rest = [(rec, row, live) for rec, row, live in todo if live or rec.identifier in elsewhere]
    if fresh and not _bulk_create(ctx, source, org_name, fresh, out):
        rest = [(rec, row, False) for rec, row in fresh] + rest
    for rec, row, live in rest:
        import_record(ctx, source, org_name, rec, out, row, allow_private=allow_private,
                      dataset_active=live)


def _bulk_create(ctx: Ctx, source: HarvestSource, org_name: str,
                 fresh: list[tuple[HarvestRecord, HarvestRecordRow | None]], out: Outcome
                 ) -> bool:
    """Create datasets for records new to the catalog in one go; False: do them one by one."""
    session = ctx.session
    savepoint = session.begin_nested()
    try:
        prepared: list[tuple[HarvestRecord, HarvestRecordRow | None, Dataset]] = []
        wanted = {rec.remote_id: _slug(rec.remote_name or rec.fields.get("title", ""))
                  for rec, _ in fresh}
        taken = set(session.scalars(select(Dataset.name).where(
            Dataset.name.in_(set(wanted.values())))))
        errors: list[RecordError] = []
        for rec, row in fresh:
            data = _payload(rec, source, org_name)
            name = wanted[rec.remote_id]
            if name in taken:
                name = unique_name(session, name, source, also_taken=taken)
            data["name"] = name
            try:
                ds = catalog.prepare_dataset(ctx, data)
            except CitydataError as exc:
                errors.append(RecordError(rec.remote_id, f"Not imported: {exc}",
                                          json.dumps({"fields": rec.fields}, default=str)[:4000]))
                continue
            taken.add(name)
            prepared.append((rec, row, ds))
        catalog.create_datasets(ctx, [ds for _, _, ds in prepared])
        now = utcnow()
        new_rows = []
        for rec, row, ds in prepared:
            values = {"dataset_id": ds.id, "identifier": rec.identifier,
                      "remote_modified": rec.modified, "content_hash": rec.content_hash,
                      "source_url": rec.source_url, "state": "active", "last_harvested": now}
            if row is None:
                new_rows.append({"id": new_id(), "source_id": source.id,
                                 "remote_id": rec.remote_id, "first_harvested": now, **values})
            else:  # known here before, its dataset since withdrawn: it is back
                for key, value in values.items():
                    setattr(row, key, value)
        if new_rows:
            session.execute(insert(HarvestRecordRow), new_rows)
        session.flush()
        savepoint.commit()
    except (CitydataError, IntegrityError):
        savepoint.rollback()
        return False
    out.added += len(prepared)
    out.errors.extend(errors)
    return True


def withdraw(ctx: Ctx, source: HarvestSource, remote_ids: list[str]) -> int:
    """Records gone from the source: withdraw them, and their datasets when nothing else
    feeds them. Returns how many datasets were withdrawn."""
    session = ctx.session
    gone = 0
    for chunk in (remote_ids[i:i + 500] for i in range(0, len(remote_ids), 500)):
        rows = list(session.scalars(select(HarvestRecordRow).where(
            HarvestRecordRow.source_id == source.id, HarvestRecordRow.remote_id.in_(chunk),
            HarvestRecordRow.state == "active")))
        for row in rows:
            row.state = "withdrawn"
            row.last_harvested = utcnow()
            session.flush()
            if not row.dataset_id:
                continue
            still_fed = session.scalar(select(HarvestRecordRow.id).where(
                HarvestRecordRow.dataset_id == row.dataset_id,
                HarvestRecordRow.state == "active").limit(1))
            ds = session.get(Dataset, row.dataset_id)
            if still_fed is None and ds is not None and ds.state == "active":
                catalog.delete_dataset(ctx, ds.id)
                gone += 1
    return gone


def provenance(session: Session, dataset_id: str) -> list[dict[str, Any]]:
    """Where a harvested dataset comes from: one entry per source feeding it."""
    rows = session.execute(
        select(HarvestRecordRow, HarvestSource)
        .join(HarvestSource, HarvestSource.id == HarvestRecordRow.source_id)
        .where(HarvestRecordRow.dataset_id == dataset_id)
        .order_by(HarvestRecordRow.first_harvested)
    ).all()
    from citydata.federation.harvest import staleness

    out = []
    for row, source in rows:
        # every successful run confirms each active record (it was in the listing): its
        # last harvest is the source's, without rewriting every row on every run
        last = (source.last_success_at if row.state == "active" and source.last_success_at
                and source.last_success_at > row.last_harvested else row.last_harvested)
        out.append({
            "source": source.name,
            "source_title": source.title,
            "kind": source.kind,
            "original_url": row.source_url,
            "identifier": row.identifier,
            "remote_id": row.remote_id,
            "state": row.state,
            "first_harvested": row.first_harvested.isoformat(),
            "last_harvested": last.isoformat(),
            "remote_modified": row.remote_modified or None,
            **staleness(source, last),
        })
    return out
