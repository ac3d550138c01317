"""BatchUpsert.apply_all: the next batch screened while this one merges, with exactly the
effect of calling the upsert on each batch in turn."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cdc_rs
from cdc_rs import _cdc_rs
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, Anomalies, bookstore

ORDER = [("customer_id", "ascending")]


@pytest.fixture(scope="module")
def data():
    return bookstore(events=8_000, batches=6, seed=5, anomalies=Anomalies().scaled(10))


def make(data, target):
    return cdc_rs.batch_upsert(
        target, keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
        topic="customers", operation_column="row_status", delete_operations=("delete",),
        lookup=data.country_lookup, lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)


def without_timing(report):
    return {k: v for k, v in report.to_dict().items() if k != "seconds"}


@pytest.mark.parametrize("kind", ["memory", "delta"])
def test_apply_all_ends_like_one_call_per_batch(data, tmp_path, kind):
    def target(name):
        return cdc_rs.MemoryTable() if kind == "memory" else cdc_rs.DeltaTarget(tmp_path / name)

    together, one_by_one = make(data, target("together")), make(data, target("one_by_one"))
    reports = together.apply_all(data.bronze)
    expected = [one_by_one(batch, i) for i, batch in enumerate(data.bronze)]
    assert [without_timing(r) for r in reports] == [without_timing(r) for r in expected]
    assert all(a.rejected.equals(b.rejected) for a, b in zip(reports, expected))
    assert sum(r.rejected.num_rows for r in reports) > 0 and sum(r.deleted for r in reports) > 0
    silver = one_by_one.target.to_arrow().sort_by(ORDER)
    assert together.target.to_arrow().sort_by(ORDER).equals(silver)
    assert together.target.last_batch_id == len(data.bronze) - 1


def test_apply_all_skips_replays_and_takes_any_input_kind(data, tmp_path):
    upsert = make(data, cdc_rs.MemoryTable())
    upsert.apply_all(data.bronze[:3])
    files = []
    for i, batch in enumerate(data.bronze):
        files.append(tmp_path / f"bronze-{i}.parquet")
        pq.write_table(batch, files[-1])
    # Replayed from the start: the three applied batches are skipped, the rest applied.
    reports = upsert.apply_all(cdc_rs.scan_parquet_files(files))
    assert [r.skipped_replay for r in reports] == [True, True, True, False, False, False]
    assert [r.rows_in for r in reports] == [b.num_rows for b in data.bronze]
    whole = make(data, cdc_rs.MemoryTable())
    for i, batch in enumerate(data.bronze):
        whole(batch.to_pandas(), i)
    assert upsert.target.to_arrow().sort_by(ORDER).equals(whole.target.to_arrow().sort_by(ORDER))


def test_apply_all_stops_at_the_first_bad_batch(data):
    upsert = make(data, cdc_rs.MemoryTable())
    bad = data.bronze[2].drop_columns(["value"])
    taken = []

    def batches():
        for batch in [data.bronze[0], data.bronze[1], bad, data.bronze[3], data.bronze[4]]:
            taken.append(batch)
            yield batch

    with pytest.raises(cdc_rs.ConfigError, match='column "value"'):
        upsert.apply_all(batches(), first_batch_id=10)
    assert upsert.target.last_batch_id == 11  # the two batches before the bad one
    assert len(taken) == 3  # nothing beyond the failing batch was taken

    again = make(data, cdc_rs.MemoryTable())
    again.apply_all(data.bronze[:2], first_batch_id=10)
    assert upsert.target.to_arrow().sort_by(ORDER).equals(again.target.to_arrow().sort_by(ORDER))
    assert upsert.apply_all([]) == []


def test_a_batch_screened_by_another_upsert_is_refused(data):
    first, second = make(data, cdc_rs.MemoryTable()), make(data, cdc_rs.MemoryTable())
    screened = first._pipeline.screen(pa.table(data.bronze[0]))
    assert screened.rows_in == data.bronze[0].num_rows
    with pytest.raises(cdc_rs.ConfigError, match="another upsert"):
        second(screened, 0)
    assert len(second.target) == 0
    first(screened, 0)
    first(screened, 1)  # a screened batch can be applied again, like the batch itself
    assert first.target.last_batch_id == 1


def test_a_replayed_batch_is_only_counted_as_with_a_single_call(data):
    # A replay is not screened: even a batch that could not be decoded is just counted,
    # exactly as `upsert(batch, batch_id)` does for an id at or below the last applied one.
    upsert = make(data, cdc_rs.MemoryTable())
    upsert.apply_all(data.bronze[:2])
    bad = data.bronze[1].drop_columns(["value"])
    single = upsert(bad, 1)
    reports = upsert.apply_all([data.bronze[0], bad, data.bronze[2]])
    assert [r.skipped_replay for r in reports] == [True, True, False]
    assert without_timing(reports[1]) == without_timing(single)
    assert upsert.target.last_batch_id == 2
