"""``snapshot_upsert``: Databricks' ``AUTO CDC FROM SNAPSHOT`` — a table kept equal to the
latest of a series of full snapshots, each applied as its difference from the previous one.

The difference is computed in Rust (:func:`cdc_rs._cdc_rs.snapshot_diff`) against the state
of the previous snapshot (each key with a fingerprint of its row) and applied as one
micro-batch through the ordinary :class:`cdc_rs.BatchUpsert`, so every target works: new
keys and changed rows are upserts, vanished keys deletes, unchanged rows are never written.
The change batch's two extra columns (the operation and the snapshot version, the batch's
sequence) are not stored in the target. Its batch id is the snapshot version.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

from . import _cdc_rs
from . import _checks as checks
from ._input import as_arrow
from ._locks import TargetLock
from ._report import OUTCOMES, BatchReport
from ._snapshot_state import StateKeeper, keeper_for, keeps_states, restore, state_table
from ._types import MicroBatch
from ._upsert import BatchUpsert, batch_upsert
from .exceptions import ConfigError, InputError
from .target import Target

#: The change batch's operation column: "upsert" or "delete" (not stored in the target).
OPERATION = "__cdc_rs_snapshot_operation"
#: The change batch's sequence column: the snapshot version (not stored in the target).
VERSION = "__cdc_rs_snapshot_version"

#: What :meth:`SnapshotUpsert.apply_all` takes: ``(snapshot, version)`` pairs, or Databricks'
#: source function ``next_snapshot(latest_version) -> (snapshot, version) | None``.
SnapshotSource = Union[Iterable[tuple[MicroBatch, int]],
                       Callable[[Union[int, None]], Union[tuple[MicroBatch, int], None]]]


@dataclasses.dataclass(frozen=True)
class SnapshotReport(BatchReport):
    """A :class:`cdc_rs.BatchReport` of one snapshot (``batch_id`` is its version).

    ``rows_in`` counts the snapshot's rows: ``inserted + updated + unchanged + null_keys``
    (rows with a null key are in ``rejected``). ``deleted`` counts the keys of the previous
    snapshot this one lacks, which are not rows of it.
    """

    unchanged: int = 0

    @property
    def accounted(self) -> int:
        """Rows of the snapshot that landed in a counter; equals ``rows_in`` unless skipped."""
        counted: int = sum(getattr(self, name) for name in OUTCOMES)
        return counted - self.deleted + self.unchanged


class SnapshotUpsert:
    """A table kept equal to the latest snapshot: call it with ``(snapshot, version)``.

    Built by :func:`snapshot_upsert`. Picklable: the copy carries its configuration, a copy
    of its target, and (unless the target keeps it, as a Delta table does) the state of
    the last snapshot. Calls on one flow are serialised.
    """

    def __init__(self, target: Target, config: dict[str, Any],
                 saved: tuple[int, Any] | None = None) -> None:
        self._target = target
        self._config = config
        # A target that decides as it merges (a Spark MERGE) compares the version in the table.
        hidden = [OPERATION, VERSION] if target.keeps_key_state else [OPERATION]
        self._upsert: BatchUpsert = batch_upsert(
            target, keys=config["keys"], sequence_by=VERSION, operation_column=OPERATION,
            upsert_operations=["upsert"], delete_operations=["delete"],
            except_column_list=hidden)
        self._lock = TargetLock()
        # (version, state) of the last snapshot this flow applied or loaded
        self._state: tuple[int, _cdc_rs.SnapshotState] | None = None
        if saved is not None:
            state = restore(saved[1], config["keys"])
            self._state = None if state is None else (saved[0], state)

    @property
    def target(self) -> Target:
        """The table this flow writes to."""
        return self._target

    @property
    def last_version(self) -> int | None:
        """The version of the last snapshot applied to the target (None: none yet)."""
        with self._lock:
            return self._last_version()

    def __call__(self, snapshot: MicroBatch, version: int) -> SnapshotReport:
        """Apply one full snapshot: the target then holds exactly its rows.

        Args:
            snapshot: every row of the table at ``version`` (anything
                :func:`cdc_rs.batch_upsert` takes: pyarrow, polars, duckdb, pandas…).
            version: the snapshot's version, greater than the last applied one; one at or
                below it is skipped as a replay (``report.skipped_replay``).

        Returns:
            A :class:`SnapshotReport`: rows inserted, updated, unchanged and deleted.

        Raises:
            InputError: the snapshot has two rows with one key (naming it); nothing applied.
            SchemaError: its columns are not the previous snapshot's, or a type changed so
                that a value would; nothing applied.
        """
        started = time.perf_counter()
        version = checks.batch_id(version)
        data = as_arrow(snapshot)
        with self._lock, self._target.batch_lock():
            last = self._last_version()
            if last is not None and version <= last:  # counted by the engine, not compared
                report = self._upsert(data, version) if self._target.last_batch_id is not None \
                    else BatchReport(version, skipped_replay=True)
                return self._report(report, None, started)
            previous = self._previous(last)
            diff = self._diff(data, previous, version, self._config)
            keeper = self._keeper()
            saved = None if keeper is None else keeper.save(diff.state, version)
            try:
                report = self._upsert(diff.changes(), version)
            except BaseException:
                if keeper is not None and saved is not None:
                    keeper.abandon(saved)  # at worst, the next call rebuilds the state
                raise
            if report.skipped_replay:  # another writer applied this version meanwhile
                if keeper is not None and saved is not None:
                    keeper.abandon(saved)
                return self._report(report, None, started)
            self._state = (version, diff.state)
            if keeper is not None and saved is not None:
                keeper.committed(saved, version)
        return self._report(report, diff.counts, started)

    def apply_all(self, source: SnapshotSource, *, progress: bool = True) -> list[SnapshotReport]:
        """Apply snapshots in order, as Databricks' ``create_auto_cdc_from_snapshot_flow`` does.

        Args:
            source: ``(snapshot, version)`` pairs in increasing version order (a version at or
                below the last applied one is skipped as a replay); or a function
                ``next_snapshot(latest_version)`` returning the next ``(snapshot, version)``
                after ``latest_version`` (``None`` before the first) or ``None`` when there is
                none yet — Databricks' source function. It is called until it returns ``None``;
                a version not above ``latest_version`` is an :class:`InputError`.
            progress: show a tqdm progress bar on stderr.

        Returns:
            One :class:`SnapshotReport` per snapshot. The first error is raised; the snapshots
            before it stay applied, nothing of the failing one is.
        """
        from tqdm import tqdm

        total = len(source) if isinstance(source, Sequence) else None
        reports: list[SnapshotReport] = []
        with tqdm(total=total, unit="snapshot", desc="snapshots", disable=not progress) as bar:
            for snapshot, version in self._snapshots(source):
                reports.append(self(snapshot, version))
                bar.update(1)
        return reports

    def _snapshots(self, source: SnapshotSource) -> Iterable[tuple[MicroBatch, int]]:
        if not callable(source):
            for pair in source:
                yield _pair(pair)
            return
        while True:
            latest = self.last_version
            got = source(latest)
            if got is None:
                return
            snapshot, version = _pair(got)
            if latest is not None and version <= latest:
                raise InputError(f"the source function returned version {version} after the "
                                 f"latest version {latest}: versions must increase (return None "
                                 "when there is no newer snapshot)")
            yield snapshot, version

    def _last_version(self) -> int | None:
        """The target's last batch id; for a target that records none (a Spark MERGE), the
        version of the last snapshot this flow applied."""
        last = self._target.last_batch_id
        if last is None and self._state is not None:
            return self._state[0]
        return last

    def _keeper(self) -> StateKeeper | None:
        return keeper_for(self._target, self._config["keys"])

    def _previous(self, last: int | None) -> _cdc_rs.SnapshotState | None:
        """The state of the snapshot the target holds: this flow's own, else the one kept
        beside the target, else rebuilt from the target's rows (None: an empty target)."""
        if self._state is not None and self._state[0] == last:
            return self._state[1]
        self._state = None
        if last is None and len(self._target) == 0:
            return None
        keeper = self._keeper() if last is not None else None
        kept = None if keeper is None or last is None else keeper.load(last, self._config["keys"])
        if kept is None:
            kept = self._rebuilt(last)
        if last is not None and kept is not None:
            self._state = (last, kept)
        return kept

    def _rebuilt(self, last: int | None) -> _cdc_rs.SnapshotState | None:
        """The state of the target's rows, as if they were the last snapshot (None: it has
        none, e.g. a Delta table not created yet)."""
        to_arrow = getattr(self._target, "to_arrow", None)
        if to_arrow is None:
            raise ConfigError(f"{type(self._target).__name__} holds rows but no snapshot state, "
                              "and has no to_arrow() to rebuild it from")
        rows = to_arrow()
        if rows.num_rows == 0:
            return None
        rows = rows.drop_columns([c for c in (OPERATION, VERSION) if c in rows.column_names])
        return self._diff(rows, None, -1 if last is None else last,
                          {"keys": self._config["keys"], "columns": None,
                           "except_column_list": []}).state

    @staticmethod
    def _diff(data: Any, previous: _cdc_rs.SnapshotState | None, version: int,
              config: dict[str, Any]) -> _cdc_rs.SnapshotDiff:
        return _cdc_rs.snapshot_diff(
            data, previous, keys=config["keys"], version=version, operation_column=OPERATION,
            version_column=VERSION, columns=config["columns"],
            except_column_list=config["except_column_list"])

    def _report(self, report: BatchReport, counts: dict[str, int] | None,
                started: float) -> SnapshotReport:
        fields = {f.name: getattr(report, f.name) for f in dataclasses.fields(BatchReport)}
        fields["seconds"] = time.perf_counter() - started
        hidden = [c for c in (OPERATION, VERSION) if c in report.rejected.column_names]
        fields["rejected"] = report.rejected.drop_columns(hidden)
        if counts is not None:
            fields["rows_in"] = counts["rows_in"]
            fields["unchanged"] = counts["unchanged"]
        return SnapshotReport(**fields)

    def with_target(self, target: Target) -> SnapshotUpsert:
        """The same flow, writing to ``target`` (it starts from ``target``'s rows)."""
        return SnapshotUpsert(target, self._config)

    def __reduce__(self) -> tuple[Any, ...]:
        with self._lock:
            state = self._state
        saved = None
        if state is not None and not keeps_states(self._target):  # else the target keeps it
            saved = (state[0], state_table(state[1]))
        return (SnapshotUpsert, (self._target, self._config, saved))

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._config.items() if v not in (None, (), [])}
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"SnapshotUpsert({self._target!r}, {args})"


