"""Snapshots (AUTO CDC FROM SNAPSHOT): each full snapshot is applied as its difference from
the previous one; unchanged rows are never written."""

from __future__ import annotations

import math
import pickle

import cloudpickle
import pyarrow as pa
import pytest

import cdc_rs
from cdc_rs._snapshot import OPERATION, VERSION


def snap(ids, values, **more) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "v": pa.array(values, pa.string()), **more})


def rows(flow) -> dict:
    table = flow.target.to_arrow()
    return dict(zip(table.column("id").to_pylist(), table.column("v").to_pylist()))


def counts(report) -> tuple:
    return (report.inserted, report.updated, report.deleted, report.unchanged)


def test_new_keys_are_inserted_changed_rows_updated_vanished_keys_deleted():
    flow = cdc_rs.snapshot_upsert(keys="id")
    first = flow(snap([1, 2, 3], ["a", "b", "c"]), 1)
    assert counts(first) == (3, 0, 0, 0)
    second = flow(snap([1, 2, 4], ["a", "B", "d"]), 2)
    assert counts(second) == (1, 1, 1, 1)
    assert second.rows_in == 3 and second.accounted == 3
    assert rows(flow) == {1: "a", 2: "B", 4: "d"}


def test_unchanged_rows_never_reach_the_target():
    table = cdc_rs.MemoryTable()
    flow = cdc_rs.snapshot_upsert(table, keys="id")
    flow(snap(list(range(100)), ["x"] * 100), 1)
    report = flow(snap(list(range(100)), ["x"] * 99 + ["changed"]), 2)
    assert counts(report) == (0, 1, 0, 99)
    # the target's per-key state: only key 99 was written by snapshot 2
    state = table.state().to_pydict()
    versions = dict(zip(state["key.id"], state[f"sequence.{VERSION}"]))
    assert versions.pop(99) == 2 and set(versions.values()) == {1}


def test_the_hidden_columns_are_not_stored():
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(snap([1], ["a"]), 1)
    assert flow.target.to_arrow().column_names == ["id", "v"]


def test_an_empty_snapshot_deletes_everything():
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(snap([1, 2], ["a", "b"]), 1)
    report = flow(snap([], []), 2)
    assert counts(report) == (0, 0, 2, 0) and report.rows_in == 0
    assert len(flow.target) == 0
    assert counts(flow(snap([2], ["b"]), 3)) == (1, 0, 0, 0)  # a deleted key comes back


def test_a_key_twice_in_one_snapshot_is_an_error_naming_it_and_applies_nothing():
    flow = cdc_rs.snapshot_upsert(keys=["id", "v"])
    flow(snap([1], ["a"]), 1)
    with pytest.raises(cdc_rs.InputError, match=r"\(id=7, v=x\)"):
        flow(snap([5, 7, 7], ["a", "x", "x"]), 2)
    assert rows(flow) == {1: "a"} and flow.last_version == 1
    assert counts(flow(snap([1, 7], ["a", "x"]), 2)) == (1, 0, 0, 1)


def test_rows_with_a_null_key_are_rejected_as_batch_upsert_rejects_them():
    flow = cdc_rs.snapshot_upsert(keys="id")
    report = flow(snap([1, None, None], ["a", "b", "c"]), 1)
    assert (report.inserted, report.null_keys, report.rows_in) == (1, 2, 3)
    assert report.rejected.column_names == ["id", "v", "reason"]
    assert report.rejected.column("reason").to_pylist() == ["null_key", "null_key"]
    assert report.rejected.column("v").to_pylist() == ["b", "c"]
    assert rows(flow) == {1: "a"}


def test_a_version_not_above_the_last_is_skipped_as_a_replay():
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(snap([1], ["a"]), 5)
    for version in (5, 3):
        report = flow(snap([1, 2], ["z", "z"]), version)
        assert report.skipped_replay and report.rows_in == 2 and counts(report) == (0, 0, 0, 0)
    assert rows(flow) == {1: "a"}
    assert counts(flow(snap([1, 2], ["a", "b"]), 6)) == (1, 0, 0, 1)


