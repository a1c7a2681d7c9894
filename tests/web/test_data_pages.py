"""Data pages in-process on both backends: the rows explorer, column profiles, quality, the
quality facet and sort, the standards pages, and publishing with a standard."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.web.conftest import csrf_from, login

BOROUGHS = ["Camden", "Hackney", "Islington"]
#: 30 rows: id 1..30, borough cycling Camden/Hackney/Islington, spend = id * 10.
ROWS_CSV = "id,borough,spend\n" + "".join(
    f"{i},{BOROUGHS[(i - 1) % 3]},{i * 10}\n" for i in range(1, 31))


def make_dataset(client, token, name, content=ROWS_CSV, **extra):  # type: ignore[no-untyped-def]
    r = client.post("/api/3/action/package_create", headers={"Authorization": token},
                    json={"name": name, "owner_org": "camden", **extra})
    assert r.status_code == 200, r.text
    r = client.post("/api/3/action/resource_create", headers={"Authorization": token},
                    data={"package_id": name, "name": "spend.csv"},
                    files={"upload": ("spend.csv", content.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    return r.json()["result"]["id"]


@pytest.fixture
def spend(client, seeded):  # type: ignore[no-untyped-def]
    rid = make_dataset(client, seeded["editor_token"], "council-spend")
    return f"/dataset/council-spend/resource/{rid}/rows", rid


def table_rows(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def links(html: str, label: str) -> list[str]:
    anchors = re.findall(r'<a[^>]*href="([^"]+)"[^>]*>(.*?)</a>', html, re.S)
    return [unescape(h) for h, text in anchors if text.strip().startswith(label)]


def test_explorer_filters_sorts_pages_and_counts(client, spend):  # type: ignore[no-untyped-def]
    path, rid = spend
    first = client.get(path, params=[("column", "borough"), ("op", "exact"), ("value", "Camden"),
                                     ("column", "spend"), ("op", "gte"), ("value", "100"),
                                     ("sort", "spend"), ("dir", "desc"), ("size", "10"),
                                     ("facet", "borough")])
    assert first.status_code == 200, first.text
    html = first.text
    # Camden is ids 1, 4, ..., 28; spend >= 100 keeps 10, 13, ..., 28 = 7 rows, newest first.
    assert "7 rows match" in html
    assert [r[0] for r in table_rows(html)] == ["28", "25", "22", "19", "16", "13", "10"]
    assert not links(html, "Next page")
    # The facet counts under the same filters, with a link that adds the value as a filter.
    assert re.search(r"Camden</a></span>\s*<meter[^>]*value=\"7\"", html)

    paged = client.get(path, params={"sort": "id", "dir": "asc", "size": "10"})
    assert "30 rows match" in paged.text
    seen = [r[0] for r in table_rows(paged.text)]
    nxt = links(paged.text, "Next page")
    while nxt:
        page = client.get(nxt[0])
        assert page.status_code == 200
        seen += [r[0] for r in table_rows(page.text)]
        assert links(page.text, "First page")
        nxt = links(page.text, "Next page")
    assert seen == [str(i) for i in range(1, 31)]


def test_explorer_export_and_api_links_mean_the_same_rows(client, spend):  # type: ignore[no-untyped-def]
    path, rid = spend
    html = client.get(path, params=[("column", "borough"), ("op", "in"),
                                    ("value", "Camden,Hackney"), ("column", "spend"),
                                    ("op", "lt"), ("value", "100"), ("sort", "spend"),
                                    ("dir", "desc"), ("size", "25"), ("facet", "borough")]).text
    exports = {re.search(r"rows\.(\w+)", h).group(1): h  # type: ignore[union-attr]
               for h in re.findall(r'href="(/api/v1/resources/[^"]+/rows\.\w+[^"]*)"', html)}
    assert set(exports) == {"csv", "json", "ndjson", "parquet"}  # no coordinates: no GeoJSON
    url = unescape(exports["csv"])
    assert urlsplit(url).path == f"/api/v1/resources/{rid}/rows.csv"
    assert parse_qsl(urlsplit(url).query) == [("borough__in", "Camden,Hackney"),
                                              ("spend__lt", "100"), ("_sort_desc", "spend")]
    got = list(csv.DictReader(io.StringIO(client.get(url).text)))
    assert [r["id"] for r in got] == ["8", "7", "5", "4", "2", "1"]
    api = unescape(re.search(r'class="api-url" href="([^"]+)"', html).group(1))  # type: ignore[union-attr]
    assert parse_qsl(urlsplit(api).query)[-2:] == [("_size", "25"), ("_facet", "borough")]
    body = client.get(api).json()
    assert [r["id"] for r in body["rows"]] == [8, 7, 5, 4, 2, 1] and body["total"] == 6
    ndjson = client.get(unescape(exports["ndjson"])).text.strip().splitlines()
    assert len(ndjson) == 6


def test_explorer_shows_query_errors_on_the_page(client, spend):  # type: ignore[no-untyped-def]
    path, _ = spend
    r = client.get(path, params={"column": "spend", "op": "gt", "value": "lots"})
    assert r.status_code == 400
    assert "There is a problem" in r.text and 'class="error-summary"' in r.text
    assert "&#39;lots&#39; is not a valid int value for column &#39;spend&#39;" in r.text
    assert 'href="#filter-value-1"' in r.text and 'id="filter-value-1"' in r.text
    assert 'value="lots"' in r.text  # the form keeps what was typed
    r = client.get(path, params={"column": "nope", "op": "exact", "value": "x"})
    assert r.status_code == 400 and "Unknown column" in r.text and "valid columns" in r.text
    r = client.get(path, params={"next": "garbage"})
    assert r.status_code == 400 and "not a token this API issued" in r.text
    assert client.get(path, params={"size": "5000"}).status_code == 400


def test_explorer_respects_access(client, seeded):  # type: ignore[no-untyped-def]
    token = seeded["editor_token"]
    secret = make_dataset(client, token, "spend-secret", access_level="private")
    members = make_dataset(client, token, "spend-members", access_level="registered")
    secret_path = f"/dataset/spend-secret/resource/{secret}/rows"
    members_path = f"/dataset/spend-members/resource/{members}/rows"
    assert client.get(secret_path).status_code == 404
    r = client.get(members_path)
    assert r.status_code == 401 and "Sign in" in r.text
    # A resource id under another dataset's name is not found either.
    assert client.get(f"/dataset/spend-members/resource/{secret}/rows").status_code == 404
    login(client, "outsider", "outsider-pass-1")
    assert client.get(secret_path).status_code == 404
    assert client.get(members_path).status_code == 200
    client.post("/user/logout", data={"csrf_token": csrf_from(client.get("/").text)})
    login(client, "editor", "editor-pass-1")
    assert client.get(secret_path).status_code == 200


def test_profiles_for_queryable_resources(make_ctx, client, spend):  # type: ignore[no-untyped-def]
    from citydata.catalog import datasets
    from citydata.web.routes_data import add_profiles

    with make_ctx() as ctx:
        ds = datasets.show_dataset(ctx, "council-spend")
        views = [dict(r, readable=True) for r in ds["resources"]]  # as the page decides
        add_profiles(ctx, ds, views)
    (view,) = views
    prof = {c["name"]: c for c in view["profile"]}
    assert prof["spend"]["min"] == 10 and prof["spend"]["max"] == 300
    assert sum(b["count"] for b in prof["spend"]["histogram"]) == 30
    assert [t["count"] for t in prof["borough"]["top"]] == [10, 10, 10]


def test_dataset_page_quality_standard_and_explore_link(client, spend):  # type: ignore[no-untyped-def]
    path, rid = spend
    html = client.get("/dataset/council-spend").text
    assert "30 rows" in html and f'href="{path}"' in html and "Explore and filter the rows" in html
    assert 'id="quality"' in html and "out of 100" in html
    ds = client.get("/api/3/action/package_show?id=council-spend").json()["result"]
    for check in ds["quality"]["checks"]:
        assert unescape(check["explanation"]) in unescape(html)
    assert "Not applicable:" in html and "Not met:" in html and "Passed:" in html
    assert ds["quality"]["band"] in html


def test_dataset_page_column_profile(client, spend):  # type: ignore[no-untyped-def]
    html = client.get("/dataset/council-spend").text
    assert "What is in each column (3)" in html
    assert re.search(r"<dt>Range</dt><dd>10 to 300</dd>", html)
    assert "<meter" in html and "style=" not in html


def test_quality_facet_and_sort(client, seeded):  # type: ignore[no-untyped-def]
    token = seeded["editor_token"]
    make_dataset(client, token, "bare-spend")
    make_dataset(client, token, "good-spend", title="Good spend", license_id="OGL-UK-3.0",
                 notes="Council spending over 500 pounds, every transaction, with supplier "
                       "and department, taken from the finance system each month.",
                 frequency="monthly", contact_email="data@camden.gov.uk",
                 temporal_start="2024-01-01", boroughs=["E09000007"])
    show = {n: client.get(f"/api/3/action/package_show?id={n}").json()["result"]
            for n in ("bare-spend", "good-spend")}
    assert show["good-spend"]["quality_score"] > show["bare-spend"]["quality_score"]
    page = client.get("/dataset").text
    assert 'id="facet-quality"' in page and "Highest quality" in page
    assert f"Quality {show['good-spend']['quality_score']}/100" in page
    band = show["good-spend"]["quality"]["band"]
    filtered = client.get("/dataset", params={"quality": band}).text
    assert "Good spend" in filtered
    if show["bare-spend"]["quality"]["band"] != band:
        assert "/dataset/bare-spend" not in filtered
    ordered = client.get("/dataset", params={"sort": "quality"}).text
    assert ordered.index("/dataset/good-spend") < ordered.index("/dataset/bare-spend")


def test_standards_pages(client, seeded):  # type: ignore[no-untyped-def]
    html = client.get("/standards").text
    assert 'href="/standards/ev-charge-points"' in html and "1.0.0" in html
    one = client.get("/standards/ev-charge-points")
    assert one.status_code == 200
    assert "<code>power_kw</code>" in one.text and "minimum: <code>0</code>" in one.text
    assert "Primary key" in one.text
    assert client.get("/standards/no-such-thing").status_code == 404
    assert client.get("/standards/ev-charge-points?version=9.9").status_code == 404


EV_BAD = ("id,name,operator,lat,lon,connector_type,power_kw,status\n"
          "cp1,Camden Town,Acme,51.54,-0.14,IEC_62196_T2,abc,AVAILABLE\n")


def test_publish_with_a_standard_then_a_bad_upload(client, seeded):  # type: ignore[no-untyped-def]
    login(client, "editor", "editor-pass-1")
    form = client.get("/dataset/new").text
    assert '<option value="ev-charge-points">' in form
    token = csrf_from(form)
    data = {"csrf_token": token, "owner_org": "camden", "title": "Camden chargers",
            "license_id": "OGL-UK-3.0", "access_level": "open"}
    bad = client.post("/dataset/new", data={**data, "conforms_to": "not-a-standard"},
                      files={"file": ("ev.csv", EV_BAD.encode(), "text/csv")})
    assert bad.status_code == 400 and 'href="#conforms_to"' in bad.text
    assert "no data standard called" in bad.text
    r = client.post("/dataset/new", data={**data, "conforms_to": "ev-charge-points"},
                    files={"file": ("ev.csv", EV_BAD.encode(), "text/csv")},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    html = client.get(r.headers["location"]).text
    assert "ev-charge-points@1.0.0" in html and 'href="/standards/ev-charge-points' in html
    assert "Failed validation" in html and "power_kw" in html and "is not a number" in html
    assert "Not met:" in html  # the quality check for the standard fails
