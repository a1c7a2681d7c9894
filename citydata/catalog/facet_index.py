"""An in-memory, columnar copy of what search filters, facets and sorts on.

Exact facet counts over tens of thousands of matches cost hundreds of milliseconds in SQL (one
pass per facet over the matched set); search engines keep such fields in memory as columns
(Solr's DocValues). This module does the same with numpy: one int code per dataset for each
single-valued field, (dataset, value) edge arrays for multi-valued ones, so a facet is one
``bincount`` over the matched rows.

The database stays the source of truth. Every index write takes a number from the
``search_state`` sequence and logs the dataset in ``search_changes`` (see
:func:`citydata.catalog.search.next_change`); before each search the index compares the
sequence with the last number it applied and reloads only the datasets changed since, on a
connection of its own so it only ever sees committed data. A state is never changed in place:
a refresh builds a new one and swaps it in, so concurrent searches always see a whole state.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from citydata.access.vocabulary import DEFAULT_DISCOVERY
from citydata.catalog.quality import band as quality_band
from citydata.storage.models import (
    Dataset,
    DatasetBorough,
    DatasetSearch,
    DatasetTag,
    DatasetTheme,
    Organization,
    Resource,
    SearchChange,
    SearchState,
)

SINGLE = ("organization", "license_id", "access_level", "quality")
MULTI = ("tags", "theme", "borough", "res_format")
#: Datasets whose publisher shows only that they exist: their file formats are not faceted
#: (for anyone: the index is shared by every reader).
FILES_UNLISTED = select(Dataset.id).where(
    Dataset.access_level.in_(tuple(DEFAULT_DISCOVERY))
    & ((Dataset.discovery == "existence")
       | ((Dataset.discovery == "") & Dataset.access_level.in_(
           [lvl for lvl, tier in DEFAULT_DISCOVERY.items() if tier == "existence"]))))
#: Rebuild from scratch rather than patch when this share of datasets changed.
REBUILD_SHARE = 0.2


class Vocabulary:
    """Value <-> small integer code, append-only (codes never change meaning)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values: list[str] = []
        self.codes: dict[str, int] = {}
        for v in values:
            self.code(v)

    def code(self, value: str) -> int:
        c = self.codes.get(value)
        if c is None:
            c = self.codes[value] = len(self.values)
            self.values.append(value)
        return c

    def copy(self) -> Vocabulary:
        other = Vocabulary()
        other.values = list(self.values)
        other.codes = dict(self.codes)
        return other


@dataclass(frozen=True)
class Edges:
    """(position, value code) pairs of a multi-valued field; dead edges belong to old rows."""

    pos: np.ndarray
    val: np.ndarray
    alive: np.ndarray


@dataclass(frozen=True)
class State:
    seq: int
    ids: list[str]
    pos_of: dict[str, int]
    alive: np.ndarray  # bool: an active dataset occupies this position
    org_id: np.ndarray  # int32 code into vocab["org_id"]
    single: dict[str, np.ndarray]  # organization (org name code), license_id, access_level
    multi: dict[str, Edges]
    modified: np.ndarray  # float64 epoch seconds
    created: np.ndarray
    score: np.ndarray  # float64 quality score (-1 when never assessed)
    bbox: np.ndarray  # float64 (n, 4): west, south, east, north in degrees; NaN when unknown
    names: np.ndarray  # object arrays, for sorting by name/title
    titles: np.ndarray
    vocab: dict[str, Vocabulary] = field(default_factory=dict)
    #: full-text document id -> position (the FTS5 rowid on SQLite)
    doc_pos: dict[int, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.ids)


def band_of(score: float) -> str:
    return quality_band(None if score < 0 else int(score))


def _epoch(dt: datetime | None) -> float:
    return dt.timestamp() if dt else 0.0


