"""One part of Debezium events, decoded and classified (``format="debezium"``): what each
event is — an upsert of ``after``, a delete of ``before``'s key, or the reason it goes no
further — with its row in the column types and its sequence (:data:`SEQUENCE`).

``cdc_rs.from_json`` decodes (in Rust); the rest is Arrow compute over the whole part. An
event is an envelope ``{before, after, source, op, ts_ms}`` or a row flattened by
ExtractNewRecordState (``__op``, ``__deleted``, ``__lsn``…), each with or without the JSON
converter's ``{"schema": …, "payload": …}`` wrapper. See :mod:`cdc_rs._debezium` for batches.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from . import _cdc_rs
from . import _connect_types as ct

#: The default ``sequence_by`` of ``format="debezium"``, compared left to right: 0 for a
#: snapshot read (``op`` ``r``) and 1 for a streamed change, then the Postgres LSN, the MySQL
#: binlog file, position and row in the event; the event's ``ts_ms`` only when it has
#: neither (the unused components are 0 or "").
SEQUENCE = ("_dbz_streamed", "_dbz_lsn", "_dbz_binlog_file", "_dbz_binlog_pos", "_dbz_binlog_row",
            "_dbz_ts_ms")
#: The operation the engine applies: ``upsert`` or ``delete``.
OP = "_dbz_op"
#: With an inner lookup (the one engine reject left): each row's bronze row and position.
BRONZE, ROW = "_dbz_bronze", "_dbz_row"
PLACEHOLDER = "__debezium_unavailable_value"
SEQUENCE_TYPES = (pa.int8(), pa.int64(), pa.string(), pa.int64(), pa.int64(), pa.int64())
_OK = "__dbz_ok"  # a field the decoder fills only for JSON objects (see marked)
_SOURCE = pa.struct([("lsn", pa.int64()), ("file", pa.string()), ("pos", pa.int64()),
                     ("row", pa.int64()), ("ts_ms", pa.int64()), ("snapshot", pa.string())])
#: ExtractNewRecordState's metadata fields (``add.fields``) read for the operation and sequence.
_META = {"__op": pa.string(), "__deleted": pa.string(), "__snapshot": pa.string(),
         "__source_snapshot": pa.string(), **{f"__{p}{n}": pa.int64() for p in ("", "source_")
                                               for n in ("lsn", "pos", "row", "ts_ms")},
         "__file": pa.string(), "__source_file": pa.string()}
_ENVELOPE_TYPES = {"source": _SOURCE, "op": pa.string(), "ts_ms": pa.int64()}
_TOMBSTONE_TEXT = r'^\s*\{\s*"schema"\s*:\s*null\s*,\s*"payload"\s*:\s*null\s*\}'
_SNAPSHOT_FLAGS = ["true", "first", "first_in_data_collection", "last_in_data_collection", "last",
                   "incremental"]

#: reason → the counter its rows land in; reasons in ``SILENT`` leave no rejected row.
REASONS = {
    "malformed_json": "malformed",          # not a JSON object
    "missing_schema": "malformed",          # no schema wrapper, and no value_schema
    "invalid_schema": "malformed",          # a schema wrapper that is no Connect struct schema
    "unknown_operation": "malformed",       # an op Debezium does not write (or none)
    "missing_after": "malformed",           # c/u/r without an ``after`` row
    "unavailable_value": "malformed",       # a TOAST placeholder ``before`` cannot fill
    "out_of_range": "malformed",            # a decimal or timestamp the column cannot hold
    "tombstone": "ignored_operations",      # a Kafka tombstone (null value)
    "message": "ignored_operations",        # op m: a logical decoding message
    "truncate_not_applied": "ignored_operations",  # op t: the table is not truncated
    "delete_without_before": "null_keys",   # d without ``before`` (REPLICA IDENTITY NOTHING)
    "null_key": "null_keys",
    "null_sequence": "null_sequences",
}
SILENT = ("tombstone", "message")


class Events:
    """One part's values decoded: what each event is, its row and its sequence."""

    def __init__(self, values: pa.Array, row: ct.Spec | None, *, keys: list[str],
                 sequence_by: list[str], carry: bool, no_schema: pa.Array | None = None,
                 invalid_schema: pa.Array | None = None, shapes: set[bool] | None = None,
                 read_schemas: bool = False) -> None:
        """``values`` (no view array) decoded with the ``row`` spec (None: no message has a
        schema). When the row comes from the messages' schemas: ``no_schema`` and
        ``invalid_schema`` mark the events without a (readable) one, and ``shapes`` says
        whether their schemas are envelopes (True) or flattened rows (False).
        ``read_schemas``: also read each event's schema text (:attr:`schema_texts`), in the
        same pass (for a row spec guessed from earlier parts)."""
        self.n = len(values)
        self.keys, self.sequence_by, self.carry = keys, sequence_by, carry
        self.values = values
        self.tombstone = values.is_null()
        self.no_schema, self.invalid_schema, self.shapes = no_schema, invalid_schema, shapes
        self.row = row if row is not None and row.type.num_fields else None
        self.read_schemas = read_schemas and (self.row is None or "schema" not in self.row.read.names)
        self.schema_texts: pa.Array | None = None
        self._decode()

    def _decode(self) -> None:
        """Decode the envelope's fields, then the flattened row's if some event is not an
        envelope: each shape's fields are decoded only for a part that has it."""
        extra: list[tuple[str, pa.DataType]] = [("schema", pa.string())] if self.read_schemas else []
        self.env: pa.StructArray | None = None
        self.wrapped_all: tuple[bool, bool] | None = None
        self.flat_dec: pa.StructArray | None = None
        if self.row is None:
            self.wrapped = self.is_env = pa.repeat(False, self.n)
            decoded = _cdc_rs.from_json(self.values, ct.ddl_fields(extra)) if extra else None
            if decoded is not None:
                self._texts(decoded)
            self.ok = self._objects(decoded)
            return
        envelope = [("before", self.row.read), ("after", self.row.read), ("source", _SOURCE),
                    ("op", pa.string()), ("ts_ms", pa.int64())]
        self.flat_types = dict((f.name, f.type) for f in self.row.read)
        self.flat_types.update((n, t) for n, t in _META.items() if n not in self.flat_types)
        flat = list(self.flat_types.items())
        if self.shapes is None or True in self.shapes:
            self.env = _cdc_rs.from_json(self.values, ct.ddl_fields(
                [*extra, ("payload", pa.struct(envelope)), *envelope]))
            self.wrapped = self.env.field("payload").is_valid()
            self._texts(self.env)
            self.is_env = _any(*(self._env(f).is_valid() for f in ("source", "before", "after")))
            rest = pc.invert(_any(self.is_env, self.tombstone))
            if (self.shapes is None and pc.any(rest).as_py()) or (self.shapes and False in self.shapes):
                self.flat_dec = _cdc_rs.from_json(self.values, ct.ddl_fields(
                    [("payload", pa.struct(flat)), *flat]))
        else:  # only flattened rows (their schemas say so)
            self.flat_dec = _cdc_rs.from_json(self.values, ct.ddl_fields(
                [*extra, ("payload", pa.struct(flat)), *flat]))
            self.wrapped = self.flat_dec.field("payload").is_valid()
            self._texts(self.flat_dec)
            self.is_env = pa.repeat(False, self.n)
        self.ok = self._objects(self.env, self.flat_dec)

    def _texts(self, decoded: pa.StructArray) -> None:
        if self.read_schemas:
            self.schema_texts = decoded.field("schema")

    def _objects(self, *decoded: pa.StructArray | None) -> pa.Array:
        """The well-formed JSON objects. The decoder fills no field of a malformed value (nor
        of one that is not an object), so an event with a field decoded is one; the others —
        none in a clean feed — are told apart by decoding them with a marker field."""
        known = pa.repeat(False, self.n)
        for fields in (d for d in decoded if d is not None):
            for i in range(fields.type.num_fields):
                if pc.all(pc.or_(known, self.tombstone)).as_py():
                    return known
                known = pc.or_(known, fields.field(i).is_valid())
        unsure = pc.invert(pc.or_(known, self.tombstone))
        if not pc.any(unsure).as_py():
            return known
        values = self.values.filter(unsure)
        objects = _cdc_rs.from_json(marked(values), ct.ddl_fields([(_OK, pa.int32())]))
        empty = pc.fill_null(pc.match_substring_regex(values, r"^\s*\{\s*\}"), False)
        return pc.replace_with_mask(known, unsure, pc.or_(objects.field(_OK).is_valid(), empty))

    def _pick(self, decoded: pa.StructArray, name: str) -> pa.Array:
        """A field of the payload (wrapped events) or of the value itself."""
        if self.wrapped_all is None:
            self.wrapped_all = (bool(pc.all(self.wrapped).as_py()),
                                not pc.any(self.wrapped).as_py())
        every, none = self.wrapped_all
        if every or none:  # one converter for the whole part: no per-row choice
            return decoded.field("payload").field(name) if every else decoded.field(name)
        return pc.if_else(self.wrapped, decoded.field("payload").field(name), decoded.field(name))

    def _env(self, name: str) -> pa.Array:
        if self.env is None:
            assert self.row is not None
            return pa.nulls(self.n, dict(_ENVELOPE_TYPES, before=self.row.read,
                                         after=self.row.read)[name])
        return self._pick(self.env, name)

    def _flat(self, name: str) -> pa.Array:
        if self.flat_dec is None:
            return pa.nulls(self.n, self.flat_types[name])
        return self._pick(self.flat_dec, name)

    def reasons(self) -> pa.Array:
        """Per event, why it goes no further (a :data:`REASONS` key), null if it is applied."""
        if self.row is None:  # no message of the part has a schema: no row to apply
            self.upsert = self.delete = pa.repeat(False, self.n)
            invalid = self.invalid_schema if self.invalid_schema is not None else pa.repeat(False, self.n)
            reasons = [(self.tombstone, "tombstone"), (pc.invert(self.ok), "malformed_json"),
                       (self._tombstone_text(), "tombstone"), (invalid, "invalid_schema"),
                       (pa.repeat(True, self.n), "missing_schema")]
            return _first(reasons, self.n)
        op = self._env("op")
        flat_op = self._flat("__op")
        deleted = pc.fill_null(pc.or_kleene(pc.equal(pc.utf8_lower(self._flat("__deleted")), "true"),
                                            pc.equal(flat_op, "d")), False)
        env, flat = self.is_env, pc.invert(self.is_env)

        def ops(codes: list[str], where: pa.Array, of: pa.Array) -> pa.Array:
            return pc.and_(where, pc.fill_null(pc.is_in(of, value_set=pa.array(codes)), False))

        flat_live = pc.and_(flat, pc.invert(deleted))
        self.upsert = _any(ops(["c", "u", "r"], env, op),
                           pc.and_(flat_live, pc.or_(flat_op.is_null(), pc.is_in(
                               flat_op, value_set=pa.array(["c", "u", "r"])))))
        self.delete = _any(ops(["d"], env, op), pc.and_(flat, deleted))
        truncate = _any(ops(["t"], env, op), ops(["t"], flat_live, flat_op))
        message = _any(ops(["m"], env, op), ops(["m"], flat_live, flat_op))
        known = _any(self.upsert, self.delete, truncate, message)
        before, after = self._env("before"), self._env("after")
        missing_after = pc.and_(pc.and_(env, self.upsert), after.is_null())
        missing_before = pc.and_(pc.and_(env, self.delete), before.is_null())
        chosen = _choose(env, lambda: _choose(self.delete, lambda: before, lambda: after),
                         self._flat_row)
        chosen, unavailable = self._fill_placeholders(chosen, before)
        self.rows, bad = ct.convert(chosen, self.row)
        self._sequence_columns(op)
        null_key = _any(*(self.rows.field(k).is_null() for k in self.keys))
        null_sequence = _any(*(_null_within(c) for c in self._sequences()))
        reasons = [
            (self.tombstone, "tombstone"),
            (pc.invert(self.ok), "malformed_json"),
            (pc.and_(flat, self._tombstone_text()), "tombstone"),
            (self.no_schema if self.no_schema is not None else pa.repeat(False, self.n),
             "missing_schema"),
            (self.invalid_schema if self.invalid_schema is not None else pa.repeat(False, self.n),
             "invalid_schema"),
            (pc.invert(known), "unknown_operation"),
            (missing_after, "missing_after"),
            (pc.and_(self.upsert, unavailable), "unavailable_value"),
            (pc.and_(self.upsert, bad if bad is not None else pa.repeat(False, self.n)),
             "out_of_range"),
            (message, "message"),
            (truncate, "truncate_not_applied"),
            (missing_before, "delete_without_before"),
            (null_key, "null_key"),
            (null_sequence, "null_sequence"),
        ]
        return _first(reasons, self.n)

    def _tombstone_text(self) -> pa.Array:
        """``{"schema": null, "payload": null}``: the JSON converter's old tombstone."""
        candidates = pc.and_(self.ok, pc.invert(self.wrapped))
        if not pc.any(candidates).as_py():
            return candidates
        return pc.and_(candidates, pc.fill_null(
            pc.match_substring_regex(self.values, _TOMBSTONE_TEXT), False))

    def _flat_row(self) -> pa.StructArray:
        assert self.row is not None
        return pa.StructArray.from_arrays([self._flat(n) for n in self.row.read.names],
                                          fields=list(self.row.read))

    def _fill_placeholders(self, rows: pa.StructArray,
                           before: pa.StructArray) -> tuple[pa.StructArray, pa.Array]:
        """Postgres TOAST placeholders of upserted rows, filled from ``before`` where it holds
        the value (REPLICA IDENTITY FULL); the rows still holding one."""
        assert self.row is not None
        columns, left = [], pa.repeat(False, self.n)
        before_valid = before.is_valid()
        for i, f in enumerate(self.row.read):
            column = rows.field(i)
            marked = _placeholder(column, f.type)
            if marked is None:
                columns.append(column)
                continue
            marked = pc.and_(marked, self.upsert)
            if not pc.any(marked).as_py():
                columns.append(column)
                continue
            old = before.field(i)
            old_marked = _placeholder(old, f.type)
            assert old_marked is not None
            fill = _all(marked, self.is_env, before_valid, old.is_valid(), pc.invert(old_marked))
            columns.append(pc.if_else(fill, old, column))
            left = pc.or_(left, pc.and_(marked, pc.invert(fill)))
        mask = rows.is_null() if rows.null_count else None
        return pa.StructArray.from_arrays(columns, fields=list(self.row.read), mask=mask), left

    def _sequence_columns(self, op: pa.Array) -> None:
        def position(source_field: str, *meta: str) -> pa.Array:
            from_env = self._env("source").field(source_field)
            found = pc.coalesce(*(_as_type(self._flat(name), from_env.type) for name in meta))
            return pc.if_else(self.is_env, from_env, found)

        lsn = position("lsn", "__lsn", "__source_lsn")
        file = position("file", "__file", "__source_file")
        pos = position("pos", "__pos", "__source_pos")
        row = position("row", "__row", "__source_row")
        ts = pc.if_else(self.is_env, pc.coalesce(self._env("ts_ms"), self._env("source").field("ts_ms")),
                        pc.coalesce(_as_type(self._flat("__ts_ms"), pa.int64()),
                                    _as_type(self._flat("__source_ts_ms"), pa.int64())))
        flat_op = self._flat("__op")
        snapshot = pc.coalesce(self._flat("__snapshot"), self._flat("__source_snapshot"))
        read = pc.if_else(self.is_env, pc.equal(op, "r"),
                          pc.if_else(flat_op.is_valid(), pc.equal(flat_op, "r"),
                                     pc.is_in(snapshot, value_set=pa.array(_SNAPSHOT_FLAGS))))
        has_lsn = lsn.is_valid()
        has_file = pc.and_(pc.invert(has_lsn), file.is_valid())
        neither = pc.invert(pc.or_(has_lsn, has_file))
        zero = pa.scalar(0, pa.int64())
        self.seq = [
            pc.if_else(pc.fill_null(read, False), pa.scalar(0, pa.int8()), pa.scalar(1, pa.int8())),
            pc.if_else(has_lsn, lsn, zero),
            pc.if_else(has_file, file, pa.scalar("", pa.string())),
            pc.if_else(has_file, pos, zero),
            pc.if_else(has_file, pc.coalesce(row, zero), zero),
            pc.if_else(neither, ts, zero),
        ]

    def _sequences(self) -> list[pa.Array]:
        return [self.seq[SEQUENCE.index(n)] if n in SEQUENCE else self.rows.field(n)
                for n in self.sequence_by]

    def flat(self, applied: pa.Array, bronze: pa.RecordBatch, position: pa.Array) -> pa.RecordBatch:
        """The applied events as the engine's rows (see :meth:`Normaliser.flat_schema`)."""
        if self.row is None:  # nothing applied; the columns of Normaliser.flat_schema
            missing = list(dict.fromkeys([*self.keys, *(s for s in self.sequence_by if s not in SEQUENCE)]))
            arrays = [pa.array([], pa.string()), *(pa.array([], t) for t in SEQUENCE_TYPES)]
            arrays += [pa.nulls(0) for _ in missing]
            names = [OP, *SEQUENCE, *missing]
            if self.carry:
                arrays += [pa.array([], pa.struct(list(bronze.schema))), pa.array([], pa.int64())]
                names += [BRONZE, ROW]
            return pa.RecordBatch.from_arrays(arrays, names=names)
        rows = self.rows.filter(applied)
        arrays = [rows.field(i) for i in range(rows.type.num_fields)]
        names = list(rows.type.names)
        op = pc.if_else(self.delete, pa.scalar("delete"), pa.scalar("upsert")).filter(applied)
        arrays += [op, *(s.filter(applied) for s in self.seq)]
        names += [OP, *SEQUENCE]
        if self.carry:
            arrays += [pa.StructArray.from_arrays(bronze.columns, fields=list(bronze.schema))
                       .filter(applied), position.filter(applied)]
            names += [BRONZE, ROW]
        return pa.RecordBatch.from_arrays(arrays, names=names)


