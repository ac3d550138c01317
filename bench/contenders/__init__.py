"""One module per contender: ``run(files, lookup_path) -> pyarrow.Table`` (see bench/common.py)."""

NAMES = ["cdc_rs", "polars", "duckdb", "deltalake", "pandas", "pyspark"]
