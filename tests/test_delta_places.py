"""A merge-on-read DeltaTarget records where each key's row is (file, row): a new process
opens the table from its bookkeeping without reading a data file, follows the rows a
compaction moved, and matches keys in the files again whenever the places do not account
for the table (older bookkeeping, a lost moves file, another writer's changes)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

deltalake = pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs import _merge_on_read  # noqa: E402
from cdc_rs._delta_log import commit_info, live_adds, write_commit  # noqa: E402
from cdc_rs._merge_on_read import FileIndex, write_batch  # noqa: E402
from cdc_rs._store import open_store  # noqa: E402
from cdc_rs.delta import DeltaTarget  # noqa: E402

from delta_readers import read_with_deltalake  # noqa: E402


def upsert(target):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               delete_operations=["delete"])


def rows(*events):
    ids, ts, ops, vs = zip(*events)
    return pa.table({"id": list(ids), "ts": list(ts), "op": list(ops), "v": list(vs)})


def history(n_batches: int):
    """Batches that insert, update and delete keys 0..29, some keys several times."""
    out = []
    for b in range(n_batches):
        events = [(k, b + 1, "update", f"v{b}-{k}") for k in range(b % 3, 30, 3)]
        events += [(k, b + 1, "delete", None) for k in range((b + 1) % 7, 30, 11)]
        out.append(rows(*events))
    return out


def apply_both(path, batches, first_id=0, **options):
    """The batches into a fresh DeltaTarget at ``path`` (one per batch, as new processes
    would) and into a MemoryTable; returns the MemoryTable's rows."""
    memory = upsert(None)
    for i, batch in enumerate(batches, first_id):
        delta = upsert(DeltaTarget(path, **options))
        assert delta(batch, i).to_dict() | {"seconds": 0} == \
            memory(batch, i).to_dict() | {"seconds": 0}
    return memory.target.to_arrow().sort_by("id")


