"""The OGC API error shape: ``{code, type, description}`` with the HTTP status.

OGC API – Features leaves the body open; this follows the OGC exception codes clients such as
pygeoapi's and GDAL's know, plus ``status``. One function makes every /ogc error.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

BASE = "http://www.opengis.net/def/exceptions/ogcapi-features-1/1.0/"
CODES = {
    400: ("InvalidParameterValue", "invalid-parameter-value"),
    401: ("NotAuthenticated", "not-authenticated"),
    403: ("Forbidden", "forbidden"),
    404: ("NotFound", "not-found"),
    406: ("NotAcceptable", "not-acceptable"),
    409: ("Conflict", "conflict"),
    500: ("ServerError", "server-error"),
}


def ogc_error_response(status: int, message: str) -> JSONResponse:
    code, slug = CODES.get(status, ("InvalidParameterValue" if status < 500 else "ServerError",
                                    "invalid-parameter-value" if status < 500 else "server-error"))
    return JSONResponse({"code": code, "type": BASE + slug, "description": message,
                         "status": status}, status_code=status)
