"""SparkMergeTarget / merge_statement: cdc_rs ranks, Spark runs MERGE INTO (e.g. Delta).

Delta's jars are not available offline, so the statement is checked as text and through
Spark's SQL parser, the change set handed to Spark is checked row by row, and the run
against a real Delta table is skipped with the reason."""

from __future__ import annotations

import pickle

import cloudpickle
import pyarrow as pa
import pytest
from spark_helpers import bronze_dir, dataset, notebook_upsert, spark  # noqa: F401

import cdc_rs
import cdc_rs.spark as cs
from cdc_rs.datasets import SILVER_COLUMNS


def test_statement_text_with_deletes():
    sql = cs.merge_statement("main.bookstore.customers_silver", "ranked_updates",
                             columns=SILVER_COLUMNS, keys="customer_id", sequence_by="row_time")
    lines = sql.splitlines()
    assert lines[0] == "MERGE INTO main.bookstore.customers_silver AS t"
    assert lines[1] == "USING ranked_updates AS s"
    assert lines[2] == "ON t.`customer_id` = s.`customer_id`"
    op = "s.`_cdc_rs_operation`"
    assert lines[3] == f"WHEN MATCHED AND {op} IN ('delete') AND (t.`row_time` < s.`row_time`) THEN DELETE"
    assert lines[4].startswith(f"WHEN MATCHED AND ({op} IS NULL OR {op} NOT IN ('delete')) "
                               "AND (t.`row_time` < s.`row_time`) THEN UPDATE SET t.`customer_id` = s.`customer_id`, ")
    assert lines[5].startswith(f"WHEN NOT MATCHED AND ({op} IS NULL OR {op} NOT IN ('delete')) THEN INSERT (`customer_id`, `email`,")
    assert lines[5].endswith("VALUES (s.`customer_id`, s.`email`, s.`first_name`, s.`last_name`, s.`gender`, "
                             "s.`street`, s.`city`, s.`country`, s.`row_time`)")
    assert "_cdc_rs_operation" not in lines[4].split("UPDATE SET")[1]  # never written to the table
    assert len(lines) == 6


def test_statement_text_of_the_reference():
    """Without deletes it is the reference notebook's MERGE, with explicit columns."""
    sql = cs.merge_statement("customers_silver", "ranked_updates", columns=["customer_id", "email", "row_time"],
                             keys=["customer_id"], sequence_by="row_time", operation_column=None)
    assert sql == (
        "MERGE INTO customers_silver AS t\n"
        "USING ranked_updates AS s\n"
        "ON t.`customer_id` = s.`customer_id`\n"
        "WHEN MATCHED AND (t.`row_time` < s.`row_time`) THEN UPDATE SET t.`customer_id` = s.`customer_id`, "
        "t.`email` = s.`email`, t.`row_time` = s.`row_time`\n"
        "WHEN NOT MATCHED THEN INSERT (`customer_id`, `email`, `row_time`) "
        "VALUES (s.`customer_id`, s.`email`, s.`row_time`)"
    )


def test_statement_with_composite_keys_sequences_and_odd_names():
    sql = cs.merge_statement("t1", "v1", columns=["tenant", "id", "major", "minor", "we`ird"],
                             keys=["tenant", "id"], sequence_by=["major", "minor"],
                             operation_column="op", delete_operations=["delete", "it's gone"])
    assert "ON t.`tenant` = s.`tenant` AND t.`id` = s.`id`" in sql
    newer = "((t.`major` < s.`major`) OR (t.`major` = s.`major` AND t.`minor` < s.`minor`))"
    assert f"IN ('delete', 'it\\'s gone') AND {newer} THEN DELETE" in sql
    assert "t.`we``ird` = s.`we``ird`" in sql


def test_statement_refuses_what_cannot_work():
    with pytest.raises(cdc_rs.ConfigError, match="row_time"):
        cs.merge_statement("t", "s", columns=["customer_id"], keys="customer_id", sequence_by="row_time")
    with pytest.raises(cdc_rs.ConfigError):
        cs.merge_statement("t", "s", columns=[], keys="k", sequence_by="s")


@pytest.mark.parametrize("composite", [False, True])
def test_spark_parses_the_statement(spark, composite):
    keys, sequence = (["tenant", "id"], ["major", "minor"]) if composite else ("customer_id", "row_time")
    columns = (["tenant", "id", "major", "minor", "v"] if composite else SILVER_COLUMNS)
    sql = cs.merge_statement("cat.db.silver", "changes", columns=columns, keys=keys, sequence_by=sequence)
    plan = spark._jsparkSession.sessionState().sqlParser().parsePlan(sql)
    assert "MergeIntoTable" in plan.getClass().getName()


