"""``cdc-rs run``: a pipeline from a config file, bronze folder -> Delta silver table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

pytest.importorskip("deltalake")

from cdc_rs.cli import main  # noqa: E402
from cdc_rs.config import load_config, parse_config  # noqa: E402
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore  # noqa: E402
from cdc_rs.exceptions import ConfigError  # noqa: E402

from deltalake import DeltaTable  # noqa: E402
from delta_readers import read_delta  # noqa: E402

CONFIG = f"""
keys = ["customer_id"]
sequence_by = "row_time"
value_schema = "{CUSTOMERS_SCHEMA}"
topic = "customers"
operation_column = "row_status"
delete_operations = ["delete"]
lookup = "bronze/_country_lookup.parquet"
lookup_on = {{ country_code = "code" }}
columns = {json.dumps(SILVER_COLUMNS)}

[stream]
pattern = "bronze-*.parquet"
"""


@pytest.fixture()
def setup(tmp_path):
    bookstore(events=6_000, batches=3, seed=2).write_parquet(tmp_path / "bronze")
    (tmp_path / "pipeline.toml").write_text(CONFIG)
    return tmp_path


def _args(base: Path) -> list[str]:
    return ["run", "--source", str(base / "bronze"), "--target", str(base / "silver"),
            "--checkpoint", str(base / "chk"), "--config", str(base / "pipeline.toml")]


def test_run_applies_the_folder_then_has_nothing_to_do(setup, capsys):
    assert main([*_args(setup), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Per-batch reports:" in out and "total" in out and "3 batches" in out
    silver = read_delta(setup / "silver")
    assert silver.column_names == SILVER_COLUMNS and silver.num_rows > 0
    assert pc.count_distinct(silver["customer_id"]).as_py() == silver.num_rows
    assert main([*_args(setup), "--no-progress"]) == 0
    assert "nothing new to apply" in capsys.readouterr().out


def test_run_as_a_subprocess_with_row_limit(setup):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, "-m", "cdc_rs", *_args(setup),
                           "--max-rows-per-batch", "1000"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "6 batches" in proc.stdout


def test_bad_config_exits_1_with_a_clear_message(setup, capsys):
    (setup / "pipeline.toml").write_text("bogus_option = 1\n" + CONFIG)
    assert main([*_args(setup), "--no-progress"]) == 1
    assert "unknown option(s) ['bogus_option']" in capsys.readouterr().err
    (setup / "pipeline.toml").write_text("keys = [")
    assert main([*_args(setup), "--no-progress"]) == 1
    assert "not valid TOML" in capsys.readouterr().err
    assert not (setup / "silver").exists()


def test_run_reports_a_corrupt_file_and_exits_1(setup, capsys):
    (setup / "bronze" / "bronze-00001.parquet").write_bytes(b"garbage")
    assert main([*_args(setup), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "bronze-00001.parquet" in err and "not a readable Parquet file" in err
    assert not (setup / "silver").exists()  # every file is checked before any is applied


def test_config_lookup_csv_and_yaml(tmp_path):
    (tmp_path / "countries.csv").write_text("code,country\nNA,Namibia\nFR,France\n")
    config = parse_config({"keys": "id", "sequence_by": "ts", "lookup": "countries.csv",
                           "lookup_on": [["cc", "code"]],
                           "target": {"app_id": "x", "target_file_rows": 100}},
                          base=tmp_path)
    assert config.upsert["lookup"]["code"].to_pylist() == ["NA", "FR"]  # NA is not null
    assert config.upsert["lookup_on"] == [("cc", "code")]
    assert config.target == {"app_id": "x", "target_file_rows": 100}
    assert config.build(tmp_path / "silver").target._target_file_rows == 100
    with pytest.raises(ConfigError, match="missing required option 'keys'"):
        parse_config({"sequence_by": "ts"})
    with pytest.raises(ConfigError, match=r"unknown \[stream\] option"):
        parse_config({"keys": "id", "sequence_by": "ts", "stream": {"nope": 1}})
    with pytest.raises(ConfigError, match="cannot read lookup"):
        parse_config({"keys": "id", "sequence_by": "ts", "lookup": "missing.parquet"})
    (tmp_path / "p.yaml").write_text("keys: [id]\nsequence_by: ts\n")
    try:
        import yaml  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="PyYAML"):
            load_config(tmp_path / "p.yaml")
    else:
        assert load_config(tmp_path / "p.yaml").upsert == {"keys": ["id"], "sequence_by": "ts"}
