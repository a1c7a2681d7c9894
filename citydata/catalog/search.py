"""Ranked full-text search with facets (SQLite FTS5 or PostgreSQL full-text).

The index is one row per active dataset in ``dataset_search``; SQLite mirrors it into the FTS5
table ``dataset_fts`` and PostgreSQL a weighted vector in ``dataset_tsv`` with a GIN index. Every
query, count and facet is restricted by :func:`citydata.access.policy.visible_datasets_clause`,
so facet counts never reveal a dataset the caller may not see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from citydata.access.policy import visible_datasets_clause, visible_mask
from citydata.catalog import facet_index, quality
from citydata.errors import QueryError as ValidationError
from citydata.storage.models import (
    Dataset,
    DatasetSearch,
    DatasetTag,
    SearchChange,
    SearchState,
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
    "quality": "Quality",
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
    "quality_score": Dataset.quality_score,
}
WORD = re.compile(r"\w+", re.UNICODE)


# -- indexing --------------------------------------------------------------------------------
def next_change(session: Session, dataset_id: str) -> int:
    """Take the next change number and log which dataset it is about (same transaction).

    The UPDATE locks the single state row until commit, so numbers are handed out in commit
    order: a reader that has seen number N has seen every change up to N.
    """
    session.execute(update(SearchState).where(SearchState.id == 1).values(seq=SearchState.seq + 1))
    seq = session.scalar(select(SearchState.seq).where(SearchState.id == 1))
    if seq is None:  # a database created before the state row existed
        session.add(SearchState(id=1, seq=1))
        seq = 1
    session.add(SearchChange(seq=seq, dataset_id=dataset_id))
    session.flush()
    return int(seq)


def index_dataset(session: Session, ds: Dataset) -> None:
    """Write (or rewrite) the dataset's search document; inactive datasets are removed.

    Called after every change to a dataset or its resources, so it also refreshes what search
    derives from the dataset: its quality assessment (sortable and a facet).
    """
    index_datasets(session, [ds])


def _take_changes(session: Session, dataset_ids: list[str]) -> list[int]:
    """Change numbers for several datasets at once (as :func:`next_change`, in one UPDATE)."""
    n = len(dataset_ids)
    session.execute(update(SearchState).where(SearchState.id == 1).values(seq=SearchState.seq + n))
    last = session.scalar(select(SearchState.seq).where(SearchState.id == 1))
    if last is None:
        session.add(SearchState(id=1, seq=n))
        last = n
    seqs = list(range(int(last) - n + 1, int(last) + 1))
    session.execute(insert(SearchChange), [
        {"seq": q, "dataset_id": d} for q, d in zip(seqs, dataset_ids, strict=True)])
    return seqs


def index_datasets(session: Session, datasets: list[Dataset], *, new: bool = False) -> None:
    """:func:`index_dataset` for many datasets in a few statements (bulk imports). ``new``:
    just created, with their quality already assessed (no old documents to drop)."""
    if not datasets:
        return
    ids = [ds.id for ds in datasets]
    if not new:
        for ds in datasets:
            quality.update_quality(ds)
        _drop_documents(session, ids)
    seqs = _take_changes(session, ids)
    docs = [
        {
            "dataset_id": ds.id,
            "doc_id": seq,
            "name": ds.name.replace("-", " ").replace("_", " "),
            "title": ds.title,
            "notes": ds.notes,
            "tags": " ".join(t.tag for t in ds.tags),
            "organization": f"{ds.organization.title} {ds.organization.name}"
            if ds.organization
            else "",
        }
        for ds, seq in zip(datasets, seqs, strict=True)
        if ds.state == "active"
    ]
    if not docs:
        return
    session.execute(insert(DatasetSearch), docs)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            text(
                "INSERT INTO dataset_fts(rowid, dataset_id, name, title, notes, tags, "
                "organization) VALUES (:doc_id, :dataset_id, :name, :title, :notes, :tags, "
                ":organization)"
            ),
            docs,
        )
    else:
        session.execute(text(PG_TSV_INSERT + " WHERE dataset_id = ANY(:ids)"),
                        {"ids": [d["dataset_id"] for d in docs]})


#: The weighted vector of one search document (PostgreSQL), title and name first.
PG_TSV_INSERT = (
    "INSERT INTO dataset_tsv (doc_id, tsv) SELECT doc_id, "
    "setweight(to_tsvector('english', coalesce(title,'')), 'A') || "
    "setweight(to_tsvector('english', coalesce(name,'')), 'A') || "
    "setweight(to_tsvector('english', coalesce(tags,'')), 'B') || "
    "setweight(to_tsvector('english', coalesce(organization,'')), 'C') || "
    "setweight(to_tsvector('english', coalesce(notes,'')), 'D') FROM dataset_search"
)


def _drop_document(session: Session, dataset_id: str) -> None:
    _drop_documents(session, [dataset_id])


def _drop_documents(session: Session, dataset_ids: list[str]) -> None:
    doc_ids = [
        {"r": r} for r in session.scalars(
            select(DatasetSearch.doc_id).where(DatasetSearch.dataset_id.in_(dataset_ids)))
    ]
    if not doc_ids:
        return
    session.execute(delete(DatasetSearch).where(DatasetSearch.dataset_id.in_(dataset_ids)))
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DELETE FROM dataset_fts WHERE rowid = :r"), doc_ids)
    else:
        session.execute(text("DELETE FROM dataset_tsv WHERE doc_id = :r"), doc_ids)


def unindex_dataset(session: Session, dataset_id: str) -> None:
    _drop_document(session, dataset_id)
    next_change(session, dataset_id)


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
    "quality",
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


def _codes(state: Any, field: str, values: list[str]) -> list[int]:
    codes = state.vocab[field].codes
    return [codes[v] for v in values if v in codes]


def _edges_mask(state: Any, field: str, codes: list[int]) -> np.ndarray:
    edges = state.multi[field]
    mask = np.zeros(state.size, bool)
    if codes and len(edges.pos):
        sel = edges.alive & np.isin(edges.val, codes)
        mask[edges.pos[sel]] = True
    return mask


def _filter_mask(state: Any, f: Filter) -> np.ndarray | None:
    """The datasets a Solr-style filter selects, over the facet index."""
    if f.field not in FILTERABLE:
        raise ValidationError(
            f"Cannot filter on {f.field!r}; filterable fields: {', '.join(sorted(FILTERABLE))}",
            fields={"fq": [f"Unknown field {f.field}"]},
        )
    v = f.values
    if f.field in ("organization", "license_id", "access_level", "quality"):
        mask = np.isin(state.single[f.field], _codes(state, f.field, v))
    elif f.field == "owner_org":
        mask = np.isin(state.org_id, _codes(state, "org_id", v))
    elif f.field in ("tags", "theme", "borough"):
        mask = _edges_mask(state, f.field, _codes(state, f.field, v))
    elif f.field == "res_format":
        wanted = {x.lower() for x in v}
        vocab = state.vocab["res_format"]
        mask = _edges_mask(
            state, "res_format", [c for val, c in vocab.codes.items() if val.lower() in wanted]
        )
    elif f.field == "name":
        mask = np.isin(state.names, v)
    elif f.field == "id":
        mask = np.zeros(state.size, bool)
        mask[[state.pos_of[i] for i in v if i in state.pos_of]] = True
    elif f.field == "private":
        private = np.isin(state.single["access_level"], _codes(state, "access_level", ["private"]))
        mask = private if any(x.lower() == "true" for x in v) else ~private
    elif f.field in ("metadata_modified", "metadata_created"):
        col = state.modified if f.field == "metadata_modified" else state.created
        if f.range is None:
            raise ValidationError(f"{f.field} takes a range: {f.field}:[FROM TO TO]")
        lo, hi = (_parse_when(x) for x in f.range)
        mask = np.ones(state.size, bool)
        if lo is not None:
            mask &= col >= lo.replace(tzinfo=None).timestamp()
        if hi is not None:
            mask &= col <= hi.replace(tzinfo=None).timestamp()
    else:  # fields CKAN clients send that have one value here (capacity:public, type:dataset)
        return None
    return ~mask if f.negate else mask


def _parse_when(value: str) -> datetime | None:
    value = value.strip()
    if value == "*":
        return None
    value = re.sub(r"NOW.*", "", value) or value
    try:
        return datetime.fromisoformat(value.replace("Z", "")).replace(tzinfo=None)
    except ValueError:
        raise ValidationError(f"Bad date in range filter: {value!r}") from None


def _text_hits(session: Session, q: str) -> list[tuple[int, float]] | None:
    """(document id, score) for every document matching all words of ``q``; higher is better."""
    words = WORD.findall(q)
    if not words:
        return None
    if session.get_bind().dialect.name == "sqlite":
        expr = " AND ".join(f'"{w}"' for w in words)
        rows = session.execute(
            text(
                "SELECT rowid, bm25(dataset_fts, 0.0, 5.0, 10.0, 1.0, 4.0, 2.0) "
                "FROM dataset_fts WHERE dataset_fts MATCH :expr"
            ),
            {"expr": expr},
        )
        # bm25 is lower-is-better; negate so "score desc" means best first on both backends.
        return [(int(doc), -float(rank)) for doc, rank in rows]
    rows = session.execute(
        text(
            "SELECT doc_id, ts_rank(tsv, websearch_to_tsquery('english', :q)) "
            "FROM dataset_tsv WHERE tsv @@ websearch_to_tsquery('english', :q)"
        ),
        {"q": q},
    )
    return [(int(doc), float(rank)) for doc, rank in rows if doc is not None]


def _order(
    state: Any, matched: np.ndarray, sort: str | None, score: np.ndarray | None
) -> np.ndarray:
    sort = (sort or "").strip() or (
        "score desc, metadata_modified desc" if score is not None else "metadata_modified desc"
    )
    keys: list[np.ndarray] = []
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
        if name == "score":
            if score is None:
                continue
            key = score[matched]
        elif name == "metadata_modified":
            key = state.modified[matched]
        elif name == "metadata_created":
            key = state.created[matched]
        elif name == "quality_score":
            key = state.score[matched]
        else:  # name, title, title_string: rank the strings among the matches
            column = state.names if name == "name" else state.titles
            key = np.unique(column[matched], return_inverse=True)[1].astype(np.float64)
        keys.append(-key if direction == "desc" else key)
    keys.append(matched.astype(np.float64))  # stable paging: ties broken by position
    # np.lexsort sorts by the last key first, so give the keys in reverse priority.
    return matched[np.lexsort(keys[::-1])]


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
    bbox: tuple[float, float, float, float] | None = None,
) -> dict:
    """Run a search; returns ids in order, count and facets (the caller builds the dicts).

    ``bbox`` (west, south, east, north in degrees) keeps datasets whose spatial coverage
    intersects it; datasets with no stated coverage do not match.

    Filters, facets and sorting run over the in-memory facet index; only the text match goes
    to the database (FTS5 or tsvector), so exact facet counts stay cheap on big result sets.
    """
    facet_keys = []
    for name in facet_fields or []:
        key = ALIASES.get(name, name)
        if key not in FACETS:
            raise ValidationError(
                f"Unknown facet field {name!r}; facets: {', '.join(FACETS)}",
                fields={"facet.field": [f"Unknown facet {name}"]},
            )
        facet_keys.append((name, key))
    q = q or ""
    if q.strip() in ("*:*", "*"):
        q = ""
    q_filters, q_text = parse_filters(q)
    fq_filters, _ = parse_filters(fq or "")
    state = facet_index.for_session(session).current()
    mask = visible_mask(actor, state, include_private=include_private)
    if bbox is not None:
        w, s, e, n = bbox
        with np.errstate(invalid="ignore"):  # NaN (no coverage) compares false: no match
            mask &= ((state.bbox[:, 0] <= e) & (state.bbox[:, 2] >= w)
                     & (state.bbox[:, 1] <= n) & (state.bbox[:, 3] >= s))
    for f in [*q_filters, *fq_filters]:
        selected = _filter_mask(state, f)
        if selected is not None:
            mask &= selected
    score = None
    hits = _text_hits(session, q_text)
    if hits is not None:
        found = np.zeros(state.size, bool)
        score = np.zeros(state.size, np.float64)
        for doc, rank in hits:
            p = state.doc_pos.get(doc)
            if p is not None:
                found[p] = True
                score[p] = rank
        mask &= found
    matched = np.flatnonzero(mask)
    ordered = _order(state, matched, sort, score)
    ids = [state.ids[i] for i in ordered[start : start + rows]]
    facets = {name: _facet(state, key, mask, matched, facet_limit) for name, key in facet_keys}
    return {"ids": ids, "count": int(len(matched)), "facets": facets}


def parse_bbox(raw: object) -> tuple[float, float, float, float] | None:
    """``"west,south,east,north"`` in degrees (ckanext-spatial's ``ext_bbox``), checked."""
    if raw in (None, ""):
        return None
    try:
        values = [float(v) for v in str(raw).split(",")]
    except ValueError:
        raise ValidationError("ext_bbox: four numbers west,south,east,north",
                              fields={"ext_bbox": ["Not numbers"]}) from None
    if len(values) != 4 or not all(np.isfinite(values)):
        raise ValidationError("ext_bbox: four numbers west,south,east,north",
                              fields={"ext_bbox": ["Give four numbers"]})
    w, s, e, n = values
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise ValidationError("ext_bbox: -180 <= west <= east <= 180 and -90 <= south <= north "
                              "<= 90", fields={"ext_bbox": ["Out of range or in the wrong order"]})
    return w, s, e, n


def _facet(
    state: Any, key: str, mask: np.ndarray, matched: np.ndarray, limit: int
) -> list[tuple[str, int]]:
    vocab = state.vocab[key]
    if key in state.single:
        counts = np.bincount(state.single[key][matched], minlength=len(vocab.values))
    else:
        edges = state.multi[key]
        sel = edges.alive & mask[edges.pos] if len(edges.pos) else edges.alive
        counts = np.bincount(edges.val[sel], minlength=len(vocab.values))
    present = np.flatnonzero(counts)
    top = sorted(present.tolist(), key=lambda c: (-int(counts[c]), vocab.values[c]))
    return [(vocab.values[c], int(counts[c])) for c in top if vocab.values[c] != ""][:limit]


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
