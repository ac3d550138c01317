"""cdc_rs.spark.on_executors: the whole upsert inside mapInArrow on Spark's executors equals the
driver path — the same upsert fed the micro-batch's ``toArrow()`` — row for row and counter for
counter, into every kind of target (MemoryTable, DeltaTarget, SparkMergeTarget on Delta)."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spark_helpers import dataset, notebook_upsert, sorted_rows, spark  # noqa: F401

import cdc_rs
import cdc_rs._spark_executors as cs_executors
import cdc_rs.spark as cs
from cdc_rs.exceptions import ConfigError

COUNTERS = ("rows_in", "other_topics", "malformed", "filtered_out", "ignored_operations", "null_keys",
            "null_sequences", "lookup_misses", "superseded", "inserted", "updated", "deleted",
            "tombstoned", "stale", "skipped_replay")


def counters(report: cdc_rs.BatchReport) -> dict:
    return {name: getattr(report, name) for name in COUNTERS}


def rejects(report: cdc_rs.BatchReport) -> list:
    rows = report.rejected.to_pylist()
    return sorted(rows, key=lambda r: (r["reason"], repr(sorted(r.items()))))


def partitioned(spark, table: pa.Table, partitions: int):
    """``table`` in ``partitions`` partitions, fixed once (both paths read the same rows in
    the same order)."""
    return spark.createDataFrame(table).repartition(partitions).localCheckpoint()


def test_bookstore_equals_the_driver_path_in_memory_and_on_delta(spark, dataset, tmp_path):
    on_memory = cs.on_executors(notebook_upsert(dataset), shuffle_above=0)  # ranked after a shuffle
    on_delta = cs.on_executors(notebook_upsert(dataset, cdc_rs.DeltaTarget(tmp_path / "silver")))
    driver = notebook_upsert(dataset)
    for batch_id, batch in enumerate(dataset.bronze):
        micro = partitioned(spark, pa.table(batch), 3)  # a key's ties span partitions
        expected = driver(micro.toArrow(), batch_id)
        for upsert in (on_memory, on_delta):
            report = upsert(micro, batch_id)
            assert counters(report) == counters(expected)
            assert report.rejected.to_pylist() == expected.rejected.to_pylist()  # in input order
            assert report.accounted == report.rows_in
    expected_rows = sorted_rows(driver.target.to_arrow())
    assert sorted_rows(on_memory.target.to_arrow()) == expected_rows
    assert sorted_rows(on_delta.target.to_arrow()) == expected_rows
    # Spark reads what the DeltaTarget wrote
    assert sorted_rows(spark.read.format("delta").load(str(tmp_path / "silver")).toArrow()) == expected_rows
    # a retried batch is skipped before any work, its rows counted
    replay = on_delta(partitioned(spark, pa.table(dataset.bronze[1]), 2), 1)
    assert replay.skipped_replay and replay.rows_in == len(dataset.bronze[1])
    assert replay.inserted == replay.updated == replay.deleted == 0


def test_where_and_apply_as_deletes_run_on_the_executors(spark, dataset, tmp_path):
    """The predicates travel in the upsert's configuration to the executors' screening; the
    change sets the executors send are applied without them."""
    options = dict(delete_operations=(), apply_as_deletes="row_status = 'delete' OR email IS NULL",
                   where="country_code NOT IN ('FR', 'DE')")
    on_memory = cs.on_executors(notebook_upsert(dataset, **options), shuffle_above=0)
    on_delta = cs.on_executors(notebook_upsert(dataset, cdc_rs.DeltaTarget(tmp_path / "silver"),
                                               **options))
    driver = notebook_upsert(dataset, **options)
    for batch_id, batch in enumerate(dataset.bronze[:2]):
        micro = partitioned(spark, pa.table(batch), 3)
        expected = driver(micro.toArrow(), batch_id)
        assert expected.filtered_out and expected.tombstoned + expected.deleted
        for upsert in (on_memory, on_delta):
            report = upsert(micro, batch_id)
            assert counters(report) == counters(expected)
            assert report.accounted == report.rows_in
    expected_rows = sorted_rows(driver.target.to_arrow())
    assert sorted_rows(on_memory.target.to_arrow()) == expected_rows
    assert sorted_rows(on_delta.target.to_arrow()) == expected_rows


def test_into_a_spark_merge_target_on_delta(spark, dataset):
    table = f"silver_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE TABLE {table} (customer_id STRING, email STRING, first_name STRING, "
              "last_name STRING, gender STRING, street STRING, city STRING, country STRING, "
              "row_time TIMESTAMP) USING delta")
    target = cs.SparkMergeTarget(table, keys="customer_id", sequence_by="row_time", spark=spark)
    upsert = cs.on_executors(notebook_upsert(dataset, target))
    driver = notebook_upsert(dataset)
    for batch_id, batch in enumerate(dataset.bronze):
        micro = partitioned(spark, pa.table(batch), 2)
        expected = driver(micro.toArrow(), batch_id)
        report = upsert(micro, batch_id)
        assert counters(report) == counters(expected)
        assert set(upsert.last_stage_seconds) == {"changes", "merge"}
    assert sorted_rows(spark.table(table).toArrow()) == sorted_rows(driver.target.to_arrow())
    dead = sorted(r["key.customer_id"] for r in driver.target.state().to_pylist() if not r["live"])
    assert sorted(r["customer_id"] for r in target.tombstones().to_pylist()) == dead


EVENT = st.tuples(st.sampled_from([0, 1, 2, 3, None]), st.sampled_from([0, 1, 2, None]),
                  st.sampled_from(["upsert", "upsert", "delete", "other", None]),
                  st.sampled_from(["a", "b", None]))


@settings(max_examples=10, deadline=None)
@given(batches=st.lists(st.tuples(st.lists(EVENT, max_size=12), st.integers(1, 4)),
                        min_size=1, max_size=3), shuffle_above=st.sampled_from([0, 8]))
def test_any_partitioning_gives_the_driver_paths_table(spark, batches, shuffle_above):
    """Ties on the sequence within and across partitions, null keys and sequences, ignored
    operations, deletes of unknown keys: however a micro-batch is partitioned, the executors
    give what the driver path gives for its ``toArrow()`` (earliest partition, then row) —
    ranked after a shuffle (``shuffle_above=0``) or by the driver."""
    options = dict(keys="id", sequence_by="ts", operation_column="op",
                   upsert_operations=["upsert"], delete_operations=["delete"])
    upsert = cs.on_executors(cdc_rs.batch_upsert(**options), shuffle_above=shuffle_above)
    driver = cdc_rs.batch_upsert(**options)
    for batch_id, (events, partitions) in enumerate(batches):
        table = pa.table({"id": pa.array([e[0] for e in events], pa.int64()),
                          "ts": pa.array([e[1] for e in events], pa.int64()),
                          "op": pa.array([e[2] for e in events], pa.string()),
                          "v": pa.array([e[3] for e in events], pa.string())})
        micro = partitioned(spark, table, partitions)
        report, expected = upsert(micro, batch_id), driver(micro.toArrow(), batch_id)
        assert counters(report) == counters(expected)
        assert report.rejected.to_pylist() == expected.rejected.to_pylist()
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(upsert.target.to_arrow().to_pylist(), key=key) == sorted(driver.target.to_arrow().to_pylist(), key=key)
    def state(upsert) -> list:
        table = upsert.target.state()  # None before any key
        return [] if table is None else sorted(table.to_pylist(), key=lambda r: r["key.id"])

    assert state(upsert) == state(driver)  # tombstones too


def test_a_streaming_dataframe_is_a_config_error(spark, tmp_path, dataset):
    (tmp_path / "in").mkdir()
    stream = spark.readStream.schema("topic STRING, value STRING").json(str(tmp_path / "in"))
    with pytest.raises(ConfigError, match="inside foreachBatch"):
        cs.on_executors(notebook_upsert(dataset))(stream, 0)


def test_it_pickles_with_its_upsert(dataset):
    import pickle

    upsert = cs.on_executors(notebook_upsert(dataset), shuffle_above=3)
    copy = pickle.loads(pickle.dumps(upsert))
    assert repr(copy) == repr(upsert) and copy.shuffle_above == 3
    stage = pickle.loads(pickle.dumps(cs_executors._Screen(upsert.upsert.config, pa.schema([]))))
    assert stage.config["keys"] == ["customer_id"]  # what Spark ships to its workers


@pytest.mark.parametrize("shuffle_above", [0, 8])
def test_a_session_zone_other_than_utc_large_strings_and_a_target_without_the_sequence(
        spark, dataset, shuffle_above):
    """Spark hands mapInArrow timestamps in the session's zone (and large strings when asked):
    the ranking after the shuffle takes them. A target that leaves the sequence column out
    (``columns=``) is still ranked by it, as on the driver path."""
    columns = ["customer_id", "email", "country"]  # no row_time
    upsert = cs.on_executors(notebook_upsert(dataset, columns=columns), shuffle_above=shuffle_above)
    driver = notebook_upsert(dataset, columns=columns)
    confs = {"spark.sql.session.timeZone": "America/New_York",
             "spark.sql.execution.arrow.useLargeVarTypes": "true"}
    previous = {k: spark.conf.get(k) for k in confs}
    try:
        for k, v in confs.items():
            spark.conf.set(k, v)
        for batch_id, batch in enumerate(dataset.bronze):
            micro = partitioned(spark, pa.table(batch), 3)
            assert counters(upsert(micro, batch_id)) == counters(driver(micro.toArrow(), batch_id))
    finally:
        for k, v in previous.items():
            spark.conf.set(k, v)
    assert sorted_rows(upsert.target.to_arrow()) == sorted_rows(driver.target.to_arrow())
    assert upsert.target.to_arrow().column_names == columns


def test_a_batch_without_the_topic_warns_as_the_driver_path_does(spark, dataset):
    upsert = cs.on_executors(notebook_upsert(dataset, topic="customer"))  # a typo
    with pytest.warns(UserWarning, match="has topic 'customer'"):
        report = upsert(partitioned(spark, pa.table(dataset.bronze[0]), 2), 0)
    assert report.other_topics == report.rows_in and "typo" in report.warning


def test_many_rejects_travel_in_pieces_and_come_back_whole_and_in_order(spark, monkeypatch):
    """A partition's rejected rows cross Spark in pieces (a binary value holds at most 2 GB):
    every one comes back, in input order."""
    monkeypatch.setattr(cs_executors, "_REJECTS_PER_CELL", 300)  # a few rows a piece
    n = 200
    table = pa.table({"id": pa.array([None if i % 3 else i for i in range(n)], pa.int64()),
                      "ts": pa.array([i % 7 or None for i in range(n)], pa.int64()),
                      "v": [f"row {i}" for i in range(n)]})
    upsert = cs.on_executors(cdc_rs.batch_upsert(keys="id", sequence_by="ts"))
    driver = cdc_rs.batch_upsert(keys="id", sequence_by="ts")
    micro = partitioned(spark, table, 3)
    report, expected = upsert(micro, 0), driver(micro.toArrow(), 0)
    assert report.rejected.num_rows == expected.rejected.num_rows > 100
    assert report.rejected.to_pylist() == expected.rejected.to_pylist()
    assert counters(report) == counters(expected)
