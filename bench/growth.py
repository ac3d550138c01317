"""Growth scenario: small micro-batches into a big silver table.

    .venv/bin/python bench/growth.py                      # 10M keys, 100 batches of 10k events
    .venv/bin/python bench/growth.py --keys 1M --batches 20

A silver table of ``--keys`` unique customers (``C000001`` ...) is loaded first (one big
batch, timed apart as "load"); then ``--batches`` bronze micro-batches of ``--batch-events``
events (``cdc_rs.datasets.bookstore``: its customer ids are the table's first keys, so the
batches mostly update existing rows) are applied one by one. Per-batch latency = reading the
micro-batch's Parquet file + applying it. Contenders that keep an indexed table:

* ``cdc_rs``: ``MemoryTable`` (hash index of keys);
* ``duckdb``: a table with ``PRIMARY KEY`` (ART index), ``INSERT ... ON CONFLICT DO UPDATE
  ... WHERE excluded.row_time > state.row_time``;
* ``deltalake``: delta-rs ``MERGE`` into a Delta table (no index: a merge rewrites the files
  holding matched rows); at most ``--slow-batches`` batches.

Each contender runs in a fresh subprocess; the final tables are compared with cdc_rs's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from common import (BENCH, DATA, LOOKUP_FILE, compare, machine, normalise, parse_size,  # noqa: E402
                    size_label)

BEGIN, END = "<!-- bench/growth.py: begin -->", "<!-- bench/growth.py: end -->"
CONTENDERS = ["cdc_rs", "duckdb", "deltalake"]


def data_dir(keys: int, batches: int, batch_events: int, seed: int) -> Path:
    return DATA / f"growth-{size_label(keys)}-{batches}x{size_label(batch_events)}-s{seed}"


def ensure_data(keys: int, batches: int, batch_events: int, seed: int) -> Path:
    from cdc_rs.datasets import SILVER_COLUMNS, bookstore

    d = data_dir(keys, batches, batch_events, seed)
    if (d / "_COMPLETE").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    ds = bookstore(events=batches * batch_events, batches=batches, seed=seed)
    ds.write_parquet(d / "batches")
    width = max(5, len(str(ds.customers)))  # the bookstore's id format
    n = np.arange(1, keys + 1)
    ids = pc.binary_join_element_wise("C", pc.utf8_lpad(pc.cast(pa.array(n), pa.string()),
                                                          width, "0"), "")
    idx = pa.array(n % 7)
    pick = lambda words: pa.array(words).take(idx)  # noqa: E731
    base = pa.table({
        "customer_id": ids,
        "email": pc.binary_join_element_wise(ids, "@example.com", ""),
        "first_name": pick(["Sula", "Cahra", "Josias", "Trixi", "Melli", "Ray", "Etti"]),
        "last_name": pick(["Coulman", "Cottey", "Abby", "Abels", "Cosson", "Ackwood", "Abbys"]),
        "gender": pick(["Female", "Male", "Agender", "Female", "Male", "Bigender", "Male"]),
        "street": pick(["1 Main St", "2 Oak Ave", "3 Elm Way", "4 Pine Rd", "5 Ash Ct",
                        "6 Birch Ln", "7 Cedar Pl"]),
        "city": pick(["Annecy", "Hexi", "Diffa", "Nidek", "Ugep", "Gibara", "Varge Mondar"]),
        "country": pick(["France", "China", "Niger", "Poland", "Nigeria", "Cuba", "Portugal"]),
        "row_time": pa.array(np.full(keys, np.datetime64("2021-01-01T00:00:00", "us")))
        .cast(pa.timestamp("us", tz="UTC")),
    })
    assert base.column_names == SILVER_COLUMNS
    pq.write_table(base, d / "base.parquet", row_group_size=1 << 20)
    (d / "_COMPLETE").write_text("ok\n")
    return d


# ----------------------------------------------------------------------------- workers

CPU: list[float] = []  # process CPU seconds per batch (all threads), next to the latencies

def work_cdc_rs(d: Path, limit: int) -> tuple[float, list[float], pa.Table]:
    import cdc_rs
    from cdc_rs.datasets import SILVER_COLUMNS

    sys.path.insert(0, str(BENCH))
    from contenders.cdc_rs import make_upsert

    target = cdc_rs.MemoryTable()
    t = time.perf_counter()
    base = pq.read_table(d / "base.parquet")
    load = cdc_rs.batch_upsert(target, keys=["customer_id"], sequence_by="row_time",
                               columns=SILVER_COLUMNS)
    load(base, 0)
    del base
    load_s = time.perf_counter() - t
    upsert = make_upsert(pq.read_table(d / "batches" / LOOKUP_FILE), target)
    lat = []
    for i, f in enumerate(sorted((d / "batches").glob("bronze-*.parquet"))[:limit]):
        t, c = time.perf_counter(), time.process_time()
        upsert(cdc_rs.read_parquet(f, columns=["topic", "value"]), i + 1)
        lat.append(time.perf_counter() - t)
        CPU.append(time.process_time() - c)
    return load_s, lat, target.to_arrow()


def work_duckdb(d: Path, limit: int) -> tuple[float, list[float], pa.Table]:
    from contenders import duckdb as c

    t = time.perf_counter()
    con = c.connect(d / "batches" / LOOKUP_FILE, primary_key=True)
    con.execute("INSERT INTO state SELECT *, false FROM read_parquet($p)",
                {"p": str(d / "base.parquet")})
    load_s = time.perf_counter() - t
    lat = []
    for f in sorted((d / "batches").glob("bronze-*.parquet"))[:limit]:
        t, t_cpu = time.perf_counter(), time.process_time()
        c.apply_file(con, f, indexed=True)
        lat.append(time.perf_counter() - t)
        CPU.append(time.process_time() - t_cpu)
    return load_s, lat, c.silver(con)


def work_deltalake(d: Path, limit: int) -> tuple[float, list[float], pa.Table]:
    import shutil

    from contenders import deltalake as c
    from contenders import polars as prep

    path = c.table_dir()
    try:
        t = time.perf_counter()
        base = pq.read_table(d / "base.parquet")
        base = base.append_column("deleted", pa.array(np.zeros(len(base), bool)))
        c.merge(path, base.cast(c.SCHEMA), first=True)
        del base
        load_s = time.perf_counter() - t
        lookup = prep.load_lookup(d / "batches" / LOOKUP_FILE)
        lat = []
        for f in sorted((d / "batches").glob("bronze-*.parquet"))[:limit]:
            t, t_cpu = time.perf_counter(), time.process_time()
            c.merge(path, c.to_arrow(prep.batch_winners(f, lookup)), first=False)
            lat.append(time.perf_counter() - t)
            CPU.append(time.process_time() - t_cpu)
        return load_s, lat, c.silver(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def worker(name: str, d: Path, limit: int, out: Path) -> None:
    load_s, lat, silver = {"cdc_rs": work_cdc_rs, "duckdb": work_duckdb,
                           "deltalake": work_deltalake}[name](d, limit)
    pq.write_table(normalise(silver), out.with_suffix(".parquet"))
    out.with_suffix(".json").write_text(json.dumps({"load": load_s, "latencies": lat, "cpu": CPU}))


# ------------------------------------------------------------------------------- main

def p99(xs: list[float]) -> float:
    return float(np.percentile(np.array(xs), 99, method="higher"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", default="10M")
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--batch-events", default="10k")
    ap.add_argument("--slow-batches", type=int, default=100,
                    help="batches applied by delta-rs (default %(default)s)")
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engine-path", default=None)
    ap.add_argument("--results", default=str(BENCH / "RESULTS.md"))
    ap.add_argument("--worker", nargs=3, metavar=("NAME", "DIR", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        name, d, out = args.worker
        worker(name, Path(d), args.limit, Path(out))
        return 0

    keys, batch_events = parse_size(args.keys), parse_size(args.batch_events)
    DATA.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    d = ensure_data(keys, args.batches, batch_events, args.seed)
    print(f"data {d} ready in {time.perf_counter() - t:.1f}s", flush=True)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    if args.engine_path:
        env["PYTHONPATH"] = os.pathsep.join([args.engine_path, env.get("PYTHONPATH", "")])
    names = [n.strip() for n in args.contenders.split(",")]
    if "cdc_rs" in names:
        names.remove("cdc_rs")
    names.insert(0, "cdc_rs")
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows, expected, limits = [], None, {}
    for name in names:
        limit = min(args.slow_batches, args.batches) if name == "deltalake" else args.batches
        limits[name] = limit
        out = DATA / f"tmp-growth-{name}"
        proc = subprocess.run([sys.executable, __file__, "--worker", name, str(d), str(out),
                               "--limit", str(limit)], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name}: error\n{proc.stderr[-2000:]}", flush=True)
            rows.append({"name": name, "status": "error",
                         "note": (proc.stderr.strip().splitlines() or ["?"])[-1][:300]})
            continue
        got = json.loads(out.with_suffix(".json").read_text())
        silver = pq.read_table(out.with_suffix(".parquet"))
        status, note = "ok", ""
        if name == "cdc_rs":
            expected = silver
        elif expected is not None and limit == args.batches:
            problems = compare(expected, silver)
            if problems:
                status, note = "MISMATCH", "; ".join(problems)
        elif limit != args.batches:
            note = f"only the first {limit} batches (not compared)"
        lat = got["latencies"]
        row = {"name": name, "status": status, "note": note, "load": got["load"],
               "n": len(lat), "median_ms": 1e3 * statistics.median(lat),
               "p99_ms": 1e3 * p99(lat), "max_ms": 1e3 * max(lat),
               "cpu_median_ms": 1e3 * statistics.median(got["cpu"]),
               "cpu_p99_ms": 1e3 * p99(got["cpu"]),
               "rows": silver.num_rows, "latencies": lat, "cpu": got["cpu"]}
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k not in ("latencies", "cpu")}),
              flush=True)
        for suffix in (".json", ".parquet"):
            out.with_suffix(suffix).unlink(missing_ok=True)
    m = machine()
    lines = [
        "## Growth: 10k-event batches into a big table (bench/growth.py)",
        "",
        f"Run {started}; `nproc` = {m['nproc']}, CPU: {m['cpu']}, memory: {m['memory']}.",
        f"Command: `bench/growth.py --keys {args.keys} --batches {args.batches} "
        f"--batch-events {args.batch_events} --slow-batches {args.slow_batches}`.",
        "",
        f"A silver table of {keys:,} keys is loaded (one big batch: \"load s\"), then "
        f"micro-batches of {batch_events:,} bronze events (≈60% customers events, mostly "
        "updates of existing keys) are applied one at a time. Latency per batch = read its "
        "Parquet file + parse + merge (wall); CPU ms = process CPU time of the "
        "same work, all threads (less sensitive to other load on the shared box).",
        "",
        "| contender | status | load s | batches | median ms/batch | p99 ms/batch | max ms | "
        "CPU ms/batch median | CPU ms p99 | rows after |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["status"] == "error":
            lines.append(f"| {r['name']} | **error** | - | - | - | - | - | - | - | - |")
            continue
        st = r["status"] if r["status"] == "ok" else f"**{r['status']}**"
        lines.append(f"| {r['name']} | {st} | {r['load']:.1f} | {r['n']} | "
                     f"{r['median_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | "
                     f"{r['cpu_median_ms']:.1f} | {r['cpu_p99_ms']:.1f} | {r['rows']:,} |")
    notes = [r for r in rows if r.get("note")]
    if notes:
        lines += [""] + [f"- {r['name']}: {r['note']}" for r in notes]
    md = "\n".join(lines) + "\n"
    print(md)
    from run import write_section

    write_section(Path(args.results), md, BEGIN, END)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    (DATA / f"growth-{stamp}.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
