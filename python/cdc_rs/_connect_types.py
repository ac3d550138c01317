"""Column types as Debezium writes them in JSON (Kafka Connect schemas) → Arrow.

A :class:`Spec` says what ``cdc_rs.from_json`` decodes for a value (``read``, written back as
Spark DDL) and what the column finally is (``type``), and :func:`convert` turns the one into
the other with Arrow compute: base64 decimals, dates as days, timestamps as epoch counts.
A spec comes from a Connect schema (the ``schema`` of the JSON converter's wrapper, or one
given as ``value_schema``) or from a Spark DDL row, read the way Debezium encodes by default.
"""

from __future__ import annotations

import functools

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import _cdc_rs
from .exceptions import SchemaError

__all__ = ["CONTROL_FIELDS", "Spec", "convert", "ddl_fields", "ddl_type", "from_arrow",
           "from_connect", "from_ddl", "is_envelope", "row_struct", "union"]

DECIMAL = "org.apache.kafka.connect.data.Decimal"
#: logical type name → what its integer counts (see :func:`convert`)
_COUNTS = {
    "io.debezium.time.Date": "days",
    "org.apache.kafka.connect.data.Date": "days",
    "io.debezium.time.Timestamp": "millis",
    "org.apache.kafka.connect.data.Timestamp": "millis",
    "io.debezium.time.MicroTimestamp": "micros",
    "io.debezium.time.NanoTimestamp": "nanos",
    "io.debezium.time.Time": "time_millis",
    "org.apache.kafka.connect.data.Time": "time_millis",
    "io.debezium.time.MicroTime": "time_micros",
    "io.debezium.time.NanoTime": "time_nanos",
}
ZONED_TIMESTAMP = "io.debezium.time.ZonedTimestamp"
_PRIMITIVES = {
    "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
    "float32": pa.float32(), "float64": pa.float64(), "boolean": pa.bool_(),
    "string": pa.string(), "bytes": pa.binary(),
}
#: Fields of ExtractNewRecordState's flattened value that drive the operation: never columns.
CONTROL_FIELDS = ("__op", "__deleted")
_TIMESTAMP_US = pa.timestamp("us")
_TIME_US = pa.time64("us")


@dataclass(frozen=True)
class Spec:
    """How one value is decoded (``read``) and what it becomes (``type``).

    ``convert`` names the conversion ("" when ``read`` is already the type): ``decimal``
    (big-endian two's complement unscaled bytes), ``days``, ``millis``/``micros``/``nanos``
    since the epoch, ``time_millis``/``time_micros``/``time_nanos`` since midnight.
    ``children`` are the specs of a struct's fields, a list's item, or a map's key and value.
    """

    read: pa.DataType
    type: pa.DataType
    convert: str = ""
    children: tuple[Spec, ...] = ()

    @property
    def plain(self) -> bool:
        """Decoded as it is (nothing to convert, at any depth)."""
        return bool(self.read == self.type)


def _struct(names: list[str], children: list[Spec]) -> Spec:
    return Spec(pa.struct([pa.field(n, c.read) for n, c in zip(names, children)]),
                pa.struct([pa.field(n, c.type) for n, c in zip(names, children)]),
                children=tuple(children))


def _list(item: Spec) -> Spec:
    return Spec(pa.list_(pa.field("element", item.read)), pa.list_(pa.field("element", item.type)),
                children=(item,))


def _map(key: Spec, value: Spec) -> Spec:
    return Spec(pa.map_(key.read, value.read), pa.map_(key.type, value.type), children=(key, value))


