"""The web UI in a real Chromium (Debian's, driven by Playwright) against our real uvicorn server.

These run on SQLite only: the pages do not depend on the database backend, and every page and
rule is also covered on both backends by the in-process tests next to this file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.conftest import CSV_V1
from tests.web.png import read_png

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORT = {"width": 1024, "height": 768}


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """SQLite only for browser tests (see the module docstring for why)."""
    target = tmp_path / "citydata.db"
    shutil.copy(sqlite_template, target)
    yield f"sqlite:///{target}"


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run `make system-deps` (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    problems: list[str] = []
    # CSP violations, script errors and missing assets show up as console errors: a page must
    # have none. A form shown again with its errors is a 400 by design, so that one is allowed.
    pg.on("console", lambda m: problems.append(m.text)
          if m.type == "error" and "status of 400" not in m.text else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.base = live_server  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert not problems, problems


def test_search_open_a_dataset_and_download(page, catalog):
    page.goto(page.base + "/")
    page.fill("#search-q", "charge points")
    page.keyboard.press("Enter")
    page.wait_for_url("**/dataset?q=charge+points")
    assert "1 dataset found" in page.inner_text("#results-count")
    page.click("text=Camden EV charge points")
    assert page.inner_text("h1") == "Camden EV charge points"
    assert page.locator("table.table--preview td", has_text="Kentish Town").count() == 1
    with page.expect_download() as info:
        page.click("a.button[download]")
    download = info.value
    assert download.suggested_filename == "ev-charge-points.csv"
    assert Path(download.path()).read_text() == CSV_V1


def test_sign_in_publish_a_csv_and_find_it(page, seeded, tmp_path):
    csv_file = tmp_path / "library-visits.csv"
    csv_file.write_text("library,visits\nKentish Town,1200\nSwiss Cottage,3400\n")
    page.goto(page.base + "/dataset/new")
    page.wait_for_url("**/user/login?next=/dataset/new")
    page.fill("#username", "editor")
    page.fill("#password", "editor-pass-1")
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/dataset/new")
    # Submitting an empty form shows the error summary, linked to the fields.
    page.click("button:has-text('Publish dataset')")
    summary = page.locator(".error-summary")
    assert "Enter a title" in summary.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "publish-errors.png"), full_page=True)
    summary.locator("a[href='#title']").click()
    assert page.evaluate("document.activeElement.id") == "title"
    page.fill("#title", "Camden library visits")
    page.fill("#notes", "Visits per library, **2024**.")
    page.fill("#tag_string", "libraries, culture")
    page.check("#theme_EDUC")
    page.set_input_files("#file", str(csv_file))
    page.click("button:has-text('Publish dataset')")
    page.wait_for_url("**/dataset/camden-library-visits")
    assert "Your dataset has been published." in page.inner_text(".notice")
    assert page.locator("table.table--preview td", has_text="Swiss Cottage").count() == 1
    page.goto(page.base + "/dataset")
    page.fill("#search-q", "library")
    page.click("button:has-text('Search')")
    assert page.locator(".result__title a", has_text="Camden library visits").count() == 1
    page.click("a.facet__option:has-text('Education, culture and sport')")
    assert "1 dataset found" in page.inner_text("#results-count")


def test_keyboard_reaches_the_search_box_through_the_skip_link(page, catalog):
    page.goto(page.base + "/dataset/camden-ev")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip-link"
    box = page.locator(".skip-link").bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0  # shown on screen once focused
    # The focus style is the yellow one (visible focus, WCAG 2.4.7).
    bg = page.evaluate("getComputedStyle(document.activeElement).backgroundColor")
    assert bg == "rgb(255, 221, 0)"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main-content"
    # From the top of the home page, the search box is the first stop in the main content.
    page.goto(page.base + "/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "search-q"
    page.keyboard.type("bus")
    page.keyboard.press("Enter")
    page.wait_for_url("**/dataset?q=bus")
    assert page.locator(".result__title a", has_text="TfL bus stops").count() == 1


def _check_screenshot(path: Path, min_height: int) -> None:
    img = read_png(path)
    assert img.width == VIEWPORT["width"] and img.height >= min_height
    colours = img.colours(step=2)
    total = sum(colours.values())
    assert len(colours) >= 20, "the page looks blank or unstyled"
    white, share = colours.most_common(1)[0][0], colours.most_common(1)[0][1] / total
    assert white == (255, 255, 255) and share < 0.95, "mostly one colour: blank page?"
    # The stylesheet loaded: the header is near-black and its brand bar blue.
    assert img.pixel(img.width - 5, 5) == (11, 12, 12)
    assert colours[(29, 112, 184)] > 0
    # The footer's light grey band is at the bottom.
    assert img.pixel(5, img.height - 5) == (243, 242, 241)


def test_screenshots_of_home_and_dataset_pages(page, catalog):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(page.base + "/")
    home = ARTIFACTS / "home.png"
    page.screenshot(path=str(home), full_page=True)
    _check_screenshot(home, VIEWPORT["height"])
    page.goto(page.base + "/dataset/camden-ev")
    page.click("text=All versions of this file")
    dataset = ARTIFACTS / "dataset.png"
    page.screenshot(path=str(dataset), full_page=True)
    _check_screenshot(dataset, VIEWPORT["height"])
    page.goto(page.base + "/dataset?tags=transport")
    page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)
