"""Shared pieces of the benchmark: data sets on disk, the silver contract, comparison.

The pipeline every contender implements (the reference notebook with cdc_rs's rules):

1. bronze rows of topic ``customers``; ``value`` read as UTF-8 with U+FFFD replacement
   (Spark's ``CAST(value AS STRING)``), parsed as JSON with ``CUSTOMERS_SCHEMA``; values that
   are not a JSON object are dropped;
2. ``row_status`` in (insert, update) is an upsert, ``delete`` a delete, anything else
   (null included) is ignored; a null ``customer_id`` or ``row_time`` drops the event;
3. upserts are inner-joined with the country lookup (``country_code == code``); deletes are
   not (a delete with an unknown country still deletes — that is what cdc_rs does);
4. newest event per key within the batch: highest ``row_time``, ties to the earliest row;
5. merge: a key's state is its last sequence and either a live row or a tombstone; the
   batch winner applies only if strictly newer than that sequence (an upsert inserts or
   updates, a delete removes the row and leaves a tombstone).

Each contender module exposes ``run(files, lookup_path) -> pyarrow.Table`` (the final
silver table, columns ``SILVER_COLUMNS``) and optionally ``setup()`` (untimed: e.g. the
Spark session) and ``teardown()``.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from cdc_rs.datasets import CUSTOMERS_SCHEMA, LOOKUP_FILE, SILVER_COLUMNS  # noqa: F401  (re-exported)

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"

# Columns of a customers event, as strings (row_time is parsed separately).
FIELDS = ["customer_id", "email", "first_name", "last_name", "gender", "street", "city",
          "country_code", "row_status", "row_time"]
UPSERT_OPS = ("insert", "update")
DELETE_OPS = ("delete",)


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = 1
    if text.endswith("k"):
        mult, text = 1_000, text[:-1]
    elif text.endswith("m"):
        mult, text = 1_000_000, text[:-1]
    return int(float(text) * mult)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def dataset_dir(events: int, batches: int, seed: int) -> Path:
    return DATA / f"bookstore-{size_label(events)}-b{batches}-s{seed}"


def ensure_dataset(events: int, batches: int, seed: int) -> Path:
    """Generate (once) the bronze Parquet files of a data set; returns its directory."""
    from cdc_rs.datasets import bookstore

    d = dataset_dir(events, batches, seed)
    done = d / "_COMPLETE"
    if not done.exists():
        ds = bookstore(events=events, batches=batches, seed=seed)
        ds.write_parquet(d)
        done.write_text(f"{events} {batches} {seed}\n")
    return d


def bronze_files(d: Path) -> list[Path]:
    return sorted(d.glob("bronze-*.parquet"))


def lookup_file(d: Path) -> Path:
    return d / LOOKUP_FILE


def normalise(table: pa.Table) -> pa.Table:
    """Silver columns, strings as ``string``, ``row_time`` as int64 µs since the epoch (UTC),
    sorted by ``customer_id``."""
    cols = {}
    for name in SILVER_COLUMNS:
        col = table.column(name)
        if name == "row_time":
            t = col.type
            if pa.types.is_timestamp(t):
                col = pc.cast(col, pa.timestamp("us", tz=t.tz)).cast(pa.int64())
            else:
                col = pc.cast(col, pa.int64())
        else:
            if pa.types.is_dictionary(col.type):
                col = col.cast(col.type.value_type)
            col = pc.cast(col, pa.string())
        cols[name] = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    out = pa.table(cols)
    return out.sort_by([("customer_id", "ascending")])


def compare(expected: pa.Table, got: pa.Table, examples: int = 3) -> list[str]:
    """Differences between two normalised silver tables (empty list = equal)."""
    problems: list[str] = []
    if expected.num_rows != got.num_rows:
        problems.append(f"row count {got.num_rows:,} != expected {expected.num_rows:,}")
    ek = expected.column("customer_id").to_pylist()
    gk = got.column("customer_id").to_pylist()
    es, gs = set(ek), set(gk)
    missing, extra = sorted(es - gs), sorted(gs - es)
    if missing:
        problems.append(f"{len(missing):,} keys missing, e.g. {missing[:examples]}")
    if extra:
        problems.append(f"{len(extra):,} extra keys, e.g. {extra[:examples]}")
    if len(gk) != len(gs):
        problems.append(f"{len(gk) - len(gs):,} duplicate keys")
    if missing or extra or len(gk) != len(gs):
        common = pa.array(sorted(es & gs), pa.string())
        expected = expected.filter(pc.is_in(expected["customer_id"], common))
        got = got.filter(pc.is_in(got["customer_id"], common))
        if got.num_rows != expected.num_rows:
            return problems
    for name in SILVER_COLUMNS[1:]:
        a, b = expected.column(name), got.column(name)
        neq = pc.invert(pc.fill_null(pc.equal(a, b), False))
        both_null = pc.and_(pc.is_null(a), pc.is_null(b))
        bad = pc.and_(neq, pc.invert(both_null))
        n_bad = pc.sum(bad).as_py() or 0
        if n_bad:
            idx = pc.indices_nonzero(bad).to_pylist()[:examples]
            rows = [(expected["customer_id"][i].as_py(), a[i].as_py(), b[i].as_py()) for i in idx]
            problems.append(f"{n_bad:,} rows differ in {name}: (key, expected, got) {rows}")
    return problems


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(os.cpu_count())
    return {"nproc": nproc, "cpu": cpu, "memory": mem, "python": platform.python_version(),
            "kernel": platform.release()}
