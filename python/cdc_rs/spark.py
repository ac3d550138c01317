"""cdc_rs on PySpark: the reference notebook's pieces as Spark building blocks.

Three ways to run the CDC upsert with Spark:

* **driver side** — ``foreachBatch(upsert)`` with :func:`cdc_rs.batch_upsert`: each
  micro-batch is collected to the driver (``toArrow()``) and merged by the Rust engine into
  a :class:`cdc_rs.MemoryTable`. :class:`CheckpointedUpsert` makes that target durable
  (and is the working pattern under Spark Connect, where ``foreachBatch`` runs in a separate
  Python process on the server).
* **Spark-managed silver table** — :class:`SparkMergeTarget`: cdc_rs decodes, enriches and
  ranks (one change per key), Spark runs ``MERGE INTO`` (e.g. a Delta table); the SQL comes
  from :func:`merge_statement`.
* **executor side** — :func:`on_executors`: the whole upsert (decode, lookup, rejects, the
  newest change per key) inside ``mapInArrow``; only one change per key reaches the target
  (Spark's MERGE for a :class:`SparkMergeTarget`, the driver for a ``DeltaTarget``). Its
  pieces for your own queries: :func:`from_json` (our decoder inside ``mapInArrow``) and
  :func:`latest` (per-partition pre-ranking, a shuffle by key, a final ranking).

Spark ships these functions to its Python workers: set ``PYSPARK_PYTHON`` to an interpreter
that has cdc_rs installed (e.g. ``os.environ["PYSPARK_PYTHON"] = sys.executable`` before the
session starts).

Example::

    import cdc_rs.spark as cs
    events = cs.from_json(spark.read.parquet(bronze_dir), "value", CUSTOMERS_SCHEMA)
    newest = cs.latest(events, ["customer_id"], "row_time", ["partition", "offset"])

The examples below that use ``spark`` expect a running session (the test suite runs them
with a local one).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from . import _checks as checks
from ._files import atomic_write
from ._input import spark_without_pandas_warning
from ._json import from_json as _decode
from ._json import parse_schema
from ._report import BatchReport, reports_to_arrow
from ._spark_executors import ExecutorUpsert, as_schema
from ._spark_merge import (
    CHANGE_OPERATION_COLUMN,
    TOMBSTONES_SUFFIX,
    SparkMergeTarget,
    merge_statement,
    tombstone_statements,
)
from ._spark_merge import names as _names
from ._locks import TargetLock
from ._table import MemoryTable
from ._upsert import BatchUpsert, batch_upsert
from .exceptions import CdcError, CheckpointError, ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "CHANGE_OPERATION_COLUMN",
    "TOMBSTONES_SUFFIX",
    "CheckpointedTable",
    "CheckpointedUpsert",
    "ExecutorUpsert",
    "SparkMergeTarget",
    "checkpointed",
    "from_json",
    "latest",
    "merge_statement",
    "on_executors",
    "spark_schema",
    "tombstone_statements",
]

_ARRIVAL_COLUMN = "_cdc_rs_arrival"
#: rows :func:`latest` gathers before it ranks a partition's rows (again)
_RANK_EVERY = 1_000_000


# --------------------------------------------------------------------------------------------
# Executor side: from_json and latest inside mapInArrow
# --------------------------------------------------------------------------------------------


def spark_schema(schema: str) -> StructType:
    """The Spark ``StructType`` that :func:`cdc_rs.from_json` decodes a DDL schema to.

    ``TIMESTAMP`` becomes ``TimestampType``, ``TIMESTAMP_NTZ`` ``TimestampNTZType``; every
    field is nullable, as in Spark's own ``from_json``.

    Args:
        schema: a Spark DDL schema, e.g. ``"id STRING, ts TIMESTAMP"``.

    Raises:
        SchemaError: the schema does not parse.

    Example:
        >>> import cdc_rs.spark
        >>> cdc_rs.spark.spark_schema("id STRING, ts TIMESTAMP").simpleString()
        'struct<id:string,ts:timestamp>'
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(parse_schema(schema))


