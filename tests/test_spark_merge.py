"""SparkMergeTarget / merge_statement: cdc_rs ranks, Spark runs MERGE INTO a real Delta table.

The statements are checked as text and through Spark's SQL parser, the change set handed to
Spark row by row, and the whole target against a Spark-managed Delta table: equal to a
MemoryTable on the bookstore feed and on generated batch sequences (tombstones kept in the
auxiliary table, replays harmless)."""

from __future__ import annotations

import pickle
import uuid

import cloudpickle
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
    """Runs everything but the MERGE itself: keeps the statement and the change set Spark
    was handed, and answers with Delta-style metrics."""

    def __init__(self, *args, metrics=None, **kwargs):
        super().__init__(*args, keep_tombstones=False, **kwargs)
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


def test_merge_into_a_delta_table_equals_a_memory_table(spark, dataset):
    table = _silver_table(spark, SILVER_DDL)
    target = cs.SparkMergeTarget(table, keys="customer_id", sequence_by="row_time", spark=spark)
    upsert = notebook_upsert(dataset, target=target)
    memory = notebook_upsert(dataset)
    for batch_id, batch in enumerate(dataset.bronze):
        report = upsert(batch, batch_id)
        memory_report = memory(batch, batch_id)
        assert report.accounted == report.rows_in
        assert _counters(report) == _counters(memory_report)
    assert _rows(spark.table(table).toArrow(), "customer_id") == _rows(memory.target.to_arrow(), "customer_id")
    assert _tombstones(target, ["customer_id"]) == _memory_tombstones(memory.target, ["customer_id"])
    assert _memory_tombstones(memory.target, ["customer_id"])  # the feed has deletes
    # a replayed batch (the stream retried after a failure) changes nothing
    for batch_id in (1, 3):
        again = upsert(dataset.bronze[batch_id], batch_id)
        assert again.inserted == again.updated == again.deleted == 0
    assert _rows(spark.table(table).toArrow(), "customer_id") == _rows(memory.target.to_arrow(), "customer_id")
    assert _tombstones(target, ["customer_id"]) == _memory_tombstones(memory.target, ["customer_id"])


def test_an_event_older_than_a_delete_stays_stale_in_a_later_batch(spark):
    table = _silver_table(spark, "id BIGINT, ts BIGINT, v STRING")
    target = cs.SparkMergeTarget(table, keys="id", sequence_by="ts", spark=spark)
    upsert = _generic_upsert(target)
    upsert(pa.table({"id": [1, 2], "ts": [1, 1], "op": ["upsert"] * 2, "v": ["a", "b"]}), 0)
    upsert(pa.table({"id": [1, 3], "ts": [5, 5], "op": ["delete"] * 2, "v": [None, None]}), 1)
    late = upsert(pa.table({"id": [1, 3, 2], "ts": [3, 4, 0], "op": ["upsert"] * 3, "v": ["late"] * 3}), 2)
    assert (late.inserted, late.updated, late.stale) == (0, 0, 3)
    again = upsert(pa.table({"id": [1, 4, 2], "ts": [5, 1, 0], "op": ["delete"] * 3, "v": [None] * 3}), 3)
    assert (again.deleted, again.tombstoned, again.stale) == (0, 1, 2)  # equal to a tombstone, new key, older
    assert _rows(spark.table(table).toArrow(), "id") == [{"id": 2, "ts": 1, "v": "b"}]
    assert _tombstones(target, ["id"]) == [{"id": 1, "ts": 5}, {"id": 3, "ts": 5}, {"id": 4, "ts": 1}]
    newer = upsert(pa.table({"id": [1], "ts": [6], "op": ["upsert"], "v": ["back"]}), 4)
    assert newer.inserted == 1
    assert _tombstones(target, ["id"]) == [{"id": 3, "ts": 5}, {"id": 4, "ts": 1}]  # key 1 lives again
    # without the tombstone table, the reference notebook's behaviour: the key comes back
    plain = _silver_table(spark, "id BIGINT, ts BIGINT, v STRING")
    forgetful = _generic_upsert(cs.SparkMergeTarget(plain, keys="id", sequence_by="ts", spark=spark,
                                                    keep_tombstones=False))
    forgetful(pa.table({"id": [1], "ts": [1], "op": ["upsert"], "v": ["a"]}), 0)
    forgetful(pa.table({"id": [1], "ts": [5], "op": ["delete"], "v": [None]}), 1)
    forgetful(pa.table({"id": [1], "ts": [3], "op": ["upsert"], "v": ["late"]}), 2)
    assert _rows(spark.table(plain).toArrow(), "id") == [{"id": 1, "ts": 3, "v": "late"}]
    assert not spark.catalog.tableExists(plain + cs.TOMBSTONES_SUFFIX)


EVENT = st.tuples(st.integers(0, 4), st.integers(0, 5), st.sampled_from(["upsert", "upsert", "delete"]),
                  st.sampled_from(["a", "b", None]))
SCENARIO = st.tuples(st.lists(st.lists(EVENT, max_size=5), min_size=1, max_size=3),
                     st.lists(st.integers(0, 2), max_size=1))


