"""The slow, obvious model of the CDC rules, on lists of dicts.

Two forms of the same rules:

* `ReferenceUpsert` applies batches one at a time, like the engine, and returns the per-batch
  counters (rule 1) so each counter can be checked batch by batch;
* `closed_form` gives the final table of a whole stream at once: the state of a key is the
  first-arriving event among those with the greatest sequence, and the key is absent when that
  event is a delete.

Rows are plain dicts. With `value_fields` the rows are bronze rows whose `value` is a JSON text,
decoded here with `json.loads` (enough for the well-typed values the tests generate).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

COUNTERS = (
    "other_topics",
    "malformed",
    "filtered_out",
    "ignored_operations",
    "null_keys",
    "null_sequences",
    "lookup_misses",
    "superseded",
    "inserted",
    "updated",
    "deleted",
    "tombstoned",
    "stale",
)

REJECT_REASONS = {
    "malformed": "malformed_json",
    "null_keys": "null_key",
    "null_sequences": "null_sequence",
    "lookup_misses": "lookup_miss",
}


def parse_timestamp(text: str, time_zone: str = "UTC") -> datetime:
    """An ISO-8601 text as an aware UTC datetime; a text without offset is local to `time_zone`."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(time_zone))
    return parsed.astimezone(timezone.utc)


@dataclass
class Config:
    keys: list[str]
    sequence_by: list[str]
    operation_column: str | None = None
    upsert_operations: tuple = ("insert", "update")
    delete_operations: tuple = ()
    topic: str | None = None
    # bronze input: [(name, "STRING" | "BIGINT" | "TIMESTAMP")] decoded from the `value` column
    value_fields: list[tuple[str, str]] | None = None
    time_zone: str = "UTC"
    lookup: list[dict] | None = None
    lookup_on: dict[str, str] | None = None
    lookup_how: str = "inner"
    # `where=` / `apply_as_deletes=` as functions of the decoded event: True, False or None
    # (reference_predicates.evaluate of the predicate the engine is given as text)
    where: Callable[[dict], bool | None] | None = None
    apply_as_deletes: Callable[[dict], bool | None] | None = None

    def __post_init__(self):
        if isinstance(self.keys, str):
            self.keys = [self.keys]
        if isinstance(self.sequence_by, str):
            self.sequence_by = [self.sequence_by]


@dataclass
class Candidate:
    arrival: int
    key: tuple
    seq: tuple
    is_delete: bool
    row: dict


@dataclass
class Classified:
    counters: dict = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    rejected: list = field(default_factory=list)  # (input row, reason)
    candidates: list = field(default_factory=list)


def _decode(value, fields, time_zone):
    """The decoded dict of a bronze value, or None when the value is not a JSON object."""
    if value is None:
        return None
    try:
        obj = json.loads(value)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    out = {}
    for name, kind in fields:
        raw = obj.get(name)
        if raw is not None and kind == "TIMESTAMP":
            raw = parse_timestamp(raw, time_zone)
        out[name] = raw
    return out


def _lookup_index(config: Config):
    index = {}
    for row in config.lookup or ():
        join = tuple(row[c] for c in config.lookup_on.values())
        if None not in join:
            index[join] = row
    return index


def lookup_columns(config: Config) -> list[str]:
    """The lookup columns appended to the batch (the lookup-side join columns are left out)."""
    if not config.lookup:
        return []
    join_side = set(config.lookup_on.values())
    return [c for c in config.lookup[0] if c not in join_side]