class _Decoder:
    """The ``mapInArrow`` function of :func:`from_json` (a plain class: cheap to pickle)."""

    def __init__(self, names: list[str], column: str, schema: str, mode: str, time_zone: str,
                 arrow_schema: pa.Schema) -> None:
        self.names = names
        self.column = column
        self.schema = schema
        self.mode = mode
        self.time_zone = time_zone
        self.arrow_schema = arrow_schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        position = self.names.index(self.column)  # by position: other names may repeat
        for batch in batches:
            decoded = _decode(batch.column(position), self.schema, mode=self.mode,  # type: ignore[arg-type]
                              time_zone=self.time_zone)
            fields = decoded.flatten()  # respects null values: a null value gives null fields
            arrays = [*batch.columns[:position], *fields, *batch.columns[position + 1:]]
            arrays = [a if a.type == f.type else a.cast(f.type) for a, f in zip(arrays, self.arrow_schema)]
            yield pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)


def from_json(
    df: DataFrame,
    column: str,
    schema: str,
    time_zone: str | None = None,
    *,
    mode: Literal["PERMISSIVE", "FAILFAST"] = "PERMISSIVE",
) -> DataFrame:
    """Decode a JSON column on the executors with cdc_rs (inside ``mapInArrow``).

    The same result as ``df.select(..., F.from_json(F.col(column).cast("string"), schema)
    .alias("v")).select(..., "v.*")``: the schema's fields replace ``column`` at its position,
    every other column is kept, and the types are Spark's (``TIMESTAMP`` → ``TimestampType``).
    A malformed value gives nulls in PERMISSIVE mode; FAILFAST fails the Spark task.

    Args:
        df: a DataFrame (batch or streaming) with a string or binary ``column``.
        column: the column holding JSON text (bronze ``value``).
        schema: a Spark DDL schema.
        time_zone: zone of timestamps written without an offset; default: the session's
            ``spark.sql.session.timeZone``, as Spark's ``from_json``.
        mode: ``"PERMISSIVE"`` or ``"FAILFAST"``.

    Returns:
        A DataFrame: the columns before ``column``, the decoded fields, the columns after it.

    Raises:
        ConfigError: ``column`` is missing, or a decoded field has the name of a kept column.
        SchemaError: ``schema`` does not parse.

    Example:
        >>> import cdc_rs.spark as cs
        >>> bronze = spark.createDataFrame([(0, '{"id": "a", "ts": "2022-01-31T23:06:00Z"}')],
        ...                                "offset BIGINT, value STRING")
        >>> events = cs.from_json(bronze, "value", "id STRING, ts TIMESTAMP")
        >>> events.dtypes
        [('offset', 'bigint'), ('id', 'string'), ('ts', 'timestamp')]
        >>> events.first().ts.isoformat()
        '2022-01-31T23:06:00'
    """
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import StructType

    names = list(df.columns)
    if column not in names:
        raise ConfigError(f"from_json: no column {column!r} in {names}")
    decoded = spark_schema(schema)
    kept = {n.lower(): n for n in names if n != column}
    clashes = [f.name for f in decoded.fields if f.name.lower() in kept]
    if clashes:
        raise ConfigError(
            f"from_json: decoded field(s) {clashes} would clash with existing column(s) "
            f"{[kept[c.lower()] for c in clashes]}; rename or drop them first"
        )
    fields = []
    for field in df.schema.fields:
        if field.name == column:
            fields.extend(decoded.fields)
        else:
            fields.append(field)
    out = StructType(fields)
    zone = time_zone or _session_time_zone(df)
    arrow_schema = to_arrow_schema(out, timezone="UTC", prefers_large_types=False)
    with spark_without_pandas_warning():
        return df.mapInArrow(_Decoder(names, column, schema, mode, zone, arrow_schema), out)


class _Ranker:
    """The ``mapInArrow`` function of :func:`latest`: the newest row per key of a partition."""

    def __init__(self, keys: list[str], sequence_by: list[str], order: list[str],
                 arrow_schema: pa.Schema) -> None:
        self.keys = keys
        self.sequence_by = sequence_by
        self.order = order
        self.arrow_schema = arrow_schema

    def rank(self, table: pa.Table) -> pa.Table:
        """One row per key: the greatest sequence, among equals the smallest order value."""
        if self.order:
            table = table.sort_by([(c, "ascending") for c in self.order])
        upsert = batch_upsert(MemoryTable(), keys=self.keys, sequence_by=self.sequence_by)
        upsert(table, 0)
        return upsert.target.to_arrow().select(self.arrow_schema.names).cast(self.arrow_schema)  # type: ignore[attr-defined]

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        # Ranked a few times per partition, not once per Arrow batch (that re-ranks the kept
        # rows each time): when the rows waiting outnumber both the kept ones and a floor.
        kept: list[pa.RecordBatch] = []
        waiting: list[pa.RecordBatch] = []
        rows = 0  # waiting
        for batch in batches:
            waiting.append(as_schema(batch, self.arrow_schema))
            rows += batch.num_rows
            if rows >= max(_RANK_EVERY, sum(b.num_rows for b in kept)):
                kept, waiting, rows = self._ranked([*kept, *waiting]), [], 0
        if rows:
            kept = self._ranked([*kept, *waiting])
        yield from kept

    def _ranked(self, batches: list[pa.RecordBatch]) -> list[pa.RecordBatch]:
        return list(self.rank(pa.Table.from_batches(batches, self.arrow_schema)).to_batches())


