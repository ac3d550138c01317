"""``DeltaTarget``: a silver table stored as a Delta Lake table (needs ``deltalake``).

Each micro-batch becomes ONE Delta commit that deletes, updates and inserts in one go,
carrying the Delta ``txn`` action ``(app_id, batch_id)``, so a replayed batch id is
recognised even in a fresh process. Tables with deletion vectors (the default for new
tables) are written merge-on-read (``_merge_on_read``): a batch adds files for its rows and
marks the rows they replace in deletion vectors, and only the key index is kept in memory.
Other tables are copy-on-write, their files grouped by a hash of the key (``_delta_layout``):
a commit replaces only the files of the buckets the batch touches.

The per-key bookkeeping the engine needs (each key's last sequence, the tombstones of
deleted keys, and for merge-on-read where each key's row is) is not in the table, so Delta
readers see only the silver rows: see ``_bookkeeping``.

Example:
    >>> import cdc_rs, pyarrow as pa                                  # doctest: +SKIP
    >>> upsert = cdc_rs.batch_upsert(cdc_rs.DeltaTarget("/data/silver"), keys="id",
    ...                              sequence_by="ts")                # doctest: +SKIP
    >>> upsert(pa.table({"id": [1], "ts": [1], "v": ["a"]}), 0)       # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa

from . import _cdc_rs
from . import _delta_layout as layout
from . import _faults
from ._delta_checks import (castable, change_data_feed, check_partition_types, check_writable,
                            checked_app_id, describe, has_deletion_vectors)
from ._delta_log import commit_info, live_adds, log_changed, log_stamp, protocol, write_commit
from ._delta_log import metadata as table_metadata
from ._bookkeeping import Bookkeeping, Loaded
from ._locations import located_state, moves, with_places
from ._merge_on_read import (BatchFiles, FileIndex, LiveFile, compact, files_to_compact,
                             write_batch, write_change_data)
from ._locks import TargetLock
from ._store import LocalStore, Store, brief_error, open_store
from ._report import BatchOutcome
from .exceptions import (CdcError, ConcurrentWriteError, ConfigError, DeltaTargetError, InputError,
                         SchemaError, TargetStateError)
from .target import Conflict

__all__ = ["DeltaTarget", "DeltaTargetError", "ConcurrentWriteError", "TargetStateError"]



class DeltaTarget:
    """A silver table stored as a Delta table, written one atomic commit per micro-batch.

    Pass it (or just a path string) as the target of :func:`cdc_rs.batch_upsert`. The table is
    created on the first batch that has rows, with exactly the target columns, and is readable
    by any Delta reader (deltalake, polars ``read_delta``, duckdb ``delta_scan``, Spark).

    Args:
        path: the table's folder: a local path, or an object store URL (``s3://bucket/table``;
            also ``gs://``, ``az://``, ``abfss://``; needs ``obstore``).
        partition_by: partition columns used when the table is created.
        storage_options: the object store's options, as deltalake takes them
            (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_ALLOW_HTTP``…). On S3 every
            put of a commit is conditional (``AWS_CONDITIONAL_PUT=etag`` unless given), so
            concurrent writers never overwrite each other's commits.
        app_id: the Delta ``txn`` application id recording the last applied batch id. Default:
            ``"cdc_rs-"`` + a hash of the absolute table path and the key columns, stable
            across processes for the same table and query. Give distinct ids to distinct
            queries writing the same table, the same id to re-runs of one query.
        snapshot_every: fold the per-batch bookkeeping into one snapshot every so many batches.
        max_retries: re-plans after a conflicting concurrent commit before
            :class:`ConcurrentWriteError`.
        target_file_rows: copy-on-write tables: the average rows per data file the layout
            keeps to. Each file holds the keys of one hash bucket, so a batch rewrites only the
            files of the buckets its keys fall in: about ``min(batch keys, buckets) *
            target_file_rows`` rows, never more than the table. Smaller files make small
            batches cheaper and reads slower.
        deletion_vectors: for a table this target creates: write it merge-on-read, with
            Delta deletion vectors (reader version 3, writer version 7), so a batch writes
            only its own rows. ``False`` creates a copy-on-write table, for readers without
            deletion vector support. An existing table keeps its kind.
        checkpoint_every: merge-on-read tables: write a Delta checkpoint every so many
            commits, so opening a table with a long history stays fast.
        change_data_feed: for a merge-on-read table this target creates: turn on Delta's change
            data feed (``delta.enableChangeDataFeed``), so each commit also writes its row
            changes (``insert``, ``update_preimage`` / ``update_postimage``, ``delete``) to
            ``_change_data/``, for ``DeltaTable.load_cdf`` and Spark's ``readChangeFeed``. An
            existing merge-on-read table keeps its setting.
        auto_compact: merge-on-read tables: after a batch, run :meth:`optimize` once this many
            files are worth rewriting (half their rows deleted, or small). ``None``: only
            when you call it.

    Batches at or below the recorded batch id are skipped (``report.skipped_replay``).
    Merge-on-read tables keep only their key index in memory (key, sequence, row position);
    copy-on-write tables are mirrored whole (rows and key state). Either is loaded when
    first used.
    """

    def __init__(self, path: str | os.PathLike[str], *, partition_by: str | list[str] | None = None,
                 storage_options: dict[str, str] | None = None, app_id: str | None = None,
                 snapshot_every: int = 100, max_retries: int = 5,
                 target_file_rows: int = 8192, deletion_vectors: bool = True,
                 checkpoint_every: int = 10, auto_compact: int | None = 32,
                 change_data_feed: bool = False) -> None:
        try:
            import deltalake  # noqa: F401
        except ImportError as exc:
            raise ImportError("DeltaTarget needs the deltalake package: "
                              "pip install 'cdc_rs[delta]'") from exc
        _let_arrow_threads_finish_at_exit()
        self._store: Store = open_store(path, storage_options)
        # Path of a local table (messages, the derived app_id), else its URL.
        self._path: Path | str = self._store.root if isinstance(self._store, LocalStore) \
            else self._store.uri
        if isinstance(self._path, Path) and _PERCENT_ESCAPE.search(str(self._path)):
            # deltalake decodes %XX in a local path: it would read another folder's table
            raise DeltaTargetError(f"{str(self._path)!r}: a Delta table path cannot hold a "
                                   "percent escape such as '%2F' (deltalake reads it decoded, "
                                   "as another folder); rename the folder")
        self._partition_by = [partition_by] if isinstance(partition_by, str) else partition_by
        self._storage_options = storage_options
        self._app_id = None if app_id is None else checked_app_id(app_id)
        self._snapshot_every = max(1, int(snapshot_every))
        self._max_retries = max(0, int(max_retries))
        self._target_file_rows = max(1, int(target_file_rows))
        self._deletion_vectors = bool(deletion_vectors)
        self._checkpoint_every = max(1, int(checkpoint_every))
        self._auto_compact = None if auto_compact is None else max(1, int(auto_compact))
        self._change_data_feed = bool(change_data_feed)
        if self._change_data_feed and not self._deletion_vectors:
            raise ConfigError("change_data_feed=True needs a merge-on-read table "
                              "(deletion_vectors=True)")
        self._lock = TargetLock()
        self._reset()

    def _reset(self) -> None:
        self._mirror: _cdc_rs.TableCore | None = None  # the table's key state (and rows), once opened
        self._dt: Any = None  # deltalake.DeltaTable (None: no table yet); see _synced
        self._version = -1  # the table version the mirror matches (-1: no table yet)
        self._files: FileIndex | None = None  # merge-on-read: the live files by row position
        self._rows_schema: pa.Schema | None = None
        self._since_snapshot = 0
        self._log_seen: dict[str, tuple[int, str]] = {}  # _delta_log files read: (size, stamp)
        self._writable = False  # the folder took a probe file since the table was opened

    # ------------------------------------------------------------------ public API

    @property
    def path(self) -> Path | str:
        """The table's folder (a ``Path``), or its URL on an object store."""
        return self._path

    @property
    def storage_options(self) -> dict[str, str] | None:
        """The object store options the table was given (None: none)."""
        return self._storage_options

    @property
    def app_id(self) -> str | None:
        """The Delta ``txn`` application id (``None`` until the first batch if derived)."""
        return self._app_id

    @property
    def last_batch_id(self) -> int | None:
        """The last batch id committed to the table by this ``app_id`` (reads the table)."""
        if self._app_id is None:  # not derived yet: the table's only app, if any
            apps = self._existing_apps()
            return self.batch_id_of(apps[0]) if len(apps) == 1 else None
        with self._lock:
            return self._opened().last_batch_id

    def batch_id_of(self, app_id: str) -> int | None:
        """The last batch id the table recorded for ``app_id`` (None: never written)."""
        from deltalake import DeltaTable

        store = self._store
        if DeltaTable.is_deltatable(store.uri, store.storage_options):
            version: int | None = DeltaTable(store.uri, storage_options=store.storage_options) \
                .transaction_version(app_id)
            return version
        batch_id = Bookkeeping(store, app_id).pretable().get("batch_id")
        return batch_id if isinstance(batch_id, int) else None

    def to_arrow(self) -> pa.Table:
        """The table's rows as read by a Delta reader (``deltalake.DeltaTable.to_pyarrow_table``)."""
        from deltalake import DeltaTable

        store = self._store
        if not DeltaTable.is_deltatable(store.uri, store.storage_options):
            return pa.table({})
        try:
            table = DeltaTable(store.uri, storage_options=store.storage_options)
        except Exception as exc:  # noqa: BLE001 - deltalake raises many kinds
            raise DeltaTargetError(f"cannot open the Delta table {self._path}: "
                                   f"{brief_error(exc)}") from exc
        if has_deletion_vectors(table):
            files = FileIndex.of(store, live_adds(store, table.version()))
            return files.read_rows(pa.schema(table.schema().to_arrow()))
        return _read_rows(table, store)

    def to_pandas(self) -> Any:
        """The table's rows as a pandas DataFrame."""
        return self.to_arrow().to_pandas()

    def delta_table(self) -> Any:
        """A ``deltalake.DeltaTable`` of the current version."""
        from deltalake import DeltaTable

        return DeltaTable(self._store.uri, storage_options=self._store.storage_options)

    def state(self) -> pa.Table | None:
        """Per-key bookkeeping (``key.*``, ``sequence.*``, ``live``), as kept in ``_cdc_rs/``."""
        with self._lock:
            return self._opened().state()

    def __len__(self) -> int:
        with self._lock:
            if self._app_id is None:
                rows: int = self.to_arrow().num_rows
                return rows
            return len(self._opened())

    def __repr__(self) -> str:
        return f"DeltaTarget({str(self._path)!r}, app_id={self._app_id!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self._path), "partition_by": self._partition_by,
                "storage_options": self._storage_options, "app_id": self._app_id,
                "snapshot_every": self._snapshot_every, "max_retries": self._max_retries,
                "target_file_rows": self._target_file_rows,
                "deletion_vectors": self._deletion_vectors,
                "checkpoint_every": self._checkpoint_every, "auto_compact": self._auto_compact,
                "change_data_feed": self._change_data_feed}

    def __setstate__(self, saved: dict[str, Any]) -> None:
        path = saved.pop("path")
        self.__init__(path, **saved)  # type: ignore[misc]

    # ------------------------------------------------------------------ the Target protocol

    keeps_key_state = True

    @property
    def max_retries(self) -> int:
        """Re-plans of a batch after a conflicting concurrent commit."""
        return self._max_retries

    def batch_lock(self) -> TargetLock:
        """Held while a batch is applied."""
        return self._lock

    def open(self, pipeline: _cdc_rs.Pipeline) -> _cdc_rs.TableCore:
        """The key index (copy-on-write: the rows too), read from the table when first needed
        or after a conflict; the app id is derived from ``pipeline`` unless given (and kept
        only once the table opens with it)."""
        if self._app_id is not None:
            return self._opened()
        self._app_id = self._derive_app_id(pipeline)
        try:
            return self._opened()
        except BaseException:
            self._app_id = None
            self._reset()
            raise

    def write(self, plan: _cdc_rs.PlanCore, batch_id: int) -> _Staged:
        """The batch's data files, deletion vectors and bookkeeping, which no reader sees until
        :meth:`commit` writes the Delta log entry naming them."""
        # "cdc_rs.changes" names the batch's change file once written (_record_changes)
        metadata: dict[str, Any] = {"cdc_rs.app_id": self._app_id, "cdc_rs.batch_id": str(batch_id),
                                     "cdc_rs.changes": ""}
        staged = _Staged(metadata, self._version)
        with self._failing(batch_id, staged):
            self._stage(plan, batch_id, staged)
        return staged

    def commit(self, plan: _cdc_rs.PlanCore, staged: _Staged, batch_id: int) -> BatchOutcome:
        """The batch's one Delta commit (with its ``txn``), then the key index follows it."""
        with self._failing(batch_id, staged):
            staged.land()
        try:  # committed: whatever fails now, the batch is in the table
            if staged.commits_table:
                self._after_commit(staged)
        except BaseException:
            self._reset()  # the mirror is read again from the table, which has the batch
            raise
        fallback = (plan.counts, False, plan.rejected())
        mirror = self._opened()
        try:
            result = mirror.commit(plan, staged.placed)
        except CdcError:
            # The Delta commit is done; the mirror could not follow (e.g. its first rows
            # after tombstone-only batches): re-open it from the table next time.
            self._reset()
            return fallback
        self._since_snapshot += 1
        if self._since_snapshot >= self._snapshot_every:
            self._snapshot()
        self._compact_if_due()
        return result

    def optimize(self, *, min_deleted_fraction: float = 0.2,
                 max_file_rows: int = 1_000_000) -> dict[str, int]:
        """Compacts a merge-on-read table so that reads stay fast.

        Rewrites the files with at least ``min_deleted_fraction`` of their rows deleted
        (dropping their deletion vectors) and joins files smaller than ``target_file_rows``
        into files of at most ``max_file_rows`` rows, in one commit that changes no row
        (``dataChange: false``; a Delta stream reading the table skips it). A copy-on-write
        table is compact by construction: nothing to do.

        Returns:
            ``files_removed``, ``files_added``, ``rows_rewritten`` and the table ``version``.

        Example:
            >>> DeltaTarget("/data/silver").optimize()                 # doctest: +SKIP
            {'files_removed': 33, 'files_added': 1, 'rows_rewritten': 10412, 'version': 41}
        """
        with self._lock:
            if self._app_id is None:
                apps = self._existing_apps()
                if len(apps) != 1:
                    return self._nothing_compacted()
                self._app_id = apps[0]
            self._open()
            return self._optimize(min_deleted_fraction, max_file_rows)

    def _nothing_compacted(self) -> dict[str, int]:
        return {"files_removed": 0, "files_added": 0, "rows_rewritten": 0, "version": self._version}

    def _compact_if_due(self) -> None:
        if self._auto_compact is None or self._files is None or self._dt is None:
            return
        if len(files_to_compact(self._files, 0.5, self._target_file_rows)) >= self._auto_compact:
            try:
                self._optimize(0.5, 1_000_000)
            except DeltaTargetError:
                self._reset()  # compaction is an optimisation: the batch itself is committed

    def _optimize(self, min_deleted_fraction: float, max_file_rows: int) -> dict[str, int]:
        if self._dt is None or not self._merge_on_read() or self._files is None:
            return self._nothing_compacted()
        check_writable(self._dt, self._path, merge_on_read=True)
        chosen = files_to_compact(self._files, min_deleted_fraction, self._target_file_rows)
        if not chosen:
            return self._nothing_compacted()
        schema = pa.schema(self._dt.schema().to_arrow())
        partition_by = list(self._dt.metadata().partition_columns)
        done = compact(self._files, chosen, schema, [], partition_by, max(1, max_file_rows))
        _faults.reached("after_compaction_files")
        version = self._version + 1
        extra = {"cdc_rs.files_removed": len(chosen), "cdc_rs.files_added": len(done.new_files),
                 "cdc_rs.rows_copied": done.rows}
        if log_changed(self._store, self._log_seen) or not write_commit(
                self._store, version, [*done.actions, commit_info("OPTIMIZE", extra)]):
            self._reset()
            raise ConcurrentWriteError(f"{self._path} changed while it was compacted; nothing "
                                       "was committed, run optimize() again")
        _faults.reached("after_compaction")
        self._version = version
        done.apply_to(self._files)
        assert self._mirror is not None
        self._mirror.relocate(done.old, done.new)
        self._book.write_moves(version, moves(self._files, done.old.to_numpy(),
                                              done.new.to_numpy()))
        if version % self._checkpoint_every == 0:
            self._checkpoint()
        self._log_seen = log_stamp(self._store)
        return {"files_removed": len(chosen), "files_added": len(done.new_files),
                "rows_rewritten": done.rows, "version": version}

    def _derive_app_id(self, pipeline: _cdc_rs.Pipeline) -> str:
        # The table and the key columns name the query.
        names = list(pipeline.keys)
        digest = hashlib.sha1(json.dumps([str(self._path), names]).encode()).hexdigest()[:16]
        return f"cdc_rs-{digest}"

    def _existing_apps(self) -> list[str]:
        return sorted(self._store.folders("_cdc_rs"))

    # ------------------------------------------------------------------ opening

    @property
    def _book(self) -> Bookkeeping:
        """This app's bookkeeping, in the table."""
        assert self._app_id is not None  # derived before the first use
        return Bookkeeping(self._store, self._app_id)

    def _opened(self) -> _cdc_rs.TableCore:
        """The mirror of the table (its rows and key state), opening the table first."""
        self._open()
        assert self._mirror is not None
        return self._mirror

    def _open(self) -> None:
        if self._mirror is not None:
            return
        from deltalake import DeltaTable

        store = self._store
        store.check_folder()
        try:
            exists = DeltaTable.is_deltatable(store.uri, store.storage_options)
            self._dt = DeltaTable(store.uri, storage_options=store.storage_options) \
                if exists else None
        except Exception as exc:  # noqa: BLE001 - deltalake raises many kinds
            raise DeltaTargetError(f"cannot open the Delta table {self._path}: its _delta_log "
                                   f"cannot be read ({brief_error(exc)}); nothing was written. "
                                   "Repair or restore the log first") from exc
        self._version = self._dt.version() if self._dt is not None else -1
        self._log_seen = log_stamp(store) if self._dt is not None else {}
        if self._dt is not None:
            txn = self._dt.transaction_version(self._app_id)
        else:
            pre = self._book.pretable().get("batch_id")
            txn = pre if isinstance(pre, int) else None
        for attempt in range(3):
            try:
                loaded = self._book.load(txn, self._committed_changes)
                break
            except FileNotFoundError:  # another writer folded files into a snapshot meanwhile
                if attempt == 2:
                    raise
        rows_schema = self._rows_schema = loaded.rows_schema
        self._since_snapshot = loaded.since_snapshot
        merge_on_read = self._merge_on_read()
        if merge_on_read:
            self._files = FileIndex.of(store, live_adds(store, self._dt.version())) \
                if self._dt is not None else FileIndex(store, [], 0)
            if self._dt is not None and rows_schema is not None:
                self._mirror = self._restored_index(loaded, txn)
                return
        state = loaded.state()
        if self._dt is None or rows_schema is None:
            if self._dt is not None and self._table_has_rows():
                raise TargetStateError(
                    f"{self._path} has rows but no cdc_rs bookkeeping for app_id {self._app_id!r}; "
                    "write it with the app_id that created it, or to a new table")
            core = _cdc_rs.TableCore(keeps_rows=not merge_on_read)
            if state is not None and state.num_rows:  # only tombstones so far
                if merge_on_read:
                    core = _cdc_rs.TableCore.restore_index(
                        pa.table({}), pa.table({}), pa.array([], pa.uint32()), state, 0, txn)
                else:
                    core = _cdc_rs.TableCore.restore(pa.table({}), state, txn)
            elif txn is not None:
                core.mark_applied(txn)
            self._mirror = core
            return
        rows = _read_rows(self._dt, store)
        try:
            rows = rows.select(rows_schema.names).cast(rows_schema)
        except (KeyError, pa.ArrowInvalid, ValueError) as exc:
            raise TargetStateError(f"{self._path}: columns {rows.schema.names} no longer match "
                                   f"the pipeline's {rows_schema.names}: {exc}") from exc
        self._mirror = self._restored(lambda: _cdc_rs.TableCore.restore(rows, state, txn))

    def _restored_index(self, loaded: Loaded, txn: int | None) -> _cdc_rs.TableCore:
        """A merge-on-read table's key index: from the places the bookkeeping recorded, no
        data file read, when they account for the table's rows exactly; else by matching
        the keys of the data files to the bookkeeping."""
        assert self._files is not None and self._rows_schema is not None
        try:
            located = located_state(loaded.parts, self._files, loaded.moved)
        except (pa.ArrowException, ValueError):  # bookkeeping we cannot follow: match keys
            located = None
        if located is None:
            return self._restored_by_key(loaded.state(), txn)
        # Peak memory: the files as read let go (their places are positions now); the Rust
        # side takes the chunks as they are, a few rows at a time, without a copy
        loaded.parts = []
        self._files.check_present()
        try:
            return _cdc_rs.TableCore.restore_located(
                self._rows_schema.empty_table(), located, self._files.next_row,
                pa.array(self._files.deleted_positions(), pa.uint32()), txn)
        except (TargetStateError, InputError):
            return self._restored_by_key(located.drop_columns(["position"]), txn)

    def _restored_by_key(self, state: pa.Table | None, txn: int | None) -> _cdc_rs.TableCore:
        """The key index from the key columns of every live row, matched to the state."""
        assert self._files is not None and self._rows_schema is not None and state is not None
        schema = pa.schema(self._dt.schema().to_arrow())
        live, positions = self._files.live_keys(_keys_of(state), schema)
        rows_schema = self._rows_schema
        return self._restored(lambda: _cdc_rs.TableCore.restore_index(
            rows_schema.empty_table(), live, pa.array(positions, pa.uint32()), state,
            self._files.next_row, txn))

    def _restored(self, restore: Any) -> _cdc_rs.TableCore:
        """``restore()``, its disagreement between rows and bookkeeping naming the table."""
        try:
            core: _cdc_rs.TableCore = restore()
        except TargetStateError as exc:
            raise TargetStateError(f"{self._path}: {exc}") from exc
        return core

    def _merge_on_read(self) -> bool:
        """Whether batches write deletion vectors: the table's kind, or for a table still to
        be created, this target's option."""
        if self._dt is None:
            return self._deletion_vectors
        return has_deletion_vectors(self._dt)

    def _synced(self) -> Any:
        """``_dt`` at the version the mirror matches. Merge-on-read commits do not reload it:
        they change only what this target tracks itself (the version, the live files), not
        the schema, partitioning or protocol that a batch reads from ``_dt``."""
        if self._dt.version() != self._version:
            self._dt.load_as_version(self._version)
        return self._dt

    def _table_has_rows(self) -> bool:
        if has_deletion_vectors(self._dt):
            return bool(FileIndex.of(self._store, live_adds(self._store, self._dt.version()))
                        .read_rows(pa.schema(self._dt.schema().to_arrow())).num_rows)
        return bool(self._dt.to_pyarrow_dataset(filesystem=self._store.arrow_filesystem())
                    .count_rows())

    def _committed_changes(self, batch_id: int) -> str | None:
        """The change file the Delta commit of ``batch_id`` names (this app's), if any."""
        if self._dt is not None:
            for commit in self._dt.history():
                if commit.get("cdc_rs.app_id") == self._app_id and \
                        str(commit.get("cdc_rs.batch_id")) == str(batch_id):
                    return str(commit.get("cdc_rs.changes"))
        return None

    # ------------------------------------------------------------------ writing

    @contextmanager
    def _failing(self, batch_id: int, staged: _Staged | None) -> Iterator[None]:
        """What a failure of :meth:`write` or :meth:`commit` means: a conflict (the batch is
        planned again), or an error naming the table; the mirror is read again either way."""
        from deltalake.exceptions import CommitFailedError

        try:
            yield
        except KeyboardInterrupt:
            # Ctrl-C between two steps: the commit landed whole or not at all; the mirror may
            # not know which, so it is read again from the table.
            self._reset()
            raise
        except (CommitFailedError, Conflict) as exc:
            self._abandon(staged)
            raise Conflict() from exc
        except Exception as exc:  # noqa: BLE001
            if self._dt is None and "already exists" in str(exc).lower():
                self._abandon(staged)  # another writer created the table first
                raise Conflict() from exc
            self._reset()  # whether it landed or not, re-read the table next time
            if isinstance(exc, CdcError) and not isinstance(exc, DeltaTargetError):
                raise  # e.g. a SchemaError: planning again cannot change it
            error = exc if isinstance(exc, DeltaTargetError) else DeltaTargetError(
                f"batch {batch_id}: writing {self._path} failed, nothing committed: {exc}")
            if error is not exc:
                error.__cause__ = exc
            # e.g. files of an old snapshot removed by OPTIMIZE + VACUUM: re-open the table at
            # its latest version and plan again (once: a second failure is raised)
            raise Conflict(error) from error

    def _abandon(self, staged: _Staged | None) -> None:
        self._reset()
        if staged is not None:
            self._book.abandon(staged.metadata["cdc_rs.changes"])

    def _stage(self, plan: _cdc_rs.PlanCore, batch_id: int, staged: _Staged) -> None:
        """Writes the batch's files, and sets how to commit them (``staged.land``)."""
        from deltalake import CommitProperties, Transaction

        if not self._writable:
            self._store.check_writable()
            self._writable = True
        if self._dt is not None and log_changed(self._store, self._log_seen):
            # A log entry we read was rewritten (or removed): re-open the table, which
            # refuses a log no reader can open, and plan again; never commit on top of it.
            raise Conflict()
        upserts, deletes, changes = plan.upserts(), plan.deletes(), plan.state_changes()
        if upserts is not None and upserts.num_rows:
            if self._rows_schema is None:
                self._rows_schema = upserts.schema.remove_metadata()
            elif upserts.schema.names != self._rows_schema.names or (
                    upserts.schema.remove_metadata() != self._rows_schema
                    and not castable(upserts.schema, self._rows_schema)):
                raise SchemaError(
                    f"batch {batch_id}: target columns changed from {describe(self._rows_schema)} "
                    f"to {describe(upserts.schema)}; nothing of the batch was written")
        metadata = staged.metadata

        def props() -> Any:
            assert self._app_id is not None  # derived before the first write
            return CommitProperties(custom_metadata=metadata, max_commit_retries=0,
                                    app_transactions=[Transaction(self._app_id, batch_id)])

        merge_on_read = self._merge_on_read()
        no_rows = upserts is None or upserts.num_rows == 0
        if not merge_on_read or (self._dt is None and no_rows):
            # (merge-on-read batches record each row's place, known once files are written)
            self._record_changes(changes, batch_id, metadata)
            _faults.reached("before_commit")
        if self._dt is None and no_rows:
            # No table yet and no row to create it with: remember the batch (and its
            # tombstones) beside the future table.
            staged.land = lambda: self._book.write_pretable(batch_id,
                                                            metadata["cdc_rs.changes"] or None)
            staged.commits_table = False
        elif self._dt is None:
            if merge_on_read:
                staged.written, staged.land = self._create_merge_on_read(upserts, changes,
                                                                         metadata, batch_id)
            else:
                staged.land = self._create(upserts, _keys_of(changes), metadata, props)
        elif changes is None or changes.num_rows == 0:  # no row changes: record the batch id
            if merge_on_read:
                staged.land = lambda: self._commit([], "WRITE", metadata, batch_id)
            else:
                staged.land = lambda: self._dt.create_write_transaction(
                    [], mode="append", schema=self._dt.schema(), commit_properties=props())
        elif merge_on_read:
            staged.written, staged.land = self._merge_batch(plan, upserts, changes, metadata,
                                                            batch_id)
        else:
            staged.land = self._rewrite(plan, upserts, deletes, _keys_of(changes), metadata,
                                        props)

    def _after_commit(self, staged: _Staged) -> None:
        """The table as just committed: exactly the version after the one planned against, so
        that another writer's later commit makes our next commit conflict, not slip under the
        mirror; the new files in the index; a checkpoint when due."""
        _faults.reached("after_commit")
        self._version = staged.read_version + 1
        if self._dt is None:
            from deltalake import DeltaTable

            self._dt = DeltaTable(self._store.uri, version=0,
                                  storage_options=self._store.storage_options)
        elif not self._merge_on_read():
            # deltalake's own commits (copy-on-write) build on the version it has loaded; a
            # merge-on-read batch reads nothing a reload would bring (see _synced)
            self._dt.load_as_version(self._version)
        if staged.written is not None:
            assert self._files is not None
            staged.written.apply_to(self._files)
            staged.placed = staged.written.placed
        if self._merge_on_read() and (staged.read_version + 1) % self._checkpoint_every == 0 \
                and staged.read_version >= 0:
            self._checkpoint()
        self._log_seen = log_stamp(self._store)

    def _record_changes(self, changes: pa.Table | None, batch_id: int, metadata: dict[str, Any],
                        files: list[LiveFile] | None = None,
                        placed: np.ndarray | None = None) -> None:
        """The batch's key-state changes into the bookkeeping, before its commit (which names
        the file); merge-on-read also records where each upserted row is: at ``placed``
        (its position), in one of the batch's new ``files``."""
        if changes is None or changes.num_rows == 0:
            return
        if files is not None and placed is not None:
            changes = with_places(changes, files, placed)
        metadata["cdc_rs.changes"] = self._book.write_changes(changes, batch_id,
                                                              self._rows_schema)

    def _changes_recorder(self, changes: pa.Table, batch_id: int,
                          metadata: dict[str, Any]) -> Callable[[list[LiveFile], np.ndarray], None]:
        """``_record_changes`` for ``write_batch`` to run beside the batch's data files."""
        return lambda files, placed: self._record_changes(changes, batch_id, metadata, files,
                                                          placed)

    def _commit(self, actions: list[dict[str, Any]], operation: str, metadata: dict[str, Any],
                batch_id: int) -> None:
        """A hand-written commit of ``actions`` with the batch's ``txn``, at the version
        after the one planned against (``Conflict`` if another writer took it)."""
        version = self._version + 1
        txn = {"txn": {"appId": self._app_id, "version": batch_id,
                       "lastUpdated": int(time.time() * 1000)}}
        if not write_commit(self._store, version, [*actions, txn, commit_info(operation, metadata)]):
            raise Conflict()

    def _checkpoint(self) -> None:
        """A Delta checkpoint of the version just committed: readers then start from it,
        not from the first commit. Only an optimisation: a failure leaves the log as it is."""
        try:
            self._synced().create_checkpoint()
        except Exception:  # noqa: BLE001 - deltalake raises many kinds; the commit is done
            pass

    def _create_merge_on_read(self, upserts: pa.Table, changes: pa.Table, metadata: dict[str, Any],
                              batch_id: int) -> tuple[BatchFiles, Callable[[], None]]:
        """The first commit of a merge-on-read table: its protocol (deletion vectors), schema
        and the batch's rows."""
        from deltalake import Schema as DeltaSchema

        keys = _keys_of(changes)
        schema = layout.delta_arrow_schema(self._rows_schema)
        partition_by = self._partition_by or []
        check_partition_types(schema, partition_by, self._path)
        rows = self._blank_partitions(upserts.select(schema.names).cast(schema), partition_by,
                                      keys)
        self._files = FileIndex(self._store, [], 0)
        written = write_batch(self._files, rows, np.zeros(0, np.uint64), keys, partition_by,
                              self._changes_recorder(changes, batch_id, metadata))
        schema_json = DeltaSchema.from_arrow(schema).to_json()
        ntz = ["timestampNtz"] if '"timestamp_ntz"' in schema_json else []
        configuration = {"delta.enableDeletionVectors": "true"}
        if self._change_data_feed:  # the first commit only inserts: readers take its adds
            configuration["delta.enableChangeDataFeed"] = "true"
        metadata.update({"cdc_rs.rows_copied": 0, "cdc_rs.files_added": len(written.new_files),
                         "cdc_rs.files_removed": 0, "cdc_rs.vectors_written": 0})
        _faults.reached("before_commit")  # bookkeeping and data files written
        _faults.reached("after_data_files")
        writer_only = ["changeDataFeed"] if self._change_data_feed else []
        actions = [protocol(["deletionVectors", *ntz], ["deletionVectors", *ntz, *writer_only]),
                   table_metadata(schema_json, partition_by, configuration), *written.actions]
        return written, lambda: self._commit(actions, "CREATE TABLE", metadata, batch_id)

    def _merge_batch(self, plan: _cdc_rs.PlanCore, upserts: pa.Table | None, changes: pa.Table,
                     metadata: dict[str, Any],
                     batch_id: int) -> tuple[BatchFiles, Callable[[], None]]:
        """One merge-on-read commit: new files for the batch's rows, deletion vectors for the
        rows they replace and the rows it deletes."""
        keys = _keys_of(changes)
        check_writable(self._dt, self._path, merge_on_read=True)
        assert self._files is not None
        schema = pa.schema(self._dt.schema().to_arrow())
        partition_by = list(self._dt.metadata().partition_columns)
        check_partition_types(schema, partition_by, self._path)
        if upserts is not None:
            upserts = self._blank_partitions(upserts.select(schema.names).cast(schema),
                                             partition_by, keys)
        replaced = pa.array(plan.replaced_rows()).to_numpy()
        feed: list[dict[str, Any]] = []
        try:
            if change_data_feed(self._dt):  # before the batch's vectors change the index
                upserted_from = pa.array(plan.upserted_from()).cast(pa.int64()).fill_null(-1)
                feed = write_change_data(self._files, schema, upserts, upserted_from.to_numpy(),
                                         pa.array(plan.deleted_rows()).to_numpy(), partition_by)
            written = write_batch(self._files, upserts, replaced, keys, partition_by,
                                  self._changes_recorder(changes, batch_id, metadata))
        except OSError as exc:  # e.g. a file VACUUMed under us: re-open at the latest version
            raise DeltaTargetError(f"reading {self._path} failed: {exc}") from exc
        written.actions.extend(feed)
        vectors = sum(1 for a in written.actions if "add" in a and "deletionVector" in a["add"])
        metadata.update({"cdc_rs.rows_copied": 0, "cdc_rs.files_added": len(written.new_files),
                         "cdc_rs.files_removed": sum(1 for a in written.actions if "remove" in a),
                         "cdc_rs.vectors_written": vectors})
        _faults.reached("before_commit")  # bookkeeping and data files written
        _faults.reached("after_data_files")
        return written, lambda: self._commit(written.actions, "MERGE", metadata, batch_id)

    def _create(self, upserts: pa.Table, keys: list[str], metadata: dict[str, Any],
                props: Any) -> Callable[[], None]:
        """The table's first commit: its schema and the batch's rows, in buckets."""
        from deltalake import Schema as DeltaSchema
        from deltalake.transaction import create_table_with_add_actions

        schema = layout.delta_arrow_schema(self._rows_schema)
        partition_by = self._partition_by or []
        check_partition_types(schema, partition_by, self._path)
        rows = self._blank_partitions(upserts.select(schema.names).cast(schema), partition_by,
                                      keys)
        buckets = layout.bucket_count(rows.num_rows, self._target_file_rows)
        adds = layout.write_files(self._store, rows, keys, buckets, partition_by)
        metadata.update({"cdc_rs.rows_copied": 0, "cdc_rs.files_added": len(adds),
                         "cdc_rs.files_removed": 0, "cdc_rs.buckets": buckets})
        _faults.reached("after_data_files")
        return lambda: create_table_with_add_actions(
            self._store.uri, DeltaSchema.from_arrow(schema), adds, mode="error",
            partition_by=partition_by or None, storage_options=self._store.storage_options,
            commit_properties=props())

    def _blank_partitions(self, rows: pa.Table, partition_by: list[str],
                          keys: list[str]) -> pa.Table:
        try:
            return layout.blank_partitions_to_null(rows, partition_by, keys)
        except ValueError as exc:
            raise DeltaTargetError(f"{self._path}: {exc}; nothing of the batch was written") \
                from exc

    def _rewrite(self, plan: _cdc_rs.PlanCore, upserts: pa.Table | None, deletes: pa.Table | None,
                 keys: list[str], metadata: dict[str, Any], props: Any) -> Callable[[], None]:
        """One copy-on-write commit replacing the files of the buckets the batch's keys hash
        to."""
        check_writable(self._dt, self._path)
        schema = pa.schema(self._dt.schema().to_arrow())
        partition_by = list(self._dt.metadata().partition_columns)
        check_partition_types(schema, partition_by, self._path)
        if upserts is not None:
            upserts = self._blank_partitions(upserts.select(schema.names).cast(schema),
                                             partition_by, keys)
        counts = plan.counts
        rows_after = len(self._opened()) + counts.get("inserted", 0) - counts.get("deleted", 0)
        try:
            rewrite = layout.plan_rewrite(self._store, layout.live_files(self._dt), upserts,
                                          deletes, keys, schema, rows_after,
                                          self._target_file_rows)
        except OSError as exc:  # e.g. a file VACUUMed under us: re-open at the latest version
            raise DeltaTargetError(f"reading {self._path} failed: {exc}") from exc
        adds = layout.write_files(self._store, rewrite.rows, keys, rewrite.buckets, partition_by)
        metadata.update({"cdc_rs.rows_copied": rewrite.copied, "cdc_rs.files_added": len(adds),
                         "cdc_rs.files_removed": len(rewrite.removed),
                         "cdc_rs.buckets": rewrite.buckets})
        _faults.reached("after_data_files")
        return lambda: self._dt.create_write_transaction(
            layout.remove_actions(rewrite.removed) + adds, mode="append",
            schema=self._dt.schema(), partition_by=partition_by, commit_properties=props())

    def _snapshot(self) -> None:
        """Every key's state into one bookkeeping file (merge-on-read: with each live key's
        place), so that opening the table reads it instead of the change files."""
        mirror = self._opened()
        merge_on_read = self._files is not None and not mirror.keeps_rows
        state, last = mirror.state(positions=merge_on_read), mirror.last_batch_id
        if state is None or last is None:
            return
        table_version = None
        if merge_on_read and "position" in state.column_names:
            assert self._files is not None
            positions = state.column("position").drop_null().to_numpy()
            state = with_places(state.drop_columns(["position"]), self._files.files, positions)
            table_version = self._version if self._dt is not None else None
        if self._book.write_snapshot(state, last, self._rows_schema, table_version):
            self._since_snapshot = 0


