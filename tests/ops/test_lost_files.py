"""A stored file that went missing (deleted by hand, lost with a disk, evicted from a host's
cache at the wrong moment) is a clear 404 naming what is missing on every read path, never a
500, and the dataset page still renders, saying the preview is not available."""

from __future__ import annotations

from typing import Any

import pytest

from citydata.datastore.pool import readers
from citydata.storage.models import ResourceVersion
from tests.fuzz.conftest import fuzz_data  # noqa: F401  (fixture)


def lose_every_file(platform: Any, make_ctx: Any) -> int:
    """Delete the original and the snapshot of every stored version; forget open databases."""
    with make_ctx() as ctx:
        versions = ctx.session.query(ResourceVersion).all()
        hashes = {h for v in versions for h in (v.sha256, v.snapshot_sha256) if h}
    for sha in hashes:
        platform.files.local_path(sha).unlink()
    readers.clear()
    return len(hashes)


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    """The file store's own answers: no response cache in front of them (a copy of a page
    made while the file was there would be served, as a CDN in front would)."""
    settings.response_cache_mb = 0
    return settings


@pytest.fixture
def lost(client, platform, make_ctx, fuzz_data):  # type: ignore[no-untyped-def]  # noqa: F811
    client.get(f"/api/v1/resources/{fuzz_data['resource_id']}/rows")  # a pooled database first
    assert lose_every_file(platform, make_ctx) == 4
    return fuzz_data


def test_every_read_of_a_lost_file_is_a_clear_404(client, lost):  # type: ignore[no-untyped-def]
    rid, geo = lost["resource_id"], lost["geo_resource_id"]
    reads = [
        f"/api/v1/resources/{rid}/rows",
        f"/api/v1/resources/{rid}/rows.csv",
        f"/api/v1/resources/{rid}/aggregate?group_by=borough",
        f"/api/3/action/datastore_search?resource_id={rid}",
        f'/api/3/action/datastore_search_sql?sql=SELECT * FROM "{rid}"',
        f"/dataset/spend/resource/{rid}/rows",
        f"/dataset/spend/resource/{rid}/download/spend.csv",
        f"/api/v1/resources/{geo}/rows.geojson",
        f"/ogc/collections/{lost['collection']}/items",
    ]
    for url in reads:
        answer = client.get(url)
        assert answer.status_code == 404, (url, answer.status_code, answer.text[:200])
        assert "The stored" in answer.text and "missing" in answer.text, url


def test_the_dataset_page_still_renders(client, lost):  # type: ignore[no-untyped-def]
    page = client.get("/dataset/spend")
    assert page.status_code == 200
    assert "Preview: the first" not in page.text
    assert "The preview is not available: The stored file is missing" in page.text