def latest(
    df: DataFrame,
    keys: str | Sequence[str],
    sequence_by: str | Sequence[str],
    order_column: str | Sequence[str] | None = None,
) -> DataFrame:
    """The newest row per key, ranked by cdc_rs on the executors.

    Each partition is pre-ranked in ``mapInArrow`` (at most one row per key and partition),
    shuffled by key (``repartition(*keys)``) and ranked again: only one row per key leaves
    the executors. The same rows as ``row_number().over(Window.partitionBy(*keys)
    .orderBy(*[desc(s) for s in sequence_by], *order_column))`` ``== 1``, except that rows
    with a null key or a null sequence are dropped (``batch_upsert`` rejects them too).
    On a streaming DataFrame, call it inside ``foreachBatch`` (it ranks what it is given).

    Args:
        df: a DataFrame of change events (all its columns are kept).
        keys: key column(s).
        sequence_by: column(s) ordering events, compared left to right; the greatest wins.
        order_column: arrival column(s) breaking ties between equal sequences, ascending —
            the first-arriving event wins, e.g. bronze ``["partition", "offset"]``. Default:
            a ``monotonically_increasing_id()`` taken before the shuffle, i.e. the input's
            partition and row order.

    Returns:
        A DataFrame with ``df``'s schema and one row per key.

    Raises:
        ConfigError: a named column is missing.

    Example:
        >>> import cdc_rs.spark as cs
        >>> events = spark.createDataFrame(
        ...     [("a", 1, 0, "x"), ("a", 2, 1, "y"), ("a", 2, 2, "z"), ("b", 1, 3, "w")],
        ...     "id STRING, ts INT, offset BIGINT, v STRING")
        >>> sorted(r.v for r in cs.latest(events, "id", "ts", "offset").collect())
        ['w', 'y']
    """
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema

    key_names, sequence_names = _names(keys), _names(sequence_by)
    order = [] if order_column is None else _names(order_column)
    missing = [c for c in (*key_names, *sequence_names, *order) if c not in df.columns]
    if missing:
        raise ConfigError(f"latest: no column(s) {missing} in {df.columns}")
    if not key_names or not sequence_names:
        raise ConfigError("latest: give at least one key and one sequence column")
    if order_column is None:
        df = df.withColumn(_ARRIVAL_COLUMN, F.monotonically_increasing_id())
        order = [_ARRIVAL_COLUMN]
    arrow_schema = to_arrow_schema(df.schema, timezone="UTC", prefers_large_types=False)
    ranker = _Ranker(key_names, sequence_names, order, arrow_schema)
    with spark_without_pandas_warning():
        out = df.mapInArrow(ranker, df.schema).repartition(*key_names).mapInArrow(ranker,
                                                                                  df.schema)
    return out.drop(_ARRIVAL_COLUMN) if order_column is None else out


