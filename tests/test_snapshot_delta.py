"""Snapshots into a Delta table: the state of the last snapshot is kept beside the table, so a
new process compares the next snapshot with it and commits only the changed rows."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pytest

pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from cdc_rs._snapshot import SnapshotUpsert  # noqa: E402
from cdc_rs._snapshot_state import DeltaStates  # noqa: E402

ROWS = 2_000


def snapshot(changed: range = range(0), gone: range = range(0), new: int = 0) -> pa.Table:
    ids = [i for i in range(ROWS) if i not in gone] + list(range(ROWS, ROWS + new))
    return pa.table({"id": pa.array(ids, pa.int64()),
                     "v": pa.array([f"v{i}!" if i in changed else f"v{i}" for i in ids]),
                     "n": pa.array([i % 7 for i in ids], pa.int32())})


def flow(path: Path, **target) -> SnapshotUpsert:
    return cdc_rs.snapshot_upsert(cdc_rs.DeltaTarget(path, **target), keys="id")


def in_a_new_process(path: Path, version: int, deletion_vectors: bool = True) -> None:
    """Applies ``snapshot()`` as ``version`` in another Python process."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_snapshot_delta import flow, snapshot
        flow({str(path)!r}, deletion_vectors={deletion_vectors})(snapshot(), {version})
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def last_commit(path: Path) -> list[dict]:
    log = sorted((path / "_delta_log").glob("*.json"))[-1]
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def rows_written(actions: list[dict]) -> int:
    """Rows of the data files a commit adds (a file re-added with a deletion vector is not new)."""
    removed = {a["remove"]["path"] for a in actions if "remove" in a}
    return sum(json.loads(a["add"]["stats"])["numRecords"] for a in actions
               if "add" in a and a["add"]["path"] not in removed)


def no_rebuild():
    return mock.patch.object(SnapshotUpsert, "_rebuilt",
                             side_effect=AssertionError("the state was rebuilt from the table"))


def test_a_new_process_uses_the_saved_state_and_commits_only_the_changed_rows(tmp_path):
    in_a_new_process(tmp_path, 1)
    with no_rebuild():
        report = flow(tmp_path)(snapshot(changed=range(10, 20), gone=range(50, 55), new=3), 2)
    assert (report.inserted, report.updated, report.deleted, report.unchanged) == \
        (3, 10, 5, ROWS - 15)
    assert rows_written(last_commit(tmp_path)) == 13
    table = cdc_rs.DeltaTarget(tmp_path).to_arrow()
    assert table.sort_by("id") == snapshot(changed=range(10, 20), gone=range(50, 55), new=3)


def test_a_copy_on_write_table_takes_the_saved_state_too(tmp_path):
    in_a_new_process(tmp_path, 1, deletion_vectors=False)
    with no_rebuild():
        report = flow(tmp_path, deletion_vectors=False)(snapshot(changed=range(3)), 2)
    assert (report.updated, report.unchanged) == (3, ROWS - 3)
    assert cdc_rs.DeltaTarget(tmp_path).to_arrow().sort_by("id") == snapshot(changed=range(3))


def test_an_unchanged_snapshot_commits_no_rows(tmp_path):
    flow(tmp_path)(snapshot(), 1)
    report = flow(tmp_path)(snapshot(), 2)
    assert report.unchanged == ROWS and report.accounted == ROWS
    assert rows_written(last_commit(tmp_path)) == 0
    assert cdc_rs.DeltaTarget(tmp_path).last_batch_id == 2


def test_a_replayed_version_is_skipped_in_a_new_process(tmp_path):
    in_a_new_process(tmp_path, 5)
    report = flow(tmp_path)(snapshot(gone=range(ROWS)), 5)
    assert report.skipped_replay and report.rows_in == 0
    assert len(cdc_rs.DeltaTarget(tmp_path).to_arrow()) == ROWS


def test_without_its_saved_state_a_flow_rebuilds_it_from_the_table(tmp_path):
    flow(tmp_path)(snapshot(), 1)
    for folder in tmp_path.glob("_cdc_rs/*/snapshots"):
        for file in folder.iterdir():
            file.unlink()
    report = flow(tmp_path)(snapshot(changed=range(4)), 2)
    assert (report.updated, report.unchanged) == (4, ROWS - 4)
    assert rows_written(last_commit(tmp_path)) == 4


def test_only_the_last_committed_state_is_kept(tmp_path):
    f = flow(tmp_path)
    for version in (1, 2, 4):
        f(snapshot(changed=range(version)), version)
    files = [p.name for p in tmp_path.glob("_cdc_rs/*/snapshots/*.parquet")]
    assert len(files) == 1 and files[0].startswith(f"{4:020d}-")


def test_a_failed_batch_leaves_no_state_and_a_crashed_one_a_state_never_taken(tmp_path):
    flow(tmp_path)(snapshot(), 1)
    with mock.patch.object(cdc_rs.DeltaTarget, "commit", side_effect=OSError("disk gone")), \
            pytest.raises(OSError):
        flow(tmp_path)(snapshot(gone=range(ROWS)), 2)
    assert len(list(tmp_path.glob("_cdc_rs/*/snapshots/*.parquet"))) == 1
    # a crash between saving the state and the commit: nothing cleans up after it
    with mock.patch.object(cdc_rs.DeltaTarget, "commit", side_effect=OSError("disk gone")), \
            mock.patch.object(DeltaStates, "abandon"), pytest.raises(OSError):
        flow(tmp_path)(snapshot(gone=range(ROWS)), 2)  # its state (no rows) is saved
    assert len(list(tmp_path.glob("_cdc_rs/*/snapshots/*.parquet"))) == 2
    with no_rebuild():
        report = flow(tmp_path)(snapshot(changed=range(1)), 2)
    assert (report.updated, report.deleted, report.unchanged) == (1, 0, ROWS - 1)
    assert len(list(tmp_path.glob("_cdc_rs/*/snapshots/*.parquet"))) == 1


def test_two_states_for_one_version_are_not_trusted(tmp_path):
    flow(tmp_path)(snapshot(), 1)
    folder = next(tmp_path.glob("_cdc_rs/*/snapshots"))
    saved = next(folder.iterdir())
    (folder / (saved.name[:21] + "0" * 16 + ".parquet")).write_bytes(saved.read_bytes())
    original = SnapshotUpsert._rebuilt
    with mock.patch.object(SnapshotUpsert, "_rebuilt", autospec=True,
                           side_effect=original) as rebuilt:
        report = flow(tmp_path)(snapshot(changed=range(2)), 2)
    assert rebuilt.called and report.updated == 2


def test_a_flow_on_object_storage_keeps_its_state_in_the_bucket(s3_table):
    uri, options = s3_table

    def on_s3():
        return cdc_rs.snapshot_upsert(cdc_rs.DeltaTarget(uri, storage_options=options), keys="id")

    on_s3()(snapshot(), 1)
    with no_rebuild():
        report = on_s3()(snapshot(changed=range(7)), 2)
    assert (report.updated, report.unchanged) == (7, ROWS - 7)
