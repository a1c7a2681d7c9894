"""Bulk-load a generated catalog into the real, migrated tables on SQLite or PostgreSQL.

The per-dataset catalog API would take tens of minutes for 100,000 datasets, so rows go in with
``executemany`` (SQLite) or ``COPY`` (PostgreSQL), and the full-text index is built in one
statement per backend. Those statements mirror :func:`citydata.catalog.search.index_dataset`;
:func:`verify_index` re-indexes a sample through the real function (rolled back) and compares,
so the benchmark fails loudly if the two drift apart.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.generate import Catalog
from citydata.catalog.search import PG_TSV_INSERT
from citydata.storage.database import Database, normalise_url
from citydata.storage.migrate import upgrade

#: Number the documents and start the change sequence after them, as index_dataset would
#: have left things (each document's doc_id is the change number that wrote it).
SQLITE_BULK_DOC_IDS = "UPDATE dataset_search SET doc_id = rowid"
PG_BULK_DOC_IDS = (
    "UPDATE dataset_search s SET doc_id = r.n FROM (SELECT dataset_id, row_number() OVER "
    "(ORDER BY dataset_id) AS n FROM dataset_search) r WHERE s.dataset_id = r.dataset_id"
)
BULK_SEQUENCE = (
    "UPDATE search_state SET seq = (SELECT coalesce(max(doc_id), 0) FROM dataset_search) "
    "WHERE id = 1"
)
#: dataset_search -> dataset_fts, as index_dataset inserts one row (SQLite).
SQLITE_BULK_FTS = (
    "INSERT INTO dataset_fts(rowid, dataset_id, name, title, notes, tags, organization) "
    "SELECT doc_id, dataset_id, name, title, notes, tags, organization FROM dataset_search"
)
#: The weighted vectors, with the very SQL index_dataset runs (for every row at once).
PG_BULK_TSV = PG_TSV_INSERT


def _sqlite_value(value: object) -> object:
    # SQLAlchemy stores SQLite DateTime as this exact text; match it so ORDER BY agrees.
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def load_sqlite(path: Path, cat: Catalog) -> None:
    """Migrate a new SQLite file at ``path`` and bulk-insert ``cat``, then ANALYZE."""
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        with conn:
            for table, cols, rows in cat.tables():
                sql = (f"INSERT INTO {table} ({', '.join(cols)}) "
                       f"VALUES ({', '.join('?' * len(cols))})")
                conn.executemany(sql, ([_sqlite_value(x) for x in r] for r in rows))
            conn.execute(SQLITE_BULK_DOC_IDS)
            conn.execute(SQLITE_BULK_FTS)
            conn.execute(BULK_SEQUENCE)
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


# -- PostgreSQL ------------------------------------------------------------------------------
def pg_schema_name() -> str:
    return f"citydata_bench_{uuid.uuid4().hex[:8]}"


def pg_schema_url(base_url: str, schema: str) -> str:
    url = normalise_url(base_url)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}%2Cpublic"


def pg_create_schema(base_url: str, schema: str) -> None:
    engine = create_engine(normalise_url(base_url))
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()


def pg_drop_schema(base_url: str, schema: str) -> None:
    engine = create_engine(normalise_url(base_url))
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


def load_postgresql(url: str, cat: Catalog) -> None:
    """Migrate the (empty) schema in ``url``, COPY ``cat`` in, build tsv, VACUUM ANALYZE."""
    db = Database(url)
    try:
        upgrade(db)
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            for table, cols, rows in cat.tables():
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cur.execute(PG_BULK_DOC_IDS)
            cur.execute(PG_BULK_TSV)
            cur.execute(BULK_SEQUENCE)
            raw.commit()
        finally:
            raw.close()
        # A long-lived database is autovacuumed: the visibility map lets index-only scans work.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        db.dispose()


# -- checks ----------------------------------------------------------------------------------
def _index_rows(session: Session, ids: list[str]) -> dict[str, tuple]:
    if session.get_bind().dialect.name == "sqlite":
        sql = ("SELECT s.dataset_id, s.name, s.title, s.notes, s.tags, s.organization, "
               "f.name, f.title, f.notes, f.tags, f.organization FROM dataset_search s "
               "JOIN dataset_fts f ON f.rowid = s.doc_id WHERE s.dataset_id = :id")
    else:
        sql = ("SELECT s.dataset_id, s.name, s.title, s.notes, s.tags, s.organization, "
               "t.tsv::text FROM dataset_search s JOIN dataset_tsv t ON t.doc_id = s.doc_id "
               "WHERE s.dataset_id = :id")
    out = {}
    for i in ids:
        rows = session.execute(text(sql), {"id": i}).all()
        out[i] = tuple(tuple(r) for r in rows)
    return out


def verify_index(url: str, sample: int = 25, seed: int = 7) -> dict:
    """Re-index ``sample`` datasets with the real ``index_dataset`` (rolled back) and compare.

    Returns the mean wall time of one real ``index_dataset`` call at this catalog size, which
    is what every dataset create/update pays. Raises if the bulk index differs.
    """
    from citydata.catalog import search
    from citydata.storage.models import Dataset

    db = Database(url)
    session = db.sessionmaker()
    try:
        ids = list(session.scalars(text(
            "SELECT dataset_id FROM dataset_search ORDER BY dataset_id")))
        ids = random.Random(seed).sample(ids, min(sample, len(ids)))
        before = _index_rows(session, ids)
        took = []
        for i in ids:
            ds = session.get(Dataset, i)
            assert ds is not None
            t0 = time.perf_counter()
            search.index_dataset(session, ds)
            session.flush()
            took.append(time.perf_counter() - t0)
        after = _index_rows(session, ids)
    finally:
        session.rollback()
        session.close()
        db.dispose()
    bad = [i for i in ids if before[i] != after[i] or len(before[i]) != 1]
    if bad:
        raise RuntimeError(
            f"bulk full-text index differs from citydata.catalog.search.index_dataset for "
            f"{len(bad)}/{len(ids)} datasets (e.g. {bad[0]}): update bench/load.py to match\n"
            f"bulk: {before[bad[0]]}\nreal: {after[bad[0]]}"
        )
    return {"sample": len(ids), "index_dataset_mean_ms": 1000 * sum(took) / len(took)}


# -- the Datasette peer ----------------------------------------------------------------------
DATASETTE_SQL = """
ALTER TABLE datasets ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE datasets ADD COLUMN themes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE datasets ADD COLUMN boroughs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE datasets ADD COLUMN formats TEXT NOT NULL DEFAULT '[]';
ALTER TABLE datasets ADD COLUMN organization TEXT NOT NULL DEFAULT '';
UPDATE datasets SET
  tags = coalesce((SELECT json_group_array(tag) FROM dataset_tags t
                   WHERE t.dataset_id = datasets.id), '[]'),
  themes = coalesce((SELECT json_group_array(theme) FROM dataset_themes t
                     WHERE t.dataset_id = datasets.id), '[]'),
  boroughs = coalesce((SELECT json_group_array(gss_code) FROM dataset_boroughs t
                       WHERE t.dataset_id = datasets.id), '[]'),
  formats = coalesce((SELECT json_group_array(DISTINCT format) FROM resources r
                      WHERE r.dataset_id = datasets.id AND r.format != ''), '[]'),
  organization = (SELECT title || ' ' || name FROM organizations o
                  WHERE o.id = datasets.owner_org);
-- sqlite-utils' enable_fts() shape: an external-content FTS5 table Datasette detects itself.
CREATE VIRTUAL TABLE [datasets_fts] USING FTS5 (
  [name], [title], [notes], [tags], [organization], content=[datasets],
  tokenize='porter unicode61 remove_diacritics 2');
INSERT INTO [datasets_fts] ([datasets_fts]) VALUES ('rebuild');
ANALYZE;
"""


def make_datasette_copy(src: Path, dst: Path) -> None:
    """Copy the SQLite catalog and give ``datasets`` JSON array columns and an FTS table.

    Same rows, same text, same tokenizer; the differences are documented in bench/README.md.
    """
    shutil.copy(src, dst)
    conn = sqlite3.connect(dst)
    try:
        conn.executescript(DATASETTE_SQL)
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