def from_connect(schema: Mapping[str, Any], where: str = "schema") -> Spec:
    """The spec of a Kafka Connect schema (as the JSON converter writes it)."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"{where}: a Kafka Connect schema is a JSON object, got {schema!r}")
    kind, name = schema.get("type"), schema.get("name") or ""
    if name == DECIMAL:
        params = schema.get("parameters") or {}
        try:
            scale = int(params.get("scale", 0))
            precision = int(params.get("connect.decimal.precision", 38))
        except (TypeError, ValueError):
            raise SchemaError(f"{where}: decimal parameters {params!r} are not integers") from None
        if not 0 <= scale <= 38:
            raise SchemaError(f"{where}: decimal scale {scale} is outside Arrow's 0..38")
        return Spec(pa.binary(), pa.decimal128(min(max(precision, scale, 1), 38), scale), "decimal")
    if name in _COUNTS:
        unit = _COUNTS[name]
        final = pa.date32() if unit == "days" else _TIME_US if unit.startswith("time") else _TIMESTAMP_US
        return Spec(pa.int32() if unit == "days" else pa.int64(), final, unit)
    if name == ZONED_TIMESTAMP:
        return Spec(pa.timestamp("us", "UTC"), pa.timestamp("us", "UTC"))
    if kind == "struct":
        fields = schema.get("fields") or []
        names = [str(f.get("field")) for f in fields]
        return _struct(names, [from_connect(f, f"{where}.{n}") for f, n in zip(fields, names)])
    if kind == "array":
        return _list(from_connect(schema.get("items") or {}, f"{where}[]"))
    if kind == "map":
        return _map(from_connect(schema.get("keys") or {}, f"{where} key"),
                    from_connect(schema.get("values") or {}, f"{where} value"))
    if kind in _PRIMITIVES:
        return Spec(_PRIMITIVES[kind], _PRIMITIVES[kind])
    raise SchemaError(f"{where}: unknown Kafka Connect type {kind!r}")


def from_arrow(t: pa.DataType) -> Spec:
    """The spec of a column declared in Spark DDL, read as Debezium encodes it by default:
    DECIMAL from base64 bytes (``decimal.handling.mode=precise``), DATE from days,
    TIMESTAMP_NTZ from microseconds (``MicroTimestamp``), TIMESTAMP from ISO text
    (``ZonedTimestamp``); everything else as ``from_json`` reads it."""
    if pa.types.is_decimal(t):
        return Spec(pa.binary(), t, "decimal")
    if pa.types.is_date32(t):
        return Spec(pa.int32(), t, "days")
    if pa.types.is_timestamp(t) and t.tz is None:
        return Spec(pa.int64(), t, "micros")
    if pa.types.is_struct(t):
        return _struct([t.field(i).name for i in range(t.num_fields)],
                       [from_arrow(t.field(i).type) for i in range(t.num_fields)])
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _list(from_arrow(t.value_type))
    if pa.types.is_map(t):
        return _map(from_arrow(t.key_type), from_arrow(t.item_type))
    return Spec(t, t)


def row_struct(schema: Mapping[str, Any], where: str = "schema",
               keep: Iterable[str] = ()) -> dict[str, Any]:
    """The Connect schema of the table's row in a message's value schema: the ``after`` (or
    ``before``) struct of an envelope, or a flattened value without the metadata fields
    ExtractNewRecordState adds (``__``-prefixed: ``__op``, ``__deleted``, ``add.fields``)
    unless named in ``keep``."""
    if not isinstance(schema, Mapping) or schema.get("type") != "struct":
        raise SchemaError(f"{where}: expected a Kafka Connect struct schema, got "
                          f"{json.dumps(schema)[:200]}")
    fields = [f for f in schema.get("fields") or [] if isinstance(f, Mapping)]
    named = {f.get("field"): f for f in fields}
    if is_envelope(schema):
        row = named.get("after") or named["before"]
        if row.get("type") != "struct":
            raise SchemaError(f"{where}: the envelope's row is not a struct")
        return dict(row)
    kept = set(keep) - set(CONTROL_FIELDS)
    return {"type": "struct", "fields": [f for f in fields if not str(f.get("field")).startswith("__")
                                         or f.get("field") in kept]}


def is_envelope(schema: Mapping[str, Any]) -> bool:
    """Whether a value schema is a change event envelope's (else a flattened row's)."""
    names = {f.get("field") for f in schema.get("fields") or [] if isinstance(f, Mapping)}
    return "op" in names and bool(names & {"after", "before"})


def union(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One row schema holding the fields of all of ``rows`` (in order of first appearance; a
    field in several takes its last schema: a batch spanning a schema change)."""
    fields: dict[str, Any] = {}
    for row in rows:
        for f in row.get("fields") or []:
            fields[str(f.get("field"))] = f
    return {"type": "struct", "fields": list(fields.values())}


