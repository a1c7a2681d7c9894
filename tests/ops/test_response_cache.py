"""The anonymous response cache (citydata/ops/response_cache.py) and the public generation
that keeps it exact (citydata/storage/public_changes.py), on both backends.

The cache may only ever save work: every write an anonymous reader could see — through the
API, by another process on the same database, by text SQL — is visible on the very next
request; nobody's own answers (a token, a session, a purpose) are kept or served a copy; the
writes a read makes (the audit chain) do not empty it.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citydata.access import audit
from citydata.access.actors import Actor
from citydata.app import create_app
from citydata.catalog.users import create_token
from citydata.ops.response_cache import Entry, ResponseCache, cache_key
from citydata.platform import Platform
from citydata.storage import public_changes
from tests.fuzz.conftest import fuzz_data  # noqa: F401  (fixture)
from tests.web.conftest import login

CACHE = "x-citydata-cache"


def generation(platform: Platform) -> int:
    value = public_changes.current(platform.db.engine)
    assert value is not None
    return value


def ckan(client: TestClient, action: str, token: str, **data: Any) -> dict[str, Any]:
    answer = client.post(f"/api/3/action/{action}", json=data, headers={"Authorization": token})
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def twice(client: TestClient, url: str, **kw: Any) -> tuple[Any, Any]:
    return client.get(url, **kw), client.get(url, **kw)


@pytest.fixture
def data(fuzz_data):  # type: ignore[no-untyped-def]  # noqa: F811
    return fuzz_data


ANONYMOUS_READS = [
    "/dataset/spend",
    "/dataset?q=spend",
    "/api/3/action/package_show?id=spend",
    "/api/3/action/package_search?q=spend",
    "/ogc/collections/camden-libraries/items?f=json",
]


def test_a_repeated_anonymous_read_is_answered_from_the_cache(client, data):  # type: ignore[no-untyped-def]
    urls = [*ANONYMOUS_READS, f"/api/v1/resources/{data['resource_id']}/rows?_size=5"]
    for url in urls:
        first, second = twice(client, url)
        assert first.status_code == second.status_code == 200, url
        assert (first.headers[CACHE], second.headers[CACHE]) == ("miss", "hit"), url
        assert second.content == first.content, url
        assert second.headers["content-type"] == first.headers["content-type"]
        # A copy still gets its own request id and the site's security headers.
        assert second.headers["x-request-id"] != first.headers["x-request-id"]
        assert "default-src 'self'" in second.headers["content-security-policy"]


def test_an_edit_is_seen_by_the_next_anonymous_read(client, data):  # type: ignore[no-untyped-def]
    for url in ANONYMOUS_READS[:4]:
        assert "Camden spend" in twice(client, url)[1].text
    before = generation(client.app.state.platform)
    ckan(client, "package_patch", data["admin_token"], id="spend", title="Camden spending 2026")
    assert generation(client.app.state.platform) > before
    for url in ANONYMOUS_READS[:4]:
        answer = client.get(url)
        assert answer.headers[CACHE] == "miss", url
        assert "Camden spending 2026" in answer.text, url


def test_a_dataset_made_private_is_gone_for_anonymous_readers_at_once(client, data):  # type: ignore[no-untyped-def]
    rows = f"/api/v1/resources/{data['resource_id']}/rows?_size=5"
    for url in ("/dataset/spend", "/api/3/action/package_show?id=spend", rows):
        assert twice(client, url)[1].headers[CACHE] == "hit", url
    ckan(client, "package_patch", data["editor_token"], id="spend", access_level="private")
    for url in ("/dataset/spend", "/api/3/action/package_show?id=spend", rows):
        answer = client.get(url)
        assert answer.status_code in (403, 404), (url, answer.status_code)
        assert answer.headers.get(CACHE) != "hit"
    assert "spend" not in [d["name"] for d in client.get(
        "/api/3/action/package_search?q=spend").json()["result"]["results"]]


def test_a_write_by_another_process_is_seen_too(client, data, settings):  # type: ignore[no-untyped-def]
    """A second platform on the same database is another worker, the CLI or a job runner:
    its own engine, its own connections, no shared memory with this app."""
    assert twice(client, "/dataset/spend")[1].headers[CACHE] == "hit"
    other = Platform(settings)
    try:
        with TestClient(create_app(platform=other)) as elsewhere:
            ckan(elsewhere, "package_patch", data["admin_token"], id="spend",
                 notes="Edited on another worker")
        answer = client.get("/dataset/spend")
        assert answer.headers[CACHE] == "miss"
        assert "Edited on another worker" in answer.text
    finally:
        other.close()


def test_text_sql_and_empty_writes(platform, client, data):  # type: ignore[no-untyped-def]
    """Tracked at the engine: a text UPDATE that changed a row moves the generation on; one
    that matched nothing, and a rolled-back write, do not."""
    before = generation(platform)
    with platform.db.engine.begin() as conn:
        conn.execute(text("UPDATE datasets SET title = 'Renamed by SQL' WHERE name = 'spend'"))
    assert generation(platform) == before + 1
    assert "Renamed by SQL" in client.get("/api/3/action/package_show?id=spend").text
    with platform.db.engine.begin() as conn:
        conn.execute(text("UPDATE datasets SET title = 'x' WHERE name = 'no-such-dataset'"))
    assert generation(platform) == before + 1
    with pytest.raises(RuntimeError), platform.db.engine.begin() as conn:
        conn.execute(text("UPDATE datasets SET title = 'Never' WHERE name = 'spend'"))
        raise RuntimeError("roll back")
    assert generation(platform) == before + 1
    assert "Renamed by SQL" in client.get("/api/3/action/package_show?id=spend").text


def test_reads_that_write_private_tables_keep_the_cache(platform, client, data):  # type: ignore[no-untyped-def]
    """Audit entries, tokens and login throttles are no anonymous reader's business: writing
    them must not empty every process's cache (a governed read writes an audit entry)."""
    assert twice(client, "/dataset/spend")[1].headers[CACHE] == "hit"
    before = generation(platform)
    with platform.db.session() as session:
        audit.stage(session, Actor.system(), "token.created", detail={"why": "test"})
        create_token(session, Actor.system(), "admin", name="another")
    assert client.post("/api/3/action/api_token_create", json={"user": "admin", "name": "t"},
                       headers={"Authorization": data["admin_token"]}).status_code == 200
    assert generation(platform) == before
    assert client.get("/dataset/spend").headers[CACHE] == "hit"


