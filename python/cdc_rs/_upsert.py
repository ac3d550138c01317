"""``batch_upsert``: the reference notebook's ``foreachBatch`` function, in Rust."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from html import escape
from typing import Any

import pyarrow as pa

from . import _cdc_rs
from . import _checks as checks
from . import _debezium
from ._input import as_arrow
from ._report import BatchOutcome, BatchReport, DryRun
from ._types import MicroBatch
from ._table import MemoryTable
from .exceptions import CdcError, ConfigError, SchemaError
from .target import Target, apply, is_target


_END = object()


class BatchUpsert:
    """A configured upsert: call it with ``(micro_batch, batch_id)``, as ``foreachBatch`` does.

    Built by :func:`batch_upsert`. Picklable (pickle and cloudpickle): the copy carries its
    configuration and a copy of its target. Calls on one target are serialised.
    """

    def __init__(self, target: Target, config: dict[str, Any]) -> None:
        self._target = target
        self._config = config
        self._pipeline = _build_pipeline(config)
        self._debezium = (_debezium.Normaliser(config) if config.get("format") == "debezium"
                          else None)
        self._warned_topic = False  # warn once per upsert, every report says it

    @property
    def target(self) -> Target:
        """The table this upsert writes to."""
        return self._target

    def __call__(self, micro_batch: MicroBatch | _cdc_rs.ScreenedBatch, batch_id: int) -> BatchReport:
        """Apply one micro-batch to the target.

        Args:
            micro_batch: pyarrow Table/RecordBatch/RecordBatchReader, polars, duckdb, pandas or
                PySpark DataFrame — bronze rows when ``value_schema`` is set, else parsed rows.
            batch_id: increasing batch number; an id at or below the last applied one is
                skipped (a retried ``foreachBatch`` changes nothing).

        Returns:
            A :class:`BatchReport` accounting for every input row.
        """
        started = time.perf_counter()
        batch_id = checks.batch_id(batch_id)
        side = None
        if isinstance(micro_batch, _Ahead):
            batch, side = micro_batch.screened, micro_batch.side
        elif isinstance(micro_batch, _cdc_rs.ScreenedBatch):
            batch = micro_batch
        else:
            batch, side = self._prepared(as_arrow(micro_batch))
        outcome = apply(self._target, self._pipeline, batch, batch_id)
        return self.report(batch_id, outcome if side is None else side.merged(outcome), started)

    def _prepared(self, data: Any) -> tuple[Any, _debezium.Side | None]:
        """What the engine takes for ``data``: itself, or (``format="debezium"``) its events as
        flat rows, with the outcome of the rows that never reach the engine."""
        if self._debezium is None:
            return data, None
        return self._debezium.prepare(data)

    def _screen(self, data: Any, stop: _cdc_rs.Stop) -> _cdc_rs.ScreenedBatch | _Ahead:
        batch, side = self._prepared(data)
        screened = self._pipeline.screen(batch, stop)
        return screened if side is None else _Ahead(screened, side)

    def plan(self, micro_batch: MicroBatch, batch_id: int | None = None) -> DryRun:
        """A dry run: what applying ``micro_batch`` would do, without changing the target.

        Planned against the target's key state as it is now, exactly as a call would be.
        Needs a target that keeps its key state (:class:`MemoryTable`,
        :class:`cdc_rs.DeltaTarget`); a Spark MERGE target decides inside Spark.

        Args:
            micro_batch: anything a call takes.
            batch_id: default: the one after the target's last (so it is not a replay).

        Returns:
            A :class:`DryRun`: the report, the rows it would upsert, the keys it would delete.

        Example:
            >>> import cdc_rs, pyarrow as pa
            >>> upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts")
            >>> _ = upsert(pa.table({"id": [1], "ts": [1], "v": ["a"]}), 0)
            >>> dry = upsert.plan(pa.table({"id": [1, 2], "ts": [2, 1], "v": ["b", "c"]}))
            >>> (dry.report.updated, dry.report.inserted, dry.upserts.num_rows)
            (1, 1, 2)
            >>> upsert.target.to_arrow().column("v").to_pylist()  # unchanged
            ['a']
        """
        started = time.perf_counter()
        if not self._target.keeps_key_state:
            raise ConfigError(f"{type(self._target).__name__} keeps no key state to plan a dry "
                              "run against: it decides when it merges")
        # (a Spark job, maybe: not while holding the target)
        batch, side = self._prepared(as_arrow(micro_batch))
        with self._target.batch_lock():
            core = self._target.open(self._pipeline)
            if batch_id is None:
                last = core.last_batch_id
                batch_id = 0 if last is None else last + 1
            batch_id = checks.batch_id(batch_id)
            plan = self._pipeline.plan(batch, batch_id, core)
        outcome: BatchOutcome = (plan.counts, plan.skipped_replay, plan.rejected())
        report = self.report(batch_id, outcome if side is None else side.merged(outcome), started)
        upserts, deletes = plan.upserts(), plan.deletes()
        nothing = pa.table({})  # the batch changes no row (e.g. a replay)
        return DryRun(report, nothing if upserts is None else upserts,
                      nothing if deletes is None else deletes)

    @property
    def config(self) -> dict[str, Any]:
        """The keyword arguments this upsert was built with (a copy; ``lookup`` as a table)."""
        return dict(self._config)

    def report(self, batch_id: int, outcome: BatchOutcome, started: float) -> BatchReport:
        """The :class:`BatchReport` of a batch applied with ``outcome`` (counters, skipped as a
        replay, rejected rows) since ``time.perf_counter()`` was ``started``; it warns once
        when no row had the configured topic. For runners that apply batches their own way
        (:func:`cdc_rs.spark.on_executors`)."""
        counts, skipped, rejected = outcome
        report = BatchReport(
            batch_id=batch_id,
            skipped_replay=skipped,
            seconds=time.perf_counter() - started,
            **counts,  # type: ignore[arg-type]  # the OUTCOMES counters, all ints
        )
        if rejected is not None:
            object.__setattr__(report, "rejected", rejected)
        topic = self._config.get("topic")
        if topic is not None and report.rows_in and report.other_topics == report.rows_in:
            note = (f"none of the batch's {report.rows_in:,} rows has topic {topic!r}: a typo in "
                    f"topic=, or the wrong {self._config['topic_column']!r} column?")
            object.__setattr__(report, "warning", note)
            if not self._warned_topic:
                self._warned_topic = True
                warnings.warn(note, UserWarning, stacklevel=3)
        return report

    def apply_all(self, micro_batches: Iterable[MicroBatch], first_batch_id: int = 0) -> list[BatchReport]:
        """Apply micro-batches in order, with batch ids ``first_batch_id``, ``first_batch_id + 1``…

        The same as calling the upsert on each in turn, but quicker on two or more cores:
        screening a batch (JSON decode, filters, lookup probe) needs only the configuration,
        so the next batch is screened on a background thread while this one merges into the
        target. Batches are taken from ``micro_batches`` one ahead of the one applied.

        Args:
            micro_batches: anything the upsert takes, e.g. the readers of
                :func:`cdc_rs.scan_parquet_files`.
            first_batch_id: the id of the first batch; ids at or below the target's last
                applied one are skipped as replays, as with a single call.

        Returns:
            One :class:`BatchReport` per batch. The first error is raised; the batches before
            it stay applied, nothing of the failing one is.

        Example:
            >>> import cdc_rs, pyarrow as pa
            >>> upsert = cdc_rs.batch_upsert(cdc_rs.MemoryTable(), keys=["id"], sequence_by="ts")
            >>> batches = [pa.table({"id": [1, 2], "ts": [1, 1]}), pa.table({"id": [1], "ts": [2]})]
            >>> [(r.inserted, r.updated) for r in upsert.apply_all(batches)]
            [(2, 0), (0, 1)]
        """
        batches = iter(micro_batches)
        reports: list[BatchReport] = []
        # Ids at or below this are replays whatever this call applies: counted, not screened.
        applied = self._target.last_batch_id
        stop = _cdc_rs.Stop()  # ends the screening in flight when this call ends early
        with ThreadPoolExecutor(1, thread_name_prefix="cdc_rs-screen") as screener:
            def take(batch_id: int) -> Future[Any] | None:
                try:
                    batch = next(batches, _END)
                    if batch is _END:
                        return None
                    data = as_arrow(batch)
                except Exception as exc:  # noqa: BLE001 - raised at its turn: the batches
                    failed: Future[Any] = Future()  # before this one are applied first
                    failed.set_exception(exc)
                    return failed
                if applied is not None and batch_id <= applied:
                    replay: Future[Any] = Future()
                    replay.set_result(data)
                    return replay
                return screener.submit(self._screen, data, stop)

            batch_id = checks.batch_id(first_batch_id)
            upcoming = take(batch_id)
            try:
                while upcoming is not None:
                    screened = upcoming.result()
                    upcoming = take(batch_id + 1)
                    reports.append(self(screened, batch_id))
                    # Freed now, not when the next screening is done: one batch fewer held.
                    del screened
                    batch_id += 1
            finally:
                if upcoming is not None:
                    stop.set()  # no-op when the loop ran to its end
                    upcoming.cancel()
        return reports

    def with_target(self, target: Target) -> BatchUpsert:
        """The same upsert, writing to ``target``."""
        return BatchUpsert(target, self._config)

    def __reduce__(self) -> tuple[Any, ...]:
        return (BatchUpsert, (self._target, self._config))

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._config.items() if k != "lookup" and v not in (None, (), [])}
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"BatchUpsert({self._target!r}, {args})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(k)}</td><td><code>{escape(repr(v))}</code></td></tr>"
            for k, v in self._config.items()
            if k != "lookup" and v not in (None, (), [])
        )
        return f"<div><strong>BatchUpsert</strong> → {escape(repr(self._target))}<table>{rows}</table></div>"


class _Ahead:
    """A batch :meth:`BatchUpsert.apply_all` screened ahead, with its ``format="debezium"``
    side outcome."""

    def __init__(self, screened: _cdc_rs.ScreenedBatch, side: _debezium.Side) -> None:
        self.screened, self.side = screened, side


def batch_upsert(
    target: Target | None = None,
    *,
    keys: str | Sequence[str],
    sequence_by: str | Sequence[str] | None = None,
    value_schema: str | None = None,
    format: str | None = None,
    topic: str | None = None,
    operation_column: str | None = None,
    upsert_operations: Sequence[str] = ("insert", "update"),
    delete_operations: Sequence[str] = (),
    apply_as_deletes: str | None = None,
    where: str | None = None,
    lookup: MicroBatch | None = None,
    lookup_on: Mapping[str, str] | Sequence[tuple[str, str]] | str | None = None,
    lookup_how: str = "inner",
    columns: Sequence[str] | None = None,
    except_column_list: Sequence[str] | None = None,
    column_list: Sequence[str] | None = None,
    time_zone: str = "UTC",
    value_column: str = "value",
    topic_column: str = "topic",
    memory_limit: int | str | None = "auto",
) -> BatchUpsert:
    """Build the CDC upsert of the reference notebook: parse, enrich, keep the newest event
    per key, and merge it into ``target``.

    Args:
        target: the silver table (default: a new :class:`MemoryTable`).
        keys: key column(s) identifying a row.
        sequence_by: column(s) ordering events, compared left to right; the newest wins, and
            among equal sequences the earliest-arriving event. Required, except with
            ``format="debezium"`` (default: :data:`cdc_rs.DEBEZIUM_SEQUENCE`, the events'
            log positions).
        value_schema: a Spark DDL schema; when set, batches are bronze rows whose ``value``
            holds JSON, decoded like Spark's ``from_json`` (PERMISSIVE). Malformed values are
            rejected with reason ``malformed_json``. With ``format="debezium"``: the table's
            row (not the envelope), as DDL or as a Kafka Connect schema in JSON; optional when
            the events carry the JSON converter's schema.
        format: ``None`` (or ``"json"``): ``value`` holds the row as JSON. ``"debezium"``:
            ``value`` holds a Debezium change event (envelope or flattened by
            ExtractNewRecordState, with or without its schema), which gives the operation
            and the sequence; see the README's "Debezium change events".
        topic: keep only bronze rows of this topic (others are counted as ``other_topics``).
        operation_column: column holding the operation (e.g. ``row_status``); without it every
            row is an upsert.
        upsert_operations: operations applied as insert-or-update.
        delete_operations: operations applied as deletes (leaving a tombstone).
        apply_as_deletes: AUTO CDC's long form of ``delete_operations`` (give one of the two):
            a SQL condition on the event's columns, e.g. ``"op = 'DELETE'"``. Events for
            which it is TRUE are deletes; FALSE or NULL, upserts. It is tested first, so with
            ``operation_column`` the other events are upserts only if their operation is in
            ``upsert_operations`` (else they count as ``ignored_operations``).
        where: a SQL condition on the event's columns: only events for which it is TRUE are
            applied, the others count as ``filtered_out`` (after ``malformed``, before the
            operation). Both conditions are a small part of Spark SQL, parsed in Rust (never
            evaluated as Python): column names (plain, or in backquotes; matched ignoring case),
            numbers, ``'strings'``, ``TRUE``/``FALSE``/``NULL``, ``= <> != < <= > >=``,
            ``[NOT] IN (…)``, ``IS [NOT] NULL``, ``NOT``/``AND``/``OR`` and parentheses, with
            SQL's three-valued logic. A literal is read as the type of the column it meets (a
            timestamp string in ``time_zone``).
        lookup: a small table joined to every upsert (a broadcast join), hashed once here.
        lookup_on: ``{batch_column: lookup_column}`` (or one name for both sides).
        lookup_how: ``"inner"`` (a miss rejects the row: ``lookup_miss``) or ``"left"``.
        columns: target columns, by name (default: every column of the enriched rows).
        except_column_list: or every column but these.
        column_list: ``columns`` under its AUTO CDC name (``create_auto_cdc_flow``); give
            one of the two.
        time_zone: zone of timestamps written without an offset.
        value_column: bronze column holding the JSON (default ``value``).
        topic_column: bronze column holding the topic (default ``topic``).
        memory_limit: bytes a micro-batch may need at its peak; one that needs more is
            refused with :class:`InputError` while it is screened, before anything is
            applied, instead of meeting the OOM killer. ``"auto"`` (default): half the
            memory the process may use; ``None``: no limit.

    Returns:
        A picklable :class:`BatchUpsert`, callable as ``upsert(micro_batch, batch_id)``.

    Raises:
        ConfigError: an option that cannot work (e.g. duplicate lookup keys, naming the key),
            or a condition that does not parse (its message points at the position). A
            condition naming an unknown column, or a literal that cannot meet its column, is
            refused here when ``value_schema`` gives the types, else at the first batch
            (before anything is applied).
        SchemaError: ``value_schema`` does not parse.

    Example:
        >>> import cdc_rs, pyarrow as pa
        >>> upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts",
        ...                              operation_column="op", delete_operations=["delete"])
        >>> batch = pa.table({"id": [1, 1, 2], "ts": [1, 2, 1],
        ...                   "op": ["insert", "update", "insert"], "v": ["a", "b", "c"]})
        >>> upsert(batch, 0).inserted
        2
        >>> upsert.target.to_arrow().sort_by("id").column("v").to_pylist()
        ['b', 'c']

        AUTO CDC's SQL conditions, on the event's columns:

        >>> upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts",
        ...                              apply_as_deletes="op = 'DELETE'", where="shop <> 'test'")
        >>> batch = pa.table({"id": [1, 2, 1, 3], "ts": [1, 1, 2, 1],
        ...                   "op": ["INSERT", "INSERT", "DELETE", "INSERT"],
        ...                   "shop": ["a", "a", "a", "test"]})
        >>> report = upsert(batch, 0)
        >>> report.inserted, report.tombstoned, report.filtered_out
        (1, 1, 1)
        >>> upsert.target.to_arrow().column("id").to_pylist()
        [2]
        >>> cdc_rs.batch_upsert(keys="id", sequence_by="ts", where="shop = 'a' AND")
        Traceback (most recent call last):
        ...
        cdc_rs.exceptions.ConfigError: where=: expected a value, found the end (at position 14)
          shop = 'a' AND
                        ^

        Debezium change events (here without the JSON converter's schema, so the row's
        columns are given):

        >>> events = [{"before": None, "after": {"id": 1, "v": "a"}, "op": "c",
        ...            "source": {"connector": "postgresql", "lsn": 100}, "ts_ms": 1},
        ...           {"before": {"id": 1, "v": "a"}, "after": {"id": 1, "v": "b"}, "op": "u",
        ...            "source": {"connector": "postgresql", "lsn": 200}, "ts_ms": 2}]
        >>> import json
        >>> bronze = pa.table({"value": [json.dumps(e) for e in events]})
        >>> cdc = cdc_rs.batch_upsert(keys="id", format="debezium", value_schema="id INT, v STRING")
        >>> report = cdc(bronze, 0)
        >>> report.inserted, report.superseded, cdc.target.to_arrow().column("v").to_pylist()
        (1, 1, ['b'])
    """
    if column_list is not None:
        if columns is not None:
            raise ConfigError("give columns= or its AUTO CDC name column_list=, not both")
        columns = column_list
    format = _format(format, sequence_by, operation_column, delete_operations)
    if sequence_by is None:
        if format != "debezium":
            raise ConfigError("sequence_by= is required (the column(s) ordering events), "
                              "except with format='debezium'")
        sequence_by = list(_debezium.SEQUENCE)
    config = {
        "keys": checks.names(keys, "keys"),
        "sequence_by": checks.names(sequence_by, "sequence_by"),
        "value_schema": None if value_schema is None else checks.text(value_schema, "value_schema",
                                                                      SchemaError),
        "topic": None if topic is None else checks.text(topic, "topic"),
        "operation_column": None if operation_column is None
        else checks.name(operation_column, "operation_column"),
        "upsert_operations": [checks.text(op, "upsert_operations") for op in upsert_operations],
        "delete_operations": [checks.text(op, "delete_operations") for op in delete_operations],
        "apply_as_deletes": None if apply_as_deletes is None
        else checks.text(apply_as_deletes, "apply_as_deletes"),
        "where": None if where is None else checks.text(where, "where"),
        "lookup": None if lookup is None else _lookup_table(lookup),
        "lookup_on": [(checks.name(a, "lookup_on"), checks.name(b, "lookup_on"))
                      for a, b in _pairs(lookup_on)],
        "lookup_how": checks.text(lookup_how, "lookup_how"),
        "columns": None if columns is None else checks.names(columns, "columns"),
        # None and [] alike: no column left out (columns= with it is refused by the engine)
        "except_column_list": checks.names(except_column_list or (), "except_column_list"),
        "time_zone": checks.text(time_zone, "time_zone"),
        "value_column": checks.name(value_column, "value_column"),
        "topic_column": checks.name(topic_column, "topic_column"),
        "memory_limit": memory_limit,
        "format": format,
    }
    checks.memory_limit(memory_limit)  # refused here, not at the first batch
    if isinstance(target, (str, os.PathLike)):  # a path: a Delta table
        from .delta import DeltaTarget

        target = DeltaTarget(target)
    if target is not None and not is_target(target):
        raise ConfigError(f"{type(target).__name__} is not a cdc_rs target: it lacks the Target "
                          "protocol's methods (cdc_rs.target.Target: open, write, commit…)")
    return BatchUpsert(MemoryTable() if target is None else target, config)


def _format(format: Any, sequence_by: Any, operation_column: Any, delete_operations: Any) -> str | None:
    """``format=`` checked: None for JSON rows, or ``"debezium"``."""
    if format is None or format == "json":
        return None
    if format != "debezium":
        raise ConfigError(f"format must be None, 'json' or 'debezium', got {format!r}")
    if operation_column is not None or delete_operations:
        raise ConfigError("format='debezium' takes each event's operation from the event (op, "
                          "or __op / __deleted when flattened): leave operation_column and "
                          "delete_operations unset")
    return "debezium"


def _build_pipeline(config: dict[str, Any]) -> Any:
    c = dict(config)
    c.pop(_debezium.PINNED, None)
    if c.pop("format", None) == "debezium":
        c = _debezium.engine_config(c)
    c["memory_limit"] = checks.memory_limit(c.get("memory_limit", "auto"))
    if c["operation_column"] is None:
        c["upsert_operations"] = []
    return _cdc_rs.Pipeline(**c)


def _lookup_table(lookup: MicroBatch) -> pa.Table:
    try:
        return pa.table(as_arrow(lookup))
    except CdcError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the lookup's source raised
        raise ConfigError(f"the lookup table cannot be read: {exc}") from exc


def _pairs(on: Mapping[str, str] | Sequence[tuple[str, str]] | str | None) -> list[tuple[str, str]]:
    if on is None:
        return []
    if isinstance(on, str):
        return [(on, on)]
    if isinstance(on, Mapping):
        return list(on.items())
    return [(a, b) for a, b in on]
