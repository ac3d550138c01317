"""cdc_rs.stream over a folder of bronze files: availableNow runs, checkpoints, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore  # noqa: E402
from cdc_rs import CheckpointError, FolderSource, SourceError, StreamReport  # noqa: E402

from deltalake import DeltaTable  # noqa: E402
from delta_readers import read_delta  # noqa: E402


def customers(target, lookup):
    return cdc_rs.batch_upsert(
        target, keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
        topic="customers", operation_column="row_status", delete_operations=["delete"],
        lookup=lookup, lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)


def simple(target):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               delete_operations=["delete"])


def read(path: Path, key: str = "id") -> pa.Table:
    return read_delta(path).sort_by(key)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bronze")
    data = bookstore(events=8_000, batches=4, seed=5)
    data.write_parquet(folder)
    memory = customers(None, data.country_lookup)
    for i, b in enumerate(data.bronze):
        memory(b, i)
    return folder, data, memory.target.to_arrow().sort_by("customer_id")


def test_folder_to_delta_equals_memory_run(shop, tmp_path):
    folder, data, expected = shop
    upsert = customers(str(tmp_path / "silver"), data.country_lookup)
    reports = cdc_rs.stream(folder, upsert, checkpoint=tmp_path / "chk",
                            pattern="bronze-*.parquet", progress=False)
    assert [r.batch_id for r in reports] == [0, 1, 2, 3]
    assert all(isinstance(r, StreamReport) and r.rows_in == r.accounted for r in reports)
    assert reports[0].source == "bronze-00000.parquet [0:2000]"
    got = read(tmp_path / "silver", "customer_id")
    assert got.cast(expected.schema).equals(expected)
    assert sorted(p.name for p in (tmp_path / "chk" / "commits").iterdir()) == \
        [f"{i:020d}.json" for i in range(4)]
    # availableNow: a second run finds nothing new
    assert cdc_rs.stream(folder, upsert, checkpoint=tmp_path / "chk",
                         pattern="bronze-*.parquet", progress=False) == []


def test_new_files_are_picked_up_by_the_next_run(tmp_path):
    bronze = tmp_path / "in"
    bronze.mkdir()
    pq.write_table(pa.table({"id": [1, 2], "ts": [1, 1], "op": ["insert"] * 2, "v": ["a", "b"]}),
                   bronze / "001.parquet")
    up = simple(str(tmp_path / "t"))
    assert len(cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", progress=False)) == 1
    pq.write_table(pa.table({"id": [1], "ts": [2], "op": ["delete"], "v": [None]},
                            schema=pa.schema([("id", pa.int64()), ("ts", pa.int64()),
                                              ("op", pa.string()), ("v", pa.string())])),
                   bronze / "002.parquet")
    (bronze / "_ignored.parquet").write_bytes(b"not even parquet")
    reports = cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", progress=False)
    assert [(r.batch_id, r.deleted) for r in reports] == [(1, 1)]
    assert read(tmp_path / "t")["id"].to_pylist() == [2]


def test_max_rows_per_batch_cuts_files_and_resumes_mid_file(tmp_path):
    bronze = tmp_path / "in"
    bronze.mkdir()
    n = 25
    pq.write_table(pa.table({"id": list(range(n)), "ts": [1] * n, "op": ["insert"] * n,
                             "v": [str(i) for i in range(n)]}), bronze / "a.parquet")
    up = simple(str(tmp_path / "t"))
    reports = cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", max_rows_per_batch=10,
                            progress=False)
    assert [r.rows_in for r in reports] == [10, 10, 5]
    assert read(tmp_path / "t").num_rows == n
    # a run that died after batch 1: drop batch 2's commit, re-run: batch 2 alone again
    (tmp_path / "c" / "commits" / f"{2:020d}.json").unlink()
    again = cdc_rs.stream(bronze, simple(str(tmp_path / "t")), checkpoint=tmp_path / "c",
                          max_rows_per_batch=10, progress=False)
    assert [(r.batch_id, r.skipped_replay, r.source) for r in again] == [(2, True, "a.parquet [20:25]")]
    # and without batch 2's offsets: re-planned from the checkpoint, same id and range
    (tmp_path / "c" / "commits" / f"{2:020d}.json").unlink()
    (tmp_path / "c" / "offsets" / f"{2:020d}.json").unlink()
    again = cdc_rs.stream(bronze, simple(str(tmp_path / "t")), checkpoint=tmp_path / "c",
                          max_rows_per_batch=10, progress=False)
    assert [(r.batch_id, r.skipped_replay, r.source) for r in again] == [(2, True, "a.parquet [20:25]")]


def test_replaying_the_same_batches_changes_nothing(shop, tmp_path):
    folder, data, expected = shop
    target = tmp_path / "silver"
    cdc_rs.stream(folder, customers(str(target), data.country_lookup), checkpoint=tmp_path / "c1",
                  pattern="bronze-*.parquet", progress=False)
    version = DeltaTable(str(target)).version()
    # a second query run with the same ids (a fresh checkpoint, a fresh process)
    reports = cdc_rs.stream(folder, customers(str(target), data.country_lookup),
                            checkpoint=tmp_path / "c2", pattern="bronze-*.parquet", progress=False)
    assert [r.skipped_replay for r in reports] == [True] * 4
    assert all(r.inserted == r.updated == r.deleted == 0 for r in reports)
    assert DeltaTable(str(target)).version() == version
    assert read(target, "customer_id").cast(expected.schema).equals(expected)


def test_json_lines_with_garbage_lines_are_quarantined(tmp_path):
    bronze = tmp_path / "in"
    bronze.mkdir()
    lines = [json.dumps({"id": 1, "ts": 1, "op": "insert", "v": "a"}),
             "this is not json",
             json.dumps({"id": 2, "ts": 1, "op": "insert", "v": "b"}),
             '{"id": 3, "ts": 1, "op": "ins',
             "[1, 2, 3]",
             "",
             json.dumps({"id": 1, "ts": 2, "op": "update", "v": "A"})]
    (bronze / "events-1.jsonl").write_text("\n".join(lines) + "\n")
    up = simple(str(tmp_path / "t"))
    reports = cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", progress=False)
    assert len(reports) == 1
    r = reports[0]
    assert r.rows_in == 3 and r.quarantined == 3 and (r.inserted, r.superseded) == (2, 1)
    assert read(tmp_path / "t")["v"].to_pylist() == ["A", "b"]
    bad = [json.loads(x) for x in
           (tmp_path / "c" / "quarantine" / f"{0:020d}.jsonl").read_text().splitlines()]
    assert [b["line"] for b in bad] == [2, 4, 5]
    assert bad[0]["text"] == "this is not json" and bad[0]["file"].endswith("events-1.jsonl")
    # a file of garbage only: quarantined, nothing applied, the stream goes on
    (bronze / "events-2.jsonl").write_text("garbage\nmore garbage\n")
    (bronze / "events-3.jsonl").write_text(json.dumps({"id": 4, "ts": 1, "op": "insert",
                                                       "v": "d"}) + "\n")
    reports = cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", progress=False)
    assert [(r.quarantined, r.inserted) for r in reports] == [(2, 0), (0, 1)]
    assert read(tmp_path / "t")["id"].to_pylist() == [1, 2, 4]


def test_corrupt_parquet_is_a_clear_error_and_loses_nothing(tmp_path):
    bronze = tmp_path / "in"
    bronze.mkdir()
    good = pa.table({"id": [1], "ts": [1], "op": ["insert"], "v": ["a"]})
    pq.write_table(good, bronze / "1.parquet")
    (bronze / "2.parquet").write_bytes(b"PAR1 this is truncated garbage")
    pq.write_table(pa.table({"id": [2], "ts": [1], "op": ["insert"], "v": ["b"]}),
                   bronze / "3.parquet")
    up = simple(str(tmp_path / "t"))
    with pytest.raises(SourceError, match=r"2\.parquet.*not a readable Parquet file") as err:
        cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", progress=False)
    assert isinstance(err.value, cdc_rs.CdcError)
    assert not (tmp_path / "t").exists()  # every file is checked before anything is committed
    # the operator fixes the file: the stream runs them all
    pq.write_table(pa.table({"id": [5], "ts": [1], "op": ["insert"], "v": ["e"]}),
                   bronze / "2.parquet")
    reports = cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", progress=False)
    assert [r.source.split()[0] for r in reports] == ["1.parquet", "2.parquet", "3.parquet"]
    assert read(tmp_path / "t")["id"].to_pylist() == [1, 2, 5]


def test_corrupt_file_can_be_quarantined(tmp_path):
    bronze = tmp_path / "in"
    bronze.mkdir()
    (bronze / "1.parquet").write_bytes(b"garbage")
    pq.write_table(pa.table({"id": [2], "ts": [1], "op": ["insert"], "v": ["b"]}),
                   bronze / "2.parquet")
    up = simple(str(tmp_path / "t"))
    reports = cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", progress=False,
                            on_bad_file="quarantine")
    assert [r.batch_id for r in reports] == [1]
    files = (tmp_path / "c" / "quarantine" / "files.jsonl").read_text()
    assert "1.parquet" in files
    assert read(tmp_path / "t")["id"].to_pylist() == [2]
    assert cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", progress=False) == []


def test_schema_change_between_files_stops_cleanly(shop, tmp_path):
    folder, data, _ = shop
    bronze = tmp_path / "in"
    bronze.mkdir()
    first = data.bronze[0]
    pq.write_table(first, bronze / "bronze-1.parquet")
    # the producer changed: ``value`` became an integer column
    changed = first.set_column(first.schema.get_field_index("value"), "value",
                               pa.array(range(first.num_rows), pa.int64()))
    pq.write_table(changed, bronze / "bronze-2.parquet")
    up = customers(str(tmp_path / "silver"), data.country_lookup)
    with pytest.raises(cdc_rs.CdcError, match=r"batch 1 \(bronze-2\.parquet"):
        cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", progress=False)
    dt = DeltaTable(str(tmp_path / "silver"))
    assert dt.version() == 0 and dt.transaction_version(up.target.app_id) == 0
    assert not (tmp_path / "c" / "commits" / f"{1:020d}.json").exists()
    # fixed upstream: the same batch id is applied, nothing lost
    pq.write_table(data.bronze[1], bronze / "bronze-2.parquet")
    reports = cdc_rs.stream(bronze, customers(str(tmp_path / "silver"), data.country_lookup),
                            checkpoint=tmp_path / "c", progress=False)
    assert [r.batch_id for r in reports] == [1] and not reports[0].skipped_replay


def test_checkpoint_guards(tmp_path):
    bronze = tmp_path / "in"
    bronze.mkdir()
    pq.write_table(pa.table({"id": [1], "ts": [1], "op": ["insert"], "v": ["a"]}),
                   bronze / "1.parquet")
    cdc_rs.stream(bronze, simple(str(tmp_path / "t")), checkpoint=tmp_path / "c", progress=False)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(CheckpointError, match="belongs to source"):
        cdc_rs.stream(other, simple(str(tmp_path / "t")), checkpoint=tmp_path / "c",
                      progress=False)
    with pytest.raises(CheckpointError, match="lost data"):  # a MemoryTable forgets
        cdc_rs.stream(bronze, simple(None), checkpoint=tmp_path / "c", progress=False)
    with pytest.raises(CheckpointError, match="lost data"):  # the table was deleted
        cdc_rs.stream(bronze, simple(str(tmp_path / "new")), checkpoint=tmp_path / "c",
                      progress=False)
    with pytest.raises(cdc_rs.ConfigError, match="trigger"):
        cdc_rs.stream(bronze, simple(None), checkpoint=tmp_path / "c2", trigger="processingTime")
    with pytest.raises(SourceError, match="does not exist"):
        cdc_rs.stream(tmp_path / "missing", simple(None), checkpoint=tmp_path / "c3",
                      progress=False)


def test_memory_table_works_for_one_shot_runs(tmp_path):
    bronze = tmp_path / "in"
    bronze.mkdir()
    for i in range(3):
        pq.write_table(pa.table({"id": [i], "ts": [1], "op": ["insert"], "v": [str(i)]}),
                       bronze / f"{i}.parquet")
    up = simple(None)
    reports = cdc_rs.stream(FolderSource(bronze), up, checkpoint=tmp_path / "c", progress=False)
    assert len(reports) == 3 and len(up.target) == 3
    table = cdc_rs.reports_to_arrow(reports)
    assert "source" in table.column_names and pc.sum(table["inserted"]).as_py() == 3


def test_a_json_line_whose_types_disagree_with_the_others_is_quarantined_alone(tmp_path):
    bronze = tmp_path / "in"
    bronze.mkdir()
    lines = [json.dumps({"id": 1, "ts": 1, "op": "insert", "v": "a"}),
             json.dumps({"id": 2, "ts": 1, "op": "insert", "v": {"nested": True}}),  # odd one
             json.dumps({"id": 3, "ts": 1, "op": "insert", "v": "c", "extra": 5}),
             json.dumps({"id": "four", "ts": 1, "op": "insert", "v": "d"})]  # odd one
    (bronze / "events-1.jsonl").write_text("\n".join(lines) + "\n")
    up = simple(str(tmp_path / "t"))
    (report,) = cdc_rs.stream(bronze, up, checkpoint=tmp_path / "c", progress=False)
    assert (report.rows_in, report.quarantined, report.inserted) == (2, 2, 2)
    assert read(tmp_path / "t")["v"].to_pylist() == ["a", "c"]
    bad = [json.loads(x) for x in
           (tmp_path / "c" / "quarantine" / f"{0:020d}.jsonl").read_text().splitlines()]
    assert [b["line"] for b in bad] == [2, 4]


@pytest.mark.parametrize("file", ["metadata.json", "offsets", "commits"])
def test_a_corrupt_checkpoint_file_is_a_checkpoint_error_naming_it(shop, tmp_path, file):
    folder, data, _ = shop
    upsert = customers(str(tmp_path / "silver"), data.country_lookup)
    cdc_rs.stream(folder, upsert, checkpoint=tmp_path / "chk", pattern="bronze-*.parquet",
                  progress=False)
    damaged = tmp_path / "chk" / file
    if damaged.is_dir():
        damaged = sorted(damaged.iterdir())[-1]
    damaged.write_text('{"batch_id": 3, "unit"')
    with pytest.raises(CheckpointError, match=damaged.name):
        cdc_rs.stream(folder, customers(str(tmp_path / "silver"), data.country_lookup),
                      checkpoint=tmp_path / "chk", pattern="bronze-*.parquet", progress=False)


def test_a_written_bookstore_folder_streams_as_it_is_without_a_pattern(tmp_path):
    data = bookstore(events=4_000, batches=3, seed=2)
    data.write_parquet(tmp_path / "bronze")
    upsert = customers(str(tmp_path / "silver"), data.country_lookup)
    reports = cdc_rs.stream(tmp_path / "bronze", upsert, checkpoint=tmp_path / "chk",
                            progress=False)
    assert [r.batch_id for r in reports] == [0, 1, 2]  # the lookup is not a bronze batch


@pytest.mark.parametrize("stray", ["columns", "not parquet"])
def test_a_stray_file_stops_the_run_before_anything_of_it_is_committed(shop, tmp_path, stray):
    folder, data, _ = shop
    bronze = tmp_path / "in"
    bronze.mkdir()
    for i, batch in enumerate(data.bronze[:2]):
        pq.write_table(batch, bronze / f"bronze-{i}.parquet")
    if stray == "columns":
        pq.write_table(data.country_lookup, bronze / "bronze-1a-lookup.parquet")
    else:
        (bronze / "bronze-1a-lookup.parquet").write_bytes(b"PAR1 but not really")
    upsert = customers(str(tmp_path / "silver"), data.country_lookup)
    with pytest.raises(SourceError, match="bronze-1a-lookup.parquet.*nothing of this run"):
        cdc_rs.stream(bronze, upsert, checkpoint=tmp_path / "chk", progress=False)
    assert not (tmp_path / "silver").exists()
    assert list((tmp_path / "chk" / "commits").iterdir()) == []
    # quarantined instead, the good files are applied and the stray one recorded
    reports = cdc_rs.stream(bronze, customers(str(tmp_path / "silver"), data.country_lookup),
                            checkpoint=tmp_path / "chk", progress=False, on_bad_file="quarantine")
    assert [r.rows_in for r in reports] == [data.bronze[0].num_rows, data.bronze[1].num_rows]
    files = (tmp_path / "chk" / "quarantine" / "files.jsonl").read_text()
    assert "bronze-1a-lookup.parquet" in files
