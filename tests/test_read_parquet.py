"""cdc_rs.read_parquet / read_parquet_files: the same data pyarrow reads, as view arrays, and
upserts fed from them end exactly like upserts fed from pyarrow's reads."""

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import cdc_rs
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, Anomalies, bookstore


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Three bronze micro-batches with every anomaly (ten times the usual rate), plus rows whose
    value is not UTF-8, an empty value and a null value; several row groups per file."""
    folder = tmp_path_factory.mktemp("bronze")
    data = bookstore(events=6_000, batches=3, seed=3, anomalies=Anomalies().scaled(10))
    paths = []
    for i, batch in enumerate(data.bronze):
        odd = batch.slice(0, 3).set_column(
            batch.schema.get_field_index("value"), "value",
            pa.array([b'{"customer_id": "C\xff\xfe", "row_status": "insert"}', b"", None], pa.binary()))
        batch = pa.concat_tables([batch, odd.cast(batch.schema)])
        path = folder / f"bronze-{i}.parquet"
        pq.write_table(batch, path, row_group_size=700)
        paths.append(path)
    pq.write_table(data.country_lookup, folder / "country_lookup.parquet")
    return paths


def test_reads_what_pyarrow_reads_with_byte_columns_as_views(files):
    for path in files:
        expected = pq.read_table(path)
        read = cdc_rs.read_parquet(path)
        assert read.num_rows == expected.num_rows
        assert pq.ParquetFile(path).num_row_groups > 1
        for field in read.schema:
            plain = expected.schema.field(field.name).type
            view = {pa.string(): pa.string_view(), pa.binary(): pa.binary_view()}.get(plain, plain)
            assert field.type == view, field
        assert read.cast(expected.schema).equals(expected)


def test_columns_come_in_the_order_asked_for(files):
    read = cdc_rs.read_parquet(files[0], columns=["value", "offset", "topic"])
    assert read.column_names == ["value", "offset", "topic"]
    assert read["offset"].equals(pq.read_table(files[0], columns=["offset"])["offset"])


def test_bad_paths_and_columns_are_input_errors(files, tmp_path):
    with pytest.raises(cdc_rs.InputError, match="cannot open"):
        cdc_rs.read_parquet(tmp_path / "missing.parquet")
    with pytest.raises(cdc_rs.InputError, match='no column "partitions"'):
        cdc_rs.read_parquet(files[0], columns=["value", "partitions"])
    text = tmp_path / "notes.parquet"
    text.write_bytes(b"PAR1 but not really")
    with pytest.raises(cdc_rs.InputError, match="as Parquet"):
        cdc_rs.read_parquet(text)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(files[0].read_bytes()[: files[0].stat().st_size // 2])
    with pytest.raises(cdc_rs.InputError):
        cdc_rs.read_parquet(cut)


def _upsert(files, target):
    return cdc_rs.batch_upsert(
        target, keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
        topic="customers", operation_column="row_status", delete_operations=("delete",),
        lookup=pq.read_table(files[0].parent / "country_lookup.parquet"),
        lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)


@pytest.mark.parametrize("kind", ["memory", "delta"])
@pytest.mark.parametrize("read", ["table", "scan"])
def test_an_upsert_fed_views_ends_like_one_fed_pyarrow_reads(files, tmp_path, kind, read):
    def target(name):
        return cdc_rs.MemoryTable() if kind == "memory" else cdc_rs.DeltaTarget(tmp_path / name)

    from_views, from_plain = _upsert(files, target("views")), _upsert(files, target("plain"))
    batches = (cdc_rs.scan_parquet_files(files, batch_rows=500) if read == "scan"
               else map(cdc_rs.read_parquet, files))
    for batch_id, batch in enumerate(batches):
        assert pa.types.is_binary_view(batch.schema.field("value").type)
        got = from_views(batch, batch_id)
        want = from_plain(pq.read_table(files[batch_id]), batch_id)
        timings = {"seconds"}
        assert {k: v for k, v in got.to_dict().items() if k not in timings} == \
            {k: v for k, v in want.to_dict().items() if k not in timings}
        assert got.rejected.num_rows > 0
        # Rejected rows are the caller's rows as given: same values, the input's types.
        assert got.rejected.schema.field("value").type == pa.binary_view()
        assert got.rejected.cast(want.rejected.schema).equals(want.rejected)

    silver = from_plain.target.to_arrow()
    assert from_views.target.to_arrow().schema == silver.schema
    order = [("customer_id", "ascending")]
    assert from_views.target.to_arrow().sort_by(order).equals(silver.sort_by(order))
    assert pc.any(pc.is_null(silver["email"])).as_py()  # the nulls came through both ways


def test_a_scan_yields_the_file_in_batches(files):
    whole = pq.read_table(files[0], columns=["offset", "value"])
    scan = cdc_rs.scan_parquet(files[0], ["offset", "value"], batch_rows=333, read_ahead=0)
    assert isinstance(scan, pa.RecordBatchReader)
    batches = list(scan)
    assert max(b.num_rows for b in batches) == 333
    assert pa.Table.from_batches(batches).cast(whole.schema).equals(whole)
    with pytest.raises(ValueError, match="batch_rows"):
        cdc_rs.scan_parquet(files[0], batch_rows=0)


def test_a_stream_that_fails_midway_changes_nothing(files):
    """The engine screens a streamed batch part by part, but applies it whole or not at all."""
    upsert = _upsert(files, cdc_rs.MemoryTable())
    upsert(cdc_rs.read_parquet(files[0]), 0)
    before = upsert.target.to_arrow()
    first = cdc_rs.read_parquet(files[1]).to_batches()

    def parts():
        yield from first
        raise OSError("the disk went away")

    stream = pa.RecordBatchReader.from_batches(first[0].schema, parts())
    with pytest.raises(cdc_rs.InputError, match="the disk went away"):
        upsert(stream, 1)
    assert upsert.target.to_arrow().equals(before)
    assert upsert.target.last_batch_id == 0
    upsert(cdc_rs.scan_parquet(files[1]), 1)  # the same batch, read again, applies
    assert upsert.target.last_batch_id == 1


def test_a_replayed_stream_is_counted_and_skipped(files):
    upsert = _upsert(files, cdc_rs.MemoryTable())
    upsert(cdc_rs.scan_parquet(files[0]), 0)
    report = upsert(cdc_rs.scan_parquet(files[0], batch_rows=100), 0)
    assert report.skipped_replay
    assert report.rows_in == pq.ParquetFile(files[0]).metadata.num_rows


@pytest.mark.parametrize("read_ahead", [0, 1, 3])
def test_scan_parquet_files_yields_every_file_in_order(files, read_ahead):
    scans = cdc_rs.scan_parquet_files(files, ["offset"], read_ahead=read_ahead)
    tables = [scan.read_all() for scan in scans]
    assert [t.num_rows for t in tables] == [pq.ParquetFile(f).metadata.num_rows for f in files]
    assert all(t.column_names == ["offset"] for t in tables)


def test_scan_parquet_files_stops_early_and_reports_a_bad_file_where_it_is(files, tmp_path):
    scans = cdc_rs.scan_parquet_files(iter(files), read_ahead=2)
    assert next(scans).read_all().num_rows > 0
    scans.close()  # the consumer stopped: the file opened ahead is dropped, no error

    missing = tmp_path / "gone.parquet"
    seen = []
    with pytest.raises(cdc_rs.InputError, match="gone.parquet"):
        for scan in cdc_rs.scan_parquet_files([files[0], missing, files[1]]):
            seen.append(scan.read_all().num_rows)
    assert len(seen) == 1
    assert list(cdc_rs.scan_parquet_files([])) == []


def test_a_big_streamed_batch_screened_in_several_parts_ends_like_the_whole_table(tmp_path):
    """More rows than one part holds (the engine screens about 65k rows at a time), with
    later events of a key in later parts: the newest per key is still decided over the
    whole batch, and every part's rejects are reported in input order."""
    data = bookstore(events=150_000, batches=1, seed=11, anomalies=Anomalies().scaled(5))
    path = tmp_path / "bronze.parquet"
    pq.write_table(data.bronze[0], path)
    pq.write_table(data.country_lookup, tmp_path / "country_lookup.parquet")

    streamed, whole = _upsert([path], cdc_rs.MemoryTable()), _upsert([path], cdc_rs.MemoryTable())
    got = streamed(cdc_rs.scan_parquet(path, batch_rows=20_000), 0)
    want = whole(pq.read_table(path), 0)
    assert got.superseded > 0 and got.rejected.num_rows > 0
    assert {k: v for k, v in got.to_dict().items() if k != "seconds"} == \
        {k: v for k, v in want.to_dict().items() if k != "seconds"}
    assert got.rejected.cast(want.rejected.schema).equals(want.rejected)
    order = [("customer_id", "ascending")]
    assert streamed.target.to_arrow().sort_by(order).equals(whole.target.to_arrow().sort_by(order))
