"""The pool of open, locked-down DuckDB databases that row queries borrow cursors from."""

from __future__ import annotations

import threading

import duckdb
import pytest

from citydata.datastore.pool import ReaderPool
from citydata.datastore.query import Column, RowQuery, Snapshot, run_page


@pytest.fixture
def files(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT range AS x, range * 2 AS secret FROM range(100)) TO '{a}'")
    con.execute(f"COPY (SELECT 'other' AS z) TO '{b}'")
    con.close()
    return a, b


def test_a_lent_cursor_reads_only_its_files_and_cannot_unlock(files):
    a, b = files
    pool = ReaderPool(4)
    with pool.cursor([a]) as cur:
        assert cur.execute(f"SELECT count(*) FROM read_parquet('{a}')").fetchone() == (100,)
        with pytest.raises(duckdb.Error, match="Cannot access file"):
            cur.execute(f"SELECT * FROM read_parquet('{b}')")
        with pytest.raises(duckdb.Error, match="Cannot change configuration"):
            cur.execute("SET enable_external_access = true")


def test_databases_are_reused_and_views_stay_with_their_cursor(files):
    a, _ = files
    pool = ReaderPool(4)
    with pool.cursor([a]) as one, pool.cursor([a]) as two:
        one.execute(f"CREATE TEMP VIEW snap AS SELECT x FROM read_parquet('{a}')")
        two.execute(f"CREATE TEMP VIEW snap AS SELECT x, secret FROM read_parquet('{a}')")
        assert one.sql("SELECT * FROM snap").columns == ["x"]
        assert two.sql("SELECT * FROM snap").columns == ["x", "secret"]
    with pool.cursor([a]) as three, pytest.raises(duckdb.Error, match="snap"):
        three.execute("SELECT * FROM snap")
    assert (pool.hits, pool.misses, len(pool)) == (2, 1, 1)


def test_least_recently_used_is_dropped_without_breaking_a_lent_cursor(files):
    a, b = files
    pool = ReaderPool(1)
    with pool.cursor([a]) as lent:
        lent.execute(f"CREATE TEMP VIEW snap AS SELECT * FROM read_parquet('{a}')")
        with pool.cursor([b]) as other:  # a's database leaves the pool
            assert other.execute(f"SELECT z FROM read_parquet('{b}')").fetchone() == ("other",)
        assert len(pool) == 1
        assert lent.execute("SELECT sum(x) FROM snap").fetchone() == (4950,)
    with pool.cursor([a]):
        pass
    assert pool.misses == 3  # a was opened again


def test_size_zero_opens_a_database_per_use(files):
    a, _ = files
    pool = ReaderPool(0)
    with pool.cursor([a]) as cur:
        assert cur.execute(f"SELECT max(x) FROM read_parquet('{a}')").fetchone() == (99,)
    assert len(pool) == 0 and pool.hits == 0


def test_concurrent_pages_with_different_column_cuts_do_not_mix(files):
    """Two readers of one snapshot, one allowed every column and one not ``secret``, query at
    the same time from many threads through the shared database: each sees only its own cut."""
    a, _ = files
    every = [Column("x", "BIGINT"), Column("secret", "BIGINT")]
    full = Snapshot("r", 1, a, every, 100, "ds", all_columns=every)
    cut = Snapshot("r", 1, a, every[:1], 100, "ds", all_columns=every)
    seen: dict[str, set[tuple[str, ...]]] = {"full": set(), "cut": set()}
    errors: list[BaseException] = []

    def reader(name: str, snap: Snapshot) -> None:
        try:
            for _ in range(15):
                page = run_page(snap, RowQuery(sort=[("x", True)], limit=3))
                seen[name].add(tuple(c.name for c in page.columns))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n, s))
               for n, s in [("full", full), ("cut", cut)] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert seen == {"full": {("x", "secret")}, "cut": {("x",)}}
