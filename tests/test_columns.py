"""Rule 5: the target's columns: all of the enriched batch by default, or chosen by name."""

import pyarrow as pa
import pytest

import cdc_rs
from conftest import (COUNTRIES, CUSTOMER_DDL, CUSTOMERS, at, bronze, customers, emails, event,
                      notebook_upsert)


def test_by_default_the_target_holds_every_batch_column():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 1)), 0)
    assert set(upsert.target.to_arrow().column_names) == set(CUSTOMERS.names)


def test_by_default_a_bronze_target_holds_the_decoded_fields_not_the_bronze_columns():
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    upsert(bronze(event("C1", 1)), 0)
    assert set(upsert.target.to_arrow().column_names) == set(CUSTOMERS.names)


def test_by_default_the_target_holds_the_lookup_columns():
    upsert = notebook_upsert(lookup=COUNTRIES, lookup_on={"country_code": "code"})
    upsert(customers(event("C1", 1)), 0)
    names = set(upsert.target.to_arrow().column_names)
    assert set(CUSTOMERS.names) | {"country", "calling_code"} <= names
    assert names <= set(CUSTOMERS.names) | set(COUNTRIES.column_names)


def test_columns_selects_the_target_columns():
    upsert = notebook_upsert(columns=["customer_id", "email", "row_time"])
    upsert(customers(event("C1", 1)), 0)
    upsert(customers(event("C1", 2)), 1)
    table = upsert.target.to_arrow()
    assert set(table.column_names) == {"customer_id", "email", "row_time"}
    assert table.to_pylist() == [{"customer_id": "C1", "email": "C1@2", "row_time": at(2)}]


def test_except_column_list_drops_the_named_columns():
    upsert = notebook_upsert(except_column_list=["row_status", "country_code"])
    upsert(customers(event("C1", 1)), 0)
    assert set(upsert.target.to_arrow().column_names) == {"customer_id", "email", "row_time"}


def test_columns_may_name_lookup_columns_and_leave_out_the_join_column():
    upsert = notebook_upsert(lookup=COUNTRIES, lookup_on={"country_code": "code"},
                             columns=["customer_id", "country", "row_time"])
    upsert(customers(event("C1", 1, country="NL")), 0)
    assert upsert.target.to_arrow().to_pylist() == [
        {"customer_id": "C1", "country": "Netherlands", "row_time": at(1)}
    ]


def test_a_target_without_the_sequence_column_still_ignores_older_events():
    upsert = notebook_upsert(columns=["customer_id", "email"])
    upsert(customers(event("C1", 10)), 0)
    report = upsert(customers(event("C1", 5)), 1)
    assert report.stale == 1
    assert emails(upsert) == {"C1": "C1@10"}


@pytest.mark.parametrize("option", ["columns", "except_column_list"])
def test_a_missing_column_raises_a_clear_error_at_the_first_batch(option):
    upsert = notebook_upsert(**{option: ["customer_id", "no_such_column"]})
    with pytest.raises(ValueError, match="no_such_column"):
        upsert(customers(event("C1", 1)), 0)


def test_target_column_types_follow_the_batch():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 1)), 0)
    schema = upsert.target.to_arrow().schema
    assert pa.types.is_timestamp(schema.field("row_time").type)
    assert schema.field("row_time").type.tz in ("UTC", "+00:00", "Etc/UTC")
    assert pa.types.is_string(schema.field("email").type) or pa.types.is_large_string(
        schema.field("email").type) or pa.types.is_string_view(schema.field("email").type)


def test_later_batches_may_list_columns_in_another_order():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 1), event("C2", 1)), 0)
    shuffled = customers(event("C1", 2)).select(
        ["row_time", "email", "row_status", "country_code", "customer_id"])
    report = upsert(shuffled, 1)
    assert report.updated == 1
    rows = {r["customer_id"]: r for r in upsert.target.to_arrow().to_pylist()}
    assert rows["C1"] == event("C1", 2) and rows["C2"] == event("C2", 1)


def test_column_list_is_columns_under_its_auto_cdc_name():
    batch = pa.table({"id": [1], "ts": [1], "op": ["insert"], "v": ["a"]})
    up = cdc_rs.batch_upsert(keys="id", sequence_by="ts", column_list=["id", "v"])
    up(batch, 0)
    assert up.target.to_arrow().column_names == ["id", "v"]
    with pytest.raises(cdc_rs.ConfigError, match="column_list"):
        cdc_rs.batch_upsert(keys="id", sequence_by="ts", columns=["id"], column_list=["id"])
