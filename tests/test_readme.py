"""Every Python block of the README runs as written, in order, in one namespace (a block may
use what the blocks before it made), in a scratch folder; and the example pipeline config
runs through ``cdc-rs run``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
from delta_readers import read_delta  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a Markdown text, dedented (some sit inside list items)."""
    return [textwrap.dedent(block) for block in
            re.findall(r"^[ \t]*```python\n(.*?)^[ \t]*```", text, flags=re.M | re.S)]


# Runs the blocks in a fresh interpreter whose working folder is the scratch folder: a Spark
# JVM that an earlier test of the same process started would read the blocks' relative paths
# from its own working folder instead.
RUNNER = """
import json, sys
import pyarrow as pa

blocks = json.loads(open(sys.argv[1]).read())
namespace = {"__name__": "readme"}
try:
    for number, block in enumerate(blocks, start=1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception:
            print(f"README python block {number} fails:\\n{block}", file=sys.stderr)
            raise
finally:
    spark = namespace.get("spark")
    if spark is not None:
        spark.stop()
with pa.OSFile("silver.arrow", "wb") as sink, pa.ipc.new_file(sink, namespace["silver"].schema) as out:
    out.write_table(namespace["silver"])
"""


def test_the_readme_python_blocks_run_as_written_in_order(tmp_path, monkeypatch):
    pytest.importorskip("deltalake")
    pytest.importorskip("pyspark")
    blocks = python_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 4
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    done = subprocess.run([sys.executable, "-c", RUNNER, "blocks.json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-6000:]
    # what the last block (the Delta stream) made is the same silver table as the first
    monkeypatch.chdir(tmp_path)
    delta = read_delta("lake/customers_silver").sort_by("customer_id")
    silver = pa.ipc.open_file("silver.arrow").read_all().sort_by("customer_id")
    assert delta.cast(silver.schema).equals(silver)


def test_the_example_pipeline_config_runs_with_cdc_rs_run(tmp_path):
    pytest.importorskip("deltalake")
    from cdc_rs.cli import main
    from cdc_rs.datasets import bookstore

    example = ROOT / "examples" / "pipeline.toml"
    bronze = tmp_path / "bronze"
    bookstore(events=20_000, batches=3, seed=4).write_parquet(bronze)
    config = tmp_path / "pipeline.toml"  # the lookup path is relative to the config file
    config.write_text(example.read_text())
    assert main(["run", "--source", str(bronze), "--target", str(tmp_path / "silver"),
                 "--checkpoint", str(tmp_path / "chk"), "--config", str(config),
                 "--no-progress"]) == 0
    from deltalake import DeltaTable

    assert read_delta(tmp_path / "silver").num_rows > 0
    assert os.listdir(tmp_path / "chk" / "commits")
