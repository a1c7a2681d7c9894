"""The dataset page shows each version's rows, problems, and a link to compare versions."""

from __future__ import annotations


def upload(client, token, rid, content):
    data = {"id": rid} if rid else {"package_id": "versions-page", "name": "data.csv"}
    action = "resource_update" if rid else "resource_create"
    r = client.post(f"/api/3/action/{action}", headers={"Authorization": token}, data=data,
                    files={"upload": ("data.csv", content, "text/csv")})
    assert r.status_code == 200, r.text
    return r.json()["result"]


def test_versions_rows_problems_and_compare_link(client, seeded):
    token = seeded["editor_token"]
    client.post("/api/3/action/package_create", headers={"Authorization": token},
                json={"name": "versions-page", "owner_org": "camden"})
    first = upload(client, token, None, b"id,n\n1,a\n2,b\n")
    upload(client, token, first["id"], b"id,n\n1,a\n2,c\n3,d\n")
    third = upload(client, token, first["id"], b"\n")
    assert third["version"] == 2  # the unreadable upload did not replace version 2
    page = client.get("/dataset/versions-page").text
    assert "Could not be read" in page and "The file is empty" in page
    assert "version 2 stays current" in page
    assert f"/dataset/versions-page/resource/{first['id']}/diff?from=1&amp;to=2" in page
    diff = client.get(f"/dataset/versions-page/resource/{first['id']}/diff?from=1&to=2")
    assert diff.status_code == 200 and "added" in diff.text.lower()
