"""DeltaTarget's key-bucketed files: a batch rewrites the files of the buckets it touches only."""

from __future__ import annotations

import re
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

deltalake = pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs import _cdc_rs  # noqa: E402
from cdc_rs.delta import DeltaTarget, DeltaTargetError  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

pytestmark = pytest.mark.usefixtures("copy_on_write")

NAME = re.compile(r"^cdc-h1-b(\d{5})-of-(\d{5})-[0-9a-f]{32}\.parquet$")


def upsert(target, **kw):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               delete_operations=["delete"], **kw)


def batch(ids, ts, op="update", region=None):
    n = len(ids)
    cols = {"id": pa.array(ids, pa.int64()), "ts": [ts] * n, "op": [op] * n,
            "v": [f"v{i}-{ts}" for i in ids]}
    if region is not None:
        cols["region"] = region if isinstance(region, list) else [region] * n
    return pa.table(cols)


def last_commit(path) -> dict:
    return DeltaTable(str(path)).history(1)[0]


def assert_layout(path, keys=("id",)):
    """Every live file is ours, named by the bucket all its keys hash to, one per bucket
    and partition."""
    dt = DeltaTable(str(path))
    actions = pa.table(dt.get_add_actions(flatten=False)).to_pylist()
    table = dt.to_pyarrow_table()
    seen, counts = set(), set()
    for a in actions:
        m = NAME.match(a["path"].rsplit("/", 1)[-1])
        assert m, a["path"]
        bucket, buckets = int(m[1]), int(m[2])
        counts.add(buckets)
        part = tuple(sorted((a.get("partition") or {}).items()))
        assert (bucket, part) not in seen
        seen.add((bucket, part))
        data = pq.read_table(path / unquote(a["path"]), columns=list(keys))
        hashes = pa.array(_cdc_rs.key_hashes(data)).to_numpy()
        assert set((hashes & np.uint64(buckets - 1)).tolist()) <= {bucket}
        assert data.num_rows == a["num_records"]
    assert len(counts) <= 1
    assert pc.count_distinct(table["id"]).as_py() == table.num_rows  # no duplicate key


def test_a_batch_of_few_keys_rewrites_few_files(tmp_path):
    path = tmp_path / "t"
    up = upsert(DeltaTarget(path, target_file_rows=1000))
    up(batch(list(range(50_000)), 1, "insert"), 0)
    meta = last_commit(path)
    assert meta["cdc_rs.buckets"] == 64 and meta["cdc_rs.files_added"] == 64
    assert_layout(path)

    report = up(batch([7, 12_345, 49_999], 2), 1)  # three updates
    assert report.updated == 3
    meta = last_commit(path)
    assert meta["cdc_rs.files_removed"] <= 3 and meta["cdc_rs.files_added"] <= 3
    assert meta["cdc_rs.rows_copied"] < 3 * 1000  # ~780 rows per bucket, not 50k
    up(batch([50_000, 50_001], 2, "insert"), 2)  # two inserts
    assert last_commit(path)["cdc_rs.files_removed"] <= 2
    up(batch([3], 3, "delete"), 3)  # one delete
    meta = last_commit(path)
    assert meta["cdc_rs.files_removed"] == 1 and meta["cdc_rs.rows_copied"] < 1000

    got = DeltaTable(str(path)).to_pyarrow_table().sort_by("id")
    assert got.num_rows == 50_001
    assert got.filter(pc.equal(got["id"], 7))["v"].to_pylist() == ["v7-2"]
    assert 3 not in got["id"].to_pylist()
    assert_layout(path)


def test_the_bucket_count_doubles_as_the_table_grows(tmp_path):
    path = tmp_path / "t"
    up = upsert(DeltaTarget(path, target_file_rows=100))
    up(batch(list(range(150)), 1, "insert"), 0)
    assert last_commit(path)["cdc_rs.buckets"] == 2
    up(batch(list(range(150, 260)), 1, "insert"), 1)  # 260 rows: 4 buckets, all rewritten
    meta = last_commit(path)
    assert meta["cdc_rs.buckets"] == 4 and meta["cdc_rs.rows_copied"] == 150
    assert_layout(path)
    up(batch([1], 2), 2)
    assert last_commit(path)["cdc_rs.buckets"] == 4
    assert DeltaTable(str(path)).to_pyarrow_table().num_rows == 260


def test_files_of_other_writers_are_bucketed_by_the_next_batch(tmp_path):
    path = tmp_path / "t"
    up = upsert(DeltaTarget(path, target_file_rows=100))
    up(batch(list(range(1000)), 1, "insert"), 0)
    DeltaTable(str(path)).optimize.compact()  # one foreign file, named by delta-rs
    assert all(not NAME.match(a) for a in
               pa.table(DeltaTable(str(path)).get_add_actions()).column("path").to_pylist())
    assert up(batch([5], 2), 1).updated == 1
    assert last_commit(path)["cdc_rs.rows_copied"] == 999
    assert_layout(path)
    assert DeltaTable(str(path)).to_pyarrow_table().num_rows == 1000


