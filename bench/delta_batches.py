"""Small batches into a large Delta table: merge-on-read (deletion vectors) against copy-on-write.

For each table size ``N`` and kind, builds a table of ``N`` customer rows (about 250 bytes
each) through :class:`cdc_rs.DeltaTarget`, then measures:

- the median seconds per batch of ``B`` events (half updates of random existing keys, half new
  keys), commit included;
- opening the table in a new process (the first batch there is a replay, skipped) and that
  process's peak RSS;
- for merge-on-read, a full read with polars after the batches, before and after
  ``optimize()``;
- the peak RSS of the whole scenario (each case runs in a process of its own).

``--s3`` puts the tables on a local S3 server (moto, started on 127.0.0.1) instead of the
local disk.

    .venv/bin/python bench/delta_batches.py                      # N = 1M and 10M, B = 1k and 10k
    .venv/bin/python bench/delta_batches.py --rows 1000000 --kinds copy-on-write
    .venv/bin/python bench/delta_batches.py --rows 1000000 --kinds merge-on-read --s3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import cdc_rs
from cdc_rs.delta import DeltaTarget

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
COUNTRIES = ["FR", "CN", "NL", "US"]


def events(ids: np.ndarray, ts: int, rng: np.random.Generator) -> pa.Table:
    """Events for customers ``ids``, all at ``ts``. Built with Arrow kernels from the
    small word list: numpy's fixed-width (UCS-4) strings made a 1M-row batch cost ~400 MB
    of temporaries, which the loading process's peak RSS counted as if cdc_rs held them."""
    n = len(ids)
    words = pa.array(WORDS)
    pick = lambda: words.take(rng.integers(0, len(WORDS), n))  # noqa: E731
    text = pc.cast(pa.array(ids), pa.string())
    join = lambda *parts: pc.binary_join_element_wise(*parts, "")  # noqa: E731
    return pa.table({
        "customer_id": join("C", text),
        "email": join("user", text, "@example.com"),
        "first_name": pick(), "last_name": pick(),
        "street": join(pick(), " street, building 12, floor 3, door B"),
        "city": join(pick(), " city of the northern province"),
        "notes": join(pick(), " " + "x" * 90),
        "country": pa.array(COUNTRIES).take(rng.integers(0, len(COUNTRIES), n)),
        "row_time": pa.array(np.full(n, ts, dtype=np.int64)),
    })


def upsert_for(target: DeltaTarget) -> cdc_rs.BatchUpsert:
    return cdc_rs.batch_upsert(target, keys="customer_id", sequence_by="row_time")


OPEN_SCRIPT = """
import json, sys, time
started = time.perf_counter()
import cdc_rs, pyarrow as pa
from cdc_rs.delta import DeltaTarget
path, batch_id, options = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
imported = time.perf_counter()
up = cdc_rs.batch_upsert(DeltaTarget(path, storage_options=options), keys="customer_id",
                         sequence_by="row_time")
report = up(pa.table({"customer_id": ["C0"], "row_time": pa.array([0], pa.int64())}), batch_id)
assert report.skipped_replay
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"open_s": time.perf_counter() - imported,
                  "peak_rss_mb": int(hwm.split()[1]) / 1024}))
"""