@settings(max_examples=4, deadline=None)
@given(scenarios=st.lists(SCENARIO, min_size=1, max_size=10))
def test_spark_merge_target_equals_memory_table(spark, scenarios):
    """Updates, late events, sequence ties, deletes and their tombstones, replays: the Delta
    table ends with exactly the MemoryTable's rows, the tombstone table with its dead keys.

    A MERGE costs seconds, so each example runs up to ten scenarios side by side, each on keys
    of its own: step j applies every scenario's j-th batch (a batch, or a replay of an earlier
    one, which the MemoryTable sees as fresh events and must find stale)."""
    steps: list[list[tuple]] = []
    for n, (batches, replays) in enumerate(scenarios):
        own = [*batches, *(batches[r] for r in replays if r < len(batches))]
        for j, events in enumerate(own):
            if j == len(steps):
                steps.append([])
            steps[j].extend((key + 10 * n, *rest) for key, *rest in events)
    table = _silver_table(spark, "id BIGINT, ts BIGINT, v STRING")
    target = cs.SparkMergeTarget(table, keys="id", sequence_by="ts", spark=spark)
    upsert, memory = _generic_upsert(target), _generic_upsert(cdc_rs.MemoryTable())
    for batch_id, events in enumerate(steps):
        batch = pa.table({"id": pa.array([e[0] for e in events], pa.int64()),
                          "ts": pa.array([e[1] for e in events], pa.int64()),
                          "op": pa.array([e[2] for e in events], pa.string()),
                          "v": pa.array([e[3] for e in events], pa.string())})
        assert _counters(upsert(batch, batch_id)) == _counters(memory(batch, batch_id))
    assert _rows(spark.table(table).toArrow(), "id") == _rows(memory.target.to_arrow(), "id")
    assert _tombstones(target, ["id"]) == _memory_tombstones(memory.target, ["id"])


def test_composite_keys_and_sequences(spark):
    table = _silver_table(spark, "tenant STRING, id INT, major INT, minor INT, v STRING")
    target = cs.SparkMergeTarget(table, keys=["tenant", "id"], sequence_by=["major", "minor"], spark=spark)
    options = dict(keys=["tenant", "id"], sequence_by=["major", "minor"], operation_column="op",
                   upsert_operations=["u"], delete_operations=["d"], except_column_list=["op"])
    upsert, memory = cdc_rs.batch_upsert(target, **options), cdc_rs.batch_upsert(**options)
    batches = [
        {"tenant": ["x", "x", "y"], "id": [1, 2, 1], "major": [1, 1, 1], "minor": [0, 0, 0],
         "op": ["u", "u", "u"], "v": ["a", "b", "c"]},
        {"tenant": ["x", "y"], "id": [1, 1], "major": [1, 2], "minor": [5, 0], "op": ["d", "u"], "v": [None, "C"]},
        {"tenant": ["x", "x"], "id": [1, 2], "major": [1, 0], "minor": [3, 9], "op": ["u", "u"], "v": ["old", "old"]},
    ]
    for batch_id, columns in enumerate(batches):
        batch = pa.table(columns).cast(pa.schema([("tenant", pa.string()), ("id", pa.int32()),
                                                   ("major", pa.int32()), ("minor", pa.int32()),
                                                   ("op", pa.string()), ("v", pa.string())]))
        upsert(batch, batch_id)
        memory(batch, batch_id)
    got = sorted(spark.table(table).toArrow().to_pylist(), key=lambda r: (r["tenant"], r["id"]))
    assert got == sorted(memory.target.to_arrow().to_pylist(), key=lambda r: (r["tenant"], r["id"]))
    assert got == [{"tenant": "x", "id": 2, "major": 1, "minor": 0, "v": "b"},
                   {"tenant": "y", "id": 1, "major": 2, "minor": 0, "v": "C"}]
    assert spark.table(target.tombstones_table).collect()[0].asDict() == \
        {"tenant": "x", "id": 1, "major": 1, "minor": 5}


SILVER_DDL = ("customer_id STRING, email STRING, first_name STRING, last_name STRING, gender STRING, "
              "street STRING, city STRING, country STRING, row_time TIMESTAMP")


def _counters(report) -> dict:
    return {k: getattr(report, k) for k in ("inserted", "updated", "deleted", "tombstoned", "stale",
                                            "superseded")}


def _silver_table(spark, ddl: str) -> str:
    name = f"silver_{uuid.uuid4().hex[:12]}"
    spark.sql(f"CREATE TABLE {name} ({ddl}) USING DELTA")
    return name


def _generic_upsert(target):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               upsert_operations=["upsert"], delete_operations=["delete"],
                               except_column_list=["op"])


def _rows(table: pa.Table, key: str) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: r[key])


def _tombstones(target, keys: list[str]) -> list[dict]:
    table = target.tombstones()
    return [] if table is None else sorted(table.to_pylist(), key=lambda r: [r[k] for k in keys])


def _memory_tombstones(table: cdc_rs.MemoryTable, keys: list[str]) -> list[dict]:
    state = table.state()
    if state is None:
        return []
    dead = state.filter(pa.compute.invert(state.column("live")))
    rows = [{name.split(".", 1)[1]: value for name, value in row.items() if name != "live"}
            for row in dead.to_pylist()]
    return sorted(rows, key=lambda r: [r[k] for k in keys])


def test_a_target_without_the_key_column_is_a_config_error(spark):
    table = _silver_table(spark, "ID BIGINT, ts BIGINT, v STRING")  # names match ignoring case
    _generic_upsert(cs.SparkMergeTarget(table, keys="id", sequence_by="ts", spark=spark))(
        pa.table({"id": [1], "ts": [1], "op": ["upsert"], "v": ["a"]}), 0)
    assert spark.table(table).count() == 1
    wrong = cs.SparkMergeTarget(table, keys="customer", sequence_by="ts", spark=spark,
                                tombstones_table=f"{table}_other_tombstones")
    with pytest.raises(cdc_rs.ConfigError, match="customer"):
        cdc_rs.batch_upsert(wrong, keys="customer", sequence_by="ts")(pa.table({"customer": [1], "ts": [2]}), 0)
    assert not spark.catalog.tableExists(f"{table}_other_tombstones")
