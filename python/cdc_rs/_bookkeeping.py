"""The per-key bookkeeping of one app's batches, kept beside a Delta table.

The engine needs each key's last sequence and the tombstones of deleted keys; Delta
readers must not see them, so they live in ``<table>/_cdc_rs/<app_id>/`` (Delta readers and
``VACUUM`` ignore folders starting with ``_``):

* ``changes-<batch id>-<attempt>.parquet``: the key-state changes of one batch, written
  *before* its Delta commit. A file above the table's recorded ``txn`` version belongs to a
  batch that never committed and is ignored; of several attempts at one batch id, the Delta
  commit names the one that won.
* ``snapshot-<batch id>.parquet``: every key's state, folding the change files up to it.
* ``moved-<table version>.parquet`` (merge-on-read): where a compaction moved rows.
* ``pretable.json``: the last batch of a table not created yet (tombstones only so far).

Merge-on-read tables also record the *place* of each live key's row (see ``_locations``).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from . import _faults
from ._delta_layout import _WORKERS, dictionary_columns
from ._store import Store
from .exceptions import DeltaTargetError, TargetStateError

ROWS_SCHEMA_KEY = b"cdc_rs.rows_schema"
TABLE_VERSION_KEY = b"cdc_rs.table_version"
_CHANGES = re.compile(r"^changes-(\d{20})-([0-9a-f]{16})\.parquet$")
_SNAPSHOT = re.compile(r"^snapshot-(\d{20})\.parquet$")
_MOVED = re.compile(r"^moved-(\d{20})\.parquet$")
_PRETABLE = "pretable.json"


@dataclass
class Loaded:
    """The committed bookkeeping, as read: ``parts`` oldest first (a key's last row is its
    state), the rows' schema, how many change files follow the snapshot, and the moves."""

    parts: list[pa.Table] = field(default_factory=list)
    rows_schema: pa.Schema | None = None
    since_snapshot: int = 0
    moved: list[pa.Table] = field(default_factory=list)

    def state(self) -> pa.Table | None:
        """The parts as one ``key.*``, ``sequence.*``, ``live`` table (places left out)."""
        if not self.parts:
            return None
        last = self.parts[-1]
        names = state_columns(last)
        schema = pa.schema([last.schema.field(n) for n in names])
        return pa.concat_tables([p.select(names).cast(schema, safe=False)
                                 .replace_schema_metadata(None) for p in self.parts])


class Bookkeeping:
    """The folder ``_cdc_rs/<app_id>`` of a table's store."""

    def __init__(self, store: Store, app_id: str) -> None:
        self.store = store
        self.folder = f"_cdc_rs/{app_id}"

    def __str__(self) -> str:
        return f"{self.store}/{self.folder}"

    def pretable(self) -> dict[str, object]:
        """What was recorded of a table not created yet (``{}`` if nothing)."""
        return read_json(self.store, f"{self.folder}/{_PRETABLE}")

    def write_pretable(self, batch_id: int, changes: str | None) -> None:
        self.store.write(f"{self.folder}/{_PRETABLE}",
                         json.dumps({"batch_id": batch_id, "changes": changes}).encode())

    def load(self, txn: int | None, committed: Callable[[int], str | None]) -> Loaded:
        """The last snapshot at or below ``txn`` plus the change files after it (one per
        committed batch id, ignoring leftovers above ``txn``). ``committed(batch_id)`` names
        the change file the Delta commit of a batch recorded, if any."""
        if txn is None:
            return Loaded()
        snapshots: dict[int, str] = {}
        changes: dict[int, list[str]] = {}
        moved: dict[int, str] = {}
        for entry in self.store.files(self.folder):
            if m := _SNAPSHOT.match(entry.name):
                snapshots[int(m[1])] = entry.name
            elif m := _CHANGES.match(entry.name):
                changes.setdefault(int(m[1]), []).append(entry.name)
            elif m := _MOVED.match(entry.name):
                moved[int(m[1])] = entry.name
        base = max((i for i in snapshots if i <= txn), default=None)
        todo = sorted(i for i in changes if (base is None or i > base) and i <= txn)
        names = [name for name in (self._committed_file(i, changes[i], committed) for i in todo)
                 if name is not None]
        tables = read_files(self.store, [f"{self.folder}/{name}" for name in
                                         ([snapshots[base]] if base is not None else []) + names])
        loaded = Loaded()
        schema_bytes = None
        folded = -1  # moves at or below the snapshot's table version are in its places
        if base is not None:
            snap = tables.pop(0)
            schema_bytes = (snap.schema.metadata or {}).get(ROWS_SCHEMA_KEY)
            folded = int((snap.schema.metadata or {}).get(TABLE_VERSION_KEY, b"-1"))
            loaded.parts.append(snap)
        for table in tables:
            schema_bytes = (table.schema.metadata or {}).get(ROWS_SCHEMA_KEY) or schema_bytes
            loaded.parts.append(table)
        if not loaded.parts:
            return Loaded()
        loaded.rows_schema = _schema_from(schema_bytes) if schema_bytes else None
        loaded.since_snapshot = len(todo)
        loaded.moved = [self.store.read_parquet(f"{self.folder}/{moved[v]}")
                        for v in sorted(moved) if v > folded]
        return loaded

    def _committed_file(self, batch_id: int, candidates: list[str],
                        committed: Callable[[int], str | None]) -> str | None:
        if len(candidates) == 1:
            return candidates[0]
        # Several attempts wrote state for this batch id (different plans: concurrent
        # writers); the Delta commit names the one that won.
        name = committed(batch_id)
        if name in candidates:
            return name
        pre = self.pretable()
        if pre.get("changes") in candidates:
            return str(pre["changes"])
        raise TargetStateError(f"{self}: cannot tell which of {candidates} batch {batch_id} "
                               "committed")

    def write_changes(self, changes: pa.Table, batch_id: int,
                      rows_schema: pa.Schema | None) -> str:
        """A batch's key-state changes, before its commit; returns the file's name."""
        # A name of its own per attempt: an attempt that loses the commit race deletes its
        # file, never one of another writer's that holds the same changes.
        name = f"changes-{batch_id:020d}-{uuid.uuid4().hex[:16]}.parquet"
        write_parquet(self.store, f"{self.folder}/{name}", _with_schema(changes, rows_schema))
        return name

    def abandon(self, name: str | None) -> None:
        """Deletes the change file of an attempt whose commit lost to another writer's: were
        its batch id recorded later by another writer, it would be taken for that batch's."""
        if name:
            try:
                self.store.delete(f"{self.folder}/{name}")
            except OSError:
                pass  # left behind: a later snapshot deletes it

    def write_snapshot(self, state: pa.Table, last: int, rows_schema: pa.Schema | None,
                       table_version: int | None) -> bool:
        """Every key's state after batch ``last`` (table version ``table_version``), then
        the files it folds are deleted; False if it could not be written (an optimisation:
        the change files still hold the state)."""
        snap = _with_schema(state, rows_schema)
        if table_version is not None:
            snap = snap.replace_schema_metadata(
                {**(snap.schema.metadata or {}), TABLE_VERSION_KEY: str(table_version).encode()})
        try:
            write_parquet(self.store, f"{self.folder}/snapshot-{last:020d}.parquet", snap)
            _faults.reached("after_snapshot")
            for entry in self.store.files(self.folder):  # now folded into the snapshot
                if (m := _CHANGES.match(entry.name)) and int(m[1]) <= last or \
                        (m := _SNAPSHOT.match(entry.name)) and int(m[1]) < last or \
                        (m := _MOVED.match(entry.name)) and table_version is not None \
                        and int(m[1]) <= table_version:
                    self.store.delete(f"{self.folder}/{entry.name}")
        except (OSError, DeltaTargetError):
            return False
        return True

    def write_moves(self, version: int, moves: pa.Table) -> None:
        """Where the compaction committed as ``version`` moved rows, after its commit: were
        it lost (a crash), opening the table matches keys in the data files instead."""
        try:
            write_parquet(self.store, f"{self.folder}/moved-{version:020d}.parquet", moves)
        except (OSError, DeltaTargetError):
            pass


