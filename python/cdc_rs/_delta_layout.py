"""The key-bucketed file layout of a :class:`~cdc_rs.DeltaTarget`.

Delta files are copy-on-write: changing one row rewrites its whole file. So every data file
we write holds the keys of one *bucket* — ``key_hash(key) mod buckets`` — and a batch
rewrites only the files of the buckets its keys hash to, whatever the table's size. The
bucket and the bucket count are in the file name (``cdc-h1-b00012-of-00064-<uuid>.parquet``);
a file without such a name (written by another tool, or by ``OPTIMIZE``) or of another bucket
count has no known bucket, and the next batch rewrites the whole table into buckets once.
The bucket count doubles when the average bucket grows past ``target_file_rows``.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from . import _cdc_rs
from ._store import Store

LAYOUT = "h1"  # the hash version of src/bucket.rs; files of another version are re-bucketed
_NAME = re.compile(r"^cdc-(h\d+)-b(\d+)-of-(\d+)-[0-9a-f]{32}\.parquet$")
_WORKERS = min(8, os.cpu_count() or 1)
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class DataFile:
    """One live data file of the table (an ``add`` action)."""

    path: str  # relative to the table root, URL-encoded as in the Delta log
    size: int
    partition: dict[str, Any]  # typed partition values
    bucket: int | None  # None: not of our layout
    buckets: int | None


@dataclass
class Rewrite:
    """What one batch commits: the files it replaces and the rows of their replacements."""

    removed: list[DataFile]
    rows: pa.Table  # the kept rows of ``removed`` followed by the batch's upserts
    buckets: int
    copied: int  # rows of ``removed`` written again unchanged


def bucket_count(rows: int, target_file_rows: int) -> int:
    """The power of two that keeps the average bucket at or under ``target_file_rows``."""
    need = max(1, -(-rows // max(1, target_file_rows)))
    return 1 << (need - 1).bit_length()


def live_files(dt: Any) -> list[DataFile]:
    actions = pa.table(dt.get_add_actions(flatten=False)).to_pylist()
    files = []
    for a in actions:
        m = _NAME.match(a["path"].rsplit("/", 1)[-1])
        bucket: int | None = None
        buckets: int | None = None
        if m is not None and m[1] == LAYOUT:
            bucket, buckets = int(m[2]), int(m[3])
        files.append(DataFile(a["path"], a["size_bytes"], a.get("partition") or {}, bucket, buckets))
    return files


def plan_rewrite(store: Store, files: list[DataFile], upserts: pa.Table | None,
                 deletes: pa.Table | None, keys: list[str], schema: pa.Schema,
                 rows_after: int, target_file_rows: int) -> Rewrite:
    """The files a batch must rewrite, and the rows that replace them (``upserts`` are
    already in ``schema``)."""
    if upserts is None:
        upserts = schema.empty_table()
    changed = pa.concat_tables([upserts.select(keys)] + (
        [deletes.select(keys).cast(upserts.select(keys).schema)] if deletes is not None else []))
    counts = {f.buckets for f in files}
    current = counts.pop() if len(counts) == 1 and None not in counts else None
    wanted = bucket_count(rows_after, target_file_rows)
    if current is None or wanted > current or any(f.bucket is None for f in files):
        buckets, removed = max(wanted, current or 1), list(files)  # (re)bucket every file
    else:
        buckets = current
        touched = set(np.unique(bucket_of(changed, keys, buckets)).tolist())
        removed = [f for f in files if f.bucket in touched]
    old = read_files(store, removed, schema)
    if old.num_rows and changed.num_rows:  # joined on the keys alone: payloads may be nested
        index = old.select(keys).append_column("__row", pa.array(np.arange(old.num_rows)))
        keep = index.join(changed, keys=keys, join_type="left anti", use_threads=True)
        old = old.take(np.sort(keep.column("__row").to_numpy()))
    return Rewrite(removed, pa.concat_tables([old, upserts]), buckets, old.num_rows)


def bucket_of(table: pa.Table, keys: list[str], buckets: int) -> np.ndarray:
    if table.num_rows == 0 or buckets == 1:
        return np.zeros(table.num_rows, dtype=np.int64)
    hashes = pa.array(_cdc_rs.key_hashes(table.select(keys))).to_numpy()
    bucket: np.ndarray = (hashes & np.uint64(buckets - 1)).astype(np.int64)
    return bucket


def read_files(store: Store, files: list[DataFile], schema: pa.Schema) -> pa.Table:
    if not files:
        return schema.empty_table()
    with ThreadPoolExecutor(_WORKERS) as pool:
        parts = list(pool.map(lambda f: _read_one(store, f, schema), files))
    return pa.concat_tables(parts)


def _read_one(store: Store, file: DataFile, schema: pa.Schema) -> pa.Table:
    stored = [f.name for f in schema if f.name not in file.partition]
    table = store.read_parquet(unquote(file.path), columns=stored)
    columns = []
    for field in schema:
        if field.name in file.partition:
            columns.append(pa.array([file.partition[field.name]] * table.num_rows, field.type))
        else:
            columns.append(table.column(field.name).cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass(frozen=True)
class Written:
    """One data file just written: the fields of its Delta ``add`` action."""

    path: str  # relative to the table root, as on disk (not yet URL-encoded)
    size: int
    partition: dict[str, str | None]  # as the log spells partition values
    modification_time: int
    stats: str

    def add_action(self) -> dict[str, Any]:
        """The ``add`` action as the Delta log holds it (its path URL-encoded)."""
        return {"path": quote(self.path, safe="/="), "partitionValues": self.partition,
                "size": self.size, "modificationTime": self.modification_time,
                "dataChange": True, "stats": self.stats}


def file_groups(rows: pa.Table, keys: list[str], buckets: int,
                partition_by: list[str]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """How ``rows`` split into files, one per (bucket, partition): the row order that puts
    each file's rows together, and each file's span in that order."""
    if rows.num_rows == 0:
        return np.zeros(0, dtype=np.int64), []
    group = bucket_of(rows, keys, buckets)
    if partition_by:  # one group id per (bucket, partition values)
        codes = [pc.fill_null(pc.dictionary_encode(rows.column(p)).combine_chunks().indices, -1)
                 .to_numpy() for p in partition_by]
        _, parts = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
        group = group * (int(parts.max()) + 1) + parts.reshape(-1)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.diff(group[order], prepend=-1))
    ends = np.append(starts[1:], len(order))
    return order, list(zip(starts.tolist(), ends.tolist()))


def group_paths(rows: pa.Table, keys: list[str], buckets: int, partition_by: list[str],
                spans: list[tuple[int, int]]) -> list[tuple[str, dict[str, str | None]]]:
    """A new file's path (relative to its folder) for each span of ``rows`` (grouped by
    ``file_groups``), with its partition values as the log spells them."""
    out = []
    for lo, _ in spans:
        first = rows.slice(lo, 1)
        texts = {p: partition_text(first.column(p)[0].as_py()) for p in partition_by}
        bucket = int(bucket_of(first, keys, buckets)[0])
        name = f"cdc-{LAYOUT}-b{bucket:05d}-of-{buckets:05d}-{uuid.uuid4().hex}.parquet"
        # Hive-style folders as delta-rs writes them: some readers take the values from them.
        out.append(("/".join([*(f"{p}={_HIVE_NULL if t is None else quote(t, safe='')}"
                                for p, t in texts.items()), name]), texts))
    return out


def write_groups(store: Store, rows: pa.Table, keys: list[str], buckets: int,
                 partition_by: list[str], spans: list[tuple[int, int]],
                 folder: str = "",
                 paths: list[tuple[str, dict[str, str | None]]] | None = None) -> list[Written]:
    """Each span of ``rows`` (grouped by ``file_groups``) written as one Parquet file, in
    ``folder`` of the table (paths in the result are relative to that folder), at
    ``paths`` if given (``group_paths``)."""
    stored = [n for n in rows.column_names if n not in partition_by]
    now = int(time.time() * 1000)
    rows = rows.combine_chunks()  # each file is a slice
    if paths is None:
        paths = group_paths(rows, keys, buckets, partition_by, spans)

    def write(item: tuple[tuple[int, int], tuple[str, dict[str, str | None]]]) -> Written:
        (lo, hi), (on_disk, texts) = item
        data = rows.slice(lo, hi - lo).select(stored)
        footer: list[Any] = []
        size = store.write_parquet(f"{folder}/{on_disk}" if folder else on_disk, data,
                                   use_dictionary=dictionary_columns(data),
                                   metadata_collector=footer)
        return Written(on_disk, size, texts, now, file_stats(data, footer[0] if footer else None))

    items = list(zip(spans, paths))
    if len(items) == 1:  # one file: no pool
        return [write(items[0])]
    with ThreadPoolExecutor(_WORKERS) as pool:
        return list(pool.map(write, items))


def write_files(store: Store, rows: pa.Table, keys: list[str], buckets: int,
                partition_by: list[str]) -> list[Any]:
    """``rows`` written as one file per (bucket, partition), as Delta ``AddAction``s."""
    from deltalake.transaction import AddAction

    order, spans = file_groups(rows, keys, buckets, partition_by)
    written = write_groups(store, rows.take(pa.array(order)), keys, buckets, partition_by, spans)
    # delta-rs URL-encodes the path it is given into the log
    return [AddAction(w.path, w.size, w.partition, w.modification_time, True, w.stats)
            for w in written]


def remove_actions(files: list[DataFile]) -> list[Any]:
    from deltalake.transaction import RemoveAction

    now = int(time.time() * 1000)
    # ``path`` is the log's URL-encoded form; delta-rs encodes what it is given once more
    return [RemoveAction(unquote(f.path), True, now, f.size) for f in files]


_PARTITION_TYPES = (pa.types.is_integer, pa.types.is_string, pa.types.is_large_string,
                    pa.types.is_date32, pa.types.is_boolean)


def partition_type_supported(t: pa.DataType) -> bool:
    return any(check(t) for check in _PARTITION_TYPES)


def blank_partitions_to_null(rows: pa.Table, partition_by: list[str],
                             keys: list[str]) -> pa.Table:
    """``""`` in a partition column as null: Delta stores an empty partition value as null.

    In a key column that would merge two keys, so it is refused instead (``ValueError``).
    """
    for name in partition_by:
        column = rows.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        blank = pc.fill_null(pc.equal(column, ""), False)
        if not pc.any(blank).as_py():
            continue
        if name in keys:
            raise ValueError(f"key column {name!r} is a partition column and holds an empty "
                             "string, which Delta stores as null (another key)")
        rows = rows.set_column(rows.schema.get_field_index(name), rows.schema.field(name),
                               pc.if_else(blank, pa.scalar(None, column.type), column))
    return rows


def partition_text(value: Any) -> str | None:
    """A partition value as the Delta log writes it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):  # only dates: other types are refused up front
        return value.isoformat()
    return str(value)


