"""Where ``apply_all`` into a merge-on-read ``DeltaTarget`` spends the time it does not spend
into a ``MemoryTable``: stage timings by monkeypatched ``time.perf_counter`` wrappers.

    .venv/bin/python bench/profile_delta.py bench/data/bookstore-1M-b10-s0 [--repeat 3]
    .venv/bin/python bench/profile_delta.py bench/data/bookstore-1M-b10-s0 --compare 248902e
    .venv/bin/python bench/profile_delta.py bench/data/bookstore-1M-b10-s0 --variant cur,ref:248902e

The data set is bench/run.py's (``python bench/run.py --sizes 1M --batches 10`` makes it, or
``common.ensure_dataset(1_000_000, 10, 0)``).

Each repetition runs, in this one process and in alternating order, the two contenders of
``bench/run.py`` (``cdc_rs``: ``MemoryTable``; ``cdc_rs_delta``: a new merge-on-read
``DeltaTarget``), first plain (wall time of ``apply_all`` and of the read back) and then the
Delta one instrumented. Stage times are inclusive (a stage holds the stages under it) and
summed over the batches; stages run on worker threads (Parquet writes of ``write_groups``)
are summed per call, so they may overlap. ``--per-batch`` prints each batch's own figures.

``--compare REV`` adds a column of the same stages for the ``DeltaTarget`` committed at REV
(git), run instrumented in this process after each pair: before and after a change, stage by
stage. ``--timeline BATCH`` lists when each timed stage of one batch ran, on which thread.

``--variant cur,ref:HEAD~1`` runs plain timings of the working tree's ``DeltaTarget`` and of
the one committed at a git revision (imported beside it from ``git show``) side by side in
this process, alternating their order, so a change is compared with the code before it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow.parquet as pq  # noqa: E402

import cdc_rs  # noqa: E402
from cdc_rs import _delta_layout, _delta_log, _merge_on_read, _store, delta  # noqa: E402
from cdc_rs import _deletion_vectors  # noqa: E402

from cdc_rs._upsert import BatchUpsert  # noqa: E402

from common import bronze_files, lookup_file  # noqa: E402
from contenders.cdc_rs import make_upsert  # noqa: E402

# ----------------------------------------------------------------------------- timers

_local = threading.local()


class Timers:
    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.batch: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.current_batch = -1
        self.lock = threading.Lock()
        self.events: list[tuple[int, str, str, float, float]] = []  # batch, thread, label, t0, t1

    def add(self, label: str, seconds: float) -> None:
        end = time.perf_counter()
        with self.lock:
            self.events.append((self.current_batch, threading.current_thread().name, label,
                                end - seconds, end))
            self.total[label] += seconds
            self.calls[label] += 1
            self.batch[self.current_batch][label] += seconds


TIMERS: Timers | None = None


def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if TIMERS is None:
            return fn(*args, **kwargs)
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMERS.add(label, time.perf_counter() - t)
    return wrapper


class _Proxy:
    """Forwards to a Rust object, timing the named methods."""

    def __init__(self, inner: Any, labels: dict[str, str], wrap_result: dict[str, Any] | None = None):
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_labels", labels)
        object.__setattr__(self, "_wrap", wrap_result or {})

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name in self._labels and callable(value):
            raw = value
            fn = timed(self._labels[name], lambda *a, **k: raw(*[_unwrap(x) for x in a], **k))
            if name in self._wrap:
                wrap = self._wrap[name]
                return lambda *a, **k: wrap(fn(*a, **k))
            return fn
        return value

    def __len__(self) -> int:
        return len(self._inner)


def _numbering(step: Any) -> Any:
    """``step`` (whose last argument is the batch id) telling the timers which batch runs."""
    def numbered(self: Any, *args: Any) -> Any:
        assert TIMERS is not None
        TIMERS.current_batch = args[-1]
        return step(self, *args)
    return numbered

def _plan_proxy(plan: Any) -> Any:
    return _Proxy(plan, {"upserts": "plan.upserts()", "deletes": "plan.deletes()",
                         "state_changes": "plan.state_changes()",
                         "replaced_rows": "plan.replaced_rows()",
                         "upserted_from": "plan.upserted_from()",
                         "deleted_rows": "plan.deleted_rows()", "rejected": "plan.rejected()"})


def _unwrap(x: Any) -> Any:
    return x._inner if isinstance(x, _Proxy) else x


class _Pipeline(_Proxy):
    def __init__(self, inner: Any) -> None:
        super().__init__(inner, {"screen": "screen (thread)", "plan": "pipeline.plan (Rust)",
                                 "run": "pipeline.run (Rust, plan+merge)"},
                         {"plan": _plan_proxy})

    def run(self, batch: Any, batch_id: int, core: Any) -> Any:
        return timed("pipeline.run (Rust, plan+merge)", self._inner.run)(batch, batch_id, core)


class _Mirror(_Proxy):
    def __init__(self, inner: Any) -> None:
        super().__init__(inner, {})

    def commit(self, plan: Any, *rest: Any) -> Any:
        return timed("mirror.commit (Rust)", self._inner.commit)(_unwrap(plan), *rest)


@contextlib.contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = obj.__dict__[name] if isinstance(obj, type) else getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


@contextlib.contextmanager
def instrumented(pkg: Any = cdc_rs) -> Iterator[Timers]:
    """Timing wrappers on the write path of a merge-on-read ``DeltaTarget`` (of ``pkg``: this
    package, or one loaded by ``load_ref``)."""
    global TIMERS
    TIMERS = Timers()
    import importlib
    delta, _merge_on_read, _delta_layout, _store = (
        importlib.import_module(f"{pkg.__name__}.{m}")
        for m in ("delta", "_merge_on_read", "_delta_layout", "_store"))
    try:  # the bookkeeping's own module, since the places were recorded
        _bookkeeping = importlib.import_module(f"{pkg.__name__}._bookkeeping")
    except ImportError:
        _bookkeeping = None
    targets: list[tuple[Any, str, str]] = [
        (delta.DeltaTarget, "commit", "DeltaTarget.commit"),
        (delta.DeltaTarget, "apply_batch", "DeltaTarget.apply_batch (before the protocol)"),
        (delta.DeltaTarget, "_stage|_write", "_stage (files)"),
        (delta.DeltaTarget, "_merge_batch", "_merge_batch"),
        (delta.DeltaTarget, "_create_merge_on_read", "_create_merge_on_read"),
        (delta.DeltaTarget, "_write_changes", "_write_changes (bookkeeping)"),
        (delta.DeltaTarget, "_record_changes", "_record_changes (bookkeeping, thread)"),
        (delta.DeltaTarget, "_commit", "_commit (log json)"),
        (delta.DeltaTarget, "_checkpoint", "_checkpoint"),
        (delta.DeltaTarget, "_snapshot", "_snapshot"),
        (delta.DeltaTarget, "_compact_if_due", "_compact_if_due"),
        (delta.DeltaTarget, "_blank_partitions", "blank_partitions"),
        (delta.DeltaTarget, "_open", "_open"),
        # (renamed when delta.py was split by job: the old name, for --compare REV)
        (delta, "log_stamp|_log_stamp", "_log_stamp (listing)"),
        (delta, "log_changed|_log_changed", "_log_changed (listing)"),
        (delta, "check_writable|_check_writable", "_check_writable"),
        (delta, "write_batch", "write_batch"),
        (delta, "write_commit", "write_commit"),
        (delta, "castable|_castable", "_castable"),
        (_merge_on_read, "write_vectors", "write_vectors (DV)"),
        (_merge_on_read.FileIndex, "locate", "FileIndex.locate"),
        (_merge_on_read.FileIndex, "deleted", "FileIndex.deleted"),
        (_merge_on_read, "remove_of", "remove_of"),
        (_merge_on_read, "_with_vector", "_with_vector"),
        (_delta_layout, "file_groups", "file_groups"),
        (_delta_layout, "write_groups", "write_groups"),
        (_delta_layout, "file_stats", "file_stats (thread)"),
        (_store.LocalStore, "write_parquet", "Store.write_parquet (thread)"),
        (_store.LocalStore, "write", "Store.write (atomic+fsync)"),
        (_store.LocalStore, "create", "Store.create (link+fsync)"),
        (_store.LocalStore, "files", "Store.files (scandir)"),
        (_store.LocalStore, "check_writable", "Store.check_writable"),
        (_bookkeeping or delta, "write_parquet|_write_parquet", "_write_parquet (bookkeeping)"),
        (delta.DeltaTarget, "_opened", "_opened"),
    ]
    if hasattr(_merge_on_read, "_union_sorted"):
        targets.append((_merge_on_read, "_union_sorted", "merge deleted rows (union)"))
    else:  # before: np.union1d, only called there
        targets.append((_merge_on_read.np, "union1d", "merge deleted rows (union)"))
    saved = []
    for obj, names, label in targets:
        # the first of the names this revision of the code has (none: not there yet)
        name = next((n for n in names.split("|") if n in vars(obj)), None)
        if name is None:
            continue
        old = vars(obj)[name]
        saved.append((obj, name, old))
        setattr(obj, name, timed(label, old))
    # deltalake's DeltaTable methods (a Python class over the Rust one)
    from deltalake import DeltaTable
    for name, label in [("load_as_version", "DeltaTable.load_as_version"),
                        ("create_checkpoint", "DeltaTable.create_checkpoint"),
                        ("schema", "DeltaTable.schema()"), ("metadata", "DeltaTable.metadata()"),
                        ("protocol", "DeltaTable.protocol()"), ("version", "DeltaTable.version()")]:
        old = DeltaTable.__dict__[name]
        saved.append((DeltaTable, name, old))
        setattr(DeltaTable, name, timed(label, old))
    orig_init = DeltaTable.__init__
    saved.append((DeltaTable, "__init__", orig_init))
    DeltaTable.__init__ = timed("DeltaTable(...) open", orig_init)
    # the mirror's commit must get the real plan
    orig_opened = delta.DeltaTarget._opened
    delta.DeltaTarget._opened = lambda self: _Mirror(orig_opened(self))
    # the batch each timing belongs to: the first step that knows its id (since the Target
    # protocol: write, commit; before it: apply_batch, the whole batch)
    for obj, names, timed_as in [(delta.DeltaTarget, "write|apply_batch", False),
                                 (cdc_rs.MemoryTable, "commit|apply_batch", True)]:
        name = next(n for n in names.split("|") if n in vars(obj))
        old = vars(obj)[name]
        saved.append((obj, name, old))
        if timed_as:  # the engine's own commit takes the plan, not its timing proxy
            old = timed(f"MemoryTable.{name}",
                        lambda self, *a, _step=old: _step(self, *[_unwrap(x) for x in a]))
        setattr(obj, name, _numbering(old))
    orig_call = BatchUpsert.__dict__["__call__"]
    saved.append((BatchUpsert, "__call__", orig_call))
    BatchUpsert.__call__ = timed("BatchUpsert.__call__", orig_call)
    try:
        yield TIMERS
    finally:
        for obj, name, old in reversed(saved):
            setattr(obj, name, old)
        TIMERS = None


# ----------------------------------------------------------------------------- runs

def run_memory(files: list[Path], lookup: Any,
               instrument: bool = False) -> tuple[dict[str, float], Timers | None]:
    timers = None
    c0 = time.process_time()
    t0 = time.perf_counter()
    upsert = make_upsert(lookup)
    ctx = instrumented() if instrument else contextlib.nullcontext()
    with ctx as timers:
        if instrument:
            upsert._pipeline = _Pipeline(upsert._pipeline)
        upsert.apply_all(cdc_rs.scan_parquet_files(files, ["topic", "value"]))
    t1 = time.perf_counter()
    c1 = time.process_time()
    upsert.target.to_arrow()
    t2 = time.perf_counter()
    if timers is not None:
        timers.total["apply_all"] = t1 - t0
    return {"apply_all": t1 - t0, "to_arrow": t2 - t1, "total": t2 - t0, "cpu": c1 - c0}, timers


def run_delta(files: list[Path], lookup: Any, base: Path, instrument: bool = False,
              target: Callable[[Path], Any] = cdc_rs.DeltaTarget, pkg: Any = cdc_rs,
              ) -> tuple[dict[str, float], Timers | None]:
    path = Path(tempfile.mkdtemp(prefix="delta-", dir=base))
    timers = None
    try:
        c0 = time.process_time()
        t0 = time.perf_counter()
        upsert = make_upsert(lookup, target(path))
        ctx = instrumented(pkg) if instrument else contextlib.nullcontext()
        with ctx as timers:
            if instrument:
                upsert._pipeline = _Pipeline(upsert._pipeline)
            upsert.apply_all(cdc_rs.scan_parquet_files(files, ["topic", "value"]))
        t1 = time.perf_counter()
        c1 = time.process_time()
        if timers is not None:
            timers.total["apply_all"] = t1 - t0
        upsert.target.to_arrow()
        t2 = time.perf_counter()
    finally:
        shutil.rmtree(path, ignore_errors=True)
    t3 = time.perf_counter()
    return {"apply_all": t1 - t0, "to_arrow": t2 - t1, "rmtree": t3 - t2, "total": t3 - t0,
            "cpu": c1 - c0}, timers


def load_ref(rev: str) -> Any:
    """The ``DeltaTarget`` of the package as committed at ``rev`` (git), imported beside the
    working tree's as ``cdc_base_<rev>`` (sharing its compiled ``_cdc_rs``): two versions of
    the Python write path compared in one process."""
    import importlib
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", rev], check=True,
                         capture_output=True, text=True).stdout.strip()
    name = f"cdc_base_{sha}"
    if name not in sys.modules:
        root = Path(tempfile.mkdtemp(prefix="cdc-base-"))
        pkg = root / name
        pkg.mkdir()
        listing = subprocess.run(["git", "-C", str(repo), "ls-tree", "--name-only", sha,
                                  "python/cdc_rs/"], check=True, capture_output=True,
                                 text=True).stdout.split()
        for path in listing:
            if path.endswith(".py"):
                (pkg / Path(path).name).write_bytes(subprocess.run(
                    ["git", "-C", str(repo), "show", f"{sha}:{path}"], check=True,
                    capture_output=True).stdout)
        sys.modules[f"{name}._cdc_rs"] = cdc_rs._cdc_rs
        sys.path.insert(0, str(root))
        importlib.import_module(name)
    return sys.modules[name]


def target_factory(variant: str) -> Callable[[Path], Any]:
    """``cur``: the working tree's DeltaTarget; ``ref:REV``: the one committed at REV."""
    if variant == "cur":
        return cdc_rs.DeltaTarget
    if variant.startswith("ref:"):
        return load_ref(variant[4:]).DeltaTarget
    raise SystemExit(f"unknown variant {variant!r}: cur or ref:REV")


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--per-batch", action="store_true")
    ap.add_argument("--timeline", type=int, default=None, metavar="BATCH",
                    help="print when each timed stage of this batch ran, on which thread")
    ap.add_argument("--variant", default=None, help="comma-separated VARIANTS to compare")
    ap.add_argument("--no-instrument", action="store_true")
    ap.add_argument("--compare", default=None, metavar="REV",
                    help="also time the stages of the DeltaTarget committed at REV (git)")
    args = ap.parse_args()
    d = Path(args.data)
    files, lookup = bronze_files(d), pq.read_table(lookup_file(d))
    base = Path(__file__).resolve().parent / "data" / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    run_memory(files, lookup)  # warm up (page cache, imports)

    if args.variant:
        names = args.variant.split(",")
        factories = {n: target_factory(n) for n in names}
        res: dict[str, list[dict[str, float]]] = {n: [] for n in ["memory", *names]}
        for rep in range(args.repeat):
            order = names if rep % 2 == 0 else names[::-1]
            res["memory"].append(run_memory(files, lookup)[0])
            for n in order:
                res[n].append(run_delta(files, lookup, base, target=factories[n])[0])
            print(f"rep {rep}: " + ", ".join(f"{n} {res[n][-1]['apply_all']:.3f}" for n in res),
                  flush=True)
        print(f"{'variant':<24} {'apply_all med':>14} {'min':>7} {'total med':>10} "
              f"{'CPU med':>8} {'to_arrow':>8}  all apply_all"
              "  (total: + read back with to_arrow + rmtree, as bench/run.py times it; "
              "CPU: process CPU seconds of apply_all)")
        for n, rs in res.items():
            a = [r["apply_all"] for r in rs]
            print(f"{n:<24} {_med(a):14.3f} {min(a):7.3f} {_med([r['total'] for r in rs]):10.3f} "
                  f"{_med([r['cpu'] for r in rs]):8.3f} {_med([r['to_arrow'] for r in rs]):8.3f}  "
                  + " ".join(f"{x:.3f}" for x in a))
        return

    mem, plain, inst = [], [], []
    mem_runs: list[Timers] = []
    stage_runs: list[Timers] = []
    ref_runs: list[Timers] = []
    ref_pkg = load_ref(args.compare) if args.compare else None
    for rep in range(args.repeat):
        if rep % 2 == 0:
            mem.append(run_memory(files, lookup)[0])
            plain.append(run_delta(files, lookup, base)[0])
        else:
            plain.append(run_delta(files, lookup, base)[0])
            mem.append(run_memory(files, lookup)[0])
        if not args.no_instrument:
            _, mt = run_memory(files, lookup, instrument=True)
            r, timers = run_delta(files, lookup, base, instrument=True)
            inst.append(r)
            assert timers is not None and mt is not None
            stage_runs.append(timers)
            mem_runs.append(mt)
            if ref_pkg is not None:
                _, rt = run_delta(files, lookup, base, instrument=True,
                                  target=ref_pkg.DeltaTarget, pkg=ref_pkg)
                assert rt is not None
                ref_runs.append(rt)
        print(f"rep {rep}: memory {mem[-1]['apply_all']:.3f}+{mem[-1]['to_arrow']:.3f} s, "
              f"delta {plain[-1]['apply_all']:.3f}+{plain[-1]['to_arrow']:.3f}+"
              f"{plain[-1]['rmtree']:.3f} s" + (f", delta instrumented {inst[-1]['apply_all']:.3f} s"
                                                 if inst else ""), flush=True)
    print(f"\n{d.name}: medians of {args.repeat}")
    for name, rs in [("memory", mem), ("delta", plain), ("delta (instrumented)", inst)]:
        if rs:
            print(f"  {name:<22} " + ", ".join(f"{k} {_med([r[k] for r in rs]):.3f}"
                                                for k in rs[0]))
    if not stage_runs:
        return
    for runs in (mem_runs, stage_runs, ref_runs):
        for t in runs:
            t.total["apply_all: waiting for screening"] = \
                t.total["apply_all"] - t.total["BatchUpsert.__call__"]
    columns = [("memory s", mem_runs)] + ([(f"{args.compare} s", ref_runs)] if ref_runs else []) \
        + [("delta s", stage_runs)]
    labels = sorted({k for _, runs in columns for t in runs for k in t.total},
                    key=lambda k: -max(_med([t.total.get(k, 0.0) for t in stage_runs]),
                                       _med([t.total.get(k, 0.0) for t in ref_runs] or [0.0])))
    print(f"\n{'stage (inclusive, summed over batches)':<40}"
          + "".join(f" {name[:12]:>12}" for name, _ in columns) + f" {'calls':>6}")
    for k in labels:
        print(f"  {k:<38}" + "".join(f" {_med([t.total.get(k, 0.0) for t in runs]):12.3f}"
                                     for _, runs in columns)
              + f" {stage_runs[0].calls.get(k, 0):6d}")
    if args.timeline is not None:
        t = stage_runs[-1]
        events = [e for e in t.events if e[0] == args.timeline]
        if events:
            start = min(e[3] for e in events)
            print(f"\ntimeline of batch {args.timeline} (last instrumented run), ms from its start")
            for _, thread, label, t0, t1 in sorted(events, key=lambda e: e[3]):
                print(f"  {1000 * (t0 - start):7.1f} {1000 * (t1 - start):7.1f}  "
                      f"{thread[:22]:<22} {label}")
    if args.per_batch:
        t = stage_runs[-1]
        batches = sorted(b for b in t.batch if b >= 0)
        print("\nper batch (last instrumented run), seconds")
        cols = [k for k in labels if k in t.total][:16]
        print("stage".ljust(38) + "".join(f"{b:>7d}" for b in batches))
        for k in cols:
            print(f"  {k[:36]:<36}" + "".join(f"{t.batch[b].get(k, 0.0):7.3f}" for b in batches))

if __name__ == "__main__":
    main()
