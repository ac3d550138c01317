"""Peak memory of one micro-batch in the engine, as a function of the batch and the table.

    python bench/memory_bounds.py            # prints the table for bench/RESULTS.md

Each case runs in a fresh process. The peak is the rise of the process's resident set
(VmHWM, reset just before the batch) over its size when the batch starts; "decoded" is the
Arrow size of the batch's decoded customer rows (what `memory_limit` estimates from).
"""

from __future__ import annotations

import subprocess
import sys

CASE = r"""
import gc, sys
import pyarrow as pa, pyarrow.compute as pc
import cdc_rs
from cdc_rs.datasets import bookstore, CUSTOMERS_SCHEMA, SILVER_COLUMNS

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

kind, events, table_batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if kind == "bookstore":  # a few keys per event: most events update existing keys
    ds = bookstore(events=events, batches=table_batches + 1, seed=1)
    batches = [pa.table(b) for b in ds.bronze]
    upsert = cdc_rs.batch_upsert(keys=["customer_id"], sequence_by="row_time",
        value_schema=CUSTOMERS_SCHEMA, topic="customers", operation_column="row_status",
        delete_operations=["delete"], lookup=ds.country_lookup,
        lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS, memory_limit=None)
    last = batches[-1]
    values = last.filter(pc.equal(last["topic"], "customers"))["value"]
    schema = CUSTOMERS_SCHEMA
else:  # every event a new key: the table grows by the whole batch
    ids = pa.array(range(events), pa.int64()).cast(pa.string())
    values = pc.binary_join_element_wise('{"id": ', ids, ', "ts": 2, "name": "customer ', ids,
                                         '", "email": "someone', ids, '@example.com"}', "")
    schema = "id BIGINT, ts INT, name STRING, email STRING"
    batches = [pa.table({"value": values})]
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts", value_schema=schema,
                                 memory_limit=None)
for i, batch in enumerate(batches[:-1]):
    upsert(batch, i)
decoded = cdc_rs.from_json(values, schema).nbytes
gc.collect()
open("/proc/self/clear_refs", "w").write("5")  # resets VmHWM to the current size
start = status("VmRSS")
upsert(batches[-1], len(batches) - 1)
peak = status("VmHWM") - start
print(f"| {kind} | {batches[-1].num_rows:,} | {len(upsert.target):,} | {decoded / 2**20:.0f} | "
      f"{peak / 2**20:.0f} | {peak / decoded:.1f} |")
"""

CASES = [("bookstore", 1_000_000, 0), ("bookstore", 2_000_000, 0), ("bookstore", 1_000_000, 4),
         ("new keys", 1_000_000, 0), ("new keys", 3_000_000, 0)]


def main() -> None:
    print("| batch | events | table rows after | decoded MB | peak MB | peak / decoded |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, events, table_batches in CASES:
        out = subprocess.run([sys.executable, "-c", CASE, kind, str(events), str(table_batches)],
                             capture_output=True, text=True, check=True)
        print(out.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
