"""The whole upsert on Spark's executors: cdc_rs screens and ranks inside ``mapInArrow``, and
only one change per key reaches the target.

Two ``mapInArrow`` stages around one shuffle:

1. each input partition runs the upsert's pipeline (decode, topic filter, lookup, rejects, the
   newest event per key) and emits its change set, tagged with the partition's index — the
   arrival order Spark's ``toArrow()`` gives the driver path — plus one *summary* row with
   its counters and rejected rows;
2. after a shuffle by key, each partition ranks the change sets of every input partition
   again (greatest sequence, among equal ones the earliest partition).

A :class:`~cdc_rs.spark.SparkMergeTarget` MERGEs the change set inside Spark (materialised
once, ``localCheckpoint``); any other target (a ``DeltaTarget``, a ``MemoryTable``) receives it
on the driver — one row per key, not the events — and applies it as the driver path would.
A stage-2 partition is ranked in memory at once: after stage 1 it holds at most one row per
key and input partition.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from . import _checks as checks
from . import _connect_types, _debezium
from ._input import spark_without_pandas_warning
from ._report import OUTCOMES, BatchReport
from ._spark_merge import CHANGE_OPERATION_COLUMN, SparkMergeTarget, carried, change_set
from ._upsert import BatchUpsert, _build_pipeline
from .exceptions import CdcError, ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: The input partition a change came from: ties on the sequence go to the earliest.
ARRIVAL_COLUMN = "_cdc_rs_arrival"
#: A summary row's counters (JSON); null on change rows.
COUNTS_COLUMN = "_cdc_rs_counts"
#: A summary row's rejected rows (an Arrow IPC stream); null on change rows and without rejects.
REJECTED_COLUMN = "_cdc_rs_rejected"
_SUMMARY = "summary"
#: the second stage's counts of the changes it keeps, in its summaries
_UPSERTS, _DELETES = "upserts", "deletes"
#: bytes of rejected rows per summary row (one Spark binary value)
_REJECTS_PER_CELL = 64 << 20
_PRIVATE = (CHANGE_OPERATION_COLUMN, ARRIVAL_COLUMN, COUNTS_COLUMN, REJECTED_COLUMN)
_SCREENING = ("rows_in", "other_topics", "malformed", "filtered_out", "ignored_operations",
              "null_keys", "null_sequences", "lookup_misses", "superseded")


class _Screen:
    """Stage 1: the upsert's pipeline over one input partition (a plain class: cheap to pickle)."""

    def __init__(self, config: dict[str, Any], schema: pa.Schema) -> None:
        self.config = config
        self.schema = schema
        self.rejects_per_cell = _REJECTS_PER_CELL  # read here, on the driver

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        context = TaskContext.get()
        arrival = context.partitionId() if context is not None else 0
        first = next(batches, None)
        if first is None:  # an empty partition: nothing to count
            return
        reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
        data: Any = reader
        side = None
        if self.config.get("format") == "debezium":  # the events as flat rows, here too
            data, side = _debezium.Normaliser(self.config).prepare(reader)
        counts, rejected, changes = change_set(_build_pipeline(self.config), data)
        if side is not None:
            counts, _, rejected = side.merged((counts, False, rejected))
        yield from _tagged(changes, arrival, self.schema)
        yield from _summaries({k: counts.get(k, 0) for k in _SCREENING}, rejected, self.schema, arrival,
                              self.rejects_per_cell)


