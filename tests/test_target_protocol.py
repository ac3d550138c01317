"""The Target protocol: one loop (open → plan → write → commit, re-planned on a conflict)
that BatchUpsert runs for every target."""

from __future__ import annotations

import pyarrow as pa
import pytest

import cdc_rs
from cdc_rs.spark import CheckpointedTable, SparkMergeTarget
from cdc_rs.target import Conflict, apply, is_target
from pipeline_probes import Counting


class Flaky(cdc_rs.MemoryTable):
    """A MemoryTable whose commits conflict the first ``conflicts`` times, recording each step."""

    def __init__(self, conflicts: int, max_retries: int = 3) -> None:
        super().__init__()
        self.conflicts, self.max_retries, self.steps = conflicts, max_retries, []

    def open(self, pipeline):
        self.steps.append("open")
        return super().open(pipeline)

    def write(self, plan, batch_id):
        self.steps.append("write")
        return ("staged", batch_id)

    def commit(self, plan, staged, batch_id):
        assert staged == ("staged", batch_id)  # what write returned reaches commit
        self.steps.append("commit")
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict()
        return super().commit(plan, None, batch_id)


BATCH = pa.table({"id": [1, 2, 1], "ts": [1, 1, 2], "v": ["a", "b", "c"]})


def upsert(target):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts")


def test_every_target_has_the_protocol(tmp_path):
    for target in (cdc_rs.MemoryTable(), cdc_rs.DeltaTarget(tmp_path / "t"),
                   SparkMergeTarget("silver", keys="id", sequence_by="ts"),
                   CheckpointedTable(tmp_path / "c")):
        assert is_target(target), target
    assert not (tmp_path / "t").exists()  # checking it opened nothing


def test_a_conflict_re_plans_the_screened_batch_against_a_fresh_state():
    target = Flaky(conflicts=2)
    up = upsert(target)
    counting = Counting(up._pipeline)
    counts, skipped, _ = apply(target, counting, BATCH, 0)
    assert not skipped and counts["inserted"] == 2 and counts["superseded"] == 1
    assert (counting.screened, counting.planned) == (1, 3)
    assert target.steps == ["open", "write", "commit"] * 3
    assert sorted(target.to_arrow().column("v").to_pylist()) == ["b", "c"]


def test_too_many_conflicts_apply_nothing():
    target = Flaky(conflicts=5, max_retries=2)
    with pytest.raises(cdc_rs.ConcurrentWriteError, match="3 attempts, nothing of the batch"):
        upsert(target)(BATCH, 0)
    assert len(target) == 0 and target.last_batch_id is None
    assert target.steps.count("commit") == 3


def test_a_replay_is_counted_without_screening_or_writing():
    target = Flaky(conflicts=0)
    up = upsert(target)
    up(BATCH, 0)
    target.steps.clear()
    counting = Counting(up._pipeline)
    counts, skipped, _ = apply(target, counting, BATCH, 0)
    assert skipped and counts["rows_in"] == 3
    assert counting.screened == 0 and target.steps == ["open"]


def test_a_failing_write_applies_nothing():
    class Broken(cdc_rs.MemoryTable):
        def write(self, plan, batch_id):
            raise cdc_rs.DeltaTargetError("disk full")

    target = Broken()
    with pytest.raises(cdc_rs.DeltaTargetError, match="disk full"):
        upsert(target)(BATCH, 0)
    assert len(target) == 0 and target.last_batch_id is None
    assert upsert(cdc_rs.MemoryTable())(BATCH, 0).inserted == 2


def test_a_stream_that_fails_while_read_is_an_input_error_and_writes_nothing():
    def failing():
        yield BATCH.to_batches()[0]
        raise OSError("connection reset")

    reader = pa.RecordBatchReader.from_batches(BATCH.schema, failing())
    target = Flaky(conflicts=0)
    with pytest.raises(cdc_rs.InputError, match="connection reset"):
        upsert(target)(reader, 0)
    assert "write" not in target.steps and target.last_batch_id is None


def test_an_object_without_the_protocol_is_refused():
    class Old:  # the shape targets had before the protocol
        last_batch_id = None

        def apply_batch(self, pipeline, batch, batch_id):  # pragma: no cover
            raise AssertionError

    with pytest.raises(cdc_rs.ConfigError, match="Target protocol"):
        upsert(Old())


def test_a_target_that_decides_as_it_merges_plans_against_an_empty_state():
    """A Spark MERGE target's plan is the change set (newest per key, deletes too)."""
    target = SparkMergeTarget("silver", keys="id", sequence_by="ts")
    up = cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                             upsert_operations=["u"], delete_operations=["d"])
    state = target.open(up._pipeline)
    batch = pa.table({"id": [1, 2, 1], "ts": [1, 1, 2], "op": ["u", "u", "d"]})
    from cdc_rs._spark_merge import change_rows

    changes = change_rows(up._pipeline.plan(batch, 0, state))
    assert sorted(zip(changes["id"].to_pylist(), changes["_cdc_rs_operation"].to_pylist())) == \
        [(1, "delete"), (2, "upsert")]
    with pytest.raises(cdc_rs.ConfigError, match="dry run"):
        up.plan(batch)


