"""Plugin loading: built-in plugins register exactly like third-party ones."""

from __future__ import annotations

import importlib

import pluggy

from citydata import hookspecs

#: Built-in plugins, in mounting order. Each module exposes ``@hookimpl`` functions.
DEFAULT_PLUGINS = (
    "citydata.api.plugin",
    "citydata.web.plugin",
    "citydata.demo.plugin",
    "citydata.standards.plugin",
    "citydata.services.planning.plugin",
)


def get_plugin_manager(extra: tuple[str, ...] = ()) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("citydata")
    pm.add_hookspecs(hookspecs)
    for name in (*DEFAULT_PLUGINS, *extra):
        pm.register(importlib.import_module(name), name=name)
    pm.load_setuptools_entrypoints("citydata")
    return pm
