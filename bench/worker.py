"""Run one contender once in this (fresh) process: ``worker.py CONTENDER DATA_DIR OUT_PREFIX``.

Writes ``OUT_PREFIX.json`` (seconds of ``run`` alone, setup seconds) and
``OUT_PREFIX.parquet`` (the normalised silver table). The parent measures peak RSS of the
whole process tree (the Spark JVM included) until ``OUT_PREFIX.done`` appears, made as soon
as the run returns.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas  # noqa: E402,F401 - pyarrow imports it at the first pa.array()/pa.table() call
import pyarrow.parquet as pq  # noqa: E402

# (imported here, like each contender's module below: no contender's time holds a one-time
# import, whichever of them happens to call pyarrow that way first)

from common import bronze_files, lookup_file, normalise  # noqa: E402


def main() -> None:
    name, data_dir, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    mod = importlib.import_module(f"contenders.{name}")
    files, lookup = bronze_files(data_dir), lookup_file(data_dir)
    t0 = time.perf_counter()
    if hasattr(mod, "setup"):
        mod.setup()
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    silver = mod.run(files, lookup)
    r2 = resource.getrusage(resource.RUSAGE_SELF)
    t2 = time.perf_counter()
    out.with_suffix(".done").touch()  # the parent's peak RSS ends here (run.py)
    cpu = (r2.ru_utime - r1.ru_utime) + (r2.ru_stime - r1.ru_stime)
    if hasattr(mod, "teardown"):
        mod.teardown()
    pq.write_table(normalise(silver), out.with_suffix(".parquet"))
    out.with_suffix(".json").write_text(json.dumps(
        {"seconds": t2 - t1, "setup_seconds": t1 - t0, "cpu_seconds": cpu, "rows": silver.num_rows}))


if __name__ == "__main__":
    main()
