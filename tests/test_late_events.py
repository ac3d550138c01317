"""Rule 4 and the notebook's `c.row_time < r.row_time`: only strictly newer events change a row."""

from datetime import datetime, timezone

import cdc_rs
import pyarrow as pa
import pytest
from conftest import (CUSTOMER_DDL, at, bronze, counts, customers, emails, event, instant,
                      notebook_upsert)


def test_older_update_never_overwrites_newer():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 10)), 0)
    report = upsert(customers(event("C1", 5)), 1)
    assert emails(upsert) == {"C1": "C1@10"}
    assert counts(report) == {"stale": 1}


def test_newer_update_replaces_every_column_of_the_row():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 10, "insert", email="a@x", country="FR")), 0)
    report = upsert(customers(event("C1", 20, "update", email="b@y", country="CN")), 1)
    assert counts(report) == {"updated": 1}
    assert upsert.target.to_arrow().to_pylist() == [
        {"customer_id": "C1", "email": "b@y", "country_code": "CN", "row_status": "update",
         "row_time": at(20)}
    ]


def test_newer_update_with_null_fields_writes_the_nulls():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 10, email="a@x")), 0)
    upsert(customers({**event("C1", 20), "email": None, "country_code": None}), 1)
    (row,) = upsert.target.to_arrow().to_pylist()
    assert row["email"] is None and row["country_code"] is None and row["row_time"] == at(20)


def test_late_event_in_the_same_batch_loses_whatever_its_position():
    upsert = notebook_upsert()
    report = upsert(customers(event("C1", 20), event("C1", 5), event("C2", 1), event("C2", 7)), 0)
    assert emails(upsert) == {"C1": "C1@20", "C2": "C2@7"}
    assert counts(report) == {"inserted": 2, "superseded": 2}


def test_late_event_for_an_unknown_key_is_inserted():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 50)), 0)
    report = upsert(customers(event("C2", 1)), 1)
    assert emails(upsert) == {"C1": "C1@50", "C2": "C2@1"}
    assert counts(report) == {"inserted": 1}


def test_a_batch_of_late_and_fresh_events_counts_each_outcome():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 10), event("C2", 10)), 0)
    report = upsert(customers(event("C1", 11), event("C2", 9), event("C3", 0)), 1)
    assert counts(report) == {"updated": 1, "stale": 1, "inserted": 1}
    assert emails(upsert) == {"C1": "C1@11", "C2": "C2@10", "C3": "C3@0"}


@pytest.mark.parametrize(
    "kind, make",
    [
        ("int64", lambda m: m),
        ("int32", lambda m: m),
        ("naive timestamp", lambda m: datetime(2022, 1, 1, 0, m)),
        ("tokyo timestamp", lambda m: datetime(2022, 1, 1, 0, m, tzinfo=timezone.utc)),
    ],
)
def test_older_events_lose_for_every_sequence_type(kind, make):
    arrow_type = {
        "int64": pa.int64(),
        "int32": pa.int32(),
        "naive timestamp": pa.timestamp("us"),
        "tokyo timestamp": pa.timestamp("ms", tz="Asia/Tokyo"),
    }[kind]
    schema = pa.schema([("customer_id", pa.string()), ("email", pa.string()), ("seq", arrow_type)])

    def batch(*rows):
        return pa.Table.from_pylist(
            [{"customer_id": c, "email": e, "seq": make(m)} for c, e, m in rows], schema=schema
        )

    upsert = notebook_upsert(sequence_by="seq", operation_column=None)
    upsert(batch(("C1", "mid", 30), ("C1", "low", 2), ("C2", "x", 40)), 0)
    upsert(batch(("C1", "late", 29), ("C2", "new", 41)), 1)
    assert emails(upsert) == {"C1": "mid", "C2": "new"}


def test_sequence_compares_instants_not_wall_clock_texts_across_offsets():
    # 10:00+09:00 is 01:00Z, older than 02:00Z, although "10" sorts after "02" as text.
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    upsert(bronze({**event("C1", 0), "email": "tokyo", "row_time": "2022-01-31T10:00:00.000+09:00"}), 0)
    report = upsert(bronze({**event("C1", 0), "email": "utc", "row_time": "2022-01-31T02:00:00.000Z"}), 1)
    assert counts(report) == {"updated": 1}
    assert emails(upsert) == {"C1": "utc"}
    (row,) = upsert.target.to_arrow().to_pylist()
    assert instant(row["row_time"]) == datetime(2022, 1, 31, 2, tzinfo=timezone.utc)


def test_offsetless_timestamps_are_read_in_the_configured_time_zone():
    # Midnight in New York is 05:00Z, newer than 03:00Z.
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers",
                             time_zone="America/New_York")
    batch = bronze(
        {**event("C1", 0), "email": "new-york", "row_time": "2022-01-31T00:00:00"},
        {**event("C1", 0), "email": "utc", "row_time": "2022-01-31T03:00:00Z"},
    )
    upsert(batch, 0)
    assert emails(upsert) == {"C1": "new-york"}
    (row,) = upsert.target.to_arrow().to_pylist()
    assert instant(row["row_time"]) == datetime(2022, 1, 31, 5, tzinfo=timezone.utc)


def test_offsetless_timestamps_default_to_utc():
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    batch = bronze(
        {**event("C1", 0), "email": "local", "row_time": "2022-01-31T00:00:00"},
        {**event("C1", 0), "email": "utc", "row_time": "2022-01-31T03:00:00Z"},
    )
    upsert(batch, 0)
    assert emails(upsert) == {"C1": "utc"}


# A later batch may carry the sequence in another type than the first batch did. Refusing the
# batch is fine; rounding its sequences to the first batch's type is not, because a strictly
# newer event would then look equal or older and be dropped as stale.


def sequence_batch(values, arrow_type, email):
    return pa.table({"customer_id": ["C1"] * len(values), "email": [email] * len(values),
                     "seq": pa.array(values, arrow_type)})


@pytest.mark.parametrize(
    "first, later",
    [
        ((datetime(2022, 1, 1), pa.timestamp("s")),
         (datetime(2022, 1, 1, 0, 0, 0, 500_000), pa.timestamp("us"))),
        ((datetime(2022, 1, 1, tzinfo=timezone.utc), pa.timestamp("ms", tz="UTC")),
         (datetime(2022, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc), pa.timestamp("us", tz="UTC"))),
        ((2, pa.int64()), (2.5, pa.float64())),
    ],
    ids=["seconds-then-microseconds", "milliseconds-then-microseconds", "int-then-float"],
)
def test_a_newer_sequence_in_a_finer_type_is_never_rounded_into_a_stale_one(first, later):
    upsert = notebook_upsert(sequence_by="seq", operation_column=None)
    upsert(sequence_batch([first[0]], first[1], "old"), 0)
    try:
        report = upsert(sequence_batch([later[0]], later[1], "new"), 1)
    except (ValueError, cdc_rs.CdcError):
        assert emails(upsert) == {"C1": "old"}
    else:
        assert counts(report) == {"updated": 1}
        assert emails(upsert) == {"C1": "new"}
