"""``format="debezium"``: a micro-batch of bronze rows whose value is a Debezium change event
becomes the flat rows the engine merges — the table's columns, an operation (``_dbz_op``) and
a sequence (:data:`SEQUENCE`) — before the engine sees it, wherever it runs (a call,
``apply_all``'s screening thread, a dry run, Spark's executors).

The bronze rows are read part by part (:class:`Normaliser`); each part's events are decoded
and classified by :class:`cdc_rs._debezium_events.Events`. Rows that go no further (a
tombstone, a malformed envelope, a truncate…) never reach the engine: their counters and
rejected rows (the bronze rows, with a ``reason``) are kept in a :class:`Side` and added to
the engine's outcome (:meth:`Side.merged`), so every bronze row is still counted once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import _cdc_rs
from . import _connect_types as ct
from ._report import BatchOutcome
from .exceptions import ConfigError, InputError, SchemaError
from ._debezium_events import (BRONZE, OP, PLACEHOLDER, REASONS, ROW, SEQUENCE, SEQUENCE_TYPES,
                               SILENT, Events, is_view, unviewed)

__all__ = ["BRONZE", "OP", "PINNED", "PLACEHOLDER", "REASONS", "ROW", "SEQUENCE", "Normaliser",
           "Side", "engine_config", "row_spec"]

#: A configuration key of executors only: the row schema (Connect JSON) the driver found in a
#: micro-batch's messages, so that every partition makes the same columns.
PINNED = "_messages_schema"
_PART_ROWS = 65536


def row_spec(value_schema: str | None, keep: list[str] | None = None) -> ct.Spec | None:
    """The row spec ``value_schema`` gives: a Kafka Connect schema as JSON text (of the row, or
    of a whole envelope or flattened value), else Spark DDL; ``None``: from the messages."""
    if value_schema is None:
        return None
    if value_schema.lstrip().startswith("{"):
        try:
            schema = json.loads(value_schema)
        except ValueError as exc:
            raise SchemaError(f"value_schema looks like a Kafka Connect schema but is not valid "
                              f"JSON: {exc}") from None
        return ct.from_connect(ct.row_struct(schema, "value_schema", keep or ()), "value_schema")
    return ct.from_ddl(value_schema)


def engine_config(config: dict[str, Any]) -> dict[str, Any]:
    """The engine's configuration for the flat rows :class:`Normaliser` makes."""
    private = [OP, *SEQUENCE] + ([BRONZE, ROW] if _carries_bronze(config) else [])
    excluded = list(config["except_column_list"])
    if config["columns"] is None:
        excluded += [name for name in private if name not in excluded]
    return {**config, "value_schema": None, "topic": None, "operation_column": OP,
            "upsert_operations": ["upsert"], "delete_operations": ["delete"],
            "except_column_list": excluded}


def _carries_bronze(config: Mapping[str, Any]) -> bool:
    return config.get("lookup") is not None and config.get("lookup_how") == "inner"


@dataclass
class Side:
    """What the normalisation decided itself: counters and rejected bronze rows."""

    bronze: pa.Schema
    counts: Counter[str] = field(default_factory=Counter)
    rejected: list[pa.Table] = field(default_factory=list)

    def merged(self, outcome: BatchOutcome) -> BatchOutcome:
        """The engine's ``outcome`` for the flat rows, plus this side's rows: every bronze row
        counted once, rejected rows as bronze rows in input order."""
        counts, skipped, rejected = outcome
        counts = dict(counts)
        counts["rows_in"] = counts.get("rows_in", 0) + sum(self.counts.values())
        if skipped:  # a replay counts its rows only
            return counts, skipped, rejected
        for name, n in self.counts.items():
            counts[name] = counts.get(name, 0) + n
        parts = list(self.rejected)
        if rejected is not None and rejected.num_rows:
            if BRONZE in rejected.column_names:  # lookup misses: back to their bronze rows
                rows = pa.Table.from_struct_array(rejected.column(BRONZE).combine_chunks())
                rejected = rows.append_column("reason", rejected.column("reason")).append_column(
                    ROW, rejected.column(ROW))
            parts.append(rejected)
        if not parts:
            return counts, False, self.bronze.empty_table().append_column(
                "reason", pa.array([], pa.string()))
        table = pa.concat_tables(parts, promote_options="permissive").sort_by(ROW).drop_columns([ROW])
        wanted = pa.schema([*self.bronze, pa.field("reason", pa.string())])
        if table.schema != wanted and table.column_names == wanted.names:
            table = table.cast(wanted)  # view columns, unviewed for Arrow compute
        return counts, False, table


