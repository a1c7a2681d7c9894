"""Publishing through the browser forms: new datasets, new files and new versions."""

from __future__ import annotations

import re

from tests.web.conftest import CSV_V1, CSV_V2, csrf_from, login


def publish(client, files=None, **fields):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/dataset/new").text)
    data = {"csrf_token": token, "owner_org": "camden", "title": "Camden air quality",
            "license_id": "OGL-UK-3.0", "access_level": "open", **fields}
    if files is None:
        files = {"file": ("air-quality.csv", CSV_V1.encode(), "text/csv")}
    return client.post("/dataset/new", data=data, files=files, follow_redirects=False)


def test_signed_out_readers_are_sent_to_sign_in(client, seeded):
    r = client.get("/dataset/new", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/user/login?next=/dataset/new"


def test_users_without_an_editor_role_cannot_publish(client, seeded):
    login(client, "outsider", "outsider-pass-1")
    r = client.get("/dataset/new")
    assert r.status_code == 403 and "editor or admin role" in r.text
    assert 'href="/dataset/new"' not in client.get("/").text


def test_publish_form_creates_a_dataset_with_a_versioned_resource(client, seeded):
    login(client, "editor", "editor-pass-1")
    form = client.get("/dataset/new").text
    assert '<option value="camden"' in form and '<option value="tfl"' not in form
    r = publish(client, notes="Hourly **NO2** readings.", tag_string="air, no2",
                theme_ENVI="1", theme_HEAL="1", frequency="hourly")
    assert r.status_code == 303 and r.headers["location"] == "/dataset/camden-air-quality"
    page = client.get("/dataset/camden-air-quality").text
    assert "Your dataset has been published." in page
    assert "<strong>NO2</strong>" in page and "Environment" in page and "Health" in page
    assert "Version 1" in page and "air-quality.csv" in page
    ds = client.get("/api/3/action/package_show?id=camden-air-quality").json()["result"]
    assert ds["organization"]["name"] == "camden"
    assert [t["name"] for t in ds["tags"]] == ["air", "no2"]
    assert ds["themes"] == ["ENVI", "HEAL"] and ds["frequency"] == "hourly"
    (res,) = ds["resources"]
    assert res["version"] == 1 and res["format"] == "CSV"
    assert [v["version"] for v in res["versions"]] == [1]


def test_reupload_adds_version_two_and_both_versions_download(client, seeded):
    login(client, "editor", "editor-pass-1")
    publish(client)
    ds = client.get("/api/3/action/package_show?id=camden-air-quality").json()["result"]
    rid = ds["resources"][0]["id"]
    form = client.get(f"/dataset/camden-air-quality/resource/new?resource={rid}").text
    assert f'value="{rid}" checked' in form
    r = client.post("/dataset/camden-air-quality/resource/new", data={
        "csrf_token": csrf_from(form), "target": rid},
        files={"file": ("air-quality.csv", CSV_V2.encode(), "text/csv")},
        follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get("/dataset/camden-air-quality").text
    assert "Version 2 of “air-quality.csv” has been uploaded." in page
    assert "All versions of this file (2)" in page
    links = re.findall(r'href="(/dataset/camden-air-quality/resource/[^"]+\?version=\d)"', page)
    assert len(links) == 2
    bodies = {link[-1]: client.get(link).text for link in links}
    assert bodies == {"1": CSV_V1, "2": CSV_V2}
    current = re.search(r'class="button" href="([^"]+/download/air-quality.csv)"', page).group(1)
    assert client.get(current).text == CSV_V2
    assert "<td>Belsize Park</td>" in page  # the preview follows the newest version


def test_add_a_second_file(client, seeded):
    login(client, "editor", "editor-pass-1")
    publish(client)
    form = client.get("/dataset/camden-air-quality/resource/new").text
    r = client.post("/dataset/camden-air-quality/resource/new", data={
        "csrf_token": csrf_from(form), "target": "new", "name": "Monitoring sites",
        "description": "Where the monitors are."},
        files={"file": ("sites.tsv", b"site\tlat\tlon\nSwiss Cottage\t51.54\t-0.17\n")},
        follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/dataset/camden-air-quality").text
    assert "Monitoring sites" in page and "<td>Swiss Cottage</td>" in page


def test_preview_shows_the_first_rows(client, catalog, platform):
    platform.settings.preview_rows = 2
    page = client.get("/dataset/camden-ev").text
    assert "Preview: the first 2 rows" in page
    assert "<th scope=\"col\">chargers</th>" in page
    assert "<td>Camden Town</td>" in page and "<td>Kentish Town</td>" in page
    assert "<td>Euston Road</td>" not in page  # the third row (it may still be in the profile)


def test_validation_errors_are_shown_next_to_fields(client, seeded):
    login(client, "editor", "editor-pass-1")
    r = publish(client, title="", owner_org="", files={"file": ("", b"")})
    assert r.status_code == 400
    html = r.text
    assert "There is a problem" in html
    for message in ("Choose a publisher", "Enter a title", "Choose a file to upload"):
        assert html.count(message) == 2, message  # in the summary and next to the field
    assert 'href="#title"' in html and 'id="title-error"' in html
    r = publish(client, name="Not A Valid Name!")
    assert r.status_code == 400 and 'id="name-error"' in r.text
    assert 'value="Camden air quality"' in r.text  # what was typed is kept
    assert client.get("/dataset?q=air").text.count("Camden air quality") == 0


def test_name_clash_is_a_field_error_and_nothing_half_created(client, seeded):
    login(client, "editor", "editor-pass-1")
    assert publish(client).status_code == 303
    r = publish(client, tag_string="bad,tag!")
    assert r.status_code == 400
    assert 'id="tag_string-error"' in r.text and "must be alphanumeric" in r.text
    r = publish(client)
    assert r.status_code == 400 and "A dataset with this short name already exists" in r.text
    found = client.get("/api/3/action/package_search?q=air").json()["result"]
    assert found["count"] == 1


def test_upload_over_the_limit_is_refused(client, seeded, platform):
    login(client, "editor", "editor-pass-1")
    platform.settings.max_upload_bytes = 100
    r = publish(client, files={"file": ("big.csv", b"a,b\n" + b"1,2\n" * 100)})
    assert r.status_code == 413 and "The file is too large" in r.text
    assert not list(platform.files.tmp_dir.iterdir())  # nothing left in staging


def test_published_dataset_appears_in_search(client, seeded):
    login(client, "editor", "editor-pass-1")
    publish(client, title="Camden noise complaints")
    html = client.get("/dataset?q=noise").text
    assert "1 dataset found" in html and "Camden noise complaints" in html
