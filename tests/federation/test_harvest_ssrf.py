"""Harvest sources may not lead the server to loopback or private addresses in production:
refused when a source is saved, and again, after resolving the name, at every connection
(so a name re-pointed at a private address later is refused too). ``harvest_allow_private``
opts out; the test environment is not guarded."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from citydata.access.actors import Actor
from citydata.catalog import organizations, users
from citydata.catalog.context import Ctx
from citydata.errors import ValidationError
from citydata.federation import fetch, harvest
from citydata.federation.fetch import Fetcher
from citydata.settings import Settings
from citydata.storage.models import Dataset
from citydata.storage.models_federation import HarvestSource
from tests.federation.fakes import FakeCkan, ckan_package

SECRET = "s" * 24 + "-a-real-production-secret"


@pytest.fixture
def org(make_ctx) -> str:  # type: ignore[no-untyped-def]
    with make_ctx() as ctx:
        organizations.create_organization(ctx.session, Actor.system(), {
            "name": "london-datastore", "title": "London Datastore", "kind": "gla"})
    return "london-datastore"


def production(platform) -> Settings:  # type: ignore[no-untyped-def]
    """A real production Settings (validated: a long secret key) for this platform's data."""
    return Settings(env="production", secret_key=SECRET, home=platform.settings.home,
                    database_url=platform.settings.database_url, postcodes="none")


def go_production(platform) -> None:  # type: ignore[no-untyped-def]
    platform.settings.env = "production"
    platform.settings.secret_key = SECRET


def add(platform, settings: Settings, name: str, url: str, org: str) -> None:  # type: ignore[no-untyped-def]
    with platform.db.session() as session:
        ctx = Ctx(session, Actor.system(), settings, platform.files)
        harvest.add_source(ctx, {"name": name, "kind": "ckan", "url": url,
                                 "organization": org})


def refusal(says: str) -> str:
    return f"Refused: {says} (harvest sources must be at public addresses)"


def sources(platform) -> int:  # type: ignore[no-untyped-def]
    with platform.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(HarvestSource)))


def datasets(platform) -> int:  # type: ignore[no-untyped-def]
    with platform.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Dataset)
                                  .where(Dataset.state == "active")))


@pytest.mark.parametrize("url, says", [
    ("http://127.0.0.1:{port}/", "127.0.0.1 is a loopback or private address"),
    ("http://10.0.0.1/", "10.0.0.1 is a loopback or private address"),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a loopback or private "
                                                "address"),
    ("http://[::1]:{port}/", "::1 is a loopback or private address"),
    ("http://localhost:{port}/", "localhost is this server itself"),
])
def test_production_refuses_private_source_urls(platform, org, url, says):
    with FakeCkan([ckan_package(1)]) as portal:
        url = url.format(port=portal.port)
        with pytest.raises(ValidationError) as err:
            add(platform, production(platform), "inside", url, org)
    assert err.value.fields == {"url": [refusal(says)]}
    assert sources(platform) == 0
    allowed = production(platform)
    allowed.harvest_allow_private = True
    add(platform, allowed, "inside", url, org)
    assert sources(platform) == 1


def test_production_accepts_a_public_address_and_test_env_a_private_one(platform, org):
    add(platform, production(platform), "public", "https://93.184.216.34/catalog", org)
    add(platform, platform.settings, "local", "http://10.0.0.1/", org)
    assert sources(platform) == 2


def test_the_api_answers_400_on_the_url_field(client, platform, make_ctx, org):
    with make_ctx() as ctx:
        users.create_user(ctx.session, "root", "root@example.org", "a-long-password",
                          sysadmin=True)
        token = users.create_token(ctx.session, Actor.system(), "root", name="t")
    root = {"Authorization": token}
    made = client.post("/api/v1/harvest/sources", headers=root, json={
        "name": "inside", "kind": "ckan", "url": "http://127.0.0.1:5000/",
        "organization": org})
    assert made.status_code == 201, made.text
    go_production(platform)
    for url in ("http://127.0.0.1:5000/", "http://10.0.0.1/"):
        refused = client.post("/api/v1/harvest/sources", headers=root, json={
            "name": "another", "kind": "ckan", "url": url, "organization": org})
        assert refused.status_code == 400, refused.text
        host = url.split("/")[2].split(":")[0]
        assert refused.json()["error"]["fields"]["url"] == [
            refusal(f"{host} is a loopback or private address")]
        changed = client.patch("/api/v1/harvest/sources/inside", headers=root,
                               json={"url": url})
        assert changed.status_code == 400, changed.text
        assert "loopback or private" in changed.json()["error"]["fields"]["url"][0]
    assert sources(platform) == 1


def test_a_source_saved_earlier_is_refused_when_connecting(platform, org):
    """Made while private addresses were allowed: production refuses to connect, the job
    says why, and nothing is imported — until ``harvest_allow_private`` is set."""
    with FakeCkan([ckan_package(i) for i in range(1, 4)]) as portal:
        add(platform, platform.settings, "inside", portal.url, org)
        go_production(platform)
        report = harvest.run_harvest(platform, "inside")
        assert report["status"] == "failed"
        assert "refused: 127.0.0.1 is a loopback or private address" in report["message"]
        assert portal.requests == [] and datasets(platform) == 0

        platform.settings.harvest_allow_private = True
        report = harvest.run_harvest(platform, "inside")
        assert report["status"] == "finished", report
        assert report["added"] == 3 and datasets(platform) == 3


def test_a_name_that_now_resolves_to_loopback_is_refused(platform, org, monkeypatch):
    """The name looked public when the source was saved (DNS rebinding): the check made at
    connection time refuses it all the same."""
    monkeypatch.setattr(harvest, "public_addresses", lambda host, port: ["93.184.216.34"])
    go_production(platform)
    with FakeCkan([ckan_package(1)]) as portal:
        add(platform, platform.settings, "rebound", f"http://localhost:{portal.port}", org)
        report = harvest.run_harvest(platform, "rebound")
        assert report["status"] == "failed"
        assert "refused: localhost is this server itself" in report["message"]
        assert portal.requests == [] and datasets(platform) == 0


def test_the_guard_connects_to_the_address_it_checked(monkeypatch):
    """The name is resolved once, vetted, and that very address is connected to (no second
    lookup a rebinding name could win); the Host header still names the source."""
    resolved: list[tuple[str, int]] = []

    def fake_resolver(host: str, port: int) -> list[str]:
        resolved.append((host, port))
        return ["127.0.0.1"]  # stands in for the public address the name resolves to

    monkeypatch.setattr(fetch, "public_addresses", fake_resolver)
    with FakeCkan([ckan_package(1)]) as portal, Fetcher(guard_private=True) as fetcher:
        answer = fetcher.json(f"http://portal.invalid:{portal.port}/api/3/action/status_show")
        (request,) = portal.requests
    assert answer["success"] is True
    assert request.headers["host"] == f"portal.invalid:{portal.port}"
    assert resolved == [("portal.invalid", portal.port)]


def test_test_env_harvests_the_local_portal(platform, org):
    assert not harvest.guards_private(platform.settings)
    with FakeCkan([ckan_package(1), ckan_package(2)]) as portal:
        add(platform, platform.settings, "local", portal.url, org)
        report = harvest.run_harvest(platform, "local")
    assert report["status"] == "finished" and report["added"] == 2