def test_a_row_moving_partition_leaves_its_old_partition(tmp_path):
    path = tmp_path / "t"
    up = upsert(DeltaTarget(path, partition_by="region", target_file_rows=4))
    up(batch(list(range(20)), 1, "insert", region=["eu", "us", None, "e u/=%"] * 5), 0)
    assert_layout(path)
    up(batch([0, 2, 3], 2, region=["us", "eu", None]), 1)  # eu -> us, null -> eu, odd -> null
    got = DeltaTable(str(path)).to_pyarrow_table().sort_by("id")
    assert got.num_rows == 20
    assert got["region"].to_pylist()[:8] == ["us", "us", "eu", None, "eu", "us", None, "e u/=%"]
    assert_layout(path)
    # readers that prune by partition and by the file statistics see the same rows
    dt = DeltaTable(str(path))
    assert dt.to_pyarrow_table(filters=[("region", "=", "us")]).num_rows == 6
    assert dt.to_pyarrow_table(filters=[("region", "=", "e u/=%")]).num_rows == 4
    pl = pytest.importorskip("polars")
    assert pl.scan_delta(str(path)).filter(pl.col("id") == 2).collect()["region"].to_list() == ["eu"]


def test_unsupported_partition_type_is_a_clear_error(tmp_path):
    up = cdc_rs.batch_upsert(DeltaTarget(tmp_path / "t", partition_by="x"), keys="id",
                             sequence_by="ts")
    with pytest.raises(DeltaTargetError, match="cannot partition by 'x'"):
        up(pa.table({"id": [1], "ts": [1], "x": [1.5]}), 0)
    assert not DeltaTable.is_deltatable(str(tmp_path / "t"))


def test_a_table_with_change_data_feed_is_refused_before_any_write(tmp_path):
    path = tmp_path / "t"
    up = upsert(DeltaTarget(path))
    up(batch([1, 2], 1, "insert"), 0)
    DeltaTable(str(path)).alter.set_table_properties({"delta.enableChangeDataFeed": "true"})
    with pytest.raises(DeltaTargetError, match="change data feed"):
        upsert(DeltaTarget(path))(batch([1], 2), 1)
    assert DeltaTable(str(path)).to_pyarrow_table().num_rows == 2


def test_statistics_let_readers_prune_by_key_correctly(tmp_path):
    path = tmp_path / "t"
    up = upsert(DeltaTarget(path, target_file_rows=50))
    up(batch(list(range(1000)), 1, "insert"), 0)
    up(batch([10, 500], 2), 1)
    dt = DeltaTable(str(path))
    stats = pa.table(dt.get_add_actions(flatten=True))
    assert pc.sum(stats["num_records"]).as_py() == 1000
    assert pc.min(stats["min.id"]).as_py() == 0 and pc.max(stats["max.id"]).as_py() == 999
    for key in (0, 10, 500, 999):
        hit = dt.to_pyarrow_table(filters=[("id", "=", key)])
        assert hit["id"].to_pylist() == [key]
    pl = pytest.importorskip("polars")
    assert pl.scan_delta(str(path)).filter(pl.col("id") == 500).collect()["v"].to_list() == ["v500-2"]


events = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 6),
                            st.sampled_from(["insert", "update", "delete"]),
                            st.sampled_from(["a", "b", None])), min_size=0, max_size=15)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(events, min_size=1, max_size=5), file_rows=st.integers(1, 6),
       partitioned=st.booleans())
def test_bucketed_delta_table_equals_memory_table(tmp_path_factory, batches, file_rows, partitioned):
    path = tmp_path_factory.mktemp("t") / "t"
    delta = upsert(DeltaTarget(path, target_file_rows=file_rows,
                               partition_by="region" if partitioned else None))
    memory = upsert(None)
    for batch_id, rows in enumerate(batches):
        data = pa.table({"id": pa.array([r[0] for r in rows], pa.int64()),
                         "ts": pa.array([r[1] for r in rows], pa.int64()),
                         "op": pa.array([r[2] for r in rows], pa.string()),
                         "region": pa.array([r[3] for r in rows], pa.string())})
        a, b = delta(data, batch_id), memory(data, batch_id)
        assert a.to_dict() | {"seconds": 0} == b.to_dict() | {"seconds": 0}
    want = memory.target.to_arrow()
    if DeltaTable.is_deltatable(str(path)):
        got = DeltaTable(str(path)).to_pyarrow_table().select(want.column_names)
        assert got.sort_by("id").cast(want.schema).equals(want.sort_by("id"))
        assert_layout(path)
    else:
        assert want.num_rows == 0