def on_executors(upsert: BatchUpsert, *, shuffle_above: int = 8) -> ExecutorUpsert:
    """Run ``upsert`` on Spark's executors: a ``foreachBatch`` function for large micro-batches.

    Each partition of a micro-batch runs the upsert's pipeline (decode, topic filter, lookup,
    rejects, the newest change per key) inside ``mapInArrow``; a shuffle by key brings each
    key's changes together and a second ``mapInArrow`` keeps the newest. That change set —
    one row per key, never the events — then reaches the target:

    * a :class:`SparkMergeTarget`: Spark MERGEs it (tombstones included), nothing but
      counters and rejects reaches the driver;
    * any other target (a :class:`cdc_rs.DeltaTarget`, a :class:`cdc_rs.MemoryTable`): it is
      collected to the driver and applied there, e.g. as one merge-on-read Delta commit. A
      micro-batch of at most ``shuffle_above`` partitions skips the shuffle: each partition's
      change set goes to the driver, which ranks them (a key repeats at most once per
      partition; Kafka puts a key in one partition anyway).

    The table ends as the driver path's (``foreachBatch(upsert)``) would: ties go to the
    earliest partition, then the earliest row — the order ``toArrow()`` gives. The report's
    counters account for every input row; its ``rejected`` rows are collected to the driver.
    A batch id at or below the target's last applied one is skipped before any work.

    Args:
        upsert: a :func:`cdc_rs.batch_upsert`.
        shuffle_above: for a target on the driver, the partitions a micro-batch may have
            without the shuffle (unknown under Spark Connect: always shuffled).

    Returns:
        A picklable :class:`ExecutorUpsert`, called as ``fn(micro_batch_df, batch_id)``.

    Raises:
        ConfigError: (when called) on a streaming DataFrame instead of a micro-batch.

    Example:
        >>> import cdc_rs, cdc_rs.spark as cs
        >>> from cdc_rs.datasets import CUSTOMERS_SCHEMA
        >>> upsert = cs.on_executors(cdc_rs.batch_upsert(
        ...     cdc_rs.MemoryTable(), keys="customer_id", sequence_by="row_time",
        ...     value_schema=CUSTOMERS_SCHEMA, topic="customers", operation_column="row_status",
        ...     delete_operations=["delete"]))
        >>> bronze = spark.createDataFrame(
        ...     [("customers", '{"customer_id": "c1", "row_status": "insert", "row_time": "2022-01-31T23:06:00Z"}'),
        ...      ("customers", '{"customer_id": "c1", "row_status": "update", "row_time": "2022-02-01T08:00:00Z"}'),
        ...      ("customers", "{not json")], "topic STRING, value STRING")
        >>> report = upsert(bronze, 0)
        >>> report.inserted, report.superseded, report.malformed
        (1, 1, 1)
        >>> upsert.target.to_arrow().column("row_time")[0].as_py().isoformat()
        '2022-02-01T08:00:00+00:00'

        In a stream: ``bronze_stream.writeStream.foreachBatch(upsert).option(
        "checkpointLocation", …).start()``.
    """
    return ExecutorUpsert(upsert, shuffle_above)


def _session_time_zone(df: DataFrame) -> str:
    try:
        zone = df.sparkSession.conf.get("spark.sql.session.timeZone")
    except Exception:  # pragma: no cover - a session without the conf
        zone = None
    return zone or "UTC"


# --------------------------------------------------------------------------------------------
# A durable MemoryTable for foreachBatch (and the working pattern under Spark Connect)
# --------------------------------------------------------------------------------------------


