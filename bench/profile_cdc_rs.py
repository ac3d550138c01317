"""Where cdc_rs spends its time: a breakdown by stage (timing differences, no profiler).

    .venv/bin/python bench/profile_cdc_rs.py bench/data/bookstore-1M-b10-s0 [--repeat 3]

Stages, each summed over the micro-batches, median of ``--repeat`` passes:

* ``read``: ``pq.read_table(file, columns=["topic", "value"])``;
* ``read (cdc_rs)``: ``cdc_rs.read_parquet(file, columns=["topic", "value"])`` (view
  arrays), the batch the ``upsert (bronze)`` stage is given, as in run.py;
* ``topic filter``: pyarrow ``filter(topic == 'customers')`` (cdc_rs does this inside);
* ``from_json``: ``cdc_rs.from_json`` on the customers values with ``CUSTOMERS_SCHEMA``;
* ``upsert (bronze)``: the full ``batch_upsert`` call on the bronze batch (as in run.py);
* ``upsert (parsed)``: ``batch_upsert`` on the already-parsed rows (no value_schema, no
  topic): screening + lookup + newest-per-key + merge;
* ``upsert (parsed, no lookup)``: the same without the lookup join;
* ``upsert (parsed, clean)``: only rows that survive screening, no operation column, no
  lookup: newest-per-key + merge alone;
* ``to_arrow``: the final ``MemoryTable.to_arrow()``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import cdc_rs  # noqa: E402
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS  # noqa: E402

from common import bronze_files, lookup_file  # noqa: E402
from contenders.cdc_rs import make_upsert  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    d = Path(args.data)
    files = bronze_files(d)
    lookup = pq.read_table(lookup_file(d))
    timings: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    clock = {"cpu": 0.0}

    def timed(stage: str, t0: float) -> None:
        timings.setdefault(stage, [0.0] * args.repeat)[rep] += time.perf_counter() - t0
        cpu.setdefault(stage, [0.0] * args.repeat)[rep] += time.process_time() - clock["cpu"]

    bronze_bytes = 0
    for rep in range(args.repeat):
        full = make_upsert(lookup)
        parsed_up = cdc_rs.batch_upsert(
            cdc_rs.MemoryTable(), keys=["customer_id"], sequence_by="row_time",
            operation_column="row_status", delete_operations=("delete",), lookup=lookup,
            lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)
        no_lookup = cdc_rs.batch_upsert(
            cdc_rs.MemoryTable(), keys=["customer_id"], sequence_by="row_time",
            operation_column="row_status", delete_operations=("delete",),
            columns=[c for c in SILVER_COLUMNS if c != "country"])
        clean = cdc_rs.batch_upsert(cdc_rs.MemoryTable(), keys=["customer_id"],
                                    sequence_by="row_time",
                                    columns=[c for c in SILVER_COLUMNS if c != "country"])
        for i, f in enumerate(files):
            t = time.perf_counter()
            clock["cpu"] = time.process_time()
            bronze = pq.read_table(f, columns=["topic", "value"])
            timed("read", t)
            t = time.perf_counter()
            clock["cpu"] = time.process_time()
            views = cdc_rs.read_parquet(f, columns=["topic", "value"])
            timed("read (cdc_rs)", t)
            t = time.perf_counter()
            clock["cpu"] = time.process_time()
            values = bronze.filter(pc.equal(bronze["topic"], "customers"))["value"]
            timed("topic filter", t)
            if rep == 0:
                bronze_bytes += pc.sum(pc.binary_length(values)).as_py()
            t = time.perf_counter()
            clock["cpu"] = time.process_time()
            struct = cdc_rs.from_json(values, CUSTOMERS_SCHEMA)
            timed("from_json", t)
            rows = pa.Table.from_struct_array(struct) if hasattr(pa.Table, "from_struct_array") \
                else pa.table({f.name: struct.field(f.name) for f in struct.type})
            t = time.perf_counter()
            clock["cpu"] = time.process_time()
            full(views, i)
            timed("upsert (bronze)", t)
            t = time.perf_counter()
            clock["cpu"] = time.process_time()
            parsed_up(rows, i)
            timed("upsert (parsed)", t)
            t = time.perf_counter()
            clock["cpu"] = time.process_time()
            no_lookup(rows, i)
            timed("upsert (parsed, no lookup)", t)
            ok = pc.and_(pc.and_(pc.is_valid(rows["customer_id"]), pc.is_valid(rows["row_time"])),
                         pc.is_in(rows["row_status"], pa.array(["insert", "update"])))
            good = rows.filter(ok)
            t = time.perf_counter()
            clock["cpu"] = time.process_time()
            clean(good, i)
            timed("upsert (parsed, clean)", t)
        t = time.perf_counter()
        clock["cpu"] = time.process_time()
        full.target.to_arrow()
        timed("to_arrow", t)
    print(f"{d.name}: {len(files)} batches, customers values {bronze_bytes / 1e6:.1f} MB")
    print(f"{'stage':<30} {'wall s':>8} {'CPU s':>8} {'MB/s (wall)':>12} {'MB/s (CPU)':>12}")
    for stage, ts in timings.items():
        s, c = statistics.median(ts), statistics.median(cpu[stage])
        print(f"{stage:<30} {s:8.3f} {c:8.3f} {bronze_bytes / 1e6 / s:12,.0f} "
              f"{bronze_bytes / 1e6 / max(c, 1e-9):12,.0f}")


if __name__ == "__main__":
    main()
