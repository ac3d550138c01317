"""The floor on one data set: ``floor.py DATA_DIR`` prints a JSON line.

* ``read`` / ``read_cdc_rs``: reading the columns the pipeline needs (``topic``,
  ``value``) of every micro-batch file, one file in memory at a time, with pyarrow
  ``pq.read_table`` / with ``cdc_rs.read_parquet`` (view arrays); the floor takes the faster;
* ``json_*``: parsing the customers values alone (topic-filtered, valid JSON objects only,
  so that no parser needs an error path), in memory:
  ``duckdb`` — ``json_transform`` to the customers shape (every field VARCHAR: its fastest
  form; DuckDB does not parse the three timestamp spellings in one go),
  ``cdc_rs`` — ``cdc_rs.from_json(values, CUSTOMERS_SCHEMA)`` (``row_time`` parsed to a
  timestamp), ``polars`` — ``str.json_decode`` to the same all-string struct.
Each figure is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from common import bronze_files  # noqa: E402
from contenders._shared import lossy_utf8  # noqa: E402


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def valid_objects(values: pa.Array) -> pa.Array:
    """The values that are JSON objects (checked with Python's json, untimed)."""
    keep = []
    for s in values.to_pylist():
        try:
            keep.append(isinstance(json.loads(s), dict) if s is not None else False)
        except ValueError:
            keep.append(False)
    return values.filter(pa.array(keep))


def main() -> None:
    data_dir = Path(sys.argv[1])
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    files = bronze_files(data_dir)

    def read():
        # One micro-batch in memory at a time, as every contender reads them.
        for f in files:
            pq.read_table(f, columns=["topic", "value"])

    import cdc_rs

    def read_views():
        for f in files:
            cdc_rs.read_parquet(f, columns=["topic", "value"])

    out: dict[str, float] = {"read": median_time(read, repeat),
                             "read_cdc_rs": median_time(read_views, repeat)}
    bronze = pa.concat_tables([pq.read_table(f, columns=["topic", "value"]) for f in files])
    values = bronze.filter(pc.equal(bronze["topic"], "customers"))["value"]
    values = valid_objects(lossy_utf8(values))
    out["json_values"] = len(values)
    out["json_bytes"] = pc.sum(pc.binary_length(values)).as_py()

    from cdc_rs.datasets import CUSTOMERS_SCHEMA

    out["json_cdc_rs"] = median_time(lambda: cdc_rs.from_json(values, CUSTOMERS_SCHEMA), repeat)

    import duckdb

    from contenders.duckdb import JSON_SHAPE

    con = duckdb.connect()
    tbl = pa.table({"v": values})
    con.register("vals", tbl)
    out["json_duckdb"] = median_time(
        lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS "
                            f"SELECT json_transform(v, '{JSON_SHAPE}') AS j FROM vals"), repeat)

    import polars as pl

    from contenders.polars import STRUCT

    s = pl.from_arrow(values)
    out["json_polars"] = median_time(lambda: s.str.json_decode(STRUCT), repeat)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
