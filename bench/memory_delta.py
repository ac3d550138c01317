"""Where the peak RSS of the merge-on-read Delta scenario comes from.

The scenario of ``bench/delta_batches.py`` (``measure()``): a process loads a new
merge-on-read :class:`cdc_rs.DeltaTarget` with ``--rows`` rows in 1M-row batches, then applies
``--batches`` small batches (``--batch`` events, half updates, half inserts); then a new process
opens the table (its first call is a replay). Each process can be traced (``--trace``):
every stage below (DeltaTarget methods, bookkeeping, the Rust calls made from Python, the
Parquet writes) is timed and gets the peak RSS reached while it ran, exactly: at each stage
boundary the kernel's ``VmHWM`` is read and reset to the current RSS (``/proc/self/clear_refs``
``5``), so the peak of every segment between two boundaries is known and charged to the stages
on the stack. Without ``--trace`` only the whole process's ``VmHWM`` and times are taken.

    PYTHONPATH=python .venv/bin/python bench/memory_delta.py --rows 10000000 --trace
    PYTHONPATH=python .venv/bin/python bench/memory_delta.py --rows 10000000   # peak + time only

Allocator settings are environment variables of the run, e.g. ``_RJEM_MALLOC_CONF`` (the Rust
side's jemalloc), ``ARROW_DEFAULT_MEMORY_POOL`` (pyarrow's pool); ``--arrow-decay-0`` calls
``pa.jemalloc_set_decay_ms(0)`` when pyarrow's pool is jemalloc.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

_PAGE = os.sysconf("SC_PAGE_SIZE")


def status_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    rss = hwm = 0.0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    return rss, hwm


def reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# Python functions traced (their ``co_qualname``) and Rust/C methods (``Type.name``).
PY_STAGES = {
    "DeltaTarget.write", "DeltaTarget.commit", "DeltaTarget._open", "DeltaTarget._stage",
    "DeltaTarget._merge_batch", "DeltaTarget._create_merge_on_read", "DeltaTarget._snapshot",
    "DeltaTarget._restored_index", "DeltaTarget._restored_by_key", "read_files",
    "DeltaTarget._record_changes", "DeltaTarget._commit", "DeltaTarget._checkpoint",
    "DeltaTarget._blank_partitions",
    "Bookkeeping.load", "Bookkeeping.write_changes", "Bookkeeping.write_snapshot",
    "Loaded.state", "located_state", "with_places", "write_batch", "write_groups",
    "file_groups", "FileIndex.of", "FileIndex.deleted_positions", "write_table",
    "live_adds", "_screened",
}
C_STAGES = {
    "Pipeline.screen", "Pipeline.plan", "PlanCore.upserts", "PlanCore.deletes",
    "PlanCore.state_changes", "PlanCore.replaced_rows", "TableCore.commit", "TableCore.state",
    "TableCore.restore_located", "TableCore.restore_index", "Table.take", "Table.combine_chunks",
    "Table.cast", "Table.select", "DeltaTable.__init__", "DeltaTable.transaction_version",
}


class Tracer:
    """Stage stack of the main thread with exact per-segment peaks."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.names: list[str] = []
        self.started: list[tuple[float, float, float, int]] = []  # t, rss at entry, peak, pool
        self.stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.peak = 0.0
        self.peak_at: tuple[str, ...] = ()
        self.timeline: list[tuple[str, float, float]] = []  # top-level phases

    def _segment(self) -> float:
        rss, hwm = status_mb()
        reset_hwm()
        if hwm > self.peak:
            self.peak, self.peak_at = hwm, tuple(self.stack)
        for i in range(len(self.started)):
            t, entry, peak, pool = self.started[i]
            if hwm > peak:
                self.started[i] = (t, entry, hwm, pool)
        return rss

    def enter(self, name: str) -> None:
        rss = self._segment()
        self.names.append(name)
        self.stack.append("/".join(n.removeprefix("DeltaTarget.") for n in self.names[-3:]))
        self.started.append((time.perf_counter(), rss, rss, pa.total_allocated_bytes()))

    def exit(self) -> None:
        rss = self._segment()
        path = self.stack.pop()
        self.names.pop()
        t, entry, peak, pool = self.started.pop()
        s = self.stats[path]
        s["calls"] += 1
        s["seconds"] += time.perf_counter() - t
        s["max_peak"] = max(s["max_peak"], peak)
        s["max_rise"] = max(s["max_rise"], peak - entry)  # above the RSS at entry
        s["max_kept"] = max(s["max_kept"], rss - entry)  # still resident after it
        s["max_entry"] = max(s["max_entry"], entry)
        s["pool_kept_mb"] = max(s["pool_kept_mb"], (pa.total_allocated_bytes() - pool) / 2**20)
        s["pool_at_entry_mb"] = max(s["pool_at_entry_mb"], pool / 2**20)

    def phase(self, name: str) -> None:
        rss = self._segment()
        self.timeline.append((name, rss, self.peak))

    # sys.setprofile hook
    def __call__(self, frame, event, arg):  # noqa: ANN001
        if event == "call":
            if frame.f_code.co_qualname in PY_STAGES:
                self.enter(frame.f_code.co_qualname)
                self._frames.append(frame)
        elif event == "return":
            if self._frames and self._frames[-1] is frame:
                self._frames.pop()
                self.exit()
        elif event == "c_call":
            name = self._c_name(arg)
            if name in C_STAGES:
                self.enter(name)
                self._frames.append(arg)
        elif event in ("c_return", "c_exception"):
            if self._frames and self._frames[-1] is arg:
                self._frames.pop()
                self.exit()

    _frames: list = []

    @staticmethod
    def _c_name(fn) -> str:  # noqa: ANN001
        owner = getattr(fn, "__self__", None)
        if owner is None:  # a static method
            return getattr(fn, "__qualname__", "?")
        kind = owner if isinstance(owner, type) else type(owner)
        return f"{kind.__name__}.{getattr(fn, '__name__', '?')}"

    def install(self) -> None:
        self._frames = []
        reset_hwm()
        sys.setprofile(self)

    def report(self, title: str) -> str:
        sys.setprofile(None)
        self._segment()
        lines = [f"### {title}: peak {self.peak:,.0f} MB in {self.peak_at[-1] if self.peak_at else '-'}",
                 "", "| stage | calls | s | RSS at entry (max) | peak in it | rise | kept after "
                 "| arrow pool at entry | arrow pool kept |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for path, s in sorted(self.stats.items(), key=lambda kv: -kv[1]["max_peak"]):
            if s["max_rise"] < 20 and s["max_peak"] < self.peak - 300:
                continue
            lines.append(f"| {path} | {s['calls']:.0f} | {s['seconds']:.2f} | "
                         f"{s['max_entry']:,.0f} | {s['max_peak']:,.0f} | {s['max_rise']:,.0f} | "
                         f"{s['max_kept']:,.0f} | {s['pool_at_entry_mb']:,.0f} | {s['pool_kept_mb']:,.0f} |")
        if self.timeline:
            lines += ["", "| after | RSS | peak so far |", "|---|---:|---:|"]
            lines += [f"| {n} | {r:,.0f} | {p:,.0f} |" for n, r, p in self.timeline]
        return "\n".join(lines)


def scenario(path: str, rows: int, batches: int, batch: int, tracer: Tracer | None,
             read_optimize: bool) -> dict:
    from delta_batches import events, small_batches, upsert_for

    from cdc_rs.delta import DeltaTarget

    rng = np.random.default_rng(0)
    target = DeltaTarget(path, deletion_vectors=True, auto_compact=None)
    upsert = upsert_for(target)
    chunk, batch_id = 1_000_000, 0
    started = time.perf_counter()
    for start in range(0, rows, chunk):
        data = events(np.arange(start, min(rows, start + chunk)), 1, rng)
        if tracer:
            tracer.phase(f"events {batch_id}")
        upsert(data, batch_id)
        del data
        if tracer:
            tracer.phase(f"load batch {batch_id}")
        batch_id += 1
    load_s = time.perf_counter() - started
    _, load_peak = status_mb()
    seconds = small_batches(upsert, rows, batches, batch, batch_id, rng)
    batch_id += batches
    if tracer:
        tracer.phase(f"{batches} small batches")
    rss, hwm = status_mb()
    out = {"rows": rows, "load_s": load_s, "median_batch_s": float(np.median(seconds)),
           "last_batch_id": batch_id - 1, "rss_mb": rss,
           "load_peak_mb": tracer.peak if tracer else load_peak,
           "scenario_peak_mb": tracer.peak if tracer else hwm,
           "arrow_pool_mb": pa.total_allocated_bytes() / 2**20}
    if read_optimize:
        from delta_batches import read_before_and_after_optimize
        out.update(read_before_and_after_optimize(path, None, target))
        if tracer:
            tracer.phase("polars reads + optimize")
        out["with_read_optimize_peak_mb"] = tracer.peak if tracer else status_mb()[1]
    return out


def open_table(path: str, batch_id: int, tracer: Tracer | None) -> dict:
    started = time.perf_counter()
    import cdc_rs
    from cdc_rs.delta import DeltaTarget
    imported = time.perf_counter()
    if tracer:
        tracer.phase("imports")
    up = cdc_rs.batch_upsert(DeltaTarget(path), keys="customer_id", sequence_by="row_time")
    report = up(pa.table({"customer_id": ["C0"], "row_time": pa.array([0], pa.int64())}),
                batch_id)
    assert report.skipped_replay
    if tracer:
        tracer.phase("opened")
    rss, hwm = status_mb()
    return {"open_s": time.perf_counter() - imported, "import_s": imported - started,
            "open_peak_mb": tracer.peak if tracer else hwm, "open_rss_mb": rss,
            "arrow_pool_mb": pa.total_allocated_bytes() / 2**20}


def configure(args: argparse.Namespace) -> None:
    if args.arrow_decay_0:
        pa.jemalloc_set_decay_ms(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--read-optimize", action="store_true",
                        help="also the polars reads and optimize() of delta_batches.py")
    parser.add_argument("--arrow-decay-0", action="store_true")
    parser.add_argument("--keep", help="build the table here and keep it")
    parser.add_argument("--open", nargs=2, metavar=("PATH", "BATCH_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure(args)
    tracer = Tracer() if args.trace else None
    if tracer:
        tracer.install()
    if args.open:
        result = open_table(args.open[0], int(args.open[1]), tracer)
        if tracer:
            print(tracer.report("opening process"), file=sys.stderr)
        print(json.dumps(result))
        return
    (HERE / "data").mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(dir=HERE / "data")
    path = args.keep or str(Path(tmp) / "t")
    try:
        result = scenario(path, args.rows, args.batches, args.batch, tracer, args.read_optimize)
        if tracer:
            print(tracer.report("loading process"), file=sys.stderr)
        command = [sys.executable, __file__, "--open", path, str(result["last_batch_id"]),
                   *(["--trace"] if args.trace else []),
                   *(["--arrow-decay-0"] if args.arrow_decay_0 else [])]
        proc = subprocess.run(command, capture_output=True, text=True, check=True)
        if proc.stderr:
            print(proc.stderr, file=sys.stderr)
        result.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        result["arrow_pool"] = pa.default_memory_pool().backend_name
        print(json.dumps(result))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
