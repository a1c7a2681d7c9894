"""Publish a local file in one call: find or create the dataset, then add or re-version a resource.

Used by ``citydata publish`` and the demo loader.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from citydata.catalog import datasets, resources
from citydata.catalog.context import Ctx
from citydata.errors import ValidationError


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:100] or "dataset"


def publish_file(
    ctx: Ctx,
    path: Path,
    *,
    org: str,
    title: str,
    dataset_name: str | None = None,
    resource_name: str | None = None,
    metadata: dict | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict, dict]:
    """Upload ``path`` into a dataset (created if missing); re-publishing adds a new version."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"No such file: {path}", fields={"file": ["Not found"]})
    name = dataset_name or slugify(title)
    existing = datasets.find_dataset(ctx.session, name)
    if existing is None:
        ds = datasets.create_dataset(
            ctx, {**(metadata or {}), "name": name, "title": title, "owner_org": org}
        )
    else:
        ds = datasets.show_dataset(ctx, name)

    def chunks():
        with open(path, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                if progress:
                    progress(len(chunk))
                yield chunk

    staged = ctx.files.stage(chunks(), max_bytes=ctx.settings.max_upload_bytes, filename=path.name)
    try:
        rname = resource_name or path.name
        match = next((r for r in ds["resources"] if r["name"] == rname), None)
        if match:
            res = resources.update_resource(ctx, {"id": match["id"]}, staged)
        else:
            res = resources.create_resource(ctx, {"package_id": ds["id"], "name": rname}, staged)
    finally:
        ctx.files.discard(staged)  # no-op once committed (the staged path was moved)
    return datasets.show_dataset(ctx, name), res
