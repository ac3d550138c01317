"""A Spark-managed silver table (e.g. Delta) as a target: cdc_rs ranks, Spark runs MERGE INTO.

The table keeps each live key's sequence in its rows; deleted keys keep theirs in an
auxiliary *tombstone table* beside it (as Spark's own AUTO CDC does), so an event older than a
delete stays stale in every later batch and a replayed batch changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from . import _cdc_rs
from ._report import BatchOutcome
from .exceptions import ConfigError
from .target import NoLock

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Column of the change set :class:`SparkMergeTarget` hands to ``MERGE``: ``upsert`` or ``delete``.
CHANGE_OPERATION_COLUMN = "_cdc_rs_operation"

#: Suffix of the tombstone table's name (``customers_silver`` → ``customers_silver_cdc_rs_tombstones``).
TOMBSTONES_SUFFIX = "_cdc_rs_tombstones"


def merge_statement(
    target_table: str,
    source: str,
    *,
    columns: Sequence[str],
    keys: str | Sequence[str],
    sequence_by: str | Sequence[str],
    operation_column: str | None = CHANGE_OPERATION_COLUMN,
    delete_operations: Sequence[str] = ("delete",),
) -> str:
    """The ``MERGE INTO`` applying ranked changes (one row per key) with cdc_rs's rules.

    * a key absent from the target is inserted (unless the change is a delete);
    * a present key is updated only when the change's sequence is strictly newer
      (``sequence_by`` compared left to right, as a tuple);
    * a delete removes the row when it is strictly newer.

    A table alone has no tombstones: :class:`SparkMergeTarget` filters the source through
    its tombstone table first (:func:`tombstone_statements`).

    Args:
        target_table: the table to merge into (e.g. ``main.bookstore.customers_silver``;
            inserted as written).
        source: a table or temporary view of changes, one row per key (or a parenthesised
            query).
        columns: the target columns, written from the source columns of the same names.
        keys: key column(s); changes must not have null keys.
        sequence_by: sequence column(s).
        operation_column: the source column naming the operation; ``None`` when every change
            is an upsert. Its value is compared with ``delete_operations``.
        delete_operations: operations that delete.

    Returns:
        The SQL text.

    Raises:
        ConfigError: a key or sequence column is not among ``columns``, or no columns.

    Example:
        >>> from cdc_rs.spark import merge_statement
        >>> print(merge_statement("silver", "changes", columns=["id", "ts", "v"], keys="id",
        ...                       sequence_by="ts", operation_column="op"))
        MERGE INTO silver AS t
        USING changes AS s
        ON t.`id` = s.`id`
        WHEN MATCHED AND s.`op` IN ('delete') AND (t.`ts` < s.`ts`) THEN DELETE
        WHEN MATCHED AND (s.`op` IS NULL OR s.`op` NOT IN ('delete')) AND (t.`ts` < s.`ts`) THEN UPDATE SET t.`id` = s.`id`, t.`ts` = s.`ts`, t.`v` = s.`v`
        WHEN NOT MATCHED AND (s.`op` IS NULL OR s.`op` NOT IN ('delete')) THEN INSERT (`id`, `ts`, `v`) VALUES (s.`id`, s.`ts`, s.`v`)
    """
    columns = list(columns)
    key_names, sequence_names = _checked_names(columns, keys, sequence_by, "merge_statement")
    q = _quote
    newer = strictly_newer(sequence_names)
    lines = [f"MERGE INTO {target_table} AS t", f"USING {source} AS s", f"ON {_same_key(key_names)}"]
    if operation_column is not None and delete_operations:
        ops = ", ".join(_literal(o) for o in delete_operations)
        op = f"s.{q(operation_column)}"
        is_delete, is_upsert = f"{op} IN ({ops})", f"({op} IS NULL OR {op} NOT IN ({ops}))"
        lines.append(f"WHEN MATCHED AND {is_delete} AND {newer} THEN DELETE")
        update_when, insert_when = f" AND {is_upsert} AND {newer}", f" AND {is_upsert}"
    else:
        update_when, insert_when = f" AND {newer}", ""
    sets = ", ".join(f"t.{q(c)} = s.{q(c)}" for c in columns)
    lines.append(f"WHEN MATCHED{update_when} THEN UPDATE SET {sets}")
    names = ", ".join(q(c) for c in columns)
    values = ", ".join(f"s.{q(c)}" for c in columns)
    lines.append(f"WHEN NOT MATCHED{insert_when} THEN INSERT ({names}) VALUES ({values})")
    return "\n".join(lines)


def tombstone_statements(target_table: str, tombstones_table: str, changes: str, *,
                         columns: Sequence[str], keys: str | Sequence[str],
                         sequence_by: str | Sequence[str]) -> tuple[str, str, str]:
    """The statements around a batch's ``MERGE`` that keep deleted keys deleted.

    ``changes`` holds one change per key with :data:`CHANGE_OPERATION_COLUMN`. Returns:

    1. the query of the changes still news: those with no tombstone at or after their
       sequence (the source of :func:`merge_statement`);
    2. the ``MERGE INTO`` the tombstone table, run after the target's: a delete that took
       effect (its key has no row at or after it now) records or moves the key's tombstone;
       an upsert newer than a tombstone removes it (the key lives again). Its source does not
       read the tombstone table (Delta refuses some merges whose source reads their target);
    3. a query with a row when that ``MERGE`` has something to do (a delete, or a key
       revived): without one, it is skipped.

    Run in that order, a batch is safe to repeat after a failure between the two merges: the
    target's merge changes nothing the second time, the tombstones' catches up.

    Example:
        >>> from cdc_rs.spark import tombstone_statements
        >>> fresh, record, pending = tombstone_statements(
        ...     "silver", "silver_cdc_rs_tombstones", "changes", columns=["id", "ts", "v"],
        ...     keys="id", sequence_by="ts")
        >>> print(fresh)
        (SELECT s.* FROM changes AS s LEFT ANTI JOIN silver_cdc_rs_tombstones AS t ON t.`id` = s.`id` AND NOT (t.`ts` < s.`ts`))
    """
    key_names, sequence_names = _checked_names(list(columns), keys, sequence_by, "tombstone_statements")
    q = _quote
    same, newer = _same_key(key_names), strictly_newer(sequence_names)
    op = f"s.{q(CHANGE_OPERATION_COLUMN)}"
    fresh = f"(SELECT s.* FROM {changes} AS s LEFT ANTI JOIN {tombstones_table} AS t ON {same} AND NOT {newer})"
    stored = list(dict.fromkeys([*key_names, *sequence_names]))
    picked = ", ".join(f"s.{q(c)}" for c in [*stored, CHANGE_OPERATION_COLUMN])
    # A delete whose key still has a row at or after it was stale: the key lives on. Changes
    # at or before a tombstone match it and meet no clause.
    took_effect = (f"(SELECT {picked} FROM {changes} AS s LEFT ANTI JOIN {target_table} AS t "
                   f"ON {same} AND {op} = 'delete' AND NOT {newer})")
    sets = ", ".join(f"t.{q(c)} = s.{q(c)}" for c in sequence_names)
    names = ", ".join(q(c) for c in stored)
    values = ", ".join(f"s.{q(c)}" for c in stored)
    record = "\n".join([
        f"MERGE INTO {tombstones_table} AS t",
        f"USING {took_effect} AS s",
        f"ON {same}",
        f"WHEN MATCHED AND {op} = 'delete' AND {newer} THEN UPDATE SET {sets}",
        f"WHEN MATCHED AND {op} = 'upsert' AND {newer} THEN DELETE",
        f"WHEN NOT MATCHED AND {op} = 'delete' THEN INSERT ({names}) VALUES ({values})",
    ])
    # An upsert matters to that MERGE only when its key has a tombstone (which it removes).
    pending = (f"SELECT 1 FROM {took_effect} AS s WHERE {op} = 'delete' "
               f"OR EXISTS (SELECT 1 FROM {tombstones_table} AS t WHERE {same}) LIMIT 1")
    return fresh, record, pending


class SparkMergeTarget:
    """A Spark-managed silver table (e.g. Delta) as the target of :func:`cdc_rs.batch_upsert`.

    cdc_rs does the per-batch work — decode, topic filter, lookup, rejects, the newest change
    per key (deletes included) — and hands Spark that change set, one row per key, with a
    ``_cdc_rs_operation`` column (``upsert``/``delete``). Spark then runs
    :func:`merge_statement` (strict-newer update, insert, strict-newer delete) on the changes
    that no tombstone makes stale, and records the batch's deletes in the tombstone table
    (:func:`tombstone_statements`). So the table ends as a :class:`cdc_rs.MemoryTable` would:
    an event older than a delete stays stale in every later batch, and replaying a batch
    changes nothing.

    Each batch runs the target's MERGE, then the tombstones' (skipped when it has nothing to
    do). A failure between the two leaves the batch's deletes without their tombstones until
    the same batch is applied again — which ``foreachBatch`` does, as it retries a failed
    batch before any later one.

    The report's ``inserted``/``updated``/``deleted``/``tombstoned``/``stale`` come from the
    MERGEs' metrics when the table format returns them (Delta does), counted as a
    :class:`cdc_rs.MemoryTable` counts them.

    Args:
        table_name: the target table (it must exist with the upsert's output columns, in a
            format with ``MERGE INTO``: Delta, Iceberg…).
        keys: key column(s), as given to ``batch_upsert``.
        sequence_by: sequence column(s), as given to ``batch_upsert``.
        spark: the session running the MERGE; default: the active session when a batch
            arrives (it is not pickled).
        tombstones_table: where deleted keys keep their sequence (created at the first batch
            in the target's format, with its key and sequence columns); default
            ``table_name`` + ``_cdc_rs_tombstones``.
        keep_tombstones: ``False``: no tombstone table, the plain MERGE of the reference
            notebook — an event older than a delete that arrives in a later batch inserts its
            key again.

    Example:
        >>> import cdc_rs, cdc_rs.spark as cs
        >>> from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS
        >>> silver = cs.SparkMergeTarget("customers_silver", keys="customer_id",
        ...                              sequence_by="row_time")
        >>> upsert = cdc_rs.batch_upsert(silver, keys="customer_id", sequence_by="row_time",
        ...                              value_schema=CUSTOMERS_SCHEMA, topic="customers",
        ...                              operation_column="row_status",
        ...                              delete_operations=["delete"], columns=SILVER_COLUMNS)
        >>> upsert.target
        SparkMergeTarget('customers_silver', keys=['customer_id'], sequence_by=['row_time'])
        >>> silver.tombstones_table
        'customers_silver_cdc_rs_tombstones'

        Then ``stream.writeStream.foreachBatch(upsert).option("checkpointLocation", …).start()``.
    """

    def __init__(self, table_name: str, *, keys: str | Sequence[str],
                 sequence_by: str | Sequence[str], spark: SparkSession | None = None,
                 tombstones_table: str | None = None, keep_tombstones: bool = True) -> None:
        self.table_name = table_name
        self.keys = names(keys)
        self.sequence_by = names(sequence_by)
        self._spark = spark
        #: None when the target keeps no tombstones (``keep_tombstones=False``)
        self.tombstones_table: str | None = (
            None if not keep_tombstones else tombstones_table or _suffixed(table_name, TOMBSTONES_SUFFIX))
        self.last_statement: str | None = None
        self._tombstones_ready = False

    @property
    def last_batch_id(self) -> int | None:
        """Always None: the Spark table keeps no batch ids (the stream's checkpoint does, and
        the MERGE only applies strictly newer changes, so a replayed batch changes nothing)."""
        return None

    def __len__(self) -> int:
        """Rows in the Spark table."""
        return int(self._session().table(self.table_name).count())

    def tombstones(self) -> pa.Table | None:
        """The deleted keys with the sequence of their delete (None without a tombstone table,
        or before the first batch created it)."""
        spark = self._session()
        if self.tombstones_table is None or not spark.catalog.tableExists(self.tombstones_table):
            return None
        return spark.table(self.tombstones_table).toArrow()

    def changes(self, pipeline: Any, batch: Any, batch_id: int) -> tuple[dict[str, int], pa.Table | None, pa.Table]:
        """Run the cdc_rs pipeline on one batch: (counters, rejected rows, change set).

        The change set has the output columns plus ``_cdc_rs_operation``; deleted keys carry
        only their key and sequence columns (the others are null).
        """
        return change_set(pipeline, batch, batch_id)

    # ------------------------------------------------------------ the Target protocol

    #: Spark's MERGE decides against the table: no state here to go stale
    max_retries = 0
    keeps_key_state = False

    def batch_lock(self) -> NoLock:
        """No lock: Spark serialises the MERGEs on the table."""
        return NoLock()

    def open(self, pipeline: _cdc_rs.Pipeline) -> _cdc_rs.TableCore:
        """An empty state: every key is new to the plan, which is then the batch's change set
        (the newest event per key); the MERGE decides against the table."""
        return _cdc_rs.TableCore()

    def write(self, plan: _cdc_rs.PlanCore, batch_id: int) -> None:
        """Nothing ahead of the MERGE."""
        return None

    def commit(self, plan: _cdc_rs.PlanCore, staged: None, batch_id: int) -> BatchOutcome:
        """The change set MERGEd into the table and its tombstones (the counters as the
        MERGEs' metrics say)."""
        counts, rejected, changes = plan.counts, plan.rejected(), change_rows(plan)
        if changes.num_rows == 0:
            return counts, False, rejected
        deletes = pc.sum(pc.equal(changes.column(CHANGE_OPERATION_COLUMN), "delete")).as_py() or 0
        source = self._session().createDataFrame(changes.cast(pa.schema(map(carried, changes.schema))))
        return self.merge(source, counts, upserts=changes.num_rows - deletes, deletes=deletes), False, rejected

    def merge(self, changes: DataFrame, counts: dict[str, int], *, upserts: int,
              deletes: int) -> dict[str, int]:
        """Merge a change set (one row per key, with ``_cdc_rs_operation``, as
        :meth:`changes` makes it) into the table and its tombstones: ``counts`` with the
        merge's counters. ``changes`` is read by both MERGEs: materialise it first (a local
        DataFrame, ``cache()``, ``localCheckpoint()``). The statements run in ``changes``'
        session (in ``foreachBatch``, the micro-batch's, which sees its temporary views)."""
        spark = changes.sparkSession
        columns = [c for c in changes.columns if c != CHANGE_OPERATION_COLUMN]
        view = f"_cdc_rs_changes_{uuid.uuid4().hex}"
        changes.createOrReplaceTempView(view)
        try:
            bookkeeping: tuple[str, str] | None = None  # the tombstones' MERGE and its check
            if self.tombstones_table is None:
                source = view
            else:
                self._create_tombstones_table(spark)
                source, record, pending = tombstone_statements(
                    self.table_name, self.tombstones_table, view, columns=columns,
                    keys=self.keys, sequence_by=self.sequence_by)
                bookkeeping = (record, pending)
            statement = merge_statement(self.table_name, source, columns=columns, keys=self.keys,
                                        sequence_by=self.sequence_by)
            self.last_statement = statement
            # The target first: a failure before the tombstones' merge leaves a batch that a
            # retry completes (the target's merge then changes nothing).
            metrics = self._execute(spark, statement)
            recorded: dict[str, int] | None = None
            if bookkeeping is not None:
                record, pending = bookkeeping
                # A MERGE costs seconds even when it has nothing to do: skip an empty one.
                recorded = self._execute(spark, record) if spark.sql(pending).take(1) else {}
        finally:
            spark.catalog.dropTempView(view)
        return _merged_counts(counts, upserts, deletes, metrics, recorded)

    def _create_tombstones_table(self, spark: SparkSession) -> None:
        if self._tombstones_ready:
            return
        assert self.tombstones_table is not None
        if not spark.catalog.tableExists(self.tombstones_table):
            # Spark resolves column names ignoring case
            fields = {f.name.lower(): f for f in spark.table(self.table_name).schema.fields}
            kept = list(dict.fromkeys([*self.keys, *self.sequence_by]))
            missing = [c for c in kept if c.lower() not in fields]
            if missing:
                raise ConfigError(f"SparkMergeTarget: {self.table_name} has no column(s) {missing}")
            columns = ", ".join(f"{_quote(c)} {fields[c.lower()].dataType.simpleString()}" for c in kept)
            spark.sql(f"CREATE TABLE IF NOT EXISTS {self.tombstones_table} ({columns}) "
                      f"USING {_provider(spark, self.table_name)}")
        self._tombstones_ready = True

    def _execute(self, spark: SparkSession, statement: str) -> dict[str, int]:
        rows = spark.sql(statement).collect()
        return {k: int(v) for k, v in rows[0].asDict().items() if v is not None} if rows else {}

    def _session(self) -> SparkSession:
        if self._spark is not None:
            return self._spark
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
        if spark is None:
            raise ConfigError("SparkMergeTarget: no active Spark session; pass spark=")
        return spark

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_spark"] = None
        state["_tombstones_ready"] = False  # another process checks again
        return state

    def __repr__(self) -> str:
        return f"SparkMergeTarget({self.table_name!r}, keys={self.keys}, sequence_by={self.sequence_by})"


def carried(f: pa.Field) -> pa.Field:
    """A change set column as Spark can carry it: Spark has no Arrow time type, so a time of
    day travels as its count of units (a ``BIGINT`` column of a Spark table)."""
    return f.with_type(pa.int64()) if pa.types.is_time(f.type) else f


def change_set(pipeline: Any, batch: Any, batch_id: int = 0) -> tuple[dict[str, int], pa.Table | None, pa.Table]:
    """Run a cdc_rs pipeline on one batch against an empty table: (counters, rejected rows,
    change set with ``_cdc_rs_operation``; deleted keys carry only their key and sequence)."""
    plan = pipeline.plan(batch, batch_id, _cdc_rs.TableCore())
    return plan.counts, plan.rejected(), change_rows(plan)


def change_rows(plan: _cdc_rs.PlanCore) -> pa.Table:
    """A plan made against an empty table as a change set: its upserted rows, then its deleted
    keys (their other columns null), tagged by ``_cdc_rs_operation``."""
    rows = plan.upserts()
    if rows is None:  # nothing planned (no row passed screening)
        return pa.table({CHANGE_OPERATION_COLUMN: pa.array([], pa.string())})
    upserts = rows.append_column(CHANGE_OPERATION_COLUMN,
                                 pa.repeat("upsert", len(rows)).cast(pa.string()))
    state = plan.state_changes()
    if state is None or state.num_rows == len(rows):
        return upserts
    dead = state.filter(pc.invert(state.column("live")))
    arrays = []
    for field in upserts.schema:
        source = f"key.{field.name}" if f"key.{field.name}" in dead.column_names else f"sequence.{field.name}"
        if field.name == CHANGE_OPERATION_COLUMN:
            arrays.append(pa.repeat("delete", len(dead)).cast(pa.string()))
        elif source in dead.column_names:
            arrays.append(dead.column(source).cast(field.type))
        else:
            arrays.append(pa.nulls(len(dead), field.type))
    deletes = pa.Table.from_arrays(arrays, schema=upserts.schema)
    return pa.concat_tables([upserts, deletes])


def strictly_newer(sequence: list[str]) -> str:
    """``(t.a, t.b) < (s.a, s.b)`` spelled out (row comparison is not SQL everywhere)."""
    q = _quote
    terms = []
    for i, name in enumerate(sequence):
        equal = [f"t.{q(p)} = s.{q(p)}" for p in sequence[:i]]
        terms.append(" AND ".join([*equal, f"t.{q(name)} < s.{q(name)}"]))
    if len(terms) == 1:
        return f"({terms[0]})"
    return "(" + " OR ".join(f"({t})" for t in terms) + ")"


def names(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _checked_names(columns: list[str], keys: str | Sequence[str], sequence_by: str | Sequence[str],
                   caller: str) -> tuple[list[str], list[str]]:
    key_names, sequence_names = names(keys), names(sequence_by)
    if not columns:
        raise ConfigError(f"{caller}: no columns")
    missing = [c for c in (*key_names, *sequence_names) if c not in columns]
    if missing:
        raise ConfigError(f"{caller}: key/sequence column(s) {missing} not in columns")
    if not key_names or not sequence_names:
        raise ConfigError(f"{caller}: give at least one key and one sequence column")
    return key_names, sequence_names


def _same_key(keys: list[str]) -> str:
    return " AND ".join(f"t.{_quote(k)} = s.{_quote(k)}" for k in keys)


def _provider(spark: SparkSession, table_name: str) -> str:
    """The target's format (``delta``, ``iceberg``…), for its tombstone table."""
    for row in spark.sql(f"DESCRIBE TABLE EXTENDED {table_name}").collect():
        if row["col_name"] == "Provider" and row["data_type"]:
            return str(row["data_type"])
    return "delta"


def _suffixed(table_name: str, suffix: str) -> str:
    """``db.`my table``` + suffix inside the quotes: ``db.`my table_cdc_rs_tombstones```."""
    return table_name[:-1] + suffix + "`" if table_name.endswith("`") else table_name + suffix


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _merged_counts(counts: dict[str, int], upserts: int, deletes: int, metrics: dict[str, int],
                   recorded: dict[str, int] | None) -> dict[str, int]:
    """The report's merge counters from the MERGEs' metrics, as a MemoryTable counts them:
    a delete that records or moves a tombstone is ``tombstoned``, one that changes nothing
    ``stale`` (``recorded``: the tombstone MERGE's metrics, None without tombstones)."""
    if "num_inserted_rows" not in metrics:
        return counts
    out = dict(counts)
    out["inserted"] = metrics.get("num_inserted_rows", 0)
    out["updated"] = metrics.get("num_updated_rows", 0)
    out["deleted"] = metrics.get("num_deleted_rows", 0)
    if recorded is None:  # no tombstone table: every delete not applied leaves its "tombstone"
        out["tombstoned"] = deletes - out["deleted"]
    else:  # a delete that removed a row also inserted its tombstone
        out["tombstoned"] = (recorded.get("num_inserted_rows", 0) + recorded.get("num_updated_rows", 0)
                             - out["deleted"])
    out["stale"] = (upserts - out["inserted"] - out["updated"]) + (deletes - out["deleted"] - out["tombstoned"])
    return out
