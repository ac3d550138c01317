"""Spark with Delta Lake reads every kind of table DeltaTarget writes, row for row as
deltalake does: merge-on-read with deletion vectors (partitioned, compacted, checkpointed),
copy-on-write, and the change data feed through Spark's own ``readChangeFeed``."""

from __future__ import annotations

import random
from collections import Counter

import pyarrow as pa
import pytest

pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs.delta import DeltaTarget  # noqa: E402

from deltalake import DeltaTable  # noqa: E402

from delta_readers import read_with_deltalake, read_with_spark  # noqa: E402

COLUMNS = ["id", "ts", "op", "region", "v"]


def write(path, batches: int, seed: int, **options) -> cdc_rs.BatchUpsert:
    rng = random.Random(seed)
    up = cdc_rs.batch_upsert(DeltaTarget(path, **options), keys="id", sequence_by="ts",
                             operation_column="op", delete_operations=["delete"])
    for batch_id in range(batches):
        n = rng.randint(5, 30)
        up(pa.table({"id": [rng.randrange(60) for _ in range(n)],
                     "ts": [rng.randrange(100) for _ in range(n)],
                     "op": [rng.choice(["insert", "update", "update", "delete"]) for _ in range(n)],
                     "region": [rng.choice(["eu", "us", None]) for _ in range(n)],
                     "v": [rng.choice([None, "x", str(rng.random())[:6]]) for _ in range(n)]}),
           batch_id)
    return up


def rows(table: pa.Table) -> pa.Table:
    return table.select(COLUMNS).sort_by("id")


def test_spark_reads_what_deltalake_reads_on_every_table_kind(tmp_path):
    tables = {
        "merge-on-read": tmp_path / "mor",
        "partitioned": tmp_path / "mor-partitioned",
        "compacted": tmp_path / "mor-compacted",
        "copy-on-write": tmp_path / "cow",
    }
    write(tables["merge-on-read"], 12, 1, auto_compact=None)
    write(tables["partitioned"], 12, 2, partition_by="region", checkpoint_every=4)
    write(tables["compacted"], 12, 3, auto_compact=None).target.optimize(min_deleted_fraction=0.0)
    write(tables["copy-on-write"], 12, 4, deletion_vectors=False, partition_by="region",
          target_file_rows=8)
    assert "deletionVectors" in DeltaTable(str(tables["merge-on-read"])).protocol().writer_features
    spark = read_with_spark(*tables.values())
    for (kind, path), got in zip(tables.items(), spark):
        want = rows(read_with_deltalake(path))
        assert want.num_rows > 0, kind
        assert rows(got).cast(want.schema).equals(want), kind


def test_spark_reads_the_change_data_feed_deltalake_reads(tmp_path):
    path = tmp_path / "feed"
    write(path, 10, 5, change_data_feed=True, partition_by="region", auto_compact=3,
          checkpoint_every=4)
    (spark,) = read_with_spark(path, change_feed=True)
    ours = pa.table(DeltaTable(str(path)).load_cdf(starting_version=0))

    def changes(table: pa.Table) -> Counter:
        picked = table.select([*COLUMNS, "_change_type", "_commit_version"])
        return Counter(tuple(sorted(r.items())) for r in picked.to_pylist())

    assert len(spark) > 0
    assert changes(spark.cast(ours.select(spark.column_names).schema)) == changes(
        ours.select(spark.column_names))
    assert {"insert", "update_preimage", "update_postimage", "delete"} >= \
        set(spark.column("_change_type").to_pylist())
