"""A map preview in real Chromium: the dataset's GeoJSON over the borough boundaries, drawn
with Leaflet from npm and no internet (SQLite; the page does not depend on the backend)."""

from __future__ import annotations

import json

import pytest

from tests.web.png import read_png
from tests.web.test_browser import ARTIFACTS, browser, db_url, page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

POINTS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": name, "kind": "<b>library</b>"},
     "geometry": {"type": "Point", "coordinates": [lon, lat]}}
    for name, lon, lat in (("Kentish Town", -0.1413, 51.5506), ("Camden Town", -0.1426, 51.5390),
                           ("Swiss Cottage", -0.1749, 51.5434))]}


def test_map_preview_draws_data_over_the_boroughs(page, platform, make_ctx, tmp_path):  # noqa: F811
    from citydata.access.actors import Actor
    from citydata.catalog.organizations import create_organization
    from citydata.catalog.publish import publish_file
    from citydata.geo.reference import load_reference

    load_reference(platform.db, platform.settings)  # boroughs and LSOAs (no postcodes)
    path = tmp_path / "libraries.geojson"
    path.write_text(json.dumps(POINTS))
    with make_ctx() as ctx:
        create_organization(ctx.session, Actor.system(), {"name": "camden", "title": "Camden"})
        publish_file(ctx, path, org="camden", title="Camden libraries",
                     dataset_name="camden-libraries")
    page.goto(page.base + "/dataset/camden-libraries")
    page.wait_for_selector(".map[data-ready]")
    assert page.get_attribute(".map", "data-ready") == "3"
    assert page.locator(".map path.leaflet-interactive").count() == 3  # the three libraries
    assert page.locator(".map path").count() >= 36  # ... over the 33 borough outlines
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "map-preview.png"
    page.locator(".map").screenshot(path=str(shot))
    colours = read_png(shot).colours(step=2)
    assert len(colours) >= 10  # drawn, not an empty box
    page.locator(".map path.leaflet-interactive").first.click()
    popup = page.locator(".leaflet-popup-content")
    assert "library" in popup.inner_text() and popup.locator("b").count() == 0  # text, not HTML


def test_a_table_with_coordinates_is_mapped_through_its_geojson_export(page, platform,  # noqa: F811
                                                                        make_ctx, tmp_path):
    from citydata.access.actors import Actor
    from citydata.catalog.organizations import create_organization
    from citydata.catalog.publish import publish_file

    path = tmp_path / "chargers.csv"
    path.write_text("site,latitude,longitude\nCamden Town,51.5390,-0.1426\n"
                    "Kentish Town,51.5506,-0.1413\n")
    with make_ctx() as ctx:
        create_organization(ctx.session, Actor.system(), {"name": "camden", "title": "Camden"})
        publish_file(ctx, path, org="camden", title="Chargers", dataset_name="chargers")
    page.goto(page.base + "/dataset/chargers")
    page.wait_for_selector(".map[data-ready]")
    assert page.get_attribute(".map", "data-ready") == "2"
    assert "/rows.geojson" in page.get_attribute(".map", "data-geojson")


def test_map_explorer_layers_legend_and_filter(page, platform, make_ctx, tmp_path):  # noqa: F811
    from citydata.access.actors import Actor
    from citydata.catalog.organizations import create_organization
    from citydata.catalog.publish import publish_file

    libraries = tmp_path / "libraries.geojson"
    libraries.write_text(json.dumps(POINTS))
    parks = tmp_path / "parks.geojson"
    parks.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Primrose Hill"},
         "geometry": {"type": "Polygon", "coordinates": [[[-0.165, 51.537], [-0.155, 51.537],
                                                          [-0.155, 51.542], [-0.165, 51.542],
                                                          [-0.165, 51.537]]]}}]}))
    with make_ctx() as ctx:
        create_organization(ctx.session, Actor.system(), {"name": "camden", "title": "Camden"})
        for path, name in ((libraries, "camden-libraries"), (parks, "camden-parks")):
            publish_file(ctx, path, org="camden", title=name.replace("-", " ").title(),
                         dataset_name=name)
    page.goto(page.base + "/map")
    assert page.locator("input[name=layer]").count() == 2
    page.check("text=Camden Libraries: libraries.geojson")
    page.check("text=Camden Parks: parks.geojson")
    page.click("button:has-text('Show on the map')")
    page.wait_for_selector("#explorer[data-ready]")
    assert page.get_attribute("#explorer", "data-ready") == "4"
    assert sorted(page.locator(".map-legend__item").all_inner_texts()) == [
        "Camden Libraries: libraries.geojson", "Camden Parks: parks.geojson"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#explorer").screenshot(path=str(ARTIFACTS / "map-explorer.png"))
    page.fill("#map-filter", "kentish")
    assert page.get_attribute("#explorer", "data-shown") == "1"
