"""Security test fixtures: the web tests' small catalog, and an app with a route that crashes."""

from __future__ import annotations

from tests.web.conftest import catalog, csrf_from, login  # noqa: F401  (fixture re-exported)

__all__ = ["catalog", "csrf_from", "login"]