def test_a_snapshot_with_other_columns_is_a_schema_error():
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(snap([1], ["a"]), 1)
    with pytest.raises(cdc_rs.SchemaError, match=r'new \["w"\]'):
        flow(snap([1], ["a"], w=pa.array([1])), 2)
    with pytest.raises(cdc_rs.SchemaError, match=r'missing \["v"\]'):
        flow(pa.table({"id": [1]}), 2)
    with pytest.raises(cdc_rs.SchemaError, match='"v"'):  # a value would change
        flow(pa.table({"id": [1], "v": [1.5]}), 2)
    assert rows(flow) == {1: "a"}


def test_types_that_keep_every_value_are_no_schema_change_and_no_row_change():
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(snap([1, 2], ["a", "b"]), 1)
    same = pa.table({"id": pa.array([1, 2], pa.int32()), "v": pa.array(["a", "b"], pa.large_string())})
    assert counts(flow(same, 2)) == (0, 0, 0, 2)
    views = pa.table({"id": pa.array([1, 2]), "v": pa.array(["a", "c"], pa.string_view())})
    assert counts(flow(views, 3)) == (0, 1, 0, 1)
    assert flow.target.to_arrow().schema == pa.schema([("id", pa.int64()), ("v", pa.string())])


def test_a_null_that_stays_null_is_no_change_and_null_to_value_is():
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(snap([1, 2], [None, None]), 1)
    assert counts(flow(snap([1, 2], [None, "x"]), 2)) == (0, 1, 0, 1)
    assert counts(flow(snap([1, 2], [None, None]), 3)) == (0, 1, 0, 1)


def test_floats_compare_as_spark_compares_them():
    """-0.0 equals 0.0 and every NaN equals every NaN: no change, nothing rewritten."""
    flow = cdc_rs.snapshot_upsert(keys="id")
    nan_bits = pa.array([0x7FF8000000000001], pa.uint64()).view(pa.float64())
    first = pa.table({"id": [1, 2, 3], "f": [0.0, math.nan, 1.0]})
    flow(first, 1)
    second = pa.table({"id": [1, 2, 3], "f": pa.concat_arrays([
        pa.array([-0.0]), nan_bits, pa.array([1.5])])})
    assert counts(flow(second, 2)) == (0, 1, 0, 2)
    keys = pa.table({"id": [-0.0, math.nan], "f": [1.0, 1.0]})
    flow2 = cdc_rs.snapshot_upsert(keys="id")
    flow2(keys, 1)
    assert counts(flow2(pa.table({"id": [0.0, -math.nan], "f": [1.0, 1.0]}), 2)) == (0, 0, 0, 2)


def test_columns_and_except_column_list_choose_the_target_columns():
    data = snap([1, 2], ["a", "b"], note=pa.array(["n1", "n2"]))
    flow = cdc_rs.snapshot_upsert(keys="id", columns=["id", "v"])
    flow(data, 1)
    assert flow.target.to_arrow().column_names == ["id", "v"]
    # a change in a column left out is no change
    assert counts(flow(snap([1, 2], ["a", "b"], note=pa.array(["X", "Y"])), 2)) == (0, 0, 0, 2)
    flow = cdc_rs.snapshot_upsert(keys="id", except_column_list=["note"])
    flow(data, 1)
    assert flow.target.to_arrow().column_names == ["id", "v"]
    flow = cdc_rs.snapshot_upsert(keys="id", column_list=["id", "note"])
    flow(data, 1)
    assert flow.target.to_arrow().column_names == ["id", "note"]


@pytest.mark.parametrize("bad", [
    dict(columns=["id"], column_list=["id"]),
    dict(columns=["id"], except_column_list=["v"]),
    dict(stored_as_scd_type=2),
    dict(keys=[]),
])
def test_options_that_cannot_work_are_config_errors(bad):
    with pytest.raises(cdc_rs.ConfigError):
        cdc_rs.snapshot_upsert(**({"keys": "id"} | bad))


def test_a_column_named_like_a_hidden_one_or_a_missing_key_is_a_config_error():
    with pytest.raises(cdc_rs.ConfigError, match=OPERATION):
        cdc_rs.snapshot_upsert(keys="id")(snap([1], ["a"], **{OPERATION: pa.array(["x"])}), 1)
    with pytest.raises(cdc_rs.ConfigError, match='"nope"'):
        cdc_rs.snapshot_upsert(keys="nope")(snap([1], ["a"]), 1)