def state_columns(part: pa.Table) -> list[str]:
    """The key state's columns of a bookkeeping file (``key.*``, ``sequence.*``, ``live``),
    without the places merge-on-read files add."""
    return [n for n in part.column_names if n.startswith(("key.", "sequence."))] + ["live"]


def _with_schema(table: pa.Table, rows_schema: pa.Schema | None) -> pa.Table:
    """``table`` carrying the rows' schema, which a new process needs before any row."""
    if rows_schema is None:
        return table
    return table.replace_schema_metadata({**(table.schema.metadata or {}),
                                          ROWS_SCHEMA_KEY: _schema_bytes(rows_schema)})


def _schema_bytes(schema: pa.Schema) -> bytes:
    return base64.b64encode(schema.serialize().to_pybytes())


def _schema_from(data: bytes) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(data)))


def read_json(store: Store, rel: str) -> dict[str, object]:
    """A small JSON file of the bookkeeping; ``{}`` if there is none."""
    try:
        data: dict[str, object] = json.loads(store.read(rel))
        return data
    except FileNotFoundError:
        return {}


def read_files(store: Store, rels: list[str]) -> list[pa.Table]:
    """The bookkeeping files ``rels``, each whole, their row groups read on ``_WORKERS``
    threads: ``pq.read_table`` decodes a file's columns in parallel but its row groups (a
    10M-key snapshot has ten) one after the other, at twice the CPU time."""
    fs = store.arrow_filesystem()
    data: list[pa.Buffer] = []
    if fs is None:  # an object store: each file's bytes, fetched once
        with ThreadPoolExecutor(_WORKERS) as pool:
            data = list(pool.map(lambda rel: pa.py_buffer(store.read(rel)), rels))

    def open_file(i: int, metadata: pq.FileMetaData | None = None) -> pq.ParquetFile:
        source = pa.BufferReader(data[i]) if fs is None else rels[i]
        return pq.ParquetFile(source, filesystem=fs, metadata=metadata)

    footers = [open_file(i).metadata for i in range(len(rels))]
    groups = [(i, g) for i, footer in enumerate(footers) for g in range(footer.num_row_groups)]
    with ThreadPoolExecutor(_WORKERS) as pool:
        read = iter(list(pool.map(
            lambda at: open_file(at[0], footers[at[0]]).read_row_group(at[1]), groups)))
    return [pa.concat_tables([next(read) for _ in range(footer.num_row_groups)])
            if footer.num_row_groups else open_file(i, footer).read()
            for i, footer in enumerate(footers)]


def write_parquet(store: Store, rel: str, table: pa.Table) -> None:
    """A bookkeeping file, whole or not at all (it may replace one a crash left)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, use_dictionary=dictionary_columns(table))
    store.write(rel, sink.getvalue().to_pybytes())
