"""Events/s of the reference pipeline's three Spark shapes, on the same bronze events, local[2].

    .venv/bin/python bench/spark_paths.py --events 500000 --batches 5

(a) pure Spark, the reference: from_json + broadcast join + rank per key, in foreachBatch
    (the MERGE replaced by a ``noop`` write: no Delta here) — and the same as one batch job;
(b) foreachBatch(cdc_rs.batch_upsert): every micro-batch collected with ``toArrow()`` and
    decoded, joined, ranked and merged by cdc_rs on the driver;
(c) the executor path: cdc_rs.spark.from_json + Spark's broadcast join + cdc_rs.spark.latest,
    written to ``noop``;
(d) for scale: the same batches through batch_upsert straight from pyarrow (no Spark).

Each streaming run reads the bronze Parquet folder with a file source, one file per
micro-batch, ``trigger(availableNow=True)``, a fresh checkpoint. Wall time includes Spark's
planning and scheduling, not the session start; the first run warms the JVM up and is
thrown away.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="runs per path (best is kept)")
    parser.add_argument("--stages", action="store_true",
                        help="also time the stages of (a') and (c) separately (decode, ranking)")
    args = parser.parse_args()

    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F

    import cdc_rs
    import cdc_rs.spark as cs
    from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore

    spark = (SparkSession.builder.master("local[2]")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.memory", "4g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")

    work = Path(tempfile.mkdtemp(prefix="cdc_rs-bench-"))
    ds = bookstore(events=args.events, batches=args.batches, seed=0)
    for i, path in enumerate(ds.write_parquet(work / "bronze")[:-1]):
        os.utime(path, (1_700_000_000 + i,) * 2)  # the file source takes files in this order
    bronze_dir = str(work / "bronze")
    bronze = spark.read.parquet(bronze_dir + "/bronze-*.parquet")
    lookup = spark.createDataFrame(ds.country_lookup)
    print(f"{ds} on Spark {spark.version}, local[2]")

    def stream():
        return (spark.readStream.schema(bronze.schema).option("maxFilesPerTrigger", 1)
                .option("pathGlobFilter", "bronze-*.parquet").parquet(bronze_dir))

    runs = iter(range(1_000_000))

    def streaming(frame, function) -> float:
        started = time.perf_counter()
        (frame.writeStream.foreachBatch(function)
         .option("checkpointLocation", str(work / f"ckpt-{next(runs)}"))
         .trigger(availableNow=True).start().awaitTermination())
        return time.perf_counter() - started

    # (a) the reference: Spark decodes and joins; foreachBatch ranks (+ MERGE → noop)
    window = Window.partitionBy("customer_id").orderBy(F.col("row_time").desc())

    def reference_batch(micro, batch_id):
        (micro.filter(F.col("row_status").isin(["insert", "update"]))
         .withColumn("rank", F.rank().over(window)).filter("rank == 1").drop("rank")
         .write.format("noop").mode("overwrite").save())

    def reference_stream() -> float:
        parsed = (stream().filter("topic = 'customers'")
                  .select(F.from_json(F.col("value").cast("string"), CUSTOMERS_SCHEMA).alias("v"))
                  .select("v.*")
                  .join(F.broadcast(lookup), F.col("country_code") == F.col("code"), "inner"))
        return streaming(parsed, reference_batch)

    def reference_batch_job() -> float:
        started = time.perf_counter()
        (bronze.filter("topic = 'customers'")
         .select(F.from_json(F.col("value").cast("string"), CUSTOMERS_SCHEMA).alias("v")).select("v.*")
         .join(F.broadcast(lookup), F.col("country_code") == F.col("code"), "inner")
         .filter(F.col("row_status").isin(["insert", "update"]))
         .withColumn("rank", F.rank().over(window)).filter("rank == 1").drop("rank")
         .write.format("noop").mode("overwrite").save())
        return time.perf_counter() - started

    # (b) foreachBatch + cdc_rs on the driver
    def new_upsert():
        return cdc_rs.batch_upsert(
            cdc_rs.MemoryTable(), keys=["customer_id"], sequence_by="row_time",
            value_schema=CUSTOMERS_SCHEMA, topic="customers", operation_column="row_status",
            delete_operations=("delete",), lookup=ds.country_lookup,
            lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)

    engine_seconds: list[float] = []

    def cdc_rs_stream() -> float:
        upsert = new_upsert()
        engine_seconds.clear()
        seconds = streaming(stream(), lambda df, batch_id: engine_seconds.append(upsert(df, batch_id).seconds))
        assert upsert.target.last_batch_id == args.batches - 1
        return seconds

    # (c) executor side
    def executor_path() -> float:
        started = time.perf_counter()
        events = cs.from_json(bronze.filter("topic = 'customers'").select("partition", "offset", "value"),
                              "value", CUSTOMERS_SCHEMA)
        enriched = (events.filter(F.col("row_status").isin("insert", "update", "delete"))
                    .join(F.broadcast(lookup), F.col("country_code") == F.col("code"), "left")
                    .filter(F.col("code").isNotNull() | (F.col("row_status") == "delete")))
        (cs.latest(enriched, ["customer_id"], "row_time", ["partition", "offset"])
         .filter("row_status <> 'delete'").select(*SILVER_COLUMNS)
         .write.format("noop").mode("overwrite").save())
        return time.perf_counter() - started

    def pyarrow_path() -> float:
        upsert = new_upsert()
        started = time.perf_counter()
        for batch_id, batch in enumerate(ds.bronze):
            upsert(batch, batch_id)
        return time.perf_counter() - started

    paths = {
        "(a) reference, streaming foreachBatch (Spark from_json+join+rank, MERGE->noop)": reference_stream,
        "(a') reference as one batch job (Spark from_json+join+rank -> noop)": reference_batch_job,
        "(b) streaming foreachBatch(cdc_rs.batch_upsert), driver side": cdc_rs_stream,
        "(c) executor path: cs.from_json + broadcast join + cs.latest -> noop": executor_path,
        "(d) batch_upsert from pyarrow, no Spark": pyarrow_path,
    }
    reference_stream()  # warm-up: JVM JIT, Python workers
    executor_path()
    print(f"{'path':<84} {'best s':>8} {'events/s':>12}")
    for name, run in paths.items():
        best = min(run() for _ in range(args.repeat))
        print(f"{name:<84} {best:8.2f} {args.events / best:12,.0f}", flush=True)
        if run is cdc_rs_stream:
            print(f"{'    of which inside batch_upsert (decode+join+rank+merge, incl. toArrow)':<84} "
                  f"{sum(engine_seconds):8.2f}")
    if args.stages:
        stages(spark, bronze, args.repeat)
    spark.stop()


def stages(spark, bronze, repeat: int) -> None:
    """Decode and ranking on their own, each written to ``noop`` (best of ``repeat``)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    import cdc_rs.spark as cs
    from cdc_rs.datasets import CUSTOMERS_SCHEMA

    customers = bronze.filter("topic = 'customers'").select("partition", "offset", "value")
    spark_decoded = (customers.select("partition", "offset",
                                      F.from_json(F.col("value").cast("string"), CUSTOMERS_SCHEMA).alias("v"))
                     .select("partition", "offset", "v.*"))
    valid = spark_decoded.filter("customer_id IS NOT NULL AND row_time IS NOT NULL")
    window = Window.partitionBy("customer_id").orderBy(F.col("row_time").desc(), "partition", "offset")
    frames = {
        "scan (customers rows, no decode)": customers,
        "mapInArrow identity (the JVM<->Python Arrow hop alone)": customers.mapInArrow(lambda it: it, customers.schema),
        "Spark F.from_json": spark_decoded,
        "cdc_rs.spark.from_json": cs.from_json(customers, "value", CUSTOMERS_SCHEMA),
        "F.from_json + row_number() == 1": valid.withColumn("r", F.row_number().over(window)).filter("r = 1"),
        "F.from_json + cdc_rs.spark.latest": cs.latest(valid, "customer_id", "row_time", ["partition", "offset"]),
    }
    print(f"{'stage':<84} {'best s':>8}")
    for name, frame in frames.items():
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            frame.write.format("noop").mode("overwrite").save()
            best = min(best, time.perf_counter() - started)
        print(f"{name:<84} {best:8.2f}", flush=True)


if __name__ == "__main__":
    main()
