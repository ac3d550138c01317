"""Type stubs of the Rust extension. The public API wraps these; see ``cdc_rs``."""

from typing import Any, final

import pyarrow as pa

from ._report import BatchOutcome

__all__ = ["Pipeline", "PlanCore", "ScreenedBatch", "SnapshotDiff", "SnapshotState", "Stop",
           "TableCore", "__version__", "deletion_vector_file", "from_json", "key_hashes",
           "parse_schema", "place_positions", "read_deletion_vector", "read_parquet",
           "scan_parquet", "snapshot_diff", "z85_decode", "z85_encode"]
__version__: str

@final
class TableCore:
    """State of a :class:`cdc_rs.MemoryTable`: rows, per-key sequences and tombstones."""

    def __new__(cls, keeps_rows: bool = True) -> TableCore: ...
    def __len__(self) -> int: ...
    @property
    def next_row(self) -> int:
        """The row position the next upserted row gets."""
    @property
    def keeps_rows(self) -> bool:
        """False for an index-only table (``restore_index``)."""
    @property
    def last_batch_id(self) -> int | None: ...
    @property
    def keys_tracked(self) -> int: ...
    def to_arrow(self) -> pa.Table:
        """The live rows."""
    def state(self, positions: bool = False) -> pa.Table | None:
        """Per-key bookkeeping: ``key.*``, ``sequence.*`` and ``live`` (false = tombstone);
        with ``positions``, each live key's row ``position`` too (uint32)."""
    def snapshot(self) -> tuple[pa.Table, pa.Table | None, int | None]:
        """``(to_arrow(), state(), last_batch_id)`` read at one moment (for pickling)."""
    @staticmethod
    def restore(rows: Any, state: Any, last_batch_id: int | None = None) -> TableCore:
        """Rebuild from the live rows (any order) and ``state()``: each live key gets the
        row holding its key (``TargetStateError`` unless they match one to one)."""
    @staticmethod
    def restore_index(schema: Any, keys: Any, positions: Any, state: Any, next_row: int,
                      last_batch_id: int | None = None) -> TableCore:
        """An index-only table from ``state()`` and the key columns of the live rows
        (``keys``) with each row's position (``positions``, uint32, below ``next_row``);
        ``schema`` is an empty table of the rows."""
    @staticmethod
    def restore_located(schema: Any, state: Any, next_row: int, deleted: Any,
                        last_batch_id: int | None = None) -> TableCore:
        """An index-only table from a state with each live key's row ``position`` (uint32),
        given the ``deleted`` positions below ``next_row``: ``TargetStateError`` unless live
        keys and the other positions match one to one."""
    def relocate(self, old: Any, new: Any) -> None:
        """Move the rows at positions ``old`` to ``new`` (uint32), in an index-only table whose
        target rewrote them into new files."""
    def mark_applied(self, batch_id: int) -> None:
        """Record a batch id as applied without changes."""
    def commit(self, plan: PlanCore, placed: Any = None) -> BatchOutcome:
        """Apply a plan made on this table: (counters, skipped_replay, rejected rows or None).
        ``placed`` (uint32): the row position of each upserted row, for an index-only table."""

@final
class PlanCore:
    """A batch's decided effect on a table, not yet applied (see ``Pipeline.plan``)."""

    @property
    def batch_id(self) -> int: ...
    @property
    def skipped_replay(self) -> bool: ...
    @property
    def counts(self) -> dict[str, int]: ...
    def rejected(self) -> pa.Table | None:
        """Rejected input rows with a ``reason``."""
    def upserts(self) -> pa.Table | None:
        """Rows to insert or update, in the target's columns."""
    def deletes(self) -> pa.Table | None:
        """Key columns of the rows this batch deletes."""
    def state_changes(self) -> pa.Table | None:
        """Key state written: ``key.*``, ``sequence.*``, ``live`` (false: tombstone)."""
    def replaced_rows(self) -> pa.UInt32Array:
        """Row positions whose rows this batch replaces or deletes."""
    def upserted_from(self) -> pa.UInt32Array:
        """For each upserted row, the row position it replaces (null: an insert)."""
    def deleted_rows(self) -> pa.UInt32Array:
        """Row positions whose rows this batch deletes."""

@final
class Stop:
    """A flag another thread sets to stop a ``Pipeline.screen`` at its next record batch."""

    def __new__(cls) -> Stop: ...
    def set(self) -> None:
        """Stop the screening holding this flag (it raises ``KeyboardInterrupt``)."""

@final
class ScreenedBatch:
    """A micro-batch screened ahead by ``Pipeline.screen``."""

    @property
    def rows_in(self) -> int:
        """Input rows of the batch."""

