"""The executor-side path (cdc_rs.spark.from_json and latest inside mapInArrow) against
Spark's own from_json, broadcast join and row_number ranking, on the same bronze data."""

from __future__ import annotations

import importlib.util
import json
import os
import re

import pyarrow as pa
import pyarrow.compute  # noqa: F401
import pytest
from spark_helpers import (ARRIVAL, KEYS, bronze_dir, dataset, notebook_upsert,  # noqa: F401
                           sorted_rows, spark, spark_decoded, spark_latest)

import cdc_rs
import cdc_rs.spark as cs
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "golden", "from_json_cases.json")) as f:
    GOLDEN = json.load(f)["cases"]
_spec = importlib.util.spec_from_file_location("_spark_golden", os.path.join(HERE, "spark_golden.py"))
_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_golden)

# A sample of the golden cases, run live through cdc_rs.spark.from_json and F.from_json:
# every third PERMISSIVE case (scalar matrices, timestamps/dates in every zone, nested types,
# the bookstore schemas). Left out: cases Spark itself rejected, and CHAR/VARCHAR schemas,
# which Spark 4's from_json refuses unless spark.sql.legacy.charVarcharAsString is set
# (cdc_rs reads them as STRING, as that flag does).
ELIGIBLE = [k for k, c in enumerate(GOLDEN) if c["mode"] == "PERMISSIVE" and not c.get("error")
            and not re.search(r"\b(VAR)?CHAR\b", c["schema"], re.IGNORECASE)]
SAMPLE = ELIGIBLE[::3]

# Known, documented deviations (tests/test_from_json_golden.py): Java 17's Double.toString.
KNOWN_PREFIXES = ('{"s": [1.0E23, 2e-3,',)


def rows_of(table: pa.Table) -> list[dict]:
    """Rows of a table, normalised like the golden file (timestamps as epoch micros…)."""
    struct = pa.StructArray.from_arrays([c.combine_chunks() for c in table.columns], names=table.column_names)
    return _golden.normalize_struct_array(struct)


@pytest.fixture(scope="module")
def bronze(spark, bronze_dir):
    return spark.read.parquet(str(bronze_dir / "bronze-*.parquet"))


@pytest.fixture(scope="module")
def lookup(spark, dataset):
    return spark.createDataFrame(dataset.country_lookup)


def test_decoder_matches_spark_from_json_on_golden_cases(spark):
    """Live differential: cdc_rs.spark.from_json vs F.from_json on a sample of the golden
    cases (Spark's side in one job, one column per case)."""
    from pyspark.sql import functions as F

    cases = {k: GOLDEN[k] for k in SAMPLE if not GOLDEN[k].get("error")}
    inputs = [(k, i, v) for k, case in cases.items() for i, v in enumerate(case["inputs"])]
    df = spark.createDataFrame(pa.table({
        "case": pa.array([k for k, _, _ in inputs], pa.int32()),
        "i": pa.array([i for _, i, _ in inputs], pa.int32()),
        "value": pa.array([v for _, _, v in inputs], pa.string()),
    })).coalesce(1)
    spark_side = df.select("case", "i", *[
        F.from_json(F.when(F.col("case") == k, F.col("value")), case["schema"],
                    {"mode": case["mode"], "timeZone": case["time_zone"]}).alias(f"c{k}")
        for k, case in cases.items()
    ]).toArrow()
    mismatches = []
    for k, case in cases.items():
        mine = spark_side.filter(pa.compute.equal(spark_side.column("case"), k)).sort_by("i")
        struct = mine.column(f"c{k}").combine_chunks()
        theirs = pa.Table.from_arrays(struct.flatten(), names=[f.name for f in struct.type])
        ours = (cs.from_json(df.filter(F.col("case") == k), "value", case["schema"], case["time_zone"],
                             mode=case["mode"]).drop("case").toArrow().sort_by("i").drop(["i"]))
        assert ours.schema.names == theirs.schema.names
        assert ours.schema.types == theirs.schema.types, case["schema"]
        for inp, a, b in zip(case["inputs"], rows_of(ours), rows_of(theirs)):
            if a != b and not (inp or "").startswith(KNOWN_PREFIXES):
                mismatches.append((case["schema"], case["time_zone"], inp, a, b))
    assert not mismatches, "\n".join(map(repr, mismatches[:20]))


def test_failfast_fails_the_spark_job_like_spark(spark):
    df = spark.createDataFrame([(0, '{"x": 1}'), (1, "{oops")], "i INT, value STRING")
    with pytest.raises(Exception, match="row 1|malformed|Malformed"):
        cs.from_json(df, "value", "x INT", mode="FAILFAST").collect()


