"""Turn what users hand us (pyarrow, polars, duckdb, pandas, PySpark…) into Arrow."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeGuard

from ._types import ArrowData, MicroBatch

if TYPE_CHECKING:
    import pandas
    import pyspark.sql
from .exceptions import InputError


def as_arrow(data: MicroBatch) -> ArrowData:
    """An object Rust can read through the Arrow PyCapsule interface, zero-copy where possible.

    pandas goes through ``pyarrow.Table.from_pandas`` (without its index) and a PySpark
    DataFrame through ``toArrow()``; anything exporting ``__arrow_c_stream__`` or
    ``__arrow_c_array__`` (pyarrow, polars, arro3, duckdb results) is passed as is.
    """
    out: ArrowData
    if _is_pandas(data):
        import pyarrow as pa

        try:
            out = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            # e.g. an object column mixing numbers and text: pyarrow names the column
            raise InputError(f"the pandas DataFrame cannot be converted to Arrow: {exc}; give "
                             "the column one type (e.g. df[col].astype(str))") from exc
    elif _is_spark(data):
        with spark_without_pandas_warning():
            out = data.toArrow()
    elif _is_polars_with_null_columns(data):
        # polars exports Null columns with a buffer the Arrow C spec does not have; pyarrow
        # accepts it and re-exports them in the standard layout.
        import pyarrow as pa

        out = pa.table(data)
    elif _is_pyarrow_reader_of_nested_structs(data):
        out = _unsliced_stream(data)
    elif hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
        out = _unsliced_nested(data)
    elif hasattr(data, "arrow") and callable(data.arrow):  # duckdb relations of older versions
        out = data.arrow()
    else:
        raise TypeError(
            f"expected Arrow data (pyarrow, polars, duckdb…), a pandas or a PySpark DataFrame; "
            f"got {type(data).__module__}.{type(data).__qualname__}"
        )
    return out


def _unsliced_nested(data: Any) -> Any:
    """A pyarrow table whose sliced struct columns are copied: arrow-rs cannot import a sliced
    struct with sliced children (pyarrow's ``table.slice``), other data passes as is."""
    if type(data).__module__.split(".")[0] != "pyarrow" or not hasattr(data, "columns"):
        return data
    import pyarrow as pa

    def sliced_struct(array: Any) -> bool:
        if not pa.types.is_struct(array.type):
            return False
        return array.offset > 0 or any(sliced_struct(array.field(i))
                                       for i in range(array.type.num_fields))

    columns = list(data.columns)
    chunks = [c.chunks if isinstance(c, pa.ChunkedArray) else [c] for c in columns]
    if not any(sliced_struct(a) for parts in chunks for a in parts):
        return data
    fixed = [pa.chunked_array([pa.concat_arrays([a]) for a in parts], c.type)
             for c, parts in zip(columns, chunks)]
    return pa.Table.from_arrays(fixed, schema=data.schema)


def _is_pyarrow_reader_of_nested_structs(data: Any) -> bool:
    import pyarrow as pa

    def nested(t: Any) -> bool:
        return pa.types.is_struct(t) and any(pa.types.is_struct(t.field(i).type) or nested(
            t.field(i).type) for i in range(t.num_fields))

    return isinstance(data, pa.RecordBatchReader) and any(nested(f.type) for f in data.schema)


def _unsliced_stream(reader: Any) -> Any:
    """A reader whose batches pass through :func:`_unsliced_nested` as they are read."""
    import pyarrow as pa

    def batches() -> Any:
        for batch in reader:
            fixed = _unsliced_nested(batch)
            yield from (fixed.to_batches() if isinstance(fixed, pa.Table) else [fixed])

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


@contextlib.contextmanager
def spark_without_pandas_warning() -> Iterator[None]:
    """PySpark 4.3 warns on every Arrow call that it does not yet support pandas 3; our calls
    hand Arrow to Arrow and never go through pandas, so that one warning says nothing here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        yield


def _is_pandas(data: object) -> TypeGuard[pandas.DataFrame]:
    return type(data).__module__.startswith("pandas") and hasattr(data, "to_numpy")


def _is_spark(data: object) -> TypeGuard[pyspark.sql.DataFrame]:
    return type(data).__module__.startswith("pyspark") and hasattr(data, "toArrow")


def _is_polars_with_null_columns(data: Any) -> bool:
    if not type(data).__module__.startswith("polars"):
        return False
    schema = getattr(data, "schema", None)
    return schema is not None and any(str(dtype) == "Null" for dtype in schema.values())
