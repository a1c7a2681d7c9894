"""Publishing from the browser: a new dataset with its first file, and new files or versions.

Uploads stream to the file store's staging area through the same parser the CKAN API uses
(:func:`citydata.api.uploads.parse_multipart`), which enforces the size limit while reading.
Each form submission is one transaction: if adding the file fails, the dataset is not created.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from citydata.access.policy import ACCESS_LEVELS, has_role
from citydata.access.vocabulary import DISCOVERY, REASONS
from citydata.api.deps import get_platform, request_ctx
from citydata.api.uploads import ParsedForm, parse_multipart
from citydata.catalog import datasets, organizations, resources
from citydata.catalog.context import Ctx
from citydata.catalog.licenses import DEFAULT_LICENSE
from citydata.catalog.publish import slugify
from citydata.catalog.themes import FREQUENCIES, THEMES
from citydata.errors import CitydataError, Forbidden, NotAuthenticated
from citydata.storage.files import StagedFile
from citydata.web import labels
from citydata.web.csrf import FIELD, check_csrf
from citydata.web.forms import login_redirect, see_other, signed_in
from citydata.web.render import actor_context, add_notice, render_page
from citydata.web.routes_data import standard_options

router = APIRouter(include_in_schema=False)

#: Form fields in page order: the error summary lists problems in this order.
DATASET_FIELDS = ["owner_org", "title", "name", "notes", "license_id", "access_level",
                  "restriction_reason", "restriction_note", "discovery", "tag_string", "themes",
                  "frequency", "conforms_to", "file"]
#: Catalog field names that the form shows under another name.
FIELD_ALIASES = {"tags": "tag_string"}
FRIENDLY = {"That URL is already in use.":
            "A dataset with this short name already exists: choose another short name"}


def publisher_choices(ctx: Ctx) -> list[tuple[str, str]]:
    """Organisations where the actor may publish (editor or admin), as (name, title)."""
    orgs = organizations.list_organizations(ctx.session, ctx.actor, all_fields=True)
    return sorted(((o["name"], o["title"]) for o in orgs
                   if has_role(ctx.actor, o["id"], "editor")), key=lambda p: p[1].lower())


def _form_errors(exc: CitydataError, known: list[str]) -> dict[str, str]:
    """Catalog field errors → one plain message per form field; others go to the summary."""
    out: dict[str, str] = {}
    for field, messages in exc.fields.items():
        key = FIELD_ALIASES.get(field, field)
        key = key if key in known else "form"
        out.setdefault(key, " ".join(FRIENDLY.get(m, m) for m in messages))
    if not out:
        out["form"] = FRIENDLY.get(exc.message, exc.message)
    return out


def _upload(form: ParsedForm, errors: dict[str, str]) -> StagedFile | None:
    staged = form.files.get("file")
    # With no file chosen, browsers still send the part: no filename and no bytes.
    if staged is None or (not staged.filename and staged.size == 0):
        errors["file"] = "Choose a file to upload"
        return None
    if staged.size == 0:
        errors["file"] = "The selected file is empty"
        return None
    return staged


def _dataset_form(request: Request, ctx: Ctx, values: dict[str, Any],
                  errors: dict[str, str]) -> HTMLResponse:
    publishers = publisher_choices(ctx)
    if not publishers:
        raise Forbidden("You need the editor or admin role in a publishing organisation "
                        "to publish data. Ask your organisation's admin to add you.")
    options = publishers if len(publishers) == 1 else [("", "Choose a publisher"), *publishers]
    return render_page(request, "dataset_new.html", {
        **actor_context(ctx),
        "errors": errors,
        "values": values,
        "order": DATASET_FIELDS,
        "publishers": options,
        "licences": labels.license_options(),
        "access_levels": [(lvl, labels.access_label(lvl), labels.access_explanation(lvl))
                          for lvl in ACCESS_LEVELS],
        "reasons": [("", "Not stated"), *REASONS.items()],
        "discovery_options": [("", "The default for the access level"), *DISCOVERY.items()],
        "themes": list(THEMES.items()),
        "frequencies": [("", "Not stated"), *FREQUENCIES.items()],
        "standards": standard_options(request),
        "max_upload": ctx.settings.max_upload_bytes,
    }, status_code=400 if errors else 200)


async def _parse(request: Request) -> ParsedForm:
    """Stream the multipart body to staging; sign-in is checked first, CSRF once parsed."""
    if not signed_in(request):
        # A cross-site POST carries no session cookie (SameSite=Lax), so this also stops
        # another site from making us stage a large upload.
        raise NotAuthenticated("Sign in to publish data")
    platform = get_platform(request)
    form = await parse_multipart(request, platform.files, platform.settings.max_upload_bytes)
    try:
        check_csrf(request, form.fields.get(FIELD))
    except Exception:
        form.discard(platform.files)
        raise
    return form


@router.get("/dataset/new", response_class=HTMLResponse)
def new_dataset_form(request: Request) -> Response:
    """The publish form."""
    if not signed_in(request):
        return login_redirect(request)
    with request_ctx(request) as ctx:
        return _dataset_form(request, ctx, {"license_id": DEFAULT_LICENSE,
                                            "access_level": "open"}, {})


@router.post("/dataset/new", response_class=HTMLResponse)
async def new_dataset(request: Request) -> Response:
    """Create the dataset and upload its first file in one transaction."""
    form = await _parse(request)
    platform = get_platform(request)
    f = form.fields
    values: dict[str, Any] = {k: f.get(k, "").strip() for k in DATASET_FIELDS if k != "file"}
    values["themes"] = [code for code in THEMES if f.get(f"theme_{code}")]
    errors: dict[str, str] = {}
    if not values["owner_org"]:
        errors["owner_org"] = "Choose a publisher"
    if not values["title"]:
        errors["title"] = "Enter a title"
    staged = _upload(form, errors)
    name = values["name"] or slugify(values["title"])

    def work() -> HTMLResponse | str:
        if errors:
            with request_ctx(request) as ctx:
                return _dataset_form(request, ctx, values, errors)
        try:
            with request_ctx(request) as ctx:
                ds = datasets.create_dataset(ctx, {
                    "owner_org": values["owner_org"], "title": values["title"], "name": name,
                    "notes": values["notes"], "license_id": values["license_id"],
                    "access_level": values["access_level"], "tag_string": values["tag_string"],
                    "restriction_reason": values["restriction_reason"],
                    "restriction_note": values["restriction_note"],
                    "discovery": values["discovery"],
                    "themes": values["themes"], "frequency": values["frequency"],
                    "conforms_to": values["conforms_to"],
                })
                resources.create_resource(ctx, {"package_id": ds["id"]}, staged)
                return str(ds["name"])
        except (Forbidden, NotAuthenticated):
            raise
        except CitydataError as exc:  # the transaction was rolled back; show the form again
            with request_ctx(request) as ctx:
                return _dataset_form(request, ctx, values, _form_errors(exc, DATASET_FIELDS))

    try:
        result = await run_in_threadpool(work)
    finally:
        form.discard(platform.files)  # a no-op for the committed file
    if isinstance(result, str):
        add_notice(request, "Your dataset has been published.")
        return see_other(f"/dataset/{result}")
    return result


def _editable(ctx: Ctx, name: str) -> dict[str, Any]:
    ds = datasets.show_dataset(ctx, name)
    if not has_role(ctx.actor, ds["owner_org"], "editor"):
        raise Forbidden("You need the editor or admin role in this dataset's organisation")
    return ds


def _resource_form(request: Request, ctx: Ctx, ds: dict[str, Any], values: dict[str, Any],
                   errors: dict[str, str]) -> HTMLResponse:
    return render_page(request, "resource_new.html", {
        **actor_context(ctx),
        "ds": ds,
        "uploads": [r for r in ds["resources"] if r["url_type"] == "upload"],
        "values": values,
        "errors": errors,
        "max_upload": ctx.settings.max_upload_bytes,
    }, status_code=400 if errors else 200)


@router.get("/dataset/{name}/resource/new", response_class=HTMLResponse)
def new_resource_form(request: Request, name: str, resource: str = "") -> Response:
    """Form to add a file, or a new version of an existing one (``?resource=<id>``)."""
    if not signed_in(request):
        return login_redirect(request)
    with request_ctx(request) as ctx:
        ds = _editable(ctx, name)
        return _resource_form(request, ctx, ds, {"target": resource or "new"}, {})


@router.post("/dataset/{name}/resource/new", response_class=HTMLResponse)
async def new_resource(request: Request, name: str) -> Response:
    """Upload a new file or a new version; earlier versions stay downloadable."""
    form = await _parse(request)
    platform = get_platform(request)
    values = {k: form.fields.get(k, "").strip() for k in ("target", "name", "description")}
    errors: dict[str, str] = {}
    staged = _upload(form, errors)

    def work() -> HTMLResponse | str:
        with request_ctx(request) as ctx:
            ds = _editable(ctx, name)
            ids = {r["id"] for r in ds["resources"] if r["url_type"] == "upload"}
            target = values["target"] or "new"
            if target != "new" and target not in ids:
                errors["target"] = "Choose what you are uploading"
            if errors:
                return _resource_form(request, ctx, ds, values, errors)
        try:
            with request_ctx(request) as ctx:
                data = {k: values[k] for k in ("name", "description") if values[k]}
                if target == "new":
                    res = resources.create_resource(ctx, {**data, "package_id": ds["id"]},
                                                    staged)
                else:
                    res = resources.update_resource(ctx, {**data, "id": target}, staged)
                return f"Version {res['version']} of “{res['name']}” has been uploaded."
        except (Forbidden, NotAuthenticated):
            raise
        except CitydataError as exc:
            with request_ctx(request) as ctx:
                return _resource_form(request, ctx, ds, values,
                                      _form_errors(exc, ["target", "name", "description", "file"]))

    try:
        result = await run_in_threadpool(work)
    finally:
        form.discard(platform.files)
    if isinstance(result, str):
        add_notice(request, result)
        return see_other(f"/dataset/{name}")
    return result
