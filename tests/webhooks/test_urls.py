"""Where deliveries may go: http(s) only, no credentials, and in production no loopback or
private address — refused when subscribing and again, after resolving, at each delivery."""

from __future__ import annotations

import pytest

from citydata.errors import ValidationError
from citydata.events import webhook_dispatch, webhooks
from citydata.events.webhook_signing import check_url, is_public_address
from citydata.settings import Settings
from tests.webhooks.conftest import add, dispatch, queue, show, subscribe, system_ctx


@pytest.fixture
def production(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(env="production", secret_key="s" * 24 + "-a-real-production-secret",
                    home=tmp_path, postcodes="none")


@pytest.mark.parametrize("url, says", [
    ("", "Give the http(s) URL"),
    ("   ", "Give the http(s) URL"),
    ("ftp://example.org/hook", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("example.org/hook", "http:// or https://"),
    ("https://user:pass@example.org/hook", "user name or password"),
    ("https://token@example.org/hook", "user name or password"),
    ("https://exa mple.org/hook", "spaces or control characters"),
    ("https://example.org/ho\nok", "spaces or control characters"),
    ("https:///hook", "Must name a host"),
    ("https://example.org:99999/hook", "Not a valid URL"),
    ("https://[::1/hook", "Not a valid URL"),
    ("https://xn--a.example/hook", "Not a valid URL"),
    ("https://exämple..org/hook", "Not a valid URL"),
    ("https://example.org/" + "a" * 2000, "At most 2000 characters"),
])
def test_bad_urls_are_refused_with_a_reason(url, says, production):
    for settings in (production, Settings(env="test", home=production.home)):
        with pytest.raises(ValidationError) as err:
            check_url(url, settings)
        assert says in err.value.message and "url" in err.value.fields


def test_non_strings_are_refused(production):
    for value in (None, 42, ["https://example.org"], {"url": "x"}):
        with pytest.raises(ValidationError, match="Give the http"):
            check_url(value, production)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://api.localhost/hook",
    "http://10.1.2.3/hook", "http://192.168.0.10/hook", "http://172.16.5.4/hook",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/hook", "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/hook", "http://100.64.0.1/hook",
])
def test_production_refuses_private_addresses(url, production):
    with pytest.raises(ValidationError, match="Deliveries may not go to"):
        check_url(url, production)
    production.webhook_allow_private = True
    assert check_url(url, production) == url


def test_production_accepts_public_addresses_and_dev_accepts_loopback(production, tmp_path):
    assert check_url(" https://93.184.216.34/hook?x=1 ", production) == \
        "https://93.184.216.34/hook?x=1"
    assert check_url("http://[2606:4700::1111]/hook", production)
    dev = Settings(env="dev", home=tmp_path)
    assert check_url("http://127.0.0.1:9/hook", dev) == "http://127.0.0.1:9/hook"


def test_public_address_rules():
    assert is_public_address("8.8.8.8") and is_public_address("2606:4700::1111")
    for private in ("127.0.0.1", "10.0.0.1", "::1", "fe80::1%eth0", "224.0.0.1",
                    "::ffff:10.0.0.1", "not-an-ip"):
        assert not is_public_address(private), private


def test_delivery_rechecks_the_address_in_production(platform, receiver):
    """A subscription made while private addresses were allowed (or whose name now resolves
    to one) is not delivered to: the address is checked at every attempt."""
    sub = subscribe(platform, receiver, "inside")
    add(platform, "tree")
    platform.settings.env = "production"
    report = dispatch(platform)
    assert report["failed"] == 1 and receiver.ids("inside") == []
    (row,) = queue(platform, sub)
    assert row["last_error"] == "Refused: 127.0.0.1 is a loopback or private address"
    platform.settings.webhook_allow_private = True
    add(platform, "tree")
    assert dispatch(platform)["delivered"] == 1 and len(receiver.ids("inside")) == 1


def test_production_connects_to_the_address_it_checked(platform, receiver, monkeypatch):
    """The name is resolved once, checked, and that very address is connected to (so a name
    cannot switch to a private address between check and connection); Host stays the name."""
    resolved: list[str] = []

    def fake_resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]  # stands in for a public address the name resolves to

    monkeypatch.setattr(webhook_dispatch, "public_addresses", fake_resolver)
    with platform.db.session() as session:
        sub = webhooks.create(platform, system_ctx(platform, session), {
            "stream": "whtest", "url": f"http://hooks.invalid:{receiver.port}/pinned"})
    receiver.secrets["/pinned"] = sub.secret
    (event_id,) = add(platform, "tree")
    platform.settings.env = "production"
    assert dispatch(platform)["delivered"] == 1
    (arrival,) = receiver.at("pinned")
    assert arrival.event_id == event_id and arrival.verified
    assert arrival.headers["host"] == f"hooks.invalid:{receiver.port}"
    assert resolved == ["hooks.invalid"]
    assert show(platform, sub.id)["delivered"] == 1
