"""The Delta log, read and written directly where deltalake's API stops short.

deltalake lists a table's files but not their deletion vectors, and its writer takes add
actions without them. A merge-on-read commit must name the vector of every file it changes
(a ``remove`` matches an ``add`` by path *and* vector), so this module replays the log for
the live ``add`` actions as written, and writes a commit of hand-made actions under the Delta
commit protocol: ``_delta_log/<version>.json`` appears whole, and only if no other writer
took that version first (``Store.create``: a hard link, or a conditional put).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from ._cdc_rs import __version__
from ._store import Store

_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(\.\d{10}\.\d{10})?\.parquet$")

Action = dict[str, Any]


def dv_id(vector: dict[str, Any] | None) -> str:
    """The identity of a deletion vector descriptor (none: the empty string)."""
    if not vector:
        return ""
    at = vector.get("offset")
    return f"{vector['storageType']}{vector['pathOrInlineDv']}" + ("" if at is None else f"@{at}")


def live_adds(store: Store, version: int) -> list[Action]:
    """The ``add`` actions live at ``version``: the newest checkpoint at or below it, then
    the commits after it, a ``remove`` cancelling the ``add`` of the same path and vector."""
    base, adds = _checkpoint_adds(store, version)
    live = {(a["path"], dv_id(a.get("deletionVector"))): a for a in adds}
    for v in range(base + 1, version + 1):
        for action in commit_actions(store, v):
            if (add := action.get("add")) is not None:
                live[(add["path"], dv_id(add.get("deletionVector")))] = add
            elif (remove := action.get("remove")) is not None:
                live.pop((remove["path"], dv_id(remove.get("deletionVector"))), None)
    return list(live.values())


def commit_actions(store: Store, version: int) -> list[Action]:
    """The actions of commit ``version`` (``FileNotFoundError`` if its entry is gone)."""
    log = store.read(f"_delta_log/{version:020d}.json")
    return [json.loads(line) for line in log.splitlines() if line.strip()]


def _checkpoint_adds(store: Store, version: int) -> tuple[int, list[Action]]:
    parts: dict[int, list[str]] = {}
    for entry in store.files("_delta_log"):
        if (m := _CHECKPOINT.match(entry.name)) and int(m[1]) <= version:
            parts.setdefault(int(m[1]), []).append(entry.name)
    if not parts:
        return -1, []
    base = max(parts)
    adds = []
    for part in sorted(parts[base]):
        column = store.read_parquet(f"_delta_log/{part}", columns=["add"]).column("add")
        for add in column.to_pylist():
            if add is not None:
                adds.append(_plain(add))
    return base, adds


def _plain(add: dict[str, Any]) -> Action:
    """A checkpoint's ``add`` row as the JSON action it stands for: maps as dicts, no nulls,
    no parsed copies of the stats or partition values."""
    out = {}
    for name, value in add.items():
        if value is None or name.endswith("_parsed"):
            continue
        if name in ("partitionValues", "tags") and isinstance(value, list):
            value = dict(value)
        if name == "deletionVector":
            value = {k: v for k, v in value.items() if v is not None}
        out[name] = value
    return out


def remove_of(add: Action, now_ms: int, data_change: bool = True) -> Action:
    """The ``remove`` action retiring ``add`` (same path and vector)."""
    remove = {"path": add["path"], "deletionTimestamp": now_ms, "dataChange": data_change,
              "extendedFileMetadata": True, "partitionValues": add.get("partitionValues", {}),
              "size": add["size"]}
    if add.get("deletionVector"):
        remove["deletionVector"] = add["deletionVector"]
    return {"remove": remove}


def commit_info(operation: str, extra: dict[str, Any]) -> Action:
    return {"commitInfo": {"timestamp": int(time.time() * 1000), "operation": operation,
                           "engineInfo": f"cdc_rs/{__version__}", "isBlindAppend": False,
                           **extra}}


def protocol(reader_features: list[str], writer_features: list[str]) -> Action:
    return {"protocol": {"minReaderVersion": 3, "minWriterVersion": 7,
                         "readerFeatures": reader_features, "writerFeatures": writer_features}}


def metadata(schema_json: str, partition_by: list[str], configuration: dict[str, str]) -> Action:
    return {"metaData": {"id": str(uuid.uuid4()), "format": {"provider": "parquet", "options": {}},
                         "schemaString": schema_json, "partitionColumns": partition_by,
                         "configuration": configuration,
                         "createdTime": int(time.time() * 1000)}}


def write_commit(store: Store, version: int, actions: list[Action]) -> bool:
    """Writes ``actions`` as commit ``version``; False if another writer committed it first."""
    data = "".join(json.dumps(a, separators=(",", ":")) + "\n" for a in actions).encode()
    return store.create(f"_delta_log/{version:020d}.json", data)


_LOG_ENTRY = re.compile(r"^(\d{20})\.(json|checkpoint(\.\d+\.\d+)?\.parquet)$")


def log_stamp(store: Store) -> dict[str, tuple[int, str]]:
    """Size and stamp (modification time, ETag) of the log files a reader reads: the entries
    from the last checkpoint on (older ones are never read again)."""
    since = last_checkpoint(store)
    try:
        entries = store.files("_delta_log")
    except OSError:
        return {}
    return {e.name: (e.size, e.stamp) for e in entries
            if (m := _LOG_ENTRY.match(e.name)) and int(m[1]) >= since}


def last_checkpoint(store: Store) -> int:
    try:
        return int(json.loads(store.read("_delta_log/_last_checkpoint"))["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def log_changed(store: Store, seen: dict[str, tuple[int, str]]) -> bool:
    """Whether a log file read when the table was opened has changed or gone since, among
    those a reader still reads."""
    now = log_stamp(store)
    since = last_checkpoint(store)
    return any(now.get(name) != stamp for name, stamp in seen.items()
               if int(name[:20]) >= since)
