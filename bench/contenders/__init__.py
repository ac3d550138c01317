"""One module per contender: ``run(files, lookup_path) -> pyarrow.Table`` (see bench/common.py)."""

NAMES = ["cdc_rs", "cdc_rs_delta", "polars", "duckdb", "deltalake", "pandas", "pyspark"]
