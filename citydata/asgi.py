"""ASGI entry point for uvicorn/gunicorn: ``uvicorn --factory citydata.asgi:app``."""

from __future__ import annotations

from fastapi import FastAPI

from citydata.app import create_app
from citydata.settings import Settings


def app() -> FastAPI:
    return create_app(Settings())