def classify(config: Config, batch: list[dict], first_arrival: int = 0) -> Classified:
    """Rule 1 up to the lookup: every row lands in a filter counter or becomes a candidate."""
    out = Classified()
    index = _lookup_index(config)
    extra = lookup_columns(config)
    for offset, row in enumerate(batch):
        if config.topic is not None and row.get("topic") != config.topic:
            out.counters["other_topics"] += 1
            continue
        event = row
        if config.value_fields is not None:
            event = _decode(row.get("value"), config.value_fields, config.time_zone)
            if event is None:
                out.counters["malformed"] += 1
                out.rejected.append((row, "malformed_json"))
                continue
        if config.where is not None and config.where(event) is not True:
            out.counters["filtered_out"] += 1
            continue
        is_delete = config.apply_as_deletes is not None and config.apply_as_deletes(event) is True
        if not is_delete and config.operation_column is not None:
            op = event.get(config.operation_column)
            if op is not None and op in config.delete_operations:
                is_delete = True
            elif op is None or op not in config.upsert_operations:
                out.counters["ignored_operations"] += 1
                continue
        key = tuple(event[k] for k in config.keys)
        if None in key:
            out.counters["null_keys"] += 1
            out.rejected.append((row, "null_key"))
            continue
        seq = tuple(event[s] for s in config.sequence_by)
        if any(_has_null(v) for v in seq):  # a struct sequence: a null anywhere inside
            out.counters["null_sequences"] += 1
            out.rejected.append((row, "null_sequence"))
            continue
        if config.lookup is not None and not is_delete:
            join = tuple(event[c] for c in config.lookup_on)
            match = None if None in join else index.get(join)
            if match is None and config.lookup_how == "inner":
                out.counters["lookup_misses"] += 1
                out.rejected.append((row, "lookup_miss"))
                continue
            event = dict(event)
            for c in extra:
                event[c] = None if match is None else match[c]
        out.candidates.append(Candidate(first_arrival + offset, key, seq, is_delete, dict(event)))
    return out


def latest_per_key(candidates: list[Candidate]) -> tuple[dict, int]:
    """Newest candidate per key (ties: earliest arrival) and the number that lost."""
    best: dict[tuple, Candidate] = {}
    for c in candidates:
        held = best.get(c.key)
        if held is None or c.seq > held.seq or (c.seq == held.seq and c.arrival < held.arrival):
            best[c.key] = c
    return best, len(candidates) - len(best)


class ReferenceUpsert:
    """Per-batch model: target rows, tombstones and the last applied batch id."""

    def __init__(self, config: Config):
        self.config = config
        self.rows: dict[tuple, Candidate] = {}
        self.tombstones: dict[tuple, tuple] = {}
        self.last_batch_id = None

    def apply(self, batch: list[dict], batch_id: int) -> dict:
        """Apply one batch; returns the counters plus rows_in, skipped_replay and rejected."""
        if self.last_batch_id is not None and batch_id <= self.last_batch_id:
            return {"rows_in": len(batch), "skipped_replay": True}
        self.last_batch_id = batch_id
        found = classify(self.config, batch)
        counters = found.counters
        winners, counters["superseded"] = latest_per_key(found.candidates)
        for key, c in winners.items():
            held = self.rows.get(key)
            tomb = self.tombstones.get(key)
            if held is not None:
                if c.seq <= held.seq:
                    counters["stale"] += 1
                elif c.is_delete:
                    del self.rows[key]
                    self.tombstones[key] = c.seq
                    counters["deleted"] += 1
                else:
                    self.rows[key] = c
                    counters["updated"] += 1
            elif tomb is not None and c.seq <= tomb:
                counters["stale"] += 1
            elif c.is_delete:
                self.tombstones[key] = c.seq
                counters["tombstoned"] += 1
            else:
                self.tombstones.pop(key, None)
                self.rows[key] = c
                counters["inserted"] += 1
        return {
            **counters,
            "rows_in": len(batch),
            "skipped_replay": False,
            "rejected": found.rejected,
        }

    def table(self) -> dict[tuple, dict]:
        return {key: c.row for key, c in self.rows.items()}


def closed_form(config: Config, events: list[dict]) -> dict[tuple, dict]:
    """Final table of a whole stream: per key, the first-arriving event of greatest sequence."""
    winners, _ = latest_per_key(classify(config, events).candidates)
    return {key: c.row for key, c in winners.items() if not c.is_delete}


# -- reading the engine's target in the model's shape -------------------------------------------


def plain(value):
    """A value as the model holds it: datetimes as aware UTC (a naive one is a UTC wall clock)."""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    return value


def keyed(rows: list[dict], keys: list[str]) -> dict[tuple, dict]:
    """Rows by key; a key seen twice is a broken target (the notebook's own unit test)."""
    out = {}
    for row in rows:
        key = tuple(plain(row[k]) for k in keys)
        assert key not in out, f"key {key} appears twice in the target"
        out[key] = {c: plain(v) for c, v in row.items()}
    return out


def target_rows(upsert, keys: list[str]) -> dict[tuple, dict]:
    return keyed(upsert.target.to_arrow().to_pylist(), keys)


def project(table: dict[tuple, dict], columns) -> dict[tuple, dict]:
    return {k: {c: plain(row[c]) for c in columns} for k, row in table.items()}


def _has_null(value: object) -> bool:
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    return value is None
