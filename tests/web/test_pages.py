"""Every page renders for the right people, with the layout's landmarks and attribution."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Request

from tests.web.conftest import login

ATTRIBUTION = ("Contains OS data © Crown copyright and database right; Royal Mail data © Royal "
               "Mail copyright and database right; National Statistics data © Crown copyright "
               "and database right.")
PUBLIC_PAGES = ["/", "/dataset", "/dataset?q=charge", "/dataset/camden-ev", "/organization",
                "/organization/camden", "/user/login"]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_render_for_anonymous(client, catalog, path):
    r = client.get(path)
    assert r.status_code == 200, r.text
    html = r.text
    assert html.startswith("<!doctype html>")
    assert '<html lang="en-GB">' in html
    # Skip link first, then the landmarks it and screen readers rely on.
    assert html.index('class="skip-link"') < html.index("<header")
    assert '<main class="main" id="main-content"' in html
    assert '<nav class="site-nav" aria-label="Main">' in html
    assert "<footer" in html and ATTRIBUTION in html
    assert "Open Government Licence v3.0" in html
    assert 'href="/api/docs"' in html and 'href="/catalog.ttl"' in html
    # CSP forbids inline script and style: the pages must not depend on them.
    assert "<script" not in html and "style=" not in html


def test_every_input_has_a_label(client, catalog):
    import re

    login(client, "editor", "editor-pass-1")
    for path in ["/", "/dataset", "/user/login", "/dataset/new", "/dataset/camden-ev/resource/new",
                 "/user/editor/api-tokens"]:
        html = client.get(path).text
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag:
                continue
            m = re.search(r'id="([^"]+)"', tag)
            assert m, f"{path}: input without id: {tag}"
            assert f'for="{m.group(1)}"' in html, f"{path}: no label for {m.group(1)}"


def test_private_dataset_is_404_for_outsiders_and_visible_to_members(client, catalog):
    assert client.get("/dataset/camden-secret").status_code == 404
    page = client.get("/dataset/camden-secret")
    assert "Page not found" in page.text and "Camden secret survey" not in page.text
    login(client, "outsider", "outsider-pass-1")
    assert client.get("/dataset/camden-secret").status_code == 404
    client.cookies.clear()
    login(client, "editor", "editor-pass-1")
    r = client.get("/dataset/camden-secret")
    assert r.status_code == 200 and "Camden secret survey" in r.text
    assert "Private" in r.text


def test_dataset_page_shows_metadata_resources_and_api(client, catalog):
    html = client.get("/dataset/camden-ev").text
    assert "<h1 class=\"heading-xl\">Camden EV charge points</h1>" in html
    assert 'href="/organization/camden">London Borough of Camden</a>' in html
    assert "Open Government Licence v3.0" in html
    assert "Anyone can download and use this data under its licence." in html
    assert "Transport" in html and "Energy" in html  # theme labels, not codes
    assert "Monthly" in html and "1 January 2020 to 31 December 2024" in html
    assert "mailto:data@camden.gov.uk" in html
    assert "/download/ev-charge-points.csv" in html
    assert "package_show?id=camden-ev" in html and "RemoteCKAN" in html


def test_description_markdown_is_rendered_and_html_escaped(client, catalog):
    html = client.get("/dataset/camden-ev").text
    assert "<strong>charge points</strong>" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_borough_names_come_from_the_reference_table(client, catalog, make_ctx):
    from citydata.storage.models import RefBorough

    with make_ctx() as ctx:
        ctx.session.add(RefBorough(gss_code="E09000007", name="Camden", geometry="{}",
                                   west=-0.2, south=51.5, east=-0.1, north=51.6))
    assert "Camden</a>" in client.get("/dataset/camden-ev").text
    search = client.get("/dataset").text
    assert 'href="/dataset?borough=E09000007"' in search
    assert ">Camden</span>" in search


def test_registered_data_needs_sign_in(client, catalog, make_ctx, tmp_path):
    from citydata.catalog.publish import publish_file

    path = tmp_path / "trees.csv"
    path.write_text("tree,species\n1,oak\n")
    with make_ctx() as ctx:
        publish_file(ctx, path, org="camden", title="Camden street trees",
                     dataset_name="camden-registered")
    html = client.get("/dataset/camden-registered").text
    assert "Sign in to download the files" in html
    assert "/download/" not in html and "oak" not in html  # no link, no preview
    login(client, "outsider", "outsider-pass-1")
    html = client.get("/dataset/camden-registered").text
    assert "/download/trees.csv" in html and "<td>oak</td>" in html


def test_dataset_by_id_redirects_to_its_name(client, catalog):
    ds = client.get("/api/3/action/package_show?id=camden-ev").json()["result"]
    r = client.get(f"/dataset/{ds['id']}", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/dataset/camden-ev"


def test_unknown_pages_use_the_html_error_page(client, catalog):
    r = client.get("/organization/nobody")
    assert r.status_code == 404 and "Page not found" in r.text and ATTRIBUTION in r.text


def test_home_shows_counts_browse_links_and_recent(client, catalog):
    html = client.get("/").text
    # Anonymous sees the three public datasets; the private one is not counted.
    assert '<span class="stats__number">3</span> <span class="stats__label">datasets' in html
    assert '<span class="stats__number">2</span> <span class="stats__label">publishers' in html
    assert 'href="/dataset?tags=transport">transport</a>' in html
    assert 'href="/dataset?theme=TRAN">Transport</a>' in html
    assert "Camden EV charge points" in html and "Camden secret survey" not in html


def test_organization_pages(client, catalog):
    listing = client.get("/organization").text
    assert "London Borough of Camden" in listing and "Transport for London" in listing
    assert "2 datasets" in listing  # camden: open + registered; the private one is hidden
    page = client.get("/organization/camden").text
    assert "Camden EV charge points" in page and "TfL bus stops" not in page
    assert "2 datasets found" in page
    # The publisher facet is fixed on this page, the others still filter.
    assert "facet-organization" not in page
    filtered = client.get("/organization/camden?tags=trees").text
    assert "1 dataset found" in filtered and "Camden street trees" in filtered


def test_plugin_nav_links_and_template_dirs(platform, tmp_path):
    from fastapi.testclient import TestClient

    from citydata.app import create_app
    from citydata.hookspecs import hookimpl
    from citydata.web.render import render_page

    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "air.html").write_text(
        '{% extends "base.html" %}{% block title %}Air{% endblock %}'
        "{% block content %}<h1>Air quality {{ level }}</h1>{% endblock %}")
    router = APIRouter()

    @router.get("/air")
    def air(request: Request):  # type: ignore[no-untyped-def]
        return render_page(request, "air.html", {"level": "good"})

    class AirPlugin:
        @hookimpl
        def citydata_nav_links(self):  # type: ignore[no-untyped-def]
            return [("Air quality", "/air")]

        @hookimpl
        def citydata_template_dirs(self):  # type: ignore[no-untyped-def]
            return [str(tmp_path / "tpl")]

        @hookimpl
        def citydata_routes(self, platform):  # type: ignore[no-untyped-def]
            return [router]

    platform.plugins.register(AirPlugin(), name="air-test")
    with TestClient(create_app(platform=platform)) as c:
        home = c.get("/").text
        assert '<a class="site-nav__link" href="/air">Air quality</a>' in home
        page = c.get("/air")
        assert page.status_code == 200 and "<h1>Air quality good</h1>" in page.text
        assert 'aria-current="page"' in page.text and ATTRIBUTION in page.text


def test_api_docs_page_lists_every_native_operation_without_scripts(client):
    r = client.get("/api/docs")
    assert r.status_code == 200
    html = r.text
    spec = client.get("/api/openapi.json").json()
    native = [(m.upper(), p) for p, item in spec["paths"].items() for m in item
              if m in ("get", "post", "put", "patch", "delete")]
    assert len(native) > 40
    for method, path in native:
        assert f"<code>{method} {path}</code>" in html.replace("&#123;", "{"), (method, path)
    assert "<script" not in html.split("</main>")[0].split("<main")[-1]
    assert "cdn" not in html.lower()
    assert 'href="/api/openapi.json"' in html
