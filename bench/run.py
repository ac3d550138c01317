"""Benchmark: the reference CDC pipeline in cdc_rs vs polars, DuckDB, delta-rs, pandas, PySpark.

    ./dev bench                                   # quick: 100k,1M events, 1 and 10 batches
    ./dev bench --sizes 100k,1M,5M --batches 1,10 --repeat 3
    .venv/bin/python bench/run.py --contenders cdc_rs,polars --sizes 100k

Data: ``cdc_rs.datasets.bookstore(events=N, batches=B, seed=S)`` written once as Parquet (one
file per micro-batch) under ``bench/data/``; every contender reads the same files. Each run
of each contender is a fresh subprocess (``bench/worker.py``); its wall time covers reading
the Parquet files through to the final silver table as a pyarrow Table (the Spark session
start is excluded and reported apart). Peak RSS is the peak of the summed RSS of the
process tree (the Spark JVM included), sampled every 20 ms from the start of the process
until the run returns (not while the harness then normalises the result). Every contender's silver table is
compared with cdc_rs's; a contender that disagrees is reported as MISMATCH (not timed as a
valid result).

Writes the results between markers in ``bench/RESULTS.md``, a plot to ``bench/results.png``
and the raw figures to ``bench/data/results-*.json``.
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

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow.parquet as pq  # noqa: E402

from common import (BENCH, DATA, compare, ensure_dataset, machine, parse_size,  # noqa: E402
                    size_label)
from contenders import NAMES  # noqa: E402

PY = sys.executable
BEGIN, END = "<!-- bench/run.py: begin -->", "<!-- bench/run.py: end -->"


def run_tree(cmd: list[str], env: dict[str, str], timeout: float,
             done: Path | None = None) -> tuple[int, float, str]:
    """Run ``cmd``; returns (exit code, peak summed RSS of its process tree in bytes, stderr tail).

    The peak stops counting once ``done`` exists: the worker makes it when the contender's
    run returns, so the harness's own check of the result is not charged to the contender.
    """
    err_path = DATA / f"tmp-stderr-{os.getpid()}.log"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        root = psutil.Process(proc.pid)
        peak = 0
        started = time.monotonic()
        while proc.poll() is None:
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                procs = []
            if done is None or not done.exists():
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak = max(peak, total)
            if time.monotonic() - started > timeout:
                for p in reversed(procs):
                    try:
                        p.kill()
                    except psutil.Error:
                        pass
                proc.wait()
                break
            time.sleep(0.02)
    tail = err_path.read_text(errors="replace")[-2000:]
    err_path.unlink(missing_ok=True)
    return proc.returncode, peak, tail


def engine_info(env: dict[str, str]) -> dict[str, str]:
    code = ("import cdc_rs, cdc_rs._cdc_rs as m, os, json; "
            "print(json.dumps({'file': m.__file__, 'size_mb': round(os.path.getsize(m.__file__)/2**20, 1),"
            " 'mtime': os.path.getmtime(m.__file__), 'version': cdc_rs.__version__}))")
    out = subprocess.run([PY, "-c", code], env=env, capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    # Relative to the checkout: committed results carry no machine paths.
    info["file"] = os.path.relpath(info["file"], BENCH.parent)
    info["mtime"] = dt.datetime.fromtimestamp(info["mtime"], dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100k,1M", help="events per data set (default %(default)s)")
    ap.add_argument("--batches", default="1,10", help="micro-batches (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per contender (median)")
    ap.add_argument("--spark-repeat", type=int, default=None,
                    help="runs of PySpark (default: --repeat; it is slow)")
    ap.add_argument("--contenders", default=",".join(NAMES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    ap.add_argument("--engine-path", default=None,
                    help="directory put first on PYTHONPATH to pick a cdc_rs build "
                         "(e.g. an unpacked release wheel)")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--results", default=str(BENCH / "RESULTS.md"))
    ap.add_argument("--plot", default=str(BENCH / "results.png"))
    ap.add_argument("--render", default=None,
                    help="only re-render RESULTS.md and the plot from saved results-*.json "
                         "files (comma-separated; their cases are concatenated)")
    args = ap.parse_args(argv)
    if args.render:
        saved = [json.loads(Path(p).read_text()) for p in args.render.split(",")]
        info = dict(saved[0]["info"])
        info["finished"] = saved[-1]["info"]["finished"]
        info["load_end"] = saved[-1]["info"].get("load_end", float("nan"))
        info["commands"] = [s["info"]["args"] for s in saved]
        results: list[dict] = []
        for case in (c for s in saved for c in s["results"]):
            same = [r for r in results
                    if (r["events"], r["batches"]) == (case["events"], case["batches"])]
            if not same:
                results.append(case)
                continue
            # A later run of the same case adds its other contenders; their ratios stay
            # relative to the cdc_rs of their own run.
            own = case["contenders"].get("cdc_rs", {})
            for name, entry in case["contenders"].items():
                if name not in same[0]["contenders"]:
                    entry = dict(entry, baseline=own.get("seconds"),
                                 baseline_cpu=own.get("cpu_seconds"))
                    same[0]["contenders"][name] = entry
            if "floor" in case:
                same[0].setdefault("floor", case["floor"])
        names = [n for n in NAMES if any(n in c["contenders"] for c in results)]
        md = render(info, results, names)
        print(md)
        write_section(Path(args.results), md, BEGIN, END)
        plot(results, names, Path(args.plot))
        return 0

    sizes = [parse_size(s) for s in args.sizes.split(",")]
    batch_counts = [int(b) for b in args.batches.split(",")]
    contenders = [c.strip() for c in args.contenders.split(",")]
    if "cdc_rs" not in contenders:
        contenders.insert(0, "cdc_rs")
    contenders.sort(key=lambda c: (c != "cdc_rs", NAMES.index(c) if c in NAMES else 99))
    env = dict(os.environ, PYSPARK_PYTHON=PY, PYSPARK_DRIVER_PYTHON=PY, PYTHONWARNINGS="ignore")
    if args.engine_path:
        env["PYTHONPATH"] = os.pathsep.join([args.engine_path, env.get("PYTHONPATH", "")])
    DATA.mkdir(parents=True, exist_ok=True)
    info = {"machine": machine(), "engine": engine_info(env), "args": vars(args),
            "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "load_start": os.getloadavg()[0]}
    print(f"machine: {info['machine']}\nengine: {info['engine']}", flush=True)
    if info["engine"]["size_mb"] > 150:
        # A release build (thin LTO, debug=1) is ~60 MB; the dev profile's is ~220 MB.
        info["engine"]["warning"] = "looks like a debug build: timings are meaningless"
        print("WARNING: the cdc_rs extension looks like a debug build (> 150 MB); rebuild with "
              "`maturin develop --release` or pass --engine-path", file=sys.stderr, flush=True)

    results = []
    for events in sizes:
        for batches in batch_counts:
            d = ensure_dataset(events, batches, args.seed)
            case = {"events": events, "batches": batches, "contenders": {}}
            results.append(case)
            if not args.no_floor:
                out = subprocess.run([PY, str(BENCH / "floor.py"), str(d), str(args.repeat)],
                                     env=env, capture_output=True, text=True)
                if out.returncode == 0:
                    case["floor"] = json.loads(out.stdout.strip().splitlines()[-1])
                else:
                    print(out.stderr[-2000:], file=sys.stderr)
            expected = None
            for name in contenders:
                reps = args.spark_repeat if (name == "pyspark" and args.spark_repeat) else args.repeat
                secs, setups, rss, cpus, status, note = [], [], [], [], "ok", ""
                for r in range(reps):
                    prefix = DATA / f"tmp-{name}-{size_label(events)}-b{batches}-{r}"
                    done = prefix.with_suffix(".done")
                    code, peak, tail = run_tree(
                        [PY, str(BENCH / "worker.py"), name, str(d), str(prefix)], env,
                        args.timeout, done)
                    done.unlink(missing_ok=True)
                    if code != 0:
                        status, note = "error", tail.strip().splitlines()[-1:] or ["?"]
                        note = note[0][:300]
                        break
                    got = json.loads(prefix.with_suffix(".json").read_text())
                    silver = pq.read_table(prefix.with_suffix(".parquet"))
                    prefix.with_suffix(".json").unlink()
                    prefix.with_suffix(".parquet").unlink()
                    if name == "cdc_rs" and expected is None:
                        expected = silver
                    elif expected is not None and r == 0:
                        problems = compare(expected, silver)
                        if problems:
                            status, note = "MISMATCH", "; ".join(problems)
                    secs.append(got["seconds"])
                    setups.append(got["setup_seconds"])
                    cpus.append(got.get("cpu_seconds", float("nan")))
                    rss.append(peak)
                    if status != "ok":
                        break
                entry = {"status": status, "note": note, "runs": secs, "rss": rss,
                         "setup": setups, "cpu": cpus}
                if secs:
                    entry["seconds"] = statistics.median(secs)
                    entry["events_per_s"] = events / entry["seconds"]
                    entry["peak_rss_mb"] = max(rss) / 2**20
                entry["cpu_seconds"] = statistics.median(cpus)
                case["contenders"][name] = entry
                shown = f"{entry.get('seconds', float('nan')):.3f}s" if secs else "-"
                print(f"{size_label(events):>5} x{batches:<3} {name:<10} {status:<8} {shown} "
                      f"{note[:200]}", flush=True)
    info["finished"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    info["load_end"] = os.getloadavg()[0]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    (DATA / f"results-{stamp}.json").write_text(json.dumps({"info": info, "results": results},
                                                           indent=1))
    md = render(info, results, contenders)
    print(md)
    write_section(Path(args.results), md, BEGIN, END)
    plot(results, contenders, Path(args.plot))
    return 0


def render(info: dict, results: list[dict], contenders: list[str]) -> str:
    m, e, a = info["machine"], info["engine"], info["args"]
    commands = info.get("commands", [a])
    command = "; ".join(
        f"`bench/run.py --sizes {c['sizes']} --batches {c['batches']} --repeat {c['repeat']}"
        + (f" --spark-repeat {c['spark_repeat']}" if c.get("spark_repeat") else "")
        + (f" --contenders {c['contenders']}" if c.get("contenders") != ",".join(NAMES) else "")
        + "`" for c in commands)
    lines = [
        "## End to end (bench/run.py)",
        "",
        f"Run {info['started']} – {info['finished']}; `nproc` = {m['nproc']}, CPU: {m['cpu']}, "
        f"memory: {m['memory']}, Python {m['python']}, kernel {m['kernel']}; 1-min load "
        f"average {info.get('load_start', float('nan')):.1f} at the start, "
        f"{info.get('load_end', float('nan')):.1f} at the end"
        + (" (the box is shared: other work ran meanwhile)."
           if max(info.get("load_start", 0), info.get("load_end", 0)) > 3 else "."),
        f"Engine: `{e['file']}` ({e['size_mb']} MB, built {e['mtime']}), cdc_rs {e['version']}"
        + (f" — **{e['warning']}**." if e.get("warning") else "."),
        f"Command: {command}.",
        "",
        "Wall time: median over the runs, from reading the Parquet micro-batches to the final "
        "silver table (Spark session start excluded). Peak RSS: the whole process tree "
        "(interpreter, libraries, data; the JVM for PySpark), from its start until the run "
        "returns. × cdc_rs: contender time / "
        "cdc_rs time in the same run (higher = cdc_rs faster). CPU s: user+system CPU time of "
        "the contender's Python process during the run (median; less sensitive to other load "
        "on the box; for PySpark it leaves out the JVM, so it is not comparable).",
        "",
        "| events | batches | contender | status | runs | wall s (median) | events/s | "
        "peak RSS MB | × cdc_rs | CPU s | CPU × cdc_rs |",
        "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in results:
        base0 = case["contenders"].get("cdc_rs", {}).get("seconds")
        base_cpu0 = case["contenders"].get("cdc_rs", {}).get("cpu_seconds")
        for name in contenders:
            c = case["contenders"].get(name)
            if c is None:
                continue
            if "seconds" in c:
                base = c.get("baseline", base0)
                base_cpu = c.get("baseline_cpu", base_cpu0)
                ratio = f"{c['seconds'] / base:.1f}×" if base else "-"
                if "baseline" in c:
                    ratio += f" (vs cdc_rs {base:.1f} s in its own run)"
                cpu = c.get("cpu_seconds", float("nan"))
                if name == "pyspark":
                    cpu = float("nan")  # the JVM's CPU time is not in it
                cpu_ratio = (f"{cpu / base_cpu:.1f}×" if base_cpu and base_cpu == base_cpu and cpu == cpu
                             else "-")
                row = (f"{len(c['runs'])} | {c['seconds']:.3f} | {c['events_per_s']:,.0f} | "
                       f"{c['peak_rss_mb']:,.0f} | {ratio} | "
                       + (f"{cpu:.2f}" if cpu == cpu else "-") + f" | {cpu_ratio}")
            else:
                row = "0 | - | - | - | - | - | -"
            status = c["status"] if c["status"] == "ok" else f"**{c['status']}**"
            lines.append(f"| {size_label(case['events'])} | {case['batches']} | {name} | "
                         f"{status} | {row} |")
    notes = [(case, n, c["note"]) for case in results for n, c in case["contenders"].items()
             if c["status"] != "ok"]
    if notes:
        lines += ["", "Contenders that failed or disagreed with cdc_rs:", ""]
        lines += [f"- {size_label(case['events'])} × {case['batches']} {n}: {note}"
                  for case, n, note in notes]
    spark = [(case, case["contenders"]["pyspark"]) for case in results
             if "pyspark" in case["contenders"] and case["contenders"]["pyspark"].get("setup")]
    if spark:
        s = statistics.median(x for _, c in spark for x in c["setup"])
        lines += ["", f"PySpark session start (excluded above): {s:.1f} s median."]
    floors = [case for case in results if "floor" in case]
    if floors:
        lines += [
            "",
            "### Floor on the same data",
            "",
            "`read`: pyarrow `read_table` / `cdc_rs.read_parquet` (view arrays) read `topic` and "
            "`value` of every micro-batch file, one file at a time. JSON: the "
            "customers values alone (valid objects only, in memory), parsed by DuckDB "
            "`json_transform` (all fields VARCHAR), polars `str.json_decode` (all String), "
            "and `cdc_rs.from_json` with `CUSTOMERS_SCHEMA` (row_time parsed to a timestamp). "
            "Each is the median of at least 7 runs in one process (polars: of `--repeat`), "
            "so warm: thread pools started and memory already faulted in by the earlier runs. "
            "MB/s = value bytes / time. Floor = the faster read + the fastest of the three parses; "
            "÷ floor = cdc_rs end to end / floor (the target is ≤ 2).",
            "",
            "| events | batches | read s (pyarrow / cdc_rs) | customers values | MB | cdc_rs.from_json s (MB/s) | "
            "DuckDB json_transform s (MB/s) | polars json_decode s (MB/s) | floor s | "
            "cdc_rs end to end s | ÷ floor |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for case in floors:
            f = case["floor"]
            mb = f["json_bytes"] / 1e6
            e2e = case["contenders"].get("cdc_rs", {}).get("seconds")
            cell = lambda k: f"{f[k]:.3f} ({mb / f[k]:,.0f})"  # noqa: E731
            read = min(f["read"], f.get("read_cdc_rs", f["read"]))
            floor = read + min(f["json_cdc_rs"], f["json_duckdb"], f["json_polars"])
            reads = f"{f['read']:.3f} / " + (f"{f['read_cdc_rs']:.3f}" if "read_cdc_rs" in f else "–")
            lines.append(
                f"| {size_label(case['events'])} | {case['batches']} | {reads} | "
                f"{f['json_values']:,} | {mb:,.1f} | {cell('json_cdc_rs')} | "
                f"{cell('json_duckdb')} | {cell('json_polars')} | {floor:.3f} | "
                + (f"{e2e:.3f} | {e2e / floor:.2f}" if e2e else "- | -") + " |")
        firsts = [case for case in floors if "first_read" in case["floor"]]
        if firsts:
            lines += [
                "",
                "The same floor as the first call in a fresh process (median over fresh "
                "processes; data prepared untimed), the conditions each end-to-end run above "
                "is timed in: a fresh worker process whose first call is the pipeline, so it "
                "pays for starting thread pools and faulting in fresh memory as these do.",
                "",
                "| events | batches | read s (pyarrow / cdc_rs) | JSON s (cdc_rs / DuckDB) | "
                "first-call floor s | cdc_rs end to end s | ÷ first-call floor |",
                "|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for case in firsts:
                f = case["floor"]
                e2e = case["contenders"].get("cdc_rs", {}).get("seconds")
                floor = (min(f["first_read"], f["first_read_cdc_rs"])
                         + min(f["first_json_cdc_rs"], f["first_json_duckdb"]))
                lines.append(
                    f"| {size_label(case['events'])} | {case['batches']} | "
                    f"{f['first_read']:.3f} / {f['first_read_cdc_rs']:.3f} | "
                    f"{f['first_json_cdc_rs']:.3f} / {f['first_json_duckdb']:.3f} | {floor:.3f} | "
                    + (f"{e2e:.3f} | {e2e / floor:.2f}" if e2e else "- | -") + " |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, body: str, begin: str, end: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    block = f"{begin}\n{body}{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def plot(results: list[dict], contenders: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for c in results if c["contenders"]]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cases) + 3), 4.5))
    width = 0.8 / max(1, len(contenders))
    for j, name in enumerate(contenders):
        xs, ys = [], []
        for i, case in enumerate(cases):
            c = case["contenders"].get(name)
            if c and c["status"] == "ok" and "events_per_s" in c:
                xs.append(i + (j - (len(contenders) - 1) / 2) * width)
                ys.append(c["events_per_s"])
        ax.bar(xs, ys, width, label=name)
    ax.set_yscale("log")
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([f"{size_label(c['events'])} events\n{c['batches']} batch"
                        + ("es" if c["batches"] > 1 else "") for c in cases])
    ax.set_ylabel("events/s (log scale, higher is better)")
    ax.set_title("Bronze → silver CDC pipeline, end to end (wall time; 2-core VM, "
                 "conditions in RESULTS.md)", fontsize=10)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, ncols=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
