"""Generated tabular data for the datastore benchmark, written by DuckDB from ``range()``.

Deterministic (every value is a function of the row number and a seed through ``hash``), so
the same ``--rows`` gives the same file. About 100 bytes a row: 10 M rows ≈ 1 GB of CSV with
ints, floats, dates, timestamps, short and long text, empty cells (``quantity``, ``ref``,
``note``) and quoted commas (a few ``note`` values).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

BOROUGHS = [
    "Barking and Dagenham", "Barnet", "Bexley", "Brent", "Bromley", "Camden", "City of London",
    "Croydon", "Ealing", "Enfield", "Greenwich", "Hackney", "Hammersmith and Fulham",
    "Haringey", "Harrow", "Havering", "Hillingdon", "Hounslow", "Islington",
    "Kensington and Chelsea", "Kingston upon Thames", "Lambeth", "Lewisham", "Merton", "Newham",
    "Redbridge", "Richmond upon Thames", "Southwark", "Sutton", "Tower Hamlets",
    "Waltham Forest", "Wandsworth", "Westminster",
]  # fmt: skip
CATEGORIES = [
    "Parking", "Highways", "Waste", "Planning", "Housing", "Noise", "Trees", "Libraries",
    "Street lighting", "Graffiti", "Fly-tipping", "Licensing",
]  # fmt: skip
WORDS = ["bin", "not", "collected", "pothole", "on", "the", "junction", "near", "school",
         "reported", "again", "lamp", "out", "since", "Tuesday", "overflowing", "resident"]
COLUMNS = ["id", "borough", "category", "amount", "quantity", "event_date", "recorded_at",
           "ref", "note"]


def _list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def rows_sql(n: int, seed: int) -> str:
    """SELECT producing ``n`` generated rows (the columns of :data:`COLUMNS`)."""

    def h(k: int) -> str:  # a per-row, per-column pseudo-random UBIGINT
        return f"hash(i * 64 + {k}, {seed})"

    words = _list(WORDS)
    note_words = f"list_transform(range(2 + ({h(8)} % 7)::BIGINT), lambda x: {words}[1 + ((x * 7 + {h(9)}) % {len(WORDS)})::BIGINT])"  # noqa: E501
    return f"""
    SELECT
      i + 1 AS id,
      {_list(BOROUGHS)}[1 + ({h(1)} % {len(BOROUGHS)})::BIGINT] AS borough,
      {_list(CATEGORIES)}[1 + ({h(2)} % {len(CATEGORIES)})::BIGINT] AS category,
      round(({h(3)} % 5000000) / 100.0, 2) AS amount,
      CASE WHEN {h(4)} % 29 = 0 THEN NULL ELSE ({h(4)} % 50)::INTEGER END AS quantity,
      DATE '2015-01-01' + ({h(5)} % 3650)::INTEGER AS event_date,
      TIMESTAMP '2015-01-01' + to_seconds(({h(6)} % 315360000)::BIGINT) AS recorded_at,
      CASE WHEN {h(7)} % 23 = 0 THEN NULL
           ELSE 'LB-' || lpad(upper(to_hex(({h(7)} % 16777216)::BIGINT)), 6, '0') END AS ref,
      CASE WHEN {h(8)} % 17 = 0 THEN NULL
           WHEN {h(8)} % 997 = 0 THEN 'Reported twice, once by phone, once online'
           ELSE array_to_string({note_words}, ' ') END AS note
    FROM range({int(n)}) t(i)
    """


def write_csv(path: Path, n: int, seed: int, *, threads: int = 2) -> None:
    """Write ``n`` rows as CSV with a header (DuckDB quotes the values that hold commas)."""
    con = duckdb.connect(config={"threads": threads})
    try:
        con.execute(
            f"COPY ({rows_sql(n, seed)} ORDER BY id) TO '{path}' (HEADER, DELIMITER ',')"
        )
    finally:
        con.close()


def write_diff_versions(v1: Path, v2: Path, n: int, seed: int, *, threads: int = 2) -> dict:
    """Two CSV versions: ``v2`` has ~1 % of rows changed, ~0.3 % removed and ~0.3 % added.

    Returns the expected counts (what ``diff_versions`` should report)."""
    con = duckdb.connect(config={"threads": threads})
    try:
        con.execute(f"CREATE TABLE a AS {rows_sql(n, seed)}")
        con.execute(f"COPY (SELECT * FROM a ORDER BY id) TO '{v1}' (HEADER)")
        # removed: id % 300 = 7; changed: id % 100 = 3 (amount, and note on every other one);
        # added: new ids after the last one.
        added = n // 300
        con.execute(
            f"""COPY (
              SELECT id, borough, category,
                     CASE WHEN id % 100 = 3 THEN amount + 1 ELSE amount END AS amount,
                     quantity, event_date, recorded_at, ref,
                     CASE WHEN id % 200 = 3 THEN 'Updated: ' || coalesce(note, '') ELSE note END
                       AS note
              FROM a WHERE id % 300 != 7
              UNION ALL
              SELECT * REPLACE (id + {int(n)} AS id) FROM a WHERE id <= {added}
              ORDER BY id
            ) TO '{v2}' (HEADER)"""
        )
        removed = con.execute("SELECT count(*) FROM a WHERE id % 300 = 7").fetchone()
        changed = con.execute(
            "SELECT count(*) FROM a WHERE id % 100 = 3 AND id % 300 != 7"
        ).fetchone()
    finally:
        con.close()
    return {"added": added, "removed": int(removed[0]) if removed else 0,
            "changed": int(changed[0]) if changed else 0}
