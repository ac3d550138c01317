"""foreachBatch(upsert) under Spark Connect (``SparkSession.builder.remote("local[2]")``).

With Connect, the foreachBatch function runs in a Python process started next to the
server: the upsert there is a pickled copy, and a MemoryTable target lives in *that*
process — the client's copy stays empty. ``cdc_rs.spark.checkpointed`` is the working
pattern: the worker saves the target and a report per batch to a directory, the client
reads them back.

A local Connect server cannot share a Python process with a classic session (the other
Spark tests' fixture), so this runs in a subprocess; ``SPARK_TESTING=1`` gives the server
an ephemeral port, so parallel test workers do not collide on 15002.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pyspark")
pytest.importorskip("grpc")

SCRIPT = textwrap.dedent('''
    import json, os, sys
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_TESTING"] = "1"  # ephemeral Connect port
    from pyspark.sql import SparkSession
    import cdc_rs, cdc_rs.spark as cs
    from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, Bookstore

    work = sys.argv[1]
    ds = Bookstore.read_parquet(work + "/bronze")
    def build():
        return cdc_rs.batch_upsert(
            cdc_rs.MemoryTable(), keys=["customer_id"], sequence_by="row_time",
            value_schema=CUSTOMERS_SCHEMA, topic="customers", operation_column="row_status",
            delete_operations=("delete",), lookup=ds.country_lookup,
            lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)

    spark = (SparkSession.builder.remote("local[2]")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    stream = (spark.readStream
              .schema("key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP")
              .option("maxFilesPerTrigger", 1).option("pathGlobFilter", "bronze-*.parquet")
              .parquet(work + "/bronze"))
    upsert = build()
    sink = cs.checkpointed(upsert, work + "/silver")
    query = (stream.writeStream.foreachBatch(sink)
             .option("checkpointLocation", work + "/checkpoint")
             .trigger(availableNow=True).start())
    query.awaitTermination()
    error = query.exception()
    spark.stop()

    fresh = build()
    for batch_id, batch in enumerate(ds.bronze):
        fresh(batch, batch_id)
    key = lambda r: r["customer_id"]
    print("RESULT " + json.dumps({
        "connect": type(spark).__module__,
        "error": None if error is None else str(error),
        "client_copy_rows": len(upsert.target),
        "saved_equals_pyarrow": sorted(sink.target().to_arrow().to_pylist(), key=key)
                                == sorted(fresh.target.to_arrow().to_pylist(), key=key),
        "saved_rows": len(sink.target()),
        "report_batches": sink.reports().column("batch_id").to_pylist(),
        "report_rows_in": sink.reports().column("rows_in").to_pylist(),
        "batch_sizes": [len(b) for b in ds.bronze],
    }))
''')


def run_connect_script(tmp_path, script: str, *args: str) -> dict:
    """Lands a small bookstore feed in ``tmp_path/bronze`` (files in arrival order), runs
    ``script`` with ``tmp_path`` and ``args`` in a subprocess, returns its RESULT line."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for Spark")
    from cdc_rs.datasets import bookstore

    paths = bookstore(events=2_000, batches=3, seed=5).write_parquet(tmp_path / "bronze")
    for i, path in enumerate(paths[:-1]):  # the file source takes files in modification order
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    path = tmp_path / "connect_query.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path), str(tmp_path), *args], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_foreach_batch_under_spark_connect(tmp_path):
    result = run_connect_script(tmp_path, SCRIPT)
    assert result["connect"].startswith("pyspark.sql.connect")
    assert result["error"] is None
    assert result["client_copy_rows"] == 0  # the MemoryTable that did the work lived server-side
    assert result["saved_rows"] > 0 and result["saved_equals_pyarrow"]
    assert result["report_batches"] == [0, 1, 2]
    # Spark's file source orders files by modification time, which a loaded machine can blur
    # between two files: every file must be applied once, in some order.
    assert sorted(result["report_rows_in"]) == sorted(result["batch_sizes"])


MERGE_SCRIPT = textwrap.dedent('''
    import json, os, sys
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_TESTING"] = "1"  # ephemeral Connect port
    from pyspark.sql import SparkSession
    import cdc_rs, cdc_rs.spark as cs
    from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, Bookstore

    work, jars, where = sys.argv[1], sys.argv[2], sys.argv[3]
    ds = Bookstore.read_parquet(work + "/bronze")
    options = dict(keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
                   topic="customers", operation_column="row_status", delete_operations=("delete",),
                   lookup=ds.country_lookup, lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)
    # static confs reach the local server when it starts (the client warns it cannot set them)
    spark = (SparkSession.builder.remote("local[2]")
             .config("spark.jars", jars)
             .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
             .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
             .config("spark.sql.warehouse.dir", work + "/warehouse")
             .config("spark.databricks.delta.snapshotPartitions", "2")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    spark.sql("CREATE TABLE customers_silver (customer_id STRING, email STRING, first_name STRING, "
              "last_name STRING, gender STRING, street STRING, city STRING, country STRING, "
              "row_time TIMESTAMP) USING DELTA")
    # no spark=: the copy in the foreachBatch process uses the session active there
    upsert = cdc_rs.batch_upsert(cs.SparkMergeTarget("customers_silver", keys="customer_id",
                                                     sequence_by="row_time"), **options)
    stream = (spark.readStream
              .schema("key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP")
              .option("maxFilesPerTrigger", 1).option("pathGlobFilter", "bronze-*.parquet")
              .parquet(work + "/bronze"))
    function = cs.on_executors(upsert) if where == "executors" else upsert
    query = (stream.writeStream.foreachBatch(function)
             .option("checkpointLocation", work + "/checkpoint")
             .trigger(availableNow=True).start())
    query.awaitTermination()
    error = query.exception()
    silver = spark.table("customers_silver").toArrow()
    tombstones = spark.table("customers_silver_cdc_rs_tombstones").count()
    spark.stop()

    memory = cdc_rs.batch_upsert(**options)
    memory.apply_all(ds.bronze)
    key = lambda r: r["customer_id"]
    dead = sum(1 for r in memory.target.state().to_pylist() if not r["live"])
    print("RESULT " + json.dumps({
        "connect": type(spark).__module__,
        "error": None if error is None else str(error),
        "rows": silver.num_rows,
        "equals_memory_table": sorted(silver.to_pylist(), key=key)
                               == sorted(memory.target.to_arrow().to_pylist(), key=key),
        "tombstones": tombstones, "memory_tombstones": dead,
    }))
''')


@pytest.mark.parametrize("where", ["driver", "executors"])
def test_spark_merge_target_into_delta_under_spark_connect(tmp_path, where):
    """foreachBatch(upsert) — or cs.on_executors(upsert), ranked after a shuffle since Connect
    has no ``.rdd`` — with a SparkMergeTarget under Connect: the MERGEs run from the
    server-side Python process into a Delta table, tombstones kept, equal to a MemoryTable."""
    from delta_readers import spark_delta_jars

    result = run_connect_script(tmp_path, MERGE_SCRIPT, spark_delta_jars(), where)
    assert result["connect"].startswith("pyspark.sql.connect")
    assert result["error"] is None
    assert result["rows"] > 0 and result["equals_memory_table"]
    assert result["tombstones"] == result["memory_tombstones"] > 0