@final
class Pipeline:
    """A validated ``batch_upsert`` configuration; the lookup is hashed once here."""

    def __new__(
        cls,
        *,
        keys: list[str],
        sequence_by: list[str],
        value_schema: str | None = None,
        value_column: str = ...,
        topic: str | None = None,
        topic_column: str = ...,
        operation_column: str | None = None,
        upsert_operations: list[str] = ...,
        delete_operations: list[str] = ...,
        apply_as_deletes: str | None = None,
        where: str | None = None,
        lookup: Any = None,
        lookup_on: list[tuple[str, str]] = ...,
        lookup_how: str = "inner",
        columns: list[str] | None = None,
        except_column_list: list[str] = ...,
        time_zone: str = "UTC",
        memory_limit: int | None = None,
    ) -> Pipeline: ...
    @property
    def keys(self) -> list[str]:
        """The key columns, in order."""
    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        """The target columns written for batches of ``schema`` (known without rows)."""
    def screen(self, batch: Any, stop: Stop | None = None) -> ScreenedBatch:
        """Screen one micro-batch ahead (no table needed) for ``run`` / ``plan``."""
    def plan(self, batch: Any, batch_id: int, table: TableCore) -> PlanCore:
        """Decide one micro-batch (Arrow data or a ScreenedBatch) against ``table``."""
    def run(self, batch: Any, batch_id: int, table: TableCore) -> BatchOutcome:
        """Apply one micro-batch: (counters, skipped_replay, rejected rows or None)."""

@final
class SnapshotState:
    """The last applied snapshot: each key with a 64-bit fingerprint of its row (immutable)."""

    fingerprint: str
    """The fingerprint scheme; a state saved under another one cannot be compared."""
    @staticmethod
    def restore(columns: pa.Schema, keys: list[str], saved: Any) -> SnapshotState:
        """A state saved with ``to_arrow``, for the target ``columns`` keyed by ``keys``
        (``TargetStateError`` if it has a key twice, or lacks its columns)."""
    def to_arrow(self) -> pa.Table:
        """Each key in the row format (``key``, binary) with its row's ``fingerprint``
        (uint64); valid under this ``fingerprint`` scheme only."""
    @property
    def columns(self) -> pa.Schema:
        """The target columns, in the target's order and types."""
    @property
    def keys(self) -> list[str]:
        """The key columns' names."""
    def __len__(self) -> int: ...

@final
class SnapshotDiff:
    """A snapshot's difference from the previous one (``snapshot_diff``)."""

    def changes(self) -> pa.Table:
        """The change batch: the target columns, the operation column (``"upsert"`` for new
        and changed rows and rows with a null key, ``"delete"`` for vanished keys, whose other
        columns are null) and the version column."""
    @property
    def counts(self) -> dict[str, int]:
        """``rows_in``, ``inserted``, ``updated``, ``unchanged``, ``deleted``, ``null_keys``."""
    @property
    def state(self) -> SnapshotState:
        """The state after this snapshot."""

def snapshot_diff(snapshot: Any, previous: SnapshotState | None, *, keys: list[str], version: int,
                  operation_column: str, version_column: str, columns: list[str] | None = None,
                  except_column_list: list[str] = ...) -> SnapshotDiff:
    """The difference of ``snapshot`` (Arrow data) from ``previous`` (None: the first one):
    ``InputError`` for a key twice, ``SchemaError`` for other columns or types."""

def from_json(values: Any, schema: str, mode: str = "PERMISSIVE", time_zone: str = "UTC") -> pa.StructArray:
    """Spark's ``from_json`` over string or binary values."""

def key_hashes(keys: Any) -> pa.UInt64Array:
    """One stable 64-bit hash per row over all columns of ``keys`` (the Delta file layout's)."""

def parse_schema(ddl: str) -> pa.Schema:
    """The Arrow schema of a Spark DDL string."""

def read_parquet(path: str, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file's columns (all when ``None``), strings and binaries as view arrays."""

def scan_parquet(path: str, columns: list[str] | None = None, batch_rows: int = 65536,
                 read_ahead: int = 1) -> pa.RecordBatchReader:
    """The file's batches as a background thread reads them, at most ``read_ahead`` ahead."""

def deletion_vector_file(vectors: list[Any]) -> tuple[bytes, list[tuple[int, int, int]]]:
    """A deletion vector file of one vector per uint64 array of deleted row positions, and
    each vector's ``(offset, sizeInBytes, cardinality)``."""
def read_deletion_vector(data: bytes, offset: int | None, size: int) -> pa.UInt64Array:
    """The sorted deleted row positions stored at ``offset`` of a deletion vector file, or
    inline in ``data`` without an offset."""
def z85_encode(data: bytes) -> str: ...
def z85_decode(text: str) -> bytes: ...
def place_positions(files: Any, rows: Any, starts: Any, sizes: Any) -> tuple[pa.Array, pa.Array]:
    """``(positions, gone)``: the row position of each place (file index ``files``, int32,
    into ``starts``/``sizes``, int64, a negative start for a file no longer live; ``rows``,
    uint32), null where there is none, and the indices of the places in files no longer live
    (uint32)."""
