"""HTML error pages (the web family's error shape)."""

from __future__ import annotations

from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

TITLES = {400: "There is a problem", 401: "Sign in to continue", 403: "You cannot see this page",
          404: "Page not found", 409: "There is a problem", 413: "The file is too large",
          500: "Sorry, there is a problem with the service"}


def html_error_response(request: Request, status: int, message: str) -> Response:
    title = TITLES.get(status, "There is a problem")
    try:
        from citydata.web.csrf import CsrfError
        from citydata.web.render import render_page

        expired = message == CsrfError().message
        title = "Your form expired" if expired else title
        return render_page(request, "error.html",
                           {"title": title, "message": message, "status": status,
                            "expired": expired},
                           status_code=status)
    except Exception:  # the error page must never fail; fall back to plain HTML
        body = (f"<!doctype html><html lang='en'><title>{escape(title)}</title>"
                f"<h1>{escape(title)}</h1><p>{escape(message)}</p></html>")
        return HTMLResponse(body, status_code=status)
