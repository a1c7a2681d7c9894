"""/metrics in the Prometheus text format, on both backends: request counts and latency
buckets per route template, and gauges read from the database at scrape time."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from citydata.app import create_app
from citydata.storage.models_access import AuditEntry


def scrape(client) -> dict[str, list]:  # type: ignore[no-untyped-def]
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def sample(families: dict, family: str, name: str, **labels: str) -> float | None:
    for s in families.get(family, []):
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


ROUTE = "/api/3/action/{name}"


def test_request_counter_grows_with_requests(client):
    before = sample(scrape(client), "citydata_http_requests", "citydata_http_requests_total",
                    method="GET", route=ROUTE, status="200") or 0
    for _ in range(3):
        assert client.get("/api/3/action/package_list").status_code == 200
    client.get("/api/3/action/package_show?id=nothing-here")
    families = scrape(client)
    assert sample(families, "citydata_http_requests", "citydata_http_requests_total",
                  method="GET", route=ROUTE, status="200") == before + 3
    assert sample(families, "citydata_http_requests", "citydata_http_requests_total",
                  method="GET", route=ROUTE, status="404") == 1


def test_latency_histogram_has_buckets_per_route_template(client):
    client.get("/api/3/action/package_list")
    client.get("/no/such/page")
    families = scrape(client)
    buckets = [s for s in families["citydata_http_request_duration_seconds"]
               if s.name.endswith("_bucket") and s.labels["route"] == ROUTE]
    assert {s.labels["le"] for s in buckets} >= {"0.005", "0.1", "1.0", "+Inf"}
    assert sample(families, "citydata_http_request_duration_seconds",
                  "citydata_http_request_duration_seconds_count", route=ROUTE) == 1
    # A path no route matched is one label value, whatever the path was.
    assert sample(families, "citydata_http_requests", "citydata_http_requests_total",
                  route="unmatched", status="404") == 1
    assert not any("/no/such/page" in str(s.labels) for f in families.values() for s in f)


def test_audit_chain_length_gauge_equals_the_audit_log(client, seeded, platform):
    with platform.db.session() as session:
        entries = session.scalar(select(func.count()).select_from(AuditEntry))
    assert entries > 0  # the seeded users' tokens were audited
    r = client.post("/api/3/action/api_token_create", json={"user": "editor", "name": "ci"},
                    headers={"Authorization": seeded["admin_token"]})
    assert r.status_code == 200, r.text
    with platform.db.session() as session:
        after = session.scalar(select(func.count()).select_from(AuditEntry))
    assert after == entries + 1
    families = scrape(client)
    assert sample(families, "citydata_audit_chain_length", "citydata_audit_chain_length") \
        == after
    assert sample(families, "citydata_database_up", "citydata_database_up") == 1


def test_ingest_outcomes_are_counted(client, make_ctx, seeded, tmp_path: Path):
    from citydata.catalog.publish import publish_file

    csv = tmp_path / "sites.csv"
    csv.write_text("site,chargers\nCamden Town,4\nEuston Road,6\n")
    with make_ctx() as ctx:
        publish_file(ctx, csv, org="camden", title="Charge points")
    families = scrape(client)
    assert sample(families, "citydata_resource_versions", "citydata_resource_versions",
                  ingest_status="ok") == 1
    # Empty tables give no samples, not an error.
    assert families["citydata_harvest_jobs"] == []
    assert families["citydata_planning_runs"] == []


def test_many_apps_in_one_process_have_their_own_registries(platform):
    first, second = create_app(platform=platform), create_app(platform=platform)
    assert first.state.metrics.registry is not second.state.metrics.registry
    first.state.metrics.observe("GET", "/x", 200, 0.01)
    text = second.state.metrics.render().decode()
    assert 'route="/x"' not in text


def test_an_event_stream_is_counted_but_not_buffered_or_timed(live_server):
    with httpx.Client(timeout=20) as http:
        streams = http.get(f"{live_server}/api/v1/events").json()["results"]
        assert streams, "the core publishes at least one event stream"
        url = f"{live_server}/api/v1/events/{streams[0]['name']}"
        with http.stream("GET", url, headers={"Accept": "text/event-stream"}) as r:
            assert r.status_code == 200
            assert len(r.headers["x-request-id"]) == 32
            # The first bytes arrive while the stream is still open: nothing buffers it.
            assert next(r.iter_lines()).startswith("retry:")
        route = "/api/v1/events/{stream}"
        deadline = time.monotonic() + 20
        while True:  # the server counts the stream once it notices the client went
            families = scrape(http_client(http, live_server))
            count = sample(families, "citydata_http_requests", "citydata_http_requests_total",
                           route=route, status="200")
            if count == 1:
                break
            assert time.monotonic() < deadline, "the stream was never counted"
            time.sleep(0.05)
        assert sample(families, "citydata_http_request_duration_seconds",
                      "citydata_http_request_duration_seconds_count", route=route) is None


class http_client:  # noqa: N801 - adapts httpx.Client to scrape()'s client.get(path)
    def __init__(self, http: httpx.Client, base: str) -> None:
        self.http, self.base = http, base

    def get(self, path: str) -> httpx.Response:
        return self.http.get(self.base + path)