class _Rank:
    """Stage 2: the newest change per key among every input partition's (after the shuffle)."""

    def __init__(self, config: dict[str, Any], schema: pa.Schema) -> None:
        self.config = config
        self.schema = schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        changes, summaries = [], []
        for batch in batches:
            batch = as_schema(batch, self.schema)
            is_summary = pc.equal(batch.column(CHANGE_OPERATION_COLUMN), _SUMMARY)
            summaries.append(batch.filter(is_summary))
            changes.append(batch.filter(pc.invert(is_summary)))
        yield from (s for s in summaries if s.num_rows)
        table = pa.Table.from_batches(changes, schema=self.schema)
        if table.num_rows == 0:
            return
        table = table.sort_by(ARRIVAL_COLUMN)  # stable: rows of one partition keep their order
        columns = [n for n in self.schema.names if n not in _PRIVATE]
        ranked = _build_pipeline(_change_set_config(self.config, [*columns, CHANGE_OPERATION_COLUMN]))
        _, _, newest = change_set(ranked, table.select([*columns, CHANGE_OPERATION_COLUMN]))
        yield from _tagged(newest, 0, self.schema)
        deletes = pc.sum(pc.equal(newest.column(CHANGE_OPERATION_COLUMN), "delete")).as_py() or 0
        kept = {"superseded": table.num_rows - newest.num_rows,
                _UPSERTS: newest.num_rows - deletes, _DELETES: deletes}
        yield from _summaries(kept, None, self.schema, None, _REJECTS_PER_CELL)