def test_any_input_batch_upsert_takes_is_a_snapshot():
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(pd.DataFrame({"id": [1, 2], "v": ["a", "b"]}), 1)
    assert counts(flow(pl.DataFrame({"id": [1, 2], "v": ["a", "c"]}), 2)) == (0, 1, 0, 1)
    reader = pa.RecordBatchReader.from_batches(
        snap([], []).schema, snap([1, 2, 3], ["a", "c", "d"]).to_batches(max_chunksize=1))
    assert counts(flow(reader, 3)) == (1, 0, 0, 2)


def test_a_snapshot_in_many_record_batches_diffs_like_one():
    big = snap(list(range(200_000)), [str(i % 7) for i in range(200_000)])
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(big, 1)
    changed = big.set_column(1, "v", pa.array([str(i % 5) for i in range(200_000)]))
    report = flow(pa.Table.from_batches(changed.to_batches(max_chunksize=30_000)), 2)
    same = sum(1 for i in range(200_000) if i % 7 == i % 5)
    assert counts(report) == (0, 200_000 - same, 0, same)


def test_apply_all_takes_pairs_and_skips_replayed_versions():
    flow = cdc_rs.snapshot_upsert(keys="id")
    reports = flow.apply_all([(snap([1], ["a"]), 1), (snap([1, 2], ["a", "b"]), 2),
                              (snap([9], ["z"]), 2), (snap([2], ["b"]), 3)], progress=False)
    assert [r.skipped_replay for r in reports] == [False, False, True, False]
    assert [counts(r) for r in reports][-1] == (0, 0, 1, 1)
    assert rows(flow) == {2: "b"}


def test_apply_all_calls_a_source_function_with_the_latest_version_until_it_returns_none():
    snapshots = {1: snap([1], ["a"]), 2: snap([1], ["b"]), 4: snap([2], ["c"])}
    asked = []

    def next_snapshot(latest):
        asked.append(latest)
        later = [v for v in sorted(snapshots) if latest is None or v > latest]
        return (snapshots[later[0]], later[0]) if later else None

    flow = cdc_rs.snapshot_upsert(keys="id")
    reports = flow.apply_all(next_snapshot, progress=False)
    assert asked == [None, 1, 2, 4]
    assert [r.batch_id for r in reports] == [1, 2, 4]
    assert rows(flow) == {2: "c"}
    assert flow.apply_all(next_snapshot, progress=False) == []  # nothing newer: no call applies


def test_a_source_function_that_does_not_move_forward_is_an_error():
    flow = cdc_rs.snapshot_upsert(keys="id")
    with pytest.raises(cdc_rs.InputError, match="versions must increase"):
        flow.apply_all(lambda latest: (snap([1], ["a"]), 1), progress=False)
    assert flow.last_version == 1  # the first call was applied


def test_apply_all_stops_at_the_first_error_keeping_what_came_before():
    flow = cdc_rs.snapshot_upsert(keys="id")
    with pytest.raises(cdc_rs.InputError):
        flow.apply_all([(snap([1], ["a"]), 1), (snap([2, 2], ["b", "b"]), 2),
                        (snap([3], ["c"]), 3)], progress=False)
    assert rows(flow) == {1: "a"}


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_a_pickled_flow_carries_its_target_and_its_state(dumps):
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(snap([1, 2], ["a", "b"]), 1)
    copy = pickle.loads(dumps(flow))
    report = copy(snap([1, 2, 3], ["a", "B", "c"]), 2)
    assert counts(report) == (1, 1, 0, 1)
    assert rows(copy) == {1: "a", 2: "B", 3: "c"}
    assert rows(flow) == {1: "a", 2: "b"}  # the original is untouched


def test_without_its_state_a_flow_rebuilds_it_from_the_target_rows():
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(snap([1, 2], ["a", "b"]), 1)
    fresh = cdc_rs.snapshot_upsert(flow.target, keys="id")  # the same table, no state
    assert counts(fresh(snap([1, 3], ["a", "c"]), 2)) == (1, 0, 1, 1)
    assert rows(fresh) == {1: "a", 3: "c"}
