"""A MemoryTable shared by threads: reads during a write wait for it and see a whole batch,
never a borrow panic; a process forked during a write gets the table between two batches."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import threading

import pyarrow as pa

import cdc_rs

ROWS = 200_000


def _batch(version: int) -> pa.Table:
    return pa.table({"id": pa.array(range(ROWS), pa.int64()),
                     "ts": pa.array([version] * ROWS, pa.int64()),
                     "v": pa.array([f"v{version}"] * ROWS)})


def test_reads_on_other_threads_during_upserts_see_whole_batches_and_never_panic():
    table = cdc_rs.MemoryTable()
    upsert = cdc_rs.batch_upsert(table, keys="id", sequence_by="ts")
    upsert(_batch(0), 0)
    errors: list[BaseException] = []
    seen: set[str] = set()
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                rows = table.to_arrow()
                assert rows.num_rows == ROWS
                versions = set(rows.column("v").unique().to_pylist())
                assert len(versions) == 1, f"a half-applied batch: {sorted(versions)[:3]}"
                seen.update(versions)
                assert len(table) == ROWS
                assert table.state() is not None
                copy = pickle.loads(pickle.dumps(table))
                assert len(copy) == ROWS and copy.last_batch_id is not None
        except BaseException as exc:  # noqa: BLE001 - a PanicException is a BaseException
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for batch_id in range(1, 6):
            assert upsert(_batch(batch_id), batch_id).updated == ROWS
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert not errors, errors[0]
    assert table.to_arrow().column("v").unique().to_pylist() == ["v5"]
    assert seen  # the readers did read


def test_upserts_from_two_threads_are_serialised():
    table = cdc_rs.MemoryTable()
    upserts = [cdc_rs.batch_upsert(table, keys="id", sequence_by="ts") for _ in range(2)]
    errors: list[BaseException] = []

    def write(which: int) -> None:
        try:
            for step in range(3):
                version = 2 * step + which + 1
                upserts[which](_batch(version), version)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert not errors, errors[0]
    assert len(table) == ROWS
    assert table.last_batch_id == 6


FORK_DURING_AN_UPSERT = """
import os, threading, time
import pyarrow as pa
import cdc_rs

ROWS = 1_000_000
table = cdc_rs.MemoryTable()
upsert = cdc_rs.batch_upsert(table, keys="id", sequence_by="ts")
batch = lambda version: pa.table({"id": pa.array(range(ROWS), pa.int64()),
                                  "ts": pa.array([version] * ROWS, pa.int64())})
upsert(batch(0), 0)
writer = threading.Thread(target=upsert, args=(batch(1), 1))
writer.start()
time.sleep(0.01)  # the writer is inside the engine now (or about to be)
pid = os.fork()
if pid == 0:
    # the child has the table between two batches and can use it
    ok = len(table) == ROWS and table.last_batch_id in (0, 1)
    ok = ok and upsert(batch(5), 5).rows_in == ROWS and table.last_batch_id == 5
    os._exit(0 if ok else 1)
writer.join()
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert table.last_batch_id == 1
print("ok")
"""


def test_a_process_forked_during_an_upsert_gets_a_usable_table_not_a_deadlock():
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(FORK_DURING_AN_UPSERT)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok"
