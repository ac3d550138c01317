"""Snapshots into a Spark-managed Delta table (SparkMergeTarget): each snapshot's difference
is MERGEd by Spark, and the table ends as a MemoryTable fed the same snapshots."""

from __future__ import annotations

import uuid

import pyarrow as pa
from spark_helpers import spark  # noqa: F401

import cdc_rs
import cdc_rs.spark as cs
from cdc_rs._snapshot import VERSION


def snap(ids, values) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "v": pa.array(values, pa.string())})


def counts(report) -> tuple:
    return (report.inserted, report.updated, report.deleted, report.unchanged, report.skipped_replay)


def test_a_spark_merge_target_holds_the_last_snapshot(spark):
    table = f"snapshots_{uuid.uuid4().hex[:12]}"
    spark.sql(f"CREATE TABLE {table} (id BIGINT, v STRING, {VERSION} BIGINT) USING DELTA")
    target = cs.SparkMergeTarget(table, keys="id", sequence_by=VERSION, spark=spark)
    flow, memory = cdc_rs.snapshot_upsert(target, keys="id"), cdc_rs.snapshot_upsert(keys="id")
    snapshots = [(snap([1, 2, 3], ["a", "b", "c"]), 1),
                 (snap([1, 2, 4], ["a", "B", "d"]), 2),   # an update, an insert, a delete
                 (snap([9], ["z"]), 2),                    # a replayed version
                 (snap([3, 4], ["c", "d"]), 5)]            # a deleted key comes back
    for data, version in snapshots:
        assert counts(flow(data, version)) == counts(memory(data, version))
    rows = spark.table(table).toArrow().drop_columns([VERSION]).sort_by("id")
    assert rows.to_pydict() == memory.target.to_arrow().sort_by("id").to_pydict()
    assert rows.to_pydict() == {"id": [3, 4], "v": ["c", "d"]}
