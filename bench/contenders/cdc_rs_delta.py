"""cdc_rs into a Delta table: the same run as ``cdc_rs`` but the silver table is a new
:class:`cdc_rs.DeltaTarget` (merge-on-read, the default), one commit per micro-batch, read
back with ``DeltaTarget.to_arrow()`` once the last batch has committed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import cdc_rs

from .cdc_rs import make_upsert
from .deltalake import table_dir


def run(files: list[Path], lookup_path: Path) -> pa.Table:
    path = table_dir()
    try:
        upsert = make_upsert(pq.read_table(lookup_path), cdc_rs.DeltaTarget(path))
        upsert.apply_all(cdc_rs.scan_parquet_files(files, ["topic", "value"]))
        return upsert.target.to_arrow()
    finally:
        shutil.rmtree(path, ignore_errors=True)
