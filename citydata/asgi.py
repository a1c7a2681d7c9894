"""ASGI entry point for uvicorn/gunicorn: ``uvicorn --factory citydata.asgi:app``."""

from __future__ import annotations

from fastapi import FastAPI

from citydata.app import create_app
from citydata.settings import Settings


def app() -> FastAPI:
    from citydata.ops.logging import configure_logging

    settings = Settings()
    configure_logging(settings)  # in each worker process too (they start with no handlers)
    return create_app(settings)
