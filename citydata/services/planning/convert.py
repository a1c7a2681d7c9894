"""Collect and convert: fetch an authority's export (a file, or an http(s) URL; paged feeds
page by page) and turn it into records — one dict per source row, numbered from 1.

Whatever makes an export unreadable (not UTF-8, not CSV, not JSON, no record list where the
configuration says, a page link going elsewhere) raises :class:`FeedError` with a plain
message: the run fails and nothing of it is stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from citydata.services.planning.harmonise import lookup

#: A CSV field may be long (descriptions), but not unboundedly.
csv.field_size_limit(1_000_000)


class FeedError(Exception):
    """The export cannot be read at all."""


@dataclass
class Collected:
    """What was read: the records, the columns seen, and the content hash of the export."""

    location: str
    records: list[tuple[int, Mapping[str, Any]]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    pages: int = 0
    sha256: str = ""


def shown(location: str) -> str:
    """How a run report names an export: a URL as it is, a file by its name only (reports are
    public; the server's folders are not)."""
    if location.startswith(("http://", "https://")):
        return location
    return Path(location.removeprefix("file://")).name or "the export"


def _read(location: str, *, fetcher: Any = None, max_bytes: int) -> bytes:
    if location.startswith(("http://", "https://")):
        if fetcher is None:
            raise FeedError(f"{shown(location)}: no HTTP client to collect with")
        from citydata.federation.records import SourceError

        try:
            return fetcher.get(location).body
        except SourceError as exc:
            raise FeedError(str(exc)) from exc
    path = Path(location.removeprefix("file://"))
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FeedError(f"{shown(location)}: cannot be read ({exc.strerror or exc})") from exc
    if size > max_bytes:
        raise FeedError(f"{shown(location)}: {size} bytes is more than the limit of "
                        f"{max_bytes}")
    return path.read_bytes()


def _next_location(current: str, link: str) -> str:
    if current.startswith(("http://", "https://")):
        nxt = urljoin(current, link)
        if nxt.split("/")[2] != current.split("/")[2]:
            raise FeedError(f"{shown(current)}: the next page ({link}) is on another host")
        return nxt
    base = Path(current.removeprefix("file://")).parent
    target = (base / link).resolve()
    if base.resolve() not in target.parents:
        raise FeedError(f"{shown(current)}: the next page ({link}) is outside the feed's "
                        "folder")
    return str(target)


def collect(location: str, config: Mapping[str, Any], *, fetcher: Any = None,
            max_bytes: int = 512 * 1024 * 1024, max_pages: int = 5000) -> Collected:
    fmt = config.get("format", "csv")
    out = Collected(location)
    digest = hashlib.sha256()
    if fmt == "csv":
        body = _read(location, fetcher=fetcher, max_bytes=max_bytes)
        digest.update(body)
        out.pages = 1
        out.columns, out.records = _csv(location, body, config.get("csv") or {})
    elif fmt in ("json", "json-paged"):
        opts = config.get("json") or {}
        seen: set[str] = set()
        current: str | None = location
        number = 0
        columns: dict[str, None] = {}
        while current:
            if current in seen:
                raise FeedError(f"{shown(current)}: the pages link back to a page already "
                                "read")
            if len(seen) >= max_pages:
                raise FeedError(f"{shown(location)}: more than {max_pages} pages")
            seen.add(current)
            body = _read(current, fetcher=fetcher, max_bytes=max_bytes)
            digest.update(hashlib.sha256(body).digest())
            page = _json(current, body)
            items = page if opts.get("records") in (None, "") and isinstance(page, list) else (
                lookup(page, str(opts.get("records"))) if isinstance(page, Mapping) else None)
            if not isinstance(items, list):
                raise FeedError(f"{shown(current)}: no list of records at "
                                f"{opts.get('records') or 'the top level'!r}")
            for item in items:
                number += 1
                if isinstance(item, Mapping):
                    for key in item:
                        columns.setdefault(str(key), None)
                out.records.append((number, item if isinstance(item, Mapping) else {}))
                if not isinstance(item, Mapping):
                    out.records[-1] = (number, {"__not_an_object__": item})
            out.pages += 1
            link = lookup(page, str(opts["next"])) if fmt == "json-paged" and opts.get(
                "next") and isinstance(page, Mapping) else None
            current = _next_location(current, link) if isinstance(link, str) and link else None
        out.columns = list(columns)
    else:
        raise FeedError(f"unknown feed format {fmt!r}")
    out.sha256 = digest.hexdigest()
    return out


def _decode(location: str, body: bytes, encoding: str) -> str:
    if b"\x00" in body[:4096]:
        raise FeedError(f"{shown(location)}: this is a binary file, not text")
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        why = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise FeedError(f"{shown(location)}: not {encoding} text ({why})") from exc


def _csv(location: str, body: bytes, opts: Mapping[str, Any]
         ) -> tuple[list[str], list[tuple[int, Mapping[str, Any]]]]:
    text = _decode(location, body, str(opts.get("encoding") or "utf-8-sig"))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=str(opts.get("delimiter") or ","))
    try:
        header = next(reader)
    except StopIteration:
        raise FeedError(f"{shown(location)}: the file is empty") from None
    except csv.Error as exc:
        raise FeedError(f"{shown(location)}: not CSV ({exc})") from exc
    header = [h.strip().lstrip("\ufeff") for h in header]
    if len(header) < 2 or len(set(header)) != len(header):
        raise FeedError(f"{shown(location)}: the first line is not a header row of distinct "
                        "columns")
    width = len(header)
    records: list[tuple[int, Mapping[str, Any]]] = []
    try:
        for number, cells in enumerate(reader, start=1):
            if not cells:
                continue
            if len(cells) != width:
                records.append((number, {"__malformed__": f"{len(cells)} cells, the header "
                                                          f"has {width}"}))
                continue
            records.append((number, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise FeedError(f"{shown(location)}: not CSV after row {len(records)} ({exc})") from exc
    return header, records


def _json(location: str, body: bytes) -> Any:
    text = _decode(location, body, "utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FeedError(f"{shown(location)}: not JSON (line {exc.lineno}: {exc.msg})") from exc
