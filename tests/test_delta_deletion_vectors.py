"""Merge-on-read DeltaTarget: batches write deletion vectors instead of rewriting files, keep
only the key index in memory, and every reader here sees the MemoryTable's rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

deltalake = pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs import _cdc_rs  # noqa: E402
from cdc_rs._delta_log import live_adds as _live_adds  # noqa: E402
from cdc_rs._store import open_store  # noqa: E402
from cdc_rs.delta import DeltaTarget, DeltaTargetError  # noqa: E402

from deltalake import DeltaTable  # noqa: E402

from delta_readers import read_with_deltalake, read_with_duckdb, read_with_polars  # noqa: E402


def live_adds(path: Path, version: int) -> list[dict]:
    return _live_adds(open_store(path), version)


def simple(target, **kw):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               delete_operations=["delete"], **kw)


def rows(*events):
    ids, ts, ops, vs = zip(*events)
    return pa.table({"id": list(ids), "ts": list(ts), "op": list(ops), "v": list(vs)})


def data_files(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*.parquet")
            if "_delta_log" not in p.parts and "_cdc_rs" not in p.parts}


def test_a_new_table_has_deletion_vectors_and_an_update_rewrites_no_file(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path))
    up(rows(*[(i, 1, "insert", f"v{i}") for i in range(1000)]), 0)
    protocol = DeltaTable(str(path)).protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (3, 7)
    assert "deletionVectors" in protocol.reader_features
    assert "deletionVectors" in protocol.writer_features
    before = data_files(path)
    report = up(rows((5, 2, "update", "new"), (7, 2, "delete", None)), 1)
    assert (report.updated, report.deleted) == (1, 1)
    after = data_files(path)
    assert before < after and len(after - before) == 1  # one new file: the updated row
    adds = live_adds(path, 1)
    (old,) = [a for a in adds if a["path"] in before]
    assert old["deletionVector"]["cardinality"] == 2  # key 5's old row and key 7
    assert json.loads(old["stats"])["tightBounds"] is False
    assert list(path.glob("deletion_vector_*.bin"))
    want = {i: f"v{i}" for i in range(1000) if i != 7} | {5: "new"}
    for reader in (read_with_deltalake, read_with_polars):
        got = reader(path)
        assert dict(zip(got["id"].to_pylist(), got["v"].to_pylist())) == want
    history = DeltaTable(str(path)).history()
    assert [h["operation"] for h in history] == ["MERGE", "CREATE TABLE"]
    assert history[0]["cdc_rs.files_added"] == 1 and history[0]["cdc_rs.vectors_written"] == 1


def test_a_file_whose_rows_are_all_gone_leaves_the_table(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path))
    up(rows((1, 1, "insert", "a"), (2, 1, "insert", "b")), 0)
    up(rows((3, 1, "insert", "c")), 1)
    up(rows((3, 2, "delete", None), (1, 2, "update", "a2")), 2)
    adds = live_adds(path, 2)
    assert len(adds) == 2  # the first file (with a vector for key 1) and key 1's new file
    assert sorted(read_with_deltalake(path)["v"].to_pylist()) == ["a2", "b"]


def test_deletion_vectors_false_keeps_copy_on_write(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path, deletion_vectors=False))
    up(rows((1, 1, "insert", "a"), (2, 1, "insert", "b")), 0)
    up(rows((1, 2, "update", "a2")), 1)
    assert "deletionVectors" not in (DeltaTable(str(path)).protocol().writer_features or [])
    assert not list(path.glob("deletion_vector_*.bin"))
    assert DeltaTable(str(path)).to_pyarrow_table().sort_by("id")["v"].to_pylist() == ["a2", "b"]


def test_reopening_reads_the_key_index_from_the_files_and_their_vectors(tmp_path):
    path = tmp_path / "t"
    simple(DeltaTarget(path))(rows((1, 1, "insert", "a"), (2, 1, "insert", "b")), 0)
    simple(DeltaTarget(path))(rows((1, 2, "update", "a2"), (2, 2, "delete", None)), 1)
    fresh = simple(DeltaTarget(path))
    report = fresh(rows((1, 1, "update", "old"), (2, 1, "insert", "late"),
                        (1, 3, "update", "a3"), (4, 1, "insert", "d")), 2)
    assert (report.stale, report.updated, report.inserted) == (1, 1, 1)
    assert not fresh.target._mirror.keeps_rows  # only the key index in memory
    got = read_with_deltalake(path)
    assert dict(zip(got["id"].to_pylist(), got["v"].to_pylist())) == {1: "a3", 4: "d"}
    assert len(fresh.target) == 2


def test_partitioned_merge_on_read_table(tmp_path):
    path = tmp_path / "t"
    up = cdc_rs.batch_upsert(DeltaTarget(path, partition_by="region"), keys="id",
                             sequence_by="ts")
    up(pa.table({"id": [1, 2, 3], "ts": [1, 1, 1], "region": ["eu", "us", "eu"]}), 0)
    up(pa.table({"id": [1, 4, 2], "ts": [2, 1, 2], "region": ["eu", "us", "us"]}), 1)
    assert DeltaTable(str(path)).metadata().partition_columns == ["region"]
    got = read_with_deltalake(path).sort_by("id")
    assert got["id"].to_pylist() == [1, 2, 3, 4]
    assert got["ts"].to_pylist() == [2, 2, 1, 1]
    again = cdc_rs.batch_upsert(DeltaTarget(path), keys="id", sequence_by="ts")
    assert again(pa.table({"id": [2], "ts": [0], "region": ["us"]}), 2).stale == 1


def test_checkpoints_keep_the_vectors(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path, checkpoint_every=3))
    for b in range(8):
        up(rows((b % 3, b + 1, "update", f"v{b}"), (100 + b, 1, "insert", "x")), b)
    log = path / "_delta_log"
    assert (log / f"{6:020d}.checkpoint.parquet").exists()
    fresh = simple(DeltaTarget(path))
    assert fresh(rows((0, 0, "update", "stale")), 8).stale == 1
    got = read_with_deltalake(path)
    assert dict(zip(got["id"].to_pylist(), got["v"].to_pylist())) == \
        {0: "v6", 1: "v7", 2: "v5", **{100 + b: "x" for b in range(8)}}


def test_readers_agree_with_the_memory_table_on_the_bookstore(tmp_path):
    from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore

    shop = bookstore(events=6_000, batches=5, seed=3)

    def customers(target):
        return cdc_rs.batch_upsert(
            target, keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
            topic="customers", operation_column="row_status", delete_operations=["delete"],
            lookup=shop.country_lookup, lookup_on={"country_code": "code"},
            columns=SILVER_COLUMNS)

    delta, memory = customers(DeltaTarget(tmp_path / "s")), customers(None)
    for i, batch in enumerate(shop.bronze):
        assert delta(batch, i).to_dict() | {"seconds": 0} == memory(batch, i).to_dict() | {"seconds": 0}
    want = memory.target.to_arrow().sort_by("customer_id")
    readers = [read_with_deltalake, read_with_polars, read_with_duckdb, lambda p: delta.target.to_arrow()]
    for reader in readers:
        got = reader(tmp_path / "s").sort_by("customer_id")
        assert got.select(want.column_names).cast(want.schema).equals(want), reader


def test_a_damaged_vector_file_is_a_clear_error(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path))
    up(rows((1, 1, "insert", "a"), (2, 1, "insert", "b")), 0)
    up(rows((1, 2, "update", "a2")), 1)
    (vector,) = path.glob("deletion_vector_*.bin")
    data = bytearray(vector.read_bytes())
    data[8] ^= 0xFF
    vector.write_bytes(bytes(data))
    with pytest.raises(DeltaTargetError, match="deletion vector"):
        simple(DeltaTarget(path))(rows((2, 2, "update", "b2")), 2)


def test_the_vector_codec_round_trips_and_refuses_garbage():
    vectors = [np.array([0, 5, 70_000], np.uint64), np.arange(10_000, dtype=np.uint64),
               np.array([3, 1 << 33], np.uint64)]
    data, stored = _cdc_rs.deletion_vector_file([pa.array(v) for v in vectors])
    assert data[0] == 1 and stored[0][0] == 1
    for v, (offset, size, cardinality) in zip(vectors, stored):
        assert cardinality == len(v)
        assert pa.array(_cdc_rs.read_deletion_vector(data, offset, size)).to_pylist() == v.tolist()
    assert _cdc_rs.z85_decode(_cdc_rs.z85_encode(b"\x86O\xd2o\xb5Y\xf7[")) == b"\x86O\xd2o\xb5Y\xf7["
    assert _cdc_rs.z85_encode(b"\x86O\xd2o\xb5Y\xf7[") == "HelloWorld"
    with pytest.raises(cdc_rs.InputError, match="corrupt deletion vector"):
        _cdc_rs.read_deletion_vector(b"\x01garbage-garbage", 1, 4)
    with pytest.raises(cdc_rs.InputError):
        _cdc_rs.read_deletion_vector(data, 1, 10**9)


def test_a_process_opening_a_large_table_keeps_no_rows(tmp_path):
    path = tmp_path / "t"
    n = 50_000
    simple(DeltaTarget(path))(pa.table({"id": range(n), "ts": [1] * n, "op": ["insert"] * n,
                                        "v": ["x" * 100] * n}), 0)
    script = (
        "import cdc_rs, pyarrow as pa\n"
        "from cdc_rs.delta import DeltaTarget\n"
        f"t = DeltaTarget({str(path)!r})\n"
        "up = cdc_rs.batch_upsert(t, keys='id', sequence_by='ts', operation_column='op',"
        " delete_operations=['delete'])\n"
        "r = up(pa.table({'id': [1], 'ts': [2], 'op': ['update'], 'v': ['y']}), 1)\n"
        "assert r.updated == 1 and len(t) == " + str(n) + "\n"
        "assert not t._mirror.keeps_rows\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_optimize_rewrites_sparse_and_small_files_and_changes_no_row(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path, target_file_rows=100, auto_compact=None))
    up(rows(*[(i, 1, "insert", "a") for i in range(50)]), 0)
    for b in range(1, 6):  # small files, and most of the first file's rows replaced
        up(rows(*[(i, b + 1, "update", f"b{b}") for i in range(b * 8, b * 8 + 8)]), b)
    before = read_with_deltalake(path).sort_by("id")
    stats = DeltaTarget(path).optimize()
    assert stats["files_removed"] == 6 and stats["files_added"] == 1
    assert stats["rows_rewritten"] == 50
    assert read_with_deltalake(path).sort_by("id").equals(before)
    assert read_with_polars(path).sort_by("id").equals(before)
    (add,) = live_adds(path, stats["version"])
    assert "deletionVector" not in add and add["dataChange"] is False
    assert DeltaTable(str(path)).history()[0]["operation"] == "OPTIMIZE"
    # the key index followed the rows: later batches update and delete them in the new file
    assert up(rows((1, 9, "update", "z"), (2, 9, "delete", None)), 6).to_dict()["updated"] == 1
    got = read_with_deltalake(path)
    assert dict(zip(got["id"].to_pylist(), got["v"].to_pylist()))[1] == "z"
    assert 2 not in got["id"].to_pylist() and got.num_rows == 49
    before = read_with_deltalake(path).sort_by("id")
    DeltaTarget(path).optimize()  # again: it may join the new small files, never change a row
    assert read_with_deltalake(path).sort_by("id").equals(before)


def test_many_small_batches_are_compacted_automatically(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path, auto_compact=8))
    for b in range(20):
        up(rows((b, 1, "insert", "x"), (0, b + 2, "update", f"v{b}")), b)
    operations = [h["operation"] for h in DeltaTable(str(path)).history()]
    assert "OPTIMIZE" in operations
    assert len(live_adds(path, DeltaTable(str(path)).version())) < 10
    got = read_with_deltalake(path)
    assert got.num_rows == 20 and dict(zip(got["id"].to_pylist(), got["v"].to_pylist()))[0] == "v19"
    fresh = simple(DeltaTarget(path))
    assert fresh(rows((0, 1, "update", "stale")), 20).stale == 1


def _rows_by_id(table: pa.Table) -> dict:
    return {r["id"]: r for r in table.select(["id", "ts", "op", "region", "v"]).to_pylist()}


@pytest.mark.parametrize("partitioned", [False, True])
def test_the_change_data_feed_replayed_over_each_version_gives_the_next(tmp_path, partitioned):
    import random

    path, rng = tmp_path / "t", random.Random(8)
    up = cdc_rs.batch_upsert(
        DeltaTarget(path, change_data_feed=True, partition_by="region" if partitioned else None,
                    auto_compact=3, checkpoint_every=4),
        keys="id", sequence_by="ts", operation_column="op", delete_operations=["delete"])
    for batch_id in range(10):
        n = rng.randint(1, 10)
        up(pa.table({"id": [rng.randrange(12) for _ in range(n)],
                     "ts": [rng.randrange(30) for _ in range(n)],
                     "op": [rng.choice(["insert", "update", "delete"]) for _ in range(n)],
                     "region": [rng.choice(["eu", "us"]) for _ in range(n)],
                     "v": [str(rng.random())[:5] for _ in range(n)]}), batch_id)
    dt = DeltaTable(str(path))
    assert dt.metadata().configuration["delta.enableChangeDataFeed"] == "true"
    assert "changeDataFeed" in dt.protocol().writer_features
    assert any((path / "_change_data").rglob("*.parquet"))
    previous = _rows_by_id(read_with_deltalake(path, version=0))
    for version in range(1, dt.version() + 1):
        feed = pa.table(dt.load_cdf(starting_version=version, ending_version=version))
        replayed = dict(previous)
        removed = [c for c in feed.to_pylist() if c["_change_type"] in ("delete", "update_preimage")]
        added = [c for c in feed.to_pylist() if c["_change_type"] in ("insert", "update_postimage")]
        for change in removed:  # the image of the row it removes
            assert replayed.pop(change["id"])["v"] == change["v"], (version, change)
        for change in added:
            assert change["id"] not in replayed, (version, change)
            replayed[change["id"]] = {k: change[k] for k in ("id", "ts", "op", "region", "v")}
        current = _rows_by_id(read_with_deltalake(path, version=version))
        assert replayed == current, f"version {version}"
        previous = current


def test_log_entries_cleaned_up_behind_a_checkpoint_are_no_conflict(tmp_path):
    """Writers delete log entries older than a checkpoint: what a reader no longer reads
    has not changed under the target (no re-open, no failed compaction)."""
    path = tmp_path / "t"
    target = DeltaTarget(path, checkpoint_every=3, auto_compact=None)
    up = simple(target)
    for b in range(4):
        up(rows((b, 1, "insert", "x"), (0, b + 2, "update", f"v{b}")), b)
    assert (path / "_delta_log" / "_last_checkpoint").exists()
    (path / "_delta_log" / f"{0:020d}.json").unlink()
    mirror = target._mirror
    up(rows((9, 1, "insert", "y")), 4)
    assert target._mirror is mirror  # planned once, committed: no conflict, no re-open
    assert target.optimize(min_deleted_fraction=0.0)["files_removed"] > 0
