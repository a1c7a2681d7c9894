"""The single policy decision point for catalog reads and writes.

Two questions, answered only here:

* **What may the actor see?** Metadata: :func:`visible_datasets_clause` / :func:`visible_mask`
  (search, counts, facets, lists, feeds) and :meth:`Access.metadata_view` (how much of a
  shared or restricted dataset an outsider sees: that it exists, its schema, or a synthetic
  sample). Private datasets are invisible to everyone but their publisher's members (and
  sysadmins, who administer the catalog).
* **May the actor use the data, how, and why?** :meth:`Access.decide` — for every read of
  rows or files (downloads, previews, datastore_search and SQL, the rows API, exports,
  aggregates, diffs, profiles; later OGC items, feeds and federation). Shared and restricted
  data is read only under an active data sharing agreement the actor is party to, for the
  purpose it names; the :class:`Decision` carries the agreement's conditions (allowed columns,
  aggregate-only with a minimum cell count) that the query layer then enforces, and every read
  of non-open data is staged for the hash-chained audit log in the same transaction.

Sysadmins administer the platform, not other people's data: they see all metadata, but read
shared, restricted and private data only as a member of the publisher or under an agreement,
like anyone else (and a membership change is itself audited).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from citydata.access import audit
from citydata.access.actors import Actor
from citydata.access.vocabulary import DEFAULT_DISCOVERY, PURPOSES
from citydata.errors import CitydataError, Forbidden, NotAuthenticated, NotFound
from citydata.storage.models import Dataset, utcnow
from citydata.storage.models_access import Agreement, AgreementDataset, AgreementRecipient

ACCESS_LEVELS = ("open", "registered", "shared", "restricted", "private")
ROLE_RANK = {"member": 1, "editor": 2, "admin": 3}
#: Data actions an agreement can permit, and the actions each one also allows.
IMPLIED = {
    "read": {"read", "aggregate"},
    "query": {"query", "read", "aggregate"},
    "download": {"download"},
    "aggregate": {"aggregate"},
}


def has_role(actor: Actor, org_id: str, minimum: str) -> bool:
    if actor.sysadmin:
        return True
    role = actor.role_in(org_id)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


# -- metadata visibility ---------------------------------------------------------------------
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


def can_see_clause(actor: Actor) -> ColumnElement[bool]:
    """:func:`can_see_dataset` as SQL, so a lookup answers "not found" for a dataset the actor
    may not see in the very same query (and time) as for one that does not exist."""
    if actor.sysadmin:
        return Dataset.id.is_not(None)
    editing = [o for o, r in actor.roles.items() if ROLE_RANK[r] >= ROLE_RANK["editor"]]
    member = Dataset.owner_org.in_(list(actor.roles))
    active = (Dataset.state == "active") & ((Dataset.access_level != "private") | member)
    return active | ((Dataset.state != "active") & Dataset.owner_org.in_(editing))


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


# -- agreements as the policy sees them ------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    """One dataset (or resource) an active agreement lets the actor use, with its conditions."""

    agreement_id: str
    reference: str
    purpose: str
    actions: frozenset[str]
    columns: frozenset[str] | None
    min_cell_count: int
    end_at: datetime | None
    dataset_id: str
    resource_id: str | None

    @property
    def aggregate_only(self) -> bool:
        return self.actions == frozenset({"aggregate"})

    def permits(self, action: str) -> bool:
        return any(action in IMPLIED.get(a, {a}) for a in self.actions)

    def summary(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "purpose": self.purpose,
            "actions": sorted(self.actions),
            "columns": sorted(self.columns) if self.columns is not None else None,
            "min_cell_count": self.min_cell_count if self.aggregate_only else None,
            "end": self.end_at.isoformat() if self.end_at else None,
            "resource_id": self.resource_id,
        }


def in_force(status: str, start: datetime | None, end: datetime | None, now: datetime) -> bool:
    """Is an agreement with this decided status and these dates usable at ``now``?"""
    return (
        status in ("approved", "active")
        and (start is None or start <= now)
        and (end is None or end > now)
    )


def party_clause(actor: Actor) -> ColumnElement[bool]:
    """Recipient rows naming the actor: as a user (alone or for an org they belong to), or an
    organisation they are a member of."""
    orgs = list(actor.roles)
    return or_(
        and_(
            AgreementRecipient.user_id == actor.user_id,
            or_(AgreementRecipient.org_id.is_(None), AgreementRecipient.org_id.in_(orgs)),
        ),
        and_(AgreementRecipient.user_id.is_(None), AgreementRecipient.org_id.in_(orgs)),
    )


def _grant(ag: Agreement, dataset_id: str, resource_id: str | None) -> Grant:
    columns = json.loads(ag.allowed_columns) if ag.allowed_columns else None
    return Grant(
        agreement_id=ag.id,
        reference=ag.reference,
        purpose=ag.purpose,
        actions=frozenset(json.loads(ag.actions or "[]")),
        columns=frozenset(columns) if columns is not None else None,
        min_cell_count=int(ag.min_cell_count or 0),
        end_at=ag.end_at,
        dataset_id=dataset_id,
        resource_id=resource_id,
    )


# -- decisions -------------------------------------------------------------------------------
@dataclass
class Decision:
    """A yes to one data action, with the conditions the query layer must enforce."""

    dataset_id: str
    dataset_name: str
    org_id: str
    level: str
    action: str
    #: open | member | registered | agreement | system
    via: str
    resource_id: str | None = None
    grant: Grant | None = None
    purpose: str = ""
    #: What callers add for the audit entry before the transaction commits (rows, bytes, ...).
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> frozenset[str] | None:
        return self.grant.columns if self.grant else None

    @property
    def aggregate_only(self) -> bool:
        return bool(self.grant and self.grant.aggregate_only)

    @property
    def min_cell_count(self) -> int:
        return self.grant.min_cell_count if self.grant and self.grant.aggregate_only else 0

    @property
    def audited(self) -> bool:
        return self.level != "open"

    def note(self, **values: Any) -> None:
        """Add facts to this read's audit entry (it is written when the transaction commits)."""
        for key, value in values.items():
            if isinstance(value, int) and isinstance(self.detail.get(key), int):
                self.detail[key] += value  # the same read repeated in one request adds up
            else:
                self.detail[key] = value


