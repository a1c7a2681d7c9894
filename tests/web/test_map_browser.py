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
    # Zoomed in to the libraries, the LSOA boundaries of the view are the basemap's detail.
    page.wait_for_selector(".map[data-lsoas]")
    assert int(page.get_attribute(".map", "data-lsoas")) >= 10
    assert page.locator(".leaflet-detail-pane path").count() >= 10
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
    page.check("text=Camden Libraries")
    page.check("text=Camden Parks")
    page.click("button:has-text('Show on the map')")
    page.wait_for_selector("#explorer[data-ready]")
    assert page.get_attribute("#explorer", "data-ready") == "4"
    assert sorted(page.locator(".map-legend__item").all_inner_texts()) == [
        "Camden Libraries", "Camden Parks"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#explorer").screenshot(path=str(ARTIFACTS / "map-explorer.png"))
    page.fill("#map-filter", "kentish")
    assert page.get_attribute("#explorer", "data-shown") == "1"


def _png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A one-colour PNG, standing in for a production tile service's tiles."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0,
                                                              0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_explorer_draws_tables_and_a_configured_tile_basemap(page, platform, make_ctx,  # noqa: F811
                                                             tmp_path):
    """Any collection can be a layer (here a CSV with easting/northing), and with
    CITYDATA_BASEMAP_TILES set the map asks that service for tiles (faked here: the outside
    world) beneath the borough outlines."""
    from citydata.access.actors import Actor
    from citydata.catalog.organizations import create_organization
    from citydata.catalog.publish import publish_file

    platform.settings.basemap_tiles = "https://tiles.example.org/{z}/{x}/{y}.png"
    platform.settings.basemap_attribution = "Example tiles"
    asked: list[str] = []

    def serve_tile(route):  # type: ignore[no-untyped-def]
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=_png((200, 230, 201)))

    page.route("https://tiles.example.org/**", serve_tile)
    chargers = tmp_path / "chargers.csv"
    chargers.write_text("site,easting,northing\nTrafalgar Square,530034,180381\n"
                        "King's Cross,530268,183136\nBrixton,531200,175600\n")
    with make_ctx() as ctx:
        create_organization(ctx.session, Actor.system(), {"name": "camden", "title": "Camden"})
        publish_file(ctx, chargers, org="camden", title="Charge points", dataset_name="chargers")
    page.goto(page.base + "/map?layer=chargers")
    page.wait_for_selector("#explorer[data-ready]")
    assert page.get_attribute("#explorer", "data-ready") == "3"
    page.wait_for_selector("#explorer img.leaflet-tile-loaded")
    assert asked and all(u.startswith("https://tiles.example.org/") for u in asked)
    assert "Example tiles" in page.locator(".leaflet-control-attribution").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "map-explorer-tiles.png"
    page.locator("#explorer").screenshot(path=str(shot))
    assert (200, 230, 201) in read_png(shot).colours(step=4)  # the tiles are drawn
