"""The reference streaming query with cdc_rs: readStream over bronze Parquet files,
foreachBatch(upsert), availableNow, restarts from the checkpoint."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import cloudpickle
import pyarrow as pa
import pytest
from spark_helpers import (bronze_dir, dataset, notebook_upsert, parsed_upsert,  # noqa: F401
                           sorted_rows, spark)

import cdc_rs
import cdc_rs.spark as cs
from cdc_rs.datasets import CUSTOMERS_SCHEMA

BRONZE_DDL = "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP"


def land(source: Path, landing: Path, indexes) -> None:
    """Copy bronze files into the stream's folder, with increasing modification times so the
    file source picks them up in arrival order."""
    landing.mkdir(parents=True, exist_ok=True)
    for i in indexes:
        target = landing / f"bronze-{i:05d}.parquet"
        shutil.copy(source / f"bronze-{i:05d}.parquet", target)
        os.utime(target, (1_700_000_000 + i, 1_700_000_000 + i))


def bronze_stream(spark, landing: Path):
    return (spark.readStream.schema(BRONZE_DDL)
            .option("maxFilesPerTrigger", 1)          # one file = one micro-batch
            .option("pathGlobFilter", "bronze-*.parquet")
            .parquet(str(landing)))


def run_available_now(stream, function, checkpoint: Path) -> None:
    query = (stream.writeStream.foreachBatch(function)
             .option("checkpointLocation", str(checkpoint))
             .trigger(availableNow=True)
             .start())
    query.awaitTermination()
    assert query.exception() is None


def pyarrow_path(dataset, upto: int, as_frame=lambda batch: batch):
    """The same events fed straight to a fresh upsert, one Parquet file per batch."""
    fresh = notebook_upsert(dataset)
    for batch_id, batch in enumerate(dataset.bronze[:upto]):
        fresh(as_frame(batch), batch_id)
    return fresh.target.to_arrow()


def test_streaming_query_with_new_files_and_a_restart_matches_the_pyarrow_path(
        spark, dataset, bronze_dir, tmp_path):
    landing, checkpoint = tmp_path / "landing", tmp_path / "checkpoint"
    upsert = notebook_upsert(dataset)  # handed to foreachBatch as is

    land(bronze_dir, landing, [0])
    run_available_now(bronze_stream(spark, landing), upsert, checkpoint)
    assert upsert.target.last_batch_id == 0
    assert sorted_rows(upsert.target.to_arrow()) == sorted_rows(pyarrow_path(dataset, 1))

    land(bronze_dir, landing, range(1, len(dataset.bronze)))  # new files, then a restart
    run_available_now(bronze_stream(spark, landing), upsert, checkpoint)
    assert upsert.target.last_batch_id == len(dataset.bronze) - 1
    silver = upsert.target.to_arrow()
    assert sorted_rows(silver) == sorted_rows(pyarrow_path(dataset, len(dataset.bronze)))
    pandas_silver = pyarrow_path(dataset, len(dataset.bronze), lambda batch: batch.to_pandas())
    assert sorted_rows(silver) == sorted_rows(pandas_silver)  # and the pandas path
    assert silver.num_rows == len(set(silver.column("customer_id").to_pylist()))  # the unit test

    run_available_now(bronze_stream(spark, landing), upsert, checkpoint)  # nothing new
    assert upsert.target.last_batch_id == len(dataset.bronze) - 1
    assert sorted_rows(upsert.target.to_arrow()) == sorted_rows(silver)


@pytest.mark.parametrize("decoder", ["spark", "cdc_rs"])
def test_reference_shape_spark_decodes_and_joins_cdc_rs_ranks_and_merges(
        spark, dataset, bronze_dir, tmp_path, decoder):
    """from_json + broadcast join in Spark; the upsert only ranks and merges (no value_schema,
    topic or lookup) — the same silver table as cdc_rs doing everything.

    One deliberate difference (README, rule 6): cdc_rs never enriches a delete, so a delete
    whose country_code misses the lookup still deletes; the reference's plain inner join
    drops it (see test_spark_executor). The Spark side here lets deletes through the join.
    """
    from pyspark.sql import functions as F

    landing = tmp_path / "landing"
    land(bronze_dir, landing, range(len(dataset.bronze)))
    lookup = spark.createDataFrame(dataset.country_lookup)
    customers = bronze_stream(spark, landing).filter("topic = 'customers'")
    if decoder == "spark":
        decoded = (customers.select(F.from_json(F.col("value").cast("string"), CUSTOMERS_SCHEMA).alias("v"))
                   .select("v.*"))
    else:  # our decoder on the executors, inside the streaming query
        decoded = cs.from_json(customers.select("value"), "value", CUSTOMERS_SCHEMA)
    events = (decoded
              .join(F.broadcast(lookup), F.col("country_code") == F.col("code"), "left")
              .filter(F.col("code").isNotNull() | (F.col("row_status") == "delete")))
    upsert = parsed_upsert()
    reports: list[cdc_rs.BatchReport] = []
    run_available_now(events, lambda df, batch_id: reports.append(upsert(df, batch_id)),
                      tmp_path / "checkpoint")
    assert [r.batch_id for r in reports] == list(range(len(dataset.bronze)))
    assert all(r.accounted == r.rows_in for r in reports)
    assert sorted_rows(upsert.target.to_arrow()) == sorted_rows(pyarrow_path(dataset, len(dataset.bronze)))


@pytest.mark.parametrize("module", [pickle, cloudpickle], ids=["pickle", "cloudpickle"])
def test_the_upsert_survives_pickling_and_takes_a_spark_dataframe(spark, dataset, bronze_dir, module):
    original = notebook_upsert(dataset)
    original(dataset.bronze[0], 0)
    copy = module.loads(module.dumps(original))
    batch = spark.read.parquet(str(bronze_dir / "bronze-00001.parquet"))
    report = copy(batch, 1)
    assert report.rows_in == len(dataset.bronze[1]) and report.accounted == report.rows_in
    assert sorted_rows(copy.target.to_arrow()) == sorted_rows(pyarrow_path(dataset, 2))
    assert original.target.last_batch_id == 0  # the copy has its own target


def test_checkpointed_upsert_survives_a_new_process_copy(spark, dataset, bronze_dir, tmp_path):
    """What a restarted driver (or a Spark Connect worker) sees: a fresh copy of the upsert
    that picks up the saved target, in step with the stream's checkpoint."""
    landing, checkpoint, state = tmp_path / "landing", tmp_path / "checkpoint", tmp_path / "silver"
    land(bronze_dir, landing, [0, 1])
    first = cs.checkpointed(notebook_upsert(dataset), state)
    run_available_now(bronze_stream(spark, landing), cloudpickle.loads(cloudpickle.dumps(first)), checkpoint)
    assert first.upsert.target.last_batch_id is None  # the copy did the work …
    assert first.target().last_batch_id == 1          # … and saved it

    land(bronze_dir, landing, range(2, len(dataset.bronze)))
    second = cs.checkpointed(notebook_upsert(dataset), state)  # empty in memory
    run_available_now(bronze_stream(spark, landing), second, checkpoint)
    expected = pyarrow_path(dataset, len(dataset.bronze))
    assert sorted_rows(second.target().to_arrow()) == sorted_rows(expected)
    reports = second.reports()
    assert reports.column("batch_id").to_pylist() == list(range(len(dataset.bronze)))
    assert reports.column("rows_in").to_pylist() == [len(b) for b in dataset.bronze]


