"""The single policy decision point for catalog reads and writes.

Issue #2 scope: access levels exist and the 'private never shows to outsiders' rule is
enforced everywhere (search, counts, facets, lists, DCAT, downloads). Purpose-bound agreements
for ``shared`` / ``restricted`` data plug in here later, without a second path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_

from citydata.access.actors import Actor
from citydata.errors import Forbidden, NotAuthenticated, NotFound
from citydata.storage.models import Dataset

ACCESS_LEVELS = ("open", "registered", "shared", "restricted", "private")
ROLE_RANK = {"member": 1, "editor": 2, "admin": 3}


def has_role(actor: Actor, org_id: str, minimum: str) -> bool:
    if actor.sysadmin:
        return True
    role = actor.role_in(org_id)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


def visible_datasets_clause(actor: Actor, *, include_private: bool = True) -> ColumnElement[bool]:
    """SQL condition selecting the active datasets whose *metadata* the actor may see."""
    active = Dataset.state == "active"
    if actor.sysadmin:
        return active if include_private else active & (Dataset.access_level != "private")
    public = Dataset.access_level != "private"
    if not include_private or not actor.roles:
        return active & public
    mine = Dataset.owner_org.in_(list(actor.roles))
    return active & or_(public, mine)


def visible_mask(actor: Actor, index: Any, *, include_private: bool = True) -> Any:
    """The same rule as :func:`visible_datasets_clause`, over the in-memory facet index
    (numpy arrays from :mod:`citydata.catalog.facet_index`). Tests check both agree."""
    import numpy as np

    mask = index.alive.copy()
    if actor.sysadmin:
        if not include_private:
            mask &= index.single["access_level"] != _code(index, "access_level", "private")
        return mask
    public = index.single["access_level"] != _code(index, "access_level", "private")
    if include_private and actor.roles:
        codes = [
            index.vocab["org_id"].codes[o] for o in actor.roles if o in index.vocab["org_id"].codes
        ]
        mine = np.isin(index.org_id, codes) if codes else np.zeros_like(mask)
        return mask & (public | mine)
    return mask & public


def _code(index: Any, field: str, value: str) -> int:
    return index.vocab[field].codes.get(value, -1)


def can_see_dataset(actor: Actor, dataset: Dataset) -> bool:
    if dataset.state != "active":
        return actor.sysadmin or has_role(actor, dataset.owner_org, "editor")
    if dataset.access_level != "private":
        return True
    return has_role(actor, dataset.owner_org, "member")


def require_visible(actor: Actor, dataset: Dataset | None) -> Dataset:
    """Return the dataset or raise NotFound — outsiders cannot even learn a private one exists."""
    if dataset is None or not can_see_dataset(actor, dataset):
        raise NotFound("Dataset not found")
    return dataset


def can_read_data(actor: Actor, dataset: Dataset) -> bool:
    """May the actor download or query the dataset's rows?"""
    if actor.sysadmin or has_role(actor, dataset.owner_org, "member"):
        return True
    level = dataset.access_level
    if level == "open":
        return True
    if level == "registered":
        return actor.is_authenticated
    # shared / restricted need an agreement (governance issue); private is members only.
    return False


def require_data_access(actor: Actor, dataset: Dataset) -> None:
    require_visible(actor, dataset)
    if can_read_data(actor, dataset):
        return
    if dataset.access_level == "registered":
        raise NotAuthenticated("Sign in to download this dataset's data")
    raise Forbidden(
        f"This dataset's data is {dataset.access_level}: it is available only under a data "
        "sharing agreement with its publisher"
    )


def require_editor(actor: Actor, org_id: str) -> None:
    if not actor.is_authenticated:
        raise NotAuthenticated("Sign in (or send an API token) to change the catalog")
    if not has_role(actor, org_id, "editor"):
        raise Forbidden("You need the editor or admin role in this organisation")


def require_org_admin(actor: Actor, org_id: str) -> None:
    if not actor.is_authenticated:
        raise NotAuthenticated("Sign in (or send an API token) to manage organisations")
    if not has_role(actor, org_id, "admin"):
        raise Forbidden("You need the admin role in this organisation")


def require_sysadmin(actor: Actor) -> None:
    if not actor.is_authenticated:
        raise NotAuthenticated("Sign in (or send an API token) first")
    if not actor.sysadmin:
        raise Forbidden("Only a sysadmin may do this")


__all__ = [
    "ACCESS_LEVELS",
    "can_read_data",
    "can_see_dataset",
    "has_role",
    "require_data_access",
    "require_editor",
    "require_org_admin",
    "require_sysadmin",
    "require_visible",
    "visible_datasets_clause",
]