class Access:
    """The policy decision point for one actor within one transaction.

    The actor's active agreements are read once, on first need, so a search page of fifty
    datasets costs one query, not fifty.
    """

    def __init__(self, session: Session, actor: Actor, now: datetime | None = None) -> None:
        self.session = session
        self.actor = actor
        self.now = now or utcnow()
        self._grants: list[Grant] | None = None

    # metadata ---------------------------------------------------------------------------
    def can_see(self, ds: Dataset) -> bool:
        return can_see_dataset(self.actor, ds)

    def grants(self) -> list[Grant]:
        """Every (dataset, resource) the actor's agreements in force cover."""
        if self._grants is None:
            self._grants = [] if self.actor.user_id is None else self._load_grants()
        return self._grants

    def _load_grants(self) -> list[Grant]:
        now = self.now
        rows = self.session.execute(
            select(Agreement, AgreementDataset.dataset_id, AgreementDataset.resource_id)
            .join(AgreementDataset, AgreementDataset.agreement_id == Agreement.id)
            .where(
                Agreement.status.in_(("approved", "active")),
                or_(Agreement.start_at.is_(None), Agreement.start_at <= now),
                or_(Agreement.end_at.is_(None), Agreement.end_at > now),
                Agreement.id.in_(
                    select(AgreementRecipient.agreement_id).where(party_clause(self.actor))
                ),
            )
            .order_by(Agreement.reference)
        ).all()
        return [_grant(ag, ds_id, res_id) for ag, ds_id, res_id in rows]

    def grants_for(self, ds: Dataset, resource_id: str | None = None) -> list[Grant]:
        return [
            g
            for g in self.grants()
            if g.dataset_id == ds.id
            and (resource_id is None or g.resource_id in (None, resource_id))
        ]

    def is_member(self, ds: Dataset) -> bool:
        return self.actor.role_in(ds.owner_org) is not None

    def could_read(self, ds: Dataset) -> bool:
        """Could the actor read this dataset's data at all (under some agreement, or as a
        member)? Shown as ``data_access``; each actual read is still decided on its own."""
        level = ds.access_level
        if level == "open" or self.is_member(ds) or self.actor.is_system:
            return True
        if level == "registered":
            return self.actor.is_authenticated
        if level in ("shared", "restricted"):
            return bool(self.grants_for(ds))
        return False

    def visible_columns(self, ds: Dataset, resource_id: str | None = None) -> frozenset[str] | None:
        """Column names a recipient under agreements may see described (None: all). An
        outsider who sees the schema sees every name; a recipient sees what a grant allows."""
        if self.is_member(ds):
            return None
        grants = self.grants_for(ds, resource_id)
        if not grants or any(g.columns is None for g in grants):
            return None
        return frozenset().union(*(g.columns or frozenset() for g in grants))

    def metadata_view(self, ds: Dataset) -> str:
        """How much of the dataset the actor sees: ``full`` (with ingest reports, which quote
        cell values), ``schema`` (files and columns), ``sample`` (schema plus a synthetic
        sample) or ``existence`` (no files at all). A recipient whose agreements allow only
        some columns, or only aggregates, sees the schema (cut to those columns), not the
        reports."""
        level = ds.access_level
        if level == "open" or self.is_member(ds) or self.actor.is_system:
            return "full"
        if level == "registered":
            return "full" if self.actor.is_authenticated else "schema"
        if level not in ("shared", "restricted"):
            return "schema"
        grants = self.grants_for(ds)
        if any(g.columns is None and not g.aggregate_only for g in grants):
            return "full"
        if grants:
            return "schema"
        return ds.discovery or DEFAULT_DISCOVERY[level]

    # data -------------------------------------------------------------------------------
    def decide(
        self, ds: Dataset, action: str, resource_id: str | None = None, *, whole_file: bool = False
    ) -> Decision:
        """Allow ``action`` (read | query | download | aggregate) on the dataset's data, or raise.

        ``whole_file`` marks a download of the original file, which cannot honour a column
        restriction. An allowed read of non-open data is staged for the audit log."""
        outcome = self._evaluate(ds, action, resource_id, whole_file=whole_file)
        if isinstance(outcome, CitydataError):
            raise outcome
        if outcome.audited:
            audit.stage_read(self.session, self.actor, outcome)
        return outcome

    def allows(self, ds: Dataset, action: str, resource_id: str | None = None) -> bool:
        """Whether :meth:`decide` would say yes, without staging an audit entry."""
        return not isinstance(self._evaluate(ds, action, resource_id), CitydataError)

    def refusal(self, ds: Dataset, action: str, resource_id: str | None = None) -> str:
        """Why :meth:`decide` would refuse ("" when it would allow)."""
        outcome = self._evaluate(ds, action, resource_id)
        return outcome.message if isinstance(outcome, CitydataError) else ""

    def _evaluate(
        self, ds: Dataset, action: str, resource_id: str | None, *, whole_file: bool = False
    ) -> Decision | CitydataError:
        if not self.can_see(ds):
            return NotFound("Dataset not found")
        level = ds.access_level

        def yes(via: str, grant: Grant | None = None) -> Decision:
            purpose = grant.purpose if grant else (self.actor.purpose or "")
            return Decision(
                ds.id, ds.name, ds.owner_org, level, action, via, resource_id, grant, purpose
            )

        if level == "open":
            return yes("open")
        if self.is_member(ds):
            return yes("member")
        if self.actor.is_system:
            return yes("system")
        if level == "registered":
            if self.actor.is_authenticated:
                return yes("registered")
            return NotAuthenticated("Sign in (or send an API token) to use this dataset's data")
        if level == "private":
            return Forbidden("This dataset is private: only members of its publisher can use it")
        if not self.actor.is_authenticated:
            return NotAuthenticated(
                f"This dataset's data is {level}: sign in, then request access under a data "
                f"sharing agreement at /dataset/{ds.name}/request-access"
            )
        chosen = self._choose_grant(ds, resource_id)
        if isinstance(chosen, CitydataError):
            return chosen
        usable = [g for g in chosen if g.permits(action)]
        if not usable:
            return self._not_permitted(chosen[0], action, resource_id or "{resource_id}")
        grant = usable[0]
        if whole_file and grant.columns is not None:
            return Forbidden(
                f"Agreement {grant.reference} allows only some columns, so the original file "
                "cannot be downloaded: export the rows you may see instead "
                f"(/api/v1/resources/{resource_id}/rows.csv)"
            )
        return yes("agreement", grant)

    def _choose_grant(self, ds: Dataset, resource_id: str | None) -> list[Grant] | CitydataError:
        """The grants this request may use, from its token, declared agreement or purpose."""
        actor = self.actor
        candidates = self.grants_for(ds, resource_id)
        purpose = actor.purpose
        if purpose and purpose not in PURPOSES:
            return Forbidden(
                f"Unknown purpose {purpose!r} in X-Citydata-Purpose; purposes are: "
                + ", ".join(PURPOSES)
            )
        named = actor.token_agreement_id or actor.agreement
        if actor.token_agreement_id and actor.agreement:
            bound = self._agreement(actor.token_agreement_id)
            other = self._agreement(actor.agreement)
            if other is None or bound is None or other.id != bound.id:
                ref = bound.reference if bound else "another agreement"
                return Forbidden(
                    f"This API token is bound to agreement {ref}; it cannot be "
                    "used under another agreement"
                )
        if named:
            ag = self._agreement(named)
            if ag is None or not self._is_party(ag):
                return Forbidden(f"You are not a party to agreement {named!r}")
            chosen = [g for g in candidates if g.agreement_id == ag.id]
            if not chosen:
                return Forbidden(self._why_unusable(ag, ds, resource_id))
            if purpose and ag.purpose != purpose:
                return Forbidden(
                    f"Agreement {ag.reference} is for the purpose {ag.purpose!r}, not {purpose!r}"
                )
            return chosen
        if purpose:
            chosen = [g for g in candidates if g.purpose == purpose]
            if chosen:
                return chosen
            if candidates:
                have = ", ".join(sorted({f"{g.purpose} ({g.reference})" for g in candidates}))
                return Forbidden(
                    f"None of your agreements in force covers this data for the purpose "
                    f"{purpose!r}; they cover it for: {have}"
                )
            return self._no_agreement(ds)
        if not candidates:
            return self._no_agreement(ds)
        have = "; ".join(f"{g.reference} for {g.purpose}" for g in candidates)
        return Forbidden(
            "State the purpose of this use: send the header X-Citydata-Purpose with a purpose "
            f"code (or X-Citydata-Agreement with a reference). Your agreements: {have}"
        )

    def _no_agreement(self, ds: Dataset) -> Forbidden:
        return Forbidden(
            f"This dataset's data is {ds.access_level}: it is available only under a data "
            f"sharing agreement with its publisher. Request access at "
            f"/dataset/{ds.name}/request-access"
        )

    def _not_permitted(self, grant: Grant, action: str, resource_id: str) -> Forbidden:
        if grant.aggregate_only:
            return Forbidden(
                f"Agreement {grant.reference} permits aggregate queries only: use "
                f"GET /api/v1/resources/{resource_id}/aggregate"
            )
        allowed = ", ".join(sorted(grant.actions))
        return Forbidden(
            f"Agreement {grant.reference} does not permit {action}; it permits: {allowed}"
        )

    def _agreement(self, ref_or_id: str) -> Agreement | None:
        return self.session.scalar(
            select(Agreement).where(
                (Agreement.reference == ref_or_id.upper()) | (Agreement.id == ref_or_id)
            )
        )

    def _is_party(self, ag: Agreement) -> bool:
        if self.actor.user_id is None:
            return False
        found = self.session.scalar(
            select(AgreementRecipient.id)
            .where(AgreementRecipient.agreement_id == ag.id, party_clause(self.actor))
            .limit(1)
        )
        return found is not None

    def _why_unusable(self, ag: Agreement, ds: Dataset, resource_id: str | None) -> str:
        if not in_force(ag.status, ag.start_at, ag.end_at, self.now):
            if ag.status in ("approved", "active") and ag.end_at and ag.end_at <= self.now:
                return f"Agreement {ag.reference} expired on {ag.end_at:%Y-%m-%d}"
            if ag.status in ("approved", "active"):
                return f"Agreement {ag.reference} starts on {ag.start_at:%Y-%m-%d}"
            return f"Agreement {ag.reference} is {ag.status}, not active"
        what = "this resource" if resource_id else "this dataset"
        return f"Agreement {ag.reference} does not cover {what}"


