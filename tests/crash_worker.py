"""Helper of tests/test_crash.py: stream a bronze folder into a Delta table, then exit 0.

    python tests/crash_worker.py BRONZE TARGET CHECKPOINT [MAX_ROWS_PER_BATCH]

TARGET is a folder, or an object store URL with its storage options as JSON in
``CRASH_WORKER_STORAGE``.

The test kills it (SIGKILL) at named points (``CDC_RS_CRASH_AT`` / ``CDC_RS_CRASH_SKIP``:
this worker installs the killer in ``cdc_rs._faults``; the package itself never reads them) or ``CRASH_WORKER_KILL_AFTER`` seconds after the stream
starts, and restarts it until it exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

import cdc_rs
import cdc_rs._faults
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, read_country_lookup


def build(bronze: str, target) -> cdc_rs.BatchUpsert:
    return cdc_rs.batch_upsert(
        target, keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
        topic="customers", operation_column="row_status", delete_operations=["delete"],
        lookup=read_country_lookup(bronze), lookup_on={"country_code": "code"},
        columns=SILVER_COLUMNS)


def kill_at(point: str, skip: int) -> None:
    """SIGKILL this process the ``skip + 1``-th time the write path reaches ``point``."""
    hits = [0]

    def reached(name: str) -> None:
        if name == point:
            hits[0] += 1
            if hits[0] > skip:
                os.kill(os.getpid(), signal.SIGKILL)

    cdc_rs._faults.reached = reached


def main(argv: list[str]) -> int:
    bronze, target, checkpoint = argv[:3]
    max_rows = int(argv[3]) if len(argv) > 3 else None
    if "CDC_RS_CRASH_AT" in os.environ:
        kill_at(os.environ["CDC_RS_CRASH_AT"], int(os.environ.get("CDC_RS_CRASH_SKIP", "0")))
    # small thresholds, so that compactions and checkpoints happen within a short run too
    merge_on_read = os.environ.get("CRASH_WORKER_KIND", "merge-on-read") == "merge-on-read"
    options = json.loads(os.environ.get("CRASH_WORKER_STORAGE", "null"))
    upsert = build(bronze, cdc_rs.DeltaTarget(target, storage_options=options, snapshot_every=3,
                                              checkpoint_every=4, auto_compact=3,
                                              deletion_vectors=merge_on_read))
    if "CRASH_WORKER_KILL_AFTER" in os.environ:  # a random moment: decoding, merging, committing
        threading.Timer(float(os.environ["CRASH_WORKER_KILL_AFTER"]),
                        os.kill, (os.getpid(), signal.SIGKILL)).start()
    reports = cdc_rs.stream(bronze, upsert, checkpoint=checkpoint, pattern="bronze-*.parquet",
                            max_rows_per_batch=max_rows, progress=False)
    print(" ".join(f"{r.batch_id}{'s' if r.skipped_replay else ''}" for r in reports))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
