"""The datastore_search_sql checker: one read-only SELECT over resource ids, nothing else.

(Running checked statements against real snapshots, access control and the time limit are
covered through the API in tests/api/test_datastore_api.py.)
"""

from __future__ import annotations

import pytest

from citydata.datastore.sql import check_sql
from citydata.errors import QueryError

RID = "0b7e3c1a-2f4d-4c1e-9a7b-5d6e7f8a9b0c"
OTHER = "11111111-2222-4333-8444-555555555555"


@pytest.mark.parametrize(
    "sql",
    [
        f'SELECT * FROM "{RID}"',
        f'select borough, count(*) from "{RID}" group by 1 order by 2 desc limit 5',
        f'WITH t AS (SELECT * FROM "{RID}") SELECT count(*) FROM t',
        f'SELECT a.id FROM "{RID}" a JOIN "{OTHER}" b ON a.id = b.id',
        f'SELECT id FROM "{RID}" UNION ALL SELECT id FROM "{OTHER}"',
        f'SELECT (SELECT max(id) FROM "{OTHER}") AS m FROM "{RID}"',
        f'SELECT * FROM "{RID}";',  # one trailing semicolon is still one statement
    ],
)
def test_accepted(sql):
    tree, ids = check_sql(sql)
    assert RID in ids


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        (f'SELECT * FROM "{RID}"; DROP TABLE "{RID}"', "one statement"),
        (f'DROP TABLE "{RID}"', "SELECT"),
        (f"COPY (SELECT * FROM \"{RID}\") TO '/tmp/x.csv'", ""),
        (f'INSERT INTO "{RID}" VALUES (1)', "SELECT"),
        ("SELECT * FROM read_csv('/etc/passwd')", "not allowed"),
        ("SELECT * FROM read_csv_auto('/etc/passwd')", "not allowed"),
        ("SELECT * FROM read_parquet('/var/x.parquet')", "not allowed"),
        ("SELECT * FROM read_text('/etc/passwd')", "not allowed"),
        ("SELECT * FROM glob('/etc/*')", "not allowed"),
        ("SELECT * FROM '/etc/passwd'", "Unknown table"),
        ("SELECT * FROM range(1000000000)", "not allowed"),
        ("SELECT * FROM generate_series(1, 10)", "not allowed"),
        ("SELECT * FROM query('SELECT 1')", "not allowed"),
        ("ATTACH '/tmp/x.db' AS x", ""),
        ("INSTALL httpfs", ""),
        ("LOAD httpfs", ""),
        ("PRAGMA database_list", ""),
        ("SET enable_external_access = true", ""),
        ("SELECT * FROM duckdb_tables()", "not allowed"),
        ("SELECT * FROM duckdb_settings()", "not allowed"),
        ("SELECT * FROM information_schema.tables", "Schema-qualified"),
        ("SELECT * FROM sqlite_master", "Unknown table"),
        ("SELECT * FROM pg_catalog.pg_tables", "Schema-qualified"),
        ("SELECT getenv('HOME')", "not allowed"),
        ("SELECT current_setting('allowed_paths')", "not allowed"),
        (f'SELECT * INTO newtab FROM "{RID}"', ""),
        (f'CREATE TABLE t AS SELECT * FROM "{RID}"', ""),
        ("", "SELECT"),
        ("SELEC nonsense", ""),
    ],
)
def test_refused(sql, why):
    with pytest.raises(QueryError) as e:
        check_sql(sql)
    assert why in e.value.message
    assert e.value.fields["sql"]


def test_cte_named_like_a_resource_is_still_checked():
    _, ids = check_sql(f'WITH "{OTHER}" AS (SELECT 1) SELECT * FROM "{OTHER}"')
    assert ids == [OTHER]
