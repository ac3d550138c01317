"""memory_limit: a micro-batch that would need more memory than allowed is refused while it
is screened, with an error saying how to split it, and nothing of it is applied."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import cdc_rs

SCHEMA = "id BIGINT, ts INT, name STRING"


def _bronze(rows: int, first: int = 0) -> pa.Table:
    ids = pa.array(range(first, first + rows), pa.int64()).cast(pa.string())
    return pa.table({"value": pc.binary_join_element_wise(
        '{"id": ', ids, ', "ts": 1, "name": "customer ', ids, '"}', "")})


def test_a_batch_beyond_memory_limit_is_refused_before_anything_is_applied():
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts", value_schema=SCHEMA,
                                 memory_limit=24 * 2**20)
    upsert(_bronze(1_000), 0)
    with pytest.raises(cdc_rs.InputError, match="memory_limit.*Split it"):
        upsert(_bronze(400_000, 1_000), 1)
    assert (upsert.target.last_batch_id, len(upsert.target)) == (0, 1_000)
    # the same rows in smaller batches fit
    for i in range(4):
        upsert(_bronze(100_000, 1_000 + 100_000 * i), 1 + i)
    assert len(upsert.target) == 401_000


def test_a_streamed_batch_beyond_memory_limit_stops_early_and_applies_nothing():
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts", value_schema=SCHEMA,
                                 memory_limit=4 * 2**20)
    big = _bronze(500_000)
    taken = []

    def parts():
        for batch in big.to_batches(max_chunksize=50_000):
            taken.append(batch.num_rows)
            yield batch

    with pytest.raises(cdc_rs.InputError, match="memory_limit"):
        upsert(pa.RecordBatchReader.from_batches(big.schema, parts()), 0)
    assert upsert.target.last_batch_id is None
    assert sum(taken) < big.num_rows  # refused on the way, not after reading everything


@pytest.mark.parametrize("limit", [0, -1, 1.5, "lots", True])
def test_a_memory_limit_that_is_not_bytes_none_or_auto_is_a_config_error(limit):
    with pytest.raises(cdc_rs.ConfigError, match="memory_limit"):
        cdc_rs.batch_upsert(keys="id", sequence_by="ts", memory_limit=limit)


@pytest.mark.parametrize("limit", ["auto", None, 10**12])
def test_auto_none_and_a_large_limit_apply_normal_batches(limit):
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts", value_schema=SCHEMA,
                                 memory_limit=limit)
    assert upsert(_bronze(10_000), 0).inserted == 10_000