# --------------------------------------------------------------------------- helpers


def is_view(t: pa.DataType) -> bool:
    return bool(pa.types.is_string_view(t) or pa.types.is_binary_view(t))


def unviewed(values: pa.Array) -> pa.Array:
    """View arrays as large ones: Arrow's regex kernels take no views."""
    if pa.types.is_string_view(values.type):
        return values.cast(pa.large_string())
    if pa.types.is_binary_view(values.type):
        return values.cast(pa.large_binary())
    return values


def marked(values: pa.Array) -> pa.Array:
    """Each value with a first field ``__dbz_ok`` when it starts as a JSON object: the decoder
    fills it only for a well-formed object, which ``from_json`` alone does not tell."""
    return pc.replace_substring_regex(unviewed(values), r"^\s*\{", '{"' + _OK + '":1,',
                                      max_replacements=1)


def _any(*masks: pa.Array) -> pa.Array:
    out = masks[0]
    for m in masks[1:]:
        out = pc.or_(out, m)
    return pc.fill_null(out, False)


def _all(*masks: pa.Array) -> pa.Array:
    out = masks[0]
    for m in masks[1:]:
        out = pc.and_(out, m)
    return pc.fill_null(out, False)


def _choose(mask: pa.Array, yes: Callable[[], pa.Array], no: Callable[[], pa.Array]) -> pa.Array:
    """``if_else(mask, yes(), no())``, computing (and copying) one side only when the mask
    holds everywhere or nowhere."""
    if pc.all(mask).as_py():
        return yes()
    if not pc.any(mask).as_py():
        return no()
    return pc.if_else(mask, yes(), no())


