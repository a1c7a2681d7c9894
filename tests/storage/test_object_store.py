"""Stored files in S3-compatible object storage.

The outside world here is the S3 service: moto's server, a real HTTP endpoint speaking the S3
API (signatures, checksums, paging), started on a loopback port. Everything of ours is real:
boto3 as the client, the file store, the platform and its API on both database backends.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citydata.errors import NotFound
from citydata.settings import Settings
from citydata.storage.files import FileStore
from citydata.storage.objects import S3Objects, StorageUnavailable
from tests.conftest import free_port

CSV = b"ward,spend\nBloomsbury,10\nCamden Town,20\nHolborn,30\n"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("moto.server", reason="moto[server] is a test dependency")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        # The fake service takes any credentials; real ones come from the same variables.
        mp.setenv("AWS_ACCESS_KEY_ID", "citydata-test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "citydata-test-secret")
        mp.setenv("AWS_DEFAULT_REGION", "eu-west-2")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"citydata-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    return name


def remote(s3_endpoint: str, bucket: str) -> S3Objects:
    return S3Objects(bucket, prefix="london/", endpoint_url=s3_endpoint)


def raw_client(s3_endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint)


def stored(store: FileStore, data: bytes) -> str:
    return store.commit(store.stage([data], max_bytes=10**6, filename="x.csv"))


def test_a_commit_is_in_the_bucket_and_another_host_reads_it(tmp_path, s3_endpoint, bucket):
    first = FileStore(tmp_path / "host-a", remote=remote(s3_endpoint, bucket))
    sha = stored(first, CSV)
    obj = raw_client(s3_endpoint).get_object(Bucket=bucket, Key=f"london/sha256/{sha[:2]}/{sha}")
    assert obj["Body"].read() == CSV

    second = FileStore(tmp_path / "host-b", remote=remote(s3_endpoint, bucket))
    assert not second.local_path(sha).exists()
    assert second.exists(sha)
    assert b"".join(second.iter_bytes(sha)) == CSV  # downloaded, verified, then read
    assert second.local_path(sha).read_bytes() == CSV
    assert list(second.iter_blobs()) == [sha]
    assert not list(second.tmp_dir.iterdir())  # no staging file left behind


def test_the_same_content_is_uploaded_once(tmp_path, s3_endpoint, bucket):
    store = FileStore(tmp_path / "files", remote=remote(s3_endpoint, bucket))
    assert stored(store, CSV) == stored(store, CSV)
    listed = raw_client(s3_endpoint).list_objects_v2(Bucket=bucket)["Contents"]
    assert len(listed) == 1


def test_a_damaged_object_is_refused_and_never_cached(tmp_path, s3_endpoint, bucket):
    sha = stored(FileStore(tmp_path / "a", remote=remote(s3_endpoint, bucket)), CSV)
    raw_client(s3_endpoint).put_object(Bucket=bucket, Key=f"london/sha256/{sha[:2]}/{sha}",
                                       Body=b"ward,spend\nBloomsbury,99999\n")
    reader = FileStore(tmp_path / "b", remote=remote(s3_endpoint, bucket))
    with pytest.raises(StorageUnavailable, match="integrity check"):
        reader.blob_path(sha)
    assert not reader.local_path(sha).exists()
    assert not list(reader.tmp_dir.iterdir())


def test_a_missing_object_is_not_found(tmp_path, s3_endpoint, bucket):
    store = FileStore(tmp_path / "files", remote=remote(s3_endpoint, bucket))
    with pytest.raises(NotFound):
        store.open("ab" * 32)
    assert not store.exists("ab" * 32)


def test_an_unreachable_store_refuses_the_commit_and_keeps_nothing(tmp_path):
    dead = S3Objects("citydata-nowhere", endpoint_url=f"http://127.0.0.1:{free_port()}")
    store = FileStore(tmp_path / "files", remote=dead)
    staged = store.stage([CSV], max_bytes=10**6)
    with pytest.raises(StorageUnavailable, match="did not answer") as caught:
        store.commit(staged)
    assert caught.value.status == 503
    assert not store.local_path(staged.sha256).exists()
    store.discard(staged)
    assert not list(store.tmp_dir.iterdir())


def test_gc_removes_unreferenced_objects_and_trims_the_cache(tmp_path, s3_endpoint, bucket):
    size = len(CSV) + 3
    store = FileStore(tmp_path / "files", remote=remote(s3_endpoint, bucket),
                      cache_max_bytes=2 * size)  # room for two of the three
    keep_old, keep_new, drop = (stored(store, CSV + bytes([i]) * 3) for i in range(3))
    old = store.local_path(keep_old)
    os.utime(old, (old.stat().st_atime - 100, old.stat().st_mtime - 100))  # least recent

    young = store.collect_garbage({keep_old, keep_new}, tmp_older_than=3600)
    # Too young to be sure no row is about to point at it: the unreferenced object stays. The
    # cache is over its size, so its least recently used copy goes (it is safe in the bucket).
    assert (young["blobs"], young["cache_evicted"]) == (0, 1)
    assert not old.exists() and store.local_path(drop).exists()
    assert sorted(store.iter_blobs()) == sorted([keep_old, keep_new, drop])

    report = store.collect_garbage({keep_old, keep_new}, tmp_older_than=0)
    assert report["blobs"] == 1
    assert sorted(store.iter_blobs()) == sorted([keep_old, keep_new])
    assert not store.local_path(drop).exists()
    assert report["cache_bytes"] == size  # keep_new only; drop's copy went with its object
    assert store.blob_path(keep_old).read_bytes() == CSV + b"\0" * 3  # fetched again


# -- the platform on a bucket ---------------------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path, db_url: str, s3_endpoint: str, bucket: str) -> Settings:
    """The shared fixtures' settings, with the stored files in a bucket."""
    return Settings(
        env="test", home=tmp_path / "home", database_url=db_url, site_url="http://testserver",
        postcodes="none", jobs_interval_seconds=0, webhook_interval_seconds=0,
        files_s3_bucket=bucket, files_s3_prefix="city", files_s3_endpoint_url=s3_endpoint,
    )