class Normaliser:
    """Bronze Debezium values → flat rows (one per event the engine applies), per part."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.keys: list[str] = list(config["keys"])
        self.sequence_by: list[str] = list(config["sequence_by"])
        #: the sequence columns the row must have (the rest are the defaults, made here)
        self.sequence: list[str] = [s for s in self.sequence_by if s not in SEQUENCE]
        self.value_column: str = config["value_column"]
        self.topic_column: str = config["topic_column"]
        self.topic: str | None = config.get("topic")
        self.carry = _carries_bronze(config)
        self.row = row_spec(config.get("value_schema"), self.sequence)
        pinned = config.get(PINNED)
        #: the row of the messages' schemas, fixed for the batch (executors; None: per part)
        self.pinned = None if pinned is None else ct.from_connect(json.loads(pinned), PINNED)
        self._rows_of: dict[str, tuple[dict[str, Any], bool]] = {}  # schema text → row, envelope?
        #: the row spec and shapes of the last part's messages, tried first on the next part
        self._guess: tuple[ct.Spec | None, set[bool]] | None = None
        if self.row is not None:
            names = set(self.row.type.names)
            for what, wanted in (("keys", self.keys), ("sequence_by", self.sequence)):
                missing = [n for n in wanted if n not in names]
                if missing:
                    raise ConfigError(f"{what} {missing} are not columns of value_schema's row "
                                      f"{sorted(names)}" + (f" (nor of {list(SEQUENCE)})"
                                                            if what == "sequence_by" else ""))
            _check_names(self.row.type.names)

    # ------------------------------------------------------------------ whole batches

    def prepare(self, data: Any) -> tuple[Any, Side]:
        """The flat rows of a micro-batch (Arrow data) for the engine, and the side outcome,
        complete once they are read. With a fixed row schema they are read lazily, part by
        part; else every part is read first, and the batch's row schema is the union of its
        messages' schemas."""
        schema, batches = _batches(data)
        side = Side(bronze=schema)
        parts = self._parts(batches, side)
        if self.row is not None or self.pinned is not None:
            flat = self.flat_schema(schema)
            cast = (p if p.schema == flat else p.cast(flat) for p in parts)
            return pa.RecordBatchReader.from_batches(flat, cast), side
        tables = [pa.Table.from_batches([p]) for p in parts]
        if not tables:
            return self.flat_schema(schema, ct.from_connect(ct.union([]))).empty_table(), side
        return pa.concat_tables(tables, promote_options="permissive"), side

    def flat_schema(self, bronze: pa.Schema, row: ct.Spec | None = None) -> pa.Schema:
        """The engine's input for bronze of ``bronze``: the row, the operation, the sequence."""
        row = row or self.row or self.pinned
        assert row is not None, "a row spec, given or from the messages"
        fields = list(row.type) + [pa.field(OP, pa.string())]
        fields += [pa.field(n, t) for n, t in zip(SEQUENCE, SEQUENCE_TYPES)]
        for name in [*self.keys, *self.sequence]:  # a row without them (none in the schema)
            if name not in row.type.names:
                fields.append(pa.field(name, pa.null()))
        if self.carry:
            fields += [pa.field(BRONZE, pa.struct(list(bronze))), pa.field(ROW, pa.int64())]
        return pa.schema(fields)

    def schemas(self, bronze: pa.RecordBatch) -> list[str]:
        """The distinct schema texts of the wrapped messages of the topic in ``bronze``."""
        if self.topic is not None:
            topics = _column(bronze, self.topic_column, "topic").cast(pa.string())
            bronze = bronze.filter(pc.fill_null(pc.equal(topics, self.topic), False))
        values = unviewed(_column(bronze, self.value_column, "the bronze value"))
        texts = _cdc_rs.from_json(values, "`schema` STRING").field("schema")
        return [str(t) for t in pc.unique(texts.drop_null()).to_pylist()]

    def _parts(self, batches: Iterator[pa.RecordBatch], side: Side) -> Iterator[pa.RecordBatch]:
        first = 0
        for batch in batches:
            for at in range(0, batch.num_rows, _PART_ROWS):
                part = batch.slice(at, _PART_ROWS)
                yield self._part(part, first, side)
                first += part.num_rows

    # ------------------------------------------------------------------ one part

    def _part(self, bronze: pa.RecordBatch, first: int, side: Side) -> pa.RecordBatch:
        n = bronze.num_rows
        if any(is_view(t) for t in bronze.schema.types):  # Arrow compute takes no views
            bronze = pa.RecordBatch.from_arrays([unviewed(c) for c in bronze.columns],
                                                names=bronze.schema.names)
        position = pa.array(range(first, first + n), pa.int64())
        if self.topic is not None:
            topics = _column(bronze, self.topic_column, "topic")
            in_topic = pc.fill_null(pc.equal(topics.cast(pa.string()), self.topic), False)
            side.counts["other_topics"] += n - (pc.sum(in_topic.cast(pa.int64())).as_py() or 0)
            bronze, position = bronze.filter(in_topic), position.filter(in_topic)
        values = _column(bronze, self.value_column, "the bronze value")
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                or pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)
                or pa.types.is_string_view(values.type) or pa.types.is_binary_view(values.type)):
            raise InputError(f"the bronze value column {self.value_column!r} is {values.type}; it "
                             "must hold JSON text (string or binary)")
        event = self._events(values)
        reason = event.reasons()
        flat = event.flat(pc.is_null(reason), bronze, position)
        self._side(side, bronze, position, reason)
        return flat

    def _side(self, side: Side, bronze: pa.RecordBatch, position: pa.Array, reason: pa.Array) -> None:
        counted = pc.value_counts(reason.drop_null()) if reason.null_count < len(reason) else []
        for entry in counted:
            side.counts[REASONS[entry["values"].as_py()]] += entry["counts"].as_py()
        shown = pc.and_(reason.is_valid(), pc.invert(pc.is_in(reason, value_set=pa.array(SILENT))))
        if pc.any(shown).as_py():
            rows = pa.Table.from_batches([bronze.filter(shown)])
            side.rejected.append(rows.append_column("reason", reason.filter(shown))
                                 .append_column(ROW, position.filter(shown)))

    def _events(self, values: pa.Array) -> Events:
        """The part's events, decoded with the row spec: the given one, or the one of the
        messages' schemas (a schema that cannot be read rejects its events, not the batch)."""
        values = unviewed(values)
        if self.row is not None:
            return Events(values, self.row, keys=self.keys, sequence_by=self.sequence_by,
                          carry=self.carry)
        def events(row: ct.Spec | None, shapes: set[bool], read_schemas: bool = False) -> Events:
            return Events(values, row, keys=self.keys, sequence_by=self.sequence_by,
                          carry=self.carry, shapes=shapes, read_schemas=read_schemas)

        guessed = None
        if self._guess is not None:  # most parts have the schemas of the part before: one pass
            guessed = events(*self._guess, read_schemas=True)
        if guessed is not None and guessed.schema_texts is not None:
            texts = guessed.schema_texts
        else:
            texts = _cdc_rs.from_json(values, "`schema` STRING").field("schema")
        found, unreadable = [], []
        for text in pc.unique(texts.drop_null()).to_pylist():
            try:
                found.append(self.row_of(text))
            except (SchemaError, InputError) as exc:
                unreadable.append((text, str(exc)))
        row = self.pinned
        if row is None and found:
            row = self.derive([r for r, _ in found])
        invalid = pc.fill_null(pc.is_in(texts, value_set=pa.array([t for t, _ in unreadable],
                                                                   pa.string())), False)
        shapes = {envelope for _, envelope in found}
        if guessed is not None and guessed.schema_texts is not None and \
                (row, shapes) == self._guess:
            decoded = guessed
        else:
            decoded = events(row, shapes)
        self._guess = (row, shapes)
        decoded.no_schema, decoded.invalid_schema = texts.is_null(), invalid
        return decoded

    def derive(self, rows: list[dict[str, Any]]) -> ct.Spec:
        """The spec of the union of the messages' row schemas, checked: it must hold the keys
        (else :class:`ConfigError`, which no batch can repair)."""
        row = ct.from_connect(ct.union(rows), "the messages' schema")
        _check_names(row.type.names)
        missing = [k for k in self.keys if k not in row.type.names]
        if missing:
            raise ConfigError(f"keys {missing} are not fields of the messages' row schema "
                              f"{row.type.names}")
        return row

    def row_of(self, text: str) -> tuple[dict[str, Any], bool]:
        """The row schema in a message's schema text, and whether it is an envelope's."""
        found = self._rows_of.get(text)
        if found is None:
            try:
                schema = json.loads(text)
            except ValueError as exc:
                raise InputError(f"a message's schema is not valid JSON: {exc}") from None
            row = ct.row_struct(schema, "a message's schema", self.sequence)
            ct.from_connect(row, "a message's schema")  # its types too must be readable
            found = (row, ct.is_envelope(schema))
            if len(self._rows_of) > 256:
                self._rows_of.clear()
            self._rows_of[text] = found
        return found


# --------------------------------------------------------------------------- helpers


def _batches(data: Any) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Arrow data (a stream or one array) as its schema and record batches."""
    if isinstance(data, pa.Table):
        return data.schema, iter(data.to_batches())
    if isinstance(data, pa.RecordBatch):
        return data.schema, iter([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, iter(data)
    if hasattr(data, "__arrow_c_stream__"):
        reader = pa.RecordBatchReader.from_stream(data)
        return reader.schema, iter(reader)
    batch = pa.record_batch(data)
    return batch.schema, iter([batch])


def _column(batch: pa.RecordBatch, name: str, what: str) -> pa.Array:
    if name not in batch.schema.names:
        raise ConfigError(f"column {name!r} ({what} column) is not in the batch; its columns are "
                          f"{batch.schema.names}")
    return batch.column(name)


def _check_names(names: list[str]) -> None:
    taken = [n for n in names if n.startswith("_dbz_")]
    if taken:
        raise ConfigError(f"row columns {taken} use the _dbz_ prefix format='debezium' keeps "
                          "for its own columns")
