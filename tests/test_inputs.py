"""Every input kind the upsert accepts gives the same table; bronze input is decoded like Spark."""

import cdc_rs
import pyarrow as pa
import pytest
from conftest import (CUSTOMER_DDL, CUSTOMERS, FRAMES, at, bronze, counts, customers, emails,
                      event, instant, notebook_upsert)
from reference import COUNTERS, Config, ReferenceUpsert, keyed, project

MIXED = [
    customers(event("C1", 5), event("C2", 3, email=None), event("C1", 9, country=None),
              event(None, 1), event("C3", None), event("C2", 3, email="tie-loser"),
              event("C4", 2, "delete"), event("C5", 4, "insert")),
    customers(event("C1", 7), event("C2", 8, "update", country=None), event("C5", 4),
              event("C6", 1)),
]


def test_every_input_kind_gives_the_reference_table(to_frame):
    upsert = notebook_upsert()
    model = ReferenceUpsert(Config(keys="customer_id", sequence_by="row_time",
                                   operation_column="row_status"))
    for batch_id, batch in enumerate(MIXED):
        report = upsert(to_frame(batch), batch_id)
        expected = model.apply(batch.to_pylist(), batch_id)
        assert counts(report) == {name: expected[name] for name in COUNTERS if expected[name]}
        assert report.rows_in == expected["rows_in"]
    got = keyed(upsert.target.to_arrow().to_pylist(), ["customer_id"])
    assert project(got, CUSTOMERS.names) == project(model.table(), CUSTOMERS.names)


def test_one_upsert_takes_a_different_input_kind_at_every_batch():
    upsert = notebook_upsert()
    for batch_id, convert in enumerate(FRAMES.values()):
        upsert(convert(customers(event(f"K{batch_id}", 1), event("C1", 10 + batch_id))), batch_id)
    assert emails(upsert) == {"K0": "K0@1", "K1": "K1@1", "K2": "K2@1", "C1": "C1@12"}


def test_a_record_batch_is_accepted():
    upsert = notebook_upsert()
    (batch,) = customers(event("C1", 1), event("C1", 2)).to_batches()
    report = upsert(batch, 0)
    assert counts(report) == {"inserted": 1, "superseded": 1}
    assert emails(upsert) == {"C1": "C1@2"}


def test_a_record_batch_reader_over_several_chunks_is_one_batch():
    upsert = notebook_upsert()
    chunks = [customers(event("C1", 2)).to_batches()[0], customers(event("C1", 1)).to_batches()[0],
              customers(event("C2", 1)).to_batches()[0]]
    reader = pa.RecordBatchReader.from_batches(CUSTOMERS, chunks)
    report = upsert(reader, 0)
    assert counts(report) == {"inserted": 2, "superseded": 1}
    assert emails(upsert) == {"C1": "C1@2", "C2": "C2@1"}


def test_a_chunked_table_keeps_arrival_order_across_chunks():
    upsert = notebook_upsert()
    table = pa.concat_tables([customers(event("C1", 1, email="first")),
                              customers(event("C1", 1, email="second"))])
    assert table["email"].num_chunks == 2
    upsert(table, 0)
    assert emails(upsert) == {"C1": "first"}


def test_any_object_with_an_arrow_c_stream_is_accepted():
    class Stream:
        def __init__(self, table):
            self.table = table

        def __arrow_c_stream__(self, requested_schema=None):
            return self.table.__arrow_c_stream__(requested_schema)

    upsert = notebook_upsert()
    report = upsert(Stream(customers(event("C1", 1), event("C2", 1))), 0)
    assert report.inserted == 2


def test_an_empty_batch_changes_nothing(to_frame):
    upsert = notebook_upsert()
    upsert(customers(event("C1", 1)), 0)
    report = upsert(to_frame(customers()), 1)
    assert report.rows_in == 0 and counts(report) == {}
    assert emails(upsert) == {"C1": "C1@1"}


def test_an_empty_first_batch_then_rows():
    upsert = notebook_upsert()
    assert upsert(customers(), 0).rows_in == 0
    upsert(customers(event("C1", 1)), 1)
    assert emails(upsert) == {"C1": "C1@1"}


