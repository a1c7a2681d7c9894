"""Kill -9 the real server while a new upload is becoming a resource's current version.

A new version's row, the resource's ``current_version`` and the search index are written in
one transaction, after the new file and its snapshot are in the store. Killed before that
commit, the resource still shows its old version — its file, its snapshot, its rows — with no
trace of the new one, and gc removes the new files."""

from __future__ import annotations

import pytest

from tests.crash.conftest import Node, csv_bytes

pytestmark = pytest.mark.slow


def test_kill_mid_version_switch_keeps_the_old_version_current(node: Node, publisher: str):
    proc = node.start(pause_at="resource-update-written")
    assert node.post("/api/3/action/package_create", publisher,
                     json={"name": "street-trees", "owner_org": "camden"}).status_code == 200
    first = csv_bytes(30)
    r = node.post("/api/3/action/resource_create", publisher,
                  data={"package_id": "street-trees", "name": "Trees"},
                  files={"upload": ("trees.csv", first, "text/csv")})
    assert r.status_code == 200, r.text
    rid = r.json()["result"]["id"]
    kept = node.blobs()
    assert len(kept) == 2  # the CSV and its snapshot

    node.post_in_background("/api/3/action/resource_update", publisher, data={"id": rid},
                            files={"upload": ("trees.csv", csv_bytes(45, start=100), "text/csv")})
    node.kill_when_paused(proc, "resource-update-written")
    assert len(node.blobs()) == 4  # the new CSV and snapshot reached the store; no row did

    node.start()
    res = node.action("resource_show", publisher, id=rid)
    assert (res["version"], res["row_count"], res["size"]) == (1, 30, len(first))
    assert [v["version"] for v in res["versions"]] == [1]
    assert node.action("datastore_search", publisher, resource_id=rid, limit=1)["total"] == 30
    assert res["url"].startswith(node.base)
    download = node.get(res["url"].removeprefix(node.base), publisher)
    assert download.status_code == 200 and download.content == first
    assert node.assert_recovered() == "Removed 0 staging files and 2 unreferenced files"
    assert node.blobs() == kept

    # the switch again, uninterrupted
    second = csv_bytes(45, start=100)
    r = node.post("/api/3/action/resource_update", publisher, data={"id": rid},
                  files={"upload": ("trees.csv", second, "text/csv")})
    assert r.status_code == 200, r.text
    res = node.action("resource_show", publisher, id=rid)
    assert (res["version"], res["row_count"]) == (2, 45)
    assert [v["version"] for v in res["versions"]] == [1, 2]
    assert node.assert_recovered() == "Removed 0 staging files and 0 unreferenced files"
