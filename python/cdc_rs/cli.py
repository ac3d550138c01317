"""The ``cdc-rs`` command line (also ``python -m cdc_rs``).

``cdc-rs demo`` runs the reference notebook end to end without Spark: it generates a bronze
bookstore feed (:func:`cdc_rs.datasets.bookstore`), lands it as Parquet micro-batches,
streams them through :func:`cdc_rs.batch_upsert` with the country lookup, writes the
``customers_silver`` table and runs the reference's own check (one row per customer).

``cdc-rs run`` applies a bronze folder (or Delta table) to a Delta silver table with
:func:`cdc_rs.stream`, configured by a TOML file of ``batch_upsert`` options
(:mod:`cdc_rs.config`); kill it at any moment and run it again. Source, target and
checkpoint may be object store URLs (``s3://…``), with the credentials of the ``AWS_*``
environment or the config's ``storage_options``.

Example:
    $ cdc-rs demo --events 200000 --batches 5 --out /tmp/demo
    $ cdc-rs run --source bronze/ --target silver/ --checkpoint chk/ --config pipeline.toml
    $ cdc-rs run --source s3://lake/bronze/ --target s3://lake/silver \\
          --checkpoint s3://lake/_checkpoints/silver --config pipeline.toml
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["main", "build_parser", "run_demo", "DemoResult"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cdc-rs`` (one sub-command per task)."""
    parser = argparse.ArgumentParser(
        prog="cdc-rs",
        description="Change-data-capture upserts, bronze -> silver, with a Rust engine.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"cdc-rs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = commands.add_parser(
        "demo",
        help="generate a bookstore CDC feed and upsert it into customers_silver",
        description="Generate a bronze bookstore feed, land it as Parquet micro-batches, "
        "stream them through batch_upsert (with the country lookup) into customers_silver, "
        "print the per-batch reports and run the reference notebook's unit test.",
    )
    demo.add_argument("--events", type=positive_count, default=1_000_000,
                      help="bronze events to generate (default: %(default)s)")
    demo.add_argument("--batches", type=positive_count, default=10,
                      help="micro-batches (default: %(default)s)")
    demo.add_argument("--out", type=Path, default=Path("out/demo"),
                      help="output directory (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(func=_demo_command)
    run = commands.add_parser(
        "run",
        help="stream a bronze folder (or Delta table) into a Delta silver table",
        description="Apply every bronze file (or Delta version) the checkpoint has not "
        "committed to a Delta silver table, one atomic commit per micro-batch, then stop "
        "(Spark's trigger(availableNow=True)). Safe to kill and re-run. Source, target and "
        "checkpoint may be object store URLs (s3://bucket/prefix, also gs://, az://, "
        "abfss://); credentials and endpoint come from the environment (AWS_ACCESS_KEY_ID, "
        "AWS_REGION, AWS_ENDPOINT_URL…) or from storage_options in the config's [stream] "
        "(source and checkpoint) and [target] tables.",
    )
    run.add_argument("--source", required=True,
                     help="folder of bronze Parquet / JSON-lines files, or a Delta table "
                     "(delta://PATH or a folder with _delta_log); local or s3://…")
    run.add_argument("--target", required=True,
                     help="Delta silver table: a folder or an s3://… URL")
    run.add_argument("--checkpoint", required=True,
                     help="checkpoint folder: local or s3://…")
    run.add_argument("--config", required=True, type=Path,
                     help="pipeline config (TOML; YAML with PyYAML): batch_upsert options")
    run.add_argument("--pattern", default=None, help="file-name pattern of bronze files")
    run.add_argument("--max-rows-per-batch", type=positive_count, default=None,
                     help="cut files into micro-batches of at most this many rows")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=_run_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cdc-rs`` console script.

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 1 when the demo's unit test fails or ``run`` fails.
    """
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


@dataclass
class DemoResult:
    """What :func:`run_demo` did.

    Attributes:
        reports: one row per micro-batch (the :class:`cdc_rs.BatchReport` counters).
        silver_rows: rows in ``customers_silver``.
        distinct_customers: distinct ``customer_id`` values in it.
        timings: wall seconds per stage (``generate``, ``write bronze``, ``read + upsert``,
            ``write silver``).
        engine_seconds: time spent inside ``batch_upsert`` calls (sum of ``report.seconds``).
        events: bronze events processed.
        paths: files written (``bronze``, ``silver``, ``rejected``).
    """

    reports: pa.Table
    silver_rows: int
    distinct_customers: int
    timings: dict[str, float]
    engine_seconds: float
    events: int
    paths: dict[str, Path]

    @property
    def passed(self) -> bool:
        """The reference's check: one silver row per customer id."""
        return self.silver_rows == self.distinct_customers


def run_demo(events: int = 1_000_000, batches: int = 10, out: str | Path = "out/demo",
             seed: int = 0, progress: bool = True) -> DemoResult:
    """Run the demo pipeline and return its reports (printing nothing but the progress bar).

    Args:
        events: bronze events to generate.
        batches: number of micro-batches.
        out: output directory; gets ``bronze/`` (Parquet micro-batches and the country
            lookup), the Delta table ``customers_silver/`` (written one commit per batch by
            :func:`cdc_rs.stream`, checkpoint in ``_checkpoints/``), a copy of it as
            ``customers_silver.parquet`` and, if any row was rejected,
            ``rejected.parquet`` (the rejected bronze rows with ``reason`` and ``batch_id``).
        seed: seed of the generated data.
        progress: show a tqdm progress bar (on stderr).

    Returns:
        A :class:`DemoResult`.
    """
    import cdc_rs
    from cdc_rs.datasets import (CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore,
                                 read_country_lookup)

    out = Path(out)
    timings: dict[str, float] = {}
    with _timed(timings, "generate"):
        data = bookstore(events=events, batches=batches, seed=seed)
    with _timed(timings, "write bronze"):
        bronze_dir = out / "bronze"
        data.write_parquet(bronze_dir)

    import shutil

    from cdc_rs.delta import DeltaTarget
    from cdc_rs.sources import FolderSource
    from cdc_rs.streaming import stream

    paths = {"bronze": bronze_dir, "silver": out / "customers_silver.parquet",
             "rejected": out / "rejected.parquet", "delta": out / "customers_silver",
             "checkpoint": out / "_checkpoints" / "customers_silver"}
    for fresh in (paths["delta"], paths["checkpoint"]):  # the demo regenerates everything
        shutil.rmtree(fresh, ignore_errors=True)
    target = DeltaTarget(paths["delta"])
    upsert = cdc_rs.batch_upsert(
        target, keys=["customer_id"], sequence_by="row_time",
        value_schema=CUSTOMERS_SCHEMA, topic="customers", operation_column="row_status",
        upsert_operations=("insert", "update"), delete_operations=("delete",),
        lookup=read_country_lookup(bronze_dir), lookup_on={"country_code": "code"},
        lookup_how="inner", columns=SILVER_COLUMNS)
    with _timed(timings, "read + upsert"):
        streamed = stream(FolderSource(bronze_dir, pattern="bronze-*.parquet"), upsert,
                          checkpoint=paths["checkpoint"], progress=progress)
    reports = [cdc_rs.BatchReport(**{k: v for k, v in r.to_dict().items()
                                     if k not in ("source", "quarantined")}) for r in streamed]
    rejected = [r.rejected.append_column(
        "batch_id", pa.array(np.full(r.rejected.num_rows, r.batch_id, dtype=np.int64)))
        for r in streamed if r.rejected.num_rows]

    with _timed(timings, "write silver"):
        silver = target.to_arrow()
        pq.write_table(silver, paths["silver"])
        paths["rejected"].unlink(missing_ok=True)
        if rejected:
            pq.write_table(pa.concat_tables(rejected, promote_options="permissive"),
                           paths["rejected"])
    distinct = pc.count_distinct(silver.column("customer_id"), mode="all").as_py()
    return DemoResult(reports=cdc_rs.reports_to_arrow(reports), silver_rows=silver.num_rows,
                      distinct_customers=distinct, timings=timings,
                      engine_seconds=sum(r.seconds for r in reports), events=events,
                      paths=paths)


def _demo_command(args: argparse.Namespace) -> int:
    print(f"cdc-rs demo: {args.events:,} events in {args.batches} micro-batches "
          f"(seed {args.seed}) -> {args.out}")
    result = run_demo(events=args.events, batches=args.batches, out=args.out, seed=args.seed,
                      progress=not args.no_progress)
    print()
    print("Per-batch reports:")
    print(format_reports(result.reports))
    for line in (format_rejects(result.reports), format_warnings(result.reports)):
        if line:
            print(line)
    print()
    print(format_timings(result))
    print()
    paths = result.paths
    files = [("bronze", "/", "the bronze Parquet micro-batches and _country_lookup.parquet"),
             ("delta", "/", "customers_silver, the Delta table (one commit per batch)"),
             ("silver", "", "customers_silver as one Parquet file")]
    if paths["rejected"].exists():
        files.append(("rejected", "", "the rejected rows, with reason and batch_id"))
    print(f"Files in {args.out}:")
    for key, slash, what in files:
        print(f"  {paths[key].name + slash:<26} {what}")
    print(f"customers_silver: {result.silver_rows:,} rows, "
          f"{result.distinct_customers:,} distinct customer_id")
    # The reference notebook's last cell.
    if not result.passed:
        print("Unit test failed", file=sys.stderr)
        return 1
    print("Unit test passed")
    return 0


def _run_command(args: argparse.Namespace) -> int:
    import cdc_rs
    from cdc_rs.config import load_config
    from cdc_rs.sources import open_source
    from cdc_rs.streaming import stream

    try:
        config = load_config(args.config)
        options = dict(config.stream)
        pattern = args.pattern or options.pop("pattern", "*")
        options.pop("pattern", None)
        if args.max_rows_per_batch is not None:
            options["max_rows_per_batch"] = args.max_rows_per_batch
        upsert = config.build(args.target)
        source = open_source(args.source, pattern=pattern,
                             storage_options=options.get("storage_options"))
        print(f"cdc-rs run: {args.source} -> {args.target} (checkpoint {args.checkpoint})")
        started = time.perf_counter()
        reports = stream(source, upsert, checkpoint=args.checkpoint,
                         progress=not args.no_progress, **options)
    except cdc_rs.CdcError as exc:
        print(f"cdc-rs run: error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    if not reports:
        print("nothing new to apply")
    else:
        print()
        print("Per-batch reports:")
        table = cdc_rs.reports_to_arrow(reports)
        print(format_reports(table))
        for line in (format_rejects(table), format_warnings(table)):
            if line:
                print(line)
    quarantined = sum(r.quarantined for r in reports)
    if quarantined:
        print(f"{quarantined:,} unparseable lines quarantined in "
              f"{_subfolder(args.checkpoint, 'quarantine')}")
    print(f"{len(reports)} batches in {seconds:.2f} s; {args.target}: {len(upsert.target):,} rows, "
          f"last batch {upsert.target.last_batch_id}")
    return 0


def _subfolder(folder: str, name: str) -> str:
    """``folder/name`` for a local path (as before) or an object store URL."""
    return f"{folder.rstrip('/')}/{name}" if "://" in folder else str(Path(folder) / name)


#: Why a row is quarantined (into ``BatchReport.rejected``): one ``rejected`` column.
REJECT_REASONS = ("malformed", "null_keys", "null_sequences", "lookup_misses")
#: Rows deliberately left alone (not this table's topic, ``where=`` or operation): one
#: ``skipped`` column.
SKIP_REASONS = ("other_topics", "filtered_out", "ignored_operations")
#: Columns shown only when some batch has them.
_SHOWN_IF_ANY = ("skipped", "rejected", "superseded", "tombstoned", "stale", "skipped_replay")
#: Two-line headers keep the table within 100 columns.
_HEADERS = {"rows_in": ("rows", "in"), "superseded": ("super-", "seded"),
            "tombstoned": ("tomb-", "stoned"), "skipped_replay": ("replay", "skipped")}


def format_reports(reports: pa.Table) -> str:
    """The per-batch reports as a compact text table (fits 100 columns), with a ``total`` row.

    The reasons a row is quarantined are one ``rejected`` column and the rows left alone
    (other topics, filtered out by ``where=``, ignored operations) one ``skipped`` column;
    :func:`format_rejects` lists them by reason. Outcomes no batch had are left out, and so
    are the warnings (see :func:`format_warnings`).

    Example:
        >>> t = pa.table({"batch_id": [0, 1], "rows_in": [10, 12], "malformed": [1, 0],
        ...               "lookup_misses": [0, 2], "inserted": [9, 10], "seconds": [0.5, 0.25]})
        >>> print(format_reports(t))
        batch  rows  rejected  inserted  seconds
                 in                             
        0        10         1         9    0.500
        1        12         2        10    0.250
        total    22         3        19    0.750
    """
    merged_into = {**{p: "skipped" for p in SKIP_REASONS}, **{p: "rejected" for p in REJECT_REASONS}}
    batches = [str(b) for b in reports.column("batch_id").to_pylist()]
    data: dict[str, list[Any]] = {}
    for name in reports.column_names:
        if name in ("batch_id", "warning", "source"):
            continue
        values = [int(x) if isinstance(x, bool) else x for x in reports.column(name).to_pylist()]
        column = merged_into.get(name, name)  # in the place of the first of its parts
        data[column] = [a + b for a, b in zip(data[column], values)] if column in data else values
    data = {k: v for k, v in data.items() if k not in _SHOWN_IF_ANY or any(v)}

    def cell(x: object) -> str:
        return f"{x:.3f}" if isinstance(x, float) else str(x)

    columns = [[cell(x) for x in values] + [cell(sum(values))] for values in data.values()]
    headers = [_HEADERS.get(name, (name, "")) for name in data]
    label = batches + ["total"]
    label_width = max(len("batch"), *map(len, label))
    widths = [max(len(h[0]), len(h[1]), *map(len, col)) for h, col in zip(headers, columns)]
    lines = ["  ".join([("batch", "")[line].ljust(label_width)]
                       + [h[line].rjust(w) for h, w in zip(headers, widths)])
             for line in (0, 1)]
    for i, name in enumerate(label):
        lines.append("  ".join([name.ljust(label_width)]
                               + [col[i].rjust(w) for col, w in zip(columns, widths)]))
    return "\n".join(lines)


def format_rejects(reports: pa.Table) -> str:
    """The rejected and skipped rows of all batches by reason, a line each ("" if none).

    Example:
        >>> print(format_rejects(pa.table({"malformed": [1, 2], "lookup_misses": [0, 4]})))
        rejected rows: 3 malformed, 4 lookup_misses
    """
    lines = []
    for what, reasons in (("rejected", REJECT_REASONS), ("skipped", SKIP_REASONS)):
        counts = [(name, sum(reports.column(name).to_pylist()))
                  for name in reasons if name in reports.column_names]
        listed = ", ".join(f"{n:,} {name}" for name, n in counts if n)
        if listed:
            lines.append(f"{what} rows: {listed}")
    return "\n".join(lines)


def format_warnings(reports: pa.Table) -> str:
    """The batches' warnings, a line each ("" when there are none)."""
    if "warning" not in reports.column_names:
        return ""
    rows = zip(reports.column("batch_id").to_pylist(), reports.column("warning").to_pylist())
    return "\n".join(f"batch {batch_id}: warning: {w}" for batch_id, w in rows if w)


def format_timings(result: DemoResult) -> str:
    """Seconds and events/s per stage of the demo, as a text table."""
    import pandas as pd

    stages = list(result.timings.items())
    at = [name for name, _ in stages].index("read + upsert") + 1 if "read + upsert" in \
        result.timings else len(stages)
    stages.insert(at, ("  of which batch_upsert", result.engine_seconds))
    stages.append(("total", sum(result.timings.values())))
    rows = [(stage, s, result.events / s if s > 0 else float("nan")) for stage, s in stages]
    df = pd.DataFrame(rows, columns=["stage", "seconds", "events/s"]).set_index("stage")
    text: str = df.to_string(formatters={"seconds": "{:.2f}".format, "events/s": "{:,.0f}".format})
    return text


class _timed:
    """``with _timed(timings, "stage"):`` records the block's wall time."""

    def __init__(self, timings: dict[str, float], stage: str) -> None:
        self.timings, self.stage = timings, stage

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self.stage] = time.perf_counter() - self.start


def positive_count(text: str) -> int:
    """A count written as people write them: ``1000000``, ``1_000_000``, ``1e6``, ``1M``, ``200k``."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(cleaned[-1:].lower(), 1)
    number = cleaned[:-1] if scale > 1 else cleaned
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a count (write e.g. 1000000, 1_000_000, 1e6 or 1M)") from None
    if value * scale != int(value * scale) or value * scale < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(value * scale)
