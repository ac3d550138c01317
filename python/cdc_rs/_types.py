"""The types of what users hand in: Arrow data through the Arrow PyCapsule interface (as
arro3 and pyo3-arrow type it), and the DataFrames converted on the way in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Union

if TYPE_CHECKING:
    import pandas
    import pyspark.sql


class ArrowStreamExportable(Protocol):
    """A stream of record batches: pyarrow Tables and RecordBatchReaders, polars DataFrames,
    duckdb results, arro3 objects, pandas 2.2+ DataFrames."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...


class ArrowArrayExportable(Protocol):
    """One array or record batch: pyarrow Arrays and RecordBatches, polars Series…"""

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...


#: Arrow data in any of its exportable shapes.
ArrowData = Union[ArrowStreamExportable, ArrowArrayExportable]

#: What an upsert takes as a micro-batch (or a lookup): Arrow data, or a pandas or PySpark
#: DataFrame (converted with ``pyarrow.Table.from_pandas`` / ``toArrow()``).
MicroBatch = Union[ArrowStreamExportable, ArrowArrayExportable, "pandas.DataFrame",
                   "pyspark.sql.DataFrame"]