# -- writes ----------------------------------------------------------------------------------
def _require_scope(actor: Actor, scope: str) -> None:
    if not actor.scope_at_least(scope):
        raise Forbidden(f"This API token's scope is {actor.scope}; this needs a {scope} token")


def require_editor(actor: Actor, org_id: str) -> None:
    if not actor.is_authenticated:
        raise NotAuthenticated("Sign in (or send an API token) to change the catalog")
    _require_scope(actor, "write")
    if not has_role(actor, org_id, "editor"):
        raise Forbidden("You need the editor or admin role in this organisation")


def require_org_admin(actor: Actor, org_id: str) -> None:
    if not actor.is_authenticated:
        raise NotAuthenticated("Sign in (or send an API token) to manage organisations")
    _require_scope(actor, "admin")
    if not has_role(actor, org_id, "admin"):
        raise Forbidden("You need the admin role in this organisation")


def require_data_owner(actor: Actor, org_id: str) -> None:
    """Deciding on agreements and reading the access log: the publisher's admins only (not
    sysadmins: the data's owner decides)."""
    if not actor.is_authenticated:
        raise NotAuthenticated("Sign in (or send an API token) first")
    _require_scope(actor, "admin")
    if actor.role_in(org_id) != "admin" and not actor.is_system:
        raise Forbidden("Only the publisher's data owners (organisation admins) may do this")


def require_sysadmin(actor: Actor) -> None:
    if not actor.is_authenticated:
        raise NotAuthenticated("Sign in (or send an API token) first")
    _require_scope(actor, "admin")
    if not actor.sysadmin:
        raise Forbidden("Only a sysadmin may do this")


__all__ = [
    "ACCESS_LEVELS",
    "Access",
    "Decision",
    "Grant",
    "can_see_clause",
    "can_see_dataset",
    "has_role",
    "in_force",
    "require_data_owner",
    "require_editor",
    "require_org_admin",
    "require_sysadmin",
    "require_visible",
    "visible_datasets_clause",
]
