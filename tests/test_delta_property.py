"""Property: on any sequence of batches (ties, late events, deletes, nulls, replays, a fresh
process now and then), a DeltaTarget of either kind, partitioned or not, on a local disk or
on S3, holds exactly the MemoryTable's rows, and Delta readers see exactly those rows."""

from __future__ import annotations

import itertools
from unittest import mock

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs._merge_on_read import FileIndex  # noqa: E402
from cdc_rs.delta import DeltaTarget  # noqa: E402

from delta_readers import read_with_deltalake, read_with_polars  # noqa: E402

event = st.tuples(st.integers(0, 9),                       # id
                  st.integers(0, 5),                       # ts: few values, so ties happen
                  st.sampled_from(["insert", "update", "delete"]),
                  st.sampled_from(["a", "b", None]),       # region: a key may move
                  st.one_of(st.none(), st.text("xyz", max_size=3)))
batch = st.lists(event, min_size=0, max_size=12)
# (events, reopen first, replay after, compact after)
step = st.tuples(batch, st.booleans(), st.booleans(), st.booleans())

_runs = itertools.count()


def upsert(target):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               delete_operations=["delete"])


def table(events) -> pa.Table:
    cols = list(zip(*events)) if events else [[], [], [], [], []]
    return pa.table({"id": pa.array(cols[0], pa.int64()), "ts": pa.array(cols[1], pa.int64()),
                     "op": pa.array(cols[2], pa.string()), "region": pa.array(cols[3], pa.string()),
                     "v": pa.array(cols[4], pa.string())})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=7), merge_on_read=st.booleans(),
       partitioned=st.booleans())
def test_delta_target_equals_memory_table(tmp_path, steps, merge_on_read, partitioned):
    check(tmp_path / f"t{next(_runs)}", None, steps, merge_on_read, partitioned)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=6), merge_on_read=st.booleans(),
       partitioned=st.booleans())
def test_delta_target_on_s3_equals_memory_table(s3_server, steps, merge_on_read, partitioned):
    check(f"s3://{s3_server.new_bucket()}/silver", s3_server.storage_options, steps,
          merge_on_read, partitioned)


def check(location, options, steps, merge_on_read, partitioned):
    """The batches through a DeltaTarget at ``location`` and through a MemoryTable: the same
    reports, and every reader sees the MemoryTable's rows."""
    def open_target():
        return upsert(DeltaTarget(location, storage_options=options,
                                  deletion_vectors=merge_on_read, snapshot_every=2,
                                  checkpoint_every=3, target_file_rows=4,
                                  partition_by="region" if partitioned else None))

    memory, delta = upsert(None), open_target()
    # a merge-on-read table is reopened from the places its bookkeeping records, never by
    # reading the data files' keys
    with mock.patch.object(FileIndex, "live_keys", side_effect=AssertionError("keys read")):
        for batch_id, (events, reopen, replay, compact) in enumerate(steps):
            if reopen:
                delta = open_target()
            a, b = delta(table(events), batch_id), memory(table(events), batch_id)
            assert a.to_dict() | {"seconds": 0} == b.to_dict() | {"seconds": 0}
            if replay:
                assert delta(table(events), batch_id).skipped_replay
            if compact:
                delta.target.optimize(min_deleted_fraction=0.0)
    want = memory.target.to_arrow()
    if want.num_rows == 0:
        return
    want = want.sort_by("id")
    readers = [lambda: read_with_deltalake(location, storage_options=options),
               lambda: read_with_polars(location, storage_options=options),
               lambda: open_target().target.to_arrow()]
    for reader in readers:
        got = reader().select(want.column_names).sort_by("id")
        assert got.cast(want.schema).equals(want)
    assert len(open_target().target) == want.num_rows