class RecordingTarget(cs.SparkMergeTarget):
    """Runs everything but the MERGE itself (no Delta here): keeps the statement and the
    change set Spark was handed, and answers with Delta-style metrics."""

    def __init__(self, *args, metrics=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.handed: list[pa.Table] = []
        self.metrics = metrics or {}

    def _execute(self, spark, statement):
        view = statement.splitlines()[1].split()[1]
        self.handed.append(spark.table(view).toArrow())
        return self.metrics


def test_the_target_hands_spark_one_change_per_key(spark, dataset):
    target = RecordingTarget("customers_silver", keys="customer_id", sequence_by="row_time", spark=spark,
                             metrics={"num_affected_rows": 5, "num_updated_rows": 1,
                                      "num_deleted_rows": 1, "num_inserted_rows": 3})
    upsert = notebook_upsert(dataset, target=target)
    report = upsert(dataset.bronze[2], 2)
    changes = target.handed[0]
    ids = changes.column("customer_id").to_pylist()
    assert len(ids) == len(set(ids)) and None not in ids
    assert changes.column_names == [*SILVER_COLUMNS, cs.CHANGE_OPERATION_COLUMN]
    # the upserts are exactly what a fresh MemoryTable keeps from that one batch …
    fresh = notebook_upsert(dataset)
    fresh(dataset.bronze[2], 2)
    upserts = changes.filter(pa.compute.equal(changes.column(cs.CHANGE_OPERATION_COLUMN), "upsert"))
    assert sorted(upserts.drop([cs.CHANGE_OPERATION_COLUMN]).to_pylist(), key=lambda r: r["customer_id"]) == \
        sorted(fresh.target.to_arrow().to_pylist(), key=lambda r: r["customer_id"])
    # … and the deletes carry their key and sequence
    deletes = changes.filter(pa.compute.equal(changes.column(cs.CHANGE_OPERATION_COLUMN), "delete"))
    assert deletes.num_rows == fresh.target.keys_tracked - len(fresh.target) > 0
    assert deletes.column("row_time").null_count == 0 and deletes.column("email").null_count == deletes.num_rows
    assert "THEN DELETE" in target.last_statement
    # the report: the pipeline's filters, the MERGE's outcome
    assert (report.inserted, report.updated, report.deleted) == (3, 1, 1)
    assert report.stale == upserts.num_rows - 4 and report.tombstoned == deletes.num_rows - 1
    assert report.accounted == report.rows_in
    assert not spark.catalog.listTables() or all(not t.name.startswith("_cdc_rs") for t in spark.catalog.listTables())


def test_the_target_pickles_without_its_session(spark, dataset):
    target = cs.SparkMergeTarget("customers_silver", keys="customer_id", sequence_by="row_time", spark=spark)
    for module in (pickle, cloudpickle):
        copy = module.loads(module.dumps(notebook_upsert(dataset, target=target)))
        assert copy.target._spark is None and copy.target.table_name == "customers_silver"
        assert copy.target._session() is spark  # the active session, where the batch runs


def test_merge_into_a_delta_table(spark, dataset):
    try:
        spark._jvm.java.lang.Class.forName("io.delta.sql.DeltaSparkSessionExtension")
    except Exception:
        reason = "delta-spark jars not available offline"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    spark.sql("CREATE TABLE customers_silver (customer_id STRING, email STRING, first_name STRING, "
              "last_name STRING, gender STRING, street STRING, city STRING, country STRING, "
              "row_time TIMESTAMP) USING DELTA")  # pragma: no cover - needs Delta
    target = cs.SparkMergeTarget("customers_silver", keys="customer_id", sequence_by="row_time", spark=spark)
    upsert = notebook_upsert(dataset, target=target)
    memory = notebook_upsert(dataset)
    for batch_id, batch in enumerate(dataset.bronze):
        upsert(batch, batch_id)
        memory(batch, batch_id)
    got = spark.table("customers_silver").toArrow().to_pylist()
    assert len(got) == len({r["customer_id"] for r in got})  # the reference's unit test
    # no tombstones in a table: an event older than a delete, in a later batch, re-inserts
    # its key; every row of the MemoryTable is there unchanged
    rows = {r["customer_id"]: r for r in got}
    assert all(rows.get(r["customer_id"]) == r for r in memory.target.to_arrow().to_pylist())


def test_apply_all_runs_through_the_target_which_keeps_no_batch_ids(spark, dataset):
    target = RecordingTarget("customers_silver", keys="customer_id", sequence_by="row_time", spark=spark,
                             metrics={"num_affected_rows": 0})
    assert target.last_batch_id is None  # the stream's checkpoint keeps them, not the table
    reports = notebook_upsert(dataset, target=target).apply_all(dataset.bronze[:2])
    assert [r.batch_id for r in reports] == [0, 1] and len(target.handed) == 2
    spark.createDataFrame([(1,), (2,)], "id INT").createOrReplaceTempView("three_minus_one")
    assert len(cs.SparkMergeTarget("three_minus_one", keys="id", sequence_by="id", spark=spark)) == 2
