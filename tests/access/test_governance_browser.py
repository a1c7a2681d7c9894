"""Governed sharing in a real Chromium against our real uvicorn server (SQLite; every rule is
also covered on both backends by the in-process tests beside this file)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.test_browser import browser, db_url, page  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
PASSWORD = "a-long-password"


def sign_in(page, name: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.context.clear_cookies()
    page.goto(page.base + "/user/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(page.base + "/")


def test_request_approve_and_use_in_the_browser(page, governed):  # noqa: F811
    sign_in(page, "hackney-analyst")
    page.goto(page.base + "/dataset/care-restricted")
    page.click("text=Request access")
    page.select_option("#purpose", "service-planning")
    page.fill("#purpose_detail", "Planning adult social care across borough boundaries.")
    page.select_option("#lawful_basis", "art6-1-e")
    page.fill("#dpia_reference", "HAC-DPIA-042")
    page.click("text=Send the request")
    assert "Your request has been sent" in page.inner_text(".notice")
    ref = page.url.rsplit("/", 1)[1]
    assert ref in page.inner_text(".caption")

    sign_in(page, "camden-owner")
    assert page.inner_text(".count-badge").startswith("1")
    page.click("text=Agreements")
    page.click(f"text={ref}")
    page.uncheck("input[name='column:package_ref']")
    page.uncheck("input[name='column:weekly_cost']")
    page.click("button:has-text('Approve')")
    assert "The agreement is approved." in page.inner_text(".notice")
    assert "active" in page.inner_text(".lead-meta").lower()

    sign_in(page, "hackney-analyst")
    page.goto(page.base + "/dataset/care-restricted")
    page.click(f"a:has-text('{ref}')")
    # expect() waits for the new page's DOM: click returns once the navigation commits
    expect(page.locator("table.table--preview th")).to_have_text(
        ["ward", "age_band", "support_type", "weekly_hours"])
    page.click("text=Explore and filter the rows")
    assert "weekly_cost" not in page.content()
    assert page.locator("table td", has_text="E05013652").count() > 0

    page.goto(page.base + "/register")
    assert page.locator("td", has_text=ref).count() == 1
