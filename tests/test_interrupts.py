"""Ctrl-C (SIGINT) during a long batch: KeyboardInterrupt, and the target unchanged — a
MemoryTable as before the batch, a Delta batch uncommitted — and the batch can run again.
A signal that lands during the commit itself finds the batch whole: never half-applied.

Each case runs in its own interpreter, which sends itself SIGINT while the batch runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = """
import os, signal, sys, threading, time
import pyarrow as pa, pyarrow.compute as pc
import cdc_rs

signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if started in the background
N = 3_000_000
ids = pa.array(range(N), pa.int64()).cast(pa.string())
value = pc.binary_join_element_wise('{"id": ', ids, ', "ts": 2, "name": "customer ', ids, '"}', "")
bronze = pa.table({"value": value})
SCHEMA = "id BIGINT, ts INT, name STRING"
target = cdc_rs.MemoryTable() if sys.argv[1] == "memory" else cdc_rs.DeltaTarget(sys.argv[2])
upsert = cdc_rs.batch_upsert(target, keys="id", sequence_by="ts", value_schema=SCHEMA)
upsert(pa.table({"value": ['{"id": 1, "ts": 1, "name": "x"}']}), 0)

# How long the whole batch takes here, on a scratch table: the signal comes at a third of it.
started = time.perf_counter()
cdc_rs.batch_upsert(keys="id", sequence_by="ts", value_schema=SCHEMA)(bronze, 0)
whole = time.perf_counter() - started

sent = []
def interrupt():
    sent.append(time.perf_counter())
    os.kill(os.getpid(), signal.SIGINT)

threading.Timer(whole / 6, interrupt).start()  # while it decodes, most likely
try:
    if sys.argv[1] == "apply_all":
        upsert.apply_all([bronze, bronze], first_batch_id=1)
    else:
        upsert(bronze, 1)
except KeyboardInterrupt:
    latency = time.perf_counter() - sent[0]
else:
    sys.exit("the batch ran to its end: no KeyboardInterrupt")
print(f"whole batch {whole:.2f} s, back {latency:.2f} s after SIGINT", file=sys.stderr)
# Whole or nothing: stopped before its commit (the usual case), or, when the signal came
# during the commit itself, applied whole and the interrupt raised right after.
if target.last_batch_id == 0:
    assert len(target) == 1
    if sys.argv[1] == "delta":
        from deltalake import DeltaTable
        assert DeltaTable(sys.argv[2]).version() == 0  # nothing committed
    # the same batch runs again, whole
    assert upsert(bronze, 1).inserted == N - 1
else:
    print("the signal came during the commit: the batch is whole", file=sys.stderr)
assert target.last_batch_id in (1, 2) and len(target) == N, (target.last_batch_id, len(target))
print("ok")
"""


@pytest.mark.parametrize("target", ["memory", "delta", "apply_all"])
def test_ctrl_c_during_a_big_batch_raises_keyboard_interrupt_and_changes_nothing(
        target, tmp_path):
    if target == "delta":
        pytest.importorskip("deltalake")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT), target,
                           str(tmp_path / "silver")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"
    print(proc.stderr.strip())  # the measured latency, for the record (-s shows it)
