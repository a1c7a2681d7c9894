"""Ranked full-text search with facets (SQLite FTS5 or PostgreSQL full-text).

The index is one row per active dataset in ``dataset_search``; SQLite mirrors it into the FTS5
table ``dataset_fts`` and PostgreSQL keeps a weighted ``tsv`` column with a GIN index. Every
query, count and facet is restricted by :func:`citydata.access.policy.visible_datasets_clause`,
so facet counts never reveal a dataset the caller may not see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Float, String, column, delete, func, literal_column, select, text
from sqlalchemy.orm import Session

from citydata.access.policy import visible_datasets_clause
from citydata.errors import QueryError as ValidationError
from citydata.storage.models import (
    Dataset,
    DatasetBorough,
    DatasetSearch,
    DatasetTag,
    DatasetTheme,
    Organization,
    Resource,
)

#: Facet name -> (label). "groups" is accepted as CKAN's name for themes.
FACETS = {
    "organization": "Publisher",
    "tags": "Tags",
    "res_format": "Formats",
    "license_id": "Licences",
    "theme": "Themes",
    "borough": "Boroughs",
    "access_level": "Access",
}
ALIASES = {
    "groups": "theme",
    "themes": "theme",
    "boroughs": "borough",
    "license": "license_id",
    "format": "res_format",
    "publisher": "organization",
}
SORTS = {
    "score": None,
    "metadata_modified": Dataset.modified,
    "metadata_created": Dataset.created,
    "name": Dataset.name,
    "title_string": Dataset.title,
    "title": Dataset.title,
}
WORD = re.compile(r"\w+", re.UNICODE)


# -- indexing --------------------------------------------------------------------------------
def index_dataset(session: Session, ds: Dataset) -> None:
    """Write (or rewrite) the dataset's search document; inactive datasets are removed."""
    unindex_dataset(session, ds.id)
    if ds.state != "active":
        return
    doc = {
        "dataset_id": ds.id,
        "name": ds.name.replace("-", " ").replace("_", " "),
        "title": ds.title,
        "notes": ds.notes,
        "tags": " ".join(t.tag for t in ds.tags),
        "organization": f"{ds.organization.title} {ds.organization.name}"
        if ds.organization
        else "",
    }
    session.add(DatasetSearch(**doc))
    session.flush()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            text(
                "INSERT INTO dataset_fts(dataset_id, name, title, notes, tags, organization) "
                "VALUES (:dataset_id, :name, :title, :notes, :tags, :organization)"
            ),
            doc,
        )
    else:
        session.execute(
            text(
                "UPDATE dataset_search SET tsv = "
                "setweight(to_tsvector('english', coalesce(title,'')), 'A') || "
                "setweight(to_tsvector('english', coalesce(name,'')), 'A') || "
                "setweight(to_tsvector('english', coalesce(tags,'')), 'B') || "
                "setweight(to_tsvector('english', coalesce(organization,'')), 'C') || "
                "setweight(to_tsvector('english', coalesce(notes,'')), 'D') "
                "WHERE dataset_id = :id"
            ),
            {"id": ds.id},
        )


def unindex_dataset(session: Session, dataset_id: str) -> None:
    session.execute(delete(DatasetSearch).where(DatasetSearch.dataset_id == dataset_id))
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DELETE FROM dataset_fts WHERE dataset_id = :id"), {"id": dataset_id})


# -- query parsing ---------------------------------------------------------------------------
@dataclass
class Filter:
    field: str
    values: list[str]
    negate: bool = False
    range: tuple[str, str] | None = None


@dataclass
class Query:
    text: str = ""
    filters: list[Filter] = field(default_factory=list)


FQ_TERM = re.compile(
    r"(?P<neg>[-+!]?)(?P<field>[A-Za-z_.]+):"
    r'(?:"(?P<quoted>[^"]*)"|\((?P<group>[^)]*)\)|\[(?P<range>[^\]]*)\]|(?P<bare>[^\s"()]+))'
)


def parse_filters(fq: str) -> tuple[list[Filter], str]:
    """Parse the Solr-style ``field:value`` terms CKAN clients send; return leftover text."""
    filters: list[Filter] = []

    def take(m: re.Match) -> str:
        name = m["field"]
        name = ALIASES.get(name, name)
        neg = m["neg"] in ("-", "!")
        if m["range"] is not None:
            parts = re.split(r"\s+TO\s+", m["range"].strip())
            if len(parts) != 2:
                raise ValidationError(f"Bad range in filter: {m.group(0)}")
            filters.append(Filter(name, [], neg, (parts[0], parts[1])))
        elif m["group"] is not None:
            vals = [v.strip().strip('"') for v in re.split(r"\s+OR\s+", m["group"]) if v.strip()]
            filters.append(Filter(name, vals, neg))
        else:
            filters.append(
                Filter(name, [m["quoted"] if m["quoted"] is not None else m["bare"]], neg)
            )
        return " "

    rest = FQ_TERM.sub(take, fq or "")
    return filters, rest.strip()


