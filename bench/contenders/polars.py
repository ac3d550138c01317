"""polars: eager per micro-batch, state kept as a DataFrame with a tombstone flag."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cdc_rs.datasets import SILVER_COLUMNS

from ._shared import lossy_utf8

FIELDS = ["customer_id", "email", "first_name", "last_name", "gender", "street", "city",
          "country_code", "row_status", "row_time"]
STRUCT = pl.Struct({f: pl.String for f in FIELDS})
T = pl.Datetime("us", "UTC")


def _json_objects(text: pl.Series) -> pl.DataFrame:
    """Parse JSON objects; anything else (truncated, plain text, empty) is dropped.

    ``str.json_decode`` raises on one malformed value, so cheap screening first (an object
    starts with '{' and ends with '}'), and a per-row check only if that was not enough.
    """
    df = pl.DataFrame({"pos": pl.int_range(len(text), eager=True, dtype=pl.UInt32), "v": text})
    df = df.filter(pl.col("v").str.starts_with("{") & pl.col("v").str.ends_with("}"))
    try:
        parsed = df["v"].str.json_decode(STRUCT)
    except Exception:  # noqa: BLE001 - polars raises ComputeError on a malformed value
        ok = [_is_object(s) for s in df["v"].to_list()]
        df = df.filter(pl.Series(ok))
        parsed = df["v"].str.json_decode(STRUCT)
    return df.select("pos").with_columns(parsed.struct.unnest())


def _is_object(s: str) -> bool:
    try:
        return isinstance(json.loads(s), dict)
    except ValueError:
        return False


def _row_time(col: str = "row_time") -> pl.Expr:
    c = pl.col(col)
    return pl.coalesce(
        c.str.strptime(T, "%Y-%m-%dT%H:%M:%S%.fZ", strict=False),
        c.str.strptime(T, "%Y-%m-%d %H:%M:%S", strict=False),
        c.str.strptime(T, "%Y-%m-%dT%H:%M:%S%:z", strict=False),
        c.str.strptime(T, "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False),
    )


def batch_winners(path: Path, lookup: pl.DataFrame) -> pl.DataFrame:
    """One micro-batch: parsed, screened, enriched, newest per key (``deleted`` flag)."""
    bronze = pq.read_table(path, columns=["topic", "value"])
    values = bronze.filter(pc.equal(bronze["topic"], "customers"))["value"]
    rows = _json_objects(pl.from_arrow(lossy_utf8(values)))
    rows = (
        rows.with_columns(row_time=_row_time())
        .filter(pl.col("row_status").is_in(["insert", "update", "delete"])
                & pl.col("customer_id").is_not_null() & pl.col("row_time").is_not_null())
        .with_columns(deleted=pl.col("row_status") == "delete")
        .join(lookup, left_on="country_code", right_on="code", how="left")
        .filter(pl.col("deleted") | pl.col("country").is_not_null())
    )
    return (
        rows.sort(["row_time", "pos"], descending=[True, False])
        .unique("customer_id", keep="first")
        .select(*SILVER_COLUMNS, "deleted")
    )


def merge(state: pl.DataFrame | None, winners: pl.DataFrame) -> pl.DataFrame:
    """Strict-newer upsert of the winners into the state (tombstones are rows with deleted)."""
    if state is None:
        return winners
    old = state.select("customer_id", old_time=pl.col("row_time"))
    changed = (winners.join(old, on="customer_id", how="left")
               .filter(pl.col("old_time").is_null() | (pl.col("row_time") > pl.col("old_time")))
               .drop("old_time"))
    kept = state.join(changed.select("customer_id"), on="customer_id", how="anti")
    return pl.concat([kept, changed])


def load_lookup(lookup_path: Path) -> pl.DataFrame:
    return pl.read_parquet(lookup_path, columns=["code", "country"])


def run(files: list[Path], lookup_path: Path) -> pa.Table:
    lookup = load_lookup(lookup_path)
    state = None
    for f in files:
        state = merge(state, batch_winners(f, lookup))
    return state.filter(~pl.col("deleted")).select(SILVER_COLUMNS).to_arrow()
