"""The seam between the engine and the tables it writes: the :class:`Target` protocol.

Every target — :class:`cdc_rs.MemoryTable`, :class:`cdc_rs.DeltaTarget`,
:class:`cdc_rs.spark.SparkMergeTarget`, the checkpointed table of
:func:`cdc_rs.spark.checkpointed` — implements the same four steps, and
:class:`cdc_rs.BatchUpsert` runs them for every micro-batch (:func:`apply`):

1. ``open``: the per-key state the batch is planned against (key, sequence, tombstone and
   where the key's row lives), read from the table when needed;
2. the engine plans the batch against that state, changing nothing (Rust);
3. ``write``: the target stores what the plan adds, not yet visible to readers;
4. ``commit``: the target makes it visible at once, and its state follows.

When another writer changed the table since ``open``, ``write`` or ``commit`` raise
:class:`Conflict` with nothing of the batch visible: the batch is planned again against a
fresh ``open`` — from its screened rows, never decoded twice — up to ``max_retries`` times.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from . import _cdc_rs
from ._report import BatchOutcome
from .exceptions import CdcError, ConcurrentWriteError, InputError

__all__ = ["Conflict", "KeyState", "NoLock", "Target", "apply", "is_target"]


class Conflict(Exception):
    """Raised by :meth:`Target.write` or :meth:`Target.commit` when the table changed since
    :meth:`Target.open`: nothing of the batch is visible and it is planned again.

    With ``failure``: the write failed in a way a fresh :meth:`Target.open` may cure (e.g. a
    file removed by a VACUUM under an old snapshot): the batch is planned once more, and a
    second such failure is raised. Not a :class:`cdc_rs.CdcError`: it never reaches the
    caller of an upsert.
    """

    def __init__(self, failure: BaseException | None = None) -> None:
        super().__init__()
        self.failure = failure


#: The per-key state the engine plans against (what :meth:`Target.open` returns):
#: ``KeyState()`` keeps rows too (a table in memory), ``KeyState(keeps_rows=False)`` only
#: the key index (a target that stores the rows itself).
KeyState = _cdc_rs.TableCore


@runtime_checkable
class Target(Protocol):
    """A silver table :func:`cdc_rs.batch_upsert` writes to (see the module's docstring).

    Example — a target that prints each batch's rows, keeping its state in memory:

        >>> import cdc_rs, pyarrow as pa
        >>> class Printed:
        ...     max_retries, keeps_key_state = 0, True
        ...     def __init__(self):
        ...         self.state, self.lock = cdc_rs.target.KeyState(), cdc_rs.target.NoLock()
        ...     last_batch_id = property(lambda self: self.state.last_batch_id)
        ...     def __len__(self):
        ...         return len(self.state)
        ...     def batch_lock(self):
        ...         return self.lock
        ...     def open(self, pipeline):
        ...         return self.state
        ...     def write(self, plan, batch_id):
        ...         print(plan.upserts().column("v").to_pylist())
        ...     def commit(self, plan, staged, batch_id):
        ...         return self.state.commit(plan)
        >>> upsert = cdc_rs.batch_upsert(Printed(), keys="id", sequence_by="ts")
        >>> upsert(pa.table({"id": [1, 1], "ts": [1, 2], "v": ["a", "b"]}), 0).inserted
        ['b']
        1
    """

    @property
    def max_retries(self) -> int:
        """Times a batch is planned again after a :class:`Conflict` before
        :class:`cdc_rs.ConcurrentWriteError`."""
        ...

    @property
    def keeps_key_state(self) -> bool:
        """``True`` when :meth:`open` gives the table's own key state (what a dry run,
        :meth:`cdc_rs.BatchUpsert.plan`, plans against); ``False`` for a target that decides
        as it merges (a Spark ``MERGE``), whose :meth:`open` gives an empty state."""
        ...

    @property
    def last_batch_id(self) -> int | None:
        """The last batch id applied; batches at or below it are replays."""
        ...

    def __len__(self) -> int:
        """Live rows."""
        ...

    def batch_lock(self) -> AbstractContextManager[Any]:
        """Held for the whole life of a batch: one batch at a time per target."""
        ...

    def open(self, pipeline: _cdc_rs.Pipeline) -> _cdc_rs.TableCore:
        """The per-key state (a :data:`KeyState`) to plan the next batch against
        (``pipeline`` names the query)."""
        ...

    def write(self, plan: _cdc_rs.PlanCore, batch_id: int) -> Any:
        """Store what ``plan`` adds, invisible until :meth:`commit`; returns what
        :meth:`commit` needs (e.g. the files written). May raise :class:`Conflict`."""
        ...

    def commit(self, plan: _cdc_rs.PlanCore, staged: Any, batch_id: int) -> BatchOutcome:
        """Make the batch visible all at once and fold ``plan`` into the state; returns the
        outcome (counters, skipped as a replay, rejected rows). May raise :class:`Conflict`
        (then nothing of the batch is visible)."""
        ...


def is_target(obj: object) -> bool:
    """Whether ``obj`` (an instance) has the :class:`Target` protocol's members. Unlike
    ``isinstance``, it reads no property of the class: ``last_batch_id`` may open a table."""
    members = ("max_retries", "keeps_key_state", "last_batch_id", "__len__", "batch_lock",
               "open", "write", "commit")
    return not isinstance(obj, type) and all(hasattr(type(obj), m) or hasattr(obj, m)
                                             for m in members)


class NoLock:
    """:meth:`Target.batch_lock` of a target used by one thread only."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def apply(target: Target, pipeline: _cdc_rs.Pipeline, batch: Any, batch_id: int) -> BatchOutcome:
    """One micro-batch (Arrow data or a screened batch) into ``target``, all or nothing: the
    loop every :class:`cdc_rs.BatchUpsert` runs."""
    with target.batch_lock():
        state = target.open(pipeline)
        last = state.last_batch_id
        if last is not None and batch_id <= last:  # a replay: counted, not screened
            return state.commit(pipeline.plan(batch, batch_id, state))
        screened = _screened(pipeline, batch, batch_id)
        conflicts, failed = 0, False
        while True:
            plan = pipeline.plan(screened, batch_id, state)
            if plan.skipped_replay:  # another writer applied this batch meanwhile
                return state.commit(plan)
            try:
                return target.commit(plan, target.write(plan, batch_id), batch_id)
            except Conflict as conflict:
                if conflict.failure is not None:  # once per batch, and no concurrent write
                    if failed:
                        raise conflict.failure from conflict.failure.__cause__
                    failed = True
                else:
                    conflicts += 1
                    if conflicts > target.max_retries:
                        raise ConcurrentWriteError(
                            f"batch {batch_id}: {target!r} kept changing under concurrent "
                            f"writers; gave up after {conflicts} attempts, nothing of the "
                            "batch applied") from None
            state = target.open(pipeline)


def _screened(pipeline: _cdc_rs.Pipeline, batch: Any, batch_id: int) -> _cdc_rs.ScreenedBatch:
    """The batch decoded and filtered once, kept for re-planning after a conflict. A stream
    that fails while it is read raises here, before anything is planned or written: a
    half-read stream must never be committed as a (short or empty) batch."""
    if isinstance(batch, _cdc_rs.ScreenedBatch):
        return batch
    try:
        return pipeline.screen(batch)
    except CdcError:
        raise
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the stream's source raised
        raise InputError(f"batch {batch_id}: reading the micro-batch failed, nothing of it was "
                         f"applied and the batch id is still free: {exc}") from exc
