"""Per-batch cost split for cdc_rs in the growth scenario, in one process (CPU times).

    .venv/bin/python bench/growth_split.py 1000000

Loads a MemoryTable with KEYS keys (bench/growth.py's data), then applies the 100 batches of
10k events, timing the Parquet read and the upsert separately (process CPU time, all
threads, and wall time).
"""
import sys, time, statistics
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from growth import ensure_data
import pyarrow.parquet as pq, cdc_rs
from cdc_rs.datasets import LOOKUP_FILE, SILVER_COLUMNS
from contenders.cdc_rs import make_upsert
keys = int(sys.argv[1])
d = ensure_data(keys, 100, 10_000, 0)
target = cdc_rs.MemoryTable()
base = pq.read_table(d / "base.parquet")
t, c = time.perf_counter(), time.process_time()
cdc_rs.batch_upsert(target, keys=["customer_id"], sequence_by="row_time", columns=SILVER_COLUMNS)(base, 0)
print(f"load {keys:,} keys: wall {time.perf_counter()-t:.2f}s CPU {time.process_time()-c:.2f}s (read excluded)")
del base
up = make_upsert(pq.read_table(d / "batches" / LOOKUP_FILE), target)
rd, ups, upw, eng = [], [], [], []
for i, f in enumerate(sorted((d / "batches").glob("bronze-*.parquet"))):
    c = time.process_time(); b = pq.read_table(f, columns=["topic", "value"]); rd.append(time.process_time() - c)
    t, c = time.perf_counter(), time.process_time(); r = up(b, i + 1); ups.append(time.process_time() - c); upw.append(time.perf_counter() - t)
    eng.append(r.seconds)
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))] * 1e3
print(f"per 10k-event batch (ms): read CPU median {q(rd,.5):.1f}; upsert CPU median {q(ups,.5):.1f} p99 {q(ups,.99):.1f}; upsert wall median {q(upw,.5):.1f} p99 {q(upw,.99):.1f}")
print("last report:", r)
