"""How the cost of one micro-batch written to a Delta table grows with table and batch size.

Each cell builds a Delta silver table of ``N`` rows through :class:`cdc_rs.DeltaTarget`, then
applies a few batches of ``B`` events (half updates of random existing keys, half new keys)
and reports the median seconds per batch and the engine's plan within it, how much of the
table the commit rewrote (``cdc_rs.rows_copied``: untouched rows copied into the new files of
the touched key buckets; ``cdc_rs.files_removed`` of the table's files), and what opening the
table costs a new process (reading it and folding the bookkeeping into the mirror).

    .venv/bin/python bench/delta_growth.py       # N in 10k,100k,1M; B in 10,1k,10k,100k
    .venv/bin/python bench/delta_growth.py --rows 10000 100000 --batches 1000 --repeat 2
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

import cdc_rs
from cdc_rs.delta import DeltaTarget


def events(ids: np.ndarray, ts: int, rng: np.random.Generator) -> pa.Table:
    n = len(ids)
    words = np.array(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"])
    return pa.table({
        "customer_id": pa.array([f"C{i:09d}" for i in ids]),
        "email": pa.array([f"user{i}@example.com" for i in ids]),
        "first_name": pa.array(words[rng.integers(0, 6, n)]),
        "last_name": pa.array(words[rng.integers(0, 6, n)]),
        "city": pa.array(words[rng.integers(0, 6, n)]),
        "country": pa.array(np.array(["FR", "CN", "NL", "US"])[rng.integers(0, 4, n)]),
        "row_time": pa.array(np.full(n, ts, dtype=np.int64)),
    })


def cell(rows: int, batch: int, repeat: int, root: Path, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    path = root / f"t-{rows}-{batch}"
    shutil.rmtree(path, ignore_errors=True)
    target = DeltaTarget(path, snapshot_every=1_000_000)
    upsert = cdc_rs.batch_upsert(target, keys="customer_id", sequence_by="row_time")
    chunk = 500_000
    for i, start in enumerate(range(0, rows, chunk)):  # the initial table
        upsert(events(np.arange(start, min(rows, start + chunk)), 1, rng), i)
    next_id, batch_id, ts = rows, (rows - 1) // chunk + 1, 2
    seconds, plan_s, copied, removed, files = [], [], [], [], []
    for _ in range(repeat):
        updates = rng.choice(rows, batch // 2, replace=False)
        inserts = np.arange(next_id, next_id + batch - batch // 2)
        next_id += len(inserts)
        data = events(np.concatenate([updates, inserts]), ts, rng)
        started = time.perf_counter()
        plan = upsert._pipeline.plan(data, batch_id, target._mirror)
        plan_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = upsert(data, batch_id)
        seconds.append(time.perf_counter() - started)
        assert report.updated == len(updates) and report.inserted == len(inserts)
        dt = target.delta_table()
        commit = dt.history(1)[0]
        copied.append(commit["cdc_rs.rows_copied"])
        removed.append(commit["cdc_rs.files_removed"])
        files.append(len(dt.get_add_actions()))
        batch_id += 1
        ts += 1
        del plan
    # a fresh process: open the table (read it, fold the bookkeeping) to skip a replay
    started = time.perf_counter()
    fresh = cdc_rs.batch_upsert(DeltaTarget(path), keys="customer_id", sequence_by="row_time")
    assert fresh(data, batch_id - 1).skipped_replay
    reopen = time.perf_counter() - started
    shutil.rmtree(path, ignore_errors=True)
    return {"rows": rows, "batch": batch, "seconds": statistics.median(seconds),
            "plan_s": statistics.median(plan_s), "rows_copied": statistics.median(copied),
            "files_removed": statistics.median(removed), "files": statistics.median(files),
            "reopen_s": reopen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--batches", type=int, nargs="+", default=[10, 1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| table rows | batch events | s / batch | engine plan | rows rewritten | "
          "files rewritten / table files | open in a new process |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            for batch in args.batches:
                if batch > rows:
                    continue
                r = cell(rows, batch, args.repeat, Path(tmp))
                print(f"| {rows:,} | {batch:,} | {r['seconds']:.3f} | {r['plan_s']:.3f} | "
                      f"{r['rows_copied']:,.0f} | {r['files_removed']:,.0f} / {r['files']:,.0f} | "
                      f"{r['reopen_s']:.2f} s |", flush=True)


if __name__ == "__main__":
    main()
