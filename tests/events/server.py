"""The real application plus the test stream, for ``uvicorn --factory`` in a subprocess."""

from __future__ import annotations

from fastapi import FastAPI

from citydata.app import create_app
from citydata.platform import Platform
from citydata.settings import Settings
from tests.events import stream_plugin


def app() -> FastAPI:
    platform = Platform(Settings())
    platform.plugins.register(stream_plugin, name="events-test")
    return create_app(platform=platform)
