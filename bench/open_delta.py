"""Where opening a merge-on-read Delta table in a new process goes, stage by stage.

Each run is a fresh process that imports cdc_rs, then opens the table (``DeltaTarget`` with
the table's one ``app_id``, ``len()``), with the functions that make the stages wrapped:
wall seconds, process CPU seconds (all threads), and the process's peak RSS (``VmHWM``).
Stages are inclusive: ``_restored_index`` holds ``located_state`` and the Rust restore.

    PYTHONPATH=python .venv/bin/python bench/open_delta.py bench/data/t --runs 5

(``bench/memory_delta.py --rows 10000000 --keep bench/data/t`` builds the benchmark's table.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import functools, json, os, sys, time
started = time.perf_counter()
import cdc_rs
from cdc_rs import delta, _bookkeeping, _merge_on_read
imported = time.perf_counter()
stats = {}

def wrap(owner, name, label):
    fn = getattr(owner, name)
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            s = stats.setdefault(label, [0.0, 0.0])
            s[0] += time.perf_counter() - t
            s[1] += time.process_time() - c
    setattr(owner, name, timed)

wrap(delta.DeltaTarget, "_open", "open (all)")
wrap(delta, "live_adds", "live_adds (Delta log)")
wrap(_merge_on_read.FileIndex, "of", "FileIndex.of")
wrap(_bookkeeping.Bookkeeping, "load", "Bookkeeping.load")
wrap(delta.DeltaTarget, "_restored_index", "_restored_index")
wrap(delta, "located_state", "located_state")
wrap(_merge_on_read.FileIndex, "deleted_positions", "deleted_positions")
path = sys.argv[1]
(app,) = os.listdir(os.path.join(path, "_cdc_rs"))
t, c = time.perf_counter(), time.process_time()
rows = len(delta.DeltaTarget(path, app_id=app))
stats["open (all)"] = [time.perf_counter() - t, time.process_time() - c]
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"rows": rows, "import_s": imported - started, "stages": stats,
                  "peak_rss_mb": int(hwm.split()[1]) / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = [json.loads(subprocess.run([sys.executable, "-c", CHILD, args.path], check=True,
                                      capture_output=True, text=True).stdout)
            for _ in range(args.runs)]
    print(f"{runs[0]['rows']:,} rows, {args.runs} fresh processes; import "
          f"{statistics.median(r['import_s'] for r in runs):.2f} s (median); peak RSS "
          f"{statistics.median(r['peak_rss_mb'] for r in runs):,.0f} MB (median), "
          f"{max(r['peak_rss_mb'] for r in runs):,.0f} MB (max)")
    print("| stage | wall s (median, min) | CPU s (median) |")
    print("|---|---:|---:|")
    for stage in runs[0]["stages"]:
        wall = [r["stages"][stage][0] for r in runs]
        cpu = [r["stages"][stage][1] for r in runs]
        print(f"| {stage} | {statistics.median(wall):.3f}, {min(wall):.3f} | "
              f"{statistics.median(cpu):.3f} |")


if __name__ == "__main__":
    main()
