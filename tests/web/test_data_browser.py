"""The rows explorer in a real Chromium: filter by a value, page on, download the filtered CSV.

SQLite only, like tests/web/test_browser.py (the in-process tests cover both backends)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.web.test_browser import ARGS, CHROMIUM, VIEWPORT, browser, db_url  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

BOROUGHS = ["Camden", "Hackney", "Islington"]
#: 60 rows: Camden is every third row (ids 1, 4, ..., 58), 20 of them.
CSV = "id,borough,spend\n" + "".join(
    f"{i},{BOROUGHS[(i - 1) % 3]},{i * 10}\n" for i in range(1, 61))


@pytest.fixture
def page(browser, live_server):  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.base = live_server  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert problems == []  # no CSP violations, script errors or missing assets


def test_filter_page_on_and_download_the_filtered_csv(page, make_ctx, seeded, tmp_path: Path):  # type: ignore[no-untyped-def]
    from citydata.catalog.publish import publish_file

    path = tmp_path / "spend.csv"
    path.write_text(CSV)
    with make_ctx() as ctx:
        publish_file(ctx, path, org="camden", title="Council spend", dataset_name="council-spend")

    page.goto(page.base + "/dataset/council-spend")
    page.get_by_role("link", name="Explore and filter the rows").click()
    page.select_option("#filter-column-1", "borough")
    page.select_option("#filter-op-1", "exact")
    page.fill("#filter-value-1", "Camden")
    page.select_option("#size", "10")
    page.get_by_role("button", name="Show rows").click()
    expect(page.locator("#results")).to_have_text("20 rows match")
    expect(page.locator("tbody tr td:first-child")).to_have_text(
        [str(i) for i in range(1, 31, 3)])

    page.get_by_role("link", name="Next page").click()
    # expect() waits for the next page's rows: click returns once the navigation commits
    expect(page.locator("tbody tr td:first-child")).to_have_text(
        [str(i) for i in range(31, 61, 3)])
    assert page.get_by_role("link", name="Next page").count() == 0

    with page.expect_download() as info:
        page.get_by_role("link", name="CSV download of the filtered rows").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    got = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [r["id"] for r in got] == [str(i) for i in range(1, 61, 3)]
    assert {r["borough"] for r in got} == {"Camden"}
