"""Snapshots (AUTO CDC FROM SNAPSHOT): the time to diff a full snapshot against the previous
one, cdc_rs against polars.

A table of ``--rows`` rows (id, name, city, amount, qty, day); the next snapshot changes 1% of
its rows: 0.8% updated (one value each), 0.1% deleted, 0.1% new keys. Each contender turns
the pair into the same three sets: rows to insert, rows to update (changed in any column,
nulls equal), keys to delete — checked equal to cdc_rs's. Times are the median of
``--repeat`` runs in one warm process, wall and CPU (all threads); the inputs are in memory
(Arrow, and polars frames made from it, zero-copy) before the clock starts.

* ``cdc_rs diff``: ``_cdc_rs.snapshot_diff`` against the previous snapshot's state (keys +
  64-bit fingerprints), giving the change batch.
* ``cdc_rs snapshot_upsert → MemoryTable`` / ``→ DeltaTarget``: a whole
  ``flow(snapshot, version)`` into a table holding the previous snapshot (a merge-on-read
  Delta table on the local disk, opened untimed): the diff plus applying its 10k changes
  (one Delta commit of the changed rows and deletion vectors) and, for Delta, saving the
  new state beside the table. ``new process``: a new flow on that table, whose call also
  loads the saved state.
* ``polars joins``: anti-joins both ways for inserts and deletes, an inner join and a
  null-safe column-by-column comparison for updates, in one ``collect_all`` (the previous
  snapshot is kept whole).
* ``polars hashes``: the same design as cdc_rs in polars: the previous snapshot kept as
  (id, row hash), the new one hashed (``pl.struct(...).hash()``) and joined on id.

    PYTHONPATH=python .venv/bin/python bench/snapshot_diff.py --rows 1000000
"""

from __future__ import annotations

import argparse
import atexit
import os
import pickle
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

import cdc_rs
from cdc_rs import _cdc_rs
from cdc_rs._snapshot import OPERATION, VERSION

COLUMNS = ["id", "name", "city", "amount", "qty", "day"]


