"""Where a snapshot flow keeps the state of the last snapshot it applied (each key with a
fingerprint of its row, :class:`cdc_rs._cdc_rs.SnapshotState`) so that a new process picks
it up.

Beside a :class:`cdc_rs.DeltaTarget`, in ``<table>/_cdc_rs/<app_id>/snapshots/`` (Delta
readers and ``VACUUM`` ignore folders starting with ``_``): ``<version>-<attempt>.parquet``
holds the state after snapshot ``version``, written *before* that snapshot's batch commits.
The file of the table's last batch id is the state of the last applied snapshot; a file
above it belongs to a batch that never committed and is ignored. Each attempt writes a file
of its own, so an attempt that lost a commit race never passes for the one that won; when
two files claim the table's last batch id the state is rebuilt from the table's rows.

Other targets keep none (a :class:`cdc_rs.MemoryTable` is pickled with its flow's state);
without a saved state the flow rebuilds it from ``target.to_arrow()``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any, Protocol

import pyarrow as pa

from . import _cdc_rs
from ._bookkeeping import write_parquet
from ._store import Store, open_store
from .exceptions import DeltaTargetError

_COLUMNS_KEY = b"cdc_rs.snapshot_columns"
_KEYS_KEY = b"cdc_rs.snapshot_keys"
_FINGERPRINT_KEY = b"cdc_rs.fingerprint"
_FILE = re.compile(r"^(\d{20})-([0-9a-f]{16})\.parquet$")


class StateKeeper(Protocol):
    """Keeps snapshot states beside a durable target."""

    def load(self, version: int, keys: list[str]) -> _cdc_rs.SnapshotState | None:
        """The state saved for ``version`` (None: none, or none that can be trusted)."""
        ...

    def save(self, state: _cdc_rs.SnapshotState, version: int) -> str:
        """Saves the state after ``version``, before its batch commits; returns its name."""
        ...

    def committed(self, name: str, version: int) -> None:
        """``name`` holds the state of the committed ``version``: the older ones go."""
        ...

    def abandon(self, name: str) -> None:
        """``name``'s batch did not commit (another writer's did)."""
        ...


def keeps_states(target: Any) -> bool:
    """Whether ``target`` has a place for snapshot states beside it (a Delta table)."""
    from .delta import DeltaTarget

    return isinstance(target, DeltaTarget)


def keeper_for(target: Any, keys: list[str]) -> StateKeeper | None:
    """The keeper of ``target``'s snapshot states (None: it keeps none) for a flow keyed by
    ``keys``."""
    if not keeps_states(target):
        return None
    if target.app_id is None:  # derived from the query's keys when the table is opened
        target.open(_cdc_rs.Pipeline(keys=keys, sequence_by=keys))
    assert target.app_id is not None
    return DeltaStates(open_store(target.path, target.storage_options), target.app_id)


def state_table(state: _cdc_rs.SnapshotState) -> pa.Table:
    """``state`` as one table that carries its columns, keys and fingerprint scheme."""
    table: pa.Table = state.to_arrow()
    columns: pa.Schema = state.columns
    return table.replace_schema_metadata({
        _COLUMNS_KEY: base64.b64encode(columns.serialize().to_pybytes()),
        _KEYS_KEY: json.dumps(state.keys).encode(),
        _FINGERPRINT_KEY: _cdc_rs.SnapshotState.fingerprint.encode(),
    })


def restore(table: pa.Table, keys: list[str]) -> _cdc_rs.SnapshotState | None:
    """The state :func:`state_table` made; None if it was made for other keys or with another
    fingerprint scheme (a new version of cdc_rs), whose fingerprints cannot be compared."""
    meta = table.schema.metadata or {}
    if meta.get(_FINGERPRINT_KEY) != _cdc_rs.SnapshotState.fingerprint.encode() or \
            meta.get(_KEYS_KEY) != json.dumps(keys).encode() or _COLUMNS_KEY not in meta:
        return None
    columns = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(meta[_COLUMNS_KEY])))
    return _cdc_rs.SnapshotState.restore(columns, keys, table)


class DeltaStates:
    """The folder ``_cdc_rs/<app_id>/snapshots`` of a Delta table's store."""

    def __init__(self, store: Store, app_id: str) -> None:
        self.store = store
        self.folder = f"_cdc_rs/{app_id}/snapshots"

    def load(self, version: int, keys: list[str]) -> _cdc_rs.SnapshotState | None:
        names = [e.name for e in self.store.files(self.folder)
                 if (m := _FILE.match(e.name)) and int(m[1]) == version]
        if len(names) != 1:
            return None  # none, or attempts that raced: rebuilt from the table instead
        try:
            table = self.store.read_parquet(f"{self.folder}/{names[0]}")
        except (OSError, DeltaTargetError, pa.ArrowException):
            return None  # unreadable: rebuilt from the table
        return restore(table, keys)

    def save(self, state: _cdc_rs.SnapshotState, version: int) -> str:
        name = f"{version:020d}-{uuid.uuid4().hex[:16]}.parquet"
        write_parquet(self.store, f"{self.folder}/{name}", state_table(state))
        return name

    def committed(self, name: str, version: int) -> None:
        for entry in self.store.files(self.folder):
            m = _FILE.match(entry.name)
            if m and entry.name != name and int(m[1]) <= version:
                self._delete(entry.name)

    def abandon(self, name: str) -> None:
        self._delete(name)

    def _delete(self, name: str) -> None:
        try:
            self.store.delete(f"{self.folder}/{name}")
        except OSError:
            pass  # left behind: at worst a later load finds two files and rebuilds the state
