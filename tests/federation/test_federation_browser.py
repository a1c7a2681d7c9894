"""The federated loop in a real Chromium: found at the registry, requested there, decided at
the owner node, and a token for the owner node taken from the registry's page (SQLite nodes;
both backends are covered by test_nodes.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from citydata.demo.federation import PASSWORD
from tests.federation.conftest import Running, cluster_of_three
from tests.web.test_browser import ARGS, CHROMIUM, VIEWPORT

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("federation")]


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with cluster_of_three(tmp_path_factory.mktemp("federation-browser"), "sqlite") as running:
        yield running


@pytest.fixture
def page(three):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport=VIEWPORT)
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        problems: list[str] = []
        pg.on("console", lambda m: problems.append(m.text)
              if m.type == "error" and "status of 400" not in m.text else None)
        pg.on("pageerror", lambda e: problems.append(str(e)))
        yield pg
        browser.close()
        assert not problems, problems


def sign_in(page, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/user/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_find_request_and_get_a_token_in_the_browser(page, three):
    reg = three.registry.url
    sign_in(page, reg, "analyst")

    page.goto(reg + "/federation?q=care")
    statuses = page.inner_text(".node-status")
    assert "camden: OK" in statuses.replace("ok", "OK") and "hackney" in statuses
    assert page.locator(".result-list__item").count() == 2
    assert page.locator("table.table td", has_text="Member").count() == 2

    page.goto(reg + "/dataset/camden-care-packages")
    details = page.inner_text("aside")
    assert "Harvested from" in details and "Last harvested" in details
    assert "held at node camden" in page.inner_text("#access")
    page.click("#access >> text=Request access")
    page.select_option("#purpose", "service-planning")
    page.fill("#purpose_detail", "Planning adult social care capacity across north London.")
    page.select_option("#lawful_basis", "art6-1-e")
    page.fill("#dpia_reference", "GLA-DPIA-2026-14")
    page.click("text=Send the request")
    page.wait_for_url(reg + "/federation/requests/**")
    ref = page.inner_text("h1")
    assert ref.startswith("DSA-")
    assert "requested" in page.inner_text(".summary-list").lower()

    camden = three.owner("camden")
    approved = three.cli(camden, "agreements", "approve", ref, "--as", "camden-owner",
                         "--actions", "read")
    assert approved.returncode == 0, approved.stderr

    page.reload()
    assert "active" in page.inner_text(".summary-list").lower()
    page.click("text=Get an assertion")
    command = page.inner_text("pre.code-block")
    assert f"{camden.url}/api/v1/federation/token" in command
    assertion = command.split('"assertion": "')[1].split('"')[0]
    token = httpx.post(f"{camden.url}/api/v1/federation/token",
                       json={"assertion": assertion}).json()["token"]
    shown = httpx.get(f"{camden.url}/api/3/action/package_show",
                      params={"id": "camden-care-packages"}, headers={"Authorization": token})
    assert shown.json()["result"]["data_access"] is True

    page.goto(reg + "/federation/requests")
    assert page.locator("td", has_text=ref).count() == 1


def test_harvest_pages(page, three):
    reg = three.registry.url
    page.goto(reg + "/harvest")
    rows = page.locator("table.table tbody tr")
    assert rows.count() == 2
    assert "node-camden" in page.inner_text("table.table") or "camden" in page.inner_text(
        "table.table").lower()
    page.click("text=London Borough of Camden data (citydata node)")
    assert "Latest job" in page.inner_text("main")
    assert "2 added" in page.inner_text("main")
    # signed out: no "Harvest now"; the administrator gets the button and runs it
    assert page.locator("text=Harvest now").count() == 0
    sign_in(page, reg, "registry-admin")
    page.goto(reg + "/harvest/node-camden")
    page.click("text=Harvest now")
    assert "Harvest finished" in page.inner_text(".notice")
    # and removes a source, keeping what it harvested
    page.goto(reg + "/harvest/node-hackney")
    page.check("#keep")
    page.click("text=Remove the source")
    assert "0 datasets withdrawn" in page.inner_text(".notice")
    assert page.locator("table.table tbody tr").count() == 1
    kept = httpx.get(f"{reg}/api/3/action/package_show", params={"id": "hackney-street-trees"})
    assert kept.status_code == 200
    # and invites another owner node
    page.goto(reg + "/federation")
    page.fill("#node", "Not a name")
    page.click("text=Make a registration code")
    assert "lowercase" in page.inner_text(".error-summary").lower()
    page.fill("#node", "lambeth")
    page.select_option("#organization", "gla")
    page.click("text=Make a registration code")
    code = page.inner_text("#invite ~ .inset pre.code-block")
    assert code.startswith("cdi_")
    assert f"citydata federation join {reg} --code {code}" in page.inner_text(".inset")