def test_decoded_bronze_equals_spark_from_json(spark, bronze):
    """The whole dirty feed (several time spellings, nulls, malformed values), binary value,
    every other bronze column kept in place."""
    from pyspark.sql import functions as F

    customers = bronze.filter("topic = 'customers'")
    ours = cs.from_json(customers, "value", CUSTOMERS_SCHEMA)
    theirs = customers.select(*[F.from_json(F.col(c).cast("string"), CUSTOMERS_SCHEMA).alias("v")
                                if c == "value" else c for c in customers.columns])
    theirs = theirs.select(*["v.*" if c == "value" else c for c in customers.columns])
    assert ours.schema == theirs.schema
    assert ours.columns[:2] == ["key", "customer_id"] and ours.columns[-4:] == ["topic", "partition", "offset", "timestamp"]
    assert dict(ours.dtypes)["row_time"] == "timestamp"
    order = [(c, "ascending") for c in ARRIVAL]
    a, b = ours.toArrow().sort_by(order), theirs.toArrow().sort_by(order)
    assert a.num_rows == customers.count()
    assert a.equals(b)


def test_decoder_takes_the_session_time_zone(spark):
    from pyspark.sql import functions as F

    df = spark.createDataFrame([("{\"t\": \"2022-01-31 23:06:00\"}",)], "value STRING")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        ours = cs.from_json(df, "value", "t TIMESTAMP").toArrow()
        theirs = df.select(F.from_json("value", "t TIMESTAMP").alias("v")).select("v.*").toArrow()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert ours.column("t").cast(pa.int64()) == theirs.column("t").cast(pa.int64())
    assert ours.column("t")[0].as_py().hour == 4  # 23:06 in New York is 04:06 UTC


def test_a_name_clash_is_a_config_error(spark, bronze):
    with pytest.raises(cdc_rs.ConfigError, match="topic"):
        cs.from_json(bronze, "value", "customer_id STRING, TOPIC STRING")
    with pytest.raises(cdc_rs.ConfigError, match="payload"):
        cs.from_json(bronze, "payload", CUSTOMERS_SCHEMA)
    with pytest.raises(cdc_rs.SchemaError):
        cs.from_json(bronze, "value", "customer_id STRUNG")


def test_latest_equals_row_number_ranking(spark, bronze, lookup):
    """Spark's own decode + broadcast join + row_number (newest row_time, earliest
    partition/offset) vs cdc_rs's decoder and executor-side ranking: identical rows."""
    from pyspark.sql import functions as F

    theirs = spark_latest(spark_decoded(bronze).join(F.broadcast(lookup), F.col("country_code") == F.col("code")))
    events = cs.from_json(bronze.filter("topic = 'customers'").select(*ARRIVAL, "value"), "value", CUSTOMERS_SCHEMA)
    ours = cs.latest(events.join(F.broadcast(lookup), F.col("country_code") == F.col("code")),
                     KEYS, "row_time", ARRIVAL)
    assert ours.schema == theirs.schema
    a, b = ours.toArrow(), theirs.toArrow()
    assert a.num_rows == b.num_rows == len(set(a.column("customer_id").to_pylist()))
    assert sorted_rows(a) == sorted_rows(b)


def test_latest_only_ships_one_row_per_key_and_partition_into_the_shuffle(spark, bronze):
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema

    events = cs.from_json(bronze.filter("topic = 'customers'"), "value", CUSTOMERS_SCHEMA).repartition(2)
    ranker = cs._Ranker(KEYS, ["row_time"], ARRIVAL, to_arrow_schema(events.schema, timezone="UTC"))
    pre = events.mapInArrow(ranker, events.schema)
    per_key = pre.groupBy(F.spark_partition_id().alias("p"), "customer_id").count()
    assert per_key.filter("count > 1").count() == 0
    assert pre.count() < events.count()
    keys = events.filter("customer_id IS NOT NULL AND row_time IS NOT NULL").select("customer_id").distinct().count()
    assert cs.latest(events, KEYS, "row_time", ARRIVAL).count() == keys


def test_latest_ties_and_default_arrival_order(spark):
    rows = [("a", 2, 5, "late-arrival"), ("a", 2, 1, "first-arrival"), ("a", 1, 0, "old"),
            ("b", 1, 3, "b"), (None, 9, 4, "no key"), ("c", None, 6, "no sequence")]
    df = spark.createDataFrame(rows, "id STRING, ts INT, offset BIGINT, v STRING").repartition(2)
    got = {r.id: r.v for r in cs.latest(df, "id", "ts", "offset").collect()}
    assert got == {"a": "first-arrival", "b": "b"}
    one = spark.createDataFrame(rows, "id STRING, ts INT, offset BIGINT, v STRING").coalesce(1)
    assert {r.id: r.v for r in cs.latest(one, "id", "ts").collect()} == {"a": "late-arrival", "b": "b"}
    assert cs.latest(one, "id", "ts").columns == one.columns
    with pytest.raises(cdc_rs.ConfigError):
        cs.latest(one, "id", "nope")