def small_batches(upsert: cdc_rs.BatchUpsert, rows: int, count: int, batch: int,
                  first_id: int, rng: np.random.Generator) -> list[float]:
    """``count`` batches of ``batch`` events, half updates of random keys below ``rows``,
    half new keys; the seconds each took."""
    next_id, ts, seconds = rows, 2, []
    for batch_id in range(first_id, first_id + count):
        updates = rng.choice(rows, batch // 2, replace=False)
        inserts = np.arange(next_id, next_id + batch - batch // 2)
        next_id += len(inserts)
        data = events(np.concatenate([updates, inserts]), ts, rng)
        started = time.perf_counter()
        report = upsert(data, batch_id)
        seconds.append(time.perf_counter() - started)
        assert report.updated == len(updates) and report.inserted == len(inserts)
        ts += 1
    return seconds


def measure(rows: int, batch: int, kind: str, repeat: int, path: str,
            options: dict[str, str] | None, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    target = DeltaTarget(path, storage_options=options, deletion_vectors=kind == "merge-on-read",
                         auto_compact=None)
    upsert = upsert_for(target)
    chunk, batch_id = 1_000_000, 0
    started = time.perf_counter()
    for start in range(0, rows, chunk):
        upsert(events(np.arange(start, min(rows, start + chunk)), 1, rng), batch_id)
        batch_id += 1
    load_s = time.perf_counter() - started
    seconds = small_batches(upsert, rows, repeat, batch, batch_id, rng)
    batch_id += repeat
    proc = subprocess.run([sys.executable, "-c", OPEN_SCRIPT, path, str(batch_id - 1),
                           json.dumps(options)], capture_output=True, text=True, check=True)
    opened = json.loads(proc.stdout)
    result = {"rows": rows, "batch": batch, "kind": kind, "load_s": load_s,
              "median_s": statistics.median(seconds), "max_s": max(seconds), **opened}
    if kind == "merge-on-read":
        result.update(read_before_and_after_optimize(path, options, target))
    result["scenario_peak_rss_mb"] = peak_rss_mb()
    return result


def peak_rss_mb() -> float:
    """This process's own peak RSS (``VmHWM``; ``ru_maxrss`` would include its parent's,
    which Linux carries across exec)."""
    with open("/proc/self/status") as status:
        hwm = next(line for line in status if line.startswith("VmHWM:"))
    return int(hwm.split()[1]) / 1024


def read_before_and_after_optimize(path: str, options: dict[str, str] | None,
                                   target: DeltaTarget) -> dict:
    import polars as pl

    def read() -> float:
        started = time.perf_counter()
        pl.read_delta(path, storage_options=options)
        return time.perf_counter() - started

    before = min(read() for _ in range(3))
    started = time.perf_counter()
    stats = target.optimize()
    optimize_s = time.perf_counter() - started
    after = min(read() for _ in range(3))
    return {"read_s": before, "optimize_s": optimize_s, "read_compacted_s": after,
            "files_compacted": stats["files_removed"]}


def run_case(rows: int, batch: int, kind: str, repeat: int, s3: bool) -> dict:
    """One case in a process of its own, so that its peak RSS is the scenario's."""
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent / "data") as tmp:
        server = None
        if s3:
            sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
            import s3_server

            server = s3_server.start()
            path, options = f"s3://{server.new_bucket()}/t", server.storage_options
        else:
            path, options = str(Path(tmp) / "t"), None
        try:
            return measure(rows, batch, kind, repeat, path, options)
        finally:
            if server is not None:
                server.stop()
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--batches", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--kinds", nargs="+", default=["merge-on-read", "copy-on-write"])
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--s3", action="store_true", help="tables on a local S3 server (moto)")
    parser.add_argument("--max-copy-on-write-rows", type=int, default=1_000_000,
                        help="copy-on-write mirrors the whole table: skip it above this size")
    parser.add_argument("--case", nargs=3, metavar=("ROWS", "BATCH", "KIND"),
                        help=argparse.SUPPRESS)  # one case, in this process
    args = parser.parse_args()
    if args.case:
        rows, batch, kind = int(args.case[0]), int(args.case[1]), args.case[2]
        print(json.dumps(run_case(rows, batch, kind, args.repeat, args.s3)))
        return
    where = "local S3 server (moto)" if args.s3 else "local disk"
    print(f"Tables on the {where}; cdc_rs {cdc_rs.__version__}.")
    print("| table rows | batch events | kind | s / batch (median, max) | open in a new process "
          "| its peak RSS | scenario peak RSS | polars full read: after the batches / "
          "compacted |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for rows in args.rows:
        for kind in args.kinds:
            if kind == "copy-on-write" and rows > args.max_copy_on_write_rows:
                continue
            for batch in args.batches:
                command = [sys.executable, __file__, "--case", str(rows), str(batch), kind,
                           "--repeat", str(args.repeat), *(["--s3"] if args.s3 else [])]
                out = subprocess.run(command, capture_output=True, text=True, env=os.environ)
                if out.returncode:
                    print(f"| {rows:,} | {batch:,} | {kind} | failed: "
                          f"{out.stderr.strip().splitlines()[-1]} |||||", flush=True)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                reads = (f"{r['read_s']:.2f} s / {r['read_compacted_s']:.2f} s"
                         if "read_s" in r else "")
                print(f"| {rows:,} | {batch:,} | {kind} | {r['median_s'] * 1000:.0f} ms, "
                      f"{r['max_s'] * 1000:.0f} ms | {r['open_s']:.2f} s | "
                      f"{r['peak_rss_mb']:,.0f} MB | {r['scenario_peak_rss_mb']:,.0f} MB | "
                      f"{reads} |", flush=True)
                print(json.dumps(r), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