def from_ddl(ddl: str) -> Spec:
    """The row spec of a Spark DDL string (control fields left out)."""
    schema = _cdc_rs.parse_schema(ddl)
    kept = [f for f in schema if f.name not in CONTROL_FIELDS]
    return _struct([f.name for f in kept], [from_arrow(f.type) for f in kept])


# --------------------------------------------------------------------------- DDL


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def ddl_type(t: pa.DataType) -> str:
    """Spark DDL of a type :func:`from_connect` / :func:`from_arrow` decodes."""
    if pa.types.is_struct(t):
        return f"STRUCT<{', '.join(f'{_quote(f.name)}: {ddl_type(f.type)}' for f in t)}>"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"ARRAY<{ddl_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"MAP<{ddl_type(t.key_type)}, {ddl_type(t.item_type)}>"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP" if t.tz is not None else "TIMESTAMP_NTZ"
    for check, name in ((pa.types.is_int8, "TINYINT"), (pa.types.is_int16, "SMALLINT"),
                        (pa.types.is_int32, "INT"), (pa.types.is_int64, "BIGINT"),
                        (pa.types.is_float32, "FLOAT"), (pa.types.is_float64, "DOUBLE"),
                        (pa.types.is_boolean, "BOOLEAN"), (pa.types.is_date32, "DATE")):
        if check(t):
            return name
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "STRING"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "BINARY"
    raise SchemaError(f"a Debezium column of Arrow type {t} has no Spark DDL to decode it")


def ddl_fields(fields: Iterable[tuple[str, pa.DataType]]) -> str:
    """``name TYPE, …`` for ``from_json``."""
    return ", ".join(f"{_quote(name)} {ddl_type(t)}" for name, t in fields)


# --------------------------------------------------------------------------- conversion


def convert(values: pa.Array, spec: Spec) -> tuple[pa.Array, pa.Array | None]:
    """``values`` (decoded as ``spec.read``) as ``spec.type``, and which rows hold a value
    the type cannot (a decimal beyond its precision, a timestamp beyond int64 microseconds);
    those are null in the result. ``None``: no such row."""
    if spec.plain:
        return values, None
    kind = spec.convert
    if kind == "decimal":
        return _decimal(values, spec.type)
    if kind == "days":
        return values.cast(pa.int32()).cast(pa.date32()), None
    if kind in ("millis", "micros", "nanos"):
        micros, bad = _micros(values.cast(pa.int64()), kind)
        return micros.cast(_TIMESTAMP_US), bad
    if kind in ("time_millis", "time_micros", "time_nanos"):
        micros, bad = _micros(values.cast(pa.int64()), kind[5:])
        return micros.cast(_TIME_US), bad
    if pa.types.is_struct(spec.type):
        return _convert_struct(values, spec)
    if pa.types.is_map(spec.type):
        return _convert_map(values, spec)
    return _convert_list(values, spec)


def _either(a: pa.Array | None, b: pa.Array | None) -> pa.Array | None:
    return b if a is None else a if b is None else pc.or_(a, b)


def _convert_struct(values: pa.StructArray, spec: Spec) -> tuple[pa.Array, pa.Array | None]:
    arrays, bad = [], None
    for i, child in enumerate(spec.children):
        array, wrong = convert(values.field(i), child)
        arrays.append(array)
        bad = _either(bad, wrong)
    mask = values.is_null() if values.null_count else None
    out = pa.StructArray.from_arrays(arrays, fields=list(spec.type), mask=mask)
    return out, None if bad is None else pc.and_(bad, values.is_valid())


