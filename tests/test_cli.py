"""Tests of the ``cdc-rs`` command line (``python -m cdc_rs``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from cdc_rs.cli import build_parser, format_reports, main
from cdc_rs.datasets import SILVER_COLUMNS, read_parquet_batches


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "cdc_rs", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("demo")
    return _run("demo", "--events", "20000", "--batches", "3", "--out", str(out)), out


def test_demo_exits_zero_and_passes(demo):
    proc, _ = demo
    assert proc.returncode == 0, proc.stderr
    assert "Unit test passed" in proc.stdout
    assert "Unit test failed" not in proc.stdout + proc.stderr


def test_demo_writes_bronze_and_silver(demo):
    _, out = demo
    bronze = read_parquet_batches(out / "bronze")
    assert len(bronze) == 3 and sum(len(b) for b in bronze) == 20_000
    assert (out / "bronze" / "_country_lookup.parquet").exists()
    silver = pq.read_table(out / "customers_silver.parquet")
    assert silver.column_names == SILVER_COLUMNS
    assert 0 < silver.num_rows <= 2_000
    assert pc.count_distinct(silver["customer_id"]).as_py() == silver.num_rows
    assert silver["country"].null_count == 0
    rejected = pq.read_table(out / "rejected.parquet")
    assert "reason" in rejected.column_names and rejected.num_rows > 0


def test_demo_prints_report_table(demo):
    proc, out_dir = demo
    out = proc.stdout
    for column in ("rows", "inserted", "updated", "deleted", "rejected", "stale", "events/s",
                   "malformed", "lookup_misses", "other_topics"):
        assert column in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("batch "))
    assert [line.split()[0] for line in lines[header + 2: header + 6]] == ["0", "1", "2", "total"]
    total = lines[header + 5].split()
    assert int(total[1]) == 20_000  # rows_in of all batches
    assert "20,000 events" in out or "20000" in out


def test_demo_output_fits_100_columns_and_says_where_its_files_are(demo):
    proc, out_dir = demo
    lines = proc.stdout.splitlines()
    # every line but the one naming the output folder (whose length is the user's)
    too_wide = [line for line in lines if len(line) > 100 and str(out_dir) not in line]
    assert not too_wide, too_wide
    at = lines.index(f"Files in {out_dir}:")
    listed = [line.split()[0] for line in lines[at + 1: at + 5]]
    assert listed == ["bronze/", "customers_silver/", "customers_silver.parquet", "rejected.parquet"]
    assert all((out_dir / name).exists() for name in listed)


def test_demo_is_deterministic(demo, tmp_path):
    _, out = demo
    proc = _run("demo", "--events", "20000", "--batches", "3", "--out", str(tmp_path),
                "--no-progress")
    assert proc.returncode == 0, proc.stderr
    a = pq.read_table(out / "customers_silver.parquet").sort_by("customer_id")
    b = pq.read_table(tmp_path / "customers_silver.parquet").sort_by("customer_id")
    assert a.equals(b)


def test_help_lists_demo():
    proc = _run("--help", timeout=60)
    assert proc.returncode == 0 and "demo" in proc.stdout
    proc = _run("demo", "--help", timeout=60)
    assert proc.returncode == 0
    for option in ("--events", "--batches", "--out", "--seed"):
        assert option in proc.stdout


def test_defaults():
    args = build_parser().parse_args(["demo"])
    assert (args.events, args.batches, args.out, args.seed) == (1_000_000, 10, Path("out/demo"), 0)


@pytest.mark.parametrize("argv", [[], ["demo", "--events", "0"], ["demo", "--batches", "x"],
                                  ["nope"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_main_in_process(tmp_path, capsys):
    code = main(["demo", "--events", "3000", "--batches", "2", "--out", str(tmp_path),
                 "--no-progress", "--seed", "4"])
    assert code == 0
    assert "Unit test passed" in capsys.readouterr().out


def test_failed_unit_test_exits_1(monkeypatch, tmp_path, capsys):
    import cdc_rs.cli as cli

    real = cli.run_demo

    def duplicated(**kwargs):
        result = real(**kwargs)
        result.silver_rows += 1  # as if a customer had two rows
        return result

    monkeypatch.setattr(cli, "run_demo", duplicated)
    code = main(["demo", "--events", "2000", "--batches", "2", "--no-progress",
                 "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert "Unit test failed" in captured.err and "Unit test passed" not in captured.out


def test_format_reports_total_row():
    t = pa.table({"batch_id": [0, 1], "rows_in": [5, 7], "skipped_replay": [False, True],
                  "seconds": [0.5, 0.25]})
    lines = format_reports(t).splitlines()
    assert lines[-1].split() == ["total", "12", "1", "0.750"]


def test_format_reports_merges_rejects_and_skips_and_leaves_out_what_never_happened():
    t = pa.table({"batch_id": [0, 1], "rows_in": [10_000_000, 7], "other_topics": [3, 0],
                  "ignored_operations": [0, 1], "malformed": [1, 0], "null_keys": [0, 2],
                  "lookup_misses": [0, 0], "superseded": [0, 0], "inserted": [9_999_995, 4],
                  "stale": [0, 0], "skipped_replay": [False, False], "seconds": [12.5, 0.25],
                  "warning": ["", "none of the batch's rows has topic 'x'"]})
    text = format_reports(t)
    assert text.splitlines()[0].split() == ["batch", "rows", "skipped", "rejected", "inserted",
                                            "seconds"]
    assert text.splitlines()[-1].split() == ["total", "10000007", "4", "3", "9999999", "12.750"]
    assert max(map(len, text.splitlines())) <= 100
    from cdc_rs.cli import format_rejects, format_warnings
    assert format_rejects(t).splitlines() == ["rejected rows: 1 malformed, 2 null_keys",
                                              "skipped rows: 3 other_topics, 1 ignored_operations"]
    assert format_warnings(t) == "batch 1: warning: none of the batch's rows has topic 'x'"


def test_docstring_examples():
    import doctest

    import cdc_rs.cli

    result = doctest.testmod(cdc_rs.cli)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("text,count", [("1000000", 1_000_000), ("1_000_000", 1_000_000),
                                        ("1e6", 1_000_000), ("1M", 1_000_000), ("200k", 200_000)])
def test_counts_are_read_as_people_write_them(text, count):
    from cdc_rs.cli import positive_count

    assert positive_count(text) == count


@pytest.mark.parametrize("text", ["0", "1.5", "lots", "-3", "1e-3"])
def test_a_count_that_is_not_a_whole_positive_number_says_how_to_write_one(text):
    import argparse

    from cdc_rs.cli import positive_count

    with pytest.raises(argparse.ArgumentTypeError, match="count|whole number"):
        positive_count(text)


def test_cdc_rs_version_prints_the_version(capsys):
    import cdc_rs
    from cdc_rs.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"cdc-rs {cdc_rs.__version__}"
