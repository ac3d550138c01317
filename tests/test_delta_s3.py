"""DeltaTarget on object storage: the same tables, commits and guarantees on S3 as on a local
disk, tested against a real S3 server (moto, on 127.0.0.1) — data files, deletion vectors,
the change data feed, the ``_cdc_rs`` bookkeeping and the conditional-put commit."""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
import threading

import pyarrow as pa
import pytest

deltalake = pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs.delta import DeltaTarget, DeltaTargetError  # noqa: E402

from deltalake import DeltaTable  # noqa: E402

from delta_readers import read_with_deltalake, read_with_polars  # noqa: E402


def simple(target, **kw):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               delete_operations=["delete"], **kw)


def random_batch(rng: random.Random, n: int) -> pa.Table:
    return pa.table({"id": [rng.randrange(40) for _ in range(n)],
                     "ts": [rng.randrange(50) for _ in range(n)],
                     "op": [rng.choice(["insert", "update", "update", "delete"]) for _ in range(n)],
                     "region": [rng.choice(["eu", "us"]) for _ in range(n)],
                     "v": [str(rng.random())[:6] for _ in range(n)]})


def sorted_rows(table: pa.Table, like: pa.Table) -> pa.Table:
    return table.select(like.column_names).cast(like.schema).sort_by("id")


@pytest.mark.parametrize("kind", ["merge-on-read", "copy-on-write"])
def test_batches_on_s3_equal_the_memory_table_for_every_reader(s3_table, kind):
    uri, options = s3_table
    rng = random.Random(3)

    def target() -> DeltaTarget:
        return DeltaTarget(uri, storage_options=options, deletion_vectors=kind == "merge-on-read",
                           checkpoint_every=3, auto_compact=4, target_file_rows=8,
                           partition_by="region")

    delta, memory = simple(target()), simple(cdc_rs.MemoryTable())
    for batch_id in range(8):
        if batch_id == 4:
            delta = simple(target())  # a fresh target reads the table back from S3
        batch = random_batch(rng, rng.randint(1, 25))
        a, b = delta(batch, batch_id), memory(batch, batch_id)
        assert a.to_dict() | {"seconds": 0} == b.to_dict() | {"seconds": 0}
        assert delta(batch, batch_id).skipped_replay
    want = memory.target.to_arrow().sort_by("id")
    assert want.num_rows
    dt = DeltaTable(uri, storage_options=options)
    assert ("deletionVectors" in (dt.protocol().writer_features or [])) == (kind == "merge-on-read")
    for got in (read_with_deltalake(uri, storage_options=options),
                read_with_polars(uri, storage_options=options),
                simple(target()).target.to_arrow()):
        assert sorted_rows(got, want).equals(want)


def test_the_table_lives_in_the_bucket_only(s3_server, s3_table, tmp_path, monkeypatch):
    uri, options = s3_table
    monkeypatch.chdir(tmp_path)  # nothing may land in the working folder either
    up = simple(DeltaTarget(uri, storage_options=options, change_data_feed=True))
    up(random_batch(random.Random(1), 20), 0)
    up(random_batch(random.Random(2), 20), 1)
    keys = s3_server.keys(uri.split("/")[2])
    assert any(k.startswith("silver/_delta_log/") for k in keys)
    assert any(k.startswith("silver/_cdc_rs/") for k in keys)
    assert any(k.startswith("silver/_change_data/") for k in keys)
    assert any(k.startswith("silver/deletion_vector_") for k in keys)
    assert list(tmp_path.iterdir()) == []


def test_a_pickled_target_continues_in_a_new_process(s3_table, tmp_path):
    uri, options = s3_table
    up = simple(DeltaTarget(uri, storage_options=options))
    first = pa.table({"id": [1, 2], "ts": [1, 1], "op": ["insert"] * 2, "v": ["a", "b"]})
    up(first, 0)
    (tmp_path / "upsert.pkl").write_bytes(pickle.dumps(up))
    code = f"""
import pickle, pyarrow as pa
up = pickle.loads(open({str(tmp_path / "upsert.pkl")!r}, "rb").read())
assert up(pa.table({{"id": [1], "ts": [0], "op": ["update"], "v": ["old"]}}), 1).stale == 1
assert up(pa.table({{"id": [2, 3], "ts": [2, 2], "op": ["delete", "insert"], "v": [None, "c"]}}),
          2).deleted == 1
assert up(pa.table({{"id": [9], "ts": [9], "op": ["insert"], "v": ["z"]}}), 2).skipped_replay
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    got = read_with_deltalake(uri, storage_options=options).sort_by("id")
    assert got.select(["id", "v"]).to_pylist() == [{"id": 1, "v": "a"}, {"id": 3, "v": "c"}]


def test_the_change_data_feed_and_optimize_on_s3(s3_table):
    uri, options = s3_table
    rng = random.Random(5)
    up = simple(DeltaTarget(uri, storage_options=options, change_data_feed=True,
                            auto_compact=None))
    for batch_id in range(5):
        up(random_batch(rng, 15), batch_id)
    before = read_with_deltalake(uri, storage_options=options).sort_by("id")
    dt = DeltaTable(uri, storage_options=options)
    feed = pa.table(dt.load_cdf(starting_version=0))
    assert set(feed.column("_change_type").to_pylist()) >= {"insert", "update_postimage"}
    done = up.target.optimize(min_deleted_fraction=0.0)
    assert done["files_removed"] > 0
    after = read_with_deltalake(uri, storage_options=options).sort_by("id")
    assert after.equals(before)
    assert DeltaTable(uri, storage_options=options).history(1)[0]["operation"] == "OPTIMIZE"


def test_two_runs_of_one_query_racing_on_s3_apply_each_batch_once(s3_table):
    """Two processes of one query (say, a zombie and its restart) write the same batches to
    one table at once: S3's conditional put lets exactly one commit take each version, the
    loser re-plans on the new version (and finds its batch recorded: a replay)."""
    uri, options = s3_table
    rng = random.Random(9)
    batches = [random_batch(rng, 6) for _ in range(10)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        up = simple(DeltaTarget(uri, storage_options=options, app_id="query", max_retries=50))
        start.wait()
        try:
            for batch_id, batch in enumerate(batches):
                up(batch, batch_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    commits = [c for c in DeltaTable(uri, storage_options=options).history()
               if c.get("cdc_rs.batch_id") is not None]
    assert sorted(int(c["cdc_rs.batch_id"]) for c in commits) == list(range(10))
    memory = simple(cdc_rs.MemoryTable())
    for batch_id, batch in enumerate(batches):
        memory(batch, batch_id)
    want = memory.target.to_arrow().sort_by("id")
    for got in (read_with_deltalake(uri, storage_options=options),
                simple(DeltaTarget(uri, storage_options=options, app_id="query"))
                .target.to_arrow()):
        assert sorted_rows(got, want).equals(want)


def test_a_missing_bucket_is_a_clear_error_naming_the_table(s3_table):
    uri, options = s3_table
    missing = uri.replace("s3://", "s3://no-such-bucket-", 1)
    up = simple(DeltaTarget(missing, storage_options=options))
    with pytest.raises(DeltaTargetError, match="no-such-bucket"):
        up(pa.table({"id": [1], "ts": [1], "op": ["insert"], "v": ["a"]}), 0)


def test_an_unknown_url_scheme_is_refused():
    with pytest.raises(DeltaTargetError, match="s3://"):
        DeltaTarget("ftp://host/table")