class CheckpointedUpsert:
    """A ``foreachBatch`` function that keeps its :class:`cdc_rs.MemoryTable` in a directory.

    After every micro-batch it saves the target (rows, per-key sequences, tombstones, last
    batch id) as Arrow IPC files in ``directory/target-<batch id>/`` and the batch's report to
    ``directory/reports/``; when it runs in a process whose copy is behind the saved one
    (a restarted query, a fresh Python worker), it loads the saved target first.

    Why: under Spark Connect, ``foreachBatch`` runs in a Python process next to the server,
    not in your program — the upsert there is a pickled *copy*, and its MemoryTable lives
    and dies in that process. Read the silver table and the reports back with
    :meth:`target` and :meth:`reports`. With classic PySpark it also makes the target
    survive a driver restart, in step with the stream's checkpoint.

    Args:
        upsert: a :class:`cdc_rs.BatchUpsert` whose target is a :class:`cdc_rs.MemoryTable`.
        directory: where the target and the reports live (local or shared filesystem).

    Example:
        >>> import cdc_rs, cdc_rs.spark as cs, pyarrow as pa, tempfile
        >>> directory = tempfile.mkdtemp()
        >>> sink = cs.CheckpointedUpsert(cdc_rs.batch_upsert(keys="id", sequence_by="ts"), directory)
        >>> _ = sink(pa.table({"id": [1, 2], "ts": [1, 1]}), 0)   # in the foreachBatch process
        >>> restarted = cs.CheckpointedUpsert(cdc_rs.batch_upsert(keys="id", sequence_by="ts"),
        ...                                   directory)           # a fresh copy elsewhere
        >>> _ = restarted(pa.table({"id": [2], "ts": [5]}), 1)
        >>> restarted.target().to_arrow().sort_by("id").to_pydict()
        {'id': [1, 2], 'ts': [1, 5]}
        >>> restarted.reports().column("batch_id").to_pylist()
        [0, 1]

        With Spark: ``stream.writeStream.foreachBatch(sink).start()``, then read
        ``sink.target()`` and ``sink.reports()`` in your program.
    """

    def __init__(self, upsert: BatchUpsert, directory: str | os.PathLike[str]) -> None:
        table = upsert.target
        if isinstance(table, CheckpointedTable):
            table = table.memory
        if not isinstance(table, MemoryTable):
            raise ConfigError("checkpointed: the upsert's target must be a cdc_rs.MemoryTable")
        self.directory = str(directory)
        self.upsert = upsert.with_target(CheckpointedTable(self.directory, table))

    @property
    def _reports_dir(self) -> Path:
        return Path(self.directory) / "reports"

    def __call__(self, micro_batch: Any, batch_id: int) -> BatchReport:
        """Apply one micro-batch (any input :func:`cdc_rs.batch_upsert` takes), then save."""
        report = self.upsert(micro_batch, batch_id)
        self._save_report(report)
        return report

    def target(self) -> MemoryTable:
        """The saved target (an empty MemoryTable before the first batch).

        The target is stored as data (Arrow IPC), never pickled: a file planted in the
        directory cannot run code here.
        """
        return CheckpointedTable(self.directory).saved()

    def reports(self) -> pa.Table:
        """One row per applied micro-batch (the :class:`cdc_rs.BatchReport` counters), by id."""
        import pyarrow.parquet as pq

        files = sorted(self._reports_dir.glob("batch-*.parquet"))
        if not files:
            return reports_to_arrow([])
        return pa.concat_tables([pq.read_table(f) for f in files]).sort_by("batch_id")

    def _save_report(self, report: BatchReport) -> None:
        import pyarrow.parquet as pq

        self._reports_dir.mkdir(parents=True, exist_ok=True)
        sink = pa.BufferOutputStream()
        pq.write_table(reports_to_arrow([report]), sink)
        atomic_write(self._reports_dir / f"batch-{report.batch_id:012d}.parquet", sink.getvalue().to_pybytes())

    def __repr__(self) -> str:
        return f"CheckpointedUpsert({self.upsert!r}, {self.directory!r})"


