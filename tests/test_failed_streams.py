"""A micro-batch whose input fails while it is read applies nothing, on every target, and
leaves its batch id free; in ``apply_all`` the batches before it stay applied."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cdc_rs

pytest.importorskip("deltalake")


def _batch(ids: range, ts: int) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "ts": pa.array([ts] * len(ids), pa.int64())})


def _target(kind: str, tmp_path):
    return cdc_rs.MemoryTable() if kind == "memory" else cdc_rs.DeltaTarget(tmp_path / "silver")


def _failing_stream(table: pa.Table, after: int) -> pa.RecordBatchReader:
    batches = table.to_batches(max_chunksize=10)

    def parts():
        yield from batches[:after]
        raise OSError("the source went away")

    return pa.RecordBatchReader.from_batches(table.schema, parts())


def _corrupt_parquet(path, table: pa.Table) -> None:
    """A Parquet file whose footer is sound but whose second row group's pages are not."""
    pq.write_table(table, path, row_group_size=50, compression="snappy")
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(1).column(0)
    start = column.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + 8:start + column.total_compressed_size] = b"\xff" * (column.total_compressed_size - 8)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["memory", "delta"])
def test_a_stream_failing_midway_raises_commits_nothing_and_leaves_the_batch_id_free(
        kind, tmp_path):
    upsert = cdc_rs.batch_upsert(_target(kind, tmp_path), keys="id", sequence_by="ts")
    upsert(_batch(range(100), 1), 0)
    with pytest.raises(cdc_rs.InputError, match="the source went away"):
        upsert(_failing_stream(_batch(range(50, 150), 2), after=3), 1)
    assert upsert.target.last_batch_id == 0
    report = upsert(_batch(range(50, 150), 2), 1)  # the repaired input is applied, not a replay
    assert not report.skipped_replay
    assert (report.inserted, report.updated) == (50, 50)
    assert len(upsert.target) == 150


@pytest.mark.parametrize("kind", ["memory", "delta"])
def test_a_scan_of_a_corrupt_parquet_file_raises_and_commits_nothing(kind, tmp_path):
    upsert = cdc_rs.batch_upsert(_target(kind, tmp_path), keys="id", sequence_by="ts")
    upsert(_batch(range(10), 1), 0)
    path = tmp_path / "corrupt.parquet"
    _corrupt_parquet(path, _batch(range(200), 2))
    with pytest.raises(cdc_rs.CdcError):
        upsert(cdc_rs.scan_parquet(path, batch_rows=50), 1)
    assert upsert.target.last_batch_id == 0
    assert upsert(_batch(range(200), 2), 1).rows_in == 200


@pytest.mark.parametrize("kind", ["memory", "delta"])
def test_apply_all_applies_the_batches_before_a_bad_file(kind, tmp_path):
    good = []
    for i in range(2):
        good.append(tmp_path / f"good-{i}.parquet")
        pq.write_table(_batch(range(i * 10, i * 10 + 10), i), good[-1])
    missing = tmp_path / "missing.parquet"
    upsert = cdc_rs.batch_upsert(_target(kind, tmp_path), keys="id", sequence_by="ts")
    with pytest.raises(cdc_rs.InputError, match="missing.parquet"):
        upsert.apply_all(cdc_rs.scan_parquet_files([good[0], missing, good[1]]))
    assert upsert.target.last_batch_id == 0
    assert len(upsert.target) == 10


@pytest.mark.parametrize("kind", ["memory", "delta"])
def test_apply_all_over_a_generator_that_raises_applies_every_batch_it_yielded(kind, tmp_path):
    def batches():
        yield _batch(range(10), 1)
        yield _batch(range(10, 20), 1)
        raise RuntimeError("the generator failed")

    upsert = cdc_rs.batch_upsert(_target(kind, tmp_path), keys="id", sequence_by="ts")
    with pytest.raises(RuntimeError, match="the generator failed"):
        upsert.apply_all(batches())
    assert upsert.target.last_batch_id == 1
    assert len(upsert.target) == 20


def test_apply_all_applies_the_batches_before_a_corrupt_file(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(_batch(range(10), 1), good)
    corrupt = tmp_path / "corrupt.parquet"
    _corrupt_parquet(corrupt, _batch(range(200), 2))
    upsert = cdc_rs.batch_upsert(cdc_rs.DeltaTarget(tmp_path / "silver"), keys="id",
                                 sequence_by="ts")
    with pytest.raises(cdc_rs.CdcError):
        upsert.apply_all(cdc_rs.scan_parquet_files([good, corrupt, good], batch_rows=50))
    assert upsert.target.last_batch_id == 0