FILTERABLE = {
    "organization",
    "owner_org",
    "tags",
    "res_format",
    "license_id",
    "theme",
    "borough",
    "access_level",
    "name",
    "id",
    "private",
    "metadata_modified",
    "metadata_created",
    "capacity",
    "state",
    "dataset_type",
    "type",
    "site_id",
}


def _filter_clause(f: Filter) -> Any:
    if f.field not in FILTERABLE:
        raise ValidationError(
            f"Cannot filter on {f.field!r}; filterable fields: {', '.join(sorted(FILTERABLE))}",
            fields={"fq": [f"Unknown field {f.field}"]},
        )
    v = f.values
    cond: Any
    if f.field == "organization":
        cond = Dataset.owner_org.in_(select(Organization.id).where(Organization.name.in_(v)))
    elif f.field == "owner_org":
        cond = Dataset.owner_org.in_(v)
    elif f.field == "tags":
        cond = Dataset.id.in_(select(DatasetTag.dataset_id).where(DatasetTag.tag.in_(v)))
    elif f.field == "theme":
        cond = Dataset.id.in_(select(DatasetTheme.dataset_id).where(DatasetTheme.theme.in_(v)))
    elif f.field == "borough":
        cond = Dataset.id.in_(
            select(DatasetBorough.dataset_id).where(DatasetBorough.gss_code.in_(v))
        )
    elif f.field == "res_format":
        cond = Dataset.id.in_(
            select(Resource.dataset_id).where(
                func.lower(Resource.format).in_([x.lower() for x in v])
            )
        )
    elif f.field == "license_id":
        cond = Dataset.license_id.in_(v)
    elif f.field == "access_level":
        cond = Dataset.access_level.in_(v)
    elif f.field == "name":
        cond = Dataset.name.in_(v)
    elif f.field == "id":
        cond = Dataset.id.in_(v)
    elif f.field == "private":
        want = [x.lower() == "true" for x in v]
        cond = (
            (Dataset.access_level == "private")
            if any(want)
            else (Dataset.access_level != "private")
        )
    elif f.field in ("metadata_modified", "metadata_created"):
        col = Dataset.modified if f.field == "metadata_modified" else Dataset.created
        if f.range is None:
            raise ValidationError(f"{f.field} takes a range: {f.field}:[FROM TO TO]")
        lo, hi = (_parse_when(x) for x in f.range)
        cond = col.is_not(None)
        if lo is not None:
            cond = cond & (col >= lo)
        if hi is not None:
            cond = cond & (col <= hi)
    else:  # fields CKAN clients send that have one value here (capacity:public, type:dataset)
        return None
    return ~cond if f.negate else cond


def _parse_when(value: str) -> datetime | None:
    value = value.strip()
    if value == "*":
        return None
    value = re.sub(r"NOW.*", "", value) or value
    try:
        return datetime.fromisoformat(value.replace("Z", "")).replace(tzinfo=None)
    except ValueError:
        raise ValidationError(f"Bad date in range filter: {value!r}") from None


def _fts_match(session: Session, q: str) -> tuple[Any, Any] | None:
    """(subquery of dataset_id, rank) for the text query, or None when there is no text."""
    words = WORD.findall(q)
    if not words:
        return None
    if session.get_bind().dialect.name == "sqlite":
        expr = " AND ".join(f'"{w}"' for w in words)
        sub = (
            text(
                "SELECT dataset_id, bm25(dataset_fts, 0.0, 5.0, 10.0, 1.0, 4.0, 2.0) AS rank "
                "FROM dataset_fts WHERE dataset_fts MATCH :expr"
            )
            .bindparams(expr=expr)
            .columns(column("dataset_id", String), column("rank", Float))
            .subquery("fts")
        )
        # bm25 is lower-is-better; negate so "score desc" means best first on both backends.
        return sub, -sub.c.rank
    tsq = func.websearch_to_tsquery("english", q)
    tsv: Any = literal_column("dataset_search.tsv")
    sub = (
        select(
            DatasetSearch.dataset_id.label("dataset_id"),
            func.ts_rank_cd(tsv, tsq).label("rank"),
        )
        .where(tsv.op("@@")(tsq))
        .subquery("fts")
    )
    return sub, sub.c.rank


