"""cdc_rs: apply change-data-capture feeds to tables — a Rust engine over Arrow.

The reference Databricks pipeline (``from_json`` → broadcast join → newest event per key →
``MERGE``) as one picklable callable that ``foreachBatch`` takes directly and that pandas,
polars and pyarrow notebooks call with a batch::

    import cdc_rs
    upsert = cdc_rs.batch_upsert(cdc_rs.MemoryTable(), keys=["customer_id"],
                                 sequence_by="row_time", value_schema=SCHEMA, topic="customers",
                                 operation_column="row_status", lookup=countries,
                                 lookup_on={"country_code": "code"})
    report = upsert(bronze_batch, batch_id)
    silver = upsert.target.to_arrow()
"""

from __future__ import annotations

from ._memory import native_allocator_defaults

with native_allocator_defaults():  # read by the Rust side's jemalloc when it loads
    from ._cdc_rs import __version__
from ._debezium import SEQUENCE as DEBEZIUM_SEQUENCE
from ._json import from_json, parse_schema
from ._plots import plot_reports
from ._read import read_parquet, scan_parquet, scan_parquet_files
from ._report import BatchReport, DryRun, reports_to_arrow
from ._snapshot import SnapshotReport, SnapshotUpsert, snapshot_upsert
from ._table import MemoryTable
from ._upsert import BatchUpsert, batch_upsert
from .target import Target
from .exceptions import (CdcError, CheckpointError, ConcurrentWriteError, ConfigError, DecodeError,
                         DeltaTargetError, InputError, SchemaError, SourceError, TargetStateError)

# Delta support: deltalake itself is imported only when a Delta table is used.
from .delta import DeltaTarget
from .sources import DeltaSource, FolderSource
from .streaming import StreamReport, stream

__all__ = [
    "BatchReport",
    "DryRun",
    "BatchUpsert",
    "SnapshotReport",
    "SnapshotUpsert",
    "CdcError",
    "CheckpointError",
    "ConcurrentWriteError",
    "ConfigError",
    "DEBEZIUM_SEQUENCE",
    "DecodeError",
    "DeltaTargetError",
    "InputError",
    "SourceError",
    "TargetStateError",
    "MemoryTable",
    "SchemaError",
    "__version__",
    "batch_upsert",
    "snapshot_upsert",
    "from_json",
    "parse_schema",
    "plot_reports",
    "read_parquet",
    "scan_parquet",
    "scan_parquet_files",
    "reports_to_arrow",
    "DeltaTarget",
    "DeltaSource",
    "FolderSource",
    "stream",
    "StreamReport",
    "Target",
]
