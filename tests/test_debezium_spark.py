"""format="debezium" on Spark's executors (cdc_rs.spark.on_executors) equals the driver path:
the normalisation runs inside mapInArrow too, and a micro-batch without value_schema gets one
row schema for all its partitions."""

from __future__ import annotations

import pyarrow as pa
import pytest
from spark_helpers import spark  # noqa: F401

import cdc_rs
import cdc_rs.spark as cs
from cdc_rs.datasets import debezium

COUNTERS = ("rows_in", "other_topics", "malformed", "ignored_operations", "null_keys",
            "null_sequences", "lookup_misses", "superseded", "inserted", "updated", "deleted",
            "tombstoned", "stale", "skipped_replay")


def sorted_rows(table: pa.Table) -> list[dict]:
    """Rows by id; a time of day as microseconds (Delta has no time type: it stores them so)."""
    time = table.schema.get_field_index("login_time")
    if pa.types.is_time(table.schema.field(time).type):
        table = table.set_column(time, "login_time", table.column(time).cast(pa.int64()))
    return table.sort_by("id").to_pylist()


def counters(report: cdc_rs.BatchReport) -> dict:
    return {name: getattr(report, name) for name in COUNTERS}


@pytest.mark.parametrize("schemas", [True, False], ids=["wrapped", "value_schema"])
def test_debezium_on_executors_equals_the_driver_path(spark, tmp_path, schemas):
    feed = debezium(events=600, batches=3, seed=5, connector="postgresql", schemas=schemas)
    ranked = cs.on_executors(cdc_rs.batch_upsert(**feed.upsert_options()), shuffle_above=0)
    on_delta = cs.on_executors(cdc_rs.batch_upsert(cdc_rs.DeltaTarget(tmp_path / "silver"),
                                                   **feed.upsert_options()))
    driver = cdc_rs.batch_upsert(**feed.upsert_options())
    for batch_id, batch in enumerate(feed.bronze):
        micro = spark.createDataFrame(batch).repartition(3).localCheckpoint()
        expected = driver(micro.toArrow(), batch_id)
        assert expected.accounted == expected.rows_in == batch.num_rows
        for upsert in (ranked, on_delta):
            report = upsert(micro, batch_id)
            assert counters(report) == counters(expected)
            assert report.rejected.to_pylist() == expected.rejected.to_pylist()
    rows = sorted_rows(driver.target.to_arrow())
    assert sorted_rows(ranked.target.to_arrow()) == rows
    assert sorted_rows(on_delta.target.to_arrow()) == rows


def test_a_micro_batch_of_tombstones_only_applies_nothing_on_executors(spark):
    feed = debezium(events=50, batches=1, seed=1)
    upsert = cs.on_executors(cdc_rs.batch_upsert(**feed.upsert_options()))
    tombstones = pa.table({"key": pa.array([b'{"id":1}'] * 3), "value": pa.nulls(3, pa.binary()),
                           "topic": [feed.topic] * 3})
    report = upsert(spark.createDataFrame(tombstones), 0)
    assert (report.rows_in, report.ignored_operations, report.accounted) == (3, 3, 3)
    assert len(upsert.target) == 0


def test_into_a_spark_merge_target_that_keeps_the_sequence(spark):
    import uuid

    feed = debezium(events=400, batches=2, seed=8, connector="mysql")
    columns = ["id", "name", "email", "balance", "birth_date", "created_at", "seen_at",
               "updated_at", "login_time", "notes", *cdc_rs.DEBEZIUM_SEQUENCE]
    table = f"customers_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE TABLE {table} (id INT, name STRING, email STRING, balance DECIMAL(12,2), "
              "birth_date DATE, created_at TIMESTAMP_NTZ, seen_at TIMESTAMP_NTZ, updated_at "
              "TIMESTAMP, login_time BIGINT, notes STRING, _dbz_streamed TINYINT, _dbz_lsn BIGINT, "
              "_dbz_binlog_file STRING, _dbz_binlog_pos BIGINT, _dbz_binlog_row BIGINT, "
              "_dbz_ts_ms BIGINT) USING delta")
    target = cs.SparkMergeTarget(table, keys="id", sequence_by=cdc_rs.DEBEZIUM_SEQUENCE, spark=spark)
    on_driver = cdc_rs.batch_upsert(target, columns=columns, **feed.upsert_options())
    on_executors = cs.on_executors(on_driver)
    memory = cdc_rs.batch_upsert(**feed.upsert_options())
    for batch_id, batch in enumerate(feed.bronze):
        micro = spark.createDataFrame(batch).repartition(2).localCheckpoint()
        memory(micro.toArrow(), batch_id)
        upsert = on_driver if batch_id == 0 else on_executors  # both shapes, one table
        report = upsert(micro, batch_id)
        assert report.accounted == report.rows_in == batch.num_rows
    merged = spark.table(table).toArrow().drop_columns(list(cdc_rs.DEBEZIUM_SEQUENCE))
    assert sorted_rows(merged) == sorted_rows(memory.target.to_arrow()) == sorted_rows(feed.final_rows)
