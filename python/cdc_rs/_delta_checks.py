"""What a Delta table must be for cdc_rs to write it, and the names it may be given."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from . import _delta_layout as layout
from .exceptions import ConfigError, DeltaTargetError


def describe(schema: pa.Schema) -> str:
    return "(" + ", ".join(f"{f.name} {f.type}" for f in schema) + ")"


def castable(a: pa.Schema, b: pa.Schema) -> bool:
    try:
        a.empty_table().cast(b)
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        return False


_WRITABLE_FEATURES = {"timestampNtz", "appendOnly", "invariants", "changeDataFeed",
                      "checkConstraints"}


def has_deletion_vectors(dt: Any) -> bool:
    """Whether the table supports deletion vectors (then cdc_rs writes it merge-on-read)."""
    return "deletionVectors" in (dt.protocol().writer_features or [])


def change_data_feed(dt: Any) -> bool:
    return bool(dt.metadata().configuration.get("delta.enableChangeDataFeed", "false")
                .lower() == "true")


def check_writable(dt: Any, path: Path | str, merge_on_read: bool = False) -> None:
    """Refuse tables whose features our writes would break."""
    table_protocol, config = dt.protocol(), dt.metadata().configuration
    features = set(table_protocol.reader_features or []) | set(table_protocol.writer_features or [])
    allowed = _WRITABLE_FEATURES | ({"deletionVectors"} if merge_on_read else set())
    problems = sorted(features - allowed)
    if change_data_feed(dt) and not merge_on_read:
        problems.append("change data feed (a merge-on-read table writes it)")
    if config.get("delta.columnMapping.mode", "none") != "none":
        problems.append("column mapping")
    if any(k.startswith("delta.constraints.") for k in config):
        problems.append("CHECK constraints")
    if config.get("delta.appendOnly", "false").lower() == "true":
        problems.append("appendOnly")
    if problems:
        raise DeltaTargetError(f"{path}: cdc_rs cannot write a Delta table using "
                               f"{', '.join(problems)}; nothing of the batch was written")


def check_partition_types(schema: pa.Schema, partition_by: list[str], path: Path | str) -> None:
    for name in partition_by:
        if not layout.partition_type_supported(schema.field(name).type):
            raise DeltaTargetError(f"{path}: cannot partition by {name!r} of type "
                                   f"{schema.field(name).type}: use an integer, string, date "
                                   "or boolean column; nothing of the batch was written")


_APP_ID = re.compile(r"[A-Za-z0-9_=-][A-Za-z0-9_.=-]{0,199}")


def checked_app_id(app_id: Any) -> str:
    """An ``app_id`` that is also a safe folder name under ``_cdc_rs/``: ``..`` or a slash
    would put the bookkeeping elsewhere, and two ids must never share a folder."""
    if not isinstance(app_id, str) or not _APP_ID.fullmatch(app_id):
        raise ConfigError(f"app_id {app_id!r} must be 1-200 letters, digits or '_.=-', not "
                          "starting with '.'")
    return app_id
