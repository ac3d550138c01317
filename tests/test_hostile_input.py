"""Hostile input gets a clear cdc_rs error or the right answer: never a crash, a panic or a
wrong table. Each test is named after the behaviour it pins."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pyarrow as pa
import pytest

import cdc_rs
from conftest import COUNTRIES, CUSTOMER_DDL, bronze, event, notebook_upsert

MAX_NESTING = 32  # src/schema.rs


def _nested(kind: str, depth: int) -> str:
    open_, close = {"struct": ("STRUCT<a: ", ">"), "map": ("MAP<STRING, ", ">"),
                    "array": ("ARRAY<", ">")}[kind]
    return "a " + open_ * depth + "INT" + close * depth


# ---------------------------------------------------------------------- schemas


@pytest.mark.parametrize("kind,depth", [("struct", 20_000), ("map", 5_000), ("array", 100_000)])
def test_a_hostile_nesting_depth_is_a_schema_error_not_a_segfault(kind, depth):
    ddl = _nested(kind, depth)
    with pytest.raises(cdc_rs.SchemaError, match="nest deeper than 32") as caught:
        cdc_rs.parse_schema(ddl)
    assert len(str(caught.value)) < 500  # the message shows a window, not 200 kB of schema
    with pytest.raises(cdc_rs.SchemaError):
        cdc_rs.batch_upsert(keys="a", sequence_by="a", value_schema=ddl)


def test_the_deepest_schema_accepted_is_applied_and_read_back_and_pickled():
    inner = "STRUCT<a: " * (MAX_NESTING - 1) + "INT" + ">" * (MAX_NESTING - 1)
    ddl = f"id INT, ts INT, deep {inner}"
    value = 7
    for _ in range(MAX_NESTING - 1):
        value = {"a": value}
    import json

    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts", value_schema=ddl)
    report = upsert(pa.table({"value": [json.dumps({"id": 1, "ts": 1, "deep": value})]}), 0)
    assert report.inserted == 1
    assert upsert.target.to_arrow().column("deep").to_pylist() == [value]
    assert len(pickle.loads(pickle.dumps(upsert)).target) == 1
    with pytest.raises(cdc_rs.SchemaError):
        cdc_rs.parse_schema("id INT, deep " + "STRUCT<a: " * (MAX_NESTING + 1) + "INT"
                            + ">" * (MAX_NESTING + 1))


@pytest.mark.parametrize("ddl,name", [("v INT, v STRING", "v"), ("k INT, k STRING", "k"),
                                      ("s STRUCT<x: INT, x: STRING>", "x")])
def test_a_duplicate_field_name_in_a_schema_is_refused_naming_it(ddl, name):
    with pytest.raises(cdc_rs.SchemaError, match=f'duplicate field name "{name}"'):
        cdc_rs.parse_schema(ddl)
    with pytest.raises(cdc_rs.SchemaError):
        cdc_rs.from_json(['{"v": 1}'], ddl)


def test_a_nul_in_a_backticked_name_is_a_schema_error():
    with pytest.raises(cdc_rs.SchemaError, match="NUL"):
        cdc_rs.parse_schema("`a\0b` INT")


@pytest.mark.parametrize("field", ["value_schema", "time_zone", "topic", "keys"])
def test_a_lone_surrogate_in_text_is_a_cdc_error_naming_the_argument(field):
    options = {"keys": "id", "sequence_by": "ts", "value_schema": "id INT, ts INT",
               "time_zone": "UTC", "topic": "t"}
    options[field] = "id\udc80" if field != "value_schema" else "id INT, \udc80 INT"
    with pytest.raises(cdc_rs.CdcError, match=field):
        cdc_rs.batch_upsert(**options)
    with pytest.raises(cdc_rs.SchemaError, match="schema"):
        cdc_rs.parse_schema("a\udc80 INT")
    with pytest.raises(cdc_rs.ConfigError, match="time_zone"):
        cdc_rs.from_json(['{"a": 1}'], "a INT", time_zone="Europe/\udc80")


# ---------------------------------------------------------------------- duplicate columns


def test_a_batch_with_two_columns_of_one_name_is_refused_naming_it():
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts")
    batch = pa.Table.from_arrays([pa.array([1]), pa.array([1]), pa.array(["a"]), pa.array(["b"])],
                                 names=["id", "ts", "v", "v"])
    with pytest.raises(cdc_rs.InputError, match='two columns named "v"'):
        upsert(batch, 0)
    assert upsert.target.last_batch_id is None


def test_a_lookup_with_two_columns_of_one_name_is_refused_naming_it():
    lookup = pa.Table.from_arrays([pa.array(["FR"]), pa.array(["a"]), pa.array(["b"])],
                                  names=["code", "country", "country"])
    with pytest.raises(cdc_rs.ConfigError, match='two columns named "country"'):
        notebook_upsert(lookup=lookup, lookup_on={"country_code": "code"})


# ---------------------------------------------------------------------- float keys


def _nan(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def test_minus_zero_and_zero_are_one_key_as_in_spark():
    upsert = cdc_rs.batch_upsert(keys="k", sequence_by="ts")
    upsert(pa.table({"k": [0.0], "ts": [1], "v": ["zero"]}), 0)
    report = upsert(pa.table({"k": [-0.0], "ts": [2], "v": ["minus zero"]}), 1)
    assert (report.inserted, report.updated) == (0, 1)
    assert upsert.target.to_arrow().column("v").to_pylist() == ["minus zero"]


def test_every_nan_bit_pattern_is_one_key_as_in_spark():
    nans = [float("nan"), _nan(0x7FF8000000000001), _nan(0xFFF8000000000000), -float("nan")]
    upsert = cdc_rs.batch_upsert(keys="k", sequence_by="ts")
    report = upsert(pa.table({"k": nans, "ts": [1, 2, 3, 4], "v": ["a", "b", "c", "d"]}), 0)
    assert (report.inserted, report.superseded) == (1, 3)
    assert upsert.target.to_arrow().column("v").to_pylist() == ["d"]


def test_float_sequences_treat_minus_zero_as_equal_so_the_later_arrival_is_stale():
    upsert = cdc_rs.batch_upsert(keys="k", sequence_by="ts")
    upsert(pa.table({"k": [1], "ts": [0.0], "v": ["first"]}), 0)
    assert upsert(pa.table({"k": [1], "ts": [-0.0], "v": ["second"]}), 1).stale == 1


def test_float_lookup_keys_match_minus_zero_and_refuse_zero_twice():
    lookup = pa.table({"code": [0.0, 1.5], "name": ["zero", "one and a half"]})
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts", lookup=lookup,
                                 lookup_on={"c": "code"})
    report = upsert(pa.table({"id": [1, 2], "ts": [1, 1], "c": [-0.0, 1.5]}), 0)
    assert report.inserted == 2 and report.lookup_misses == 0
    twice = pa.table({"code": [0.0, -0.0], "name": ["a", "b"]})
    with pytest.raises(cdc_rs.ConfigError, match="duplicate key"):
        cdc_rs.batch_upsert(keys="id", sequence_by="ts", lookup=twice, lookup_on={"c": "code"})


# ---------------------------------------------------------------------- batch ids


@pytest.mark.parametrize("bad", [1.5, "1", None, True, 2**63, -(2**63) - 1])
def test_a_batch_id_that_is_not_a_64_bit_integer_is_an_input_error(bad):
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts")
    with pytest.raises(cdc_rs.InputError, match="batch_id"):
        upsert(pa.table({"id": [1], "ts": [1]}), bad)
    assert upsert.target.last_batch_id is None


def test_numpy_integers_are_batch_ids():
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts")
    assert upsert(pa.table({"id": [1], "ts": [1]}), np.int64(3)).batch_id == 3


# ---------------------------------------------------------------------- inputs and lookups


def test_a_pandas_column_of_mixed_objects_is_an_input_error_naming_the_column():
    import pandas as pd

    frame = pd.DataFrame({"id": [1, 2], "ts": [1, 1], "mixed": [1, "one"]})
    with pytest.raises(cdc_rs.InputError, match="mixed"):
        cdc_rs.batch_upsert(keys="id", sequence_by="ts")(frame, 0)


def test_an_empty_lookup_is_accepted_and_every_row_misses():
    empty = COUNTRIES.slice(0, 0)
    upsert = notebook_upsert(lookup=empty, lookup_on={"country_code": "code"},
                             value_schema=CUSTOMER_DDL)
    report = upsert(bronze(event("C1", 1, "insert")), 0)
    assert (report.lookup_misses, report.inserted) == (1, 0)


def test_a_lookup_key_of_another_kind_than_the_schema_column_fails_at_build_naming_both():
    ints = pa.table({"code": [1, 2], "country": ["a", "b"]})
    with pytest.raises(cdc_rs.ConfigError, match="country_code.*string.*integer"):
        notebook_upsert(lookup=ints, lookup_on={"country_code": "code"},
                        value_schema=CUSTOMER_DDL)


@pytest.mark.parametrize("shape", ["struct in a record batch", "list of structs", "map"])
def test_valid_sliced_nested_input_is_accepted(shape):
    if shape == "struct in a record batch":
        column = pa.array([{"x": {"z": 1}}, {"x": {"z": 2}}, {"x": None}])
    elif shape == "list of structs":
        column = pa.array([[{"x": {"z": 1}}], [{"x": {"z": 2}}, {"x": None}], None])
    else:
        column = pa.array([[("a", {"z": 1})], [("b", {"z": 2})], []],
                          pa.map_(pa.string(), pa.struct([("z", pa.int64())])))
    table = pa.table({"id": [1, 2, 3], "ts": [1, 1, 1], "c": column}).slice(1)
    for kind, sliced in [("batch", table.to_batches()[0]), ("table", table),
                         ("reader", pa.RecordBatchReader.from_batches(table.schema,
                                                                      table.to_batches()))]:
        upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts")
        assert upsert(sliced, 0).inserted == 2, kind
        got = upsert.target.to_arrow().sort_by("id").column("c").to_pylist()
        assert got == column.slice(1).to_pylist(), kind


def test_arrow_data_that_cannot_be_imported_is_an_input_error_without_a_rust_backtrace():
    import subprocess
    import sys

    script = """
import pyarrow as pa, cdc_rs
nested = pa.array([{"x": {"z": 1}}, {"x": {"z": 2}}])
try:
    cdc_rs._cdc_rs.key_hashes(pa.table({"c": nested.slice(1)}))
except cdc_rs.InputError as exc:
    print("InputError", "could not be imported" in str(exc))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "InputError True", done.stdout + done.stderr
    assert "panicked" not in done.stderr and "backtrace" not in done.stderr, done.stderr


def test_a_huge_read_ahead_or_batch_size_is_a_bound_not_an_allocation(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "bronze.parquet"
    pq.write_table(pa.table({"value": [b"{}"] * 5}), path)
    for read_ahead, batch_rows in [(2**62, 65_536), (10**8, 2), (1, 2**62)]:
        scan = cdc_rs.scan_parquet(path, read_ahead=read_ahead, batch_rows=batch_rows)
        assert scan.read_all().num_rows == 5
