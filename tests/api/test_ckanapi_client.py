"""The official ckanapi client drives our real server: create, upload, search, read, change."""

from __future__ import annotations

import io
import urllib.request

import ckanapi
import pytest


@pytest.fixture
def ck(live_server, seeded):
    return ckanapi.RemoteCKAN(live_server, apikey=seeded["editor_token"])


def test_create_upload_search_read(ck, live_server, tmp_path):
    created = ck.action.package_create(
        name="camden-parking-bays",
        title="Parking bays in Camden",
        owner_org="camden",
        notes="Every **on-street** parking bay.",
        tags=[{"name": "parking"}, {"name": "transport"}],
        themes=["TRAN"],
        boroughs=["E09000007"],
        bbox=[-0.21, 51.51, -0.10, 51.57],
        frequency="monthly",
    )
    assert created["organization"]["name"] == "camden"
    assert [t["name"] for t in created["tags"]] == ["parking", "transport"]

    csv = tmp_path / "bays.csv"
    csv.write_bytes(b"bay_id,street,spaces\n1,Camden High Street,4\n2,Parkway,2\n")
    with open(csv, "rb") as fh:
        res = ck.action.resource_create(package_id="camden-parking-bays", name="Bays", upload=fh)
    assert res["format"] == "CSV" and res["size"] == csv.stat().st_size and res["version"] == 1
    assert urllib.request.urlopen(res["url"]).read() == csv.read_bytes()

    found = ck.action.package_search(
        q="parking camden",
        fq="tags:parking",
        **{"facet.field": '["organization","tags","res_format"]'},
    )
    assert found["count"] == 1
    assert found["results"][0]["name"] == "camden-parking-bays"
    assert found["facets"]["res_format"] == {"CSV": 1}
    assert found["search_facets"]["organization"]["items"][0]["count"] == 1

    shown = ck.action.package_show(id="camden-parking-bays")
    assert shown["resources"][0]["hash"] == res["hash"]
    assert shown["spatial"] and shown["bbox"] == [-0.21, 51.51, -0.10, 51.57]
    assert ck.action.resource_show(id=res["id"])["id"] == res["id"]


def test_reupload_creates_new_version_and_old_stays(ck):
    ck.action.package_create(name="versions", owner_org="camden")
    first = ck.action.resource_create(
        package_id="versions", name="data.csv", upload=("data.csv", io.BytesIO(b"a\n1\n"))
    )
    second = ck.action.resource_update(id=first["id"], upload=("data.csv", io.BytesIO(b"a\n2\n")))
    assert second["version"] == 2 and second["hash"] != first["hash"]
    assert [v["version"] for v in second["versions"]] == [1, 2]
    assert urllib.request.urlopen(second["url"]).read() == b"a\n2\n"
    assert urllib.request.urlopen(second["url"] + "?version=1").read() == b"a\n1\n"


def test_update_patch_delete(ck):
    ck.action.package_create(
        name="to-change", title="Old", owner_org="camden", tags=[{"name": "a"}], notes="keep?"
    )
    patched = ck.action.package_patch(id="to-change", title="New")
    assert patched["title"] == "New" and patched["notes"] == "keep?"
    assert [t["name"] for t in patched["tags"]] == ["a"]
    updated = ck.action.package_update(
        id="to-change", name="to-change", title="Replaced", owner_org="camden"
    )
    assert updated["notes"] == "" and updated["tags"] == []  # update replaces the package
    ck.action.package_delete(id="to-change")
    with pytest.raises(ckanapi.NotFound):
        ckanapi.RemoteCKAN(ck.address).action.package_show(id="to-change")
    assert "to-change" not in ck.action.package_list()


def test_errors_map_to_ckanapi_exceptions(ck, live_server, seeded):
    anonymous = ckanapi.RemoteCKAN(live_server)
    with pytest.raises(ckanapi.NotAuthorized):
        anonymous.action.package_create(name="nope", owner_org="camden")
    with pytest.raises(ckanapi.NotAuthorized):  # an editor of Camden is nobody at TfL
        ck.action.package_create(name="nope", owner_org="tfl")
    with pytest.raises(ckanapi.ValidationError) as bad:
        ck.action.package_create(name="Bad Name!", owner_org="camden", license_id="nonsense")
    assert "name" in bad.value.error_dict and "license_id" in bad.value.error_dict
    ck.action.package_create(name="taken", owner_org="camden")
    with pytest.raises(ckanapi.ValidationError) as dup:
        ck.action.package_create(name="taken", owner_org="camden")
    assert dup.value.error_dict["name"] == ["That URL is already in use."]
    with pytest.raises(ckanapi.NotFound):
        anonymous.action.package_show(id="does-not-exist")
    with pytest.raises(ckanapi.SearchQueryError):
        anonymous.action.package_search(sort="colour desc")
    with pytest.raises(ckanapi.NotAuthorized):
        ckanapi.RemoteCKAN(live_server, apikey="cdt_not-a-real-token").action.package_list()


def test_private_datasets_are_invisible_to_outsiders(ck, live_server, seeded):
    ck.action.package_create(
        name="secret-social-care", owner_org="camden", private=True, tags=[{"name": "social-care"}]
    )
    ck.action.package_create(name="open-one", owner_org="camden", tags=[{"name": "open"}])
    anonymous = ckanapi.RemoteCKAN(live_server)
    outsider = ckanapi.RemoteCKAN(live_server, apikey=seeded["outsider_token"])
    for client in (anonymous, outsider):
        found = client.action.package_search(
            include_private=True, **{"facet.field": '["tags","access_level"]'}
        )
        assert [d["name"] for d in found["results"]] == ["open-one"]
        assert found["count"] == 1
        assert "social-care" not in found["facets"]["tags"]
        assert "private" not in found["facets"]["access_level"]
        with pytest.raises(ckanapi.NotFound):
            client.action.package_show(id="secret-social-care")
        orgs = client.action.organization_list(all_fields=True)
        assert {o["name"]: o["package_count"] for o in orgs}["camden"] == 1
    mine = ck.action.package_search(include_private=True)
    assert mine["count"] == 2
    assert ck.action.package_search()["count"] == 1  # CKAN: private only when asked
    assert ck.action.package_show(id="secret-social-care")["private"] is True


def test_organizations_tags_licences_tokens(ck, live_server, seeded):
    admin = ckanapi.RemoteCKAN(live_server, apikey=seeded["admin_token"])
    org = admin.action.organization_create(name="gla", title="Greater London Authority")
    assert org["name"] == "gla"
    assert "gla" in admin.action.organization_list()
    assert admin.action.organization_show(id="gla")["title"] == "Greater London Authority"
    with pytest.raises(ckanapi.NotAuthorized):
        ck.action.organization_create(name="rogue")
    ck.action.package_create(name="tagged", owner_org="camden", tags=[{"name": "air-quality"}])
    assert ck.action.tag_list() == ["air-quality"]
    licences = {lic["id"] for lic in ck.action.license_list()}
    assert {"OGL-UK-3.0", "CC-BY-4.0"} <= licences
    token = ck.action.api_token_create(user="editor", name="script")["token"]
    assert ckanapi.RemoteCKAN(live_server, apikey=token).action.package_show(id="tagged")
    with pytest.raises(ckanapi.NotAuthorized):
        ck.action.api_token_create(user="admin", name="steal")