def test_nobodys_own_answer_is_kept_or_served_a_copy(client, data):  # type: ignore[no-untyped-def]
    url = "/api/3/action/package_show?id=spend"
    client.get(url)
    personal = [
        {"Authorization": data["admin_token"]},
        {"X-CKAN-API-Key": data["admin_token"]},
        {"X-Citydata-Purpose": "service-planning"},
        {"Cookie": "citydata_session=anything"},
    ]
    for headers in personal:
        for answer in twice(client, url, headers=headers):
            assert CACHE not in answer.headers, headers
    # A signed-in page says private, no-store: neither kept nor answered from the cache.
    login(client, "admin", "admin-pass-1")
    for answer in twice(client, "/dataset/spend"):
        assert CACHE not in answer.headers
        assert "private" in answer.headers.get("cache-control", "")
    client.cookies.clear()
    assert client.get("/dataset/spend").headers[CACHE] in ("miss", "hit")


def test_files_errors_and_posts_are_never_kept(client, data):  # type: ignore[no-untyped-def]
    download = f"/dataset/spend/resource/{data['resource_id']}/download/spend.csv"
    for answer in twice(client, download):
        assert answer.status_code == 200 and CACHE not in answer.headers
    for answer in twice(client, "/dataset/no-such-dataset"):
        assert answer.status_code == 404 and answer.headers.get(CACHE) != "hit"
    for answer in twice(client, "/healthz"):
        assert CACHE not in answer.headers
    # A POST is never a copy, even of an answer a GET would share.
    search = "/api/3/action/package_search"
    assert client.get(search, params={"q": "spend"}).headers[CACHE] == "miss"
    for _ in range(2):
        answer = client.post(search, json={"q": "spend"})
        assert answer.status_code == 200 and CACHE not in answer.headers


