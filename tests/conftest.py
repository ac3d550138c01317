"""Shared fixtures: customer events as in the notebook, and the input kinds the engine accepts."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest
from delta_readers import SPARK_DELTA_JARS

# Delta Lake's jars on the classpath of every Spark JVM a test process starts, whichever test
# starts it first (the README's session has no Delta): jars given later, as `spark.jars` of a
# new session in the same JVM, reach the tasks but not the classes that load its SQL extension.
_jars = sorted(SPARK_DELTA_JARS.glob("*.jar"))
if _jars:
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", f"--jars {','.join(map(str, _jars))} pyspark-shell")

CUSTOMERS = pa.schema(
    [
        ("customer_id", pa.string()),
        ("email", pa.string()),
        ("country_code", pa.string()),
        ("row_status", pa.string()),
        ("row_time", pa.timestamp("us", tz="UTC")),
    ]
)

CUSTOMER_DDL = (
    "customer_id STRING, email STRING, country_code STRING, row_status STRING, row_time TIMESTAMP"
)

COUNTRIES = pa.table(
    {
        "code": ["CN", "FR", "NL"],
        "country": ["China", "France", "Netherlands"],
        "calling_code": ["86", "33", "31"],
    }
)

EPOCH = datetime(2022, 1, 31, tzinfo=timezone.utc)


def at(minute: int) -> datetime:
    """A row_time `minute` minutes into 2022-01-31 UTC."""
    return EPOCH + timedelta(minutes=minute)


def event(cid, minute, status="update", email=None, country="FR"):
    """One customer event; `email` defaults to a value naming the event, so winners are visible."""
    return {
        "customer_id": cid,
        "email": email if email is not None else f"{cid}@{minute}",
        "country_code": country,
        "row_status": status,
        "row_time": None if minute is None else at(minute),
    }


def customers(*rows) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=CUSTOMERS)


def bronze(*rows, topic="customers") -> pa.Table:
    """Bronze rows: (topic, value) with value the JSON text of a customer event or a raw string."""
    topics, values = [], []
    for row in rows:
        if isinstance(row, tuple):
            row_topic, row = row
        else:
            row_topic = topic
        if isinstance(row, dict):
            row = json.dumps(
                {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
            )
        topics.append(row_topic)
        values.append(row)
    return pa.table(
        {
            "key": pa.array([None] * len(values), pa.binary()),
            "value": pa.array(values, pa.string()),
            "topic": pa.array(topics, pa.string()),
            "partition": pa.array([0] * len(values), pa.int32()),
            "offset": pa.array(range(len(values)), pa.int64()),
        }
    )


def _to_pandas(table: pa.Table):
    return table.to_pandas()


def _to_polars(table: pa.Table):
    import polars as pl

    return pl.from_arrow(table)


FRAMES = {
    "pyarrow": lambda table: table,
    "pandas": _to_pandas,
    "polars": _to_polars,
}


@pytest.fixture(params=sorted(FRAMES))
def to_frame(request):
    """Converts a pyarrow Table to each input kind a user may hand to the upsert."""
    return FRAMES[request.param]


def notebook_upsert(target=None, **overrides):
    """The notebook's upsert: customers by customer_id, newest row_time, row_status operations."""
    import cdc_rs

    options = {"keys": ["customer_id"], "sequence_by": "row_time", "operation_column": "row_status"}
    options.update(overrides)
    return cdc_rs.batch_upsert(cdc_rs.MemoryTable() if target is None else target, **options)


def emails(upsert) -> dict:
    """customer_id -> email of the target: which event won for each customer."""
    out = {}
    for row in upsert.target.to_arrow().to_pylist():
        assert row["customer_id"] not in out, f"{row['customer_id']} appears twice in the target"
        out[row["customer_id"]] = row["email"]
    return out


def counts(report) -> dict:
    """The non-zero counters of a report."""
    from reference import COUNTERS

    return {name: getattr(report, name) for name in COUNTERS if getattr(report, name)}


def instant(value: datetime) -> datetime:
    """A decoded TIMESTAMP as an aware UTC datetime (naive Arrow timestamps are UTC wall clocks)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def pytest_collection_modifyitems(items):
    """Marks the slow groups, so that `pytest -m "not spark and not delta"` runs the core
    alone: `spark` (a test that starts Spark: the `spark` fixture, or a test_spark_* file)
    and `delta` (a Delta file, or a test named after Delta)."""
    for item in items:
        module = item.module.__name__ if item.module is not None else ""
        if "spark" in getattr(item, "fixturenames", ()) or module.startswith("test_spark") \
                or "spark" in item.name:
            item.add_marker(pytest.mark.spark)
        if "delta" in module or "delta" in item.name.lower():
            item.add_marker(pytest.mark.delta)


@pytest.fixture(params=["merge-on-read", "copy-on-write"])
def delta_kind(request, monkeypatch):
    """The kind of Delta table a ``DeltaTarget`` creates in this test: each test using it runs
    against both (merge-on-read with deletion vectors is the default)."""
    from cdc_rs.delta import DeltaTarget

    merge_on_read = request.param == "merge-on-read"
    monkeypatch.setitem(DeltaTarget.__init__.__kwdefaults__, "deletion_vectors", merge_on_read)
    return request.param


@pytest.fixture
def copy_on_write(monkeypatch):
    """``DeltaTarget`` creates copy-on-write tables (the bucketed file layout) in this test."""
    from cdc_rs.delta import DeltaTarget

    monkeypatch.setitem(DeltaTarget.__init__.__kwdefaults__, "deletion_vectors", False)


@pytest.fixture(scope="session")
def s3_server():
    """A local S3 server (moto) for this test session."""
    import s3_server as server

    running = server.start()
    yield running
    running.stop()


@pytest.fixture
def s3_table(s3_server):
    """``(uri, storage_options)`` of a table in a new, empty bucket of the local S3 server."""
    return f"s3://{s3_server.new_bucket()}/silver", s3_server.storage_options