def test_upload_query_and_download_through_the_api_with_an_empty_cache(
        client, seeded, platform, settings, s3_endpoint, bucket):
    token = seeded["editor_token"]
    r = client.post("/api/3/action/package_create",
                    json={"name": "ward-spend", "owner_org": "camden", "title": "Ward spend"},
                    headers={"Authorization": token})
    assert r.status_code == 200, r.text
    r = client.post("/api/3/action/resource_create",
                    data={"package_id": "ward-spend", "name": "spend"},
                    files={"upload": ("spend.csv", io.BytesIO(CSV), "text/csv")},
                    headers={"Authorization": token})
    assert r.status_code == 200, r.text
    rid = r.json()["result"]["id"]
    listed = raw_client(s3_endpoint).list_objects_v2(Bucket=bucket, Prefix="city/sha256/")
    assert len(listed["Contents"]) == 2  # the CSV and its Parquet snapshot

    # A new host, or this one after its cache was lost: nothing on the disk.
    for f in platform.files.blob_dir.rglob("*"):
        if f.is_file():
            f.unlink()
    rows = client.get(f"/api/v1/resources/{rid}/rows", params={"_sort": "ward"})
    assert rows.status_code == 200, rows.text
    assert [r["ward"] for r in rows.json()["rows"]] == ["Bloomsbury", "Camden Town", "Holborn"]
    download = client.get(f"/dataset/ward-spend/resource/{rid}/download/spend.csv")
    assert download.status_code == 200 and download.content == CSV

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["files"] == {"status": "ok", "object_store": "s3"}


def test_readiness_fails_when_the_bucket_does_not_answer(client, platform):
    platform.files.remote = S3Objects("citydata-nowhere",
                                      endpoint_url=f"http://127.0.0.1:{free_port()}")
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["files"] == {"status": "fail",
                                               "reason": "the object store did not answer"}


def test_the_error_names_no_bucket_or_endpoint(tmp_path):
    """What the user reads says what failed; which bucket and endpoint is for the log."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = FileStore(tmp_path / "files", remote=S3Objects("citydata-private-name",
                                                           endpoint_url=endpoint))
    with pytest.raises(StorageUnavailable) as caught:
        store.commit(store.stage([CSV], max_bytes=10**6))
    assert "citydata-private-name" not in caught.value.message
    assert "127.0.0.1" not in caught.value.message
