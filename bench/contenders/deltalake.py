"""delta-rs: the silver table is a Delta table; each micro-batch is prepared with polars
(delta-rs has no JSON functions: its DataFusion SQL has no ``from_json``) and applied with
delta-rs ``MERGE`` (``when_matched_update_all`` with the strict-newer predicate,
``when_not_matched_insert_all``). Tombstones are rows with ``deleted = true``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake

from cdc_rs.datasets import SILVER_COLUMNS

from . import polars as prep

SCHEMA = pa.schema([*(pa.field(c, pa.string()) for c in SILVER_COLUMNS[:-1]),
                    pa.field("row_time", pa.timestamp("us", tz="UTC")),
                    pa.field("deleted", pa.bool_())])


def table_dir() -> Path:
    base = Path(__file__).resolve().parents[1] / "data" / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"delta-{os.getpid()}-", dir=base))


def merge(path: Path, winners: pa.Table, first: bool) -> None:
    if first:
        write_deltalake(str(path), winners, mode="overwrite")
        return
    (DeltaTable(str(path))
     .merge(source=winners, predicate="t.customer_id = s.customer_id",
            source_alias="s", target_alias="t")
     .when_matched_update_all(predicate="s.row_time > t.row_time")
     .when_not_matched_insert_all()
     .execute())


def to_arrow(winners) -> pa.Table:
    return winners.to_arrow().cast(SCHEMA)


def silver(path: Path) -> pa.Table:
    ds = DeltaTable(str(path)).to_pyarrow_dataset()
    return ds.to_table(columns=SILVER_COLUMNS, filter=~pc.field("deleted"))


def run(files: list[Path], lookup_path: Path) -> pa.Table:
    lookup = prep.load_lookup(lookup_path)
    path = table_dir()
    try:
        for i, f in enumerate(files):
            merge(path, to_arrow(prep.batch_winners(f, lookup)), first=i == 0)
        return silver(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
