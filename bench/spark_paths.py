"""Events/s of the reference pipeline's Spark shapes into a real Delta silver table, local[2].

    .venv/bin/python bench/spark_paths.py --events 5000000 --batches 5 --repeat 1

Every path reads the same bronze Parquet folder as a stream (a file source, one file per
micro-batch, ``trigger(availableNow=True)``, a fresh checkpoint) and ends in ``MERGE INTO`` a
fresh Delta table, one MERGE per micro-batch:

(a) the reference notebook: Spark ``from_json`` + broadcast join in the stream, the newest
    event per key and its ``MERGE`` (update when newer, insert when new) in ``foreachBatch``.
    Its ``rank()`` is a ``row_number()`` here: with ``rank()`` the feed's ties make the MERGE
    fail ("multiple source rows matched") at the first micro-batch;
(b) ``foreachBatch(cdc_rs.batch_upsert(SparkMergeTarget))``, the driver path: each
    micro-batch collected with ``toArrow()``, decoded, joined and ranked by cdc_rs on the
    driver, handed back with ``createDataFrame``, merged (tombstones and deletes included);
(c) ``foreachBatch(cdc_rs.spark.on_executors(upsert))``, the executor path: the same upsert
    inside ``mapInArrow`` on the executors, one change per key MERGEd by Spark into the
    ``SparkMergeTarget``;
(e) the executor path into a ``cdc_rs.DeltaTarget``: one change per key collected to the
    driver and written by cdc_rs as one merge-on-read Delta commit per micro-batch (the table
    then read back by Spark to check it);
(d) for scale: the same batches through batch_upsert into a MemoryTable, no Spark.

The bronze files have row groups of 250k rows, so Spark reads each micro-batch in two tasks.
Wall time includes Spark's planning and scheduling, not the session start; a first run of (a)
and (c) warms the JVM and the Python workers up and is thrown away. Per path, the stage times
are summed over its micro-batches. ``--stages`` also times the pieces on their own (to noop).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

REFERENCE_MERGE = """
    MERGE INTO {table} c
    USING ranked_updates r
    ON c.customer_id=r.customer_id
        WHEN MATCHED AND c.row_time < r.row_time
          THEN UPDATE SET *
        WHEN NOT MATCHED
          THEN INSERT *
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="runs per path (best is kept)")
    parser.add_argument("--paths", default="abced",
                        help="which paths to run, by letter (default: all, abced)")
    parser.add_argument("--stages", action="store_true",
                        help="also time the pieces on their own, written to noop (decode, ranking)")
    args = parser.parse_args()

    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    from delta_readers import spark_delta_jars
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F

    import cdc_rs
    import cdc_rs.spark as cs
    from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore

    work = Path(tempfile.mkdtemp(prefix="cdc_rs-bench-"))
    spark = (SparkSession.builder.master("local[2]")
             .config("spark.jars", spark_delta_jars())
             .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
             .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
             .config("spark.sql.warehouse.dir", str(work / "warehouse"))
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.databricks.delta.snapshotPartitions", "2")  # Delta's log: 50 tasks
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.memory", "4g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")

    ds = bookstore(events=args.events, batches=args.batches, seed=0)
    # Row groups of 250k rows (~65 MB), as Spark's writer would cut these files: each
    # micro-batch is read in two tasks, not one.
    for i, path in enumerate(ds.write_parquet(work / "bronze", row_group_rows=250_000)[:-1]):
        os.utime(path, (1_700_000_000 + i,) * 2)  # the file source takes files in this order
    bronze_dir = str(work / "bronze")
    bronze = spark.read.parquet(bronze_dir + "/bronze-*.parquet")
    lookup = spark.createDataFrame(ds.country_lookup)
    print(f"{ds} on Spark {spark.version} + Delta, local[2]")

    def stream():
        return (spark.readStream.schema(bronze.schema).option("maxFilesPerTrigger", 1)
                .option("pathGlobFilter", "bronze-*.parquet").parquet(bronze_dir))

    runs = iter(range(1_000_000))
    stage_seconds: dict[str, float] = defaultdict(float)

    def streaming(frame, function) -> float:
        stage_seconds.clear()
        started = time.perf_counter()
        (frame.writeStream.foreachBatch(function)
         .option("checkpointLocation", str(work / f"ckpt-{next(runs)}"))
         .trigger(availableNow=True).start().awaitTermination())
        return time.perf_counter() - started

    def new_silver() -> str:
        name = f"silver_{next(runs)}"
        spark.sql(f"CREATE TABLE {name} (customer_id STRING, email STRING, first_name STRING, "
                  "last_name STRING, gender STRING, street STRING, city STRING, country STRING, "
                  "row_time TIMESTAMP) USING delta")
        return name

    # (a) the reference: Spark decodes and joins in the stream; foreachBatch ranks and merges
    # (row_number, not the notebook's rank: its ties fail the MERGE)
    window = Window.partitionBy("customer_id").orderBy(F.col("row_time").desc())

    def reference_stream() -> float:
        table = new_silver()

        def reference_batch(micro, batch_id):
            started = time.perf_counter()
            (micro.filter(F.col("row_status").isin(["insert", "update"]))
             .withColumn("rank", F.row_number().over(window)).filter("rank == 1").drop("rank")
             .createOrReplaceTempView("ranked_updates"))
            micro.sparkSession.sql(REFERENCE_MERGE.format(table=table))
            stage_seconds["rank + MERGE (one Spark job)"] += time.perf_counter() - started

        parsed = (stream().filter("topic = 'customers'")
                  .select(F.from_json(F.col("value").cast("string"), CUSTOMERS_SCHEMA).alias("v"))
                  .select("v.*")
                  .join(F.broadcast(lookup), F.col("country_code") == F.col("code"), "inner"))
        return streaming(parsed, reference_batch)

    def new_upsert(target):
        return cdc_rs.batch_upsert(
            target, keys=["customer_id"], sequence_by="row_time",
            value_schema=CUSTOMERS_SCHEMA, topic="customers", operation_column="row_status",
            delete_operations=("delete",), lookup=ds.country_lookup,
            lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)

    def merge_target():
        return cs.SparkMergeTarget(new_silver(), keys="customer_id", sequence_by="row_time", spark=spark)

    expected = new_upsert(cdc_rs.MemoryTable())
    expected.apply_all(ds.bronze)
    expected_rows = len(expected.target)

    def check(target) -> None:
        rows = len(target)
        assert rows == expected_rows, f"{target}: {rows} rows, a MemoryTable has {expected_rows}"

    # (b) foreachBatch + cdc_rs on the driver
    def driver_stream() -> float:
        upsert = new_upsert(merge_target())

        def batch(micro, batch_id):
            report = upsert(micro, batch_id)
            stage_seconds["toArrow + cdc_rs + createDataFrame + MERGEs"] += report.seconds

        seconds = streaming(stream(), batch)
        check(upsert.target)
        return seconds

    # (c) the executor path
    def executor_stream() -> float:
        upsert = cs.on_executors(new_upsert(merge_target()))

        def batch(micro, batch_id):
            upsert(micro, batch_id)
            for stage, seconds in upsert.last_stage_seconds.items():
                stage_seconds[stage] += seconds

        seconds = streaming(stream(), batch)
        check(upsert.target)
        return seconds

    def executor_delta_stream() -> float:
        path = work / f"delta-{next(runs)}"
        upsert = cs.on_executors(new_upsert(cdc_rs.DeltaTarget(path)))

        def batch(micro, batch_id):
            upsert(micro, batch_id)
            for stage, seconds in upsert.last_stage_seconds.items():
                stage_seconds[stage] += seconds

        seconds = streaming(stream(), batch)
        rows = spark.read.format("delta").load(str(path)).count()
        assert rows == expected_rows, f"Spark reads {rows} rows from {path}, a MemoryTable has {expected_rows}"
        return seconds

    def pyarrow_path() -> float:
        upsert = new_upsert(cdc_rs.MemoryTable())
        started = time.perf_counter()
        upsert.apply_all(ds.bronze)
        return time.perf_counter() - started

    paths = {
        "(a) reference notebook: from_json + join, foreachBatch row_number() + MERGE": reference_stream,
        "(b) foreachBatch(batch_upsert(SparkMergeTarget)), cdc_rs on the driver": driver_stream,
        "(c) foreachBatch(on_executors(upsert)), cdc_rs on the executors": executor_stream,
        "(e) foreachBatch(on_executors(upsert)) into a DeltaTarget (cdc_rs writes Delta)": executor_delta_stream,
        "(d) batch_upsert into a MemoryTable from pyarrow, no Spark": pyarrow_path,
    }
    paths = {name: run for name, run in paths.items() if name[1] in args.paths}
    reference_stream()  # warm-up: JVM JIT, Python workers
    executor_delta_stream()
    print(f"{'path':<76} {'best s':>8} {'events/s':>12}")
    best_of: dict[str, float] = {}
    for name, run in paths.items():
        best, stages_of_best = float("inf"), {}
        for _ in range(args.repeat):
            seconds = run()
            if seconds < best:
                best, stages_of_best = seconds, dict(stage_seconds)
        best_of[name[:3]] = best
        print(f"{name:<76} {best:8.2f} {args.events / best:12,.0f}", flush=True)
        for stage, seconds in (stages_of_best if run is not pyarrow_path else {}).items():
            print(f"{'    ' + stage:<76} {seconds:8.2f}")
    if "(a)" in best_of:
        print("the reference (a) / the path: " + ", ".join(
            f"{path} {best_of['(a)'] / best_of[path]:.2f}x" for path in ("(b)", "(c)", "(e)")
            if path in best_of))
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