class ExecutorUpsert:
    """A ``foreachBatch`` function running a :class:`cdc_rs.BatchUpsert` on the executors.

    Built by :func:`cdc_rs.spark.on_executors`. Picklable; each call returns a
    :class:`cdc_rs.BatchReport` whose counters account for every input row, as the driver
    path's do, with the rejected rows collected to the driver.

    Example:
        >>> import cdc_rs, cdc_rs.spark as cs
        >>> upsert = cs.on_executors(cdc_rs.batch_upsert(keys="id", sequence_by="ts"))
        >>> report = upsert(spark.createDataFrame([(1, 1, "a"), (1, 2, "b"), (2, 1, "c")],
        ...                                       "id INT, ts INT, v STRING"), 0)
        >>> report.inserted, report.superseded, sorted(upsert.target.to_arrow().column("v").to_pylist())
        (2, 1, ['b', 'c'])
        >>> upsert.last_stage_seconds.keys()
        dict_keys(['changes', 'merge'])
    """

    def __init__(self, upsert: BatchUpsert, shuffle_above: int = 8) -> None:
        self.upsert = upsert
        #: a target on the driver takes each partition's change set as it is from micro-batches
        #: of at most this many partitions (it ranks them itself: no shuffle); larger ones are
        #: ranked on the executors after a shuffle by key
        self.shuffle_above = shuffle_above
        #: seconds of the last batch's two stages: ``changes`` (the executors' work, up to the
        #: change set being materialised or on the driver) and ``merge`` (into the target)
        self.last_stage_seconds: dict[str, float] = {}
        self._times: dict[str, pa.DataType] = {}  # change set columns Spark carries as int64

    @property
    def target(self) -> Any:
        """The table this upsert merges into."""
        return self.upsert.target

    def changes(self, micro_batch: DataFrame, *, ranked: bool = True) -> DataFrame:
        """The change set of ``micro_batch`` (one row per key, with ``_cdc_rs_operation``) plus
        summary rows (counters, rejects), computed lazily on the executors; ``ranked=False``:
        each partition's own change set, without the shuffle (a key may repeat)."""
        return self._changes(micro_batch, ranked)[0]

    def _changes(self, micro_batch: DataFrame, ranked: bool) -> tuple[DataFrame, list[str]]:
        """:meth:`changes` and the target's columns (the change set may carry more: the key
        and sequence columns it ranks by)."""
        from pyspark.sql.pandas.types import from_arrow_schema

        config, columns, schema, self._times = _screening(self.upsert.config, micro_batch)
        try:
            spark_schema = from_arrow_schema(schema)
        except (TypeError, ValueError) as exc:  # e.g. a lookup column of an unsigned type
            raise ConfigError(f"on_executors: a change set column cannot travel through Spark "
                              f"({exc}); cast it to a type Spark has (e.g. in the lookup)") from exc
        with spark_without_pandas_warning():
            screened = micro_batch.mapInArrow(_Screen(config, schema), spark_schema)
            if ranked:
                screened = screened.repartition(*config["keys"]).mapInArrow(_Rank(config, schema),
                                                                            spark_schema)
        return screened, columns

    def __call__(self, micro_batch: DataFrame, batch_id: int) -> BatchReport:
        started = time.perf_counter()
        batch_id = checks.batch_id(batch_id)
        last = self.target.last_batch_id
        if last is not None and batch_id <= last:  # a retried batch: counted, not recomputed
            return self._skipped(micro_batch, batch_id, started)
        if isinstance(self.target, SparkMergeTarget):
            counts, rejected, changed = self._merge_in_spark(micro_batch)
        else:
            applied = self._merge_on_driver(micro_batch, batch_id)
            if applied is None:  # the target had it already (another writer, a lost id)
                return self._skipped(micro_batch, batch_id, started)
            counts, rejected, changed = applied
        self.last_stage_seconds = {"changes": changed - started, "merge": time.perf_counter() - changed}
        outcome = ({k: counts.get(k, 0) for k in ("rows_in", *OUTCOMES)}, False, rejected)
        return self.upsert.report(batch_id, outcome, started)

    def _skipped(self, micro_batch: DataFrame, batch_id: int, started: float) -> BatchReport:
        self.last_stage_seconds = {}
        return BatchReport(batch_id=batch_id, rows_in=micro_batch.count(), skipped_replay=True,
                           seconds=time.perf_counter() - started)

    def _merge_in_spark(self, micro_batch: DataFrame) -> tuple[dict[str, int], pa.Table | None, float]:
        """The change set stays in Spark (materialised once) and Spark MERGEs it."""
        from pyspark.sql import functions as F

        changes, columns = self._changes(micro_batch, ranked=True)
        changes = changes.localCheckpoint(eager=True)
        is_summary = F.col(CHANGE_OPERATION_COLUMN) == _SUMMARY
        counts, rejected = _summed(changes.filter(is_summary)
                                   .select(ARRIVAL_COLUMN, COUNTS_COLUMN, REJECTED_COLUMN).toArrow())
        found = changes.filter(~is_summary).select(*columns, CHANGE_OPERATION_COLUMN)
        upserts, deletes = counts.pop(_UPSERTS, 0), counts.pop(_DELETES, 0)
        counts.update(inserted=upserts, tombstoned=deletes)  # as on an empty table, until merged
        changed = time.perf_counter()
        if upserts or deletes:
            counts = self.target.merge(found, counts, upserts=upserts, deletes=deletes)
        return counts, rejected, changed

    def _merge_on_driver(self, micro_batch: DataFrame,
                         batch_id: int) -> tuple[dict[str, int], pa.Table | None, float] | None:
        """One row per key comes to the driver, where the target applies it as the driver path
        would (a MemoryTable, a DeltaTarget's merge-on-read commit); None: a replay."""
        ranked = _partitions(micro_batch) > self.shuffle_above
        changes_df, columns = self._changes(micro_batch, ranked)
        with spark_without_pandas_warning():
            table = changes_df.toArrow()
        is_summary = pc.equal(table.column(CHANGE_OPERATION_COLUMN), _SUMMARY)
        counts, rejected = _summed(table.filter(is_summary))
        for name in (_UPSERTS, _DELETES):  # the target counts what it applies itself
            counts.pop(name, None)
        # unranked: the earliest partition's change first, as the ranking on the executors takes it
        changes = table.filter(pc.invert(is_summary)).sort_by(ARRIVAL_COLUMN).drop_columns(
            [ARRIVAL_COLUMN, COUNTS_COLUMN, REJECTED_COLUMN])
        del table
        changes = _restored(changes, self._times)
        changed = time.perf_counter()
        apply = BatchUpsert(self.target, _change_set_config(self.upsert.config, columns))
        merged = apply(changes, batch_id)
        if merged.skipped_replay:
            return None
        counts["superseded"] += merged.superseded  # keys repeated across unranked partitions
        counts.update({k: getattr(merged, k) for k in ("inserted", "updated", "deleted", "tombstoned", "stale")})
        return counts, rejected, changed

    def __repr__(self) -> str:
        return f"on_executors({self.upsert!r})"


