"""Kill -9 the real server while a tabular upload is being turned into its Parquet snapshot.

The original file is already in the store when ingest starts; the snapshot is written in a
work directory under the staging area and then moved into the store; the version row that
points at both commits last. Killed at either moment, nothing of the upload is visible, gc
removes every file it left, and the same upload succeeds afterwards."""

from __future__ import annotations

import pytest

from tests.crash.conftest import Node, csv_bytes

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("point", "stored"), [
    ("ingest-converted", 1),  # the original only: the snapshot is still in the work directory
    ("ingest-snapshot-stored", 2),  # the original and the snapshot, neither with a row
])
def test_kill_mid_ingest_leaves_no_version_and_gc_cleans(node: Node, publisher: str,
                                                          point: str, stored: int):
    proc = node.start(pause_at=point)
    assert node.post("/api/3/action/package_create", publisher,
                     json={"name": "street-trees", "owner_org": "camden"}).status_code == 200
    table = csv_bytes(2000)
    node.post_in_background("/api/3/action/resource_create", publisher,
                            data={"package_id": "street-trees", "name": "Trees"},
                            files={"upload": ("trees.csv", table, "text/csv")})
    node.kill_when_paused(proc, point)
    assert len(node.blobs()) == stored
    assert [p.name.startswith("ingest-") for p in node.staging()] == [True]

    node.start()
    shown = node.action("package_show", id="street-trees")
    assert shown["resources"] == [] and shown["num_resources"] == 0
    assert node.assert_recovered() == (
        f"Removed 1 staging files and {stored} unreferenced files")

    # the upload again, uninterrupted: read, queryable, and its files kept by gc
    r = node.post("/api/3/action/resource_create", publisher,
                  data={"package_id": "street-trees", "name": "Trees"},
                  files={"upload": ("trees.csv", table, "text/csv")})
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert (res["datastore_active"], res["row_count"], res["version"]) == (True, 2000, 1)
    rows = node.action("datastore_search", publisher, resource_id=res["id"], limit=1)
    assert rows["total"] == 2000
    assert node.assert_recovered() == "Removed 0 staging files and 0 unreferenced files"
    assert len(node.blobs()) == 2
