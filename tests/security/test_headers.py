"""Security headers on every response family, and templates that need no inline script or style.

The Content-Security-Policy allows scripts and styles from the site only, so an injected
``<script>``, ``onerror=`` or ``style=`` does nothing; the scan below keeps our own templates
inside that policy (an inline script in a template would be blocked in every browser).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import citydata
from citydata.app import content_security_policy, create_app

PACKAGE = Path(citydata.__file__).parent
HSTS = "max-age=31536000; includeSubDomains"


def check_headers(r, *, https: bool = False) -> None:  # type: ignore[no-untyped-def]
    h = r.headers
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp, (r.url, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    if "sandbox" not in csp:  # downloads are sandboxed with default-src 'none' instead
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    if https:
        assert h["strict-transport-security"] == HSTS
    else:
        assert "strict-transport-security" not in h


def family_urls(catalog, client) -> dict[str, tuple[str, int]]:  # type: ignore[no-untyped-def]
    """One URL per response family (and its expected status)."""
    res = client.get("/api/3/action/package_show", params={"id": "camden-ev"}).json()["result"]
    download = res["resources"][0]["url"].split("testserver", 1)[1]
    return {
        "html page": ("/", 200),
        "html dataset page": ("/dataset/camden-ev", 200),
        "native json": ("/api/v1/standards", 200),
        "ckan": ("/api/3/action/package_list", 200),
        "ogc": ("/ogc/collections?f=json", 200),
        "static file": ("/static/citydata.css", 200),
        "vendored leaflet": ("/vendor/leaflet/leaflet.js", 200),
        "download": (download, 200),
        "html 404": ("/organization/nope", 404),
        "json 404": ("/api/v1/standards/nope", 404),
        "ckan error": ("/api/3/action/package_show?id=nope", 404),
        "ogc error": ("/ogc/collections/nope?f=json", 404),
        "static 404": ("/static/nope.css", 404),
        "nul refused": ("/dataset?q=%00", 400),
        "crash": ("/_test/crash", 500),
    }


def crashing(app):  # type: ignore[no-untyped-def]
    """The app with one route that fails unexpectedly, to see the 500 response's headers."""
    def crash() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/_test/crash", crash)
    return app


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_every_response_family_has_the_security_headers(platform, catalog, https):
    platform.settings.site_url = "https://data.example.org" if https else "http://testserver"
    with TestClient(crashing(create_app(platform=platform)),
                    raise_server_exceptions=False) as client:
        for family, (url, status) in family_urls(catalog, client).items():
            r = client.get(url)
            assert r.status_code == status, (family, url, r.status_code, r.text[:200])
            check_headers(r, https=https)
        # Errors keep their family's shape too (not a bare text page).
        assert client.get("/_test/crash").text.startswith("<!")
        assert "stack" not in client.get("/_test/crash").text.lower()


def test_downloads_are_attachments_and_sandboxed(client, catalog):
    res = client.get("/api/3/action/package_show", params={"id": "camden-ev"}).json()["result"]
    r = client.get(res["resources"][0]["url"])
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-type"].startswith("text/csv")
    assert "sandbox" in r.headers["content-security-policy"]
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_policy_allows_the_basemap_images_only(settings):
    settings.basemap_tiles = "https://tile.example.org/{z}/{x}/{y}.png"
    csp = content_security_policy(settings)
    assert "img-src 'self' data: https://tile.example.org;" in csp
    assert "script-src 'self';" in csp and "tile.example.org" not in csp.split("img-src")[0]
    assert "object-src 'none'" in csp and "form-action 'self'" in csp


# -- templates -------------------------------------------------------------------------------

def templates() -> list[Path]:
    found = sorted((PACKAGE / "web" / "templates").rglob("*.html"))
    found += sorted(PACKAGE.glob("services/*/templates/**/*.html"))
    return found


class InlineFinder(HTMLParser):
    """Collects what the policy would block: inline script bodies, event handler attributes,
    style attributes and elements, and javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if re.fullmatch(r"on[a-z]+", name):
                self.problems.append(f"<{tag} {name}=...> event handler")
            if name == "style":
                self.problems.append(f"<{tag} style=...> inline style")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "script" and not dict(attrs).get("src"):
            self.problems.append("<script> without src")
        if tag in ("script", "style"):
            self._in = tag
        if tag == "style":
            self.problems.append("<style> element")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.problems.append(f"inline script body {data.strip()[:40]!r}")


def inline_problems(source: str) -> list[str]:
    # Jinja statements between attributes ({% if %}checked{% endif %}) are not HTML: blank them.
    html = re.sub(r"{%.*?%}|{#.*?#}", " ", source, flags=re.S)
    finder = InlineFinder()
    finder.feed(html)
    return finder.problems


def test_the_scan_finds_what_the_policy_blocks():
    assert inline_problems("<script>alert(1)</script>") == ["<script> without src",
                                                            "inline script body 'alert(1)'"]
    assert inline_problems('<img src="x" onerror="alert(1)">')
    assert inline_problems('<p style="color:red">x</p>')
    assert inline_problems('<a href="javascript:alert(1)">x</a>')
    assert inline_problems("<style>p{}</style>")
    assert not inline_problems('<script src="/static/map.js" defer></script>')


def test_templates_have_no_inline_scripts_handlers_or_styles():
    found = templates()
    assert len(found) > 30 and any("services" in str(p) for p in found)
    problems = {str(p.relative_to(PACKAGE)): inline_problems(p.read_text()) for p in found}
    assert {k: v for k, v in problems.items() if v} == {}
