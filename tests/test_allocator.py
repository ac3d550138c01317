"""The extension allocates with its own jemalloc and leaves the interpreter's malloc alone."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pyarrow as pa

import cdc_rs
from cdc_rs import _cdc_rs

SCHEMA = "id INT, name STRING"


def test_the_built_in_configuration_is_the_one_jemalloc_runs_with():
    # `confirm_conf` makes jemalloc print each configuration source it reads, at start-up.
    env = dict(os.environ, _RJEM_MALLOC_CONF="confirm_conf:true")
    code = "import cdc_rs; cdc_rs.from_json(['{\"id\": 1}'], 'id INT')"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert "global variable malloc_conf" in out.stderr
    assert "Set conf value: narenas:1" in out.stderr


def test_the_process_malloc_is_still_the_c_library_one():
    extension = ctypes.CDLL(_cdc_rs.__file__)
    process = ctypes.CDLL(None)
    address = lambda lib, name: ctypes.cast(getattr(lib, name), ctypes.c_void_p).value  # noqa: E731
    for name in ("malloc", "free", "realloc"):
        assert address(extension, name) == address(process, name)


def test_arrays_made_by_the_engine_outlive_it_in_pyarrow():
    # Buffers allocated by jemalloc are released through the Arrow C interface's callbacks.
    values = [f'{{"id": {i}, "name": "n{i}"}}' for i in range(10_000)]
    table = pa.Table.from_batches([pa.RecordBatch.from_struct_array(cdc_rs.from_json(values, SCHEMA))])
    copy = pa.concat_tables([table, table])
    del table
    assert copy.num_rows == 20_000
    assert copy.column("name")[19_999].as_py() == "n9999"

