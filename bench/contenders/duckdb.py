"""DuckDB: SQL per micro-batch (read_parquet, json_transform, QUALIFY, MERGE INTO).

Traps handled: ``decode`` raises on invalid UTF-8 (``try(decode(value))``, and the few
failures go through a vectorised Python UDF with U+FFFD replacement); ``json_transform``
raises on malformed JSON (``json_valid`` first); ``UPDATE SET *`` matches columns by
position (columns are named).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from cdc_rs.datasets import SILVER_COLUMNS

from ._shared import lossy_utf8

JSON_SHAPE = ('{"customer_id":"VARCHAR","email":"VARCHAR","first_name":"VARCHAR",'
              '"last_name":"VARCHAR","gender":"VARCHAR","street":"VARCHAR","city":"VARCHAR",'
              '"country_code":"VARCHAR","row_status":"VARCHAR","row_time":"VARCHAR"}')
VALUE_COLS = [c for c in SILVER_COLUMNS if c not in ("customer_id", "country", "row_time")]

STATE_DDL = """CREATE TABLE state (customer_id VARCHAR {pk}, email VARCHAR, first_name VARCHAR,
    last_name VARCHAR, gender VARCHAR, street VARCHAR, city VARCHAR, country VARCHAR,
    row_time TIMESTAMPTZ, deleted BOOLEAN)"""

WINNERS_SQL = f"""
CREATE OR REPLACE TEMP TABLE winners AS
WITH raw AS (
    SELECT file_row_number AS pos, coalesce(try(decode(value)), lossy_utf8(value)) AS v
    FROM read_parquet($path, file_row_number = true)
    WHERE topic = 'customers'
), parsed AS (
    SELECT pos, json_transform(v, '{JSON_SHAPE}') AS j
    FROM raw WHERE json_valid(v) AND json_type(v) = 'OBJECT'
), events AS (
    SELECT pos, j.*, j.row_status = 'delete' AS deleted,
           try_cast(j.row_time AS TIMESTAMPTZ) AS ts
    FROM parsed
    WHERE j.row_status IN ('insert', 'update', 'delete') AND j.customer_id IS NOT NULL
)
SELECT e.customer_id, {", ".join("e." + c for c in VALUE_COLS)}, l.country,
       e.ts AS row_time, e.deleted
FROM events e LEFT JOIN lookup l ON e.country_code = l.code
WHERE e.ts IS NOT NULL AND (e.deleted OR l.code IS NOT NULL)
QUALIFY row_number() OVER (PARTITION BY e.customer_id ORDER BY e.ts DESC, e.pos) = 1
"""

_ALL = ["customer_id", *VALUE_COLS, "country", "row_time", "deleted"]
MERGE_SQL = f"""
MERGE INTO state s USING winners w ON s.customer_id = w.customer_id
WHEN MATCHED AND w.row_time > s.row_time THEN UPDATE SET
    {", ".join(f"{c} = w.{c}" for c in _ALL[1:])}
WHEN NOT MATCHED THEN INSERT ({", ".join(_ALL)}) VALUES ({", ".join("w." + c for c in _ALL)})
"""

# The indexed variant (growth scenario): primary key + INSERT ... ON CONFLICT.
UPSERT_SQL = f"""
INSERT INTO state ({", ".join(_ALL)}) SELECT {", ".join(_ALL)} FROM winners
ON CONFLICT (customer_id) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in _ALL[1:])}
WHERE excluded.row_time > state.row_time
"""


def _lossy(values: pa.Array) -> pa.Array:
    return lossy_utf8(values)


def connect(lookup_path: Path, primary_key: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.create_function("lossy_utf8", _lossy, ["BLOB"], "VARCHAR", type="arrow",
                        side_effects=False)
    con.execute("CREATE TABLE lookup AS SELECT code, country FROM read_parquet($p)",
                {"p": str(lookup_path)})
    con.execute(STATE_DDL.format(pk="PRIMARY KEY" if primary_key else ""))
    return con


def apply_file(con: duckdb.DuckDBPyConnection, path: Path, indexed: bool = False) -> None:
    con.execute(WINNERS_SQL, {"path": str(path)})
    con.execute(UPSERT_SQL if indexed else MERGE_SQL)


def silver(con: duckdb.DuckDBPyConnection) -> pa.Table:
    cols = ", ".join(SILVER_COLUMNS)
    return con.sql(f"SELECT {cols} FROM state WHERE NOT deleted").to_arrow_table()


def run(files: list[Path], lookup_path: Path) -> pa.Table:
    con = connect(lookup_path)
    for f in files:
        apply_file(con, f)
    out = silver(con)
    con.close()
    return out
