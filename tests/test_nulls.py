"""Rule 1 for nulls: null keys and null sequences are rejected, never merged; null values are data."""

from datetime import datetime

import cdc_rs
import pyarrow as pa
import pytest
from conftest import (CUSTOMER_DDL, at, bronze, counts, customers, emails, event,
                      notebook_upsert)


def test_a_row_with_a_null_key_is_rejected_with_reason_null_key():
    upsert = notebook_upsert()
    report = upsert(customers(event(None, 10), event("C1", 10)), 0)
    assert counts(report) == {"null_keys": 1, "inserted": 1}
    assert report.rejected.num_rows == 1
    assert report.rejected["reason"].to_pylist() == ["null_key"]
    assert report.rejected["email"].to_pylist() == ["None@10"]
    assert emails(upsert) == {"C1": "C1@10"}


def test_null_keys_from_every_input_kind_are_rejected(to_frame):
    upsert = notebook_upsert()
    report = upsert(to_frame(customers(event(None, 10), event("C1", 11), event(None, 12))), 0)
    assert report.null_keys == 2
    assert report.inserted == 1
    assert len(upsert.target) == 1


def test_null_in_any_part_of_a_composite_key_rejects_the_row():
    schema = pa.schema([("region", pa.string()), ("id", pa.int64()), ("seq", pa.int64())])
    batch = pa.Table.from_pylist(
        [
            {"region": None, "id": 1, "seq": 1},
            {"region": "eu", "id": None, "seq": 1},
            {"region": "eu", "id": 1, "seq": 1},
        ],
        schema=schema,
    )
    upsert = notebook_upsert(keys=["region", "id"], sequence_by="seq", operation_column=None)
    report = upsert(batch, 0)
    assert counts(report) == {"null_keys": 2, "inserted": 1}
    assert report.rejected["reason"].to_pylist() == ["null_key", "null_key"]


def test_a_row_with_a_null_sequence_is_rejected_with_reason_null_sequence():
    upsert = notebook_upsert()
    report = upsert(customers(event("C1", None), event("C2", 3)), 0)
    assert counts(report) == {"null_sequences": 1, "inserted": 1}
    assert report.rejected["reason"].to_pylist() == ["null_sequence"]
    assert report.rejected["customer_id"].to_pylist() == ["C1"]


def test_a_null_sequence_never_overwrites_an_existing_row():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 10)), 0)
    report = upsert(customers({**event("C1", None), "email": "no-time"}), 1)
    assert counts(report) == {"null_sequences": 1}
    assert emails(upsert) == {"C1": "C1@10"}


def test_a_null_in_the_second_sequence_column_rejects_the_row():
    schema = pa.schema([("customer_id", pa.string()), ("email", pa.string()),
                        ("row_time", pa.timestamp("us", tz="UTC")), ("seq", pa.int64())])
    batch = pa.Table.from_pylist(
        [
            {"customer_id": "C1", "email": "a", "row_time": at(1), "seq": None},
            {"customer_id": "C1", "email": "b", "row_time": at(0), "seq": 0},
        ],
        schema=schema,
    )
    upsert = notebook_upsert(sequence_by=["row_time", "seq"], operation_column=None)
    report = upsert(batch, 0)
    assert counts(report) == {"null_sequences": 1, "inserted": 1}
    assert emails(upsert) == {"C1": "b"}


def test_a_null_anywhere_inside_a_struct_sequence_rejects_the_row():
    """AUTO CDC's ``sequence_by`` struct: compared field by field, left to right; a null field
    (at any depth) is a null sequence, not a sequence ordered by its other fields."""
    seq = pa.struct([("lsn", pa.int64()), ("inner", pa.struct([("pos", pa.int64())]))])
    batch = pa.table({
        "id": [1, 1, 2, 3, 3],
        "seq": pa.array([{"lsn": 5, "inner": {"pos": 1}}, {"lsn": 5, "inner": {"pos": 2}},
                         {"lsn": None, "inner": {"pos": 9}}, {"lsn": 9, "inner": {"pos": None}},
                         {"lsn": 1, "inner": None}], seq),
        "v": ["a", "b", "c", "d", "e"],
    })
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="seq")
    report = upsert(batch, 0)
    assert counts(report) == {"null_sequences": 3, "inserted": 1, "superseded": 1}
    assert report.rejected["reason"].to_pylist() == ["null_sequence"] * 3
    assert upsert.target.to_arrow().column("v").to_pylist() == ["b"]  # (5, 2) after (5, 1)
    report = upsert(pa.table({"id": [1], "seq": pa.array([{"lsn": 4, "inner": {"pos": 9}}], seq),
                              "v": ["old"]}), 1)
    assert counts(report) == {"stale": 1}  # the first field decides


def test_a_null_key_is_counted_before_a_null_sequence():
    upsert = notebook_upsert()
    report = upsert(customers(event(None, None)), 0)
    assert counts(report) == {"null_keys": 1}
    assert report.rejected["reason"].to_pylist() == ["null_key"]


def test_a_null_operation_is_ignored_not_rejected():
    upsert = notebook_upsert()
    report = upsert(customers(event("C1", 1, None), event(None, None, None)), 0)
    assert counts(report) == {"ignored_operations": 2}
    assert report.rejected.num_rows == 0
    assert len(upsert.target) == 0


def test_null_sequence_on_a_delete_is_rejected_and_deletes_nothing():
    upsert = notebook_upsert(delete_operations=("delete",))
    upsert(customers(event("C1", 1)), 0)
    report = upsert(customers(event("C1", None, "delete")), 1)
    assert counts(report) == {"null_sequences": 1}
    assert emails(upsert) == {"C1": "C1@1"}


