"""Dataset quality: a score out of 100 from checks anyone can understand and act on.

Each check says what it looks at, whether the dataset passes, and what to do if not. The score
is stored on the dataset (for search sorting and the ``quality`` facet) and recomputed whenever
the dataset or its resources change; ``citydata quality refresh`` recomputes every dataset, for
the checks that depend on the date (is the data on time?).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citydata.catalog.licenses import get_license
from citydata.storage.models import Dataset, utcnow

#: Formats anyone can read without proprietary software.
OPEN_FORMATS = {
    "CSV",
    "TSV",
    "JSON",
    "GEOJSON",
    "NDJSON",
    "PARQUET",
    "XML",
    "RDF",
    "TXT",
    "GEOPACKAGE",
    "KML",
    "ODS",
}
#: How long after its last update a dataset with a stated frequency is still on time.
PERIODS = {
    "continuous": timedelta(days=2),
    "hourly": timedelta(days=1),
    "daily": timedelta(days=3),
    "weekly": timedelta(days=10),
    "monthly": timedelta(days=40),
    "quarterly": timedelta(days=100),
    "annual": timedelta(days=400),
}
#: Score bands used by the search facet.
BANDS = ((80, "excellent"), (60, "good"), (40, "fair"), (0, "poor"))


@dataclass
class Check:
    id: str
    label: str
    weight: int
    passed: bool | None  # None: not applicable (does not count)
    explanation: str

    def as_dict(self) -> dict[str, Any]:  # dataclasses.asdict's deep copy is slow in bulk
        return {"id": self.id, "label": self.label, "weight": self.weight,
                "passed": self.passed, "explanation": self.explanation}


def _check_licence(ds: Dataset) -> Check:
    lic = get_license(ds.license_id) or {}
    ok = bool(lic) and ds.license_id not in ("notspecified", "")
    return Check(
        "licence",
        "Licence stated",
        15,
        ok,
        f"Licensed under {lic.get('title', ds.license_id)}."
        if ok
        else "Choose a licence so people know how they may use the data.",
    )


def _check_description(ds: Dataset) -> Check:
    notes = (ds.notes or "").strip()
    ok = len(notes) >= 100 and notes.lower() != (ds.title or "").strip().lower()
    return Check(
        "description",
        "Useful description",
        15,
        ok,
        "The description says what the data is."
        if ok
        else "Write at least a short paragraph (100+ characters): what the data "
        "covers, how it was collected, and its limits.",
    )


def _check_spatial(ds: Dataset) -> Check:
    ok = ds.bbox_west is not None or bool(ds.boroughs)
    return Check(
        "spatial",
        "Area covered",
        10,
        ok,
        "The area the data covers is stated."
        if ok
        else "Say which boroughs or which area the data covers.",
    )


def _check_temporal(ds: Dataset) -> Check:
    ok = bool(ds.temporal_start)
    return Check(
        "temporal",
        "Time period",
        10,
        ok,
        "The time period the data covers is stated."
        if ok
        else "Give the start (and end) date of the period the data covers.",
    )


def _last_update(ds: Dataset) -> datetime:
    uploads = [v.created for r in ds.resources for v in r.versions]
    return max(uploads) if uploads else ds.modified or ds.created


def _check_frequency(ds: Dataset, now: datetime) -> list[Check]:
    stated = Check(
        "frequency",
        "Update frequency stated",
        10,
        bool(ds.frequency),
        f"Updated {ds.frequency}."
        if ds.frequency
        else "Say how often the data is updated (or that it is a one-off).",
    )
    period = PERIODS.get(ds.frequency)
    if period is None:
        on_time = Check(
            "on_time",
            "Updated on time",
            10,
            None,
            "Not applicable: no regular update frequency is stated.",
        )
    else:
        last = _last_update(ds)
        late = now - last > period
        on_time = Check(
            "on_time",
            "Updated on time",
            10,
            not late,
            f"Last updated {last:%d %B %Y}, within its {ds.frequency} schedule."
            if not late
            else f"Last updated {last:%d %B %Y}: later than its {ds.frequency} schedule.",
        )
    return [stated, on_time]


def _check_format(ds: Dataset) -> Check:
    formats = {(r.format or "").upper() for r in ds.resources}
    ok = bool(formats & OPEN_FORMATS)
    return Check(
        "open_format",
        "Open, machine-readable format",
        15,
        ok,
        "At least one file is in an open format such as CSV or GeoJSON."
        if ok
        else "Publish at least one file as CSV, JSON, GeoJSON or Parquet.",
    )


def _check_standard(ds: Dataset) -> Check:
    if not ds.conforms_to:
        return Check(
            "standard",
            "Follows a city data standard",
            5,
            None,
            "Not applicable: the dataset does not declare a data standard.",
        )
    valid = all(
        v.ingest_status in ("", "ok")
        for r in ds.resources
        for v in r.versions
        if v.version == r.current_version
    )
    return Check(
        "standard",
        "Follows a city data standard",
        5,
        valid,
        f"Every current file passes {ds.conforms_to}."
        if valid
        else f"A current file does not pass {ds.conforms_to}; see its report.",
    )


def _check_resources(ds: Dataset) -> Check:
    if not ds.resources:
        return Check(
            "resources",
            "Data available",
            5,
            False,
            "Add the data itself: upload a file or link to it.",
        )
    uploaded = sum(1 for r in ds.resources if (r.current_version or 0) > 0)
    links = len(ds.resources) - uploaded
    text = f"{uploaded} file(s) stored here"
    if links:
        text += f"; {links} link(s) to other sites (not checked: no outside access here)"
    return Check("resources", "Data available", 5, True, text + ".")


def _check_contact(ds: Dataset) -> Check:
    ok = bool(ds.contact_email or ds.maintainer_email or ds.author_email)
    return Check(
        "contact",
        "Contact point",
        5,
        ok,
        "People can ask the publisher about the data."
        if ok
        else "Give a contact email address for questions about the data.",
    )


def assess(ds: Dataset, now: datetime | None = None) -> dict:
    """Run every check; returns ``{"score": 0-100, "band": ..., "checks": [...]}``."""
    now = now or utcnow()
    checks = [
        _check_licence(ds),
        _check_description(ds),
        _check_spatial(ds),
        _check_temporal(ds),
        *_check_frequency(ds, now),
        _check_format(ds),
        _check_standard(ds),
        _check_resources(ds),
        _check_contact(ds),
    ]
    counted = [c for c in checks if c.passed is not None]
    total = sum(c.weight for c in counted) or 1
    score = round(100 * sum(c.weight for c in counted if c.passed) / total)
    return {"score": score, "band": band(score), "checks": [c.as_dict() for c in checks]}


def band(score: int | None) -> str:
    if score is None:
        return ""
    return next(name for floor, name in BANDS if score >= floor)


def update_quality(ds: Dataset, now: datetime | None = None) -> None:
    """Store the assessment on the dataset (the caller's transaction commits it)."""
    result = assess(ds, now)
    ds.quality_score = result["score"]
    ds.quality = json.dumps(result)


def refresh_all(session: Session, *, batch: int = 500) -> int:
    """Re-assess every active dataset; re-index those whose score changed. Returns that count."""
    from citydata.catalog import search
    from citydata.catalog.datasets import load_options

    changed = 0
    ids = list(session.scalars(select(Dataset.id).where(Dataset.state == "active")))
    for start in range(0, len(ids), batch):
        chunk = session.scalars(
            select(Dataset)
            .options(*load_options())
            .where(Dataset.id.in_(ids[start : start + batch]))
        )
        for ds in chunk:
            if assess(ds)["score"] != ds.quality_score:
                search.index_dataset(session, ds)
                changed += 1
        session.flush()
    return changed
