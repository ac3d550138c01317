"""A later batch whose column types differ from the target's: exact casts only, never silent."""

import pyarrow as pa
import pytest

import cdc_rs


def test_a_payload_value_that_would_change_in_the_targets_type_is_an_error_and_changes_nothing():
    upsert = cdc_rs.batch_upsert(keys="k", sequence_by="s")
    upsert(pa.table({"k": ["a"], "s": [1], "n": [1]}), 0)
    with pytest.raises(cdc_rs.InputError, match="does not fit the target"):
        upsert(pa.table({"k": ["a", "b"], "s": [2, 2], "n": [2.0, 2.5]}), 1)
    assert upsert.target.to_arrow().to_pylist() == [{"k": "a", "s": 1, "n": 1}]
    assert upsert.target.last_batch_id == 0


def test_a_payload_that_casts_exactly_is_accepted_in_the_targets_type():
    upsert = cdc_rs.batch_upsert(keys="k", sequence_by="s")
    upsert(pa.table({"k": ["a"], "s": [1], "n": [1]}), 0)
    upsert(pa.table({"k": pa.array(["b"], pa.large_string()), "s": [2], "n": [2.0]}), 1)
    table = upsert.target.to_arrow()
    assert table.schema.field("n").type == pa.int64()
    assert sorted(table.to_pylist(), key=lambda r: r["k"]) == [
        {"k": "a", "s": 1, "n": 1},
        {"k": "b", "s": 2, "n": 2},
    ]


def test_a_table_restored_with_only_tombstones_takes_its_columns_from_the_first_rows():
    from cdc_rs import _cdc_rs

    pipeline = cdc_rs.batch_upsert(keys="id", sequence_by="ts")._pipeline
    state = pa.table({"key.id": [1], "sequence.ts": [5], "live": [False]})
    core = _cdc_rs.TableCore.restore(pa.table({}), state, 0)
    plan = pipeline.plan(pa.table({"id": [1, 2], "ts": [3, 1], "v": ["stale", "b"]}), 1, core)
    counts, skipped, _ = core.commit(plan)
    assert (counts["stale"], counts["inserted"], skipped) == (1, 1, False)
    assert core.to_arrow().to_pylist() == [{"id": 2, "ts": 1, "v": "b"}]


def test_an_all_null_payload_column_fits_any_target_type():
    upsert = cdc_rs.batch_upsert(keys="k", sequence_by="s")
    upsert(pa.table({"k": ["a"], "s": [1], "v": ["x"]}), 0)
    upsert(pa.table({"k": ["a"], "s": [2], "v": pa.nulls(1)}), 1)
    assert upsert.target.to_arrow().to_pylist() == [{"k": "a", "s": 2, "v": None}]