@dataclass
class _Rows:
    """Datasets read from the database, ready to be coded into arrays."""

    ids: list[str] = field(default_factory=list)
    active: list[bool] = field(default_factory=list)
    org_id: list[str] = field(default_factory=list)
    org_name: list[str] = field(default_factory=list)
    license: list[str] = field(default_factory=list)
    access: list[str] = field(default_factory=list)
    modified: list[float] = field(default_factory=list)
    created: list[float] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    bbox: list[tuple[float, float, float, float]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    docs: list[int | None] = field(default_factory=list)
    multi: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _read(conn: Any, ids: list[str] | None) -> _Rows:
    rows = _Rows(multi={k: [] for k in MULTI})
    stmt = (
        select(
            Dataset.id,
            Dataset.state,
            Dataset.owner_org,
            Organization.name,
            Dataset.license_id,
            Dataset.access_level,
            Dataset.modified,
            Dataset.created,
            Dataset.name,
            Dataset.title,
            DatasetSearch.doc_id,
            Dataset.quality_score,
            Dataset.bbox_west,
            Dataset.bbox_south,
            Dataset.bbox_east,
            Dataset.bbox_north,
        )
        .join(Organization, Organization.id == Dataset.owner_org)
        .outerjoin(DatasetSearch, DatasetSearch.dataset_id == Dataset.id)
    )
    chunks = [ids[i : i + 500] for i in range(0, len(ids), 500)] if ids is not None else [None]
    for chunk in chunks:
        part = stmt if chunk is None else stmt.where(Dataset.id.in_(chunk))
        for r in conn.execute(part):
            rows.ids.append(r[0])
            rows.active.append(r[1] == "active")
            rows.org_id.append(r[2])
            rows.org_name.append(r[3])
            rows.license.append(r[4])
            rows.access.append(r[5])
            rows.modified.append(_epoch(r[6]))
            rows.created.append(_epoch(r[7]))
            rows.names.append(r[8])
            rows.titles.append((r[9] or "").lower())
            rows.docs.append(r[10])
            rows.score.append(-1.0 if r[11] is None else float(r[11]))
            w, s, e, n = (np.nan if v is None else float(v) for v in r[12:16])
            rows.bbox.append((w, s, e, n))
        for key, owner, value, extra in (
            ("tags", DatasetTag.dataset_id, DatasetTag.tag, None),
            ("theme", DatasetTheme.dataset_id, DatasetTheme.theme, None),
            ("borough", DatasetBorough.dataset_id, DatasetBorough.gss_code, None),
            ("res_format", Resource.dataset_id, Resource.format,
             (Resource.format != "") & Resource.dataset_id.not_in(FILES_UNLISTED)),
        ):
            q = select(owner, value).distinct()
            if extra is not None:
                q = q.where(extra)
            if chunk is not None:
                q = q.where(owner.in_(chunk))
            rows.multi[key].extend((a, b) for a, b in conn.execute(q))
    return rows


def _grow(arr: np.ndarray, new: list | np.ndarray, dtype: Any) -> np.ndarray:
    return np.concatenate([arr, np.asarray(new, dtype=dtype)])


def build(conn: Any, seq: int) -> State:
    """Read every dataset and build a state from scratch."""
    empty = State(
        seq=0,
        ids=[],
        pos_of={},
        alive=np.zeros(0, bool),
        org_id=np.zeros(0, np.int32),
        single={k: np.zeros(0, np.int32) for k in SINGLE},
        multi={
            k: Edges(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, bool)) for k in MULTI
        },
        modified=np.zeros(0),
        created=np.zeros(0),
        score=np.zeros(0),
        bbox=np.zeros((0, 4)),
        names=np.zeros(0, object),
        titles=np.zeros(0, object),
        vocab={k: Vocabulary() for k in ("org_id", *SINGLE, *MULTI)},
    )
    return apply(empty, _read(conn, None), seq)