def test_hits_are_counted_and_logged_by_route(client, data):  # type: ignore[no-untyped-def]
    twice(client, "/dataset/spend")
    metrics = client.get("/metrics").text
    assert 'citydata_response_cache_total{outcome="hit"}' in metrics
    hits = [line for line in metrics.splitlines()
            if line.startswith("citydata_http_requests_total") and 'route="/dataset/{name}"'
            in line and 'status="200"' in line]
    assert hits and float(hits[0].rsplit(" ", 1)[1]) >= 2


def test_turned_off(settings, data, make_ctx):  # type: ignore[no-untyped-def]
    settings.response_cache_mb = 0
    platform = Platform(settings)
    try:
        with TestClient(create_app(platform=platform)) as c:
            for answer in twice(c, "/dataset/spend"):
                assert answer.status_code == 200 and CACHE not in answer.headers
    finally:
        platform.close()


# -- the store itself ------------------------------------------------------------------------------
def entry(generation: int, made: float, size: int = 100) -> Entry:
    return Entry(generation, made, 200, [(b"content-type", b"text/plain")], b"x" * size, None)


def test_entries_expire_with_the_generation_and_with_age() -> None:
    cache = ResponseCache(max_bytes=1 << 20, max_age=300)
    cache.put(("a",), entry(7, made=1000.0))
    assert cache.get(("a",), 7, now=1299.0) is not None
    assert cache.get(("a",), 8, now=1299.0) is None  # a write since: gone
    cache.put(("a",), entry(8, made=1000.0))
    assert cache.get(("a",), 8, now=1301.0) is None  # older than max_age: gone
    assert cache.bytes == 0 and not cache.entries


def test_the_byte_budget_drops_the_least_recently_used() -> None:
    one = entry(1, 0.0, size=400).size
    cache = ResponseCache(max_bytes=3 * one, max_age=300)
    for key in "abc":
        cache.put((key,), entry(1, 0.0, size=400))
    assert cache.get(("a",), 1, now=1.0) is not None  # a is now the most recent
    cache.put(("d",), entry(1, 0.0, size=400))
    assert sorted(k[0] for k in cache.entries) == ["a", "c", "d"]
    assert cache.bytes == 3 * one
    cache.put(("huge",), entry(1, 0.0, size=4 * one))  # larger than the budget: not kept
    assert ("huge",) not in cache.entries


def test_the_key_separates_what_differs() -> None:
    def scope(path: str = "/ogc/collections", query: bytes = b"", accept: bytes = b"",
              method: str = "GET", **headers: bytes) -> dict[str, Any]:
        hs = [(b"host", b"data.example"), (b"accept", accept),
              *[(k.replace("_", "-").encode(), v) for k, v in headers.items()]]
        return {"type": "http", "method": method, "path": path, "query_string": query,
                "headers": hs, "scheme": "https", "root_path": ""}

    base = cache_key(scope())
    assert base is not None
    assert cache_key(scope(accept=b"text/html")) != base
    assert cache_key(scope(query=b"f=json")) != base
    assert cache_key(scope(method="POST")) is None
    assert cache_key(scope(authorization=b"t")) is None
    assert cache_key(scope(cookie=b"other=1; citydata_session=abc")) is None
    assert cache_key(scope(cookie=b"other=1")) == base
    assert cache_key(scope("/metrics")) is None
    assert cache_key(scope("/api/v1/events")) is None
