"""format="debezium": Kafka Connect's JSON encodings become Arrow types (base64 decimals,
io.debezium.time dates, timestamps and times), and Postgres TOAST placeholders never reach a
column."""

from __future__ import annotations

import base64
from datetime import date, datetime, time, timezone
from decimal import Decimal

import pyarrow as pa
from debezium_events import bronze, envelope, postgres_source, reasons, rows, unscaled

import cdc_rs

PLACEHOLDER = "__debezium_unavailable_value"


def field(name: str, type_: str, logical: str | None = None, **parameters: str) -> dict:
    out = {"type": type_, "optional": True, "field": name}
    if logical:
        out["name"] = logical
    if parameters:
        out["parameters"] = parameters
    return out


TYPED = {"type": "struct", "name": "srv.public.typed.Value", "optional": True, "fields": [
    field("id", "int64"),
    field("price", "bytes", "org.apache.kafka.connect.data.Decimal", scale="2",
          **{"connect.decimal.precision": "10"}),
    field("born", "int32", "io.debezium.time.Date"),
    field("seen_ms", "int64", "io.debezium.time.Timestamp"),
    field("seen_us", "int64", "io.debezium.time.MicroTimestamp"),
    field("seen_ns", "int64", "io.debezium.time.NanoTimestamp"),
    field("zoned", "string", "io.debezium.time.ZonedTimestamp"),
    field("at", "int64", "io.debezium.time.MicroTime"),
    field("tags", "array") | {"items": {"type": "string", "optional": True}},
    field("blob", "bytes"),
    field("doc", "string", "io.debezium.data.Json"),
]}


def test_connect_types_become_arrow_types():
    after = {"id": 1, "price": unscaled(-123456), "born": -1, "seen_ms": 1_700_000_000_123,
             "seen_us": 1_700_000_000_123_456, "seen_ns": -1_500, "zoned": "2023-11-14T22:13:20.5Z",
             "at": 3_723_000_004, "tags": ["a", None], "blob": base64.b64encode(b"\x00\xff").decode(),
             "doc": '{"k": 1}'}
    upsert = cdc_rs.batch_upsert(keys="id", format="debezium")
    upsert(bronze(envelope("r", None, after, postgres_source(1, snapshot="true"), row_schema=TYPED)), 0)
    table = upsert.target.to_arrow()
    assert table.schema == pa.schema([
        ("id", pa.int64()), ("price", pa.decimal128(10, 2)), ("born", pa.date32()),
        ("seen_ms", pa.timestamp("us")), ("seen_us", pa.timestamp("us")),
        ("seen_ns", pa.timestamp("us")), ("zoned", pa.timestamp("us", "UTC")),
        ("at", pa.time64("us")), ("tags", pa.list_(pa.field("element", pa.string()))),
        ("blob", pa.binary()), ("doc", pa.string())])
    assert table.to_pylist() == [{
        "id": 1, "price": Decimal("-1234.56"), "born": date(1969, 12, 31),
        "seen_ms": datetime(2023, 11, 14, 22, 13, 20, 123000),
        "seen_us": datetime(2023, 11, 14, 22, 13, 20, 123456),
        "seen_ns": datetime(1969, 12, 31, 23, 59, 59, 999998),  # rounded down, as Spark does
        "zoned": datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=timezone.utc),
        "at": time(1, 2, 3, 4), "tags": ["a", None], "blob": b"\x00\xff", "doc": '{"k": 1}'}]


def test_spark_ddl_reads_debeziums_default_encodings():
    ddl = "id BIGINT, price DECIMAL(10,2), born DATE, seen_us TIMESTAMP_NTZ, zoned TIMESTAMP"
    after = {"id": 1, "price": unscaled(99), "born": 19_000, "seen_us": 1_000_001,
             "zoned": "2024-02-29T12:00:00+02:00"}
    upsert = cdc_rs.batch_upsert(keys="id", format="debezium", value_schema=ddl)
    upsert(bronze(envelope("c", None, after, postgres_source(1))), 0)
    assert rows(upsert) == [{"id": 1, "price": Decimal("0.99"), "born": date(2022, 1, 8),
                             "seen_us": datetime(1970, 1, 1, 0, 0, 1, 1),
                             "zoned": datetime(2024, 2, 29, 10, tzinfo=timezone.utc)}]