# -- DeltaTarget on the protocol: what a failure at each step means ------------------------


def delta_upsert(path, **kw):
    from cdc_rs.delta import DeltaTarget

    return upsert(DeltaTarget(path, **kw))


def failing_at(monkeypatch, point, error, times=1):
    import cdc_rs._faults as faults

    left = [times]

    def reached(name):
        if name == point and left[0]:
            left[0] -= 1
            raise error

    monkeypatch.setattr(faults, "reached", reached)


def test_a_failure_after_the_commit_landed_is_raised_as_it_is_and_the_batch_stays(tmp_path, monkeypatch):
    pytest.importorskip("deltalake")
    up = delta_upsert(tmp_path / "t", max_retries=0)
    up(BATCH, 0)
    failing_at(monkeypatch, "after_commit", OSError("lost the connection"))
    with pytest.raises(OSError, match="lost the connection"):  # not "nothing committed"
        up(pa.table({"id": [3], "ts": [1], "v": ["d"]}), 1)
    report = up(pa.table({"id": [3], "ts": [1], "v": ["d"]}), 1)
    assert report.skipped_replay  # it is in the table: the retried batch changes nothing
    assert sorted(up.target.to_arrow().column("v").to_pylist()) == ["b", "c", "d"]


def test_a_write_error_is_retried_once_per_call_never_as_a_concurrent_write(tmp_path, monkeypatch):
    pytest.importorskip("deltalake")
    up = delta_upsert(tmp_path / "t", max_retries=0)
    up(BATCH, 0)
    later = pa.table({"id": [3], "ts": [1], "v": ["d"]})
    failing_at(monkeypatch, "before_commit", OSError("No space left on device"), times=1)
    assert up(later, 1).inserted == 1  # one re-open cured it, with max_retries=0
    for _ in range(2):  # the same failure twice: raised, on every call alike
        failing_at(monkeypatch, "before_commit", OSError("No space left on device"), times=2)
        with pytest.raises(cdc_rs.DeltaTargetError, match="No space left") as raised:
            up(pa.table({"id": [4], "ts": [1], "v": ["e"]}), 2)
        assert not isinstance(raised.value, cdc_rs.ConcurrentWriteError)
    assert up.target.last_batch_id == 1


def test_a_failed_dry_run_leaves_the_target_as_it_was(tmp_path):
    pytest.importorskip("deltalake")
    from cdc_rs.delta import DeltaTarget

    upsert(DeltaTarget(tmp_path / "t", app_id="q"))(BATCH, 0)
    target = DeltaTarget(tmp_path / "t")  # no app id: the table's only one is used
    assert (target.last_batch_id, len(target)) == (0, 2)
    with pytest.raises(cdc_rs.TargetStateError):  # as applying it would: another app id
        upsert(target).plan(BATCH)
    assert (target.app_id, target.last_batch_id, len(target)) == (None, 0, 2)


def test_a_checkpointed_table_holds_one_lock_while_it_swaps_in_the_saved_copy(tmp_path):
    first = CheckpointedTable(tmp_path)
    upsert(first)(BATCH, 0)
    fresh = CheckpointedTable(tmp_path)  # a new process's copy, behind the saved one
    lock = fresh.batch_lock()
    up = upsert(fresh)
    assert up(pa.table({"id": [3], "ts": [1], "v": ["d"]}), 1).inserted == 1
    assert fresh.batch_lock() is lock and len(fresh) == 3
    import pickle

    copy = pickle.loads(pickle.dumps(fresh))
    assert copy.last_batch_id == 1 and copy.batch_lock() is not lock


def test_a_checkpointed_table_whose_save_failed_starts_again_from_the_saved_one(tmp_path, monkeypatch):
    table = CheckpointedTable(tmp_path)
    up = upsert(table)
    up(BATCH, 0)

    def full(*a):
        raise cdc_rs.CheckpointError("disk full")

    monkeypatch.setattr(table, "_save", full)
    with pytest.raises(cdc_rs.CheckpointError):
        up(pa.table({"id": [3], "ts": [1], "v": ["d"]}), 1)
    monkeypatch.undo()
    report = up(pa.table({"id": [3], "ts": [1], "v": ["d"]}), 1)  # Spark's retry
    assert not report.skipped_replay and report.inserted == 1
    assert CheckpointedTable(tmp_path).saved().last_batch_id == 1


def test_a_class_is_not_a_target():
    with pytest.raises(cdc_rs.ConfigError, match="Target protocol"):
        upsert(cdc_rs.MemoryTable)
