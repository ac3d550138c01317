"""Errors users can catch: a CdcError base, ValueError subclasses, and never a Rust panic."""

import cdc_rs
import pyarrow as pa
import pytest
from conftest import COUNTRIES, CUSTOMER_DDL, bronze, customers, event, notebook_upsert


@pytest.mark.parametrize("name", ["SchemaError", "DecodeError", "ConfigError"])
def test_specific_errors_are_cdc_errors_and_value_errors(name):
    error = getattr(cdc_rs, name)
    assert issubclass(error, cdc_rs.CdcError)
    assert issubclass(error, ValueError)
    assert issubclass(cdc_rs.CdcError, Exception)


def test_an_invalid_value_schema_raises_a_schema_error():
    with pytest.raises(cdc_rs.SchemaError):
        upsert = notebook_upsert(value_schema="customer_id STRNG, row_time")
        upsert(bronze(event("C1", 1)), 0)


def test_from_json_failfast_raises_a_decode_error_on_malformed_input():
    with pytest.raises(cdc_rs.DecodeError):
        cdc_rs.from_json(pa.array(['{"a": 1}', "{not json"]), "a INT", mode="FAILFAST")


def test_from_json_decodes_into_a_struct_array():
    out = cdc_rs.from_json(pa.array(['{"a": 1, "b": "x"}', '{"b": "y"}']), "a INT, b STRING")
    assert isinstance(out, pa.StructArray)
    assert out.to_pylist() == [{"a": 1, "b": "x"}, {"a": None, "b": "y"}]


def test_from_json_takes_a_chunked_column_as_one_column():
    rows = ['{"a": 1}', None, '{"a": 2}', "{bad", '{"a": 3}']
    chunked = pa.chunked_array([rows[:2], [], rows[2:4], rows[4:]], pa.string())
    whole = cdc_rs.from_json(pa.array(rows), "a INT")
    assert cdc_rs.from_json(chunked, "a INT").equals(whole)
    empty = cdc_rs.from_json(pa.chunked_array([], pa.string()), "a INT")
    assert len(empty) == 0 and empty.type == whole.type
    # FAILFAST names the row of the whole column, counting the earlier chunks
    with pytest.raises(cdc_rs.DecodeError, match="row 3"):
        cdc_rs.from_json(chunked, "a INT", mode="FAILFAST")


def test_an_unknown_lookup_how_raises_a_config_error():
    with pytest.raises(cdc_rs.ConfigError):
        notebook_upsert(lookup=COUNTRIES, lookup_on={"country_code": "code"}, lookup_how="outer")


def test_a_lookup_on_a_column_the_lookup_lacks_raises_a_value_error():
    with pytest.raises(ValueError, match="no_such_code"):
        notebook_upsert(lookup=COUNTRIES, lookup_on={"country_code": "no_such_code"})


def test_empty_keys_raise_a_config_error():
    with pytest.raises(cdc_rs.ConfigError):
        notebook_upsert(keys=[])


@pytest.mark.parametrize("missing", ["customer_id", "row_time", "row_status"])
def test_a_batch_without_a_needed_column_raises_an_error_naming_it(missing):
    upsert = notebook_upsert()
    batch = customers(event("C1", 1)).drop_columns([missing])
    with pytest.raises((ValueError, cdc_rs.CdcError), match=missing):
        upsert(batch, 0)


def test_a_topic_filter_on_a_batch_without_a_topic_column_raises():
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    with pytest.raises((ValueError, cdc_rs.CdcError), match="topic"):
        upsert(bronze(event("C1", 1)).drop_columns(["topic"]), 0)


def test_a_bronze_batch_without_a_value_column_raises():
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers")
    with pytest.raises((ValueError, cdc_rs.CdcError), match="value"):
        upsert(bronze(event("C1", 1)).drop_columns(["value"]), 0)


def test_a_value_that_is_not_a_table_raises_a_type_or_value_error():
    upsert = notebook_upsert()
    with pytest.raises((TypeError, ValueError)):
        upsert(42, 0)


def test_a_failed_batch_does_not_count_as_applied():
    upsert = notebook_upsert()
    with pytest.raises((ValueError, cdc_rs.CdcError)):
        upsert(customers(event("C1", 1)).drop_columns(["row_time"]), 0)
    report = upsert(customers(event("C1", 1)), 0)
    assert report.skipped_replay is False and report.inserted == 1


def test_a_bronze_batch_without_value_schema_hints_at_value_schema():
    upsert = notebook_upsert()  # no value_schema
    with pytest.raises(cdc_rs.ConfigError, match="value_schema="):
        upsert(bronze(event("C1", 1)), 0)


def test_a_value_column_that_is_not_text_is_named_in_the_error():
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL)
    batch = pa.table({"value": pa.array([1, 2], pa.int64())})
    with pytest.raises(cdc_rs.InputError, match='value column "value" is Int64'):
        upsert(batch, 0)