_DICTIONARY_SAMPLE = 1024


def dictionary_columns(data: pa.Table) -> list[str]:
    """The columns worth Parquet dictionary encoding: those repeating values in a sample of
    the first rows (at most half distinct). A column of (nearly) distinct values, such as a
    key, an email or a timestamp, would only build a dictionary as large as itself: writing
    it plain encodes faster and smaller. Nested columns are written plain. Every Parquet
    reader reads both encodings, in any mix."""
    sample = data.slice(0, _DICTIONARY_SAMPLE)
    chosen = []
    for name, column in zip(sample.column_names, sample.columns):
        if pa.types.is_dictionary(column.type):  # already one: its values repeat
            chosen.append(name)
            continue
        if pa.types.is_nested(column.type) or pa.types.is_boolean(column.type):
            continue
        try:
            distinct = pc.count_distinct(column, mode="all").as_py()
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            continue  # a type count_distinct does not take: written plain, which always works
        if 2 * distinct <= len(column):
            chosen.append(name)
    return chosen


def file_stats(data: pa.Table, footer: Any = None) -> str:
    """Delta ``add.stats``: row and null counts, min/max where the JSON form is exact.

    ``footer``: the ``FileMetaData`` of ``data`` just written as Parquet; the min/max its
    writer already computed are taken from it (the same values: Parquet orders strings by
    their bytes, as Arrow does) when the file is one row group of flat columns."""
    written = _footer_min_max(data, footer)
    mins, maxs, nulls = {}, {}, {}
    for name, column in zip(data.column_names, data.columns):
        t = column.type
        if pa.types.is_nested(t):
            continue
        nulls[name] = column.null_count
        if column.null_count == len(column):
            continue
        if pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
            lo, hi = written[name] if name in written else \
                (v.as_py() for v in pc.min_max(column).values())
            mins[name], maxs[name] = lo, hi
        elif pa.types.is_date32(t):
            lo, hi = written[name] if name in written else \
                (v.as_py() for v in pc.min_max(column).values())
            mins[name], maxs[name] = lo.isoformat(), hi.isoformat()
    return json.dumps({"numRecords": data.num_rows, "minValues": mins, "maxValues": maxs,
                       "nullCount": nulls})


