"""What every harvest source adapter produces: records in the catalog's own shape.

An adapter (CKAN, DCAT, a citydata node) turns whatever its source speaks into
:class:`HarvestRecord` objects; the importer (:mod:`citydata.federation.importer`) decides
what to create, update or withdraw. Adapters never touch the database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


class SourceError(Exception):
    """The source as a whole failed (unreachable, too big, too slow, not what it claims).

    The message is for people: it names the URL and what went wrong, never a stack trace."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.url = url


@dataclass
class RecordError:
    """One record at the source could not be used; the harvest goes on without it."""

    remote_id: str
    message: str
    #: The source record as received (truncated to a few kB), for the job report.
    source_record: str = ""


@dataclass
class HarvestRecord:
    #: The record's id at the source (CKAN package id, DCAT dataset IRI, node dataset id).
    remote_id: str
    #: The identifier used to merge the same dataset reaching us through two paths: an
    #: http(s) IRI when the source gives one (dct:identifier, the dataset IRI, CKAN's
    #: ``uri``/``identifier`` extra), else ``{source page base}/dataset/{remote id}``.
    identifier: str
    #: When the source last changed it (ISO 8601), "" when the source does not say.
    modified: str
    #: The dataset's own page or IRI at the source (shown as its provenance).
    source_url: str
    #: A suggested catalog name (slug); the importer makes it unique.
    remote_name: str
    #: Input for ``citydata.catalog.datasets.create_dataset`` without ``name`` and
    #: ``owner_org`` (the importer sets both): title, notes, license_id, tags (list of str),
    #: url, version, author, author_email, maintainer, maintainer_email, contact_name,
    #: contact_email, frequency, temporal_start, temporal_end, bbox ([w, s, e, n]),
    #: access_level, restriction_reason, discovery, extras ([{key, value}]),
    #: resources ([{name, url, format, description}]).
    fields: dict[str, Any] = field(default_factory=dict)
    #: The publisher as the source names it (shown, not used to pick the owner).
    publisher: str = ""
    #: True when the source marks it private: imported only by an authorised harvester.
    private: bool = False

    @property
    def content_hash(self) -> str:
        """A digest of what would be imported: unchanged records are skipped on re-harvest."""
        blob = json.dumps(
            {"fields": self.fields, "private": self.private, "publisher": self.publisher,
             "name": self.remote_name, "url": self.source_url},
            sort_keys=True, default=str, separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode()).hexdigest()


def bbox_of(points: list[tuple[float, float]]) -> list[float] | None:
    """[west, south, east, north] of lon/lat points; None when empty or out of range (what
    every adapter does with the coordinates a source gives)."""
    if not points:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    w, s, e, n = min(xs), min(ys), max(xs), max(ys)
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        return None
    return [w, s, e, n]
