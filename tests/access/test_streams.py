"""Revocation cuts a download that is already streaming, over a real uvicorn server."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from sqlalchemy import func, select

from citydata.storage.models_access import AuditEntry

SIZE = 48 * 1024 * 1024  # far more than loopback socket buffers hold


@pytest.fixture
def big_restricted_file(governed, make_ctx, tmp_path):  # type: ignore[no-untyped-def]
    from citydata.catalog.publish import publish_file

    path = tmp_path / "archive.bin"
    with path.open("wb") as fh:
        for _ in range(SIZE // (1024 * 1024)):
            fh.write(os.urandom(1024 * 1024))
    with make_ctx() as ctx:
        ds, res = publish_file(ctx, path, org="camden", title="Care records archive",
                               dataset_name="care-archive", metadata={
                                   "access_level": "restricted",
                                   "restriction_reason": "personal-data"})
    return res


@pytest.mark.slow
def test_revoking_cuts_an_open_download(governed, big_restricted_file, live_server, platform):
    platform.settings.stream_recheck_seconds = 0.0  # ask again before every chunk
    ref = governed.grant(datasets=["care-archive"], actions=["read", "download"])
    url = big_restricted_file["url"].replace("http://testserver", live_server)
    url = url.replace(platform.settings.site_url, live_server)
    headers = {"Authorization": governed.tokens["hackney-analyst"], "X-Citydata-Agreement": ref}
    received = 0
    with httpx.Client(timeout=30) as client, client.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200 and int(r.headers["content-length"]) == SIZE
        chunks = r.iter_bytes(64 * 1024)
        received += len(next(chunks))
        revoked = httpx.post(f"{live_server}/api/v1/agreements/{ref}/revoke",
                             json={"note": "Revoked while downloading"},
                             headers={"Authorization": governed.tokens["camden-owner"]})
        assert revoked.status_code == 200
        time.sleep(0.2)
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in chunks:
                received += len(chunk)
    assert 0 < received < SIZE / 2
    # The next request is refused outright, and the one download is in the log once.
    again = httpx.get(url, headers=headers)
    assert again.status_code == 403 and "revoked" in again.json()["error"]["message"]
    with platform.db.session() as session:
        downloads = session.scalar(select(func.count()).select_from(AuditEntry)
                                   .where(AuditEntry.action == "data.download"))
    assert downloads == 1


@pytest.mark.slow
def test_open_downloads_are_not_rechecked(governed, live_server, platform):
    platform.settings.stream_recheck_seconds = 0.0
    url = governed.datasets["open"]["resources"][0]["url"].replace(
        platform.settings.site_url, live_server).replace("http://testserver", live_server)
    r = httpx.get(url)
    assert r.status_code == 200 and r.text.startswith("package_ref,")
