"""Harvesting a CKAN portal (and citydata nodes, which speak the same Action API).

Works with CKAN 2.9 to 2.11: ``package_search`` pages through every dataset in a stable
order (``metadata_modified asc, id asc``), ``fq=metadata_modified:[… TO *]`` asks only for
what changed since the last harvest, and ``package_show`` fetches stragglers one by one.

Each CKAN package becomes a :class:`~citydata.federation.records.HarvestRecord` whose
``fields`` are already in citydata's shape and within its limits (licences mapped onto the
register, invalid tags and emails dropped, a GeoJSON ``spatial`` extra turned into a bbox);
a package that cannot be used becomes a :class:`~citydata.federation.records.RecordError`
and the harvest goes on. Private packages are only ever yielded to an authorised harvester
that asked for them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from citydata.access.vocabulary import DISCOVERY, REASONS
from citydata.catalog.licenses import licenses
from citydata.catalog.names import EMAIL_RE, TAG_RE
from citydata.catalog.themes import FREQUENCIES
from citydata.federation.fetch import Fetcher, HTTPStatusError, parse_json
from citydata.federation.records import HarvestRecord, RecordError, SourceError, bbox_of

SORT = "metadata_modified asc, id asc"
#: For portals that cannot sort by id (citydata's own API): ties then keep index order.
FALLBACK_SORT = "metadata_modified asc"
ROWS_MAX = 1000  # CKAN's default ckan.search.rows_max
SOURCE_RECORD_MAX = 4000

#: Common CKAN licence ids (lower-cased) → ids in citydata's licence register.
LICENCE_MAP = {
    "uk-ogl": "OGL-UK-3.0",
    "ogl": "OGL-UK-3.0",
    "ogl-uk-3.0": "OGL-UK-3.0",
    "ogl3": "OGL-UK-3.0",
    "ogl-uk-2.0": "OGL-UK-2.0",
    "cc-by": "CC-BY-4.0",
    "cc-by-4.0": "CC-BY-4.0",
    "cc-by-sa": "CC-BY-SA-4.0",
    "cc-by-sa-4.0": "CC-BY-SA-4.0",
    "cc-zero": "CC0-1.0",
    "cc0": "CC0-1.0",
    "cc0-1.0": "CC0-1.0",
    "odc-by": "ODC-BY-1.0",
    "odc-odbl": "ODbL-1.0",
    "odbl": "ODbL-1.0",
    "odc-pddl": "PDDL-1.0",
    "pddl": "PDDL-1.0",
    "os-opendata": "OS-OpenData",
    "other-open": "other-open",
    "other-pd": "other-open",
    "other-at": "other-open",
    "gfdl": "other-open",
    "cc-nc": "other-closed",
    "other-nc": "other-closed",
    "other-closed": "other-closed",
    "notspecified": "notspecified",
}
FREQUENCY_SYNONYMS = {
    "annually": "annual",
    "yearly": "annual",
    "real-time": "continuous",
    "realtime": "continuous",
    "as needed": "irregular",
    "ad hoc": "irregular",
    "one-off": "never",
    "fortnightly": "irregular",
}
TEXT_LIMITS = {
    "title": 500,
    "notes": 100_000,
    "version": 100,
    "author": 200,
    "maintainer": 200,
    "contact_name": 200,
}
EMAIL_FIELDS = ("author_email", "maintainer_email", "contact_email")
#: Keys of citydata's own package dict: an extra with one of these names is dropped.
OWN_FIELDS = frozenset({
    *TEXT_LIMITS, *EMAIL_FIELDS, "id", "name", "url", "license_id", "license_title",
    "license_url", "isopen", "tags", "num_tags", "resources", "num_resources", "extras",
    "frequency", "temporal_start", "temporal_end", "bbox", "spatial", "access_level",
    "restriction_reason", "restriction_note", "discovery", "private", "state", "type",
    "owner_org", "organization", "groups", "themes", "boroughs", "conforms_to",
    "quality", "quality_score", "metadata_created", "metadata_modified", "creator_user_id",
    "data_access", "access",
})
ACCESS_LEVELS = ("open", "shared", "restricted")
_URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)


# -- small helpers ---------------------------------------------------------------------------


def _register() -> dict[str, str]:
    return {str(lic["id"]).lower(): str(lic["id"]) for lic in licenses()}


def _compact(obj: Any) -> str:
    try:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(obj)
    return text[:SOURCE_RECORD_MAX]


def _when(value: object) -> datetime | None:
    """A CKAN/Solr/ISO timestamp as an aware UTC datetime (no zone means UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def iso_modified(value: object) -> str:
    """``metadata_modified`` normalised: ISO 8601 in UTC to the millisecond, with a Z.

    Milliseconds because Solr keeps no more: ``package_search`` with ``fl`` returns
    ``2024-05-01T10:11:12.123Z`` for what ``package_show`` calls
    ``2024-05-01T10:11:12.123456``, and a listing must agree with the records."""
    dt = _when(value)
    if dt is None:
        return ""
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def solr_time(value: str) -> str:
    """A ``since`` value as a Solr date for an ``fq`` range: ``2024-01-01T00:00:00Z``.

    Rounded down to the millisecond, so the range never misses the record it came from."""
    dt = _when(value)
    if dt is None:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    ms = dt.microsecond // 1000
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms:03d}Z" if ms else "Z")


