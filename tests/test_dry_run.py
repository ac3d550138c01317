"""``BatchUpsert.plan``: a dry run reports what a batch would do, changes nothing, and
agrees with applying the batch."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cdc_rs


def upsert(target=None):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               delete_operations=["delete"])


def rows(*events):
    ids, ts, ops, vs = zip(*events)
    return pa.table({"id": pa.array(ids, pa.int64()), "ts": pa.array(ts, pa.int64()),
                     "op": list(ops), "v": pa.array(vs, pa.string())})


event = st.tuples(st.one_of(st.none(), st.integers(0, 6)), st.integers(0, 4),
                  st.sampled_from(["insert", "update", "delete", "other"]),
                  st.sampled_from(["a", "b", None]))


@settings(max_examples=60, deadline=None)
@given(history=st.lists(st.lists(event, min_size=1, max_size=8), max_size=4),
       batch=st.lists(event, min_size=1, max_size=8))
def test_a_dry_run_is_what_applying_does_and_changes_nothing(history, batch):
    up = upsert()
    for i, events in enumerate(history):
        up(rows(*events), i)
    before = up.target.to_arrow()
    dry = up.plan(rows(*batch))
    assert up.target.to_arrow().equals(before)
    applied = up(rows(*batch), len(history))
    assert dry.report.to_dict() | {"seconds": 0} == applied.to_dict() | {"seconds": 0}
    assert dry.report.rejected.equals(applied.rejected)
    after = {r["id"]: r for r in up.target.to_arrow().to_pylist()}
    assert all(after.get(r["id"]) == r for r in dry.upserts.to_pylist())
    deleted = set(dry.deletes.column("id").to_pylist()) if dry.deletes.num_rows else set()
    assert not deleted & set(after)
    assert dry.upserts.num_rows == applied.inserted + applied.updated
    assert len(deleted) == applied.deleted


def test_a_dry_run_on_a_delta_table_writes_nothing(tmp_path):
    deltalake = pytest.importorskip("deltalake")
    up = upsert(cdc_rs.DeltaTarget(tmp_path / "t"))
    up(rows((1, 1, "insert", "a"), (2, 1, "insert", "b")), 0)
    version = deltalake.DeltaTable(str(tmp_path / "t")).version()
    fresh = upsert(cdc_rs.DeltaTarget(tmp_path / "t"))  # a new process's view
    dry = fresh.plan(rows((1, 2, "update", "a2"), (2, 2, "delete", None), (3, 1, "insert", "c")))
    assert (dry.report.batch_id, dry.report.updated, dry.report.deleted,
            dry.report.inserted) == (1, 1, 1, 1)
    assert dry.deletes.column("id").to_pylist() == [2]
    assert deltalake.DeltaTable(str(tmp_path / "t")).version() == version
    assert fresh(rows((1, 2, "update", "a2")), 1).updated == 1


def test_a_dry_run_of_a_replayed_batch_id_says_so():
    up = upsert()
    up(rows((1, 1, "insert", "a")), 0)
    dry = up.plan(rows((1, 2, "update", "b")), 0)
    assert dry.report.skipped_replay and dry.upserts.num_rows == 0


def test_a_target_without_key_state_cannot_dry_run():
    class Blind(cdc_rs.MemoryTable):  # a target that decides as it merges, as Spark's does
        keeps_key_state = False

    with pytest.raises(cdc_rs.ConfigError, match="dry run"):
        upsert(Blind()).plan(rows((1, 1, "insert", "a")))

