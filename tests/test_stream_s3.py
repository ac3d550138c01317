"""cdc_rs.stream on object storage: bronze files or a Delta table in a bucket, the checkpoint
in a bucket, into a DeltaTarget in a bucket — the same batches, tables and exactly-once
guarantees as on a local disk, against a real S3 server (moto, on 127.0.0.1)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("deltalake")
pytest.importorskip("obstore")

import cdc_rs  # noqa: E402
import cdc_rs._faults as faults  # noqa: E402
from cdc_rs import CheckpointError, DeltaSource, FolderSource, SourceError  # noqa: E402
from cdc_rs.cli import main  # noqa: E402
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore  # noqa: E402
from cdc_rs.delta import DeltaTarget  # noqa: E402

from deltalake import DeltaTable, write_deltalake  # noqa: E402
from delta_readers import read_with_deltalake  # noqa: E402

_COUNTERS = ("batch_id", "rows_in", "inserted", "updated", "deleted", "superseded", "stale",
             "skipped_replay", "quarantined", "source")


def customers(target, lookup):
    return cdc_rs.batch_upsert(
        target, keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
        topic="customers", operation_column="row_status", delete_operations=["delete"],
        lookup=lookup, lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)


def simple(target):
    return cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", operation_column="op",
                               delete_operations=["delete"])


def events(ids, ts, op="insert") -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "ts": pa.array([ts] * len(ids), pa.int64()),
                     "op": [op] * len(ids), "v": [f"{i}@{ts}" for i in ids]})


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def jsonl_bytes(*lines: object) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()


def client(s3_server):
    import boto3

    return boto3.client("s3", endpoint_url=s3_server.endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1")


def upload(s3_server, url: str, data: bytes) -> None:
    bucket, key = url.removeprefix("s3://").split("/", 1)
    client(s3_server).put_object(Bucket=bucket, Key=key, Body=data)


def download(s3_server, url: str) -> bytes:
    bucket, key = url.removeprefix("s3://").split("/", 1)
    body: bytes = client(s3_server).get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


@pytest.fixture
def lake(s3_server):
    """``(s3://bucket, storage_options)`` of a new, empty bucket."""
    return f"s3://{s3_server.new_bucket()}", s3_server.storage_options


def counters(reports) -> list[dict[str, object]]:
    return [{k: getattr(r, k) for k in _COUNTERS} for r in reports]


def test_a_bronze_folder_on_s3_into_delta_on_s3_equals_the_local_run(s3_server, lake, tmp_path,
                                                                     monkeypatch):
    bucket, options = lake
    data = bookstore(events=3_000, batches=3, seed=4)
    local = tmp_path / "local"
    data.write_parquet(local / "bronze")
    for path in sorted((local / "bronze").iterdir()):  # the lookup file too: it is skipped
        upload(s3_server, f"{bucket}/bronze/{path.name}", path.read_bytes())
    want = cdc_rs.stream(local / "bronze", customers(str(local / "silver"), data.country_lookup),
                         checkpoint=local / "chk", progress=False)
    scratch = tmp_path / "cwd"
    scratch.mkdir()
    monkeypatch.chdir(scratch)  # nothing of the S3 run may land on the local disk
    got = cdc_rs.stream(f"{bucket}/bronze/",
                        customers(DeltaTarget(f"{bucket}/silver", storage_options=options),
                                  data.country_lookup),
                        checkpoint=f"{bucket}/chk/customers", storage_options=options,
                        progress=False)
    assert counters(got) == counters(want) and len(got) == 3
    expected = read_with_deltalake(local / "silver").sort_by("customer_id")
    table = read_with_deltalake(f"{bucket}/silver", storage_options=options)
    assert table.sort_by("customer_id").equals(expected)
    keys = s3_server.keys(bucket.removeprefix("s3://"))
    for i in range(3):
        name = f"{i:020d}.json"
        assert f"chk/customers/commits/{name}" in keys
        # the same offsets, byte for byte, as the local checkpoint's
        assert download(s3_server, f"{bucket}/chk/customers/offsets/{name}") == \
            (local / "chk" / "offsets" / name).read_bytes()
    assert "chk/customers/metadata.json" in keys
    assert list(scratch.iterdir()) == []
    # availableNow: a second run finds nothing new
    again = customers(DeltaTarget(f"{bucket}/silver", storage_options=options),
                      data.country_lookup)
    assert cdc_rs.stream(f"{bucket}/bronze", again, checkpoint=f"{bucket}/chk/customers",
                         storage_options=options, progress=False) == []


def test_a_second_run_picks_up_only_the_new_files(s3_server, lake):
    bucket, options = lake
    upload(s3_server, f"{bucket}/in/001.parquet", parquet_bytes(events([1, 2, 3], 1)))
    upload(s3_server, f"{bucket}/in/002.jsonl",
           jsonl_bytes({"id": 4, "ts": 1, "op": "insert", "v": "d"}))

    def run() -> list[cdc_rs.StreamReport]:
        up = simple(DeltaTarget(f"{bucket}/silver", storage_options=options))
        return cdc_rs.stream(FolderSource(f"{bucket}/in", storage_options=options), up,
                             checkpoint=f"{bucket}/chk", storage_options=options, progress=False)

    assert [(r.batch_id, r.inserted) for r in run()] == [(0, 3), (1, 1)]
    upload(s3_server, f"{bucket}/in/003.parquet", parquet_bytes(events([2], 5, "delete")))
    upload(s3_server, f"{bucket}/in/_SUCCESS", b"")  # ignored, as on a local disk
    assert [(r.batch_id, r.deleted, r.source) for r in run()] == [(2, 1, "003.parquet [0:1]")]
    assert run() == []
    table = read_with_deltalake(f"{bucket}/silver", storage_options=options).sort_by("id")
    assert table["id"].to_pylist() == [1, 3, 4]


class Crash(BaseException):
    """The process dying at a fault point (not an Exception: nothing may catch it)."""


@pytest.mark.parametrize("point", ["after_offsets", "before_offsets_commit"])
def test_a_crash_between_offsets_and_commit_re_runs_that_batch_exactly_once(
        s3_server, lake, monkeypatch, point):
    bucket, options = lake
    files = [events([1, 2], 1), events([2, 3], 2, "update"), events([1], 3, "delete"),
             events([4], 4)]
    for i, table in enumerate(files):
        upload(s3_server, f"{bucket}/in/{i:03d}.parquet", parquet_bytes(table))
    seen: list[str] = []

    def crash_in_batch_1(name: str) -> None:
        seen.append(name)
        if name == point and seen.count(point) == 2:
            raise Crash(point)

    def run() -> list[cdc_rs.StreamReport]:
        up = simple(DeltaTarget(f"{bucket}/silver", storage_options=options))
        return cdc_rs.stream(f"{bucket}/in", up, checkpoint=f"{bucket}/chk",
                             storage_options=options, progress=False)

    monkeypatch.setattr(faults, "reached", crash_in_batch_1)
    with pytest.raises(Crash):
        run()
    monkeypatch.undo()
    keys = s3_server.keys(bucket.removeprefix("s3://"))
    assert f"chk/offsets/{1:020d}.json" in keys and f"chk/commits/{1:020d}.json" not in keys
    # the re-run: batch 1 again, with the same input; the target skips it if it committed it
    again = run()
    assert [(r.batch_id, r.skipped_replay) for r in again] == \
        [(1, point == "before_offsets_commit"), (2, False), (3, False)]
    history = DeltaTable(f"{bucket}/silver", storage_options=options).history()
    applied = sorted(int(c["cdc_rs.batch_id"]) for c in history
                     if c.get("cdc_rs.batch_id") is not None)
    assert applied == [0, 1, 2, 3]  # every batch committed to the table once
    memory = simple(None)
    for i, table in enumerate(files):
        memory(table, i)
    want = memory.target.to_arrow().sort_by("id")
    got = read_with_deltalake(f"{bucket}/silver", storage_options=options).sort_by("id")
    assert got.select(want.column_names).cast(want.schema).equals(want)


def test_a_delta_table_on_s3_is_read_version_by_version(lake):
    bucket, options = lake
    bronze = f"{bucket}/bronze"
    writes = {**options, "AWS_CONDITIONAL_PUT": "etag"}
    write_deltalake(bronze, events([1, 2], 1), storage_options=writes)
    write_deltalake(bronze, events([2], 2, "update"), mode="append", storage_options=writes)

    def run(source: object) -> list[cdc_rs.StreamReport]:
        up = simple(DeltaTarget(f"{bucket}/silver", storage_options=options))
        return cdc_rs.stream(source, up, checkpoint=f"{bucket}/chk", storage_options=options,
                             progress=False)

    first = run(f"delta://{bronze}")
    assert [(r.source, r.rows_in) for r in first] == \
        [("delta version 0 [0:2]", 2), ("delta version 1 [0:1]", 1)]
    write_deltalake(bronze, events([1, 3], 3, "delete"), mode="append", storage_options=writes)
    second = run(bronze)  # an s3:// URL holding a _delta_log is a Delta source
    assert [(r.batch_id, r.deleted) for r in second] == [(2, 1)]
    assert run(DeltaSource(bronze, storage_options=options)) == []
    table = read_with_deltalake(f"{bucket}/silver", storage_options=options)
    assert table.select(["id", "v"]).to_pylist() == [{"id": 2, "v": "2@2"}]


def test_quarantined_lines_and_files_land_in_the_checkpoint_on_s3(s3_server, lake):
    bucket, options = lake
    upload(s3_server, f"{bucket}/in/1.jsonl", jsonl_bytes(
        {"id": 1, "ts": 1, "op": "insert", "v": "a"}, "not json",
        {"id": 2, "ts": 1, "op": "insert", "v": "b"}, "[1, 2]"))
    upload(s3_server, f"{bucket}/in/2.parquet", b"PAR1 but not really")
    upload(s3_server, f"{bucket}/in/3.parquet", parquet_bytes(events([3], 1)))
    upload(s3_server, f"{bucket}/in/4.parquet", b"garbage")
    up = simple(DeltaTarget(f"{bucket}/silver", storage_options=options))
    with pytest.raises(SourceError, match=r"in/2\.parquet: not a readable Parquet file"):
        cdc_rs.stream(f"{bucket}/in", up, checkpoint=f"{bucket}/chk", storage_options=options,
                      progress=False)
    reports = cdc_rs.stream(f"{bucket}/in", up, checkpoint=f"{bucket}/chk",
                            storage_options=options, progress=False, on_bad_file="quarantine")
    assert [(r.batch_id, r.inserted, r.quarantined) for r in reports] == [(0, 2, 2), (2, 1, 0)]
    lines = [json.loads(x) for x in
             download(s3_server, f"{bucket}/chk/quarantine/{0:020d}.jsonl").splitlines()]
    assert [(x["file"], x["line"]) for x in lines] == [(f"{bucket}/in/1.jsonl", 2),
                                                      (f"{bucket}/in/1.jsonl", 4)]
    files = [json.loads(x) for x in
             download(s3_server, f"{bucket}/chk/quarantine/files.jsonl").splitlines()]
    assert [x["unit"] for x in files] == ["2.parquet", "4.parquet"]  # appended, one per file
    table = read_with_deltalake(f"{bucket}/silver", storage_options=options).sort_by("id")
    assert table["id"].to_pylist() == [1, 2, 3]


@pytest.mark.parametrize("broken", ["source", "checkpoint"])
def test_a_bad_storage_option_or_a_missing_bucket_is_a_clear_cdc_rs_error(lake, tmp_path,
                                                                         broken):
    bucket, options = lake
    error = SourceError if broken == "source" else CheckpointError
    local = tmp_path / "in"
    local.mkdir()
    pq.write_table(events([1], 1), local / "1.parquet")

    def run(url: str, storage_options: dict[str, str]) -> None:
        source = FolderSource(url, storage_options=storage_options) if broken == "source" \
            else FolderSource(local)
        checkpoint = url if broken == "checkpoint" else tmp_path / "chk"
        cdc_rs.stream(source, simple(None), checkpoint=checkpoint,
                      storage_options=storage_options, progress=False)

    missing = bucket.replace("s3://", "s3://no-such-bucket-", 1)
    with pytest.raises(error, match="no-such-bucket") as err:
        run(f"{missing}/{broken}", options)
    assert "\n" not in str(err.value)  # the server's XML reply is left out
    with pytest.raises(error, match="aws_not_an_option"):
        run(f"{bucket}/{broken}", {**options, "AWS_NOT_AN_OPTION": "1"})
    with pytest.raises(error, match="s3://"):
        run(f"ftp://host/{broken}", options)


def test_the_cli_streams_s3_to_s3_with_credentials_from_the_environment(s3_server, lake,
                                                                       tmp_path, monkeypatch,
                                                                       capsys):
    bucket, options = lake
    for name, value in options.items():
        monkeypatch.setenv(name, value)
    upload(s3_server, f"{bucket}/bronze/1.jsonl", jsonl_bytes(
        {"id": 1, "ts": 1, "op": "insert", "v": "a"}, "garbage"))
    config = tmp_path / "pipeline.toml"
    config.write_text('keys = ["id"]\nsequence_by = "ts"\noperation_column = "op"\n'
                      'delete_operations = ["delete"]\n')
    args = ["run", "--source", f"{bucket}/bronze", "--target", f"{bucket}/silver",
            "--checkpoint", f"{bucket}/chk/", "--config", str(config), "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"1 unparseable lines quarantined in {bucket}/chk/quarantine" in out
    assert main(args) == 0 and "nothing new to apply" in capsys.readouterr().out
    table = read_with_deltalake(f"{bucket}/silver", storage_options=options)
    assert table["v"].to_pylist() == ["a"]
