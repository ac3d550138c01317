"""Shared pieces of the Spark tests (tests/test_spark_*.py): one local[2] session with Delta
Lake per pytest process (each xdist worker gets its own, with its own temp dirs), the
bookstore data set landed as Parquet, and the reference notebook's pipeline written in plain
Spark.

Import the fixtures into a test module with ``from spark_helpers import spark, ...``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable

pytest.importorskip("pyspark")

import cdc_rs  # noqa: E402
from delta_readers import spark_delta_jars  # noqa: E402
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore  # noqa: E402

EVENTS = 3_000
BATCHES = 4
SEED = 11
KEYS = ["customer_id"]
ARRIVAL = ["partition", "offset"]


def _java_available() -> bool:
    return bool(os.environ.get("JAVA_HOME")) or shutil.which("java") is not None


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """A classic local[2] SparkSession with Delta Lake (UTC session time zone, UI off),
    stopped at the end."""
    if not _java_available():
        pytest.skip("no Java runtime for Spark")
    from pyspark.sql import SparkSession

    base = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("cdc_rs-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(base / "warehouse"))
        .config("spark.local.dir", str(base / "local"))
        .config("spark.driver.memory", "1g")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.jars", spark_delta_jars())
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        # Delta rebuilds a table's snapshot in 50 tasks by default: 2 for the tests' small tables
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def dataset():
    """The bookstore feed of the Spark tests: a few thousand dirty events in micro-batches."""
    return bookstore(events=EVENTS, batches=BATCHES, seed=SEED)


@pytest.fixture(scope="session")
def bronze_dir(dataset, tmp_path_factory) -> Path:
    """The data set landed with ``write_parquet`` (bronze-*.parquet + _country_lookup.parquet)."""
    directory = tmp_path_factory.mktemp("bronze")
    dataset.write_parquet(directory)
    return directory


def notebook_upsert(dataset, target=None, **overrides) -> cdc_rs.BatchUpsert:
    """The notebook's upsert, all in cdc_rs: decode, topic, lookup, ranking, merge."""
    options = dict(
        keys=KEYS, sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA, topic="customers",
        operation_column="row_status", delete_operations=("delete",),
        lookup=dataset.country_lookup, lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS,
    )
    options.update(overrides)
    return cdc_rs.batch_upsert(cdc_rs.MemoryTable() if target is None else target, **options)


def parsed_upsert(target=None) -> cdc_rs.BatchUpsert:
    """The upsert of the reference's own shape: Spark decoded and joined, cdc_rs ranks and merges."""
    return cdc_rs.batch_upsert(
        cdc_rs.MemoryTable() if target is None else target, keys=KEYS, sequence_by="row_time",
        operation_column="row_status", delete_operations=("delete",), columns=SILVER_COLUMNS,
    )


def sorted_rows(table) -> list[dict]:
    """A pyarrow table's rows, as dicts, sorted by customer_id (None-safe)."""
    return sorted(table.to_pylist(), key=lambda r: (r["customer_id"] is None, r["customer_id"] or ""))


def spark_decoded(bronze):
    """The reference's decode, in Spark: topic filter, from_json, ``v.*`` (arrival columns kept)."""
    from pyspark.sql import functions as F

    return (bronze.filter("topic = 'customers'")
            .select(*ARRIVAL, F.from_json(F.col("value").cast("string"), CUSTOMERS_SCHEMA).alias("v"))
            .select(*ARRIVAL, "v.*"))


def spark_latest(events, order=ARRIVAL):
    """The reference's ranking with a deterministic tie rule: row_number over newest row_time,
    then earliest arrival; null keys and null sequences dropped, as cdc_rs does."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(*KEYS).orderBy(F.col("row_time").desc(), *[F.col(c).asc() for c in order])
    return (events.filter(F.col("customer_id").isNotNull() & F.col("row_time").isNotNull())
            .withColumn("_rank", F.row_number().over(window))
            .filter("_rank = 1").drop("_rank"))
