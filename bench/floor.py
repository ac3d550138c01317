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
Each figure is the median of ``REPEAT`` runs in this process (at least 7 but for polars;
warm: the libraries' thread pools and allocators primed by the earlier runs). ``first_*`` are the same
measurements as the first call in a fresh process (``floor.py DATA_DIR REPEAT --first
NAME``, untimed preparation included), the median over ``REPEAT`` processes: the conditions
every contender's end-to-end run is timed in (``worker.py``). polars is left out there: its
parse is never the fastest.
"""

from __future__ import annotations

import functools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
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


@functools.cache
def customers_values(files: tuple[Path, ...]) -> pa.Array:
    """The valid customers JSON values of every file, as one column (untimed)."""
    bronze = pa.concat_tables([pq.read_table(f, columns=["topic", "value"]) for f in files])
    values = bronze.filter(pc.equal(bronze["topic"], "customers"))["value"]
    return valid_objects(lossy_utf8(values))


def prepare(name: str, files: tuple[Path, ...]) -> Callable[[], object]:
    """Measurement ``name``, prepared (untimed): each call does the measured work once."""
    import cdc_rs

    if name == "read":  # one micro-batch in memory at a time, as every contender reads them
        return lambda: [pq.read_table(f, columns=["topic", "value"]) for f in files][-1]
    if name == "read_cdc_rs":
        return lambda: [cdc_rs.read_parquet(f, columns=["topic", "value"]) for f in files][-1]
    values = customers_values(files)
    if name == "json_cdc_rs":
        from cdc_rs.datasets import CUSTOMERS_SCHEMA

        return lambda: cdc_rs.from_json(values, CUSTOMERS_SCHEMA)
    if name == "json_duckdb":
        import duckdb

        from contenders.duckdb import JSON_SHAPE

        con = duckdb.connect()
        con.register("vals", pa.table({"v": values}))
        return lambda: con.execute("CREATE OR REPLACE TEMP TABLE parsed AS "
                                   f"SELECT json_transform(v, '{JSON_SHAPE}') AS j FROM vals")
    if name == "json_polars":
        import polars as pl

        from contenders.polars import STRUCT

        series = pl.from_arrow(values)
        return lambda: series.str.json_decode(STRUCT)
    raise ValueError(f"no measurement {name!r}")


MEASUREMENTS = ("read", "read_cdc_rs", "json_cdc_rs", "json_duckdb", "json_polars")
FIRST_CALL = MEASUREMENTS[:-1]


def first_call(data_dir: Path, name: str, repeat: int) -> float:
    """Median over ``repeat`` fresh processes of the first call of measurement ``name``."""
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, str(data_dir), "1", "--first", name],
                             capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    data_dir = Path(sys.argv[1])
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    files = tuple(bronze_files(data_dir))
    if len(sys.argv) > 4 and sys.argv[3] == "--first":
        print(median_time(prepare(sys.argv[4], files), 1))
        return
    # The quick ones get at least 7 runs: one slow run among 3 moves a 20 ms median a lot.
    out: dict[str, float] = {
        name: median_time(prepare(name, files), repeat if name == "json_polars" else max(repeat, 7))
        for name in MEASUREMENTS}
    values = customers_values(files)
    out["json_values"] = len(values)
    out["json_bytes"] = pc.sum(pc.binary_length(values)).as_py()
    for name in FIRST_CALL:
        out[f"first_{name}"] = first_call(data_dir, name, repeat)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