def apply(old: State, rows: _Rows, seq: int) -> State:
    """A new state with ``rows`` written over (or appended to) the old one."""
    vocab = {k: v.copy() for k, v in old.vocab.items()}
    ids = list(old.ids)
    pos_of = dict(old.pos_of)
    doc_pos = dict(old.doc_pos)
    positions = []
    for dataset_id, doc in zip(rows.ids, rows.docs, strict=True):
        p = pos_of.get(dataset_id)
        if p is None:
            p = pos_of[dataset_id] = len(ids)
            ids.append(dataset_id)
        positions.append(p)
        if doc is not None:
            doc_pos[int(doc)] = p
    n = len(ids)
    grow = n - old.size

    def extend(arr: np.ndarray, dtype: Any, fill: Any) -> np.ndarray:
        return _grow(arr, [fill] * grow, dtype) if grow else arr.copy()

    alive = extend(old.alive, bool, False)
    org_id = extend(old.org_id, np.int32, 0)
    single = {k: extend(v, np.int32, 0) for k, v in old.single.items()}
    modified = extend(old.modified, np.float64, 0.0)
    created = extend(old.created, np.float64, 0.0)
    score = extend(old.score, np.float64, -1.0)
    bbox = np.vstack([old.bbox, np.full((grow, 4), np.nan)]) if grow else old.bbox.copy()
    names = extend(old.names, object, "")
    titles = extend(old.titles, object, "")
    pos = np.asarray(positions, dtype=np.int64)
    if len(pos):
        alive[pos] = rows.active
        org_id[pos] = [vocab["org_id"].code(v) for v in rows.org_id]
        single["organization"][pos] = [vocab["organization"].code(v) for v in rows.org_name]
        single["license_id"][pos] = [vocab["license_id"].code(v) for v in rows.license]
        single["access_level"][pos] = [vocab["access_level"].code(v) for v in rows.access]
        single["quality"][pos] = [vocab["quality"].code(band_of(v)) for v in rows.score]
        score[pos] = rows.score
        bbox[pos] = np.asarray(rows.bbox, dtype=np.float64).reshape(-1, 4)
        modified[pos] = rows.modified
        created[pos] = rows.created
        names[pos] = rows.names
        titles[pos] = rows.titles
    changed = np.zeros(n, bool)
    changed[pos] = True
    multi = {}
    for key, old_edges in old.multi.items():
        keep = old_edges.alive & ~changed[old_edges.pos] if len(old_edges.pos) else old_edges.alive
        new_pos = [pos_of[d] for d, _ in rows.multi[key]]
        new_val = [vocab[key].code(v) for _, v in rows.multi[key]]
        multi[key] = Edges(
            _grow(old_edges.pos, new_pos, np.int32),
            _grow(old_edges.val, new_val, np.int32),
            np.concatenate([keep, np.ones(len(new_pos), bool)]),
        )
    if len(pos) and len(doc_pos) > 2 * max(len(ids), 1):
        # Re-indexed documents leave old ids behind; keep only each position's newest.
        newest: dict[int, int] = {}
        for doc, p in doc_pos.items():
            if doc > newest.get(p, -1):
                newest[p] = doc
        doc_pos = {doc: p for p, doc in newest.items()}
    return State(
        seq=seq,
        ids=ids,
        pos_of=pos_of,
        alive=alive,
        org_id=org_id,
        single=single,
        multi=multi,
        modified=modified,
        created=created,
        score=score,
        bbox=bbox,
        names=names,
        titles=titles,
        vocab=vocab,
        doc_pos=doc_pos,
    )


def compact(state: State) -> State:
    """Drop dead edges (after many updates) without reading the database again."""
    multi = {
        k: Edges(e.pos[e.alive], e.val[e.alive], np.ones(int(e.alive.sum()), bool))
        for k, e in state.multi.items()
    }
    return replace(state, multi=multi)


class FacetIndex:
    """The per-process index for one database; cheap to check, refreshed on demand."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state: State | None = None
        self._lock = threading.Lock()

    def current(self) -> State:
        """The state as of the newest committed change."""
        with self.engine.connect() as conn:
            seq = conn.execute(select(SearchState.seq).where(SearchState.id == 1)).scalar() or 0
            state = self.state
            if state is not None and state.seq == seq:
                return state
            with self._lock:
                state = self.state
                if state is not None and state.seq == seq:
                    return state
                self.state = self._refresh(conn, state, seq)
                return self.state

    def _refresh(self, conn: Any, state: State | None, seq: int) -> State:
        if state is None or seq < state.seq:
            return build(conn, seq)
        changed = list(
            conn.execute(
                select(SearchChange.dataset_id)
                .where(SearchChange.seq > state.seq, SearchChange.seq <= seq)
                .distinct()
            ).scalars()
        )
        first = conn.execute(
            select(SearchChange.seq)
            .where(SearchChange.seq > state.seq)
            .order_by(SearchChange.seq)
            .limit(1)
        ).scalar()
        if (
            first is None
            or first != state.seq + 1
            or len(changed) > REBUILD_SHARE * max(state.size, 1)
        ):
            return build(conn, seq)  # the log was pruned past us, or most rows changed
        new = apply(state, _read(conn, changed), seq)
        dead = sum(int((~e.alive).sum()) for e in new.multi.values())
        live = sum(len(e.alive) for e in new.multi.values())
        return compact(new) if dead > live // 2 else new


#: One index per engine (so per database per process); it goes when the engine goes.
_INDEXES: weakref.WeakKeyDictionary[Engine, FacetIndex] = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def for_session(session: Session) -> FacetIndex:
    """The process-wide index of the session's database."""
    bind = session.get_bind()
    engine: Engine = bind.engine if hasattr(bind, "engine") else bind  # type: ignore[assignment]
    index = _INDEXES.get(engine)
    if index is None:
        with _INDEXES_LOCK:
            index = _INDEXES.get(engine)
            if index is None:
                index = _INDEXES[engine] = FacetIndex(engine)
    return index


def prune_changes(session: Session, keep: int = 100_000) -> None:
    """Forget old change numbers; an index that fell that far behind rebuilds from scratch."""
    seq = session.scalar(select(SearchState.seq).where(SearchState.id == 1)) or 0
    session.execute(text("DELETE FROM search_changes WHERE seq <= :s"), {"s": seq - keep})
