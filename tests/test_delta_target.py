"""DeltaTarget: one atomic Delta commit per micro-batch, replay-safe across processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

deltalake = pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore  # noqa: E402
from cdc_rs.delta import ConcurrentWriteError, DeltaTarget, DeltaTargetError, TargetStateError  # noqa: E402
from cdc_rs.target import apply  # noqa: E402
from pipeline_probes import Counting  # noqa: E402

from deltalake import DeltaTable  # noqa: E402
from delta_readers import read_delta, read_with_duckdb  # noqa: E402

pytestmark = pytest.mark.usefixtures("delta_kind")


def simple(target, **kw):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               delete_operations=["delete"], **kw)


def rows(*events):
    ids, ts, ops, vs = zip(*events)
    return pa.table({"id": list(ids), "ts": list(ts), "op": list(ops), "v": list(vs)})


def read(path) -> pa.Table:
    return read_delta(path).sort_by("id")


@pytest.fixture(scope="module")
def shop():
    return bookstore(events=12_000, batches=4, seed=7)


def customers(target, lookup):
    return cdc_rs.batch_upsert(
        target, keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
        topic="customers", operation_column="row_status", delete_operations=["delete"],
        lookup=lookup, lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)


def test_bookstore_equals_memory_table_one_commit_per_batch(tmp_path, shop, delta_kind):
    delta = customers(DeltaTarget(tmp_path / "silver"), shop.country_lookup)
    memory = customers(None, shop.country_lookup)
    for i, batch in enumerate(shop.bronze):
        a, b = delta(batch, i), memory(batch, i)
        assert a.to_dict() | {"seconds": 0} == b.to_dict() | {"seconds": 0}
    expected = memory.target.to_arrow().sort_by("customer_id")
    dt = DeltaTable(str(tmp_path / "silver"))
    got = read_delta(tmp_path / "silver").sort_by("customer_id")
    assert got.column_names == SILVER_COLUMNS
    assert got.cast(expected.schema).equals(expected)
    assert pc.count_distinct(got["customer_id"]).as_py() == got.num_rows
    assert dt.version() == len(shop.bronze) - 1  # one commit per batch
    assert dt.transaction_version(delta.target.app_id) == len(shop.bronze) - 1
    history = dt.history()  # newest first: the create, then one rewrite per batch
    batch_operation = "MERGE" if delta_kind == "merge-on-read" else "WRITE"
    assert [h["operation"] for h in history] == \
        [batch_operation] * (len(shop.bronze) - 1) + ["CREATE TABLE"]
    assert [h["cdc_rs.batch_id"] for h in history] == [str(i) for i in reversed(range(len(shop.bronze)))]
    # another reader: polars (and duckdb when its delta extension is available offline)
    pl = pytest.importorskip("polars")
    assert pl.read_delta(str(tmp_path / "silver")).height == expected.num_rows
    # no bookkeeping column leaks to readers
    assert not any(c.startswith("_") for c in got.column_names)


def test_duckdb_delta_scan(tmp_path):
    up = simple(str(tmp_path / "t"))
    up(rows((1, 1, "insert", "a"), (2, 1, "insert", "b")), 0)
    up(rows((1, 2, "delete", None)), 1)
    got = read_with_duckdb(tmp_path / "t")
    assert got.select(["id", "v"]).to_pylist() == [{"id": 2, "v": "b"}]


def test_path_string_is_a_delta_target(tmp_path):
    up = simple(str(tmp_path / "t"))
    assert isinstance(up.target, DeltaTarget)
    up(rows((1, 1, "insert", "a")), 0)
    assert read(tmp_path / "t").to_pydict() == {"id": [1], "ts": [1], "op": ["insert"], "v": ["a"]}


def test_inserts_updates_deletes_in_one_commit(tmp_path):
    up = simple(DeltaTarget(tmp_path / "t"))
    up(rows((1, 1, "insert", "a"), (2, 1, "insert", "b"), (3, 1, "insert", "c")), 0)
    r = up(rows((1, 2, "update", "A"), (2, 2, "delete", None), (4, 1, "insert", "d")), 1)
    assert (r.inserted, r.updated, r.deleted) == (1, 1, 1)
    dt = DeltaTable(str(tmp_path / "t"))
    assert dt.version() == 1
    assert read(tmp_path / "t")["v"].to_pylist() == ["A", "c", "d"]
    actions = (tmp_path / "t" / "_delta_log" / f"{1:020d}.json").read_text()
    assert '"txn"' in actions and up.target.app_id in actions


def test_replay_in_a_fresh_process_is_skipped(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path))
    up(rows((1, 1, "insert", "a")), 0)
    up(rows((1, 2, "update", "b")), 1)
    before = DeltaTable(str(path)).version()
    again = simple(DeltaTarget(path))  # a new process would build exactly this
    for batch_id in (0, 1):
        report = again(rows((1, 9, "update", "REPLAYED")), batch_id)
        assert report.skipped_replay and report.updated == 0
    assert DeltaTable(str(path)).version() == before
    assert read(path)["v"].to_pylist() == ["b"]
    assert again(rows((1, 3, "update", "c")), 2).updated == 1


def test_pickled_target_reopens(tmp_path):
    import pickle

    up = simple(DeltaTarget(tmp_path / "t"))
    up(rows((1, 1, "insert", "a")), 0)
    copy = pickle.loads(pickle.dumps(up))
    assert copy(rows((1, 1, "insert", "a")), 0).skipped_replay
    assert copy(rows((1, 2, "update", "b")), 1).updated == 1


def test_tombstones_survive_reopen_and_stay_invisible(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path))
    up(rows((1, 1, "insert", "a"), (2, 1, "insert", "b")), 0)
    up(rows((1, 5, "delete", None)), 1)
    assert read(path)["id"].to_pylist() == [2]
    again = simple(DeltaTarget(path))
    late = again(rows((1, 3, "update", "late")), 2)  # older than the delete
    assert late.stale == 1 and read(path)["id"].to_pylist() == [2]
    state = again.target.state()
    assert state.num_rows == 2 and pc.sum(pc.invert(state["live"])).as_py() == 1


def test_first_batch_of_only_deletes_keeps_its_tombstones(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path))
    r = up(rows((1, 5, "delete", None)), 0)
    assert r.tombstoned == 1
    assert not DeltaTable.is_deltatable(str(path))  # no row yet: no table
    again = simple(DeltaTarget(path))
    assert again(rows((1, 5, "delete", None)), 0).skipped_replay
    r = again(rows((1, 3, "insert", "stale"), (2, 1, "insert", "b")), 1)
    assert (r.stale, r.inserted) == (1, 1)
    assert read(path)["id"].to_pylist() == [2]
    assert DeltaTable(str(path)).transaction_version(again.target.app_id) == 1


@pytest.mark.parametrize("deletion_vectors", [True, False])
def test_batches_of_only_deletes_before_the_table_exists_reopen(tmp_path, deletion_vectors):
    """Each batch before the table exists leaves one change file: a new process tells
    which one each batch committed."""
    path = tmp_path / "t"
    for batch_id, key in enumerate([1, 2]):
        up = simple(DeltaTarget(path, deletion_vectors=deletion_vectors))
        assert up(rows((key, 5, "delete", None)), batch_id).tombstoned == 1
    book = next((path / "_cdc_rs").iterdir())
    assert len(list(book.glob("changes-*.parquet"))) == 2
    again = simple(DeltaTarget(path, deletion_vectors=deletion_vectors))
    r = again(rows((1, 3, "insert", "stale"), (2, 9, "insert", "b"), (3, 1, "insert", "c")), 2)
    assert (r.stale, r.inserted) == (1, 2)
    assert sorted(read(path)["id"].to_pylist()) == [2, 3]


def test_snapshots_compact_the_bookkeeping(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path, snapshot_every=2))
    for i in range(7):
        up(rows((i % 3, i, "update", f"v{i}"), (100 + i, i, "insert", "x")), i)
    book = next((path / "_cdc_rs").iterdir())
    names = sorted(p.name for p in book.iterdir())
    assert sum(n.startswith("snapshot-") for n in names) == 1
    assert sum(n.startswith("changes-") for n in names) <= 2
    again = simple(DeltaTarget(path, snapshot_every=2))
    assert len(again.target) == len(up.target) == 10
    assert again(rows((0, 1, "update", "stale")), 7).stale == 1


def test_uncommitted_leftovers_are_ignored(tmp_path):
    path = tmp_path / "t"
    up = simple(DeltaTarget(path))
    up(rows((1, 1, "insert", "a")), 0)
    book = next((path / "_cdc_rs").iterdir())
    # a batch that wrote its key state, then died before its Delta commit
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"key.id": [1, 9], "sequence.ts": [99, 99], "live": [False, True]}),
                   book / f"changes-{1:020d}-{'0' * 16}.parquet")
    again = simple(DeltaTarget(path))
    assert again.target.last_batch_id == 0
    r = again(rows((1, 2, "update", "b")), 1)  # batch 1 again, for real this time
    assert r.updated == 1 and read(path)["v"].to_pylist() == ["b"]
    third = simple(DeltaTarget(path))
    assert third(rows((1, 3, "update", "c")), 2).updated == 1


def test_concurrent_writer_same_batch_is_skipped(tmp_path):
    path = tmp_path / "t"
    a, b = simple(DeltaTarget(path, app_id="q")), simple(DeltaTarget(path, app_id="q"))
    a(rows((1, 1, "insert", "a")), 0)
    assert b(rows((1, 1, "insert", "a")), 0).skipped_replay  # b opens after a committed
    a(rows((1, 2, "update", "A"), (2, 1, "insert", "b")), 1)
    # b's mirror is at batch 0: its commit conflicts, it re-opens and sees batch 1 done
    assert b(rows((1, 2, "update", "A"), (2, 1, "insert", "b")), 1).skipped_replay
    a(rows((3, 1, "insert", "c")), 2)
    r = b(rows((1, 3, "update", "B")), 3)  # conflict -> re-open -> re-plan -> commit
    assert r.updated == 1 and not r.skipped_replay
    assert read(path)["v"].to_pylist() == ["B", "b", "c"]
    assert DeltaTable(str(path)).transaction_version("q") == 3


def test_conflict_without_retries_raises_and_applies_nothing(tmp_path):
    path = tmp_path / "t"
    a = simple(DeltaTarget(path, app_id="q"))
    b = simple(DeltaTarget(path, app_id="q", max_retries=0))
    a(rows((1, 1, "insert", "a")), 0)
    b(rows((1, 1, "insert", "a")), 0)  # opens b at version 0
    a(rows((2, 1, "insert", "b")), 1)
    version = DeltaTable(str(path)).version()
    with pytest.raises(ConcurrentWriteError, match="nothing of the batch applied"):
        b(rows((3, 1, "insert", "c")), 2)
    assert DeltaTable(str(path)).version() == version
    assert isinstance(ConcurrentWriteError("x"), cdc_rs.CdcError)
    assert simple(DeltaTarget(path, app_id="q"))(rows((3, 1, "insert", "c")), 2).inserted == 1


def test_table_written_by_someone_else_is_refused(tmp_path):
    path = tmp_path / "t"
    deltalake.write_deltalake(str(path), rows((1, 1, "insert", "a")))
    with pytest.raises(TargetStateError, match="no cdc_rs bookkeeping"):
        simple(DeltaTarget(path))(rows((2, 1, "insert", "b")), 0)
    assert read(path).num_rows == 1


def test_rows_changed_behind_our_back_are_detected(tmp_path):
    path = tmp_path / "t"
    simple(DeltaTarget(path, app_id="q"))(rows((1, 1, "insert", "a"), (2, 1, "insert", "b")), 0)
    DeltaTable(str(path)).delete("id = 2")
    with pytest.raises(TargetStateError, match="another writer"):
        simple(DeltaTarget(path, app_id="q"))(rows((3, 1, "insert", "c")), 1)


def test_schema_change_is_a_clear_error_and_writes_nothing(tmp_path):
    path = tmp_path / "t"
    up = cdc_rs.batch_upsert(DeltaTarget(path), keys="id", sequence_by="ts")
    up(pa.table({"id": [1], "ts": [1], "v": ["a"]}), 0)
    with pytest.raises(cdc_rs.SchemaError, match="columns changed"):
        up(pa.table({"id": [2], "ts": [1], "v": ["b"], "extra": [1]}), 1)
    assert DeltaTable(str(path)).version() == 0
    assert up(pa.table({"id": [2], "ts": [1], "v": ["b"]}), 1).inserted == 1


def test_partitioned_table(tmp_path):
    path = tmp_path / "t"
    up = cdc_rs.batch_upsert(DeltaTarget(path, partition_by="region"), keys="id", sequence_by="ts")
    up(pa.table({"id": [1, 2, 3], "ts": [1, 1, 1], "region": ["eu", "us", "eu"]}), 0)
    up(pa.table({"id": [1, 4], "ts": [2, 1], "region": ["eu", "us"]}), 1)
    dt = DeltaTable(str(path))
    assert dt.metadata().partition_columns == ["region"]
    assert read(path)["id"].to_pylist() == [1, 2, 3, 4]
    again = cdc_rs.batch_upsert(DeltaTarget(path), keys="id", sequence_by="ts")
    assert again(pa.table({"id": [2], "ts": [0], "region": ["us"]}), 2).stale == 1


@contextlib.contextmanager
def read_only(path: Path):
    """``path`` made read-only: a read-only bind mount as root (root ignores modes), else chmod."""
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(path), str(path)],
                                 capture_output=True).returncode == 0
        if not mounted:
            pytest.skip("running as root without mount: cannot make a folder read-only")
        try:
            yield
        finally:
            subprocess.run(["umount", str(path)], check=True)
        return
    modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
    for p in modes:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def test_read_only_target_folder_is_a_clear_error(tmp_path):
    path = tmp_path / "t"
    simple(DeltaTarget(path))(rows((1, 1, "insert", "a")), 0)
    with read_only(path):
        up = simple(DeltaTarget(path))
        with pytest.raises(DeltaTargetError, match="cannot write|failed") as err:
            up(rows((2, 1, "insert", "b")), 1)
        assert isinstance(err.value, cdc_rs.CdcError)
        assert up(rows((1, 1, "insert", "a")), 0).skipped_replay  # reading still works
    assert DeltaTable(str(path)).version() == 0 and read(path).num_rows == 1
    assert simple(DeltaTarget(path))(rows((2, 1, "insert", "b")), 1).inserted == 1


def test_import_does_not_need_deltalake_and_exports_are_the_functions():
    script = ("import sys, cdc_rs, cdc_rs.streaming, cdc_rs.sources, cdc_rs.delta\n"
              "assert 'deltalake' not in sys.modules\n"
              "assert callable(cdc_rs.stream) and cdc_rs.stream.__name__ == 'stream'\n"
              "import cdc_rs.streaming as module\n"  # no module hides behind the function
              "assert module.stream is cdc_rs.stream and module.StreamReport is cdc_rs.StreamReport\n"
              "assert {'DeltaTarget', 'stream'} <= set(cdc_rs.__all__)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_vacuum_and_optimize_leave_the_bookkeeping_alone(tmp_path):
    path = tmp_path / "t"
    up = cdc_rs.batch_upsert(DeltaTarget(path, partition_by="p"), keys=["p", "id"],
                             sequence_by="ts")
    for i in range(3):
        up(pa.table({"p": ["a", "b"], "id": [i, i], "ts": [1, 1]}), i)
    dt = DeltaTable(str(path))
    dt.optimize.compact()  # a concurrent maintenance job: our next commit conflicts, re-plans
    DeltaTable(str(path)).vacuum(retention_hours=0, enforce_retention_duration=False,
                                 dry_run=False)
    assert up(pa.table({"p": ["a"], "id": [0], "ts": [2]}), 3).updated == 1
    fresh = cdc_rs.batch_upsert(DeltaTarget(path), keys=["p", "id"], sequence_by="ts")
    assert fresh(pa.table({"p": ["b"], "id": [1], "ts": [0]}), 4).stale == 1
    assert read_delta(path).num_rows == 6


@pytest.mark.parametrize("two_keys", [False, True])
def test_reopened_state_equals_memory_table_after_every_batch(tmp_path, two_keys):
    import random

    rng = random.Random(4)
    keys = ["g", "id"] if two_keys else ["id"]

    def build(target):
        return cdc_rs.batch_upsert(target, keys=keys, sequence_by="ts", operation_column="op",
                                   delete_operations=["delete"])

    memory = build(None)
    path = tmp_path / "t"
    for batch_id in range(12):
        n = rng.randint(1, 12)
        batch = pa.table({
            "g": [rng.choice("ab") for _ in range(n)],
            "id": [rng.randrange(15) for _ in range(n)],
            "ts": [rng.randrange(40) for _ in range(n)],
            "op": [rng.choice(["insert", "update", "delete"]) for _ in range(n)],
            "v": [str(rng.random()) for _ in range(n)]})
        delta = build(DeltaTarget(path, snapshot_every=3))  # a fresh process every batch
        a, b = delta(batch, batch_id), memory(batch, batch_id)
        assert a.to_dict() | {"seconds": 0} == b.to_dict() | {"seconds": 0}
        sort = [(k, "ascending") for k in keys]
        want = memory.target.to_arrow().sort_by(sort)
        if DeltaTable.is_deltatable(str(path)):
            got = read_delta(path).sort_by(sort)
            assert got.cast(want.schema).equals(want)
        state = build(DeltaTarget(path, snapshot_every=3))
        state(batch, batch_id)  # replay: opens the table and its bookkeeping, skips
        key_cols = [f"key.{k}" for k in keys]
        s1 = state.target.state().sort_by([(k, "ascending") for k in key_cols])
        s2 = memory.target.state().sort_by([(k, "ascending") for k in key_cols])
        assert s1.select(key_cols + ["sequence.ts"]).equals(s2.select(key_cols + ["sequence.ts"]))
        assert s1["live"].equals(s2["live"])


def test_two_writers_racing_on_the_same_batches_apply_each_exactly_once(tmp_path, shop):
    import threading

    path = tmp_path / "silver"
    writers = [customers(DeltaTarget(path, app_id="race", max_retries=20), shop.country_lookup)
               for _ in range(2)]
    results: list[list] = [[], []]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for batch_id, batch in enumerate(shop.bronze):
                results[i].append(writers[i](batch, batch_id))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    applied = [sum(not r[b].skipped_replay for r in results) for b in range(len(shop.bronze))]
    assert applied == [1] * len(shop.bronze)  # every batch committed by exactly one writer
    memory = customers(None, shop.country_lookup)
    for i, batch in enumerate(shop.bronze):
        memory(batch, i)
    expected = memory.target.to_arrow().sort_by("customer_id")
    got = read_delta(path).sort_by("customer_id")
    assert got.cast(expected.schema).equals(expected)


def test_a_conflict_re_plans_the_batch_without_decoding_it_again(tmp_path):
    path = tmp_path / "t"
    bronze = pa.table({"value": ['{"id": 1, "ts": 2, "v": "b"}', '{"id": 2, "ts": 1, "v": "c"}']})
    a = cdc_rs.batch_upsert(DeltaTarget(path, app_id="q"), keys="id", sequence_by="ts",
                            value_schema="id BIGINT, ts BIGINT, v STRING")
    b = cdc_rs.batch_upsert(DeltaTarget(path, app_id="q"), keys="id", sequence_by="ts",
                            value_schema="id BIGINT, ts BIGINT, v STRING")
    a(pa.table({"value": ['{"id": 1, "ts": 1, "v": "a"}']}), 0)
    b.target.last_batch_id  # b opens the table at batch 0
    a(pa.table({"value": ['{"id": 3, "ts": 1, "v": "x"}']}), 1)
    counting = Counting(b._pipeline)
    counts, skipped, _ = apply(b.target, counting, bronze, 2)  # conflicts once
    assert not skipped and counts["updated"] == 1 and counts["inserted"] == 1
    assert (counting.screened, counting.planned) == (1, 2)
    assert sorted(read_delta(path)["v"].to_pylist()) == ["b", "c", "x"]
    # a replayed batch id is not decoded at all
    replay = Counting(b._pipeline)
    assert apply(b.target, replay, bronze, 2)[1]
    assert replay.screened == 0
