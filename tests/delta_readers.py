"""Every Delta reader available here, each returning a table's rows as plain pyarrow types:
what cdc_rs writes must read the same in all of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

# DuckDB with its delta extension, beside the venv (requirements-duckdb-delta.txt)
DUCKDB_DELTA = Path(__file__).resolve().parents[1] / ".cache" / "duckdb-delta"


def plain(table: pa.Table) -> pa.Table:
    """View and large types as their plain forms, so readers compare equal."""
    fields = []
    for f in table.schema:
        t = f.type
        if t in (pa.string_view(), pa.large_string()):
            t = pa.string()
        elif t in (pa.binary_view(), pa.large_binary()):
            t = pa.binary()
        fields.append(pa.field(f.name, t))
    return table.cast(pa.schema(fields))


def read_with_deltalake(path: Path | str, version: int | None = None,
                        storage_options: dict[str, str] | None = None) -> pa.Table:
    """deltalake's DataFusion scan: the one of its readers that applies deletion vectors."""
    from deltalake import DeltaTable

    table = DeltaTable(str(path), version=version, storage_options=storage_options)
    return plain(pa.table(table.scan()))


def read_with_polars(path: Path | str, storage_options: dict[str, str] | None = None) -> pa.Table:
    import polars as pl

    return plain(pl.read_delta(str(path), storage_options=storage_options).to_arrow())


_DUCKDB_SCRIPT = """
import pathlib, sys
import duckdb, duckdb_extension_delta, pyarrow as pa
(extension,) = pathlib.Path(duckdb_extension_delta.__file__).parent.rglob("delta.duckdb_extension")
con = duckdb.connect()
con.execute(f"LOAD '{extension}'")
table = con.execute("SELECT * FROM delta_scan(?)", [sys.argv[1]]).arrow()
table = table.read_all() if hasattr(table, "read_all") else table
with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as out:
    out.write_table(table)
"""


def read_with_duckdb(path: Path) -> pa.Table:
    """DuckDB's ``delta_scan``, in a subprocess running the DuckDB its extension was built for."""
    if not DUCKDB_DELTA.is_dir():
        raise RuntimeError(f"{DUCKDB_DELTA} is missing: run ./dev setup")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(DUCKDB_DELTA),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _DUCKDB_SCRIPT, str(path)], env=env,
                          capture_output=True, timeout=300)
    if proc.returncode:
        raise RuntimeError(proc.stderr.decode())
    return plain(pa.ipc.open_stream(proc.stdout).read_all())


#: The reader most tests use: deltalake, whatever kind of table.
read_delta = read_with_deltalake