def test_checkpointed_needs_a_memory_table(dataset, tmp_path):
    class Elsewhere:  # a target, but not a MemoryTable
        max_retries, keeps_key_state, last_batch_id = 0, True, None
        __len__ = batch_lock = open = write = commit = lambda *a: None  # pragma: no cover

    with pytest.raises(cdc_rs.ConfigError):
        cs.checkpointed(notebook_upsert(dataset, target=Elsewhere()), tmp_path)


def test_checkpointed_replay_changes_nothing(dataset, tmp_path):
    sink = cs.checkpointed(notebook_upsert(dataset), tmp_path)
    sink(dataset.bronze[0], 0)
    before = sink.target().to_arrow()
    report = sink(pa.table(dataset.bronze[0]), 0)
    assert report.skipped_replay
    assert sink.target().to_arrow() == before


def test_checkpointed_stores_the_target_as_data_and_never_unpickles_a_planted_file(
        dataset, tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    sink = cs.checkpointed(notebook_upsert(dataset), tmp_path)
    sink(dataset.bronze[0], 0)
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert "target.pickle" not in saved and any(n.startswith("target-") for n in saved)
    for name in ("target.pickle", "target-00000000000000000000/rows.arrow"):
        (tmp_path / name).write_bytes(pickle.dumps(Boom()))
    fresh = cs.checkpointed(notebook_upsert(dataset), tmp_path)
    with pytest.raises(cdc_rs.CheckpointError, match="cannot be read"):
        fresh(dataset.bronze[1], 1)
    assert not (tmp_path / "pwned").exists()


def test_a_corrupt_checkpointed_batch_id_is_a_checkpoint_error_naming_the_file(dataset, tmp_path):
    sink = cs.checkpointed(notebook_upsert(dataset), tmp_path)
    sink(dataset.bronze[0], 0)
    (tmp_path / "last_batch_id").write_text("garbage")
    with pytest.raises(cdc_rs.CheckpointError, match="last_batch_id"):
        cs.checkpointed(notebook_upsert(dataset), tmp_path)(dataset.bronze[1], 1)
