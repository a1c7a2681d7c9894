"""Harvesting CKAN portals: real HTTP against a fake CKAN 2.10 and hostile servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from citydata.federation.ckan_source import CkanSource, iso_modified, slug, solr_time
from citydata.federation.fetch import Fetcher, Limits
from citydata.federation.records import HarvestRecord, RecordError, SourceError
from tests.federation.fakes import FakeCkan, HostileServer, ckan_package

FIXTURES = Path(__file__).parent / "fixtures" / "ckan"


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(Limits(timeout=10)) as f:
        yield f


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def harvest(packages: list[Any], **source_options: Any) -> list[HarvestRecord | RecordError]:
    with FakeCkan(packages) as ckan, Fetcher() as f:
        return list(CkanSource(ckan.url, f, **source_options).records(None))


def one(pkg: dict[str, Any], **source_options: Any) -> HarvestRecord:
    [out] = harvest([pkg], **source_options)
    assert isinstance(out, HarvestRecord), out
    return out


def params_of(ckan: FakeCkan, action: str = "package_search") -> list[dict[str, str]]:
    return [r.query for r in ckan.action_calls(action)]


# -- paging ---------------------------------------------------------------------------------------


def test_full_harvest_pages_through_everything(fetcher: Fetcher) -> None:
    packages = [ckan_package(i) for i in range(2500)]
    with FakeCkan(packages) as ckan:
        got = list(CkanSource(ckan.url, fetcher, page_size=1000).records(None))
        calls = params_of(ckan)
    assert all(isinstance(r, HarvestRecord) for r in got)
    assert [r.remote_id for r in got] == [p["id"] for p in packages]  # oldest first
    assert [c["start"] for c in calls] == ["0", "1000", "2000"]
    for c in calls:
        assert c["rows"] == "1000"
        assert c["q"] == "*:*"
        assert c["sort"] == "metadata_modified asc, id asc"
        assert "fq" not in c and "include_private" not in c


def test_since_asks_only_for_what_changed(fetcher: Fetcher) -> None:
    packages = [ckan_package(i) for i in range(300)]
    with FakeCkan(packages) as ckan:
        source = CkanSource(ckan.url, fetcher)
        first = [r for r in source.records(None) if isinstance(r, HarvestRecord)]
        assert len(first) == 300
        changed = [packages[5]["id"], packages[150]["id"], packages[299]["id"]]
        for n, rid in enumerate(changed):
            ckan.touch(rid, datetime(2030, 1, 1, 12, 0, n), title=f"Changed {n}")
        again = list(source.records("2030-01-01T12:00:00Z"))
        fq = params_of(ckan)[-1]["fq"]
        # An offset is converted to UTC; sub-second precision is kept to the millisecond.
        later = list(source.records("2030-01-01T13:00:01.500999+01:00"))
        fq_later = params_of(ckan)[-1]["fq"]
    assert fq == "metadata_modified:[2030-01-01T12:00:00Z TO *]"
    assert [r.remote_id for r in again] == changed
    assert [r.fields["title"] for r in again if isinstance(r, HarvestRecord)] == [
        "Changed 0", "Changed 1", "Changed 2"]
    assert fq_later == "metadata_modified:[2030-01-01T12:00:01.500Z TO *]"
    assert [r.remote_id for r in later] == [changed[2]]


def test_since_is_applied_even_when_the_portal_ignores_fq(fetcher: Fetcher) -> None:
    packages = [ckan_package(i) for i in range(20)]
    since = packages[15]["metadata_modified"]
    with FakeCkan(packages, ignore_params=("fq",)) as ckan:
        got = list(CkanSource(ckan.url, fetcher).records(since))
    assert [r.remote_id for r in got] == [p["id"] for p in packages[15:]]


def test_listing(fetcher: Fetcher) -> None:
    packages = [ckan_package(i) for i in range(1200)]
    with FakeCkan(packages) as ckan:
        listing = list(CkanSource(ckan.url, fetcher).listing())
        calls = params_of(ckan)
    assert [rid for rid, _ in listing] == [p["id"] for p in packages]
    assert all(c["fl"] == "id,metadata_modified,capacity" for c in calls)
    assert len(calls) == 2
    # Solr returns stored dates to the millisecond, with a Z: the same as records() gives.
    assert listing[7] == (packages[7]["id"], "2023-01-02T09:07:00.000Z")
    assert listing[7][1] == iso_modified(packages[7]["metadata_modified"])


def test_listing_agrees_with_records_and_survives_a_portal_ignoring_fl(fetcher: Fetcher) -> None:
    packages = [ckan_package(i * 977) for i in range(30)]  # varied microseconds
    with FakeCkan(packages, ignore_params=("fl",)) as ckan:
        source = CkanSource(ckan.url, fetcher)
        listing = dict(source.listing())
        records = {r.remote_id: r.modified for r in source.records(None)
                   if isinstance(r, HarvestRecord)}
    assert listing == records
    with FakeCkan(packages) as ckan:
        assert dict(CkanSource(ckan.url, fetcher).listing()) == records


def test_packages_changing_between_calls(fetcher: Fetcher) -> None:
    packages = [ckan_package(i) for i in range(10)]
    with FakeCkan(packages) as ckan:
        source = CkanSource(ckan.url, fetcher)
        assert len(list(source.listing())) == 10
        ckan.remove(packages[3]["id"])
        ckan.packages.append(ckan_package(99))
        ids = [rid for rid, _ in source.listing()]
    assert packages[3]["id"] not in ids
    assert ids[-1] == ckan_package(99)["id"]
    assert len(ids) == 10


def test_a_portal_that_caps_rows_is_still_harvested_completely(fetcher: Fetcher) -> None:
    packages = [ckan_package(i) for i in range(250)]
    with FakeCkan(packages, rows_max=100) as ckan:
        got = list(CkanSource(ckan.url, fetcher, page_size=1000).records(None))
        starts = [c["start"] for c in params_of(ckan)]
    assert len(got) == 250
    assert starts == ["0", "100", "200"]


def test_a_portal_that_cannot_sort_by_id(fetcher: Fetcher) -> None:
    packages = [ckan_package(i) for i in range(15)]
    sortable = {"metadata_modified", "metadata_created", "name", "score"}
    with FakeCkan(packages, sort_fields=sortable) as ckan:
        got = list(CkanSource(ckan.url, fetcher, page_size=10).records(None))
        sorts = [c["sort"] for c in params_of(ckan)]
    assert len(got) == 15
    assert sorts == ["metadata_modified asc, id asc", "metadata_modified asc",
                     "metadata_modified asc"]


def test_endless_pagination_is_stopped(hostile: HostileServer, fetcher: Fetcher) -> None:
    before = len(hostile.requests_to("/endless/api/3/action/package_search"))
    source = CkanSource(f"{hostile.url}/endless", fetcher)
    with pytest.raises(SourceError) as err:
        list(source.records(None))
    assert "the source repeats the same page: endless pagination" in err.value.message
    assert len(hostile.requests_to("/endless/api/3/action/package_search")) - before == 2


def test_max_pages(fetcher: Fetcher, hostile: HostileServer) -> None:
    packages = [ckan_package(i) for i in range(2500)]
    with FakeCkan(packages) as ckan, Fetcher(Limits(max_pages=2)) as limited:
        with pytest.raises(SourceError) as err:
            list(CkanSource(ckan.url, limited, page_size=1000).records(None))
        assert len(ckan.action_calls("package_search")) == 2
        # Exactly at the limit is fine.
        with Fetcher(Limits(max_pages=3)) as enough:
            assert len(list(CkanSource(ckan.url, enough).records(None))) == 2500
    assert "more than 2 pages" in err.value.message
    # A source that invents new records forever is stopped by the same limit.
    with Fetcher(Limits(max_pages=4)) as limited, pytest.raises(SourceError) as err:
        list(CkanSource(f"{hostile.url}/growing", limited, page_size=5).listing())
    assert "more than 4 pages" in err.value.message


# -- CKAN errors ----------------------------------------------------------------------------------


def test_ckan_success_false_is_a_source_error_with_ckan_s_message(fetcher: Fetcher) -> None:
    with FakeCkan([ckan_package(0)]) as ckan:
        ckan.errors["package_search"] = (409, {
            "__type": "Search Query Error",
            "message": "Search Query is invalid: \"Invalid Date String:'yesterday'\"",
        })
        with pytest.raises(SourceError) as err:
            list(CkanSource(ckan.url, fetcher).records(None))
    assert "Search Query Error: Search Query is invalid" in err.value.message
    assert ckan.url in err.value.message


def test_success_false_with_http_200_and_validation_errors(fetcher: Fetcher) -> None:
    body = {"help": "https://x/api/3/action/help_show?name=package_search", "success": False,
            "error": {"__type": "Validation Error", "rows": ["Invalid integer"]}}
    with FakeCkan([]) as ckan:
        ckan.canned["package_search"] = json.dumps(body).encode()
        with pytest.raises(SourceError) as err:
            list(CkanSource(ckan.url, fetcher).listing())
    assert "Validation Error: rows: Invalid integer" in err.value.message


@pytest.mark.parametrize("body", [b'{"count": 3, "results": []}',
                                  b'{"success": true}',
                                  b'{"success": true, "result": {"results": "nope"}}',
                                  b'[1, 2, 3]'])
def test_not_a_ckan_answer(body: bytes, fetcher: Fetcher) -> None:
    with FakeCkan([]) as ckan:
        ckan.canned["package_search"] = body
        with pytest.raises(SourceError) as err:
            list(CkanSource(ckan.url, fetcher).records(None))
    assert ckan.url in err.value.message


def test_a_site_that_is_not_ckan(hostile: HostileServer, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError) as err:
        list(CkanSource(hostile.url, fetcher).records(None))
    assert err.value.message.startswith(f"HTTP 404 from {hostile.url}/api/3/action/package_search?")


def test_base_url_may_include_the_api_path(fetcher: Fetcher) -> None:
    with FakeCkan([ckan_package(1)]) as ckan:
        got = list(CkanSource(f"{ckan.url}/api/3/action/", fetcher).records(None))
    assert isinstance(got[0], HarvestRecord)
    assert got[0].source_url.startswith(f"{ckan.url}/dataset/")


# -- private packages -----------------------------------------------------------------------------


def _mixed() -> list[dict[str, Any]]:
    return [ckan_package(i, private=i % 3 == 0) for i in range(9)]


def test_private_packages_are_not_harvested_without_authorisation(fetcher: Fetcher) -> None:
    packages = _mixed()
    public = [p["id"] for p in packages if not p["private"]]
    with FakeCkan(packages) as ckan:
        # Asking without a key, or with a key but without asking: no private packages.
        for options in ({"include_private": True}, {"api_key": ckan.api_key}):
            source = CkanSource(ckan.url, fetcher, **options)
            got = list(source.records(None))
            assert [r.remote_id for r in got] == public
            assert [rid for rid, _ in source.listing()] == public
            assert all(isinstance(r, HarvestRecord) and not r.private for r in got)
        assert all("include_private" not in c for c in params_of(ckan))
        assert all("authorization" not in r.headers for r in ckan.action_calls("package_search"))
        # A wrong key is refused by the portal.
        wrong = CkanSource(ckan.url, fetcher, api_key="not-the-key", include_private=True)
        assert [r.remote_id for r in wrong.records(None)] == public


def test_a_leaky_portal_still_does_not_get_private_packages_harvested(fetcher: Fetcher) -> None:
    packages = _mixed()
    with FakeCkan(packages, leak_private=True) as ckan:
        source = CkanSource(ckan.url, fetcher)
        got = list(source.records(None))
        listing = [rid for rid, _ in source.listing()]
        shown = source.record(packages[0]["id"])  # package_show: also leaked
    assert len(got) == 6 and not any(r.remote_id == packages[0]["id"] for r in got)
    assert packages[0]["id"] not in listing
    assert isinstance(shown, RecordError) and "private" in shown.message


def test_private_packages_are_harvested_with_authorisation(fetcher: Fetcher) -> None:
    packages = _mixed()
    with FakeCkan(packages) as ckan:
        source = CkanSource(ckan.url, fetcher, api_key=ckan.api_key, include_private=True)
        got = list(source.records(None))
        calls = ckan.action_calls("package_search")
        shown = source.record(packages[3]["id"])
    assert [r.remote_id for r in got] == [p["id"] for p in packages]
    assert [r.private for r in got if isinstance(r, HarvestRecord)] == [
        i % 3 == 0 for i in range(9)]
    assert all(c.query["include_private"] == "true" for c in calls)
    assert all(c.headers["authorization"] == ckan.api_key for c in calls)
    assert isinstance(shown, HarvestRecord) and shown.private


# -- records, errors and stragglers ---------------------------------------------------------------


def test_malformed_packages_become_record_errors_and_the_harvest_goes_on(
    fetcher: Fetcher,
) -> None:
    good = [ckan_package(i) for i in range(3)]
    no_name = {"id": "no-name-or-title", "notes": "x" * 10_000,
               "metadata_modified": "2023-01-01T00:00:00"}
    packages: list[Any] = [
        good[0], "just a string", {"title": "no id", "metadata_modified": "2023-01-01"},
        good[1], no_name,
        ckan_package(7, tags="not a list", resources="nor this", extras=42, title=12345,
                     license_id=["odd"], organization="GLA", url="javascript:alert(1)"),
        good[2],
    ]
    with FakeCkan(packages) as ckan:
        got = list(CkanSource(ckan.url, fetcher).records(None))
    records = [r for r in got if isinstance(r, HarvestRecord)]
    errors = [r for r in got if isinstance(r, RecordError)]
    assert {r.remote_id for r in records} >= {p["id"] for p in good}
    assert len(errors) == 3
    by_message = {e.message: e for e in errors}
    not_object = next(e for e in errors if "not an object" in e.message)
    assert not_object.source_record == '"just a string"'
    assert any("has no id" in m for m in by_message)
    named = next(e for e in errors if e.remote_id == "no-name-or-title")
    assert "neither a name nor a title" in named.message
    assert len(named.source_record) == 4000
    assert named.source_record.startswith('{"id":"no-name-or-title","notes":"xxx')
    # Odd types are survived: the record is kept with what could be read.
    odd = next(r for r in records if r.remote_id == ckan_package(7)["id"])
    assert odd.fields["title"] == "12345"
    assert odd.fields["tags"] == [] and odd.fields["resources"] == []
    assert odd.fields["extras"] == [] and odd.fields["url"] == ""
    assert odd.fields["license_id"] == "other-open"  # isopen is true
    assert odd.publisher == ""


def test_record_fetches_one_package(fetcher: Fetcher) -> None:
    packages = [ckan_package(i) for i in range(3)]
    with FakeCkan(packages) as ckan:
        source = CkanSource(ckan.url, fetcher)
        from_search = list(source.records(None))[1]
        shown = source.record(packages[1]["id"])
        missing = source.record("no-such-dataset")
        assert params_of(ckan, "package_show")[0] == {"id": packages[1]["id"]}
    assert isinstance(shown, HarvestRecord)
    assert shown == from_search
    assert shown.content_hash == from_search.content_hash
    assert isinstance(missing, RecordError)
    assert missing.remote_id == "no-such-dataset"
    assert "Not Found Error" in missing.message


def test_record_of_a_private_package_without_authorisation(fetcher: Fetcher) -> None:
    with FakeCkan([ckan_package(0, private=True)]) as ckan:
        got = CkanSource(ckan.url, fetcher).record(ckan.packages[0]["id"])
    assert isinstance(got, RecordError)
    assert "Authorization Error" in got.message


def test_record_on_a_broken_portal_is_a_source_error(fetcher: Fetcher) -> None:
    with FakeCkan([ckan_package(0)]) as ckan:
        ckan.errors["package_show"] = (500, {"__type": "Internal Server Error",
                                             "message": "Solr is down"})
        with pytest.raises(SourceError) as err:
            CkanSource(ckan.url, fetcher).record(ckan.packages[0]["id"])
    assert "Solr is down" in err.value.message


def test_unchanged_packages_hash_the_same_and_changes_show(fetcher: Fetcher) -> None:
    with FakeCkan([ckan_package(4)]) as ckan:
        source = CkanSource(ckan.url, fetcher)
        [a] = source.records(None)
        [b] = source.records(None)
        ckan.packages[0]["notes"] = "Updated"  # an edit in place, without a new timestamp
        [c] = source.records(None)
    assert isinstance(a, HarvestRecord) and isinstance(b, HarvestRecord)
    assert isinstance(c, HarvestRecord)
    assert a.content_hash == b.content_hash
    assert c.content_hash != a.content_hash
    assert c.fields["notes"] == "Updated"


# -- mapping --------------------------------------------------------------------------------------


def test_mapping_of_a_typical_package() -> None:
    pkg = ckan_package(12)
    rec = one(pkg)
    f = rec.fields
    assert rec.remote_id == pkg["id"]
    assert rec.remote_name == pkg["name"]
    assert rec.modified == "2023-01-02T09:12:00.000Z"
    assert rec.publisher == pkg["organization"]["title"] == "Royal Borough of Greenwich"
    assert rec.identifier.endswith(f"/dataset/{pkg['id']}")  # no uri extra: the fallback
    assert rec.source_url.endswith(f"/dataset/{pkg['name']}")
    assert rec.private is False
    assert f["title"] == pkg["title"] and f["notes"] == pkg["notes"]
    assert f["license_id"] == "CC-BY-4.0"
    assert f["tags"] == ["cycling", "transport"]
    assert f["frequency"] == "monthly"
    assert f["bbox"] == [-0.21, 51.51, -0.1, 51.57]
    assert f["access_level"] == "open"
    assert f["author_email"] == pkg["author_email"]
    assert [r["format"] for r in f["resources"]] == ["CSV", "GeoJSON"]
    assert set(f["resources"][0]) == {"name", "url", "format", "description"}
    assert f["extras"] == [{"key": "update_frequency", "value": "monthly"}]


@pytest.mark.parametrize("ckan_id,isopen,expected", [
    ("uk-ogl", True, "OGL-UK-3.0"),
    ("OGL-UK-3.0", True, "OGL-UK-3.0"),
    ("ogl-uk-3.0", True, "OGL-UK-3.0"),
    ("OGL-UK-2.0", True, "OGL-UK-2.0"),
    ("cc-by", True, "CC-BY-4.0"),
    ("cc-by-sa", True, "CC-BY-SA-4.0"),
    ("cc-zero", True, "CC0-1.0"),
    ("odc-by", True, "ODC-BY-1.0"),
    ("odc-odbl", True, "ODbL-1.0"),
    ("odc-pddl", True, "PDDL-1.0"),
    ("other-open", True, "other-open"),
    ("other-pd", True, "other-open"),
    ("cc-nc", False, "other-closed"),
    ("notspecified", False, "notspecified"),
    ("some-council-licence", True, "other-open"),
    ("some-council-licence", False, "notspecified"),
    ("", True, "other-open"),
    (None, False, "notspecified"),
])
def test_licences(ckan_id: str | None, isopen: bool, expected: str) -> None:
    assert one(ckan_package(0, license_id=ckan_id, isopen=isopen)).fields["license_id"] == \
        expected


def test_tags_that_citydata_cannot_store_are_dropped() -> None:
    tags = [{"name": n, "state": "active", "vocabulary_id": None} for n in
            ["air quality", "PM2.5", "bikes/hire", "x" * 101, "", "  padded  ", "air quality",
             "naïve-café"]]
    tags.append({"name": "from-a-vocabulary", "vocabulary_id": "v1"})
    tags.append("plain-string")
    assert one(ckan_package(0, tags=tags)).fields["tags"] == [
        "air quality", "PM2.5", "padded", "naïve-café", "plain-string"]


def _with_spatial(value: Any, **more: Any) -> dict[str, Any]:
    return ckan_package(0, extras=[{"key": "spatial", "value": value}], **more)


@pytest.mark.parametrize("spatial,bbox", [
    ('{"type": "Polygon", "coordinates": [[[-0.5, 51.3], [0.3, 51.3], [0.3, 51.7], '
     '[-0.5, 51.7], [-0.5, 51.3]]]}', [-0.5, 51.3, 0.3, 51.7]),
    ('{"type": "MultiPolygon", "coordinates": [[[[-0.2, 51.5], [-0.1, 51.5], [-0.1, 51.6], '
     '[-0.2, 51.5]]], [[[0.0, 51.4], [0.1, 51.4], [0.1, 51.45], [0.0, 51.4]]]]}',
     [-0.2, 51.4, 0.1, 51.6]),
    ('{"type": "Point", "coordinates": [-0.1276, 51.5072]}', [-0.1276, 51.5072, -0.1276, 51.5072]),
    ('{"type": "Point", "coordinates": [530000, 180000]}', None),  # British National Grid
    ('{"type": "Polygon", "coordinates": [[[-0.5, 95], [0.3, 51.3], [0.3, 51.7]]]}', None),
    ('{"type": "LineString", "coordinates": [[0, 51], [1, 52]]}', None),
    ('{"type": "Polygon", "coordinates": [[["a", "b"]]]}', None),
    ('{"type": "Polygon", "coordinates": "nope"}', None),
    ("POLYGON((-0.5 51.3, 0.3 51.3, 0.3 51.7, -0.5 51.3))", None),
    ("", None),
])
def test_bbox_from_the_spatial_extra(spatial: str, bbox: list[float] | None) -> None:
    rec = one(_with_spatial(spatial))
    assert rec.fields["bbox"] == bbox
    assert all(e["key"] != "spatial" for e in rec.fields["extras"])


def test_identifier_from_extras_or_the_fallback() -> None:
    def ident(extras: list[dict[str, Any]]) -> str:
        return one(ckan_package(0, extras=extras)).identifier

    uri = "https://data.example-london.gov.uk/id/dataset/trees"
    assert ident([{"key": "uri", "value": uri}]) == uri
    assert ident([{"key": "identifier", "value": uri}]) == uri
    assert ident([{"key": "guid", "value": uri}]) == uri
    assert ident([{"key": "uri", "value": "urn:x:1"}, {"key": "guid", "value": uri}]) == uri
    fallback = ident([{"key": "identifier", "value": "urn:lambeth:trees"}])
    assert fallback.startswith("http://127.0.0.1:")
    assert fallback.endswith(f"/dataset/{ckan_package(0)['id']}")


@pytest.mark.parametrize("given,expected", [
    ({"access_level": "shared", "restriction_reason": "commercial-confidentiality",
      "discovery": "sample"},
     {"access_level": "shared", "restriction_reason": "commercial-confidentiality",
      "discovery": "sample"}),
    ({"access_level": "shared"}, {"access_level": "shared", "restriction_reason": "",
                                  "discovery": ""}),
    ({"access_level": "restricted", "restriction_reason": "personal-data",
      "discovery": "secret-sauce"},
     {"access_level": "restricted", "restriction_reason": "personal-data", "discovery": ""}),
    ({"access_level": "open", "restriction_reason": "personal-data"},
     {"access_level": "open", "restriction_reason": "", "discovery": ""}),
    ({"access_level": "top-secret"}, {"access_level": "open", "restriction_reason": "",
                                      "discovery": ""}),
    ({}, {"access_level": "open", "restriction_reason": "", "discovery": ""}),
])
def test_access_level_pass_through(given: dict[str, str], expected: dict[str, str]) -> None:
    f = one(ckan_package(0, **given)).fields
    assert {k: f[k] for k in expected} == expected


def test_restricted_without_a_valid_reason_is_not_imported_as_open() -> None:
    [got] = harvest([ckan_package(0, access_level="restricted", restriction_reason="because")])
    assert isinstance(got, RecordError)
    assert "restriction_reason" in got.message
    assert got.source_record.startswith("{")


def test_text_limits_and_cleaning() -> None:
    rec = one(ckan_package(
        0, title="T" * 600, notes="n" * 200_000, version=2.1, author_email="not an email",
        maintainer_email="a@example.org; b@example.org", name="Air Quality/2024 Data!",
        url="ftp://example.org/x", frequency="Yearly",
        temporal_start="2020-01-01", temporal_end="2019-01-01",
    ))
    f = rec.fields
    assert len(f["title"]) == 500 and len(f["notes"]) == 100_000
    assert f["version"] == "2.1"
    assert f["author_email"] == "" and f["maintainer_email"] == "a@example.org"
    assert f["url"] == ""
    assert f["frequency"] == "annual"
    assert f["temporal_start"] == f["temporal_end"] == ""  # start after end: both dropped
    assert rec.remote_name == "air-quality-2024-data"
    assert rec.source_url.endswith("/dataset/Air%20Quality%2F2024%20Data%21")


def test_frequencies_citydata_does_not_know_are_dropped() -> None:
    assert one(ckan_package(0, frequency="every full moon")).fields["frequency"] == ""
    weekly = ckan_package(0, extras=[{"key": "frequency", "value": "Weekly"}])
    assert one(weekly).fields["frequency"] == "weekly"


def test_resources_and_extras() -> None:
    resources = [
        {"name": "Data", "url": "https://example.org/a.csv", "format": "CSV",
         "description": "d", "id": "r1"},
        {"name": "FTP copy", "url": "ftp://example.org/a.csv", "format": "CSV"},
        {"name": "Relative", "url": "/download/a.csv"},
        {"name": "", "url": "https://example.org/files/b file.json", "format": "JSON"},
        {"name": "Gone", "url": "https://example.org/c.csv", "state": "deleted"},
        "not a resource",
    ]
    extras = [
        {"key": "title", "value": "collides"},
        {"key": "notes", "value": "collides"},
        {"key": "harvest_source", "value": "gla"},
        {"key": "coverage", "value": {"from": 2019, "to": 2024}},
        {"key": "year", "value": 2024},
        {"key": "empty", "value": None},
        {"key": "harvest_source", "value": "duplicate"},
        {"nokey": "x"},
    ]
    f = one(ckan_package(0, resources=resources, extras=extras)).fields
    assert f["resources"] == [
        {"name": "Data", "url": "https://example.org/a.csv", "format": "CSV",
         "description": "d"},
        {"name": "b%20file.json", "url": "https://example.org/files/b%20file.json",
         "format": "JSON", "description": ""},
    ]
    assert f["extras"] == [
        {"key": "harvest_source", "value": "gla"},
        {"key": "coverage", "value": '{"from":2019,"to":2024}'},
        {"key": "year", "value": "2024"},
        {"key": "empty", "value": ""},
    ]
    assert f["title"] != "collides"


def test_a_citydata_node_s_own_fields_are_used() -> None:
    rec = one(ckan_package(
        0, bbox=[-0.3, 51.4, 0.1, 51.6], contact_name="Open Data Team",
        contact_email="open.data@example.gov.uk", temporal_start="2021-04-01",
        temporal_end="2022-03-31T00:00:00", frequency="quarterly",
    ))
    f = rec.fields
    assert f["bbox"] == [-0.3, 51.4, 0.1, 51.6]  # preferred to the spatial extra
    assert f["contact_name"] == "Open Data Team"
    assert f["contact_email"] == "open.data@example.gov.uk"
    assert (f["temporal_start"], f["temporal_end"]) == ("2021-04-01", "2022-03-31")
    assert f["frequency"] == "quarterly"


def test_deleted_packages_are_skipped(fetcher: Fetcher) -> None:
    packages = [ckan_package(0), ckan_package(1, state="deleted")]
    with FakeCkan(packages, ignore_params=()) as ckan:
        ckan.canned["package_search"] = json.dumps({
            "help": "h", "success": True,
            "result": {"count": 2, "facets": {}, "results": packages, "sort": "",
                       "search_facets": {}}}).encode()
        got = list(CkanSource(ckan.url, fetcher).records(None))
    assert [r.remote_id for r in got] == [packages[0]["id"]]


# -- the recorded CKAN 2.10 responses -------------------------------------------------------------


def test_recorded_package_search_and_package_show(fetcher: Fetcher) -> None:
    search = (FIXTURES / "package_search.json").read_bytes()
    show = (FIXTURES / "package_show.json").read_bytes()
    assert json.loads(search)["result"]["count"] == 3
    with FakeCkan([]) as ckan:
        ckan.canned["package_search"] = search
        ckan.canned["package_show"] = show
        source = CkanSource(ckan.url, fetcher)
        got = list(source.records(None))
        listing = list(source.listing())
        shown = source.record("5f2b9c4a-8e1d-4a37-b6f0-3c9d2e7a1b48")
        base = ckan.url
    assert all(isinstance(r, HarvestRecord) for r in got)
    laei, bikes, food = (r for r in got if isinstance(r, HarvestRecord))
    assert [rid for rid, _ in listing] == [r.remote_id for r in got]

    assert laei.identifier == "https://data.example-london.gov.uk/id/dataset/laei-2019"
    assert laei.remote_name == "london-atmospheric-emissions-inventory-laei-2019"
    assert laei.modified == "2024-04-29T16:21:07.553Z"
    assert laei.publisher == "Greater London Authority"
    assert laei.fields["license_id"] == "OGL-UK-3.0"
    assert laei.fields["frequency"] == "annual"
    assert laei.fields["bbox"] == [-0.5103, 51.2868, 0.334, 51.6919]
    assert laei.fields["tags"] == ["air quality", "emissions", "NOx", "PM2.5"]
    assert laei.fields["notes"].startswith("The London Atmospheric Emissions Inventory")
    assert [r["format"] for r in laei.fields["resources"]] == ["CSV", "PDF"]
    assert {"key": "london_smallest_geography", "value": "1km grid square"} in \
        laei.fields["extras"]
    assert shown == laei

    assert bikes.fields["license_id"] == "CC-BY-4.0"
    assert bikes.fields["tags"] == ["cycling", "transport"]  # "bikes/hire" is not a valid tag
    assert bikes.fields["maintainer_email"] == ""
    assert bikes.fields["bbox"] == [-0.1276, 51.5072, -0.1276, 51.5072]
    assert [r["url"] for r in bikes.fields["resources"]] == [
        "https://api.example-tfl.gov.uk/bikepoint/docking-stations.geojson"]  # no ftp
    assert all(e["key"] != "title" for e in bikes.fields["extras"])
    assert bikes.fields["title"] == "Cycle hire docking stations"
    assert bikes.identifier == f"{base}/dataset/b7d3e1f9-2c4a-4e6b-9d8f-0a1c3e5b7d92"

    assert food.fields["license_id"] == "notspecified"  # unknown licence, not open
    assert food.identifier == f"{base}/dataset/{food.remote_id}"  # a urn is not an IRI we use
    assert food.fields["resources"][0]["url"].endswith("/inspections%202023-24.xlsx")


# -- helpers --------------------------------------------------------------------------------------


def test_timestamps() -> None:
    assert iso_modified("2024-05-01T10:11:12.123456") == "2024-05-01T10:11:12.123Z"
    assert iso_modified("2024-05-01T10:11:12.123Z") == "2024-05-01T10:11:12.123Z"
    assert iso_modified("2024-05-01T11:11:12+01:00") == "2024-05-01T10:11:12.000Z"
    assert iso_modified("yesterday") == iso_modified(None) == ""
    assert solr_time("2024-01-01") == "2024-01-01T00:00:00Z"
    assert solr_time("2024-05-01T10:11:12.123999") == "2024-05-01T10:11:12.123Z"
    with pytest.raises(ValueError):
        solr_time("last tuesday")


def test_slug() -> None:
    assert slug("Road_Casualties-2023") == "road_casualties-2023"
    assert slug("  Ümlaut  ünd  Spaces ") == "mlaut-nd-spaces"
    assert len(slug("a" * 300)) == 100


# -- the fake portal speaks CKAN as CKAN's own client expects -------------------------------------


def test_the_fake_portal_satisfies_ckanapi() -> None:
    import ckanapi

    packages = [ckan_package(i, private=i == 2) for i in range(5)]
    with FakeCkan(packages) as ckan:
        anonymous = ckanapi.RemoteCKAN(ckan.url)
        sysadmin = ckanapi.RemoteCKAN(ckan.url, apikey=ckan.api_key)
        status = anonymous.action.status_show()
        found = anonymous.action.package_search(q="*:*", rows=2, sort="metadata_modified asc")
        everything = sysadmin.action.package_search(include_private=True, rows=10)
        names = anonymous.action.package_list()
        shown = anonymous.action.package_show(id=packages[1]["name"])
        with pytest.raises(ckanapi.NotFound):
            anonymous.action.package_show(id="nope")
        with pytest.raises(ckanapi.NotAuthorized):
            anonymous.action.package_show(id=packages[2]["id"])
        with pytest.raises(ckanapi.ValidationError):
            anonymous.action.package_search(rows="many")
        with pytest.raises(ckanapi.SearchQueryError):
            anonymous.action.package_search(fq="metadata_modified:[2024-01-01 TO *]")
    assert status["ckan_version"].startswith("2.10")
    assert set(found) == {"count", "facets", "results", "sort", "search_facets"}
    assert found["count"] == 4 and [p["id"] for p in found["results"]] == [
        packages[0]["id"], packages[1]["id"]]
    assert everything["count"] == 5
    assert [p["id"] for p in everything["results"]] == [p["id"] for p in packages[::-1]]
    assert names == sorted(p["name"] for p in packages if not p["private"])
    assert shown == packages[1]