class CheckpointedTable:
    """A :class:`cdc_rs.MemoryTable` saved in a directory after every batch (the ``Target``
    of :class:`CheckpointedUpsert`).

    Before a batch it loads the saved table when that is ahead of the one in memory (a
    restarted query, a fresh Python worker); after it, it saves the table as Arrow IPC files
    in ``directory/target-<batch id>/`` and then, atomically, the id pointing at them.

    Example:
        >>> import cdc_rs, cdc_rs.spark as cs, pyarrow as pa, tempfile
        >>> table = cs.CheckpointedTable(tempfile.mkdtemp())
        >>> _ = cdc_rs.batch_upsert(table, keys="id", sequence_by="ts")(
        ...     pa.table({"id": [1], "ts": [1]}), 0)
        >>> cs.CheckpointedTable(table.directory).saved().to_arrow().to_pydict()
        {'id': [1], 'ts': [1]}
    """

    max_retries = 0  # one writer: the stream's driver
    keeps_key_state = True

    def __init__(self, directory: str | os.PathLike[str], memory: MemoryTable | None = None) -> None:
        self.directory = str(directory)
        #: the table in this process (behind the saved one until a batch catches it up)
        self.memory = MemoryTable() if memory is None else memory
        self._lock = TargetLock()  # its own: open() may swap ``memory`` for the saved copy
        self._ahead = False  # ``memory`` holds a batch whose save failed: load the saved one

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self.directory, "memory": self.memory}

    def __setstate__(self, saved: dict[str, Any]) -> None:
        self.__init__(saved["directory"], saved["memory"])  # type: ignore[misc]

    @property
    def last_batch_id(self) -> int | None:
        """The last batch id of the table in this process (the saved one may be newer)."""
        return self.memory.last_batch_id

    def __len__(self) -> int:
        """Rows of the table in this process (the saved one may be newer)."""
        return len(self.memory)

    def batch_lock(self) -> TargetLock:
        """Held while a batch is applied."""
        return self._lock

    def open(self, pipeline: Any) -> Any:
        """The table in this process, replaced first by the saved one when that is newer (a
        fresh copy catches up) or when a save failed."""
        saved_id, current = self._saved_batch_id(), self.memory.last_batch_id
        if self._ahead or (saved_id is not None and (current is None or saved_id > current)):
            self.memory = self.saved()
            self._ahead = False
        return self.memory.open(pipeline)

    def write(self, plan: Any, batch_id: int) -> None:
        """Nothing ahead of the commit."""
        return None

    def commit(self, plan: Any, staged: None, batch_id: int) -> Any:
        """The batch into the table in memory, then the table saved; a failed save raises,
        and the next batch starts again from the saved table (which lacks this batch)."""
        outcome = self.memory.commit(plan, staged, batch_id)
        try:
            self._save()
        except BaseException:
            self._ahead = True
            raise
        return outcome

    def saved(self) -> MemoryTable:
        """The saved table (an empty MemoryTable before the first batch)."""
        batch_id = self._saved_batch_id()
        if batch_id is None:
            return MemoryTable()
        folder = self._state_path(batch_id)
        try:
            rows = _read_ipc(folder / "rows.arrow")
            state_file = folder / "state.arrow"
            state = _read_ipc(state_file) if state_file.exists() else None
            table = MemoryTable.__new__(MemoryTable)
            table.__setstate__({"rows": rows, "state": state, "last_batch_id": batch_id})
        except (OSError, pa.ArrowException, CdcError) as exc:
            raise CheckpointError(f"{folder}: the saved target cannot be read ({exc}); restore "
                                  "the folder or start with a new directory") from exc
        return table

    def _state_path(self, batch_id: int) -> Path:
        return Path(self.directory) / f"target-{batch_id:020d}"

    @property
    def _batch_id_path(self) -> Path:
        return Path(self.directory) / "last_batch_id"

    def _saved_batch_id(self) -> int | None:
        try:
            text = self._batch_id_path.read_text().strip()
        except FileNotFoundError:
            return None
        if not text:
            return None
        try:
            return checks.batch_id(int(text))
        except (ValueError, CdcError) as exc:
            raise CheckpointError(f"{self._batch_id_path}: not a batch id ({text[:40]!r}); restore "
                                  "the file or start with a new directory") from exc

    def _save(self) -> None:
        """The table's files first, in a folder named after its batch id, then the id that
        points at them (atomic): a crash in between leaves the previous table in force."""
        saved = self.memory.__getstate__()
        batch_id = saved["last_batch_id"]
        folder = self._state_path(batch_id)
        staging = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        try:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            _write_ipc(saved["rows"], staging / "rows.arrow")
            if saved["state"] is not None:
                _write_ipc(saved["state"], staging / "state.arrow")
            shutil.rmtree(folder, ignore_errors=True)  # left by a crash before its id was saved
            os.replace(staging, folder)
        except OSError as exc:
            raise CheckpointError(f"cannot save the target in {self.directory}: {exc}") from exc
        atomic_write(self._batch_id_path, str(batch_id).encode(), CheckpointError)
        for old in Path(self.directory).glob("target-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)

    def __repr__(self) -> str:
        return f"CheckpointedTable({self.directory!r}, {self.memory!r})"


def checkpointed(upsert: BatchUpsert, directory: str | os.PathLike[str]) -> CheckpointedUpsert:
    """Wrap ``upsert`` so its MemoryTable and reports are saved in ``directory`` after each
    micro-batch — the pattern that works under Spark Connect. See :class:`CheckpointedUpsert`.

    Example:
        >>> import cdc_rs, cdc_rs.spark, pyarrow as pa, tempfile
        >>> sink = cdc_rs.spark.checkpointed(cdc_rs.batch_upsert(keys="id", sequence_by="ts"),
        ...                                  tempfile.mkdtemp())
        >>> _ = sink(pa.table({"id": [1, 1], "ts": [1, 2]}), 0)
        >>> sink.target().to_arrow().to_pydict(), sink.reports()["inserted"].to_pylist()
        ({'id': [1], 'ts': [2]}, [1])
    """
    return CheckpointedUpsert(upsert, directory)


def _write_ipc(table: pa.Table, path: Path) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_ipc(path: Path) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()