def _footer_min_max(data: pa.Table, footer: Any) -> dict[str, tuple[Any, Any]]:
    """Each flat column's (min, max) as a Parquet footer holds them (none it left out, e.g.
    a value longer than the writer's statistics limit)."""
    if footer is None or footer.num_row_groups != 1 or footer.num_columns != data.num_columns \
            or any(pa.types.is_nested(t) for t in data.schema.types):
        return {}
    group = footer.row_group(0)
    out = {}
    for i, name in enumerate(data.column_names):
        chunk = group.column(i)
        stats = chunk.statistics
        if chunk.path_in_schema == name and stats is not None and stats.has_min_max:
            out[name] = (stats.min, stats.max)
    return out


def delta_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with the types a Delta table stores (µs timestamps in UTC, signed ints…),
    exactly as the table reports them back: keys hash alike in every batch."""
    from deltalake import Schema as DeltaSchema

    plain = pa.schema([pa.field(f.name, _delta_type(f.type), f.nullable) for f in schema])
    return pa.schema(DeltaSchema.from_arrow(plain).to_arrow())


def _delta_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", "UTC" if t.tz else None)
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t) or pa.types.is_fixed_size_binary(t):
        return pa.binary()
    if pa.types.is_unsigned_integer(t):
        return {8: pa.int16(), 16: pa.int32(), 32: pa.int64(), 64: pa.int64()}[t.bit_width]
    if pa.types.is_time(t) or pa.types.is_duration(t):
        return pa.int64()
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _delta_type(f.type), f.nullable) for f in t])
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(pa.field("element", _delta_type(t.value_type), True))
    if pa.types.is_map(t):
        return pa.map_(_delta_type(t.key_type), _delta_type(t.item_type))
    if pa.types.is_dictionary(t):
        return _delta_type(t.value_type)
    return t