def test_keys_may_be_a_single_string():
    upsert = notebook_upsert(keys="customer_id")
    upsert(customers(event("C1", 1), event("C1", 2)), 0)
    assert emails(upsert) == {"C1": "C1@2"}


def test_composite_keys_tell_rows_apart_by_every_part():
    schema = pa.schema([("region", pa.string()), ("id", pa.int64()), ("email", pa.string()),
                        ("seq", pa.int64())])
    rows = [
        {"region": "eu", "id": 1, "email": "eu1", "seq": 1},
        {"region": "us", "id": 1, "email": "us1", "seq": 1},
        {"region": "eu", "id": 2, "email": "eu2", "seq": 1},
        {"region": "eu", "id": 1, "email": "eu1-new", "seq": 2},
    ]
    upsert = notebook_upsert(keys=["region", "id"], sequence_by="seq", operation_column=None)
    report = upsert(pa.Table.from_pylist(rows, schema=schema), 0)
    assert counts(report) == {"inserted": 3, "superseded": 1}
    got = {(r["region"], r["id"]): r["email"] for r in upsert.target.to_arrow().to_pylist()}
    assert got == {("eu", 1): "eu1-new", ("us", 1): "us1", ("eu", 2): "eu2"}


def test_integer_keys_are_keys():
    schema = pa.schema([("id", pa.int64()), ("email", pa.string()), ("seq", pa.int64())])
    rows = [{"id": 1, "email": "a", "seq": 1}, {"id": 2, "email": "b", "seq": 1},
            {"id": 1, "email": "c", "seq": 0}]
    upsert = notebook_upsert(keys="id", sequence_by="seq", operation_column=None)
    upsert(pa.Table.from_pylist(rows, schema=schema), 0)
    got = {r["id"]: r["email"] for r in upsert.target.to_arrow().to_pylist()}
    assert got == {1: "a", 2: "b"}


def test_without_an_operation_column_every_row_is_an_upsert():
    upsert = notebook_upsert(operation_column=None)
    report = upsert(customers(event("C1", 1, "delete"), event("C2", 1, None), event("C3", 1, "x")), 0)
    assert counts(report) == {"inserted": 3}


def test_the_target_defaults_to_a_new_memory_table():
    for upsert in (cdc_rs.batch_upsert(keys=["customer_id"], sequence_by="row_time"),
                   cdc_rs.batch_upsert(None, keys=["customer_id"], sequence_by="row_time")):
        assert isinstance(upsert.target, cdc_rs.MemoryTable)
        assert len(upsert.target) == 0
        upsert(customers(event("C1", 1)), 0)
        assert len(upsert.target) == 1


def test_the_given_target_is_the_table_that_is_updated():
    target = cdc_rs.MemoryTable()
    upsert = notebook_upsert(target)
    upsert(customers(event("C1", 1), event("C2", 1)), 0)
    assert len(target) == 2
    assert sorted(target.to_arrow()["customer_id"].to_pylist()) == ["C1", "C2"]


def test_the_target_converts_to_pandas():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 1), event("C2", 1)), 0)
    frame = upsert.target.to_pandas()
    assert sorted(frame["customer_id"]) == ["C1", "C2"]
    assert set(frame.columns) == set(CUSTOMERS.names)


def test_bronze_values_are_decoded_into_the_schema_columns():
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    report = upsert(bronze(event("C1", 1, email="a@b", country="CN"), ("orders", event("C2", 1))), 0)
    assert counts(report) == {"inserted": 1, "other_topics": 1}
    (row,) = upsert.target.to_arrow().to_pylist()
    assert {k: v for k, v in row.items() if k != "row_time"} == {
        "customer_id": "C1", "email": "a@b", "country_code": "CN", "row_status": "update"}
    assert instant(row["row_time"]) == at(1)


def test_bronze_fields_missing_from_the_json_are_null():
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    upsert(bronze('{"customer_id": "C1", "row_status": "insert", '
                  '"row_time": "2022-01-31T00:01:00.000Z", "extra": 1}'), 0)
    (row,) = upsert.target.to_arrow().to_pylist()
    assert row["email"] is None and row["country_code"] is None
    assert "extra" not in row


