"""The ASGI application: ``create_app(settings)`` mounts every plugin's routes and pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from citydata import __version__
from citydata.errors import CitydataError
from citydata.platform import Platform
from citydata.settings import Settings

log = logging.getLogger("citydata")


def create_app(settings: Settings | None = None, platform: Platform | None = None) -> FastAPI:
    platform = platform or Platform(settings or Settings())
    settings = platform.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from citydata import jobs
        from citydata.api.events import end_streams_on_shutdown
        from citydata.events import webhooks

        task = None
        if settings.jobs_interval_seconds > 0:
            task = asyncio.create_task(jobs.loop(platform))
        background = [asyncio.create_task(run(), name=f"citydata-{run.__name__}")
                      for found in platform.plugins.hook.citydata_background_tasks(
                          platform=platform) for run in found or []]
        dispatcher = None
        if settings.webhook_interval_seconds > 0:
            dispatcher = asyncio.create_task(webhooks.run(platform), name="citydata-webhooks")
        end_streams_on_shutdown(platform)  # or uvicorn waits for them before shutting down
        try:
            yield
        finally:
            from citydata.events.hub import Hub

            for running in background:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
            if dispatcher is not None:  # before the hub it waits on closes
                dispatcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await dispatcher
            await Hub.close_all(platform)  # SSE streams end; the hub's reader stops
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        lifespan=lifespan,
        title=settings.site_title,
        version=__version__,
        description="citydata: the city's data catalog, CKAN-compatible API and DCAT-AP feeds.",
        docs_url=None,  # /api/docs is our own server-rendered page (web/routes_api_docs.py)
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.platform = platform
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="citydata_session",
        same_site="lax",
        https_only=settings.site_url.startswith("https://"),
        max_age=14 * 24 * 3600,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        # NUL cannot be stored or compared in PostgreSQL text (SQLite accepts it): refuse it
        # in the path and query alike on every backend, before anything reads them.
        if "\x00" in request.url.path or "%00" in request.url.query:
            response: Response = render(request, 400, "bad_value", "Requests may not contain "
                                        "NUL characters (%00)")
        else:
            try:
                response = await call_next(request)
            except Exception as exc:
                # Answered here by the app's own handler (it logs), not by the server-error
                # middleware outside this one, so the 500 page carries these headers too.
                response = await request.app.exception_handlers[Exception](request, exc)
        # setdefault: a route may send a stricter policy (downloads are sandboxed).
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("Content-Security-Policy", content_security_policy(settings))
        response.headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors, old browsers
        if settings.site_url.startswith("https://"):
            # Only over https: HSTS on a plain-http site would lock its users out of it.
            response.headers.setdefault("Strict-Transport-Security",
                                        "max-age=31536000; includeSubDomains")
        return response

    from citydata.ops.metrics import HttpMetrics
    from citydata.ops.requests import RequestContextMiddleware
    from citydata.ops.response_cache import ResponseCacheMiddleware
    from citydata.ops.routes import ops_router

    app.state.metrics = HttpMetrics(platform)
    # Outside the security headers (a kept response has them) and inside the request context.
    app.add_middleware(ResponseCacheMiddleware, platform=platform, metrics=app.state.metrics)
    # Added last, so outermost: every response, even one refused above or answered from the
    # cache, gets a request id, an access log line and its metrics. /healthz, /readyz and
    # /metrics come before pages.
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    app.include_router(ops_router(platform, app.state.metrics))

    # pluggy answers last-registered first; mount in registration order (core APIs before
    # pages) so specific API paths such as /dataset/{name}.ttl win over page patterns.
    for plugin_routes in reversed(platform.plugins.hook.citydata_routes(platform=platform)):
        for router in plugin_routes or []:
            app.include_router(router)

    static = Path(__file__).parent / "web" / "static"
    if static.is_dir():
        app.mount("/static", StaticFiles(directory=static), name="static")
    # Front-end packages installed from npm at setup (never committed, never from a CDN).
    leaflet = Path(settings.node_modules).resolve() / "leaflet" / "dist"
    if leaflet.is_dir():
        app.mount("/vendor/leaflet", StaticFiles(directory=leaflet), name="leaflet")
    _install_error_handlers(app)
    from citydata.api.openapi import install_openapi

    install_openapi(app)  # validation errors documented as the 400s they are, not 422
    return app


def content_security_policy(settings: Settings) -> str:
    """Everything from the site only; images also from a configured basemap tile service.

    No inline scripts, styles or event handlers anywhere (``tests/security`` scans the
    templates), so an injected ``<script>`` or ``onerror=`` never runs; no framing
    (clickjacking); forms post only back to the site; no plugins; no ``<base>`` rewriting."""
    tiles = urlsplit(settings.basemap_tiles)
    tile_origin = f" {tiles.scheme}://{tiles.netloc}" if settings.basemap_tiles else ""
    return (f"default-src 'self'; img-src 'self' data:{tile_origin}; style-src 'self'; "
            "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
            "frame-ancestors 'none'")


def _family(request: Request) -> str:
    path = request.url.path
    if path.startswith(("/api/3/", "/api/action/")):
        return "ckan"
    if path == "/ogc" or path.startswith("/ogc/"):
        wants_html = request.query_params.get("f") == "html" or (
            "f" not in request.query_params and "text/html" in request.headers.get("accept", "")
            and "json" not in request.headers.get("accept", ""))
        return "html" if wants_html else "ogc"
    if (
        path.startswith("/api/")
        or path.startswith("/catalog.")
        or path.endswith((".ttl", ".jsonld", ".rdf"))
    ):
        return "json"
    if "/download" in path and "text/html" not in request.headers.get("accept", ""):
        return "json"  # file downloads by scripts and API clients, not browsers
    return "html"


def render(
    request: Request, status: int, code: str, message: str, fields: dict | None = None
) -> Response:
    """An error in the request's API family's shape (CKAN envelope, OGC exception, native JSON,
    HTML page)."""
    from citydata.api.ckan import ckan_error_response
    from citydata.web.errors import html_error_response

    family = _family(request)
    if family == "ckan":
        return ckan_error_response(status, code, message, fields or {})
    if family == "ogc":
        from citydata.api.ogc.errors import ogc_error_response

        return ogc_error_response(status, message)
    if family == "json":
        return JSONResponse(
            {"error": {"code": code, "message": message, "fields": fields or {}}},
            status_code=status,
        )
    return html_error_response(request, status, message)


def _install_error_handlers(app: FastAPI) -> None:

    @app.exception_handler(CitydataError)
    async def _domain(request: Request, exc: CitydataError) -> Response:
        response = render(request, exc.status, exc.code, exc.message, exc.fields)
        if retry_after := getattr(exc, "retry_after", None):  # a throttle's 429
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        fields: dict[str, list[str]] = {}
        for err in exc.errors():
            loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "body", "path")]
            fields.setdefault(".".join(loc) or "request", []).append(str(err.get("msg")))
        message = "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items())
        return render(request, 400, "validation_error", message, fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail) if exc.detail else "Error"
        if exc.status_code == 404:
            message = "Not found"
        return render(request, exc.status_code, "http_error", message)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        # A value the database refuses (a NUL character, an out-of-range number) that got past
        # validation: the transaction rolled back, nothing was written.
        log.warning("database refused a value on %s %s: %s", request.method, request.url.path,
                    str(exc.orig).splitlines()[0] if exc.orig else exc)
        return render(request, 400, "bad_value", "The request contains a value that cannot be "
                      "stored or searched for, such as a NUL character")

    @app.exception_handler(StaleDataError)
    async def _concurrent(request: Request, exc: StaleDataError) -> Response:
        return render(request, 409, "conflict", "Someone else changed this at the same time; "
                      "reload it and try again")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(
            request,
            500,
            "internal_error",
            "Something went wrong on our side; the error has been logged",
        )