@pytest.fixture
def no_key_matching(monkeypatch):
    """Opening a table may not read the data files' key columns (it must use the places)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the key columns of the data files were read")

    monkeypatch.setattr(FileIndex, "live_keys", refuse)


def bookkeeping(path):
    (app,) = (path / "_cdc_rs").iterdir()
    return app


def test_a_new_process_opens_the_table_from_the_places_alone(tmp_path, no_key_matching):
    path = tmp_path / "t"
    memory = upsert(None)
    batches = history(12)
    for i, batch in enumerate(batches):
        delta = upsert(DeltaTarget(path, snapshot_every=5, auto_compact=None))
        assert delta(batch, i).to_dict() | {"seconds": 0} == \
            memory(batch, i).to_dict() | {"seconds": 0}
        if i in (4, 10):  # rows move; the moves are recorded
            DeltaTarget(path).optimize(min_deleted_fraction=0.0)
    names = sorted(p.name for p in bookkeeping(path).iterdir())
    # the snapshot after batch 9 folded the first compaction's moves, not the second's
    assert [n for n in names if not n.startswith("changes-")] == \
        ["moved-00000000000000000012.parquet", "snapshot-00000000000000000009.parquet"]
    want = memory.target.to_arrow().sort_by("id")
    assert read_with_deltalake(path).select(want.column_names).sort_by("id").equals(want)
    fresh = upsert(DeltaTarget(path))
    report = fresh(rows((1, 100, "update", "late"), (2, 1, "update", "stale")), 12)
    assert (report.updated + report.inserted, report.stale) == (1, 1)
    assert len(fresh.target) == len(memory.target) + (0 if 1 in want["id"].to_pylist() else 1)


def test_the_bookkeeping_records_each_live_keys_file_and_row(tmp_path):
    path = tmp_path / "t"
    apply_both(path, history(3))
    for part in bookkeeping(path).glob("changes-*.parquet"):
        table = pq.read_table(part)
        live = table.filter(table["live"])
        assert live["location.file"].null_count == 0
        for file, row, key in zip(live["location.file"].to_pylist(),
                                  live["location.row"].to_pylist(), live["key.id"].to_pylist()):
            assert pq.read_table(path / file)["id"][row].as_py() == key
        tombstones = table.filter(pa.compute.invert(table["live"]))
        assert tombstones["location.file"].null_count == tombstones.num_rows
        # a file name per row costs one dictionary entry per file on disk
        meta = pq.ParquetFile(part).metadata.row_group(0)
        column = next(meta.column(i) for i in range(meta.num_columns)
                      if meta.column(i).path_in_schema == "location.file")
        assert "RLE_DICTIONARY" in column.encodings


def test_bookkeeping_without_places_is_opened_by_matching_keys(tmp_path):
    path = tmp_path / "t"
    want = apply_both(path, history(6), snapshot_every=4)
    for part in bookkeeping(path).glob("*.parquet"):  # as cdc_rs wrote it before places
        table = pq.read_table(part)
        pq.write_table(table.drop_columns([n for n in table.column_names
                                           if n.startswith("location.")]), part)
    fresh = upsert(DeltaTarget(path))
    assert fresh(rows((3, 100, "update", "x")), 6).to_dict()["stale"] == 0
    got = read_with_deltalake(path).sort_by("id")
    assert dict(zip(got["id"].to_pylist(), got["v"].to_pylist()))[3] == "x"
    assert got.num_rows == want.num_rows + (0 if 3 in want["id"].to_pylist() else 1)


def test_a_lost_moves_file_falls_back_to_matching_keys(tmp_path):
    path = tmp_path / "t"
    want = apply_both(path, history(5), auto_compact=None)
    DeltaTarget(path).optimize(min_deleted_fraction=0.0)
    for moved in bookkeeping(path).glob("moved-*.parquet"):  # a crash right after the commit
        moved.unlink()
    fresh = upsert(DeltaTarget(path))
    assert len(fresh.target) == want.num_rows
    assert fresh(rows((4, 100, "update", "y")), 5).to_dict()["stale"] == 0
    got = read_with_deltalake(path)
    assert dict(zip(got["id"].to_pylist(), got["v"].to_pylist()))[4] == "y"


def test_another_writers_rewrite_of_a_row_is_not_taken_from_the_places(tmp_path):
    """Another writer deletes a key's row (a deletion vector) and writes it again in a new
    file: the same number of rows, but the recorded place is now a deleted row. The table is
    opened by matching keys, and the next update of the key deletes the row where it is."""
    path = tmp_path / "t"
    apply_both(path, history(2))
    store = open_store(path)
    version = deltalake.DeltaTable(str(path)).version()
    index = FileIndex.of(store, live_adds(store, version))
    table = index.read_rows(pa.schema(deltalake.DeltaTable(str(path)).schema().to_arrow()))
    key = table["id"][0].as_py()
    positions = _positions_of_key(index, table.schema, key)
    row = table.filter(pa.compute.equal(table["id"], key))
    written = write_batch(index, row, positions, ["id"], [])
    assert write_commit(store, version + 1, [*written.actions, commit_info("MERGE", {})])
    fresh = upsert(DeltaTarget(path))
    assert fresh(rows((key, 100, "update", "mine")), 2).to_dict()["updated"] == 1
    got = read_with_deltalake(path)
    assert got.filter(pa.compute.equal(got["id"], key))["v"].to_pylist() == ["mine"]


def _positions_of_key(index, schema, key):
    import numpy as np

    for file in index.live():
        table = _merge_on_read._read_columns(index.store, file, ["id"], schema)
        at = np.flatnonzero(np.array(table["id"].to_pylist()) == key)
        deleted = set(index.deleted(file).tolist())
        at = [a for a in at if a not in deleted]
        if at:
            return np.array(at, np.int64) + file.start
    raise AssertionError(f"key {key} has no live row")


def test_the_places_give_the_key_index_that_matching_keys_gives(tmp_path):
    path = tmp_path / "t"
    apply_both(path, history(7), snapshot_every=3, auto_compact=2)
    (app_id,) = DeltaTarget(path)._existing_apps()
    by_places, by_key = DeltaTarget(path, app_id=app_id), DeltaTarget(path, app_id=app_id)
    by_key._restored_from_places = lambda *args: None
    a, b = by_places.state(), by_key.state()
    assert a.sort_by("key.id").equals(b.sort_by("key.id"))
    positions = [t._mirror.state(positions=True).sort_by("key.id")["position"]
                 for t in (by_places, by_key)]
    assert positions[0].equals(positions[1])


def test_the_newest_move_of_a_place_counts_and_unreadable_moves_fall_back(tmp_path,
                                                                           no_key_matching):
    """A file restored into the table and compacted again moves its rows twice: the newest
    move counts. An unreadable moves file makes the table open by matching keys."""
    path = tmp_path / "t"
    want = apply_both(path, history(5), auto_compact=None)
    DeltaTarget(path).optimize(min_deleted_fraction=0.0)
    (moved,) = bookkeeping(path).glob("moved-*.parquet")
    version = int(moved.name[6:26])
    stale = pq.read_table(moved)
    stale = stale.set_column(stale.schema.get_field_index("to.file"), "to.file",
                             pa.array(["gone.parquet"] * stale.num_rows))
    pq.write_table(stale, moved.with_name(f"moved-{version - 1:020d}.parquet"))
    fresh = upsert(DeltaTarget(path))
    assert len(fresh.target) == want.num_rows
    assert fresh(rows((4, 100, "update", "y")), 5).to_dict()["stale"] == 0
    got = read_with_deltalake(path)
    assert dict(zip(got["id"].to_pylist(), got["v"].to_pylist()))[4] == "y"


def test_unreadable_places_fall_back_to_matching_keys(tmp_path):
    path = tmp_path / "t"
    want = apply_both(path, history(5), auto_compact=None)
    DeltaTarget(path).optimize(min_deleted_fraction=0.0)
    (moved,) = bookkeeping(path).glob("moved-*.parquet")
    pq.write_table(pa.table({"from.file": [1], "from.row": ["x"]}), moved)  # not moves
    fresh = upsert(DeltaTarget(path))
    assert len(fresh.target) == want.num_rows
    assert fresh(rows((4, 100, "update", "y")), 5).to_dict()["stale"] == 0
