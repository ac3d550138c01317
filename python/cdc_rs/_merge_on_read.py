"""Merge-on-read batches of a :class:`~cdc_rs.DeltaTarget` (Delta deletion vectors).

A batch writes its upserted rows as new files and marks the rows they replace, and the rows
it deletes, in the deletion vectors of the files holding them; no file is rewritten. Its cost
follows the batch, not the table.

Only the key index lives in memory (an index-only ``TableCore``): each live key holds a row
*position*, and positions number the rows of the live files one after another
(:class:`FileIndex`), each new file taking the next free ones. A position therefore names a
file and a row in it, which is all a deletion vector needs.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote, unquote

import numpy as np
import pyarrow as pa

from . import _delta_layout as layout
from ._delta_log import Action, remove_of
from ._deletion_vectors import deleted_positions, write_vectors
from ._store import Store
from .exceptions import DeltaTargetError

_WORKERS = layout._WORKERS


@dataclass
class LiveFile:
    """One live data file: its ``add`` action as logged, and its first row position."""

    add: Action
    start: int
    rows: int  # physical rows (``stats.numRecords``), deleted ones included
    deleted: np.ndarray | None = field(default=None, repr=False)  # loaded on first use
    removed: bool = False  # every row deleted: the file left the table (its positions stay)

    @property
    def path(self) -> str:
        return unquote(self.add["path"])


@dataclass
class FileIndex:
    """The live files in row-position order, and the next free position."""

    store: Store
    files: list[LiveFile]  # by first position, removed ones included
    next_row: int

    @classmethod
    def of(cls, store: Store, adds: list[Action]) -> FileIndex:
        adds = sorted(adds, key=lambda a: a["path"])
        index = cls(store, [], 0)
        with ThreadPoolExecutor(_WORKERS) as pool:
            counts = index._reading(lambda: pool.map(lambda a: _num_records(store, a), adds))
        files: list[LiveFile] = []
        start = 0
        for add, rows in zip(adds, counts):
            files.append(LiveFile(add, start, rows))
            start += rows
        return cls(store, files, start)

    def live(self) -> list[LiveFile]:
        return [f for f in self.files if not f.removed]

    def deleted(self, file: LiveFile) -> np.ndarray:
        if file.deleted is None:
            file.deleted = deleted_positions(self.store, file.add.get("deletionVector"))
        return file.deleted

    def deleted_positions(self) -> np.ndarray:
        """The positions of the deleted rows of every live file (uint32), vectors read."""
        def of(file: LiveFile) -> np.ndarray:
            return self.deleted(file).astype(np.int64) + file.start

        with ThreadPoolExecutor(_WORKERS) as pool:
            parts = self._reading(lambda: pool.map(of, self.live()))
        return np.concatenate([np.zeros(0, np.int64), *parts]).astype(np.uint32)

    def check_present(self) -> None:
        """A DeltaTargetError unless every live file is in the store (one listing per
        folder): a table opened from its bookkeeping alone reads no data file."""
        by_folder: dict[str, set[str]] = {}
        for file in self.live():
            folder, _, name = file.path.rpartition("/")
            by_folder.setdefault(folder, set()).add(name)
        for folder, names in by_folder.items():
            missing = names - {e.name for e in self.store.files(folder)}
            if missing:
                where = f"{folder}/{min(missing)}" if folder else min(missing)
                raise _unreadable(self.store, f"{where} is missing")

    def locate(self, positions: np.ndarray) -> dict[int, np.ndarray]:
        """Row positions grouped by the index of the file holding them, as rows of it."""
        if len(positions) == 0:
            return {}
        starts = np.array([f.start for f in self.files], np.int64)
        positions = np.sort(positions.astype(np.int64))
        which = np.searchsorted(starts, positions, side="right") - 1
        out = {}
        for i in np.unique(which).tolist():
            file = self.files[i]
            rows = positions[which == i] - file.start
            if i < 0 or file.removed or rows.max() >= file.rows:
                raise ValueError(f"row positions {positions[which == i][:5]} are in no live file")
            out[i] = rows.astype(np.uint64)
        return out

    def live_keys(self, keys: list[str], schema: pa.Schema) -> tuple[pa.Table, np.ndarray]:
        """The key columns of every live row, and each row's position."""
        def read(file: LiveFile) -> tuple[pa.Table, np.ndarray]:
            table = _read_columns(self.store, file, keys, schema)
            keep = np.ones(file.rows, dtype=bool)
            keep[self.deleted(file).astype(np.int64)] = False
            at = np.flatnonzero(keep)
            return table.take(pa.array(at)), at + file.start

        live = self.live()
        if not live:
            return schema.empty_table().select(keys), np.zeros(0, np.int64)
        with ThreadPoolExecutor(_WORKERS) as pool:
            parts = self._reading(lambda: pool.map(read, live))
        return pa.concat_tables([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def read_rows(self, schema: pa.Schema) -> pa.Table:
        """Every live row of the table (deleted rows left out), file by file."""
        def read(file: LiveFile) -> pa.Table:
            table = _read_columns(self.store, file, schema.names, schema)
            deleted = self.deleted(file)
            if len(deleted) == 0:
                return table
            keep = np.ones(file.rows, dtype=bool)
            keep[deleted.astype(np.int64)] = False
            return table.filter(pa.array(keep))

        live = self.live()
        if not live:
            return schema.empty_table()
        with ThreadPoolExecutor(_WORKERS) as pool:
            return pa.concat_tables(list(self._reading(lambda: pool.map(read, live))))

    def _reading(self, read: Any) -> list[Any]:
        """``read()``'s results, a missing or damaged data file a DeltaTargetError."""
        try:
            return list(read())
        except (OSError, pa.ArrowInvalid) as exc:
            raise _unreadable(self.store, exc) from exc


def _unreadable(store: Store, why: object) -> DeltaTargetError:
    return DeltaTargetError(f"{store}: the table's data files cannot be read ({why}); restore "
                            "the missing or damaged file, or the table to a version whose "
                            "files exist")


def _num_records(store: Store, add: Action) -> int:
    stats = add.get("stats")
    if stats:
        rows = json.loads(stats).get("numRecords")
        if rows is not None:
            return int(rows)
    return store.parquet_rows(unquote(add["path"]))


def _read_columns(store: Store, file: LiveFile, names: list[str], schema: pa.Schema) -> pa.Table:
    """``names`` of one file in ``schema``'s types; partition columns from the log's values."""
    partition = file.add.get("partitionValues") or {}
    stored = [n for n in names if n not in partition]
    table = store.read_parquet(file.path, columns=stored)
    columns = []
    for name in names:
        f = schema.field(name)
        if name in partition:
            value = pa.scalar(partition[name]).cast(f.type) if partition[name] is not None \
                else pa.scalar(None, f.type)
            columns.append(pa.array([value.as_py()] * file.rows, f.type))
        else:
            columns.append(table.column(name).cast(f.type))
    return pa.Table.from_arrays(columns, schema=pa.schema([schema.field(n) for n in names]))


@dataclass
class BatchFiles:
    """What one merge-on-read batch wrote, before its commit: the commit's file actions, the
    row position of each upserted row (for the index), and how the file index changes."""

    actions: list[Action]
    placed: pa.Array  # uint32, one per upserted row
    new_files: list[LiveFile]
    deleted: dict[int, np.ndarray | None]  # file index -> its new deleted rows (None: removed)
    rows_written: int

    def apply_to(self, index: FileIndex) -> None:
        """The file index after the commit landed."""
        for i, deleted in self.deleted.items():
            file = index.files[i]
            if deleted is None:
                file.removed = True
            else:
                file.deleted = deleted
                file.add = next(a["add"] for a in self.actions
                                if "add" in a and a["add"]["path"] == file.add["path"])
        index.files.extend(self.new_files)
        if self.new_files:
            last = self.new_files[-1]
            index.next_row = last.start + last.rows


def write_batch(index: FileIndex, upserts: pa.Table | None, replaced: np.ndarray,
                keys: list[str], partition_by: list[str],
                alongside: Callable[[list[LiveFile], np.ndarray], None] | None = None
                ) -> BatchFiles:
    """Writes a batch's new files and deletion vectors (nothing is committed yet). The new
    files are encoded on a thread while the vectors are merged and written, and
    ``alongside(new files, each upserted row's position)`` runs on another (the batch's
    bookkeeping); it is done when this returns."""
    now = int(time.time() * 1000)
    actions: list[Action] = []
    deleted: dict[int, np.ndarray | None] = {}
    changed: list[tuple[int, np.ndarray]] = []
    new_files: list[LiveFile] = []
    placed = np.zeros(0, np.uint32)
    with ThreadPoolExecutor(2) as pool:
        files, beside = None, None
        if upserts is not None and upserts.num_rows:
            order, spans = layout.file_groups(upserts, keys, 1, partition_by)
            grouped = upserts if len(spans) == 1 else upserts.take(pa.array(order))
            paths = layout.group_paths(grouped, keys, 1, partition_by, spans)
            files = pool.submit(layout.write_groups, index.store, grouped, keys, 1,
                                partition_by, spans, paths=paths)
            placed = np.empty(len(order), np.uint32)
            placed[order] = index.next_row + np.arange(len(order), dtype=np.uint32)
            planned = [LiveFile({"path": quote(path, safe="/=")}, index.next_row + lo, hi - lo)
                       for (path, _), (lo, hi) in zip(paths, spans)]
            if alongside is not None:
                beside = pool.submit(alongside, planned, placed)
        elif alongside is not None:
            beside = pool.submit(alongside, [], placed)
        for i, rows in index.locate(replaced).items():
            file = index.files[i]
            merged = _union_sorted(index.deleted(file), rows)
            actions.append(remove_of(file.add, now))
            if len(merged) >= file.rows:
                deleted[i] = None  # nothing left in it: the file goes
            else:
                changed.append((i, merged))
        for (i, merged), vector in zip(changed, write_vectors(index.store,
                                                              [m for _, m in changed])):
            file = index.files[i]
            actions.append({"add": _with_vector(file.add, vector)})
            deleted[i] = merged
        if beside is not None:
            beside.result()
        if files is not None:
            for w, (lo, hi) in zip(files.result(), spans):
                add = w.add_action()
                actions.append({"add": add})
                new_files.append(LiveFile(add, index.next_row + lo, hi - lo,
                                          np.zeros(0, np.uint64)))
    written_rows = 0 if upserts is None else upserts.num_rows
    return BatchFiles(actions, pa.array(placed, pa.uint32()), new_files, deleted, written_rows)


def _union_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted distinct values of two sorted uint64 arrays (``np.union1d`` hashes, and
    is ~30x slower on the deleted rows of a file; a stable sort merges the two runs)."""
    out = np.concatenate([a, b])
    if len(out) == 0:
        return out
    out.sort(kind="stable")  # timsort: two sorted runs merge in linear time
    keep = np.empty(len(out), dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out if keep.all() else out[keep]


def _with_vector(add: Action, vector: dict[str, Any]) -> Action:
    """``add`` with a new deletion vector. Its column bounds may now be wider than its live
    rows', which the stats must say (``tightBounds``)."""
    out = dict(add, deletionVector=vector, dataChange=True)
    if add.get("stats"):
        stats = json.loads(add["stats"])
        stats["tightBounds"] = False
        out["stats"] = json.dumps(stats)
    return out


@dataclass
class Compaction:
    """A compaction written but not committed: the live rows of ``removed`` files rewritten
    into ``new_files``, each row moving from position ``old`` to ``new``."""

    actions: list[Action]
    removed: list[int]
    new_files: list[LiveFile]
    old: pa.Array  # uint32
    new: pa.Array  # uint32
    rows: int

    def apply_to(self, index: FileIndex) -> None:
        for i in self.removed:
            index.files[i].removed = True
        index.files.extend(self.new_files)
        if self.new_files:
            index.next_row = self.new_files[-1].start + self.new_files[-1].rows


def files_to_compact(index: FileIndex, min_deleted_fraction: float, small_rows: int) -> list[int]:
    """The live files worth rewriting: those with at least ``min_deleted_fraction`` of their
    rows deleted, and the small ones when there are several to join."""
    sparse, small = [], []
    for i, file in enumerate(index.files):
        if file.removed:
            continue
        if file.rows and len(index.deleted(file)) / file.rows >= min_deleted_fraction:
            sparse.append(i)
        elif file.rows < small_rows:
            small.append(i)
    return sorted(sparse + (small if len(small) > 1 else []))


def compact(index: FileIndex, chosen: list[int], schema: pa.Schema, keys: list[str],
            partition_by: list[str], max_file_rows: int) -> Compaction:
    """Writes the live rows of the ``chosen`` files into new files without deletion
    vectors, one per partition and at most ``max_file_rows`` each (nothing is committed)."""
    def read(i: int) -> tuple[pa.Table, np.ndarray]:
        file = index.files[i]
        table = _read_columns(index.store, file, schema.names, schema)
        keep = np.ones(file.rows, dtype=bool)
        keep[index.deleted(file).astype(np.int64)] = False
        at = np.flatnonzero(keep)
        return table.take(pa.array(at)), at + file.start

    with ThreadPoolExecutor(_WORKERS) as pool:
        parts = index._reading(lambda: pool.map(read, chosen))
    rows = pa.concat_tables([p[0] for p in parts]) if parts else schema.empty_table()
    old = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    now = int(time.time() * 1000)
    actions = [remove_of(index.files[i].add, now, data_change=False) for i in chosen]
    order, spans = layout.file_groups(rows, keys, 1, partition_by)
    spans = [(lo, min(lo + max_file_rows, hi)) for lo, hi in spans
             for lo in range(lo, hi, max_file_rows)]
    written = layout.write_groups(index.store, rows.take(pa.array(order)), keys, 1,
                                  partition_by, spans)
    new = np.empty(len(order), np.int64)
    new[order] = index.next_row + np.arange(len(order))
    new_files = []
    for w, (lo, hi) in zip(written, spans):
        add = dict(w.add_action(), dataChange=False)
        actions.append({"add": add})
        new_files.append(LiveFile(add, index.next_row + lo, hi - lo, np.zeros(0, np.uint64)))
    return Compaction(actions, chosen, new_files, pa.array(old, pa.uint32()),
                      pa.array(new, pa.uint32()), rows.num_rows)


def rows_at(index: FileIndex, positions: np.ndarray, schema: pa.Schema) -> pa.Table:
    """The rows stored at ``positions`` (live or just replaced), in any order."""
    def read(item: tuple[int, np.ndarray]) -> pa.Table:
        i, rows = item
        table = _read_columns(index.store, index.files[i], schema.names, schema)
        return table.take(pa.array(rows.astype(np.int64)))

    located = list(index.locate(positions).items())
    if not located:
        return schema.empty_table()
    with ThreadPoolExecutor(_WORKERS) as pool:
        return pa.concat_tables(index._reading(lambda: pool.map(read, located)))


def write_change_data(index: FileIndex, schema: pa.Schema, upserts: pa.Table | None,
                      upserted_from: np.ndarray, deleted: np.ndarray,
                      partition_by: list[str]) -> list[Action]:
    """The batch's change data feed, as ``_change_data/`` files and their ``cdc`` actions.

    ``upserted_from[i]`` is the position of the row upsert ``i`` replaces (-1: an insert);
    ``deleted`` the positions of the rows the batch deletes. Each row carries
    ``_change_type``: ``insert``, ``update_preimage`` / ``update_postimage``, ``delete``.
    """
    parts = []
    kind = pa.field("_change_type", pa.string())

    def tagged(rows: pa.Table, change: str) -> None:
        if rows.num_rows:
            parts.append(rows.select(schema.names).cast(schema)
                         .append_column(kind, pa.array([change] * rows.num_rows, pa.string())))

    if upserts is not None and upserts.num_rows:
        updated = upserted_from >= 0
        tagged(upserts.filter(pa.array(~updated)), "insert")
        tagged(rows_at(index, upserted_from[updated], schema), "update_preimage")
        tagged(upserts.filter(pa.array(updated)), "update_postimage")
    tagged(rows_at(index, deleted, schema), "delete")
    if not parts:
        return []
    changes = pa.concat_tables(parts)
    order, spans = layout.file_groups(changes, [], 1, partition_by)
    written = layout.write_groups(index.store, changes.take(pa.array(order)), [], 1,
                                  partition_by, spans, folder="_change_data")
    return [{"cdc": {"path": "_change_data/" + w.add_action()["path"],
                     "partitionValues": w.partition, "size": w.size, "dataChange": False}}
            for w in written]