def as_schema(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` in ``schema``'s types: Spark hands ``mapInArrow`` timestamps in the session's
    zone, and large strings when asked to."""
    if batch.schema == schema:
        return batch
    return pa.RecordBatch.from_arrays([c.cast(f.type) for c, f in zip(batch.columns, schema)],
                                      schema=schema)


def _partitions(df: DataFrame) -> int:
    """The DataFrame's partitions; unknown (Spark Connect has no ``.rdd``): as many as can be."""
    try:
        return int(df.rdd.getNumPartitions())
    except Exception:  # noqa: BLE001 - Connect raises its own "not supported" error
        return 2**31


def _change_set_config(config: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The upsert's configuration for change sets (decoded rows whose operation is
    ``_cdc_rs_operation``) writing the columns ``names``: the conditions were applied to the
    events already (and may name columns the change set lacks)."""
    columns = [n for n in names if n != CHANGE_OPERATION_COLUMN]
    return {**config, "format": None, "value_schema": None, "topic": None, "lookup": None,
            "lookup_on": [],
            "operation_column": CHANGE_OPERATION_COLUMN, "upsert_operations": ["upsert"],
            "delete_operations": ["delete"], "apply_as_deletes": None, "where": None,
            "columns": columns, "except_column_list": []}


def _summed(summaries: pa.Table) -> tuple[dict[str, int], pa.Table | None]:
    """The counters and rejected rows of every summary row, added up (rejects in input order:
    by partition, then piece)."""
    counts = {k: 0 for k in _SCREENING}
    pieces = []
    for arrival, text, data in zip(summaries.column(ARRIVAL_COLUMN).to_pylist(),
                                   summaries.column(COUNTS_COLUMN).to_pylist(),
                                   summaries.column(REJECTED_COLUMN).to_pylist()):
        summary = json.loads(text)
        for name, value in summary["counts"].items():
            counts[name] = counts.get(name, 0) + value
        if data is not None:
            pieces.append(((arrival, summary["part"]), data))
    pieces.sort(key=lambda piece: piece[0])  # the second stage's summaries carry no rejects
    rejected = [pa.ipc.open_stream(data).read_all() for _, data in pieces]
    return counts, (pa.concat_tables(rejected, promote_options="permissive") if rejected else None)


def _screening(config: dict[str, Any], micro_batch: DataFrame
               ) -> tuple[dict[str, Any], list[str], pa.Schema, dict[str, pa.DataType]]:
    """The executors' configuration, the target's columns, the change set's schema (the
    target's columns, the key and sequence columns the target leaves out: the change set is
    ranked by them, the operation and the private columns), and the columns of the change set
    Spark carries in another type (:func:`carried`) with their own."""
    from pyspark.sql.pandas.types import to_arrow_schema

    if micro_batch.isStreaming:
        raise ConfigError("on_executors: call it inside foreachBatch (on a micro-batch), "
                          "not on the streaming DataFrame")
    bronze = to_arrow_schema(micro_batch.schema, timezone="UTC", prefers_large_types=False)
    if config.get("format") == "debezium":
        if config.get("value_schema") is None:  # every partition must make the same columns
            config = {**config, _debezium.PINNED: _messages_schema(config, micro_batch)}
        bronze = _debezium.Normaliser(config).flat_schema(bronze)
    pipeline = _build_pipeline(config)
    target = pipeline.output_schema(bronze).names
    ranked_by = [c for c in dict.fromkeys([*config["keys"], *config["sequence_by"]]) if c not in target]
    columns = pipeline.output_schema(bronze)
    if ranked_by:
        config = {**config, "columns": [*target, *ranked_by], "except_column_list": []}
        columns = _build_pipeline(config).output_schema(bronze)
    schema = pa.schema([*map(carried, columns), pa.field(CHANGE_OPERATION_COLUMN, pa.string()),
                        pa.field(ARRIVAL_COLUMN, pa.int32()), pa.field(COUNTS_COLUMN, pa.string()),
                        pa.field(REJECTED_COLUMN, pa.binary())])
    return config, target, schema, {f.name: f.type for f in columns if carried(f) != f}


class _Schemas:
    """The distinct schemas of a partition's wrapped Debezium messages (of the topic)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        normaliser = _debezium.Normaliser(self.config)
        for batch in batches:
            found = normaliser.schemas(batch)
            if found:
                yield pa.RecordBatch.from_pydict({"schema": found})


def _messages_schema(config: dict[str, Any], micro_batch: DataFrame) -> str:
    """The row schema of a micro-batch's Debezium messages (the union of their schemas), as a
    Kafka Connect schema: one extra pass over the micro-batch when ``value_schema`` is unset."""
    with spark_without_pandas_warning():
        texts = micro_batch.mapInArrow(_Schemas(config), "schema string").distinct().toArrow()
    normaliser = _debezium.Normaliser(config)
    rows = []
    for text in texts.column("schema").to_pylist():
        try:
            rows.append(normaliser.row_of(text)[0])
        except CdcError:  # an unreadable schema: its events are rejected on the executors
            continue
    if rows:
        normaliser.derive(rows)  # refuses, as the driver path does, a schema without the keys
    return json.dumps(_connect_types.union(rows))


def _restored(changes: pa.Table, types: dict[str, pa.DataType]) -> pa.Table:
    """``changes`` with the columns :func:`carried` changed back to their types."""
    for i, name in enumerate(changes.column_names):
        if name in types and changes.schema.field(i).type != types[name]:
            changes = changes.set_column(i, name, changes.column(i).cast(types[name]))
    return changes


def _tagged(changes: pa.Table, arrival: int, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    if changes.num_rows == 0:
        return
    n = changes.num_rows
    arrays = [changes.column(name).cast(schema.field(name).type) if name in changes.column_names
              else pa.nulls(n, schema.field(name).type) for name in schema.names]
    arrays[schema.get_field_index(ARRIVAL_COLUMN)] = pa.repeat(pa.scalar(arrival, pa.int32()), n)
    yield from pa.Table.from_arrays(arrays, schema=schema).to_batches()


def _summaries(counts: dict[str, int], rejected: pa.Table | None, schema: pa.Schema,
               arrival: int | None, per_cell: int) -> Iterator[pa.RecordBatch]:
    """A partition's summary: its counters, and its rejected rows as Arrow IPC streams of about
    ``per_cell`` bytes at most (a Spark binary value holds at most 2 GB), one row per piece,
    numbered so the driver puts them back in order."""
    pieces: list[pa.Table | None] = [None]
    if rejected is not None:
        rows = max(1, rejected.num_rows * per_cell // max(rejected.nbytes, 1))
        pieces = [rejected.slice(at, rows) for at in range(0, max(rejected.num_rows, 1), rows)]
    for part, piece in enumerate(pieces):
        values: dict[str, Any] = {name: None for name in schema.names}
        values[CHANGE_OPERATION_COLUMN] = _SUMMARY
        values[ARRIVAL_COLUMN] = arrival
        values[COUNTS_COLUMN] = json.dumps({"part": part, "counts": counts if part == 0 else {}})
        if piece is not None:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, piece.schema) as writer:
                writer.write_table(piece)
            values[REJECTED_COLUMN] = sink.getvalue().to_pybytes()
        yield pa.RecordBatch.from_pylist([values], schema=schema)