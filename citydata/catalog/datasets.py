"""Datasets: create, update, patch, delete, show and list, in CKAN's package shapes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, selectinload

from citydata.access import audit
from citydata.access.policy import (
    ACCESS_LEVELS,
    can_see_clause,
    require_editor,
    require_visible,
    visible_datasets_clause,
)
from citydata.access.vocabulary import DISCOVERY, REASONS
from citydata.catalog import quality, search
from citydata.catalog.context import Ctx
from citydata.catalog.licenses import DEFAULT_LICENSE, get_license
from citydata.catalog.names import (
    Errors,
    check_date,
    check_email,
    check_gss,
    check_name,
    check_tag,
    check_text,
    check_url,
)
from citydata.catalog.organizations import get_organization, organization_dict
from citydata.catalog.themes import FREQUENCIES, THEMES
from citydata.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationError
from citydata.standards.validate import check_conforms_to
from citydata.storage.models import (
    Dataset,
    DatasetBorough,
    DatasetTag,
    DatasetTheme,
    Resource,
    new_id,
    utcnow,
)

TEXT_FIELDS = {
    "title": 500,
    "notes": 100_000,
    "version": 100,
    "author": 200,
    "maintainer": 200,
    "contact_name": 200,
}
EMAIL_FIELDS = ("author_email", "maintainer_email", "contact_email")


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="microseconds") if dt else None


def load_options() -> list:
    return [
        selectinload(Dataset.tags),
        selectinload(Dataset.themes),
        selectinload(Dataset.boroughs),
        selectinload(Dataset.resources).selectinload(Resource.versions),
    ]


def find_dataset(session: Session, name_or_id: object) -> Dataset | None:
    if not isinstance(name_or_id, str) or not name_or_id:
        return None
    return session.scalar(
        select(Dataset)
        .options(*load_options())
        .where((Dataset.name == name_or_id) | (Dataset.id == name_or_id))
    )


def get_visible(ctx: Ctx, name_or_id: object) -> Dataset:
    """The dataset, or NotFound — in one query either way: a dataset the actor may not see
    is filtered out by the same statement that would have found it."""
    if not isinstance(name_or_id, str) or not name_or_id:
        raise NotFound("Dataset not found")
    found = ctx.session.scalar(
        select(Dataset)
        .options(*load_options())
        .where((Dataset.name == name_or_id) | (Dataset.id == name_or_id))
        .where(can_see_clause(ctx.actor))
    )
    return require_visible(ctx.actor, found)


# -- output ----------------------------------------------------------------------------------
def access_summary(ctx: Ctx, ds: Dataset, view: str) -> dict[str, Any]:
    """What the reader may do with the data and why, for pages and API clients."""
    access = ctx.access
    via = "none"
    if ds.access_level == "open":
        via = "open"
    elif access.is_member(ds):
        via = "member"
    elif access.could_read(ds):
        via = "registered" if ds.access_level == "registered" else "agreement"
    governed = ds.access_level in ("shared", "restricted")
    return {
        "level": ds.access_level,
        "via": via,
        "reason": ds.restriction_reason or None,
        "reason_label": REASONS.get(ds.restriction_reason) if ds.restriction_reason else None,
        "note": ds.restriction_note,
        "discovery": view,
        "agreements": [g.summary() for g in access.grants_for(ds)] if governed else [],
        "purpose_required": governed and via == "agreement",
        "request_access": governed and via == "none" and ctx.actor.user_id is not None,
        "request_access_url": f"/dataset/{ds.name}/request-access" if governed else None,
    }


def dataset_dict(ctx: Ctx, ds: Dataset) -> dict[str, Any]:
    """The CKAN ``package_show`` shape, plus citydata's own fields, cut to what the reader
    may see (:meth:`citydata.access.policy.Access.metadata_view`)."""
    from citydata.catalog.resources import resource_dict, shape_resource

    view = ctx.access.metadata_view(ds)
    lic = get_license(ds.license_id) or {}
    bbox: list[float] | None = None
    if (
        ds.bbox_west is not None
        and ds.bbox_south is not None
        and ds.bbox_east is not None
        and ds.bbox_north is not None
    ):
        bbox = [ds.bbox_west, ds.bbox_south, ds.bbox_east, ds.bbox_north]
    return {
        "id": ds.id,
        "name": ds.name,
        "title": ds.title,
        "notes": ds.notes,
        "type": "dataset",
        "state": ds.state,
        "private": ds.access_level == "private",
        "access_level": ds.access_level,
        "restriction_reason": ds.restriction_reason,
        "restriction_note": ds.restriction_note,
        "discovery": ds.discovery,
        "data_access": ctx.access.could_read(ds),
        "access": access_summary(ctx, ds, view),
        "owner_org": ds.owner_org,
        "organization": organization_dict(ctx.session, ds.organization, ctx.actor, counts=False),
        "license_id": ds.license_id,
        "license_title": lic.get("title", ds.license_id),
        "license_url": lic.get("url", ""),
        "isopen": bool(lic.get("is_open", False)),
        "url": ds.url,
        "version": ds.version,
        "author": ds.author,
        "author_email": ds.author_email,
        "maintainer": ds.maintainer,
        "maintainer_email": ds.maintainer_email,
        "contact_name": ds.contact_name,
        "contact_email": ds.contact_email,
        "frequency": ds.frequency,
        "temporal_start": ds.temporal_start,
        "temporal_end": ds.temporal_end,
        "bbox": bbox,
        "spatial": _bbox_geojson(bbox) if bbox else "",
        "boroughs": [b.gss_code for b in ds.boroughs],
        "themes": [t.theme for t in ds.themes],
        "groups": [],
        "tags": [
            {"name": t.tag, "display_name": t.tag, "state": "active", "vocabulary_id": None}
            for t in ds.tags
        ],
        "num_tags": len(ds.tags),
        "extras": json.loads(ds.extras or "[]"),
        "conforms_to": ds.conforms_to,
        "quality_score": ds.quality_score,
        "quality": json.loads(ds.quality or "{}"),
        "resources": [] if view == "existence" else [
            shape_resource(resource_dict(ctx, ds, r), view,
                           ctx.access.visible_columns(ds, r.id))
            for r in ds.resources if r.current_version >= 0],
        "num_resources": 0 if view == "existence" else len(ds.resources),
        "creator_user_id": ds.creator_user_id,
        "metadata_created": iso(ds.created),
        "metadata_modified": iso(ds.modified),
    }


def _bbox_geojson(b: list[float]) -> str:
    w, s, e, n = b
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


# -- input -----------------------------------------------------------------------------------
def _tags_from(data: dict, errors: Errors) -> list[str] | None:
    if "tags" in data:
        raw = data["tags"] or []
        if not isinstance(raw, list):
            errors.add("tags", 'Must be a list of {"name": ...} objects')
            return []
        names = []
        for item in raw:
            name = item.get("name") if isinstance(item, dict) else item
            tag = check_tag(errors, "tags", name)
            if tag:
                names.append(tag)
        return sorted(set(names))
    if "tag_string" in data:
        raw_s = data["tag_string"] or ""
        if not isinstance(raw_s, str):
            errors.add("tag_string", "Must be a comma-separated string")
            return []
        return sorted({check_tag(errors, "tag_string", t) for t in raw_s.split(",") if t.strip()})
    return None


def _bbox_from(data: dict, errors: Errors) -> tuple[bool, list[float] | None]:
    if "bbox" in data:
        b = data["bbox"]
        if b in (None, "", []):
            return True, None
        try:
            vals = [float(x) for x in b]
            if len(vals) != 4:
                raise ValueError
        except (TypeError, ValueError):
            errors.add("bbox", "Must be [west, south, east, north] in degrees")
            return True, None
        w, s, e, n = vals
        if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
            errors.add(
                "bbox", "Must satisfy -180 <= west <= east <= 180, -90 <= south <= north <= 90"
            )
            return True, None
        return True, vals
    if "spatial" in data:
        raw = data["spatial"]
        if not raw:
            return True, None
        try:
            from shapely.geometry import shape

            geom = shape(json.loads(raw) if isinstance(raw, str) else raw)
            return True, list(geom.bounds)
        except Exception:
            errors.add("spatial", "Must be a GeoJSON geometry")
            return True, None
    return False, None


def _apply(ctx: Ctx, ds: Dataset, data: dict, errors: Errors, *, creating: bool) -> dict:
    """Validate ``data`` and copy it onto ``ds``; absent keys keep their current value."""
    derived: dict[str, Any] = {}
    if creating or "name" in data:
        ds.name = check_name(errors, "name", data.get("name"))
    for field, limit in TEXT_FIELDS.items():
        if field in data:
            setattr(ds, field, check_text(errors, field, data[field], limit))
    for field in EMAIL_FIELDS:
        if field in data:
            setattr(ds, field, check_email(errors, field, data[field]))
    if "url" in data:
        ds.url = check_url(errors, "url", data["url"])
    if "license_id" in data:
        lic = data["license_id"] or DEFAULT_LICENSE
        if get_license(lic) is None:
            errors.add("license_id", f"Unknown licence {lic!r}; see license_list")
        ds.license_id = lic
    if "access_level" in data and data["access_level"] not in (None, ""):
        if data["access_level"] not in ACCESS_LEVELS:
            errors.add("access_level", f"Must be one of: {', '.join(ACCESS_LEVELS)}")
        else:
            ds.access_level = data["access_level"]
    elif "private" in data:
        private = data["private"]
        if isinstance(private, str):
            private = private.lower() in ("true", "1", "yes", "on")
        if private:
            ds.access_level = "private"
        elif ds.access_level == "private":
            ds.access_level = "open"
    for field, vocabulary in (("restriction_reason", REASONS), ("discovery", DISCOVERY)):
        if field in data:
            value = data[field] or ""
            if value and value not in vocabulary:
                errors.add(field, f"Must be one of: {', '.join(vocabulary)}")
            else:
                setattr(ds, field, value)
    if "restriction_note" in data:
        ds.restriction_note = check_text(errors, "restriction_note", data["restriction_note"],
                                         2000)
    if ds.access_level == "restricted" and not ds.restriction_reason:
        errors.add("restriction_reason", "Restricted data needs a reason why it is not open: "
                                         + ", ".join(REASONS))
    if "conforms_to" in data:
        try:
            ds.conforms_to = check_conforms_to(data["conforms_to"] or "")
        except ValidationError as exc:
            for field, messages in exc.fields.items():
                for message in messages:
                    errors.add(field, message)
    if "frequency" in data:
        freq = (data["frequency"] or "").lower()
        if freq and freq not in FREQUENCIES:
            errors.add("frequency", f"Must be one of: {', '.join(FREQUENCIES)}")
        ds.frequency = freq
    for field in ("temporal_start", "temporal_end"):
        if field in data:
            setattr(ds, field, check_date(errors, field, data[field]))
    if ds.temporal_start and ds.temporal_end and ds.temporal_start > ds.temporal_end:
        errors.add("temporal_end", "Must not be before temporal_start")
    given, bbox = _bbox_from(data, errors)
    if given:
        ds.bbox_west, ds.bbox_south, ds.bbox_east, ds.bbox_north = bbox or (None,) * 4
    if "extras" in data:
        extras = data["extras"] or []
        if not isinstance(extras, list) or not all(
            isinstance(e, dict) and isinstance(e.get("key"), str) for e in extras
        ):
            errors.add("extras", 'Must be a list of {"key": ..., "value": ...} objects')
        else:
            ds.extras = json.dumps([{"key": e["key"], "value": e.get("value", "")} for e in extras])
    tags = _tags_from(data, errors)
    if tags is not None:
        derived["tags"] = tags
    if "themes" in data:
        themes = data["themes"] or []
        if not isinstance(themes, list) or any(t not in THEMES for t in themes):
            errors.add("themes", f"Must be a list of theme codes: {', '.join(THEMES)}")
        else:
            derived["themes"] = sorted(set(themes))
    if "boroughs" in data:
        raw = data["boroughs"] or []
        if not isinstance(raw, list):
            errors.add("boroughs", "Must be a list of GSS codes")
        else:
            derived["boroughs"] = sorted({check_gss(errors, "boroughs", b) for b in raw} - {""})
    if creating or "owner_org" in data:
        owner = data.get("owner_org")
        if not owner:
            errors.add("owner_org", "A dataset must belong to an organization")
        else:
            try:
                org = ctx.memo(("organization", owner),
                               lambda: get_organization(ctx.session, owner))
                ds.owner_org = org.id
                ds.organization = org
            except NotFound:
                errors.add("owner_org", f"Organization {owner!r} does not exist")
    return derived


def _set_children(ds: Dataset, derived: dict) -> None:
    if "tags" in derived:
        ds.tags = [DatasetTag(tag=t) for t in derived["tags"]]
    if "themes" in derived:
        ds.themes = [DatasetTheme(theme=t) for t in derived["themes"]]
    if "boroughs" in derived:
        ds.boroughs = [DatasetBorough(gss_code=g) for g in derived["boroughs"]]


def prepare_dataset(ctx: Ctx, data: dict) -> Dataset:
    """A validated new dataset (with its linked resources), not yet added to the session;
    the name is checked for form, not for uniqueness (the caller does that)."""
    if not ctx.actor.is_authenticated:  # as CKAN: anonymous callers learn nothing more
        raise NotAuthenticated("Sign in (or send an API token) to change the catalog")
    if not isinstance(data, dict):
        raise Conflict("Expected a JSON object")
    errors = Errors()
    ds = Dataset(id=new_id(), access_level="open", license_id=DEFAULT_LICENSE, extras="[]",
                 state="active")
    with ctx.session.no_autoflush:
        derived = _apply(ctx, ds, data, errors, creating=True)
    if not ds.title:
        ds.title = ds.name
    errors.raise_if_any("Cannot create the dataset")
    require_editor(ctx.actor, ds.owner_org)
    ds.creator_user_id = ctx.actor.user_id
    ds.created = ds.modified = utcnow()
    _set_children(ds, derived)
    if isinstance(data.get("resources"), list):
        from citydata.catalog.resources import create_linked_resources

        create_linked_resources(ctx, ds, data["resources"])
    return ds


def _name_taken(ctx: Ctx, name: str) -> Conflict:
    return Conflict(f"That URL is already in use: {name}",
                    fields={"name": ["That URL is already in use."]})


def create_dataset(ctx: Ctx, data: dict) -> dict:
    ds = prepare_dataset(ctx, data)
    if ctx.session.scalar(select(Dataset.id).where(Dataset.name == ds.name)):
        raise _name_taken(ctx, ds.name)
    ctx.session.add(ds)
    ctx.session.flush()
    search.index_dataset(ctx.session, ds)
    ctx.session.flush()
    ctx.session.refresh(ds)
    return dataset_dict(ctx, ds)


def column_values(obj: Any, **extra: Any) -> dict[str, Any]:
    """The column values set on a new ORM object (unset ones get their defaults on insert)."""
    state = sa_inspect(obj)
    values = {a.key: state.dict[a.key] for a in state.mapper.column_attrs
              if a.key in state.dict}
    values.update(extra)
    return values


def create_datasets(ctx: Ctx, prepared: list[Dataset]) -> None:
    """Write many prepared datasets (with their tags, themes, boroughs and linked resources)
    in a few multi-row INSERTs and index them together: bulk imports, where the unit of work's
    bookkeeping per object would cost more than the writing. All or nothing: a clash of names
    fails the lot before anything is written. The objects stay outside the session."""
    names = [ds.name for ds in prepared]
    if len(set(names)) != len(names):
        raise _name_taken(ctx, next(n for n in names if names.count(n) > 1))
    taken = ctx.session.scalar(select(Dataset.name).where(Dataset.name.in_(names)).limit(1))
    if taken:
        raise _name_taken(ctx, taken)
    if not prepared:
        return
    for ds in prepared:  # assessed before the INSERT, so no UPDATE follows it
        quality.update_quality(ds)
    session = ctx.session
    session.flush()
    session.execute(insert(Dataset), [column_values(ds) for ds in prepared])
    for model, relation in ((DatasetTag, "tags"), (DatasetTheme, "themes"),
                            (DatasetBorough, "boroughs"), (Resource, "resources")):
        rows = [column_values(child, dataset_id=ds.id)
                for ds in prepared for child in getattr(ds, relation)]
        if rows:
            session.execute(insert(model), rows)
    search.index_datasets(session, prepared, new=True)


def update_dataset(ctx: Ctx, name_or_id: object, data: dict, *, partial: bool = False) -> dict:
    """package_update (``partial=False``: unspecified optional fields are cleared) or patch."""
    ds = get_visible(ctx, name_or_id)
    require_editor(ctx.actor, ds.owner_org)
    if not isinstance(data, dict):
        raise Conflict("Expected a JSON object")
    if not partial:
        # CKAN's update replaces the whole package: start from the defaults for what is absent.
        defaults: dict[str, Any] = {
            f: ""
            for f in (
                *TEXT_FIELDS,
                *EMAIL_FIELDS,
                "url",
                "frequency",
                "temporal_start",
                "temporal_end",
            )
        }
        defaults.update(
            {
                "tags": [],
                "themes": [],
                "boroughs": [],
                "extras": [],
                "bbox": None,
                "license_id": DEFAULT_LICENSE,
            }
        )
        data = {**defaults, **data}
        data.setdefault("owner_org", ds.owner_org)
        data.setdefault("name", ds.name)
    old_name, old_org = ds.name, ds.owner_org
    old_access = (ds.access_level, ds.restriction_reason, ds.discovery)
    errors = Errors()
    derived = _apply(ctx, ds, data, errors, creating=False)
    errors.raise_if_any("Cannot update the dataset")
    new_access = (ds.access_level, ds.restriction_reason, ds.discovery)
    if new_access != old_access:
        _access_changed(ctx, ds, old_access)
    if ds.owner_org != old_org:  # moving a dataset needs rights in both organisations
        require_editor(ctx.actor, ds.owner_org)
    if ds.name != old_name and ctx.session.scalar(
        select(Dataset.id).where(Dataset.name == ds.name, Dataset.id != ds.id)
    ):
        raise Conflict(
            "That URL is already in use.", fields={"name": ["That URL is already in use."]}
        )
    if not ds.title:
        ds.title = ds.name
    _set_children(ds, derived)
    if isinstance(data.get("resources"), list):
        from citydata.catalog.resources import sync_resources

        sync_resources(ctx, ds, data["resources"])
    ds.modified = utcnow()
    ctx.session.flush()
    search.index_dataset(ctx.session, ds)
    ctx.session.flush()
    ctx.session.refresh(ds)
    return dataset_dict(ctx, ds)


def _access_changed(ctx: Ctx, ds: Dataset, old: tuple[str, str, str]) -> None:
    """Who may use the data is the publisher's decision: only its own editors change it (a
    sysadmin must become a member first, which is itself audited)."""
    actor = ctx.actor
    if not actor.is_system and actor.role_in(ds.owner_org) not in ("editor", "admin"):
        raise Forbidden("Only the publisher's editors may change who can use its data")
    audit.stage(ctx.session, actor, "dataset.access_changed", org_id=ds.owner_org,
                dataset_id=ds.id, detail={"dataset": ds.name, "from": list(old),
                                          "to": [ds.access_level, ds.restriction_reason,
                                                 ds.discovery]})


def delete_dataset(ctx: Ctx, name_or_id: object) -> None:
    """Soft delete, as CKAN does: the dataset disappears from search and lists."""
    ds = get_visible(ctx, name_or_id)
    require_editor(ctx.actor, ds.owner_org)
    ds.state = "deleted"
    ds.modified = utcnow()
    search.unindex_dataset(ctx.session, ds.id)
    ctx.session.flush()


def show_dataset(ctx: Ctx, name_or_id: object) -> dict:
    return dataset_dict(ctx, get_visible(ctx, name_or_id))


def list_names(ctx: Ctx, *, limit: int | None = None, offset: int = 0) -> list[str]:
    """package_list: names of public active datasets (private ones never listed)."""
    q = (
        select(Dataset.name)
        .where(visible_datasets_clause(ctx.actor, include_private=False))
        .order_by(Dataset.name)
        .offset(offset)
    )
    if limit is not None:
        q = q.limit(limit)
    return list(ctx.session.scalars(q))


def dataset_dicts(ctx: Ctx, ids: list[str]) -> list[dict]:
    """Dataset dicts for ids a search returned, in the order given (one query per relation).

    The ids come from a policy-filtered search, so no further visibility check happens here."""
    if not ids:
        return []
    rows = ctx.session.scalars(select(Dataset).options(*load_options()).where(Dataset.id.in_(ids)))
    by_id = {d.id: d for d in rows}
    return [dataset_dict(ctx, by_id[i]) for i in ids if i in by_id]


def list_visible_datasets(
    ctx: Ctx, *, offset: int = 0, limit: int = 100, modified_since: datetime | None = None
) -> tuple[list[dict], int]:
    """Visible datasets, newest change first, with a total count (for DCAT paging)."""
    cond = visible_datasets_clause(ctx.actor, include_private=True)
    if modified_since is not None:
        cond = cond & (Dataset.modified >= modified_since)
    total = ctx.session.scalar(select(func.count()).select_from(Dataset).where(cond)) or 0
    rows = ctx.session.scalars(
        select(Dataset)
        .options(*load_options())
        .where(cond)
        .order_by(Dataset.modified.desc(), Dataset.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [dataset_dict(ctx, d) for d in rows], total
