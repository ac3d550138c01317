"""PySpark ``local[2]``: the reference notebook's own code — ``from_json`` on
``CAST(value AS STRING)``, broadcast join with the country lookup, ``row_number`` over a
window with the tie rule — and its ``MERGE`` rewritten as DataFrame operations (Delta's
jars are not available offline): strict-newer upsert into a state DataFrame whose
tombstones are rows with ``deleted``, cut from its lineage every batch (``localCheckpoint``).
The Spark session start is ``setup`` (timed separately, not in the figure).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow as pa

from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS

spark = None


def setup() -> None:
    global spark
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("cdc_rs-bench")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", "4")
             .config("spark.driver.memory", "6g")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.range(1).count()  # warm the JVM a little


def teardown() -> None:
    if spark is not None:
        spark.stop()


def run(files: list[Path], lookup_path: Path) -> pa.Table:
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    lookup = spark.read.parquet(str(lookup_path)).select("code", "country")
    window = Window.partitionBy("customer_id").orderBy(F.col("row_time").desc(), F.col("pos"))
    state = None
    for f in files:
        events = (spark.read.parquet(str(f))
                  .withColumn("pos", F.monotonically_increasing_id())
                  .filter("topic = 'customers'")
                  .select("pos", F.from_json(F.col("value").cast("string"),
                                             CUSTOMERS_SCHEMA).alias("v"))
                  .select("pos", "v.*")
                  .filter(F.col("row_status").isin(["insert", "update", "delete"])
                          & F.col("customer_id").isNotNull() & F.col("row_time").isNotNull()))
        upserts = (events.filter(F.col("row_status") != "delete")
                   .join(F.broadcast(lookup), F.col("country_code") == F.col("code"), "inner")
                   .drop("code").withColumn("deleted", F.lit(False)))
        deletes = (events.filter(F.col("row_status") == "delete")
                   .withColumn("country", F.lit(None).cast("string"))
                   .withColumn("deleted", F.lit(True)))
        winners = (upserts.unionByName(deletes)
                   .withColumn("rn", F.row_number().over(window))
                   .filter("rn = 1")
                   .select(*SILVER_COLUMNS, "deleted"))
        if state is None:
            state = winners.localCheckpoint()
            continue
        old = state.select("customer_id", F.col("row_time").alias("old_time"))
        changed = (winners.join(old, "customer_id", "left")
                   .filter(F.col("old_time").isNull() | (F.col("row_time") > F.col("old_time")))
                   .drop("old_time"))
        state = (state.join(changed.select("customer_id"), "customer_id", "left_anti")
                 .unionByName(changed)
                 .localCheckpoint())
    return state.filter(~F.col("deleted")).select(*SILVER_COLUMNS).toArrow()
