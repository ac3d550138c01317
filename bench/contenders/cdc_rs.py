"""cdc_rs: the engine under test, configured as in the project's demo (cli.py).

As a cdc_rs user replaying bronze files would: ``cdc_rs.scan_parquet_files`` reads the files
as view arrays over the Parquet pages, on a background thread, in parts the engine decodes
as they come; ``apply_all`` screens the next batch while this one merges.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import cdc_rs
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS


def make_upsert(lookup: pa.Table, target=None) -> cdc_rs.BatchUpsert:
    return cdc_rs.batch_upsert(
        cdc_rs.MemoryTable() if target is None else target,
        keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
        topic="customers", operation_column="row_status", delete_operations=("delete",),
        lookup=lookup, lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)


def run(files: list[Path], lookup_path: Path) -> pa.Table:
    upsert = make_upsert(pq.read_table(lookup_path))
    upsert.apply_all(cdc_rs.scan_parquet_files(files, ["topic", "value"]))
    return upsert.target.to_arrow()