def test_latest_with_two_sequence_columns(spark):
    rows = [("a", 1, 9, 0), ("a", 2, 0, 1), ("a", 2, 3, 2), ("a", 2, 3, 3)]
    df = spark.createDataFrame(rows, "id STRING, major INT, minor INT, offset BIGINT")
    assert [tuple(r) for r in cs.latest(df, ["id"], ["major", "minor"], "offset").collect()] == [("a", 2, 3, 2)]


def test_executor_path_silver_equals_the_streaming_silver(spark, dataset, bronze, lookup):
    """cdc_rs's decoder and ranking on the executors, the join in Spark: after dropping deletes
    (and ignored operations before ranking), the same silver as the upsert applied batch by
    batch. Deletes skip the lookup, as in cdc_rs."""
    from pyspark.sql import functions as F

    events = cs.from_json(bronze.filter("topic = 'customers'").select(*ARRIVAL, "value"), "value", CUSTOMERS_SCHEMA)
    events = (events.filter(F.col("row_status").isin("insert", "update", "delete"))
              .join(F.broadcast(lookup), F.col("country_code") == F.col("code"), "left")
              .filter(F.col("code").isNotNull() | (F.col("row_status") == "delete")))
    silver = (cs.latest(events, KEYS, "row_time", ARRIVAL)
              .filter("row_status <> 'delete'").select(*SILVER_COLUMNS).toArrow())
    upsert = notebook_upsert(dataset)
    for batch_id, batch in enumerate(dataset.bronze):
        upsert(batch, batch_id)
    assert sorted_rows(silver) == sorted_rows(upsert.target.to_arrow())


def test_the_reference_inner_join_drops_deletes_cdc_rs_applies(spark, dataset, bronze, lookup):
    """A difference to know: the reference joins deletes too, so a delete whose country_code
    misses the lookup is dropped and the customer stays; cdc_rs never enriches a delete."""
    from pyspark.sql import functions as F

    decoded = spark_decoded(bronze)
    reference = (spark_latest(decoded.filter(F.col("row_status").isin("insert", "update", "delete"))
                              .join(F.broadcast(lookup), F.col("country_code") == F.col("code")))
                 .filter("row_status <> 'delete'").select("customer_id"))
    upsert = notebook_upsert(dataset)
    for batch_id, batch in enumerate(dataset.bronze):
        upsert(batch, batch_id)
    ours = set(upsert.target.to_arrow().column("customer_id").to_pylist())
    theirs = {r.customer_id for r in reference.collect()}
    unenriched_deletes = {r.customer_id for r in decoded.join(lookup, F.col("country_code") == F.col("code"), "left_anti")
                          .filter("row_status = 'delete'").collect()}
    assert ours <= theirs
    assert theirs - ours  # this feed has such deletes
    assert theirs - ours <= unenriched_deletes


def test_latest_ranks_a_big_partition_in_rounds_with_the_same_result(monkeypatch):
    """A partition is ranked again each time the rows waiting outnumber the kept ones (and a
    floor): the rounds give what one ranking of all its rows gives, ties included."""
    import cdc_rs.spark as spark_module

    table = pa.table({"id": [1, 2, 1, 3, 2, 1, 4, 1], "ts": [1, 1, 2, 1, 1, 2, 1, 0],
                      "o": list(range(8))})
    ranker = spark_module._Ranker(["id"], ["ts"], ["o"], table.schema)

    def ranked() -> list[dict]:
        out = pa.Table.from_batches(list(ranker(iter(table.to_batches(max_chunksize=2)))))
        return sorted(out.to_pylist(), key=lambda r: r["id"])

    once = ranked()
    monkeypatch.setattr(spark_module, "_RANK_EVERY", 2)
    assert ranked() == once == [{"id": 1, "ts": 2, "o": 2}, {"id": 2, "ts": 1, "o": 1},
                                {"id": 3, "ts": 1, "o": 3}, {"id": 4, "ts": 1, "o": 6}]


def test_latest_takes_timestamps_in_the_session_zone_across_rounds(monkeypatch):
    """Spark hands mapInArrow timestamps tagged with the session's zone; the kept rows are in
    the declared (UTC) schema: the rounds put both in one table."""
    import cdc_rs.spark as spark_module

    declared = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC"))])
    given = pa.table({"id": [1, 1, 2], "ts": pa.array([2, 1, 5], pa.timestamp("us", tz="America/New_York"))})
    monkeypatch.setattr(spark_module, "_RANK_EVERY", 1)
    ranker = spark_module._Ranker(["id"], ["ts"], [], declared)
    out = pa.Table.from_batches(list(ranker(iter(given.to_batches(max_chunksize=1)))), declared)
    assert sorted((r["id"], r["ts"].timestamp()) for r in out.to_pylist()) == [(1, 2e-6), (2, 5e-6)]