def _sort_clauses(sort: str | None, has_text: bool, score: Any) -> list:
    sort = (sort or "").strip() or (
        "score desc, metadata_modified desc" if has_text else "metadata_modified desc"
    )
    out: list = []
    for part in sort.split(","):
        bits = part.split()
        if not bits:
            continue
        name = bits[0]
        direction = bits[1].lower() if len(bits) > 1 else "asc"
        if name not in SORTS or direction not in ("asc", "desc") or len(bits) > 2:
            raise ValidationError(
                f"Cannot sort by {part.strip()!r}; use one of {', '.join(SORTS)} with asc or desc",
                fields={"sort": ["Invalid sort"]},
            )
        col = SORTS[name]
        if col is None:
            if score is None:
                continue
            col = score
        out.append(col.desc() if direction == "desc" else col.asc())
    out.append(Dataset.id.asc())  # stable paging
    return out


def search_datasets(
    session: Session,
    actor: Any,
    *,
    q: str = "",
    fq: str = "",
    sort: str | None = None,
    rows: int = 10,
    start: int = 0,
    facet_fields: list[str] | None = None,
    facet_limit: int = 50,
    include_private: bool = False,
) -> dict:
    """Run a search; returns ids in order, count and facets (the caller builds the dicts)."""
    q = q or ""
    if q.strip() in ("*:*", "*"):
        q = ""
    q_filters, q_text = parse_filters(q)
    fq_filters, _ = parse_filters(fq or "")
    conds = [visible_datasets_clause(actor, include_private=include_private)]
    for f in [*q_filters, *fq_filters]:
        clause = _filter_clause(f)
        if clause is not None:
            conds.append(clause)
    match = _fts_match(session, q_text)
    base = select(Dataset.id).where(*conds)
    score = None
    if match is not None:
        sub, score = match
        base = base.join(sub, sub.c.dataset_id == Dataset.id)
    count = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    page = (
        base.add_columns(*([score.label("score")] if score is not None else []))
        .order_by(*_sort_clauses(sort, match is not None, score))
        .offset(start)
        .limit(rows)
    )
    ids = [row[0] for row in session.execute(page)]
    facets = {}
    matched = base.subquery("matched")
    for name in facet_fields or []:
        key = ALIASES.get(name, name)
        if key not in FACETS:
            raise ValidationError(
                f"Unknown facet field {name!r}; facets: {', '.join(FACETS)}",
                fields={"facet.field": [f"Unknown facet {name}"]},
            )
        facets[name] = _facet(session, key, matched, facet_limit)
    return {"ids": ids, "count": count, "facets": facets}


def _facet(session: Session, key: str, matched: Any, limit: int) -> list[tuple[str, int]]:
    ids = select(matched.c.id)
    if key == "organization":
        value = Organization.name
        stmt = (
            select(value, func.count())
            .select_from(Dataset)
            .join(Organization, Organization.id == Dataset.owner_org)
            .where(Dataset.id.in_(ids))
        )
        n = func.count()
    elif key in ("license_id", "access_level"):
        value = getattr(Dataset, key)
        n = func.count()
        stmt = select(value, n).where(Dataset.id.in_(ids))
    else:
        owner, value = {
            "tags": (DatasetTag.dataset_id, DatasetTag.tag),
            "theme": (DatasetTheme.dataset_id, DatasetTheme.theme),
            "borough": (DatasetBorough.dataset_id, DatasetBorough.gss_code),
            "res_format": (Resource.dataset_id, Resource.format),
        }[key]
        n = func.count(func.distinct(owner))
        stmt = select(value, n).where(owner.in_(ids), value != "")
    stmt = stmt.group_by(value).order_by(n.desc(), value).limit(limit)
    return [(str(v), int(c)) for v, c in session.execute(stmt)]


def tag_names(session: Session, actor: Any, *, query: str | None = None) -> list[str]:
    """Tags used by public datasets (CKAN tag_list), optionally containing ``query``."""
    stmt = (
        select(DatasetTag.tag)
        .distinct()
        .join(Dataset, Dataset.id == DatasetTag.dataset_id)
        .where(visible_datasets_clause(actor, include_private=False))
        .order_by(DatasetTag.tag)
    )
    if query:
        stmt = stmt.where(DatasetTag.tag.ilike(f"%{query}%"))
    return list(session.scalars(stmt))
