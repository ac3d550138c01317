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