def snapshots(rows: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """A snapshot and the next one, with 1% of the rows changed."""
    rng = np.random.default_rng(seed)
    ids = np.arange(rows, dtype=np.int64)
    names = np.array([f"customer-{i:08d}" for i in range(rows)], dtype=object)
    cities = np.array(["Amsterdam", "Lyon", "Shanghai", "Utrecht", "Paris", None], dtype=object)
    first = pa.table({
        "id": ids,
        "name": names,
        "city": pa.array(cities[rng.integers(0, len(cities), rows)], pa.string()),
        "amount": rng.normal(100, 30, rows).round(2),
        "qty": rng.integers(0, 50, rows),
        "day": pa.array(rng.integers(18_000, 20_000, rows).astype("int32"), pa.date32()),
    })
    changed = rng.choice(rows, size=rows // 100, replace=False)
    updated, deleted = changed[: rows * 8 // 1000], changed[rows * 8 // 1000: rows * 9 // 1000]
    amount = first.column("amount").to_numpy().copy()
    amount[updated] += 1.0
    keep = np.ones(rows, dtype=bool)
    keep[deleted] = False
    second = first.set_column(3, "amount", pa.array(amount)).filter(pa.array(keep))
    new = first.slice(0, rows // 1000)
    new = new.set_column(0, "id", pa.array(np.arange(rows, rows + new.num_rows, dtype=np.int64)))
    return first, pa.concat_tables([second, new]).combine_chunks()


Run = Callable[[], tuple[int, int, int]]


def timed(prepare: Callable[[], Run], repeat: int) -> tuple[float, float, tuple[int, int, int]]:
    """Median wall and CPU seconds (all threads) of ``repeat`` runs, each prepared untimed."""
    walls, cpus, counts = [], [], (0, 0, 0)
    for _ in range(repeat):
        run = prepare()
        wall, cpu = time.perf_counter(), time.process_time()
        counts = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), counts


def cdc_rs_diff(first: pa.Table, second: pa.Table) -> Callable[[], Run]:
    args = dict(keys=["id"], operation_column=OPERATION, version_column=VERSION)
    state = _cdc_rs.snapshot_diff(first, None, version=1, **args).state

    def run() -> tuple[int, int, int]:
        c = _cdc_rs.snapshot_diff(second, state, version=2, **args).counts
        return c["inserted"], c["updated"], c["deleted"]
    return lambda: run


def cdc_rs_memory(first: pa.Table, second: pa.Table) -> Callable[[], Run]:
    flow = cdc_rs.snapshot_upsert(keys="id")
    flow(first, 1)
    saved = pickle.dumps(flow)  # a MemoryTable holding the first snapshot, with its state

    def prepare() -> Run:
        copy = pickle.loads(saved)

        def run() -> tuple[int, int, int]:
            r = copy(second, 2)
            return r.inserted, r.updated, r.deleted
        return run
    return prepare


def cdc_rs_delta(first: pa.Table, second: pa.Table, fresh: bool = False) -> Callable[[], Run]:
    """Into a merge-on-read Delta table holding the first snapshot: applied by the same flow
    (its state in memory), or with ``fresh``, by a new one (a new process: it loads the state
    saved beside the table, timed)."""
    base = Path(tempfile.mkdtemp(prefix="snapshot-bench-"))
    atexit.register(shutil.rmtree, base, True)
    cdc_rs.snapshot_upsert(cdc_rs.DeltaTarget(base / "v1", app_id="bench"), keys="id")(first, 1)

    def prepare() -> Run:
        table = base / f"run-{time.monotonic_ns()}"
        if fresh:
            shutil.copytree(base / "v1", table)
        target = cdc_rs.DeltaTarget(table, app_id="bench", auto_compact=None)
        flow = cdc_rs.snapshot_upsert(target, keys="id")
        if not fresh:
            flow(first, 1)
        flow.last_version  # the table is opened untimed  # noqa: B018

        def run() -> tuple[int, int, int]:
            r = flow(second, 2)
            return r.inserted, r.updated, r.deleted
        return run
    return prepare


def polars_joins(first: pa.Table, second: pa.Table) -> Callable[[], Run]:
    prev, new = pl.from_arrow(first).lazy(), pl.from_arrow(second).lazy()
    values = [c for c in COLUMNS if c != "id"]

    def run() -> tuple[int, int, int]:
        inserts = new.join(prev, on="id", how="anti")
        deletes = prev.join(new, on="id", how="anti").select("id")
        both = new.join(prev, on="id", how="inner", suffix="_old")
        changed = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_old")) for c in values])
        updates = both.filter(changed).select(COLUMNS)
        i, u, d = pl.collect_all([inserts, updates, deletes])
        return i.height, u.height, d.height
    return lambda: run


def polars_hashes(first: pa.Table, second: pa.Table) -> Callable[[], Run]:
    values = [c for c in COLUMNS if c != "id"]
    row_hash = pl.struct(values).hash(seed=0).alias("h")
    prev = pl.from_arrow(first).select("id", row_hash)  # the kept state: id + row hash
    new_frame = pl.from_arrow(second)

    def run() -> tuple[int, int, int]:
        new = new_frame.lazy().with_columns(row_hash)
        state = prev.lazy()
        inserts = new.join(state, on="id", how="anti").drop("h")
        deletes = state.join(new, on="id", how="anti").select("id")
        updates = new.join(state, on="id", how="inner", suffix="_old") \
            .filter(pl.col("h") != pl.col("h_old")).select(COLUMNS)
        i, u, d = pl.collect_all([inserts, updates, deletes])
        return i.height, u.height, d.height
    return lambda: run


CONTENDERS = {"cdc_rs diff": cdc_rs_diff,
              "cdc_rs snapshot_upsert → MemoryTable": cdc_rs_memory,
              "cdc_rs snapshot_upsert → DeltaTarget": cdc_rs_delta,
              "cdc_rs snapshot_upsert → DeltaTarget, new process": lambda a, b: cdc_rs_delta(
                  a, b, fresh=True),
              "polars joins": polars_joins, "polars hashes": polars_hashes}


def main() -> None:
    first, second = snapshots(ARGS.rows)
    print(f"{ARGS.rows:,} rows; next snapshot {second.num_rows:,} rows; {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}, load {os.getloadavg()[0]:.1f}; "
          f"cdc_rs at {_commit()}, polars {pl.__version__}, pyarrow {pa.__version__}",
          file=sys.stderr)
    results = {name: timed(make(first, second), ARGS.repeat) for name, make in CONTENDERS.items()}
    base = results["cdc_rs diff"][0]
    print("| contender | wall s (median) | CPU s | × cdc_rs diff (wall) | inserted, updated, deleted |")
    print("|---|---:|---:|---:|---|")
    for name, (wall, cpu, counts) in results.items():
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {wall / base:.1f}× | {counts} |")
    assert len({counts for _, _, counts in results.values()}) == 1, results


def _commit() -> str:
    import subprocess

    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    ARGS = parser.parse_args()
    main()
