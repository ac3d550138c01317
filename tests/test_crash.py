"""Crash tests: SIGKILL the stream driver anywhere, restart it until it finishes; the Delta
table must equal an uninterrupted run — and between restarts it must always be exactly the
result of the batches its ``txn`` says are committed (never half a batch)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs.datasets import bookstore  # noqa: E402

from deltalake import DeltaTable  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from cdc_rs._store import open_store  # noqa: E402
from crash_worker import build  # noqa: E402
from delta_readers import read_delta  # noqa: E402

# small runs' bronze batches may hold no customers event: the topic warning is expected
pytestmark = pytest.mark.filterwarnings("ignore:none of the batch's:UserWarning")

WORKER = Path(__file__).parent / "crash_worker.py"
MAX_ROWS = 900
POINTS = ["after_read", "after_offsets", "before_commit", "after_data_files", "after_commit",
          "before_offsets_commit", "after_snapshot", "after_compaction_files", "after_compaction",
          "timer", "timer", "timer"]


@pytest.fixture(scope="module")
def bronze(tmp_path_factory):
    """A multi-file bronze folder and the silver table after each batch of a clean run."""
    folder = tmp_path_factory.mktemp("bronze")
    bookstore(events=6_000, batches=4, seed=11).write_parquet(folder)
    memory = build(str(folder), None)
    prefixes, batch_id = [], 0
    for path in sorted(folder.glob("bronze-*.parquet")):
        table = pq.read_table(path)
        for start in range(0, table.num_rows, MAX_ROWS):
            memory(table.slice(start, MAX_ROWS), batch_id)
            prefixes.append(_canonical(memory.target.to_arrow()))
            batch_id += 1
    return folder, prefixes


def _canonical(table: pa.Table) -> pa.Table:
    return table.sort_by("customer_id").replace_schema_metadata(None)


def _delta_state(target: Path | str, schema: pa.Schema, options: dict[str, str] | None = None,
                 ) -> tuple[int | None, pa.Table | None]:
    if not DeltaTable.is_deltatable(str(target), options):
        return None, None
    dt = DeltaTable(str(target), storage_options=options)
    apps = open_store(target, options).folders("_cdc_rs")
    assert len(apps) == 1
    return dt.transaction_version(apps[0]), \
        _canonical(read_delta(target, storage_options=options).cast(schema))


def _run(args: list[str], env: dict[str, str]) -> int:
    proc = subprocess.run([sys.executable, str(WORKER), *args], env=env, capture_output=True,
                          text=True, timeout=300)
    out, err = proc.stdout, proc.stderr
    if proc.returncode not in (0, -9):
        pytest.fail(f"worker failed ({proc.returncode}):\n{out}\n{err}")
    return proc.returncode


@pytest.mark.parametrize(("seed", "kind"), [(1, "merge-on-read"), (2, "merge-on-read"),
                                            (3, "merge-on-read"), (4, "copy-on-write"),
                                            (5, "s3"), (6, "s3")])
def test_killed_anywhere_the_result_equals_an_uninterrupted_run(bronze, tmp_path, request, seed,
                                                                 kind):
    folder, prefixes = bronze
    schema = prefixes[-1].schema
    rng = random.Random(seed)
    target: Path | str = tmp_path / "silver"
    checkpoint = tmp_path / "chk"
    options = None
    base = dict(os.environ, CRASH_WORKER_KIND=kind)
    if kind == "s3":  # a merge-on-read table on the local S3 server
        server = request.getfixturevalue("s3_server")
        target, options = f"s3://{server.new_bucket()}/silver", server.storage_options
        base.update(CRASH_WORKER_KIND="merge-on-read", CRASH_WORKER_STORAGE=json.dumps(options))
    args = [str(folder), str(target), str(checkpoint), str(MAX_ROWS)]
    kills = 0
    for _ in range(6):
        point = rng.choice(POINTS)
        env = dict(base)
        if point == "timer":
            env["CRASH_WORKER_KILL_AFTER"] = f"{rng.uniform(0.0, 0.6):.3f}"
        else:
            env.update(CDC_RS_CRASH_AT=point, CDC_RS_CRASH_SKIP=str(rng.randrange(3)))
        code = _run(args, env)
        if code == 0:
            break
        kills += 1
        print(f"seed {seed}: killed at {point} {env.get('CRASH_WORKER_KILL_AFTER', '')}",
              file=sys.stderr)
        # Between crashes the table is exactly the clean run after its last recorded batch.
        version, table = _delta_state(target, schema, options)
        if version is not None:
            assert table.equals(prefixes[version]), f"half-applied batch after {point}"
    assert _run(args, base) == 0
    version, table = _delta_state(target, schema, options)
    assert version == len(prefixes) - 1
    assert table.equals(prefixes[-1])
    assert pc.count_distinct(table["customer_id"]).as_py() == table.num_rows  # no duplicate
    assert kills >= 1
    # once done, another run has nothing left to do
    again = cdc_rs.stream(folder, build(str(folder), cdc_rs.DeltaTarget(target,
                                                                       storage_options=options)),
                          checkpoint=checkpoint, pattern="bronze-*.parquet",
                          max_rows_per_batch=MAX_ROWS, progress=False)
    assert again == []


def test_crash_between_target_commit_and_checkpoint_replays_as_skipped(bronze, tmp_path):
    folder, prefixes = bronze
    target, checkpoint = tmp_path / "silver", tmp_path / "chk"
    args = [str(folder), str(target), str(checkpoint), str(MAX_ROWS)]
    env = {**os.environ, "CDC_RS_CRASH_AT": "before_offsets_commit", "CDC_RS_CRASH_SKIP": "2"}
    assert _run(args, env) == -9
    # batch 2 is in the table but not in the checkpoint: the re-run replays it, skipped
    upsert = build(str(folder), cdc_rs.DeltaTarget(target))
    reports = cdc_rs.stream(folder, upsert, checkpoint=checkpoint, pattern="bronze-*.parquet",
                            max_rows_per_batch=MAX_ROWS, progress=False)
    assert reports[0].batch_id == 2 and reports[0].skipped_replay
    assert not any(r.skipped_replay for r in reports[1:])
    assert [r.batch_id for r in reports] == list(range(2, len(prefixes)))
    table = _canonical(read_delta(target).cast(prefixes[-1].schema))
    assert table.equals(prefixes[-1])