def _first(cases: list[tuple[pa.Array, str]], n: int) -> pa.Array:
    """Per row, the reason of the first case whose mask holds (null: none)."""
    if not cases:
        return pa.nulls(n, pa.string())
    conditions = pc.make_struct(*(pc.fill_null(m, False) for m, _ in cases),
                                field_names=[str(i) for i in range(len(cases))])
    return pc.case_when(conditions, *(pa.scalar(r) for _, r in cases), pa.scalar(None, pa.string()))


def _null_within(column: pa.Array) -> pa.Array:
    """Null, or null in any field of a struct at any depth (the engine's null sequence)."""
    out = column.is_null()
    if pa.types.is_struct(column.type):
        for i in range(column.type.num_fields):
            out = pc.or_(out, _null_within(column.field(i)))
    return out


def _as_type(column: pa.Array, t: pa.DataType) -> pa.Array:
    """A metadata field as ``t`` (integers given as text included); unreadable → null."""
    if column.type == t:
        return column
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), t)
    if pa.types.is_integer(t) and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        digits = pc.match_substring_regex(column, r"^-?[0-9]{1,18}$")
        return pc.if_else(digits, column, pa.scalar(None, column.type)).cast(t)
    try:
        return column.cast(t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(column), t)


def _placeholder(column: pa.Array, t: pa.DataType) -> pa.Array | None:
    """Values that are Debezium's placeholder for an unavailable (TOAST) value; None for a type
    that cannot hold it."""
    if pa.types.is_string(t) or pa.types.is_binary(t):
        text = pa.scalar(PLACEHOLDER if pa.types.is_string(t) else PLACEHOLDER.encode(), t)
        return pc.fill_null(pc.equal(column, text), False)
    if (pa.types.is_list(t) and (pa.types.is_string(t.value_type) or pa.types.is_binary(t.value_type))):
        first = _placeholder(pc.list_element(pc.if_else(pc.greater(pc.list_value_length(column), 0),
                                                        column, pa.scalar(None, t)), 0), t.value_type)
        return first
    return None