def test_null_values_outside_keys_and_sequences_are_stored_as_nulls(to_frame):
    upsert = notebook_upsert()
    row = {**event("C1", 1), "email": None, "country_code": None}
    report = upsert(to_frame(customers(row)), 0)
    assert counts(report) == {"inserted": 1}
    (stored,) = upsert.target.to_arrow().to_pylist()
    assert stored["email"] is None and stored["country_code"] is None


def test_a_json_object_whose_sequence_is_not_a_timestamp_has_a_null_sequence_not_malformed():
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    report = upsert(bronze({**event("C1", 1), "row_time": "not a time"}, event("C2", 1)), 0)
    assert counts(report) == {"null_sequences": 1, "inserted": 1}
    assert report.rejected["reason"].to_pylist() == ["null_sequence"]


def test_a_json_object_without_the_key_has_a_null_key():
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    report = upsert(bronze('{"row_status": "insert", "row_time": "2022-01-31T00:00:00Z"}'), 0)
    assert counts(report) == {"null_keys": 1}
    assert report.rejected["reason"].to_pylist() == ["null_key"]


# A later batch whose key or sequence column has another type than the target's: refusing the
# batch is fine; quietly turning unreadable values into nulls after the null checks is not.


def test_a_key_that_does_not_fit_the_targets_type_never_becomes_a_null_key():
    upsert = cdc_rs.batch_upsert(keys="k", sequence_by="s")
    upsert(pa.table({"k": [1], "s": [1]}), 0)
    try:
        report = upsert(pa.table({"k": ["abc", "def"], "s": [1, 2]}), 1)
    except (ValueError, cdc_rs.CdcError):
        pass
    else:
        assert report.superseded == 0, "two different keys cannot supersede each other"
        assert report.inserted == 0
    assert upsert.target.to_arrow().to_pylist() == [{"k": 1, "s": 1}]


def test_a_sequence_that_does_not_fit_the_targets_type_never_becomes_a_null_sequence():
    upsert = cdc_rs.batch_upsert(keys="k", sequence_by="s")
    upsert(pa.table({"k": ["a"], "s": [1]}), 0)
    try:
        report = upsert(pa.table({"k": ["b", "c"], "s": ["not a number", "1" + "0" * 30]}), 1)
    except (ValueError, cdc_rs.CdcError):
        pass
    else:
        assert report.inserted == 0
    assert upsert.target.to_arrow().to_pylist() == [{"k": "a", "s": 1}]


# Arrow's `null` type: what pyarrow infers for a column of Nones, and what pandas object columns
# and polars Null columns of a small batch become.


def all_null_column_batch(column: str) -> pa.Table:
    table = customers(event("C1", 1), event("C2", 2))
    return table.set_column(table.column_names.index(column), column, pa.nulls(2))


def test_a_key_column_of_null_type_holds_only_null_keys(to_frame):
    upsert = notebook_upsert()
    report = upsert(to_frame(all_null_column_batch("customer_id")), 0)
    assert counts(report) == {"null_keys": 2}
    assert len(upsert.target) == 0


def test_a_sequence_column_of_null_type_holds_only_null_sequences(to_frame):
    upsert = notebook_upsert()
    report = upsert(to_frame(all_null_column_batch("row_time")), 0)
    assert counts(report) == {"null_sequences": 2}
    assert len(upsert.target) == 0


def test_a_column_that_is_all_null_in_the_first_batch_takes_values_later(to_frame):
    upsert = notebook_upsert()
    upsert(to_frame(all_null_column_batch("email")), 0)
    report = upsert(to_frame(customers(event("C1", 5), event("C3", 5))), 1)
    assert counts(report) == {"updated": 1, "inserted": 1}
    assert emails(upsert) == {"C1": "C1@5", "C2": None, "C3": "C3@5"}


def test_keys_that_are_all_null_in_the_first_batch_do_not_fix_the_key_type(to_frame):
    upsert = notebook_upsert()
    upsert(to_frame(all_null_column_batch("customer_id")), 0)
    report = upsert(to_frame(customers(event("C1", 5))), 1)
    assert counts(report) == {"inserted": 1}
    assert emails(upsert) == {"C1": "C1@5"}


@pytest.mark.parametrize(
    "first, later",
    [
        (pa.array([1]), pa.array([1.5, 1.7])),
        (pa.array([datetime(2022, 1, 1)], pa.timestamp("s")),
         pa.array([datetime(2022, 1, 1, 0, 0, 0, 500_000), datetime(2022, 1, 1, 0, 0, 0, 700_000)],
                  pa.timestamp("us"))),
    ],
    ids=["int-then-float", "seconds-then-microseconds"],
)
def test_keys_finer_than_the_targets_key_type_are_never_rounded_onto_other_keys(first, later):
    upsert = cdc_rs.batch_upsert(keys="k", sequence_by="s")
    upsert(pa.table({"k": first, "s": [1], "v": ["first"]}), 0)
    before = upsert.target.to_arrow().to_pylist()
    try:
        report = upsert(pa.table({"k": later, "s": [2, 3], "v": ["a", "b"]}), 1)
    except (ValueError, cdc_rs.CdcError):
        assert upsert.target.to_arrow().to_pylist() == before
    else:
        assert counts(report) == {"inserted": 2}, "two new keys, neither equal to the old one"
        assert len(upsert.target) == 3
