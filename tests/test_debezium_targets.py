"""format="debezium" wherever an upsert runs: into a Delta table (reopened, re-delivered events
still stale), pickled (its configuration and target travel), streamed over files."""

from __future__ import annotations

import pickle

import cloudpickle
import pyarrow as pa
import pytest
from debezium_events import CUSTOMERS_DDL, bronze, envelope, postgres_source

import cdc_rs
from cdc_rs.datasets import debezium


def sorted_rows(table: pa.Table) -> list[dict]:
    """Rows by id, a time of day as microseconds: Delta has no time type and stores them so."""
    if "login_time" in table.column_names:
        at = table.schema.get_field_index("login_time")
        table = table.set_column(at, "login_time", table.column(at).cast(pa.int64()))
    return table.sort_by("id").to_pylist()


@pytest.mark.delta
@pytest.mark.parametrize("connector", ["postgresql", "mysql"])
def test_a_delta_target_round_trips_the_feed_and_keeps_its_sequences(tmp_path, connector):
    feed = debezium(events=800, batches=4, seed=3, connector=connector, toast=False)
    memory = cdc_rs.batch_upsert(**feed.upsert_options())
    memory.apply_all(feed.bronze)
    path = tmp_path / "silver"
    delta = cdc_rs.batch_upsert(cdc_rs.DeltaTarget(path), **feed.upsert_options())
    delta.apply_all(feed.bronze[:2])
    # a new process: the table, its bookkeeping and the sequences are read back
    reopened = cdc_rs.batch_upsert(cdc_rs.DeltaTarget(path), **feed.upsert_options())
    reports = reopened.apply_all(feed.bronze, first_batch_id=0)
    assert [r.skipped_replay for r in reports] == [True, True, False, False]
    assert sorted_rows(reopened.target.to_arrow()) == sorted_rows(memory.target.to_arrow()) \
        == sorted_rows(feed.final_rows)
    # the whole feed re-delivered after a restart: every event stale or superseded
    again = cdc_rs.batch_upsert(cdc_rs.DeltaTarget(path), **feed.upsert_options())
    report = again(feed.bronze_table(), 4)
    assert report.inserted == report.updated == report.deleted == 0
    assert sorted_rows(again.target.to_arrow()) == sorted_rows(feed.final_rows)
    import deltalake

    assert deltalake.DeltaTable(str(path)).version() >= 4  # an ordinary Delta table


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_a_debezium_upsert_pickles_with_its_configuration_and_target(dumps):
    original = cdc_rs.batch_upsert(keys="id", format="debezium", value_schema=CUSTOMERS_DDL)
    original(bronze(envelope("c", None, {"id": 1, "first_name": "a"}, postgres_source(10))), 0)
    copy = pickle.loads(dumps(original))
    assert copy.config == original.config
    late = bronze(envelope("u", None, {"id": 1, "first_name": "older"}, postgres_source(5)),
                  envelope("c", None, {"id": 2, "first_name": "b"}, postgres_source(11)), None)
    for upsert in (original, copy):
        report = upsert(late, 1)
        assert (report.stale, report.inserted, report.ignored_operations) == (1, 1, 1)
    assert copy.target.to_arrow().equals(original.target.to_arrow())


def test_scanned_parquet_files_stream_through_apply_all(tmp_path):
    import pyarrow.parquet as pq

    feed = debezium(events=500, batches=3, seed=9, connector="mysql", schemas=False)
    paths = []
    for i, batch in enumerate(feed.bronze):
        paths.append(tmp_path / f"bronze-{i}.parquet")
        pq.write_table(batch, paths[-1])
    upsert = cdc_rs.batch_upsert(**feed.upsert_options())
    reports = upsert.apply_all(cdc_rs.scan_parquet_files([str(p) for p in paths], None))
    assert [r.rows_in for r in reports] == [b.num_rows for b in feed.bronze]
    assert upsert.target.to_arrow().sort_by("id").equals(feed.final_rows)


@pytest.mark.delta
def test_a_config_file_pipeline_streams_a_folder_into_delta(tmp_path):
    import pyarrow.parquet as pq

    from cdc_rs.config import parse_config

    feed = debezium(events=400, batches=3, seed=12, connector="postgresql", toast=False)
    (tmp_path / "bronze").mkdir()
    for i, batch in enumerate(feed.bronze[:2]):
        pq.write_table(batch, tmp_path / "bronze" / f"bronze-{i}.parquet")
    config = parse_config({"keys": ["id"], "format": "debezium", "topic": feed.topic})
    upsert = config.build(tmp_path / "silver")
    checkpoint = tmp_path / "checkpoint"
    first = cdc_rs.stream(str(tmp_path / "bronze"), upsert, checkpoint=checkpoint, progress=False)
    pq.write_table(feed.bronze[2], tmp_path / "bronze" / "bronze-2.parquet")
    again = cdc_rs.stream(str(tmp_path / "bronze"), config.build(tmp_path / "silver"),
                          checkpoint=checkpoint, progress=False)
    assert (len(first), len(again)) == (2, 1)  # the new file only, in a new process
    assert all(r.accounted == r.rows_in for r in first + again)
    silver = cdc_rs.DeltaTarget(tmp_path / "silver").to_arrow()
    assert sorted_rows(silver) == sorted_rows(feed.final_rows)
