"""The datastore: tabular resources as immutable columnar snapshots, queried with DuckDB.

Every upload of a tabular file (CSV/TSV, XLSX, JSON/NDJSON, GeoJSON, Parquet) is converted into
a Parquet snapshot stored content-addressed beside the original, with its row count and column
types recorded on the resource version. Queries run on DuckDB over that snapshot.
"""