def test_bronze_without_a_topic_filter_reads_every_row():
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL)
    report = upsert(bronze(("a", event("C1", 1)), ("b", event("C2", 1)), (None, event("C3", 1))), 0)
    assert counts(report) == {"inserted": 3}


def test_a_binary_bronze_value_is_read_as_utf8_text_like_the_notebooks_cast():
    table = bronze(event("C1", 1), "{not json")
    value = pa.array([v.encode() for v in table["value"].to_pylist()], pa.binary())
    table = table.set_column(table.column_names.index("value"), "value", value)
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    report = upsert(table, 0)
    assert counts(report) == {"inserted": 1, "malformed": 1}
    assert emails(upsert) == {"C1": "C1@1"}


def test_bronze_input_from_every_frame_kind(to_frame):
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    report = upsert(to_frame(bronze(event("C1", 1), event("C1", 2), "[]", ("x", "{}"))), 0)
    assert counts(report) == {"inserted": 1, "superseded": 1, "malformed": 1, "other_topics": 1}
    assert emails(upsert) == {"C1": "C1@2"}


def test_a_sliced_table_with_nested_structs_is_accepted():
    # arrow-rs cannot import pyarrow's sliced struct-of-struct: cdc_rs copies such columns
    nested = pa.array([{"x": {"z": 1}, "y": [1]}, {"x": None, "y": None}, {"x": {"z": 3}, "y": [2]}])
    up = cdc_rs.batch_upsert(keys="id", sequence_by="ts")
    sliced = pa.table({"id": [9, 0, 5], "ts": [1, 1, 1], "c": nested}).slice(1)
    assert up(sliced, 0).inserted == 2
    assert up.target.to_arrow().sort_by("id")["c"].to_pylist() == nested.slice(1).to_pylist()


def test_arrow_data_the_engine_cannot_import_is_an_input_error_not_a_panic():
    nested = pa.array([{"x": {"z": 1}}, {"x": {"z": 2}}])
    with pytest.raises(cdc_rs.InputError, match="could not be imported"):
        cdc_rs._cdc_rs.key_hashes(pa.table({"c": nested.slice(1)}))


def test_the_table_does_not_share_memory_the_caller_can_still_change():
    # pandas → Arrow may hand over numpy memory without a copy; the silver table must not
    # change when the caller later writes to that array in place.
    import numpy as np
    import pandas as pd

    values = np.array([10.0, 20.0, 30.0])
    frame = pd.DataFrame({"id": np.array([1, 2, 3], dtype=np.int64),
                          "ts": np.array([1, 1, 1], dtype=np.int64), "v": values}, copy=False)
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts")
    upsert(frame, 0)
    values[:] = -1.0  # in place, into the memory given to the upsert
    assert sorted(upsert.target.to_arrow().column("v").to_pylist()) == [10.0, 20.0, 30.0]


def test_a_table_taken_with_to_arrow_does_not_change_as_the_target_does():
    # to_arrow shares the target's unchanged chunks instead of copying the whole table:
    # later batches (updates, deletes, compaction) must not show through a table taken earlier.
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts", operation_column="op",
                                 delete_operations=("delete",))
    n = 20_000
    upsert(pa.table({"id": list(range(n)), "ts": [1] * n, "v": [f"first {i}" for i in range(n)],
                     "op": ["insert"] * n}), 0)
    taken = upsert.target.to_arrow()
    expected = pa.table({c: taken[c].to_pylist() for c in taken.column_names})
    for batch_id in range(1, 4):  # most rows rewritten or deleted: the store compacts
        upsert(pa.table({"id": list(range(0, n, 2)) + list(range(1, n, 4)),
                         "ts": [batch_id + 1] * (n // 2 + n // 4),
                         "v": [f"batch {batch_id}"] * (n // 2 + n // 4),
                         "op": ["update"] * (n // 2) + ["delete"] * (n // 4)}), batch_id)
    assert taken.equals(expected)
    now = upsert.target.to_arrow()
    assert now.num_rows == n - n // 4
    assert set(now.column("v").to_pylist()) == {"batch 3", *(f"first {i}" for i in range(3, n, 4))}
