"""cdc_rs.stream reading a bronze Delta table incrementally, version by version."""

from __future__ import annotations

import pyarrow as pa
import pytest

deltalake = pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore  # noqa: E402
from cdc_rs import DeltaSource, SourceError  # noqa: E402
from cdc_rs.sources import open_source  # noqa: E402

from deltalake import DeltaTable, write_deltalake  # noqa: E402
from delta_readers import read_delta  # noqa: E402


def customers(target, lookup):
    return cdc_rs.batch_upsert(
        target, keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
        topic="customers", operation_column="row_status", delete_operations=["delete"],
        lookup=lookup, lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)


def test_delta_bronze_read_incrementally_by_version(tmp_path):
    data = bookstore(events=6_000, batches=3, seed=9)
    bronze = tmp_path / "bronze"
    write_deltalake(str(bronze), data.bronze[0], partition_by=["topic"])
    write_deltalake(str(bronze), data.bronze[1], mode="append")
    silver, chk = str(tmp_path / "silver"), tmp_path / "chk"
    first = cdc_rs.stream(f"delta://{bronze}", customers(silver, data.country_lookup),
                          checkpoint=chk, progress=False)
    assert [(r.batch_id, r.source.split(" [")[0]) for r in first] == \
        [(0, "delta version 0"), (1, "delta version 1")]
    assert [r.rows_in for r in first] == [len(data.bronze[0]), len(data.bronze[1])]
    # OPTIMIZE rewrites files without changing data: nothing to read
    DeltaTable(str(bronze)).optimize.compact()
    write_deltalake(str(bronze), data.bronze[2], mode="append")
    second = cdc_rs.stream(bronze, customers(silver, data.country_lookup), checkpoint=chk,
                           progress=False)  # a folder with _delta_log is a Delta source
    assert [r.rows_in for r in second] == [0, len(data.bronze[2])]
    memory = customers(None, data.country_lookup)
    for i, b in enumerate(data.bronze):
        memory(b, i)
    expected = memory.target.to_arrow().sort_by("customer_id")
    got = read_delta(silver).sort_by("customer_id")
    assert got.cast(expected.schema).equals(expected)


def test_a_delete_in_the_source_stops_the_stream(tmp_path):
    bronze = tmp_path / "bronze"
    write_deltalake(str(bronze), pa.table({"id": [1, 2], "ts": [1, 1], "v": ["a", "b"]}))
    DeltaTable(str(bronze)).delete("id = 1")
    up = cdc_rs.batch_upsert(str(tmp_path / "silver"), keys="id", sequence_by="ts")
    with pytest.raises(SourceError, match="appends only"):
        cdc_rs.stream(DeltaSource(bronze), up, checkpoint=tmp_path / "c", progress=False)
    reports = cdc_rs.stream(DeltaSource(bronze, skip_change_commits=True), up,
                            checkpoint=tmp_path / "c", progress=False)
    assert [r.batch_id for r in reports] == [1] and reports[0].rows_in == 0  # 0 committed before
    assert read_delta(tmp_path / "silver")["id"].to_pylist() in ([1, 2], [2, 1])
    assert isinstance(open_source(f"delta://{bronze}"), DeltaSource)
