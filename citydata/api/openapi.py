"""What ``/api/openapi.json`` says about responses: each API family's error body as a model,
:func:`errors` and :func:`ok` to declare them on a route, and :func:`install_openapi`, which
tidies FastAPI's generated document so it describes what the application really answers.

The error bodies mirror ``citydata.app.render`` (native JSON), ``ckan_error_response`` (the
CKAN envelope) and ``ogc_error_response`` (the OGC exception). Response models here are for the
documentation only: routes keep serialising their own dicts, so declaring a model never changes
a body.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

Family = Literal["native", "ckan", "ogc"]


# ---------------------------------------------------------------- error bodies


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable machine code", examples=["validation_error"])
    message: str = Field(description="What went wrong, safe to show a user")
    fields: dict[str, list[str]] = Field(
        description="Messages per parameter or body field ({} when none)",
        examples=[{"_size": ["1 to 1000"]}])


class ErrorResponse(BaseModel):
    """The native API's error shape (``/api/v1/*``, DCAT feeds, downloads)."""

    error: ErrorDetail


class CkanErrorDetail(BaseModel):
    # A Validation Error also carries each field's messages as keys of its own.
    model_config = ConfigDict(extra="allow")

    type_: str = Field(alias="__type", examples=["Validation Error"],
                       description="Validation Error, Search Query Error, Authorization "
                       "Error, Not Found Error or Bad request")
    message: str


class CkanError(BaseModel):
    """The CKAN Action API's error envelope."""

    help: str
    success: Literal[False]
    error: CkanErrorDetail


class OgcException(BaseModel):
    """The OGC API exception shape (``/ogc``)."""

    code: str = Field(description="An OGC exception code, e.g. InvalidParameterValue")
    type: str = Field(description="The exception's URI")
    description: str
    status: int


_MODELS: dict[str, type[BaseModel]] = {"native": ErrorResponse, "ckan": CkanError,
                                       "ogc": OgcException}
_MEANING = {
    400: "Bad input: a parameter or body value that cannot be used",
    401: "No valid sign-in or API token where one is needed",
    403: "Not allowed for this caller (or this token's scope)",
    404: "Not found, or not visible to this caller",
    409: "Conflicts with the current state (or, in CKAN, a Validation Error)",
    413: "The body is larger than the limit",
    415: "The body's media type is not accepted",
    429: "Too many requests: wait for the Retry-After header's seconds",
    503: "Another node this depends on cannot be reached now",
}


def errors(*statuses: int, family: Family = "native") -> dict[int | str, dict[str, Any]]:
    """A ``responses=`` dict declaring the family's error body for each status."""
    model = _MODELS[family]
    return {status: {"model": model, "description": _MEANING.get(status, "An error")}
            for status in statuses}


def ok(model: type[BaseModel] | None = None, *, status: int = 200,
       media: dict[str, dict[str, Any]] | None = None, description: str = "Success",
       ) -> dict[int | str, dict[str, Any]]:
    """A ``responses=`` entry for a success: a model (JSON) and/or other media types with their
    schemas (``{"text/csv": {"schema": {"type": "string"}}}``)."""
    out: dict[str, Any] = {"description": description}
    if model is not None:
        out["model"] = model
    if media:
        out["content"] = media
    return {status: out}


#: Schemas of streamed bodies, for :func:`ok`'s ``media``.
BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
TEXT: dict[str, Any] = {"type": "string"}
FEATURE_COLLECTION: dict[str, Any] = {
    "type": "object", "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "items": {
            "type": "object", "required": ["type", "geometry", "properties"],
            "properties": {"type": {"const": "Feature"},
                           "geometry": {"type": ["object", "null"]},
                           "properties": {"type": ["object", "null"]}}}}}}


# ---------------------------------------------------------------- shared success shapes


class Listing(BaseModel):
    """A list of things with how many there are."""

    count: int = Field(ge=0)
    results: list[dict[str, Any]]


# ---------------------------------------------------------------- the document


def _family_of(path: str) -> Family:
    if path.startswith(("/api/3/", "/api/action/")):
        return "ckan"
    if path == "/ogc" or path.startswith("/ogc/"):
        return "ogc"
    return "native"


def _schema(family: Family) -> dict[str, Any]:
    """The family's error model as a component (its nested models inlined)."""
    schema = _MODELS[family].model_json_schema(by_alias=True,
                                               ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    for prop in schema.get("properties", {}).values():
        ref = prop.pop("$ref", None)
        if ref:
            prop.update(defs[ref.rsplit("/", 1)[1]])
    return schema


def _tidy(doc: dict[str, Any]) -> dict[str, Any]:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    seen_ids: dict[str, int] = {}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            # Request validation errors are answered 400 in the family's shape, never 422.
            default = responses.get("422", {})
            if "HTTPValidationError" in str(default):
                del responses["422"]
                if "400" not in responses:
                    name = _MODELS[_family_of(path)].__name__
                    responses["400"] = {"description": _MEANING[400], "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}
            family = _family_of(path)
            name = _MODELS[family].__name__
            # A client sending bad tokens (or assertions) over and over is refused for a
            # while on every route that reads one: document it once, here.
            responses.setdefault("429", {"description": _MEANING[429], "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}})
            schemas.setdefault(name, _schema(family))
            for response in responses.values():
                for media in (response.get("content") or {}).values():
                    schema = media.get("schema")
                    # A documented model merged into FastAPI's "any object" for dict routes:
                    # the model alone says it.
                    if isinstance(schema, dict) and "$ref" in schema:
                        for key in ("type", "additionalProperties", "title"):
                            schema.pop(key, None)
            op_id = op.get("operationId")
            if op_id:  # one function serving GET and POST gets one id per method
                seen_ids[op_id] = seen_ids.get(op_id, 0) + 1
                if seen_ids[op_id] > 1:
                    op["operationId"] = f"{op_id}_{method}"
    if "HTTPValidationError" not in str(doc.get("paths")):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return doc


def install_openapi(app: FastAPI) -> None:
    """Serve the tidied document at ``app.openapi_url`` (built once, on first request)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _tidy(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes, openapi_version=app.openapi_version, tags=app.openapi_tags,
                servers=app.servers))
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