@dataclass
class _Staged:
    """A batch written but not committed (:meth:`DeltaTarget.write`)."""

    metadata: dict[str, Any]  # the commit's custom metadata, "cdc_rs.changes" included
    read_version: int  # the table version the batch was planned against (-1: no table)
    land: Callable[[], None] = lambda: None  # the commit itself
    commits_table: bool = True  # False: the batch is remembered beside a table still to come
    written: BatchFiles | None = None  # merge-on-read: the files it adds
    placed: np.ndarray | None = None  # merge-on-read: each upserted row's position, once committed


# ---------------------------------------------------------------------- helpers


_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


_drain_registered = False


def _let_arrow_threads_finish_at_exit() -> None:
    """The same abort after a user's own ``deltalake`` read (Python filesystem): an atexit
    hook runs while the interpreter is whole, and sleeping releases the GIL, so Arrow's IO
    threads release their Python buffers before finalization. 50 ms per exit, only in
    processes that use a Delta target, only before Python 3.14 (which fixed the cause)."""
    global _drain_registered
    if not _drain_registered and sys.version_info < (3, 14):
        atexit.register(time.sleep, 0.05)
        _drain_registered = True


def _read_rows(dt: Any, store: Store) -> pa.Table:
    try:
        return dt.to_pyarrow_table(filesystem=store.arrow_filesystem())
    except Exception as exc:  # noqa: BLE001 - pyarrow and deltalake raise many kinds
        raise DeltaTargetError(f"{store}: the table's data files cannot be read ({brief_error(exc)});"
                               " restore the missing or damaged file, or the table to a version "
                               "whose files exist") from exc


def _keys_of(changes: pa.Table) -> list[str]:
    return [n.removeprefix("key.") for n in changes.column_names if n.startswith("key.")]