def test_a_date64_key_hashes_alike_in_every_batch(tmp_path):
    import datetime

    days = pa.array([datetime.date(2020, 1, d) for d in range(1, 9)], pa.date64())
    up = cdc_rs.batch_upsert(DeltaTarget(tmp_path / "t", target_file_rows=1), keys="k",
                             sequence_by="ts")
    up(pa.table({"k": days, "ts": [1] * 8}), 0)
    assert up(pa.table({"k": days, "ts": [2] * 8}), 1).updated == 8
    got = DeltaTable(str(tmp_path / "t")).to_pyarrow_table()
    assert got.num_rows == 8 and set(got["ts"].to_pylist()) == {2}


def test_nested_payload_columns_are_rewritten(tmp_path):
    payload = pa.array([{"a": i, "tags": [str(i)]} for i in range(6)])
    up = cdc_rs.batch_upsert(DeltaTarget(tmp_path / "t", target_file_rows=2), keys="id",
                             sequence_by="ts")
    up(pa.table({"id": list(range(6)), "ts": [1] * 6, "c": payload}), 0)
    assert up(pa.table({"id": [2], "ts": [2], "c": payload.slice(5, 1)}), 1).updated == 1
    got = DeltaTable(str(tmp_path / "t")).to_pyarrow_table().sort_by("id")
    assert got["c"].to_pylist()[1:4] == [{"a": 1, "tags": ["1"]}, {"a": 5, "tags": ["5"]},
                                         {"a": 3, "tags": ["3"]}]


def test_an_empty_string_partition_value_is_stored_as_null_as_delta_does(tmp_path):
    path = tmp_path / "t"
    up = upsert(DeltaTarget(path, partition_by="region", target_file_rows=2))
    up(batch([1, 2, 3], 1, "insert", region=["", "eu", None]), 0)
    up(batch([1, 3], 2, region=["", "eu"]), 1)
    got = DeltaTable(str(path)).to_pyarrow_table().sort_by("id")
    assert got["region"].to_pylist() == [None, "eu", "eu"]
    assert got["ts"].to_pylist() == [2, 1, 2]
    assert_layout(path)
    assert upsert(DeltaTarget(path))(batch([1], 1), 1).skipped_replay  # re-opens fine


def test_an_empty_string_in_a_partitioned_key_column_is_refused(tmp_path):
    path = tmp_path / "t"
    up = cdc_rs.batch_upsert(DeltaTarget(path, partition_by="region"), keys=["region", "id"],
                             sequence_by="ts")
    up(pa.table({"region": ["eu"], "id": [1], "ts": [1]}), 0)
    with pytest.raises(DeltaTargetError, match="empty string"):
        up(pa.table({"region": [""], "id": [1], "ts": [2]}), 1)
    assert DeltaTable(str(path)).version() == 0


def test_a_table_partitioned_by_a_timestamp_is_refused_before_any_write(tmp_path):
    import datetime

    path = tmp_path / "t"
    empty = pa.table({"id": pa.array([], pa.int64()), "ts": pa.array([], pa.int64()),
                      "p": pa.array([], pa.timestamp("us"))})
    deltalake.write_deltalake(str(path), empty, partition_by=["p"])
    up = cdc_rs.batch_upsert(DeltaTarget(path), keys="id", sequence_by="ts")
    with pytest.raises(DeltaTargetError, match="cannot partition by 'p'"):
        up(pa.table({"id": [1], "ts": [1], "p": [datetime.datetime(2020, 1, 1, 12, 30)]}), 0)
    assert DeltaTable(str(path)).version() == 0


def test_a_commit_racing_another_writer_of_the_same_query_re_plans(tmp_path, monkeypatch):
    import cdc_rs._faults as faults

    path = tmp_path / "t"
    memory = upsert(None)
    a = upsert(DeltaTarget(path, app_id="q"))
    for up in (a, memory):
        up(batch(list(range(10)), 1, "insert"), 0)
    b = upsert(DeltaTarget(path, app_id="q"))
    raced: list[int] = []
    started: list[bool] = []

    def b_commits_right_after_a(name):  # between a's commit and a reading its new version
        if name == "after_commit" and not started:
            started.append(True)
            raced.append(b(batch([7], 9), 2).updated)

    monkeypatch.setattr(faults, "reached", b_commits_right_after_a)
    a(batch([1], 2), 1)
    monkeypatch.undo()
    assert raced == [1]
    memory(batch([1], 2), 1)
    memory(batch([7], 9), 2)
    report = a(batch([7], 3), 3)  # older than b's event: stale, once a sees b's commit
    assert (report.updated, report.stale) == (0, 1)
    memory(batch([7], 3), 3)
    want = memory.target.to_arrow().sort_by("id")
    got = DeltaTable(str(path)).to_pyarrow_table().sort_by("id")
    assert got.select(want.column_names).cast(want.schema).equals(want)
