"""The extension contract is documented in full (as datasette's test_docs does)."""

from __future__ import annotations

import inspect
from pathlib import Path

from citydata import hookspecs
from citydata.plugins import DEFAULT_PLUGINS, get_plugin_manager

DOCS = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def hooks():
    return [
        n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("citydata_")
    ]


def test_every_hook_has_a_docstring():
    for name in hooks():
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name


def test_every_hook_is_in_the_docs():
    text = DOCS.read_text()
    for name in hooks():
        assert f"`{name}" in text, f"{name} is not documented in docs/extending.md"


def test_builtin_plugins_register_like_third_party_ones():
    pm = get_plugin_manager()
    registered = {name for name, _ in pm.list_name_plugin()}
    assert set(DEFAULT_PLUGINS) <= registered
    assert pm.hook.citydata_routes.get_hookimpls()
