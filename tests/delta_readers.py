"""Every Delta reader available here, each returning a table's rows as plain pyarrow types:
what cdc_rs writes must read the same in all of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

# DuckDB with its delta extension, beside the venv (requirements-duckdb-delta.txt)
DUCKDB_DELTA = Path(__file__).resolve().parents[1] / ".cache" / "duckdb-delta"
# Delta Lake's Spark jars (spark-delta-jars.pom.xml, fetched from Maven Central by ./dev setup)
SPARK_DELTA_JARS = Path(__file__).resolve().parents[1] / ".cache" / "spark-delta" / "jars"


def spark_delta_jars() -> str:
    """The ``spark.jars`` value that gives a session Delta Lake."""
    jars = sorted(SPARK_DELTA_JARS.glob("*.jar"))
    if not jars:
        raise RuntimeError(f"{SPARK_DELTA_JARS} has no jars: run ./dev setup")
    return ",".join(map(str, jars))


def plain(table: pa.Table) -> pa.Table:
    """View and large types as their plain forms, so readers compare equal."""
    fields = []
    for f in table.schema:
        t = f.type
        if t in (pa.string_view(), pa.large_string()):
            t = pa.string()
        elif t in (pa.binary_view(), pa.large_binary()):
            t = pa.binary()
        fields.append(pa.field(f.name, t))
    return table.cast(pa.schema(fields))


def read_with_deltalake(path: Path | str, version: int | None = None,
                        storage_options: dict[str, str] | None = None) -> pa.Table:
    """deltalake's DataFusion scan: the one of its readers that applies deletion vectors."""
    from deltalake import DeltaTable

    table = DeltaTable(str(path), version=version, storage_options=storage_options)
    return plain(pa.table(table.scan()))


def read_with_polars(path: Path | str, storage_options: dict[str, str] | None = None) -> pa.Table:
    import polars as pl

    return plain(pl.read_delta(str(path), storage_options=storage_options).to_arrow())


_DUCKDB_SCRIPT = """
import pathlib, sys
import duckdb, duckdb_extension_delta, pyarrow as pa
(extension,) = pathlib.Path(duckdb_extension_delta.__file__).parent.rglob("delta.duckdb_extension")
con = duckdb.connect()
con.execute(f"LOAD '{extension}'")
table = con.execute("SELECT * FROM delta_scan(?)", [sys.argv[1]]).arrow()
table = table.read_all() if hasattr(table, "read_all") else table
with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as out:
    out.write_table(table)
"""


def read_with_duckdb(path: Path) -> pa.Table:
    """DuckDB's ``delta_scan``, in a subprocess running the DuckDB its extension was built for."""
    if not DUCKDB_DELTA.is_dir():
        raise RuntimeError(f"{DUCKDB_DELTA} is missing: run ./dev setup")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(DUCKDB_DELTA),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _DUCKDB_SCRIPT, str(path)], env=env,
                          capture_output=True, timeout=300)
    if proc.returncode:
        raise RuntimeError(proc.stderr.decode())
    return plain(pa.ipc.open_stream(proc.stdout).read_all())


_SPARK_SCRIPT = """
import json, os, sys
import pyarrow as pa
from pyspark.sql import SparkSession
jars, reads = sys.argv[1], json.loads(sys.argv[2])
spark = (SparkSession.builder.master("local[2]").config("spark.jars", jars)
         .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
         .config("spark.sql.catalog.spark_catalog",
                 "org.apache.spark.sql.delta.catalog.DeltaCatalog")
         .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2").getOrCreate())
out = sys.stdout.buffer
for path, feed in reads:
    reader = spark.read.format("delta")
    if feed:
        reader = reader.option("readChangeFeed", "true").option("startingVersion", 0)
    table = reader.load(path).toArrow()
    with pa.ipc.new_stream(out, table.schema) as stream:
        stream.write_table(table)
spark.stop()
"""


def read_with_spark(*paths: Path | str, change_feed: bool = False) -> list[pa.Table]:
    """Each table as Spark with Delta Lake reads it (its change feed from version 0 with
    ``change_feed``), all in one Spark session in a subprocess of its own (so the
    tests' shared session keeps its catalog)."""
    import json

    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    reads = json.dumps([[str(p), change_feed] for p in paths])
    proc = subprocess.run([sys.executable, "-c", _SPARK_SCRIPT, spark_delta_jars(), reads],
                          env=env, capture_output=True, timeout=600)
    if proc.returncode:
        raise RuntimeError(proc.stderr.decode()[-4000:])
    source = pa.BufferReader(proc.stdout)
    tables = []
    for _ in paths:
        tables.append(plain(pa.ipc.open_stream(source).read_all()))
    return tables


#: The reader most tests use: deltalake, whatever kind of table.
read_delta = read_with_deltalake
