"""Spark's ``from_json``, in Rust."""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa

from . import _cdc_rs
from . import _checks as checks
from .exceptions import SchemaError


def from_json(
    values: Any,
    schema: str,
    *,
    mode: Literal["PERMISSIVE", "FAILFAST"] = "PERMISSIVE",
    time_zone: str = "UTC",
) -> pa.StructArray:
    """Parse JSON values into a struct per value, exactly as Spark 4's ``from_json`` does.

    Args:
        values: JSON texts: a pyarrow string/binary array or chunked array, a polars or pandas
            Series, or a list of ``str``/``bytes``. Binary values that are not UTF-8 are read
            with U+FFFD replacement, as Spark's ``CAST(value AS STRING)``.
        schema: a Spark DDL schema, e.g. ``"id STRING, ts TIMESTAMP, n BIGINT"``.
        mode: ``"PERMISSIVE"`` (a malformed value gives a struct of nulls) or ``"FAILFAST"``
            (raise :class:`DecodeError` naming the first malformed row).
        time_zone: the zone of timestamps written without an offset (Spark's session zone).

    Returns:
        A ``pyarrow.StructArray`` with one field per schema column; null where a value is null.

    Raises:
        SchemaError: the schema does not parse (the message points at the position).
        DecodeError: in FAILFAST mode, on the first malformed value.

    Example:
        >>> import cdc_rs
        >>> cdc_rs.from_json(['{"id": "a", "n": 1}', "oops"], "id STRING, n INT").to_pylist()
        [{'id': 'a', 'n': 1}, {'id': None, 'n': None}]
    """
    return _cdc_rs.from_json(_as_array(values), checks.text(schema, "schema", SchemaError),
                             checks.text(mode, "mode"), checks.text(time_zone, "time_zone"))


def parse_schema(ddl: str) -> pa.Schema:
    """The Arrow schema a DDL string decodes to (``TIMESTAMP`` → ``timestamp[us, tz=UTC]``).

    Example:
        >>> import cdc_rs
        >>> cdc_rs.parse_schema("id STRING, ts TIMESTAMP").types
        [DataType(string), TimestampType(timestamp[us, tz=UTC])]
    """
    return _cdc_rs.parse_schema(checks.text(ddl, "schema", SchemaError))


def _as_array(values: Any) -> Any:
    if isinstance(values, (list, tuple)):
        return pa.array(values)
    if type(values).__module__.startswith("pandas"):
        return pa.array(values)
    return values
