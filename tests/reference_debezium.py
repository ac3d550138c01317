"""The slow, obvious model of format="debezium", on Python objects.

Every bronze row is parsed with ``json.loads`` and classified (the reason it goes no further,
or the change it is); the silver table is then the replay of the applied changes in sequence
order: per key, the change with the greatest sequence wins (among equal ones the first to
arrive), and the key is absent when that change is a delete. Values are decoded from the
Kafka Connect schema of the message (or the one given) with the standard library.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

PLACEHOLDER = "__debezium_unavailable_value"
EPOCH = datetime(1970, 1, 1)
COUNTER = {"malformed_json": "malformed", "missing_schema": "malformed", "invalid_schema": "malformed",
           "unknown_operation": "malformed", "missing_after": "malformed",
           "unavailable_value": "malformed", "out_of_range": "malformed",
           "tombstone": "ignored_operations", "message": "ignored_operations",
           "truncate_not_applied": "ignored_operations", "delete_without_before": "null_keys",
           "null_key": "null_keys", "null_sequence": "null_sequences",
           "other_topic": "other_topics"}
SILENT = {"tombstone", "message", "other_topic"}


@dataclass
class Event:
    arrival: int
    reason: str | None = None   # why it is not applied (None: applied)
    delete: bool = False
    key: tuple | None = None
    sequence: tuple | None = None
    row: dict | None = None


def decode(value: Any, schema: dict) -> Any:
    """A value of a Connect ``schema`` as the engine's pylist gives it."""
    if value is None:
        return None
    name, kind = schema.get("name", ""), schema["type"]
    if name == "org.apache.kafka.connect.data.Decimal":
        scale = int(schema["parameters"]["scale"])
        return Decimal(int.from_bytes(base64.b64decode(value), "big", signed=True)).scaleb(-scale)
    if name in ("io.debezium.time.Date", "org.apache.kafka.connect.data.Date"):
        return date(1970, 1, 1) + timedelta(days=value)
    if name in ("io.debezium.time.Timestamp", "org.apache.kafka.connect.data.Timestamp"):
        return EPOCH + timedelta(milliseconds=value)
    if name == "io.debezium.time.MicroTimestamp":
        return EPOCH + timedelta(microseconds=value)
    if name == "io.debezium.time.NanoTimestamp":
        return EPOCH + timedelta(microseconds=value // 1000)
    if name == "io.debezium.time.ZonedTimestamp":
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    if name == "io.debezium.time.MicroTime":
        return (datetime.min + timedelta(microseconds=value)).time()
    if kind == "struct":
        return {f["field"]: decode(value.get(f["field"]), f) for f in schema["fields"]}
    if kind == "array":
        return [decode(v, schema["items"]) for v in value]
    return value


def row_schema(schema: dict) -> dict:
    names = {f["field"]: f for f in schema["fields"]}
    if "op" in names and ("after" in names or "before" in names):
        return names.get("after") or names["before"]
    return {**schema, "fields": [f for f in schema["fields"] if not f["field"].startswith("__")]}


def classify(arrival: int, value: bytes | None, keys: list[str], given: dict | None,
             topic_ok: bool = True) -> Event:
    """One bronze row as an :class:`Event` (given: the row's Connect schema, or None)."""
    e = Event(arrival)
    if not topic_ok:
        e.reason = "other_topic"
        return e
    if value is None:
        e.reason = "tombstone"
        return e
    try:
        doc = json.loads(value)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        e.reason = "malformed_json"
        return e
    schema = doc.get("schema") if "payload" in doc else None
    payload = doc["payload"] if isinstance(doc.get("payload"), dict) else doc
    if doc == {"schema": None, "payload": None}:
        e.reason = "tombstone"
        return e
    if given is None and schema is None:
        e.reason = "missing_schema"
        return e
    if given is None and not (isinstance(schema, dict) and schema.get("type") == "struct"):
        e.reason = "invalid_schema"
        return e
    columns = given if given is not None else row_schema(schema)
    envelope = any(isinstance(payload.get(f), dict) for f in ("source", "before", "after"))
    if envelope:
        op, source = payload.get("op"), payload.get("source") or {}
        before, after = payload.get("before"), payload.get("after")
        position = {k: source.get(k) for k in ("lsn", "file", "pos", "row")}
        ts = payload.get("ts_ms", source.get("ts_ms"))
        if op not in ("c", "u", "r", "d", "t", "m"):
            e.reason = "unknown_operation"
            return e
    else:
        flat_op = payload.get("__op")
        deleted = str(payload.get("__deleted")).lower() == "true" or flat_op == "d"
        op = "d" if deleted else flat_op if flat_op is not None else "c"
        if op not in ("c", "u", "r", "d", "t", "m"):
            e.reason = "unknown_operation"
            return e
        before = after = {k: v for k, v in payload.items()}
        position = {k: payload.get(f"__{k}", payload.get(f"__source_{k}"))
                    for k in ("lsn", "file", "pos", "row")}
        ts = payload.get("__ts_ms", payload.get("__source_ts_ms"))
    if op in ("c", "u", "r") and not isinstance(after, dict):
        e.reason = "missing_after"
        return e
    if op in ("c", "u", "r"):
        row = dict(after)
        for f in columns["fields"]:
            if row.get(f["field"]) == PLACEHOLDER or row.get(f["field"]) == [PLACEHOLDER]:
                old = before.get(f["field"]) if envelope and isinstance(before, dict) else None
                if old is None or old == PLACEHOLDER or old == [PLACEHOLDER]:
                    e.reason = "unavailable_value"
                    return e
                row[f["field"]] = old
    if op == "m":
        e.reason = "message"
        return e
    if op == "t":
        e.reason = "truncate_not_applied"
        return e
    if op == "d" and not isinstance(before, dict):
        e.reason = "delete_without_before"
        return e
    e.delete = op == "d"
    source_row = before if e.delete else row
    e.row = {f["field"]: decode(source_row.get(f["field"]), f) for f in columns["fields"]}
    e.key = tuple(e.row[k] for k in keys)
    if any(k is None for k in e.key):
        e.reason = "null_key"
        return e
    streamed = 0 if op == "r" else 1
    if position["lsn"] is not None:
        e.sequence = (streamed, position["lsn"], "", 0, 0, 0)
    elif position["file"] is not None:
        e.sequence = (streamed, 0, position["file"], position["pos"], position["row"] or 0, 0)
    else:
        e.sequence = (streamed, 0, "", 0, 0, ts)
    if any(s is None for s in e.sequence):
        e.reason = "null_sequence"
    return e


def replay(events: list[Event]) -> dict[tuple, dict]:
    """The silver rows by key: per key the applied change with the greatest sequence (the
    earliest among equal ones), unless it is a delete."""
    newest: dict[tuple, Event] = {}
    for e in events:
        if e.reason is not None:
            continue
        seen = newest.get(e.key)
        if seen is None or e.sequence > seen.sequence:
            newest[e.key] = e
    return {k: e.row for k, e in newest.items() if not e.delete}


def counters(events: list[Event]) -> dict[str, int]:
    """The counters rows land in before the merge (the engine's counters for them)."""
    out: dict[str, int] = {}
    for e in events:
        if e.reason is not None:
            out[COUNTER[e.reason]] = out.get(COUNTER[e.reason], 0) + 1
    return out


def bronze_events(rows: list[dict], keys: list[str], value_schema: str | None = None,
                  topic: str | None = None) -> list[Event]:
    """Classify bronze rows (dicts with ``value`` and ``topic``) in arrival order."""
    given = None if value_schema is None else row_schema(json.loads(value_schema))
    return [classify(i, r["value"], keys, given, topic is None or r.get("topic") == topic)
            for i, r in enumerate(rows)]
