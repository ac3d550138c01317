"""Processes that write a Delta target and read it back must exit cleanly (exit code 0).

The hazard: deltalake's pyarrow reads (``DeltaTable.to_pyarrow_table/_dataset``) go through a
Python filesystem, so the buffers they read are Python objects that Arrow's IO threads release
*after* the read returns, taking the GIL to do it. A thread still waiting for the GIL when
interpreter finalization starts is given it there and, on CPython < 3.14, ended with
``pthread_exit`` inside a C++ ``noexcept`` destructor: ``terminate called without an active
exception``, SIGABRT, exit code 134. It only shows across many fresh processes, and most
often when the main thread keeps the GIL for just under the switch interval right before exit,
so each child ends that way (the worst case) to make a regression show in a few runs.
About 1.5-2.5 s per child on a 2-core machine: 2 x 12 runs stay under a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("deltalake")

RUNS = int(os.environ.get("CDC_RS_EXIT_RUNS", "12"))

CHILD = textwrap.dedent("""
    import sys, time
    import pyarrow as pa
    import deltalake
    import cdc_rs

    path, last = sys.argv[1], sys.argv[2]
    # copy-on-write: deltalake's pyarrow reads refuse tables with deletion vectors
    upsert = cdc_rs.batch_upsert(cdc_rs.DeltaTarget(path, deletion_vectors=False), keys="id",
                                 sequence_by="ts")
    upsert(pa.table({"id": [1, 2], "ts": [1, 1]}), 0)
    upsert(pa.table({"id": [2, 3], "ts": [2, 2]}), 1)
    reads = {
        "cdc_rs": lambda: cdc_rs.DeltaTarget(path).to_arrow(),
        # a user's own read through deltalake's default (Python) filesystem
        "deltalake": lambda: deltalake.DeltaTable(path).to_pyarrow_table(),
    }
    for name in sorted(reads, key=lambda n: n == last):  # the chosen read comes last
        assert reads[name]().num_rows == 3, name
    # worst case: hold the GIL for ~80% of the switch interval, then exit at once
    end = time.perf_counter() + 0.8 * sys.getswitchinterval()
    while time.perf_counter() < end:
        pass
""")


@pytest.mark.parametrize("last_read", ["cdc_rs", "deltalake"])
def test_delta_write_read_processes_exit_cleanly(tmp_path, last_read):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    failures = []
    for run in range(RUNS):
        proc = subprocess.run([sys.executable, str(script), str(tmp_path / f"t{run}"), last_read],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0 or "terminate called" in proc.stderr:
            failures.append(f"run {run}: exit code {proc.returncode}\n{proc.stderr[-2000:]}")
    assert not failures, (f"{len(failures)} of {RUNS} processes did not exit cleanly:\n"
                          + "\n".join(failures))
