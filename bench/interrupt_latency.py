"""How long Ctrl-C (SIGINT) takes to come back during a big batch, at each point of the batch.

For each target (MemoryTable, DeltaTarget) a fresh interpreter builds a batch of N events,
times the whole batch once on a scratch table, then runs it for real and sends itself SIGINT
at a fraction of that time (early: decoding; late: planning, merging, writing). It reports the
time from the signal to the KeyboardInterrupt, or that the batch had committed whole.

    python bench/interrupt_latency.py [--events 5000000] [--fractions 0.1,0.3,0.5,0.7,0.9]

Prints a Markdown table (the figures go to bench/RESULTS.md).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap

WORKER = """
import os, signal, sys, threading, time
import pyarrow as pa, pyarrow.compute as pc
import cdc_rs

# Ctrl-C as in a terminal, even when this bench runs in the background (where SIGINT starts ignored)
signal.signal(signal.SIGINT, signal.default_int_handler)
kind, path, n, fraction = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ids = pa.array(range(n), pa.int64()).cast(pa.string())
value = pc.binary_join_element_wise('{"id": ', ids, ', "ts": 2, "name": "customer ', ids, '"}', "")
bronze = pa.table({"value": value})
SCHEMA = "id BIGINT, ts INT, name STRING"
target = cdc_rs.MemoryTable() if kind == "memory" else cdc_rs.DeltaTarget(path)
upsert = cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", value_schema=SCHEMA)
upsert(pa.table({"value": ['{"id": 1, "ts": 1, "name": "x"}']}), 0)

scratch = cdc_rs.MemoryTable() if kind == "memory" else cdc_rs.DeltaTarget(path + "-scratch")
started = time.perf_counter()
cdc_rs.batch_upsert(scratch, keys="id", sequence_by="ts", value_schema=SCHEMA)(bronze, 0)
whole = time.perf_counter() - started

sent = []
def interrupt():
    sent.append(time.perf_counter())
    os.kill(os.getpid(), signal.SIGINT)

threading.Timer(whole * fraction, interrupt).start()
try:
    upsert(bronze, 1)
    time.sleep(whole)  # the signal may still be on its way
    outcome = "committed whole"
except KeyboardInterrupt:
    outcome = f"{time.perf_counter() - sent[0]:.3f}"
print(f"{whole:.2f}\\t{outcome}\\t{target.last_batch_id}\\t{len(target)}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--fractions", default="0.1,0.3,0.5,0.7,0.9")
    ap.add_argument("--targets", default="memory,delta")
    args = ap.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    print(f"{args.events:,} events a batch, {os.cpu_count()} cores\n")
    print("| target | SIGINT at | whole batch (s) | back after SIGINT (s) | target after |")
    print("|---|---|---|---|---|")
    for kind in args.targets.split(","):
        for fraction in fractions:
            with tempfile.TemporaryDirectory() as tmp:
                proc = subprocess.run(
                    [sys.executable, "-c", textwrap.dedent(WORKER), kind, os.path.join(tmp, "t"),
                     str(args.events), str(fraction)],
                    capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                sys.exit(proc.stderr[-3000:])
            whole, outcome, last_batch, rows = proc.stdout.strip().split("\t")
            state = "unchanged" if last_batch == "0" and rows == "1" else f"batch {last_batch}, {rows} rows"
            print(f"| {kind} | {fraction:.0%} | {whole} | {outcome} | {state} |", flush=True)


if __name__ == "__main__":
    main()