def _pair(pair: Any) -> tuple[MicroBatch, int]:
    try:
        snapshot, version = pair
    except (TypeError, ValueError):
        raise InputError(f"expected a (snapshot, version) pair, got {type(pair).__name__}") \
            from None
    return snapshot, checks.batch_id(version)


def snapshot_upsert(
    target: Target | None = None,
    *,
    keys: str | Sequence[str],
    columns: Sequence[str] | None = None,
    except_column_list: Sequence[str] | None = None,
    column_list: Sequence[str] | None = None,
    stored_as_scd_type: int | str = 1,
) -> SnapshotUpsert:
    """Keep ``target`` equal to the latest of a series of full snapshots (Databricks'
    ``AUTO CDC FROM SNAPSHOT``, ``create_auto_cdc_from_snapshot_flow``), SCD type 1.

    Each snapshot is compared with the previous one, in Rust, key by key: a key that is new
    is inserted, a row that differs in any target column is updated, a key that vanished is
    deleted, and an unchanged row is not written at all (a Delta target commits only the
    changed rows). Nulls equal nulls; floats compare as Spark compares them (``-0.0`` equals
    ``0.0``, NaN equals NaN), top-level float columns at least: a float nested in a struct or
    list is compared by its bits.

    The previous snapshot is remembered as each key with a 64-bit fingerprint of its row:
    in memory, and beside a :class:`cdc_rs.DeltaTarget` (``_cdc_rs/<app_id>/snapshots/``),
    so a new process picks up where the last one stopped. Without it (another target, or a
    lost file) it is rebuilt from the target's rows.

    Args:
        target: the table (default: a new :class:`MemoryTable`; a path: a Delta table). Write
            it with this flow only: its batch ids are the snapshot versions.
        keys: key column(s) identifying a row; a snapshot holds one row per key.
        columns: the target columns (default: every column of the snapshot).
        except_column_list: or every column but these.
        column_list: ``columns`` under its AUTO CDC name; give one of the two.
        stored_as_scd_type: ``1`` (the only type supported: the target keeps the current
            row per key).

    Returns:
        A picklable :class:`SnapshotUpsert`, called as ``flow(snapshot, version)``, or
        ``flow.apply_all(source)`` over many snapshots.

    Raises:
        ConfigError: an option that cannot work (SCD type 2, ``columns`` with
            ``except_column_list``…).

    Example:
        >>> import cdc_rs, pyarrow as pa
        >>> flow = cdc_rs.snapshot_upsert(keys="id")
        >>> _ = flow(pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}), 1)
        >>> r = flow(pa.table({"id": [1, 2, 4], "v": ["a", "B", "d"]}), 2)
        >>> (r.inserted, r.updated, r.deleted, r.unchanged)
        (1, 1, 1, 1)
        >>> flow.target.to_arrow().sort_by("id").to_pydict()
        {'id': [1, 2, 4], 'v': ['a', 'B', 'd']}
    """
    if str(stored_as_scd_type) != "1":
        raise ConfigError(f"stored_as_scd_type={stored_as_scd_type!r}: only SCD type 1 (the "
                          "current row per key) is supported")
    if column_list is not None:
        if columns is not None:
            raise ConfigError("give columns= or its AUTO CDC name column_list=, not both")
        columns = column_list
    if columns is not None and except_column_list:
        raise ConfigError("give columns or except_column_list, not both")
    keys = checks.names(keys, "keys")
    if not keys:
        raise ConfigError("keys must name at least one column")
    config = {
        "keys": keys,
        "columns": None if columns is None else checks.names(columns, "columns"),
        "except_column_list": checks.names(except_column_list or (), "except_column_list"),
    }
    upsert = batch_upsert(target, keys=keys, sequence_by=VERSION)  # checks the target
    return SnapshotUpsert(upsert.target, config)