def slug(value: str) -> str:
    """A catalog name from a CKAN name: lower-case, other characters → "-", ≤ 100."""
    text = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-")
    return re.sub(r"-{2,}", "-", text)[:100].strip("-")


def _text(value: object, limit: int) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return ""
    return value.strip()[:limit]


def _http_url(value: object) -> str:
    if not isinstance(value, str):
        return ""
    text = value.strip().replace(" ", "%20")
    return text if len(text) <= 2000 and _URL_RE.match(text) else ""


def _email(value: object) -> str:
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if len(text) <= 254 and EMAIL_RE.match(text):
        return text
    # "a@example.org; b@example.org": keep the first address.
    first = re.split(r"[;,\s]+", text, maxsplit=1)[0]
    return first if len(first) <= 254 and EMAIL_RE.match(first) else ""


def _date(value: object) -> str:
    if not isinstance(value, str) or len(value.strip()) < 10:
        return ""
    text = value.strip()[:10]
    try:
        date.fromisoformat(text)
    except ValueError:
        return ""
    return text


def _extras(pkg: dict[str, Any]) -> list[tuple[str, Any]]:
    raw = pkg.get("extras")
    if isinstance(raw, dict):
        return [(str(k), v) for k, v in raw.items()]
    if not isinstance(raw, list):
        return []
    out = []
    for e in raw:
        if isinstance(e, dict) and isinstance(e.get("key"), str) and e.get("state", "active") \
                == "active":
            out.append((e["key"], e.get("value")))
    return out


def _number(v: object) -> float | None:
    if type(v) is float:
        return v if math.isfinite(v) else None
    if type(v) is int:
        return float(v)
    return None


def _positions(coords: Any, depth: int) -> list[tuple[float, float]]:
    """The positions of a GeoJSON coordinates array nested ``depth`` levels."""
    items = [coords]
    for _ in range(depth):
        flat: list[Any] = []
        for item in items:
            if not isinstance(item, list):
                raise ValueError("coordinates must be arrays")
            flat.extend(item)
        items = flat
    out = []
    for pos in items:
        if not isinstance(pos, list) or len(pos) < 2:
            raise ValueError("a position needs two numbers")
        x, y = _number(pos[0]), _number(pos[1])
        if x is None or y is None:
            raise ValueError("a position needs two numbers")
        out.append((x, y))
    return out


def bbox_from_geojson(value: object) -> list[float] | None:
    """[west, south, east, north] of a GeoJSON Point, Polygon or MultiPolygon (a string or an
    object) in lon/lat degrees; None when it is anything else or out of range."""
    if isinstance(value, str):
        if len(value) > 1_000_000:
            return None
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    if not isinstance(value, dict):
        return None
    if value.get("type") == "Feature":
        value = value.get("geometry")
        if not isinstance(value, dict):
            return None
    depth = {"Point": 0, "Polygon": 2, "MultiPolygon": 3}.get(str(value.get("type")))
    if depth is None:
        return None
    try:
        points = _positions(value.get("coordinates"), depth)
    except (ValueError, RecursionError):
        return None
    return bbox_of(points)


def _bbox_list(value: object) -> list[float] | None:
    if not isinstance(value, list) or len(value) != 4:
        return None
    nums = [_number(v) for v in value]
    if any(v is None for v in nums):
        return None
    w, s, e, n = (float(v) for v in nums if v is not None)
    return [w, s, e, n] if -180 <= w <= e <= 180 and -90 <= s <= n <= 90 else None


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return value is True or value == 1


