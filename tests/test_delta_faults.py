"""Faults in the storage under a DeltaTarget: a clear DeltaTargetError before anything is
written, never a batch reported applied that no reader can read back."""

from __future__ import annotations

import os
import re

import pyarrow as pa
import pytest

deltalake = pytest.importorskip("deltalake")

import cdc_rs  # noqa: E402
from deltalake import DeltaTable  # noqa: E402
from delta_readers import read_delta  # noqa: E402

pytestmark = pytest.mark.usefixtures("delta_kind")


def _batch(ids, ts: int) -> pa.Table:
    return pa.table({"id": pa.array(list(ids), pa.int64()),
                     "ts": pa.array([ts] * len(ids), pa.int64())})


def _upsert(path, **options):
    return cdc_rs.batch_upsert(cdc_rs.DeltaTarget(path, **options), keys="id", sequence_by="ts")


@pytest.mark.parametrize("folder", ["a%2Fb", "x%20y"])
def test_a_path_with_a_percent_escape_is_refused_before_anything_is_written(tmp_path, folder):
    path = tmp_path / folder / "t"
    with pytest.raises(cdc_rs.DeltaTargetError, match="percent escape"):
        _upsert(path)(_batch([1], 1), 0)
    assert not path.exists()
    assert sorted(os.listdir(tmp_path)) == []


def test_a_path_with_a_plain_percent_sign_works_and_reads_back(tmp_path):
    path = tmp_path / "100%" / "t"
    upsert = _upsert(path)
    upsert(_batch([1, 2], 1), 0)
    assert read_delta(path).num_rows == 2


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_log_entry_is_refused_before_the_next_batch_is_written(tmp_path, damage):
    path = tmp_path / "t"
    upsert = _upsert(path)
    upsert(_batch(range(10), 1), 0)
    upsert(_batch(range(5), 2), 1)
    entry = path / "_delta_log" / f"{1:020d}.json"
    text = entry.read_bytes()
    entry.write_bytes(b"not json\n" if damage == "garbage" else text[: len(text) // 2])
    entries = sorted(os.listdir(path / "_delta_log"))
    with pytest.raises(cdc_rs.DeltaTargetError, match="_delta_log cannot be read"):
        upsert(_batch(range(3), 3), 2)
    assert sorted(os.listdir(path / "_delta_log")) == entries  # nothing committed
    # a new process refuses it too, before writing
    with pytest.raises(cdc_rs.DeltaTargetError, match="_delta_log cannot be read"):
        _upsert(path)(_batch(range(3), 3), 2)
    assert sorted(os.listdir(path / "_delta_log")) == entries


def test_a_target_below_a_regular_file_is_a_delta_target_error_naming_the_file(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    upsert = _upsert(blocker / "t")
    with pytest.raises(cdc_rs.DeltaTargetError, match=re.escape(str(blocker))):
        upsert(_batch([1], 1), 0)


@pytest.mark.parametrize("place", ["/proc/cdc_rs_silver", "/sys/cdc_rs_silver/t"])
def test_a_target_in_an_unwritable_place_names_the_table_not_a_bookkeeping_file(place):
    # /proc and /sys refuse new folders even to root (chmod would not stop a root test run)
    if not os.path.isdir("/" + place.split("/")[1]):
        pytest.skip("no /proc or /sys here")
    upsert = _upsert(place)
    with pytest.raises(cdc_rs.DeltaTargetError) as raised:
        upsert(_batch([1], 1), 0)
    message = str(raised.value)
    assert message.startswith(f"cannot write the Delta table {place}:"), message
    assert "_cdc_rs" not in message and ".parquet" not in message


def test_a_deleted_data_file_is_a_delta_target_error_saying_what_to_do(tmp_path):
    path = tmp_path / "t"
    _upsert(path)(_batch(range(10), 1), 0)
    for name in os.listdir(path):
        if name.endswith(".parquet"):
            os.remove(path / name)
    with pytest.raises(cdc_rs.DeltaTargetError, match="data files cannot be read"):
        _upsert(path)(_batch([1], 2), 1)
    with pytest.raises(cdc_rs.DeltaTargetError, match="data files cannot be read"):
        cdc_rs.DeltaTarget(path).to_arrow()


@pytest.mark.parametrize("app_id", ["..", ".", "a/b", "../x", "", ".hidden", "x" * 201])
def test_an_app_id_that_is_not_a_plain_folder_name_is_refused(tmp_path, app_id):
    with pytest.raises(cdc_rs.ConfigError, match="app_id"):
        cdc_rs.DeltaTarget(tmp_path / "t", app_id=app_id)
    assert not (tmp_path / "t").exists()
