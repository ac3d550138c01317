"""DeltaTarget and Spark on one Delta table: DeltaTarget continues a table Spark created (with
deletion vectors on) and compacted with its own OPTIMIZE, and refuses a table Spark filled, before
writing anything."""

from __future__ import annotations

import pyarrow as pa
import pytest
from spark_helpers import spark  # noqa: F401

import cdc_rs

pytest.importorskip("deltalake")

COLUMNS = "id BIGINT, ts BIGINT, v STRING"


def _upsert(target):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               upsert_operations=["upsert"], delete_operations=["delete"],
                               except_column_list=["op"])


def _batch(ids, ts, ops, values) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "ts": pa.array(ts, pa.int64()),
                     "op": pa.array(ops, pa.string()), "v": pa.array(values, pa.string())})


BATCHES = [
    _batch(range(40), [1] * 40, ["upsert"] * 40, [f"a{i}" for i in range(40)]),
    _batch([1, 2, 3, 50], [2, 2, 2, 1], ["upsert", "delete", "upsert", "upsert"], ["b", None, "b", "n"]),
    _batch(range(0, 40, 3), [3] * 14, ["delete"] * 14, [None] * 14),
    _batch([2, 3, 6, 7], [1, 4, 9, 9], ["upsert"] * 4, ["late", "c", "back", "c"]),
]


def _rows(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: r["id"])


def test_delta_target_continues_a_table_spark_created_and_optimized(spark, tmp_path):
    path = tmp_path / "silver"
    spark.sql(f"CREATE TABLE delta.`{path}` ({COLUMNS}) USING DELTA "
              "TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    memory = _upsert(cdc_rs.MemoryTable())
    for batch_id, batch in enumerate(BATCHES[:3]):
        _upsert(cdc_rs.DeltaTarget(path))(batch, batch_id)  # a new process each time, as it were
        memory(batch, batch_id)
    spark_rows = spark.read.format("delta").load(str(path)).toArrow()
    assert _rows(spark_rows) == _rows(memory.target.to_arrow())
    # Spark compacts the table (its OPTIMIZE rewrites the files our vectors point into) …
    spark.sql(f"OPTIMIZE delta.`{path}`")
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").select("operation").collect()
    assert history[0]["operation"] == "OPTIMIZE"
    # … and DeltaTarget goes on from Spark's version
    _upsert(cdc_rs.DeltaTarget(path))(BATCHES[3], 3)
    memory(BATCHES[3], 3)
    assert _rows(spark.read.format("delta").load(str(path)).toArrow()) == _rows(memory.target.to_arrow())
    assert _rows(cdc_rs.DeltaTarget(path).to_arrow()) == _rows(memory.target.to_arrow())


def test_a_table_spark_filled_is_refused_before_anything_is_written(spark, tmp_path):
    path = tmp_path / "spark_silver"
    spark.sql(f"CREATE TABLE delta.`{path}` ({COLUMNS}) USING DELTA "
              "TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    spark.sql(f"INSERT INTO delta.`{path}` VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 1, 'c')")
    spark.sql(f"DELETE FROM delta.`{path}` WHERE id = 2")  # Spark's own deletion vector
    versions = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count()
    with pytest.raises(cdc_rs.TargetStateError, match="no cdc_rs bookkeeping"):
        _upsert(cdc_rs.DeltaTarget(path))(BATCHES[1], 0)
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() == versions
    assert _rows(spark.read.format("delta").load(str(path)).toArrow()) == [
        {"id": 1, "ts": 1, "v": "a"}, {"id": 3, "ts": 1, "v": "c"}]
