"""Web page routes (placeholder until the full UI lands)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home() -> str:
    return "<!doctype html><html lang='en'><title>citydata</title><h1>London City Data</h1></html>"