def _ckan_error(body: Any) -> str | None:
    """CKAN's error envelope as one readable line, or None if it is not one."""
    if not isinstance(body, dict) or body.get("success") is not False:
        return None
    error = body.get("error")
    if not isinstance(error, dict):
        return "the portal reported an error without saying what it was"
    kind = str(error.get("__type") or "Error")
    message = error.get("message")
    if not isinstance(message, str) or not message:
        parts = []
        for key, value in error.items():
            if key in ("__type", "message"):
                continue
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            parts.append(f"{key}: {value}")
        message = "; ".join(parts) or "no details"
    return f"{kind}: {message}"[:500]


# -- the source ------------------------------------------------------------------------------


class CkanSource:
    """One CKAN portal (``base_url`` is its site root, e.g. https://data.london.gov.uk)."""

    def __init__(
        self,
        base_url: str,
        fetcher: Fetcher,
        *,
        api_key: str = "",
        include_private: bool = False,
        page_size: int = 1000,
    ) -> None:
        base = base_url.strip().rstrip("/")
        for suffix in ("/api/3/action", "/api/3", "/api/action", "/api"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        self.base_url = base
        self.fetcher = fetcher
        self.api_key = api_key
        self.include_private = include_private
        self.page_size = max(1, min(int(page_size), ROWS_MAX))
        self._sort = SORT
        self._licences = _register()

    # -- the Action API --

    def _action_url(self, action: str) -> str:
        return f"{self.base_url}/api/3/action/{action}"

    def _private_params(self) -> tuple[dict[str, Any], dict[str, str]]:
        if self.include_private and self.api_key:
            return {"include_private": "true"}, {"Authorization": self.api_key}
        return {}, {}

    def _action(self, action: str, params: dict[str, Any]) -> Any:
        """The ``result`` of an action; a SourceError for anything that is not success."""
        url = self._action_url(action)
        _, headers = self._private_params()
        try:
            body = self.fetcher.json(url, params=params, headers=headers or None)
        except HTTPStatusError as exc:
            message = None
            if exc.fetched.body:
                try:
                    message = _ckan_error(parse_json(exc.fetched))
                except SourceError:
                    message = None
            if message is None:
                raise
            raise _ActionError(
                f"the CKAN portal at {self.base_url} refused {action} (HTTP {exc.status}): "
                f"{message}",
                url,
                exc.status,
            ) from exc
        message = _ckan_error(body)
        if message is not None:
            raise _ActionError(
                f"the CKAN portal at {self.base_url} refused {action}: {message}", url, 200
            )
        if not isinstance(body, dict) or body.get("success") is not True or "result" not in body:
            raise SourceError(
                f"{url} did not answer like a CKAN Action API (no success/result envelope)", url
            )
        return body["result"]

    def _search_pages(self, extra: dict[str, Any]) -> Iterator[list[Any]]:
        """Every page of package_search results, in a stable order, with guards against
        sources that page forever."""
        url = self._action_url("package_search")
        max_pages = self.fetcher.limits.max_pages
        private_params, _ = self._private_params()
        rows = self.page_size
        start = 0
        pages = 0
        previous: tuple[Any, ...] | None = None
        while True:
            if pages >= max_pages:
                raise SourceError(
                    f"more than {max_pages} pages of results from {url}: stopped (the source "
                    "is larger than the harvest limit, or does not page correctly)",
                    url,
                )
            params = {"q": "*:*", "sort": self._sort, "rows": rows, "start": start,
                      **private_params, **extra}
            try:
                result = self._action("package_search", params)
            except _ActionError as exc:
                if pages == 0 and self._sort != FALLBACK_SORT and "sort" in exc.message.lower():
                    self._sort = FALLBACK_SORT  # a portal that cannot sort by id
                    continue
                raise
            pages += 1
            if not isinstance(result, dict) or not isinstance(result.get("results"), list):
                raise SourceError(f"{url} answered without a list of results", url)
            results: list[Any] = result["results"]
            count = result.get("count")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise SourceError(f"{url} answered without a result count", url)
            ids = tuple(p.get("id") if isinstance(p, dict) else _compact(p) for p in results)
            if ids and ids == previous:
                raise SourceError(
                    f"the source repeats the same page: endless pagination at {url} "
                    f"(start={start} returned the same {len(ids)} records as the page before)",
                    url,
                )
            previous = ids
            yield results
            start += len(results)
            # A short page normally means the end; but portals cap rows (ckan.search.rows_max)
            # silently, so the count decides, and an empty page always ends it.
            if not results or start >= count:
                return

    # -- the adapter interface --

    def listing(self) -> Iterator[tuple[str, str]]:
        """(package id, metadata_modified) of every dataset at the source."""
        seen: set[str] = set()
        # capacity ("public"/"private") is how CKAN's search index records privacy.
        for page in self._search_pages({"fl": "id,metadata_modified,capacity"}):
            for item in page:
                if isinstance(item, str):
                    remote_id, modified = item, ""
                elif isinstance(item, dict):
                    private = _truthy(item.get("private")) or item.get("capacity") == "private"
                    if private and not self.include_private:
                        continue
                    remote_id = item.get("id")  # type: ignore[assignment]
                    modified = iso_modified(item.get("metadata_modified"))
                else:
                    continue
                if isinstance(remote_id, str) and remote_id and remote_id not in seen:
                    seen.add(remote_id)
                    yield remote_id, modified

    def records(self, since: str | None) -> Iterator[HarvestRecord | RecordError]:
        """Every dataset, or those modified at or after ``since`` (ISO 8601)."""
        extra: dict[str, Any] = {}
        since_dt: datetime | None = None
        if since:
            extra["fq"] = f"metadata_modified:[{solr_time(since)} TO *]"
            since_dt = _when(since)
            if since_dt is not None:
                since_dt = since_dt.replace(microsecond=since_dt.microsecond // 1000 * 1000)
        seen: set[str] = set()
        for page in self._search_pages(extra):
            for pkg in page:
                if isinstance(pkg, dict):
                    rid = pkg.get("id")
                    if isinstance(rid, str) and rid:
                        if rid in seen:
                            continue
                        seen.add(rid)
                    if since_dt is not None:  # a portal that ignored fq
                        modified = _when(pkg.get("metadata_modified"))
                        if modified is not None and modified < since_dt:
                            continue
                out = self._convert(pkg)
                if out is not None:
                    yield out

    def record(self, remote_id: str) -> HarvestRecord | RecordError:
        """One dataset by id (package_show), for records the search did not return."""
        try:
            pkg = self._action("package_show", {"id": remote_id})
        except _ActionError as exc:
            if exc.status in (403, 404):
                return RecordError(remote_id, f"{remote_id} cannot be read at the source: "
                                              f"{exc.message}")
            raise
        out = self._convert(pkg)
        if out is None:
            return RecordError(remote_id, f"{remote_id} is private or deleted at the source "
                                          "and is not harvested", _compact(pkg))
        return out

    # -- mapping --

    def _convert(self, pkg: Any) -> HarvestRecord | RecordError | None:
        """A record, an error, or None for a package that must not be harvested."""
        rid = pkg.get("id") if isinstance(pkg, dict) else None
        rid_text = rid if isinstance(rid, str) else ""
        if not isinstance(pkg, dict):
            return RecordError("", "the source returned a record that is not an object",
                               _compact(pkg))
        if not isinstance(rid, str) or not rid.strip():
            return RecordError("", "the record has no id", _compact(pkg))
        if not any(isinstance(pkg.get(k), str) and pkg[k].strip() for k in ("name", "title")):
            return RecordError(rid, f"record {rid[:100]} has neither a name nor a title",
                               _compact(pkg))
        private = _truthy(pkg.get("private"))
        if private and not self.include_private:
            return None
        state = pkg.get("state", "active")
        if state not in ("active", None, ""):
            return None
        try:
            return self._map(pkg, rid.strip(), private)
        except _Invalid as exc:
            return RecordError(rid_text, f"record {rid_text[:100]}: {exc}", _compact(pkg))
        except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
            return RecordError(
                rid_text, f"record {rid_text[:100]} could not be read ({type(exc).__name__})",
                _compact(pkg),
            )

    def _licence(self, pkg: dict[str, Any]) -> str:
        raw = pkg.get("license_id")
        if isinstance(raw, str) and raw.strip():
            key = raw.strip().lower()
            if key in self._licences:
                return self._licences[key]
            if key in LICENCE_MAP:
                return LICENCE_MAP[key]
        return "other-open" if _truthy(pkg.get("isopen")) else "notspecified"

    def _map(self, pkg: dict[str, Any], rid: str, private: bool) -> HarvestRecord:
        raw_name = pkg.get("name")
        name = raw_name.strip() if isinstance(raw_name, str) else ""
        title = _text(pkg.get("title"), TEXT_LIMITS["title"]) or _text(name, 500)
        extras = _extras(pkg)
        extra = {k: v for k, v in extras}

        fields: dict[str, Any] = {"title": title}
        for key, limit in TEXT_LIMITS.items():
            if key != "title":
                fields[key] = _text(pkg.get(key), limit)
        fields["license_id"] = self._licence(pkg)
        fields["url"] = _http_url(pkg.get("url"))
        for key in EMAIL_FIELDS:
            fields[key] = _email(pkg.get(key))

        tags: list[str] = []
        raw_tags = pkg.get("tags")
        for t in raw_tags if isinstance(raw_tags, list) else []:
            if isinstance(t, dict):
                if t.get("vocabulary_id") or t.get("state", "active") != "active":
                    continue
                t = t.get("name")
            if isinstance(t, str) and TAG_RE.match(t.strip()) and t.strip() not in tags:
                tags.append(t.strip())
        fields["tags"] = tags

        freq = pkg.get("frequency") or extra.get("frequency") or extra.get("update_frequency")
        freq_text = freq.strip().lower() if isinstance(freq, str) else ""
        freq_text = FREQUENCY_SYNONYMS.get(freq_text, freq_text)
        fields["frequency"] = freq_text if freq_text in FREQUENCIES else ""

        start = _date(pkg.get("temporal_start"))
        end = _date(pkg.get("temporal_end"))
        if start and end and start > end:
            start = end = ""
        fields["temporal_start"], fields["temporal_end"] = start, end

        bbox = _bbox_list(pkg.get("bbox"))
        if bbox is None:
            bbox = bbox_from_geojson(pkg.get("spatial") or extra.get("spatial"))
        fields["bbox"] = bbox

        fields.update(self._access(pkg))

        resources = []
        raw_res = pkg.get("resources")
        for r in raw_res if isinstance(raw_res, list) else []:
            if not isinstance(r, dict) or r.get("state", "active") not in ("active", None):
                continue
            url = _http_url(r.get("url"))
            if not url:
                continue
            fmt = _text(r.get("format"), 40)
            res_name = _text(r.get("name"), 500) or url.rstrip("/").rsplit("/", 1)[-1][:500]
            resources.append({"name": res_name or fmt or "Resource", "url": url,
                              "format": fmt, "description": _text(r.get("description"),
                                                                  20_000)})
        fields["resources"] = resources

        out_extras = []
        seen_keys: set[str] = set()
        for key, value in extras:
            key = key.strip()
            if not key or len(key) > 200 or key in OWN_FIELDS or key in seen_keys:
                continue
            seen_keys.add(key)
            if value is None:
                text = ""
            elif isinstance(value, str):
                text = value
            else:
                text = _compact(value)
            out_extras.append({"key": key, "value": text[:100_000]})
        fields["extras"] = out_extras

        identifier = ""
        for key in ("uri", "identifier", "guid"):
            candidate = _http_url(extra.get(key)) or _http_url(pkg.get(key))
            if candidate:
                identifier = candidate
                break
        org = pkg.get("organization")
        publisher = ""
        if isinstance(org, dict):
            publisher = _text(org.get("title"), 500) or _text(org.get("name"), 500)
        remote_name = slug(name) or slug(title)
        if len(remote_name) < 2:
            remote_name = ("dataset-" + slug(rid))[:100].strip("-")
        return HarvestRecord(
            remote_id=rid,
            identifier=identifier or f"{self.base_url}/dataset/{rid}",
            modified=iso_modified(pkg.get("metadata_modified")),
            source_url=f"{self.base_url}/dataset/{quote(name or rid, safe='')}",
            remote_name=remote_name,
            fields=fields,
            publisher=publisher,
            private=private,
        )

    @staticmethod
    def _access(pkg: dict[str, Any]) -> dict[str, str]:
        level = pkg.get("access_level")
        if level not in ACCESS_LEVELS or level == "open":
            return {"access_level": "open", "restriction_reason": "", "discovery": ""}
        reason = pkg.get("restriction_reason")
        reason = reason if isinstance(reason, str) and reason in REASONS else ""
        discovery = pkg.get("discovery")
        discovery = discovery if isinstance(discovery, str) and discovery in DISCOVERY else ""
        if level == "restricted" and not reason:
            # Never publish restricted metadata as open; nor guess why it is restricted.
            raise _Invalid("it is restricted at the source without a valid restriction_reason")
        return {"access_level": str(level), "restriction_reason": reason,
                "discovery": discovery}


class _Invalid(ValueError):
    pass


class _ActionError(SourceError):
    """The portal answered with CKAN's error envelope (``success: false``)."""

    def __init__(self, message: str, url: str, status: int) -> None:
        super().__init__(message, url)
        self.status = status