def _in_rows(n: int, parents: pa.Array, bad: pa.Array | None) -> pa.Array | None:
    """Rows of a list (or map) array with a bad item, from the items' parent row indices."""
    if bad is None:
        return None
    rows = pc.filter(parents, bad)
    return pc.is_in(pa.array(range(n), pa.int64()), value_set=rows.cast(pa.int64()))


def _convert_list(values: pa.ListArray, spec: Spec) -> tuple[pa.Array, pa.Array | None]:
    items, bad = convert(values.flatten(), spec.children[0])
    offsets = pc.subtract(values.offsets, values.offsets[0])
    mask = values.is_null() if values.null_count else None
    out = pa.ListArray.from_arrays(offsets, items, type=spec.type, mask=mask)
    return out, _in_rows(len(values), pc.list_parent_indices(values), bad)


def _convert_map(values: pa.MapArray, spec: Spec) -> tuple[pa.Array, pa.Array | None]:
    keys, bad_keys = convert(values.keys, spec.children[0])
    items, bad_items = convert(values.items, spec.children[1])
    offsets = pc.subtract(values.offsets, values.offsets[0])
    mask = values.is_null() if values.null_count else None
    out = pa.MapArray.from_arrays(offsets, keys, items, type=spec.type, mask=mask)
    # list_parent_indices has no map kernel (it aborts): a list over the same offsets has one
    parents = pc.list_parent_indices(pa.ListArray.from_arrays(offsets, keys))
    return out, _in_rows(len(values), parents, _either(bad_keys, bad_items))


@functools.cache
def _sign_bytes() -> tuple[pa.Scalar, pa.Scalar]:
    """The bytes a short two's complement value is padded with, negative or not (built at
    first use: pa.scalar() at import time would import pandas, see _report._NO_REJECTS)."""
    return pa.scalar(b"\xff" * 32, pa.binary()), pa.scalar(b"\x00" * 32, pa.binary())


def _decimal(values: pa.Array, t: pa.Decimal128Type) -> tuple[pa.Array, pa.Array | None]:
    """Big-endian two's complement unscaled integers (Kafka Connect's Decimal) → ``t``."""
    values = values.cast(pa.binary())
    n = len(values)
    negative = pc.greater_equal(pc.binary_slice(values, 0, 1), pa.scalar(b"\x80", pa.binary()))
    padded = pc.binary_join_element_wise(pc.if_else(negative, *_sign_bytes()), values,
                                         pa.scalar(b"", pa.binary()))
    # The last 32 bytes, little-endian: a decimal256's layout.
    wide = pc.binary_reverse(pc.binary_slice(padded, -32)).cast(pa.binary(32))
    validity, data = wide.buffers()
    unscaled = pa.Array.from_buffers(pa.decimal256(76, t.scale), n, [validity, data],
                                     offset=wide.offset)
    bound = pa.scalar(Decimal(10) ** (t.precision - t.scale), pa.decimal256(76, t.scale))
    bad = pc.or_kleene(pc.greater(pc.binary_length(values), 32),
                       pc.or_(pc.greater_equal(unscaled, bound),
                              pc.less_equal(unscaled, pc.negate(bound))))
    bad = pc.fill_null(bad, False)
    fitting = pc.if_else(bad, pa.scalar(None, unscaled.type), unscaled)
    return fitting.cast(t), bad if pc.any(bad).as_py() else None




def _micros(values: pa.Array, unit: str) -> tuple[pa.Array, pa.Array | None]:
    """Epoch (or midnight) counts of ``unit`` as microseconds (nanoseconds rounded down)."""
    if unit == "nanos":
        quotient = pc.divide(values, 1000)  # truncates toward zero
        remainder = pc.subtract(values, pc.multiply(quotient, 1000))
        return pc.if_else(pc.less(remainder, 0), pc.subtract(quotient, 1), quotient), None
    if unit == "micros":
        return values, None
    limit = (2**63 - 1) // 1000
    bad = pc.fill_null(pc.or_(pc.greater(values, limit), pc.less(values, -limit)), False)
    kept = pc.if_else(bad, pa.scalar(None, pa.int64()), values)
    return pc.multiply(kept, 1000), bad if pc.any(bad).as_py() else None