def test_a_decimal_beyond_its_precision_is_rejected_not_wrapped():
    upsert = cdc_rs.batch_upsert(keys="id", format="debezium", value_schema="id INT, d DECIMAL(4,2)")
    report = upsert(bronze(envelope("c", None, {"id": 1, "d": unscaled(10_000)}, postgres_source(1)),
                           envelope("c", None, {"id": 2, "d": unscaled(-9_999)}, postgres_source(2))), 0)
    assert (report.malformed, reasons(report), report.inserted) == (1, ["out_of_range"], 1)
    assert rows(upsert) == [{"id": 2, "d": Decimal("-99.99")}]


def test_a_toast_placeholder_is_filled_from_before_or_the_row_is_rejected():
    ddl = "id INT, name STRING, notes STRING, raw BINARY, tags ARRAY<STRING>"
    upsert = cdc_rs.batch_upsert(keys="id", format="debezium", value_schema=ddl)
    first = {"id": 1, "name": "a", "notes": "long text", "raw": base64.b64encode(b"bytes").decode(),
             "tags": ["x"]}
    upsert(bronze(envelope("c", None, first, postgres_source(10)),
                  envelope("c", None, {**first, "id": 2}, postgres_source(11))), 0)
    placeholder = base64.b64encode(PLACEHOLDER.encode()).decode()
    unchanged = {"notes": PLACEHOLDER, "raw": placeholder, "tags": [PLACEHOLDER]}
    # REPLICA IDENTITY FULL: before holds the unchanged values, which fill the placeholders
    full = envelope("u", first, {**first, "name": "b", **unchanged}, postgres_source(20))
    # REPLICA IDENTITY DEFAULT: before has the key only; keeping the stored value would need
    # the stored row, which a target need not hold: the event is rejected, silver unchanged
    default = envelope("u", {"id": 2}, {**first, "id": 2, "name": "b", **unchanged},
                       postgres_source(21))
    report = upsert(bronze(full, default), 1)
    assert (report.updated, report.malformed, reasons(report)) == (1, 1, ["unavailable_value"])
    assert rows(upsert) == [{**first, "name": "b", "raw": b"bytes"},
                            {**first, "id": 2, "raw": b"bytes"}]


def test_the_placeholder_in_a_delete_is_harmless():
    upsert = cdc_rs.batch_upsert(keys="id", format="debezium", value_schema="id INT, notes STRING")
    upsert(bronze(envelope("c", None, {"id": 1, "notes": "x"}, postgres_source(1))), 0)
    report = upsert(bronze(envelope("d", {"id": 1, "notes": PLACEHOLDER}, None, postgres_source(2))), 1)
    assert (report.deleted, report.rejected.num_rows) == (1, 0)


def test_values_of_a_view_typed_bronze_column_decode_the_same(tmp_path):
    import pyarrow.parquet as pq

    batch = bronze(envelope("c", None, {"id": 1, "v": "a"}, postgres_source(1)), None, "bad")
    pq.write_table(batch, tmp_path / "b.parquet")
    viewed = cdc_rs.read_parquet(str(tmp_path / "b.parquet"))
    assert pa.types.is_binary_view(viewed.schema.field("value").type)
    plain = cdc_rs.batch_upsert(keys="id", format="debezium", value_schema="id INT, v STRING")
    views = cdc_rs.batch_upsert(keys="id", format="debezium", value_schema="id INT, v STRING")
    a, b = plain(batch, 0), views(viewed, 0)
    assert a.to_dict() | {"seconds": 0} == b.to_dict() | {"seconds": 0}
    assert rows(plain) == rows(views) == [{"id": 1, "v": "a"}]
    assert b.rejected.column("value").to_pylist() == [b"bad"]
    assert b.rejected.schema.field("value").type == viewed.schema.field("value").type
